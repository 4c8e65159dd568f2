package diff

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/esrestore/esrestore/internal/dump"
)

// sideDoc is one document of a side in the sort-merge join.
type sideDoc struct {
	id, routing string
	line        int
	src         []byte
}

// where names the document's place in its side for errors.
func (s sideDoc) where(side Side) string {
	if s.line > 0 {
		return fmt.Sprintf("%s:%d", side.Name(), s.line)
	}
	if s.routing != "" {
		return fmt.Sprintf("index %q (routing %q)", side.Name(), s.routing)
	}
	return fmt.Sprintf("index %q", side.Name())
}

// mergeJoin diffs two sets when at least one is a dump: each side is
// sorted by _id with an external sort (runs spilled to TempDir beyond the
// memory budget), then both are walked in step by one goroutine, reading
// each side from its own goroutine through a bounded channel. Documents on
// both sides are compared by Workers goroutines in batches.
func (d *Differ) mergeJoin(ctx context.Context, log *slog.Logger, original, restored Side, rep *sorter) (Counts, error) {
	opt := &d.opt
	sa := newSorter(opt.MemoryBudget, opt.TempDir, "esrestore-diff-original")
	defer sa.close()
	sb := newSorter(opt.MemoryBudget, opt.TempDir, "esrestore-diff-restored")
	defer sb.close()

	start := time.Now()
	var nA, nB atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	// With prefer-original, the original's sources are never reported.
	g.Go(func() error {
		return d.sortSide(gctx, original, sa, opt.Overlay == OverlayPreferOriginal, &nA, &d.live.original)
	})
	g.Go(func() error { return d.sortSide(gctx, restored, sb, false, &nB, &d.live.restored) })
	if err := g.Wait(); err != nil {
		return Counts{}, err
	}
	log.Info("diff sides sorted", "original", nA.Load(), "restored", nB.Load(),
		"spilled_runs", sa.spills+sb.spills, "elapsed", time.Since(start).Round(time.Millisecond))
	for _, s := range []struct {
		side Side
		n    int64
	}{{original, nA.Load()}, {restored, nB.Load()}} {
		is, ok := s.side.(*indexSide)
		if !ok {
			continue
		}
		n, err := is.count(ctx)
		if err != nil {
			return Counts{}, err
		}
		if n != s.n {
			return Counts{}, fmt.Errorf("%w: index %q: _count is %d, the scan read %d", ErrCountMismatch, is.index, n, s.n)
		}
	}

	ia, err := sa.finish()
	if err != nil {
		return Counts{}, fmt.Errorf("sort %s: %w", original.Name(), err)
	}
	ib, err := sb.finish()
	if err != nil {
		return Counts{}, fmt.Errorf("sort %s: %w", restored.Name(), err)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	feeds, fctx := errgroup.WithContext(ctx)
	chA := make(chan sideDoc, opt.PageSize)
	chB := make(chan sideDoc, opt.PageSize)
	feeds.Go(func() error { return feed(fctx, original, ia, chA) })
	feeds.Go(func() error { return feed(fctx, restored, ib, chB) })
	both, marchErr := d.march(fctx, chA, chB, rep)
	if marchErr != nil {
		cancel() // unblock the feeds
	}
	feedErr := feeds.Wait()
	if feedErr != nil {
		return Counts{}, feedErr // the first cause; the march saw its channel close
	}
	if marchErr != nil {
		return Counts{}, marchErr
	}
	return d.totals(nA.Load(), nB.Load(), both)
}

// sortSide reads every document of side into s, keyed by _id; the value
// holds the dump line, the routing and the source.
func (d *Differ) sortSide(ctx context.Context, side Side, s *sorter, noSource bool, n, live *atomic.Int64) error {
	bufs := make([][]byte, d.opt.Workers)
	return side.scan(ctx, &d.opt, noSource, func(ctx context.Context, slice int, page []dump.Doc) error {
		b := bufs[slice]
		for _, doc := range page {
			b = binary.AppendUvarint(b[:0], uint64(doc.Line))
			b = binary.AppendUvarint(b, uint64(len(doc.Routing)))
			b = append(b, doc.Routing...)
			if !noSource {
				b = append(b, doc.Source...)
			}
			if err := s.add([]byte(doc.ID), b); err != nil {
				return fmt.Errorf("sort %s: %w", side.Name(), err)
			}
		}
		bufs[slice] = b
		n.Add(int64(len(page)))
		live.Add(int64(len(page)))
		return nil
	})
}

// feed sends the sorted documents of one side to ch, and fails on an _id
// that occurs twice.
func feed(ctx context.Context, side Side, it iterator, ch chan<- sideDoc) error {
	defer close(ch)
	var prev sideDoc
	first := true
	for it.next() {
		k, v := it.record()
		line, n := binary.Uvarint(v)
		rl, m := binary.Uvarint(v[n:])
		if n <= 0 || m <= 0 || uint64(len(v)-n-m) < rl {
			return fmt.Errorf("sort %s: corrupt record for %q", side.Name(), k)
		}
		v = v[n+m:]
		doc := sideDoc{id: string(k), routing: string(v[:rl]), line: int(line), src: bytes.Clone(v[rl:])}
		if !first && doc.id == prev.id {
			return fmt.Errorf("%w %q: %s and %s", ErrDuplicateID, doc.id, prev.where(side), doc.where(side))
		}
		first = false
		prev = doc
		select {
		case ch <- doc:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return it.err()
}

// march walks both sorted sides in step and classifies every document. It
// returns how many documents are on both sides.
func (d *Differ) march(ctx context.Context, chA, chB <-chan sideDoc, rep *sorter) (int64, error) {
	opt := &d.opt
	recv := func(ch <-chan sideDoc) (sideDoc, bool, error) {
		select {
		case doc, ok := <-ch:
			return doc, ok, nil
		case <-ctx.Done():
			return sideDoc{}, false, ctx.Err()
		}
	}
	cg, cctx := errgroup.WithContext(ctx)
	cg.SetLimit(opt.Workers)
	pool := make(chan *worker, opt.Workers)
	for range opt.Workers {
		pool <- d.newWorker()
	}
	single := d.newWorker() // for the one-sided documents, in this goroutine
	var nboth int64
	var pairs [][2]sideDoc
	dispatch := func() error {
		if len(pairs) == 0 {
			return nil
		}
		if err := cctx.Err(); err != nil {
			return err // a compare failed: stop reading
		}
		batch := pairs
		pairs = make([][2]sideDoc, 0, opt.PageSize)
		cg.Go(func() error {
			w := <-pool
			defer func() { pool <- w }()
			for _, p := range batch {
				if err := d.both(w, rep, p[0].id, p[0].routing, p[1].routing, p[0].src, p[1].src); err != nil {
					return err
				}
			}
			return nil
		})
		return nil
	}
	err := func() error {
		a, okA, err := recv(chA)
		if err != nil {
			return err
		}
		b, okB, err := recv(chB)
		if err != nil {
			return err
		}
		for okA || okB {
			switch {
			case okA && (!okB || a.id < b.id):
				if err := d.onlyOriginal(single, rep, a.id, a.routing, a.src); err != nil {
					return err
				}
				if a, okA, err = recv(chA); err != nil {
					return err
				}
			case okB && (!okA || b.id < a.id):
				if err := d.onlyRestored(single, rep, b.id, b.routing, b.src); err != nil {
					return err
				}
				if b, okB, err = recv(chB); err != nil {
					return err
				}
			default:
				nboth++
				pairs = append(pairs, [2]sideDoc{a, b})
				if len(pairs) >= opt.PageSize {
					if err := dispatch(); err != nil {
						return err
					}
				}
				if a, okA, err = recv(chA); err != nil {
					return err
				}
				if b, okB, err = recv(chB); err != nil {
					return err
				}
			}
		}
		return dispatch()
	}()
	if werr := cg.Wait(); werr != nil {
		return 0, werr
	}
	return nboth, err
}
