package restore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/elastic/go-elasticsearch/v8"

	"github.com/esrestore/esrestore/internal/dump"
	"github.com/esrestore/esrestore/internal/elastic"
	"github.com/esrestore/esrestore/internal/esscan"
	"github.com/esrestore/esrestore/internal/retry"
)

// Scope says which of the source's documents may come back: a document of
// the source out of scope is never written, and counted in Stats.Skipped.
// The original's documents are never affected: the original is read
// whole. A scope is recorded in the target's _meta, and a resume with
// another scope is refused (ErrResumeMismatch).
//
// With a scope set, a snapshot source is never restored as the target
// (that restores every document): it is read from its staging index.
type Scope struct {
	// SkipIDs are ids never written from the source.
	SkipIDs []string
	// SkipIDsSHA256 is the digest recorded for SkipIDs, e.g. the sha256
	// of the file they were read from. Default: the sha256 of the sorted
	// ids, one a line.
	SkipIDsSHA256 string
	// Query, when set, is an Elasticsearch query over the source: only
	// the documents it matches may come back. The matching ids are found
	// once the source is prepared (a scan with the query, without
	// sources) and held in memory: at most MaxQueryIDs of them. A dump
	// source cannot be queried (ErrScopeQuery).
	Query json.RawMessage
	// MaxQueryIDs bounds the ids Query may match. Default
	// DefaultMaxQueryIDs.
	MaxQueryIDs int
}

// DefaultMaxQueryIDs is the most ids an only-query scope holds by
// default. An id held costs about 60 bytes plus its length (a Go map
// entry and the string), so 5,000,000 ids of 20 bytes take about 400 MB.
const DefaultMaxQueryIDs = 5_000_000

var (
	// ErrScopeQuery means the scope's query cannot be used: the source
	// cannot be queried (a dump), or Elasticsearch refused the query.
	ErrScopeQuery = errors.New("the scope's query cannot be used")
	// ErrScopeTooLarge means the scope's query matches more documents
	// than Scope.MaxQueryIDs.
	ErrScopeTooLarge = errors.New("the scope's query matches too many documents")
)

// scopeMeta is the scope as the target's _meta records it.
type scopeMeta struct {
	SkipIDsSHA256 string          `json:"skip_ids_sha256,omitempty"`
	SkipIDsCount  int             `json:"skip_ids_count,omitempty"`
	OnlyQuery     json.RawMessage `json:"only_query,omitempty"`
}

// meta is the scope's record, nil for none.
func (s *Scope) meta() *scopeMeta {
	if s == nil {
		return nil
	}
	m := &scopeMeta{SkipIDsCount: len(s.SkipIDs), OnlyQuery: CompactQuery(s.Query)}
	if len(s.SkipIDs) > 0 {
		m.SkipIDsSHA256 = s.SkipIDsSHA256
		if m.SkipIDsSHA256 == "" {
			ids := slices.Clone(s.SkipIDs)
			slices.Sort(ids)
			sum := sha256.Sum256([]byte(strings.Join(ids, "\n") + "\n"))
			m.SkipIDsSHA256 = hex.EncodeToString(sum[:])
		}
	}
	return m
}

// CompactQuery is a scope's query without insignificant white space, nil
// for none: the form it is recorded and compared in.
func CompactQuery(raw json.RawMessage) json.RawMessage {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return raw
	}
	return b.Bytes()
}

// scopeDifferences names what differs between the scope a target records
// and this run's.
func scopeDifferences(had, want *scopeMeta) []string {
	var h, w scopeMeta
	if had != nil {
		h = *had
	}
	if want != nil {
		w = *want
	}
	var out []string
	if h.SkipIDsSHA256 != w.SkipIDsSHA256 || h.SkipIDsCount != w.SkipIDsCount {
		out = append(out, fmt.Sprintf("--skip-ids: target has %s, this run has %s", skipDesc(h), skipDesc(w)))
	}
	if !bytes.Equal(h.OnlyQuery, w.OnlyQuery) {
		out = append(out, fmt.Sprintf("--only-query: target has %s, this run has %s", queryDesc(h.OnlyQuery), queryDesc(w.OnlyQuery)))
	}
	return out
}

func skipDesc(m scopeMeta) string {
	if m.SkipIDsCount == 0 {
		return "none"
	}
	return fmt.Sprintf("%d ids (sha256 %s)", m.SkipIDsCount, m.SkipIDsSHA256)
}

func queryDesc(q json.RawMessage) string {
	if q == nil {
		return "none"
	}
	return string(q)
}

// scopeSet is a scope resolved: the ids skipped, and the ids the query
// matched (nil: no query).
type scopeSet struct {
	skip  map[string]bool
	match map[string]struct{}
}

// in reports whether the source's document id may come back.
func (s *scopeSet) in(id string) bool {
	if s == nil {
		return true
	}
	if s.skip[id] {
		return false
	}
	if s.match != nil {
		_, ok := s.match[id]
		return ok
	}
	return true
}

// resolveScope makes the scope's sets, the query's matches read from the
// prepared source.
func (r *Restorer) resolveScope(ctx context.Context, src Source) error {
	sc := r.opt.Scope
	if sc == nil {
		return nil
	}
	es, index, ok := queryable(src)
	if sc.Query != nil && !ok {
		return fmt.Errorf("%w: source %s cannot be queried (a dump): an only-query scope needs an index or a snapshot", ErrScopeQuery, src.Name())
	}
	set, err := sc.resolve(ctx, es, index, r.opt.Retry)
	if err != nil {
		return err
	}
	if set.match != nil {
		r.log.Info("scope resolved", "source", src.Name(), "index", index, "matching", len(set.match), "skip_ids", len(sc.SkipIDs))
	}
	r.scopeMu.Lock()
	r.scope = set
	r.scopeMu.Unlock()
	return nil
}

// Resolve resolves the scope for a reader of the source that is not a
// Restorer (a dry run's diff, diff.Options.Scope): in reports whether a
// document of the source may come back, and matching is how many
// documents of index the query matched (0 without a query). es and index
// are the index the source reads; a query needs one.
func (s *Scope) Resolve(ctx context.Context, es *elasticsearch.Client, index string, pol retry.Policy) (in func(id string) bool, matching int, err error) {
	set, err := s.resolve(ctx, es, index, pol)
	if err != nil {
		return nil, 0, err
	}
	return set.in, len(set.match), nil
}

// resolve makes the scope's sets: the skipped ids, and the ids the query
// matches on index.
func (s *Scope) resolve(ctx context.Context, es *elasticsearch.Client, index string, pol retry.Policy) (*scopeSet, error) {
	set := &scopeSet{skip: make(map[string]bool, len(s.SkipIDs))}
	for _, id := range s.SkipIDs {
		set.skip[id] = true
	}
	if s.Query == nil {
		return set, nil
	}
	if es == nil {
		return nil, fmt.Errorf("%w: no index to run it on", ErrScopeQuery)
	}
	m, err := MatchingIDs(ctx, es, index, s.Query, s.MaxQueryIDs, pol)
	if err != nil {
		return nil, err
	}
	set.match = m
	return set, nil
}

// InScope returns the resolved scope of the last Run, as the diff takes
// it (diff.Options.Scope): whether a document of the source may come
// back. Nil when Options.Scope is nil, or before Run resolved it.
func (r *Restorer) InScope() func(id string) bool {
	r.scopeMu.Lock()
	defer r.scopeMu.Unlock()
	if r.scope == nil {
		return nil
	}
	return r.scope.in
}

// queryable returns the client and index a source reads, when it reads
// an index (an index, or a snapshot's staging index).
func queryable(src Source) (*elasticsearch.Client, string, bool) {
	for src != nil {
		switch s := src.(type) {
		case *indexSource:
			return s.es, s.index, true
		case *snapshotSource:
			return s.es, s.staging, s.staging != ""
		case named:
			src = s.Source
			continue
		}
		u, ok := src.(Unwrapper)
		if !ok {
			return nil, "", false
		}
		src = u.Unwrap()
	}
	return nil, "", false
}

// MatchingIDs returns the ids of the documents of index that query
// matches: it counts them first (so a query Elasticsearch refuses, or one
// matching more than limit documents, fails before any id is held), then
// scans the index with the query, without sources. limit < 1 means
// DefaultMaxQueryIDs. A refused query wraps ErrScopeQuery, too many
// matches ErrScopeTooLarge.
func MatchingIDs(ctx context.Context, es *elasticsearch.Client, index string, query json.RawMessage, limit int, pol retry.Policy) (map[string]struct{}, error) {
	n, err := CountMatching(ctx, es, index, query, pol)
	if err != nil {
		return nil, err
	}
	if limit < 1 {
		limit = DefaultMaxQueryIDs
	}
	if n > int64(limit) {
		return nil, fmt.Errorf("%w: it matches %d documents of %q, more than the %d ids a scope holds (about 60 bytes and the id each); narrow it, or list the ids to leave out instead",
			ErrScopeTooLarge, n, index, limit)
	}
	var mu sync.Mutex
	out := make(map[string]struct{}, n)
	err = esscan.Scan(ctx, es, index, esscan.Options{NoSource: true, Retry: pol, Query: query}, func(_ context.Context, _ int, page []dump.Doc) error {
		mu.Lock()
		defer mu.Unlock()
		for _, d := range page {
			out[d.ID] = struct{}{}
		}
		if len(out) > limit {
			return fmt.Errorf("%w: %q took writes: more than %d documents match now", ErrScopeTooLarge, index, limit)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("find the documents of %q the scope's query matches: %w", index, err)
	}
	return out, nil
}

// CountMatching counts the documents of index that query matches: the
// check of a scope's query before anything is written. A query
// Elasticsearch refuses wraps ErrScopeQuery, with its reason.
func CountMatching(ctx context.Context, es *elasticsearch.Client, index string, query json.RawMessage, pol retry.Policy) (int64, error) {
	n, err := elastic.CountQuery(ctx, es, index, query, pol)
	var e *elastic.Error
	if errors.As(err, &e) && e.Status == 400 {
		return 0, fmt.Errorf("%w: Elasticsearch refuses it on %q: %v", ErrScopeQuery, index, e)
	}
	return n, err
}
