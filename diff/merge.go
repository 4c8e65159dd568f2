package diff

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
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

// Roles of the sides in a merge join, indexes of mergeSide.
const (
	roleOriginal = iota
	roleBackup
	roleTarget
	roles
)

// mergeSide is one side of a merge join.
type mergeSide struct {
	side Side
	name string
	s    *sorter
	n    atomic.Int64
	live *atomic.Int64
}

// mergeJoin diffs sides when at least one is a dump: each side is sorted
// by _id with an external sort (runs spilled to TempDir beyond the memory
// budget), then all are walked in step by one goroutine, reading each side
// from its own goroutine through a bounded channel. Documents are
// classified by Workers goroutines in batches.
func (d *Differ) mergeJoin(ctx context.Context, s Sides, rep *sorter) error {
	opt := &d.opt
	log := opt.Logger
	var sides [roles]*mergeSide
	for role, side := range [roles]Side{s.Original, s.Backup, s.Target} {
		if side == nil {
			continue
		}
		name := [roles]string{"original", "backup", "target"}[role]
		ms := &mergeSide{side: side, name: name, s: newSorter(opt.MemoryBudget, opt.TempDir, "esrestore-diff-"+name),
			live: [roles]*atomic.Int64{&d.live.original, &d.live.backup, &d.live.target}[role]}
		defer ms.s.close()
		sides[role] = ms
	}

	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	for _, ms := range sides {
		if ms != nil {
			g.Go(func() error { return d.sortSide(gctx, ms) })
		}
	}
	if err := g.Wait(); err != nil {
		return err
	}
	// Every side's key is always there (-1 for a side the diff lacks):
	// one message, one schema, whatever the sides.
	attrs := []any{"seconds", time.Since(start).Seconds()}
	spills := 0
	for role, ms := range sides {
		n := int64(-1)
		if ms != nil {
			n = ms.n.Load()
			spills += ms.s.spills
		}
		attrs = append(attrs, [roles]string{"original", "backup", "target"}[role], n)
	}
	log.Info("diff sides sorted", append(attrs, "spilled_runs", spills)...)
	for _, ms := range sides {
		if ms == nil {
			continue
		}
		if is, ok := ms.side.(*indexSide); ok {
			if err := checkCount(ctx, is, ms.n.Load(), d.opt.Retry); err != nil {
				return err
			}
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	feeds, fctx := errgroup.WithContext(ctx)
	var chans [roles]chan sideDoc
	for role, ms := range sides {
		if ms == nil {
			continue
		}
		it, err := ms.s.finish()
		if err != nil {
			return fmt.Errorf("sort %s: %w", ms.side.Name(), err)
		}
		ch := make(chan sideDoc, opt.PageSize)
		chans[role] = ch
		feeds.Go(func() error { return feed(fctx, ms.side, it, ch) })
	}
	marchErr := d.march(fctx, chans, rep)
	if marchErr != nil {
		cancel() // unblock the feeds
	}
	if err := feeds.Wait(); err != nil {
		return err // the first cause; the march saw its channel close
	}
	if marchErr != nil {
		return marchErr
	}
	if d.virtual {
		o := d.Stats().Outcome
		d.live.target.Store(o.Original - o.Removed + o.Added)
	}
	return nil
}

// sortSide reads every document of a side into its sorter, keyed by _id;
// the value holds the dump line, the routing and the source.
func (d *Differ) sortSide(ctx context.Context, ms *mergeSide) error {
	bufs := make([][]byte, d.opt.Workers)
	return ms.side.scan(ctx, &d.opt, false, func(ctx context.Context, slice int, page []dump.Doc) error {
		b := bufs[slice]
		for _, doc := range page {
			b = binary.AppendUvarint(b[:0], uint64(doc.Line))
			b = binary.AppendUvarint(b, uint64(len(doc.Routing)))
			b = append(b, doc.Routing...)
			b = append(b, doc.Source...)
			if err := ms.s.add([]byte(doc.ID), b); err != nil {
				return fmt.Errorf("sort %s: %w", ms.side.Name(), err)
			}
		}
		bufs[slice] = b
		ms.n.Add(int64(len(page)))
		ms.live.Add(int64(len(page)))
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

// march walks the sorted sides in step and classifies every _id, in
// batches handed to Workers goroutines.
func (d *Differ) march(ctx context.Context, chans [roles]chan sideDoc, rep *sorter) error {
	opt := &d.opt
	cg, cctx := errgroup.WithContext(ctx)
	cg.SetLimit(opt.Workers)
	pool := make(chan *worker, opt.Workers)
	for range opt.Workers {
		pool <- d.newWorker()
	}
	var batch []*triple
	dispatch := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := cctx.Err(); err != nil {
			return err // a compare failed: stop reading
		}
		todo := batch
		batch = make([]*triple, 0, opt.PageSize)
		cg.Go(func() error {
			w := <-pool
			defer func() { pool <- w }()
			for _, tr := range todo {
				if err := d.classify(w, rep, tr); err != nil {
					return err
				}
			}
			return nil
		})
		return nil
	}
	err := func() error {
		var heads [roles]*sideDoc
		recv := func(role int) error {
			heads[role] = nil
			if chans[role] == nil {
				return nil
			}
			select {
			case doc, ok := <-chans[role]:
				if ok {
					heads[role] = &doc
				}
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		for role := range roles {
			if err := recv(role); err != nil {
				return err
			}
		}
		for {
			var low *string
			for _, h := range heads {
				if h != nil && (low == nil || h.id < *low) {
					low = &h.id
				}
			}
			if low == nil {
				return dispatch()
			}
			tr := &triple{id: *low}
			for role, h := range heads {
				if h == nil || h.id != tr.id {
					continue
				}
				r := &ref{routing: h.routing, src: h.src, line: h.line}
				switch role {
				case roleOriginal:
					tr.o = r
				case roleBackup:
					tr.b = r
				case roleTarget:
					tr.t = r
				}
				if err := recv(role); err != nil {
					return err
				}
			}
			batch = append(batch, tr)
			if len(batch) >= opt.PageSize {
				if err := dispatch(); err != nil {
					return err
				}
			}
		}
	}()
	if werr := cg.Wait(); werr != nil {
		return werr
	}
	return err
}
