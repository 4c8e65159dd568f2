package diff

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync/atomic"

	"github.com/elastic/go-elasticsearch/v8"

	"github.com/esrestore/esrestore/internal/dump"
	"github.com/esrestore/esrestore/internal/elastic"
	"github.com/esrestore/esrestore/internal/esscan"
	"github.com/esrestore/esrestore/internal/retry"
)

// Side is one of the two document sets a diff compares: an Elasticsearch
// index (IndexSide) or an NDJSON dump (DumpSide).
type Side interface {
	// Name identifies the side in errors and logs: the index name or the
	// dump's name.
	Name() string

	// scan passes every document to fn in pages; an index is read in
	// opt.Workers slices, calling fn concurrently from different slices.
	// With noSource the pages may hold ids and routing only.
	scan(ctx context.Context, opt *Options, noSource bool, fn func(ctx context.Context, slice int, page []dump.Doc) error) error
}

var (
	_ Side = (*indexSide)(nil)
	_ Side = (*dumpSide)(nil)
)

// IndexSide is the index (or alias) index read through es: scanned through
// a point in time with search_after on _shard_doc, sliced over
// Options.Workers, and looked up with _mget when the other side is an index
// too.
func IndexSide(es *elasticsearch.Client, index string) Side {
	return &indexSide{es: es, index: index}
}

// IndexSideAt is the index of the instant in, read as it was at that
// instant: the scan, every lookup by id and every count go through the
// instant's point in time, so that an index the application keeps writing
// to is compared at one moment. What it received since is not the diff's
// (esscan.Instant.Since counts it). The instant is opened if it is not yet
// and left open.
func IndexSideAt(es *elasticsearch.Client, in *esscan.Instant) Side {
	return &indexSide{es: es, index: in.Index(), in: in}
}

type indexSide struct {
	es    *elasticsearch.Client
	index string
	// in, when set, is the instant every read goes through.
	in *esscan.Instant
	// What the last scan saw: how many documents its point in time held
	// (-1 unknown), and whether it had to reopen an expired one; reopens
	// counts every reopen of every scan.
	total    atomic.Int64
	reopened atomic.Bool
	reopens  atomic.Int64
	// skipped counts the documents of Options.SkipIDs the last scan left
	// out.
	skipped atomic.Int64
}

// skipIDs wraps fn so that the documents of opt.SkipIDs never reach it,
// counting them in n.
func skipIDs(opt *Options, n *atomic.Int64, fn func(ctx context.Context, slice int, page []dump.Doc) error) func(ctx context.Context, slice int, page []dump.Doc) error {
	n.Store(0)
	if len(opt.skip) == 0 {
		return fn
	}
	return func(ctx context.Context, slice int, page []dump.Doc) error {
		kept := page[:0:0]
		for _, d := range page {
			if opt.skip[d.ID] {
				n.Add(1)
				continue
			}
			kept = append(kept, d)
		}
		return fn(ctx, slice, kept)
	}
}

func (s *indexSide) Name() string { return s.index }

func (s *indexSide) scan(ctx context.Context, opt *Options, noSource bool, fn func(ctx context.Context, slice int, page []dump.Doc) error) error {
	s.total.Store(0)
	s.reopened.Store(false)
	fn = skipIDs(opt, &s.skipped, fn)
	return esscan.Scan(ctx, s.es, s.index, esscan.Options{
		Slices:   opt.Workers,
		PageSize: opt.PageSize,
		NoSource: noSource,
		Retry:    opt.Retry,
		Instant:  s.in,
		OnTotal:  func(_ int, n int64) { s.total.Add(n) },
		OnReopen: func(int) {
			s.reopened.Store(true)
			s.reopens.Add(1)
		},
	}, esscan.PageFunc(fn))
}

// count is _count on the index.
// count is _count on the index, or the count at its instant.
func (s *indexSide) count(ctx context.Context, pol retry.Policy) (int64, error) {
	if s.in != nil {
		return s.in.Count(ctx)
	}
	return elastic.Count(ctx, s.es, s.index, pol)
}

// get fetches docs in order, one entry each: by _mget with their routing,
// or at the side's instant by an ids query (whatever their routing).
func (s *indexSide) get(ctx context.Context, docs []lookup, source bool, pol retry.Policy) ([]fetched, error) {
	if s.in == nil {
		return mget(ctx, s.es, s.index, docs, source, pol)
	}
	ids := make([]string, len(docs))
	for i, d := range docs {
		ids[i] = d.id
	}
	return s.in.Lookup(ctx, ids, source)
}

// search finds ids on every shard, whatever their routing, and returns
// the documents found.
func (s *indexSide) search(ctx context.Context, ids []string, source bool, pol retry.Policy) ([]fetched, error) {
	if s.in == nil {
		return searchIDs(ctx, s.es, s.index, ids, source, pol)
	}
	got, err := s.in.Lookup(ctx, ids, source)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(got, func(f fetched) bool { return !f.Found }), nil
}

// scanned is how many documents the last scan should have read: what its
// point in time held, which stays true while the index takes writes (the
// original is live). After a reopened point in time only a count can say:
// at the side's instant (reopened too), or _count, and then only of an
// index that took no writes meanwhile.
func (s *indexSide) scanned(ctx context.Context, pol retry.Policy) (int64, string, error) {
	if !s.reopened.Load() {
		return s.total.Load(), "its point in time holds", nil
	}
	n, err := s.count(ctx, pol)
	if s.in != nil {
		return n, "its reopened instant holds", err
	}
	return n, "_count counts", err
}

// DumpSide is an NDJSON dump in the elasticdump line format, plain or
// gzip-compressed (detected from its first bytes). open is called once per
// diff; name (a path or URL) names the dump in errors as name:line.
//
// A bad line (see dump.Reader.Next: not a document, or repeating the _id
// of an earlier line) is skipped, as the restore skips it and records it
// as a failure: the diff compares the documents the restore could copy,
// and a rerun skips the same lines. Counts.BadLines counts them and the
// diff logs the first ten. A compressed dump that cannot be read to its
// end still fails the diff (dump.ErrCorrupt).
func DumpSide(open func(ctx context.Context) (io.ReadCloser, error), name string) Side {
	return &dumpSide{open: open, name: name}
}

type dumpSide struct {
	open func(ctx context.Context) (io.ReadCloser, error)
	name string
	// bad counts the lines the last scan skipped; first holds the first
	// maxBadLines of them.
	bad   atomic.Int64
	first []error
	// skipped counts the documents of Options.SkipIDs left out.
	skipped atomic.Int64
}

// maxBadLines bounds the bad lines the diff logs.
const maxBadLines = 10

func (s *dumpSide) Name() string { return s.name }

func (s *dumpSide) scan(ctx context.Context, opt *Options, _ bool, fn func(ctx context.Context, slice int, page []dump.Doc) error) error {
	s.bad.Store(0)
	s.first = nil
	fn = skipIDs(opt, &s.skipped, fn)
	rc, err := s.open(ctx)
	if err != nil {
		return fmt.Errorf("open dump %s: %w", s.name, err)
	}
	defer rc.Close()
	r, err := dump.NewReader(rc, s.name)
	if err != nil {
		return fmt.Errorf("read dump %s: %w", s.name, err)
	}
	page := make([]dump.Doc, 0, opt.PageSize)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		d, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var le *dump.LineError
		if errors.As(err, &le) {
			if s.bad.Add(1) <= maxBadLines {
				s.first = append(s.first, le)
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("read dump %s: %w", s.name, err)
		}
		page = append(page, d)
		if len(page) == cap(page) {
			if err := fn(ctx, 0, page); err != nil {
				return err
			}
			page = make([]dump.Doc, 0, opt.PageSize)
		}
	}
	if n := s.bad.Load(); n > 0 {
		lines := make([]string, len(s.first))
		for i, e := range s.first {
			lines[i] = e.Error()
		}
		opt.Logger.Warn("dump lines skipped: not documents, or repeating the _id of an earlier line",
			"dump", s.name, "lines", n, "first", lines)
	}
	if len(page) > 0 {
		return fn(ctx, 0, page)
	}
	return nil
}
