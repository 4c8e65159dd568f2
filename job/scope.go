package job

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"unicode/utf8"

	"github.com/elastic/go-elasticsearch/v8"

	"github.com/esrestore/esrestore/internal/redact"
	"github.com/esrestore/esrestore/report"
	"github.com/esrestore/esrestore/restore"
	"github.com/esrestore/esrestore/s3out"
)

// maxSkipIDsBytes bounds the --skip-ids file read into memory.
const maxSkipIDsBytes = 1 << 30

// parseSkipIDs reads a --skip-ids list: one id a line (LF or CRLF), the
// last line's newline optional. A blank line, or one of white space only,
// is an error naming the line: an id is never guessed. A repeated id is
// an error naming both lines: a list made twice over is a list that was
// not checked.
func parseSkipIDs(name string, b []byte) ([]string, error) {
	text := string(b)
	text = strings.TrimSuffix(text, "\n")
	if text == "" {
		return nil, fmt.Errorf("%s holds no id", name)
	}
	lines := strings.Split(text, "\n")
	ids := make([]string, 0, len(lines))
	seen := make(map[string]int, len(lines))
	var errs []error
	for i, l := range lines {
		n := i + 1
		l = strings.TrimSuffix(l, "\r")
		switch {
		case strings.TrimSpace(l) == "":
			errs = append(errs, fmt.Errorf("%s:%d: blank line, not an id", name, n))
		case !utf8.ValidString(l):
			errs = append(errs, fmt.Errorf("%s:%d: not valid UTF-8", name, n))
		case seen[l] > 0:
			errs = append(errs, fmt.Errorf("%s:%d: id %q repeats line %d", name, n, l, seen[l]))
		default:
			seen[l] = n
			ids = append(ids, l)
		}
		if len(errs) >= 10 {
			errs = append(errs, fmt.Errorf("%s: more lines not checked", name))
			break
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return ids, nil
}

// loadScope reads --skip-ids and records the scope in the summary, the
// target's _meta (through restore.Options.Scope) and the effective
// configuration: the list's sha256 and count replace its path there, so
// config_sha256 covers what the list holds, not only where it is. It
// runs before the first write and before a resume is checked (sameWhere
// compares the scope an earlier attempt recorded).
func (j *Job) loadScope(ctx context.Context) error {
	c := j.cfg
	if c.SkipIDs == "" && c.OnlyQuery == nil {
		return nil
	}
	sc := &restore.Scope{Query: c.OnlyQuery}
	j.summary.Scope = &report.Scope{OnlyQuery: c.OnlyQuery}
	if c.SkipIDs != "" {
		name := redact.URLs(c.SkipIDs)
		rc, err := s3out.OpenReader(ctx, c.SkipIDs, j.s3opt)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return misconfigured(fmt.Errorf("%s: cannot read the list %s: %w", j.flagOrigin("skip-ids"), name, err))
			}
			return GuardError(fmt.Errorf("%s: cannot read the list %s: %w", j.flagOrigin("skip-ids"), name, err))
		}
		b, err := io.ReadAll(io.LimitReader(rc, maxSkipIDsBytes+1))
		rc.Close() //nolint:errcheck // read whole or failed
		if err != nil {
			return GuardError(fmt.Errorf("%s: read the list %s: %w", j.flagOrigin("skip-ids"), name, err))
		}
		if len(b) > maxSkipIDsBytes {
			return misconfigured(fmt.Errorf("%s: the list %s is larger than %d bytes", j.flagOrigin("skip-ids"), name, maxSkipIDsBytes))
		}
		ids, err := parseSkipIDs(name, b)
		if err != nil {
			return misconfigured(fmt.Errorf("%s: %w", j.flagOrigin("skip-ids"), err))
		}
		sum := sha256.Sum256(b)
		sha := hex.EncodeToString(sum[:])
		sc.SkipIDs, sc.SkipIDsSHA256 = ids, sha
		j.summary.Scope.SkipIDs, j.summary.Scope.SkipIDsSHA256, j.summary.Scope.SkipIDsCount = name, sha, int64(len(ids))
		v := fmt.Sprintf("%s (sha256 %s, %d ids)", name, sha, len(ids))
		for i := range j.cfg.Settings {
			if j.cfg.Settings[i].Name == "skip-ids" {
				j.cfg.Settings[i].Value = v
			}
		}
		j.summary.Options["skip_ids"] = v
		j.log.Info("scope: ids the restore leaves out", "skip_ids", name, "sha256", sha, "count", len(ids))
	}
	if c.OnlyQuery != nil {
		j.log.Info("scope: only the backup's documents this query matches may come back", "only_query", string(c.OnlyQuery))
	}
	j.scope = sc
	return nil
}

// flagOrigin names a flag as the operator set it: --skip-ids or its
// variable.
func (j *Job) flagOrigin(name string) string {
	for _, s := range j.cfg.Settings {
		if s.Name == name && s.Origin != "flag" && s.Origin != "default" {
			return s.Origin
		}
	}
	return "--" + name
}

// checkScopeQuery asks Elasticsearch whether --only-query is a query it
// takes, before the first write: on the backup when it is an index, on
// the original for a snapshot (its staging index is not restored by the
// checks; they share the mapping the query is read against). On an index
// backup it also counts the matches against the scope's bound.
func (j *Job) checkScopeQuery(ctx context.Context) error {
	q := j.cfg.OnlyQuery
	if q == nil || j.es == nil {
		return nil
	}
	spec := j.src
	es, index, what := j.es, j.cfg.Original, "the original (the snapshot's index is read with it once restored)"
	switch spec.Kind {
	case restore.SourceIndex:
		index, what = spec.Index, "the backup"
	case restore.SourceRemote:
		rc, err := j.remoteClient(ctx, spec)
		if err != nil {
			return err
		}
		es, index, what = rc, spec.Index, "the backup"
	case restore.SourceDump:
		return misconfigured(fmt.Errorf("%s: a dump source cannot be queried; list the ids to leave out with --skip-ids", j.flagOrigin("only-query")))
	}
	n, err := restore.CountMatching(ctx, es, index, q, j.retryPolicy())
	if err != nil {
		return GuardError(fmt.Errorf("%s: %w", j.flagOrigin("only-query"), err))
	}
	if what == "the backup" && n > restore.DefaultMaxQueryIDs {
		return misconfigured(fmt.Errorf("%s: %w: it matches %d documents of %q, more than the %d a scope holds",
			j.flagOrigin("only-query"), restore.ErrScopeTooLarge, n, index, restore.DefaultMaxQueryIDs))
	}
	j.log.Info("scope: the query checked", "only_query", string(q), "on", index, "which", what, "matching", n)
	return nil
}

// diffScope resolves the scope for a dry run's diff, on the backup index
// it reads: nil without a scope.
func (j *Job) diffScope(ctx context.Context, es *elasticsearch.Client, index string) (func(id string) bool, error) {
	sc := j.scope
	if sc == nil {
		return nil, nil
	}
	if sc.Query != nil && es == nil {
		return nil, misconfigured(fmt.Errorf("%s: a dump source cannot be queried", j.flagOrigin("only-query")))
	}
	in, matching, err := sc.Resolve(ctx, es, index, j.retryPolicy())
	if err != nil {
		return nil, GuardError(fmt.Errorf("%s: %w", j.flagOrigin("only-query"), err))
	}
	if sc.Query != nil {
		j.log.Info("scope resolved for the diff", "index", index, "matching", matching, "skip_ids", len(sc.SkipIDs))
	}
	return in, nil
}

// sameScope refuses to resume a run id with another scope than its
// earlier attempt recorded, naming what differs.
func sameScope(prev, now *report.Scope) []string {
	var p, n report.Scope
	if prev != nil {
		p = *prev
	}
	if now != nil {
		n = *now
	}
	var out []string
	if p.SkipIDsSHA256 != n.SkipIDsSHA256 || p.SkipIDsCount != n.SkipIDsCount {
		out = append(out, fmt.Sprintf("skip ids: was %s, now %s", skipListDesc(p), skipListDesc(n)))
	}
	if !bytes.Equal(restore.CompactQuery(p.OnlyQuery), restore.CompactQuery(n.OnlyQuery)) {
		out = append(out, fmt.Sprintf("only query: was %s, now %s", queryText(p.OnlyQuery), queryText(n.OnlyQuery)))
	}
	return out
}

func skipListDesc(s report.Scope) string {
	if s.SkipIDsCount == 0 {
		return "none"
	}
	return fmt.Sprintf("%s (%d ids, sha256 %s)", s.SkipIDs, s.SkipIDsCount, s.SkipIDsSHA256)
}

func queryText(q json.RawMessage) string {
	if len(q) == 0 {
		return "none"
	}
	return string(q)
}
