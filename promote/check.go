package promote

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	"github.com/esrestore/esrestore/internal/elastic"
	"github.com/esrestore/esrestore/report"
)

// ErrCheck is wrapped by every failed check: promote stopped before any
// write because the report, the indexes or the aliases are not what a
// switch needs.
var ErrCheck = errors.New("promote check failed")

// state is what the checks found.
type state struct {
	sum    *report.Summary
	sumSHA string
	// prev is promote.json as a previous promote of this run left it.
	prev *Record
	orig *elastic.Index
	tgt  *elastic.Index
	// moves are the aliases to move, each with its definition on the
	// original.
	moves []AliasMove
	// place is where every alias is: aliasOnOriginal, or aliasOnTarget
	// when a previous promote switched them.
	place aliasPlace
	// origBlocked is index.blocks.write on the original (read with
	// Options.BlockWrites only).
	origBlocked bool
	// targetCount is the target's _count now.
	targetCount int64
}

// resuming reports whether a previous promote of this run got past its
// checks: the target may hold its catch-up writes.
func (s *state) resuming() bool {
	return s.prev != nil && slices.Contains([]string{StateCatchingUp, StateSwitching, StatePromoted}, s.prev.State)
}

// objectName is the name of a report object beside summary.json: its
// key's last segment, so a report copied elsewhere still checks.
func objectName(o report.Object) string { return path.Base(o.Key) }

// readSummary reads summary.json and its sha256.
func (p *Promoter) readSummary(ctx context.Context) (*report.Summary, string, error) {
	url := p.store.URL(report.SummaryName)
	rc, err := p.store.Open(ctx, report.SummaryName)
	if err != nil {
		return nil, "", fmt.Errorf("%w: read %s: %w", ErrCheck, url, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, "", fmt.Errorf("%w: read %s: %w", ErrCheck, url, err)
	}
	sum, err := report.Decode(b)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %s is not a summary esrestore can read: %w", ErrCheck, url, err)
	}
	// From here on every record names the run and its environment, as
	// the run's own records do.
	p.log = p.opt.Logger.With("run_id", sum.RunID, "environment", strings.ToUpper(sum.Environment))
	h := sha256.Sum256(b)
	return sum, hex.EncodeToString(h[:]), nil
}

// verifyObject digests a report object and compares it with the summary.
func (p *Promoter) verifyObject(ctx context.Context, name string, o report.Object) error {
	file := objectName(o)
	rc, err := p.store.Open(ctx, file)
	if err != nil {
		return fmt.Errorf("%w: object %s (%s): %w", ErrCheck, name, p.store.URL(file), err)
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		return fmt.Errorf("%w: object %s (%s): %w", ErrCheck, name, p.store.URL(file), err)
	}
	got := hex.EncodeToString(h.Sum(nil))
	if got != o.SHA256 || n != o.Bytes {
		return fmt.Errorf("%w: object %s (%s): sha256 %s of %d bytes, the summary says %s of %d bytes: it changed since the run",
			ErrCheck, name, p.store.URL(file), got, n, o.SHA256, o.Bytes)
	}
	return nil
}

// reasonKinds lists a verdict's reason kinds, in order.
func reasonKinds(v report.Verdict) []string {
	out := make([]string, len(v.Reasons))
	for i, r := range v.Reasons {
		out[i] = r.Kind
	}
	return out
}

// check runs every check, reading only, and reports every failure at once.
func (p *Promoter) check(ctx context.Context) (*state, error) {
	sum, sha, err := p.readSummary(ctx)
	if err != nil {
		return nil, err
	}
	s := &state{sum: sum, sumSHA: sha}
	var errs []error
	fail := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrCheck}, a...)...))
	}

	// The report.
	if !sum.Complete {
		fail("summary: the run did not complete (%s): its diff does not describe the indexes", sum.Error)
	}
	if sum.Command != "run" || sum.DryRun || sum.Target == "" {
		fail("summary: made by esrestore %s (dry run %t, target %q), not by a run that restored into a target", sum.Command, sum.DryRun, sum.Target)
	}
	if v := report.Judge(sum); v.Status != sum.Verdict.Status || !slices.Equal(reasonKinds(v), reasonKinds(sum.Verdict)) {
		fail("summary: its verdict %s %v does not follow from its counts (%s %v): the summary was edited",
			sum.Verdict.Status, reasonKinds(sum.Verdict), v.Status, reasonKinds(v))
	}
	if sum.Verdict.Status != report.StatusOK {
		var missing, kinds []string
		for _, r := range sum.Verdict.Reasons {
			if !slices.Contains(p.opt.Accept, r.Kind) {
				missing = append(missing, fmt.Sprintf("%s (%s)", r.Kind, r.Text))
				if !slices.Contains(kinds, r.Kind) {
					kinds = append(kinds, r.Kind)
				}
			}
		}
		if len(missing) > 0 {
			fail("verdict %s: not accepted: %s; read the report, then accept each reason explicitly (accept %s)",
				sum.Verdict.Status, strings.Join(missing, "; "), strings.Join(kinds, ","))
		}
	}
	if p.opt.Environment != "" && !strings.EqualFold(p.opt.Environment, sum.Environment) {
		fail("environment %s: the report was made in %s", strings.ToUpper(p.opt.Environment), sum.Environment)
	}
	if _, ok := sum.Objects["diff"]; !ok {
		fail("summary: names no diff object: nothing to compare the catch-up with")
	}
	names := make([]string, 0, len(sum.Objects))
	for n := range sum.Objects {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if err := p.verifyObject(ctx, n, sum.Objects[n]); err != nil {
			errs = append(errs, err)
		}
	}
	if s.prev, err = readRecord(ctx, p.store); err != nil {
		fail("%v", err)
	}
	if r := s.prev; r != nil {
		switch {
		case r.RunID != sum.RunID || r.Target != sum.Target || r.Original != sum.Original:
			fail("%s is for run %s (%s → %s), the summary for run %s (%s → %s)", RecordName, r.RunID, r.Original, r.Target,
				sum.RunID, sum.Original, sum.Target)
		case r.State == StateRollingBack || r.State == StateRolledBack:
			fail("%s says this run was promoted and then rolled back (%s): the target has moved on from the report; start a new run",
				RecordName, r.State)
		}
	}
	if sum.Target == "" || sum.Integrity.Original == nil || sum.Integrity.Target == nil {
		fail("summary: records no identity of the original and the target")
		return nil, errors.Join(errs...)
	}

	// The cluster and the indexes.
	if c := sum.Integrity.Cluster; c != nil {
		got, err := elastic.GetCluster(ctx, p.es, p.opt.Retry)
		switch {
		case err != nil:
			return nil, errors.Join(append(errs, err)...)
		case got.UUID != c.UUID:
			fail("cluster: %s (uuid %s), the report was made on %s (uuid %s)", got.Name, got.UUID, c.Name, c.UUID)
		}
	}
	s.orig, err = p.index(ctx, "original", sum.Original, sum.Integrity.Original.UUID, &errs)
	if err != nil {
		return nil, errors.Join(append(errs, err)...)
	}
	s.tgt, err = p.index(ctx, "target", sum.Target, sum.Integrity.Target.UUID, &errs)
	if err != nil {
		return nil, errors.Join(append(errs, err)...)
	}
	if s.tgt != nil {
		if id := runIDOf(s.tgt); id != sum.RunID {
			fail("target %q: mappings._meta.esrestore.run_id is %q, the report's run is %q", sum.Target, id, sum.RunID)
		}
		if s.targetCount, err = elastic.Count(ctx, p.es, sum.Target, p.opt.Retry); err != nil {
			return nil, errors.Join(append(errs, err)...)
		}
		want := sum.Integrity.Target.CountEnd
		switch {
		case s.resuming():
			p.log.Info("target count not compared with the report: a previous promote of this run wrote its catch-up to it",
				"target", sum.Target, "count", s.targetCount, "report_count", want, "promote_state", s.prev.State)
		case s.targetCount != want:
			fail("target %q holds %d documents, the report says %d: it changed since the review", sum.Target, s.targetCount, want)
		}
	}

	// The aliases.
	if s.orig != nil && s.tgt != nil {
		p.checkAliases(ctx, s, &errs)
	}
	if p.opt.BlockWrites && s.orig != nil {
		if s.origBlocked, err = writeBlocked(ctx, p.es, sum.Original); err != nil {
			return nil, errors.Join(append(errs, err)...)
		}
	}
	return s, errors.Join(errs...)
}

// index reads an index and checks its uuid; a missing index or another
// uuid is a failed check, any other error is returned.
func (p *Promoter) index(ctx context.Context, role, name, uuid string, errs *[]error) (*elastic.Index, error) {
	ix, err := elastic.GetIndex(ctx, p.es, name, p.opt.Retry)
	switch {
	case errors.Is(err, elastic.ErrNotFound):
		*errs = append(*errs, fmt.Errorf("%w: %s %q does not exist", ErrCheck, role, name))
		return nil, nil
	case err != nil:
		return nil, err
	case ix.Name != name:
		*errs = append(*errs, fmt.Errorf("%w: %s %q is an alias of %q, not the index the report names", ErrCheck, role, name, ix.Name))
		return nil, nil
	case uuid != "" && ix.UUID != uuid:
		*errs = append(*errs, fmt.Errorf("%w: %s %q has uuid %s, the report's had %s: it was deleted and created again since",
			ErrCheck, role, name, ix.UUID, uuid))
		return nil, nil
	}
	return ix, nil
}

// runIDOf is mappings._meta.esrestore.run_id of an index.
func runIDOf(ix *elastic.Index) string {
	var m struct {
		Meta struct {
			Esrestore struct {
				RunID string `json:"run_id"`
			} `json:"esrestore"`
		} `json:"_meta"`
	}
	json.Unmarshal(ix.Mappings, &m) //nolint:errcheck // no run id then
	return m.Meta.Esrestore.RunID
}

// checkAliases finds where each alias points: on the original alone, or
// on the target alone after a switch this run's promote recorded.
func (p *Promoter) checkAliases(ctx context.Context, s *state, errs *[]error) {
	fail := func(format string, a ...any) {
		*errs = append(*errs, fmt.Errorf("%w: "+format, append([]any{ErrCheck}, a...)...))
	}
	orig, tgt := s.sum.Original, s.sum.Target
	names := p.opt.Aliases
	var prevMoves map[string]AliasMove
	if s.resuming() {
		prevMoves = map[string]AliasMove{}
		for _, m := range s.prev.Aliases {
			prevMoves[m.Name] = m
		}
		if len(names) == 0 {
			for _, m := range s.prev.Aliases {
				names = append(names, m.Name)
			}
		}
	}
	if len(names) == 0 {
		names = s.sum.Integrity.Original.Aliases
	}
	if len(names) == 0 {
		fail("no alias to move: the original %q had none when the run read it; name the alias", orig)
		return
	}
	places := map[aliasPlace][]string{}
	for _, name := range names {
		members, err := aliasMembers(ctx, p.es, name)
		if err != nil {
			*errs = append(*errs, err)
			return
		}
		place := placeOf(members, orig, tgt)
		switch place {
		case aliasMissing:
			fail("alias %q does not exist", name)
		case aliasElsewhere:
			fail("alias %q points at %v: want the original %q alone", name, memberNames(members), orig)
		case aliasOnOriginal:
			s.moves = append(s.moves, AliasMove{Name: name, From: orig, To: tgt, Definition: members[orig]})
		case aliasOnTarget:
			m, ok := prevMoves[name]
			if !ok || (s.prev.State != StateSwitching && s.prev.State != StatePromoted) {
				fail("alias %q already points at the target %q, but no promote of this run switched it", name, tgt)
				continue
			}
			s.moves = append(s.moves, m)
		}
		places[place] = append(places[place], name)
	}
	if len(places[aliasOnOriginal]) > 0 && len(places[aliasOnTarget]) > 0 {
		fail("aliases %v point at the original and %v at the target: one _aliases call moves them all, so someone else moved some",
			places[aliasOnOriginal], places[aliasOnTarget])
	}
	s.place = aliasOnOriginal
	if len(places[aliasOnTarget]) > 0 {
		s.place = aliasOnTarget
	}
}
