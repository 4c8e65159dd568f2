package diff

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/esrestore/esrestore/internal/dump"
)

// lookupJoin diffs two indexes. Elasticsearch cannot sort on _id, so
// instead of walking both in step it looks documents up:
//
//   - pass 1 scans the original (sliced over Workers) and fetches each
//     page's ids from the restored index with one _mget, with the original
//     hit's routing; it classifies them as unchanged, changed or removed;
//   - pass 2 scans the restored index's ids and routings only, asks the
//     original for them with _source:false, and fetches the sources of the
//     ids the original lacks: added.
//
// An _mget miss is confirmed by an ids query over every shard before it
// counts, so a document whose routing changed is reported as changed, not
// as removed plus added. Misses wait in their worker until a page's worth
// has gathered, so a few missing documents a page cost one search per
// many pages rather than one per page. The documents each pass read are checked against
// _count, and the documents found on both sides by one pass against the
// other.
func (d *Differ) lookupJoin(ctx context.Context, log *slog.Logger, o, r *indexSide, rep *sorter) (Counts, error) {
	opt := &d.opt
	workers := make([]*worker, opt.Workers)
	for i := range workers {
		workers[i] = d.newWorker()
	}
	preferOriginal := opt.Overlay == OverlayPreferOriginal

	start := time.Now()
	var origRead, matched atomic.Int64
	err := o.scan(ctx, opt, preferOriginal, func(ctx context.Context, slice int, page []dump.Doc) error {
		origRead.Add(int64(len(page)))
		d.live.original.Add(int64(len(page)))
		if preferOriginal {
			// The merge keeps every document of the original as it is;
			// only the ids pass 2 finds missing here are news.
			d.live.unchanged.Add(int64(len(page)))
			return nil
		}
		return d.lookupOriginalPage(ctx, workers[slice], o, r, page, rep, &matched)
	})
	for _, w := range workers {
		if err != nil {
			break
		}
		err = d.resolveOriginalMisses(ctx, w, r, rep, &matched)
	}
	if err != nil {
		return Counts{}, fmt.Errorf("pass 1 (original %q): %w", o.index, err)
	}
	log.Info("diff pass 1 done", "read", origRead.Load(), "found_in_restored", matched.Load(),
		"elapsed", time.Since(start).Round(time.Millisecond))

	start = time.Now()
	var restRead, both atomic.Int64
	err = r.scan(ctx, opt, true, func(ctx context.Context, slice int, page []dump.Doc) error {
		restRead.Add(int64(len(page)))
		d.live.restored.Add(int64(len(page)))
		return d.lookupRestoredPage(ctx, workers[slice], o, r, page, rep, &both)
	})
	for _, w := range workers {
		if err != nil {
			break
		}
		err = d.resolveRestoredMisses(ctx, w, o, r, rep, &both)
	}
	if err != nil {
		return Counts{}, fmt.Errorf("pass 2 (restored %q): %w", r.index, err)
	}
	log.Info("diff pass 2 done", "read", restRead.Load(), "found_in_original", both.Load(),
		"elapsed", time.Since(start).Round(time.Millisecond))

	for _, s := range []struct {
		side *indexSide
		read int64
	}{{o, origRead.Load()}, {r, restRead.Load()}} {
		n, err := s.side.count(ctx)
		if err != nil {
			return Counts{}, err
		}
		if n != s.read {
			return Counts{}, fmt.Errorf("%w: index %q: _count is %d, the scan read %d", ErrCountMismatch, s.side.index, n, s.read)
		}
	}
	if !preferOriginal && matched.Load() != both.Load() {
		return Counts{}, fmt.Errorf("%w: %d documents of %q found in %q, but %d of %q found in %q",
			ErrCountMismatch, matched.Load(), o.index, r.index, both.Load(), r.index, o.index)
	}
	return d.totals(origRead.Load(), restRead.Load(), both.Load())
}

// lookupOriginalPage classifies one page of the original.
func (d *Differ) lookupOriginalPage(ctx context.Context, w *worker, o, r *indexSide, page []dump.Doc, rep *sorter, matched *atomic.Int64) error {
	opt := &d.opt
	lookups := make([]lookup, len(page))
	for i, doc := range page {
		lookups[i] = lookup{id: doc.ID, routing: doc.Routing}
	}
	got, err := mget(ctx, r.es, r.index, lookups, true, opt.Retry)
	if err != nil {
		return err
	}
	for i, g := range got {
		if !g.Found {
			w.missOriginal = append(w.missOriginal, page[i])
			continue
		}
		matched.Add(1)
		if err := d.both(w, rep, page[i].ID, page[i].Routing, g.Routing, page[i].Source, g.Source); err != nil {
			return err
		}
	}
	if len(w.missOriginal) >= opt.PageSize {
		return d.resolveOriginalMisses(ctx, w, r, rep, matched)
	}
	return nil
}

// resolveOriginalMisses classifies the original's documents _mget did not
// find in the restored index: changed if an ids query finds them under
// another routing, else removed.
func (d *Differ) resolveOriginalMisses(ctx context.Context, w *worker, r *indexSide, rep *sorter, matched *atomic.Int64) error {
	all := w.missOriginal
	w.missOriginal = nil
	for miss := range slices.Chunk(all, d.idsBatch()) {
		if err := d.resolveOriginalBatch(ctx, w, r, rep, matched, miss); err != nil {
			return err
		}
	}
	return nil
}

// idsBatch is the most ids one ids query asks for: a page, and less than
// the result window since the query asks for one hit more.
func (d *Differ) idsBatch() int { return min(d.opt.PageSize, MaxPageSize-1) }

func (d *Differ) resolveOriginalBatch(ctx context.Context, w *worker, r *indexSide, rep *sorter, matched *atomic.Int64, miss []dump.Doc) error {
	ids := make([]string, len(miss))
	for i, doc := range miss {
		ids[i] = doc.ID
	}
	found, err := d.findAnyRouting(ctx, r, ids, true)
	if err != nil {
		return err
	}
	for _, doc := range miss {
		if g, ok := found[doc.ID]; ok {
			matched.Add(1)
			if err := d.both(w, rep, doc.ID, doc.Routing, g.Routing, doc.Source, g.Source); err != nil {
				return err
			}
			continue
		}
		if err := d.onlyOriginal(w, rep, doc.ID, doc.Routing, doc.Source); err != nil {
			return err
		}
	}
	return nil
}

// lookupRestoredPage finds the documents of one page of restored ids that
// the original lacks.
func (d *Differ) lookupRestoredPage(ctx context.Context, w *worker, o, r *indexSide, page []dump.Doc, rep *sorter, both *atomic.Int64) error {
	opt := &d.opt
	lookups := make([]lookup, len(page))
	for i, doc := range page {
		lookups[i] = lookup{id: doc.ID, routing: doc.Routing}
	}
	got, err := mget(ctx, o.es, o.index, lookups, false, opt.Retry)
	if err != nil {
		return err
	}
	for i, g := range got {
		if g.Found {
			both.Add(1)
		} else {
			w.missRestored = append(w.missRestored, lookups[i])
		}
	}
	if len(w.missRestored) >= opt.PageSize {
		return d.resolveRestoredMisses(ctx, w, o, r, rep, both)
	}
	return nil
}

// resolveRestoredMisses reports the restored ids _mget did not find in the
// original as added, unless an ids query finds them there under another
// routing (pass 1 reported those).
func (d *Differ) resolveRestoredMisses(ctx context.Context, w *worker, o, r *indexSide, rep *sorter, both *atomic.Int64) error {
	all := w.missRestored
	w.missRestored = nil
	for miss := range slices.Chunk(all, d.idsBatch()) {
		if err := d.resolveRestoredBatch(ctx, w, o, r, rep, both, miss); err != nil {
			return err
		}
	}
	return nil
}

func (d *Differ) resolveRestoredBatch(ctx context.Context, w *worker, o, r *indexSide, rep *sorter, both *atomic.Int64, miss []lookup) error {
	ids := make([]string, len(miss))
	for i, l := range miss {
		ids[i] = l.id
	}
	found, err := d.findAnyRouting(ctx, o, ids, false)
	if err != nil {
		return err
	}
	var fetch []lookup
	for _, l := range miss {
		if _, ok := found[l.id]; ok {
			both.Add(1)
			continue
		}
		fetch = append(fetch, l)
	}
	if len(fetch) == 0 {
		return nil
	}
	docs, err := mget(ctx, r.es, r.index, fetch, true, d.opt.Retry)
	if err != nil {
		return err
	}
	for i, g := range docs {
		if !g.Found {
			return fmt.Errorf("%w: document %q of %q vanished between its scan and its fetch", ErrCountMismatch, fetch[i].id, r.index)
		}
		if err := d.onlyRestored(w, rep, g.ID, g.Routing, g.Source); err != nil {
			return err
		}
	}
	return nil
}

// findAnyRouting looks ids up in s with an ids query, which searches every
// shard, and returns the hits by id.
func (d *Differ) findAnyRouting(ctx context.Context, s *indexSide, ids []string, source bool) (map[string]fetched, error) {
	hits, err := searchIDs(ctx, s.es, s.index, ids, source, d.opt.Retry)
	if err != nil {
		return nil, err
	}
	found := make(map[string]fetched, len(hits))
	for _, h := range hits {
		if prev, dup := found[h.ID]; dup {
			return nil, fmt.Errorf("%w %q in index %q: routings %q and %q", ErrDuplicateID, h.ID, s.index, prev.Routing, h.Routing)
		}
		found[h.ID] = h
	}
	return found, nil
}
