package diff

import (
	"bytes"
	"context"
	"fmt"
	"github.com/esrestore/esrestore/internal/retry"
	"slices"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/esrestore/esrestore/internal/dump"
)

// lookupJoin diffs indexes. Elasticsearch cannot sort on _id, so instead
// of walking the sides in step it looks documents up:
//
//   - pass 1 scans the original (sliced over Workers) and fetches each
//     page's ids from the target and the backup with one _mget each, with
//     the original hit's routing; every document of the original is
//     classified here;
//   - pass 2 scans the target's ids and routings only, asks the original
//     for them with _source:false, and fetches the target's copies of the
//     ids the original lacks (added), with whether the backup has them
//     (lost, and back);
//   - pass 3 scans the backup's ids for lost documents the target lacks
//     too (not recovered). It is skipped when the backup's _count shows
//     that passes 1 and 2 met every backup document; with a virtual
//     target it is where lost documents are added.
//
// An _mget miss is confirmed by an ids query over every shard before it
// counts, so a document whose routing changed is reported as such, not as
// removed plus added. Misses wait in their worker until a page's worth
// has gathered. The documents each pass read are checked against _count,
// and the documents found on two sides by one pass against the other.
func (d *Differ) lookupJoin(ctx context.Context, s Sides, rep *sorter) error {
	opt := &d.opt
	log := opt.Logger
	o := s.Original.(*indexSide)
	var b, t *indexSide
	if s.Backup != nil {
		b = s.Backup.(*indexSide)
	}
	if s.Target != nil {
		t = s.Target.(*indexSide)
	}
	workers := make([]*worker, opt.Workers)
	for i := range workers {
		workers[i] = d.newWorker()
	}
	lj := &lookupState{d: d, o: o, b: b, t: t, rep: rep}
	lj.shared.Store(s.SharedHistory && b != nil && t != nil)

	start := time.Now()
	var origRead atomic.Int64
	err := o.scan(ctx, opt, false, func(ctx context.Context, slice int, page []dump.Doc) error {
		origRead.Add(int64(len(page)))
		d.live.original.Add(int64(len(page)))
		return lj.originalPage(ctx, workers[slice], page)
	})
	for _, w := range workers {
		if err != nil {
			break
		}
		err = lj.resolvePending(ctx, w)
	}
	if err != nil {
		return fmt.Errorf("pass 1 (original %q): %w", o.index, err)
	}
	log.Info("diff original pass done", "pass", 1, "side", "original", "read", origRead.Load(),
		"in_target", lj.tgtFound.Load(), "in_backup", lj.backFound.Load(), "seconds", time.Since(start).Seconds())
	if err := checkCount(ctx, o, origRead.Load(), d.opt.Retry); err != nil {
		return err
	}

	if t != nil {
		start = time.Now()
		var read atomic.Int64
		err = t.scan(ctx, opt, true, func(ctx context.Context, slice int, page []dump.Doc) error {
			read.Add(int64(len(page)))
			d.live.target.Add(int64(len(page)))
			return lj.targetPage(ctx, workers[slice], page)
		})
		for _, w := range workers {
			if err != nil {
				break
			}
			err = lj.resolveTargetMisses(ctx, w)
		}
		if err != nil {
			return fmt.Errorf("pass 2 (target %q): %w", t.index, err)
		}
		log.Info("diff target pass done", "pass", 2, "side", "target", "read", read.Load(),
			"in_original", lj.both.Load(), "lost_in_target", lj.lostInTarget.Load(), "seconds", time.Since(start).Seconds())
		if err := checkCount(ctx, t, read.Load(), d.opt.Retry); err != nil {
			return err
		}
		if lj.tgtFound.Load() != lj.both.Load() {
			return fmt.Errorf("%w: %d documents of %q found in %q, but %d of %q found in %q",
				ErrCountMismatch, lj.tgtFound.Load(), o.index, t.index, lj.both.Load(), t.index, o.index)
		}
	}

	if b == nil {
		if d.virtual {
			return fmt.Errorf("%w: a virtual target needs a backup", ErrBadOptions)
		}
		return nil
	}
	n, err := b.count(ctx, d.opt.Retry)
	if err != nil {
		return err
	}
	if met := lj.backFound.Load() + lj.lostInTarget.Load(); t != nil && met == n {
		// Every backup document is in the original or the target: none
		// is lost without coming back, and the backup need not be read.
		d.live.backup.Store(met)
		log.Info("diff pass skipped", "pass", 3, "side", "backup", "reason", "every backup document already met",
			"backup_count", n)
		return nil
	}
	start = time.Now()
	var read atomic.Int64
	err = b.scan(ctx, opt, true, func(ctx context.Context, slice int, page []dump.Doc) error {
		read.Add(int64(len(page)))
		return lj.backupPage(ctx, workers[slice], page)
	})
	for _, w := range workers {
		if err != nil {
			break
		}
		err = lj.resolveBackupMisses(ctx, w)
	}
	if err != nil {
		return fmt.Errorf("pass 3 (backup %q): %w", b.index, err)
	}
	log.Info("diff backup pass done", "pass", 3, "side", "backup", "read", read.Load(),
		"in_original", lj.backBoth.Load(), "lost", d.live.lost.Load(), "seconds", time.Since(start).Seconds())
	if err := checkCount(ctx, b, read.Load(), d.opt.Retry); err != nil {
		return err
	}
	if lj.backFound.Load() != lj.backBoth.Load() {
		return fmt.Errorf("%w: %d documents of %q found in %q, but %d of %q found in %q",
			ErrCountMismatch, lj.backFound.Load(), o.index, b.index, lj.backBoth.Load(), b.index, o.index)
	}
	d.live.backup.Store(read.Load())
	if d.virtual {
		o := d.Stats().Outcome
		d.live.target.Store(o.Original - o.Removed + o.Added)
	}
	return nil
}

// checkCount compares the documents a scan read with those it should
// have: a short read must never look like missing documents.
func checkCount(ctx context.Context, s *indexSide, read int64, pol retry.Policy) error {
	n, what, err := s.scanned(ctx, pol)
	if err != nil {
		return err
	}
	if skipped := s.skipped.Load(); n != read+skipped {
		return fmt.Errorf("%w: index %q: %s %d documents, the scan read %d (and left out %d of skipped ids)", ErrCountMismatch, s.index, what, n, read, skipped)
	}
	return nil
}

// lookupState is what the passes of a lookup join share.
type lookupState struct {
	d       *Differ
	o, b, t *indexSide
	rep     *sorter
	// tgtFound and backFound count the original's documents found in the
	// target and the backup (pass 1); both the target's found in the
	// original (pass 2, must equal tgtFound); lostInTarget the target's
	// documents the original lacks and the backup has; backBoth the
	// backup's found in the original (pass 3, must equal backFound).
	tgtFound, backFound, both, lostInTarget, backBoth atomic.Int64
	// shared is Sides.SharedHistory while no check has refuted it.
	shared atomic.Bool
}

// pendingDoc is a document of the original whose _mget missed on the
// target or the backup, waiting for an ids query.
type pendingDoc struct {
	tr           *triple
	needT, needB bool
}

// lookups lists the ids and routings of docs for an _mget.
func lookups(docs []dump.Doc) []lookup {
	out := make([]lookup, len(docs))
	for i, doc := range docs {
		out[i] = lookup{id: doc.ID, routing: doc.Routing}
	}
	return out
}

// originalPage looks one page of the original up on the other sides and
// classifies the documents found on all of them.
func (lj *lookupState) originalPage(ctx context.Context, w *worker, page []dump.Doc) error {
	d := lj.d
	trs := make([]pendingDoc, len(page))
	for i, doc := range page {
		trs[i].tr = &triple{id: doc.ID, o: &ref{routing: doc.Routing, src: doc.Source}}
	}
	ls := lookups(page)
	// With a shared history the backup's copies are fetched without their
	// sources first: most are the target's copy, told by sequence number.
	// Each worker's first page fetches them whole, to check that.
	bySeq := lj.shared.Load() && w.checked
	// The target's and the backup's copies are fetched at once: on a
	// cluster with cores to spare the page costs one round trip, not two.
	// Each fetch writes its own field of the page's entries.
	g, gctx := errgroup.WithContext(ctx)
	for _, side := range []struct {
		s      *indexSide
		found  *atomic.Int64
		source bool
		set    func(p *pendingDoc, r *ref)
	}{
		{lj.t, &lj.tgtFound, true, func(p *pendingDoc, r *ref) {
			if r == nil {
				p.needT = true
			} else {
				p.tr.t = r
			}
		}},
		{lj.b, &lj.backFound, !bySeq, func(p *pendingDoc, r *ref) {
			if r == nil {
				p.needB = true
			} else {
				p.tr.b = r
			}
		}},
	} {
		if side.s == nil {
			continue
		}
		g.Go(func() error {
			got, err := side.s.get(gctx, ls, side.source, d.opt.Retry)
			if err != nil {
				return err
			}
			for i, f := range got {
				if !f.Found {
					side.set(&trs[i], nil)
					continue
				}
				side.found.Add(1)
				side.set(&trs[i], &ref{routing: f.Routing, src: f.Source, seqNo: f.SeqNo, term: f.PrimaryTerm})
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	// A page fetched without backup sources is completed even when
	// another worker refuted the shared history meanwhile.
	if bySeq || lj.shared.Load() {
		if err := lj.backupSources(ctx, w, trs, bySeq); err != nil {
			return err
		}
	}
	for i := range trs {
		p := &trs[i]
		if p.needT || p.needB {
			// Copy what is kept past this page, so the page's answers
			// can go.
			keep := func(r *ref) *ref {
				if r == nil {
					return nil
				}
				c := *r
				c.src = bytes.Clone(r.src)
				return &c
			}
			p.tr.o, p.tr.t, p.tr.b = keep(p.tr.o), keep(p.tr.t), keep(p.tr.b)
			w.pending = append(w.pending, p)
			continue
		}
		if err := d.classify(w, lj.rep, p.tr); err != nil {
			return err
		}
	}
	if len(w.pending) >= d.opt.PageSize {
		return lj.resolvePending(ctx, w)
	}
	return nil
}

// backupSources completes the backup's copies of a page under a shared
// history. When fetched without sources (bySeq), a copy with the target's
// sequence number and primary term is the target's bytes (unless the
// claim was refuted since), and the others are fetched whole. Otherwise (a worker's first page) every copy was
// fetched whole, and one that shares the target's sequence number but not
// its bytes means the history is not shared: the shortcut is turned off.
func (lj *lookupState) backupSources(ctx context.Context, w *worker, trs []pendingDoc, bySeq bool) error {
	if !bySeq {
		w.checked = true
		for i := range trs {
			tr := trs[i].tr
			if sameCopy(tr.t, tr.b) && !bytes.Equal(tr.t.src, tr.b.src) {
				lj.shared.Store(false)
				lj.d.opt.Logger.Warn("diff reads every backup copy", "reason",
					"a backup copy with the target's _seq_no and _primary_term differs from it", "id", tr.id,
					"backup", lj.b.index, "target", lj.t.index)
				return nil
			}
		}
		return nil
	}
	trust := lj.shared.Load()
	var need []int
	for i := range trs {
		tr := trs[i].tr
		switch {
		case tr.b == nil:
			// Missed: resolvePending fetches it whole.
		case trust && sameCopy(tr.t, tr.b):
			tr.b.src = tr.t.src
			lj.d.live.bySeqNo.Add(1)
		default:
			need = append(need, i)
		}
	}
	if len(need) == 0 {
		return nil
	}
	ls := make([]lookup, len(need))
	for k, i := range need {
		ls[k] = lookup{id: trs[i].tr.id, routing: trs[i].tr.b.routing}
	}
	got, err := lj.b.get(ctx, ls, true, lj.d.opt.Retry)
	if err != nil {
		return err
	}
	for k, f := range got {
		if !f.Found {
			return fmt.Errorf("%w: document %q of %q vanished between two fetches", ErrCountMismatch, f.ID, lj.b.index)
		}
		trs[need[k]].tr.b.src = f.Source
	}
	return nil
}

// resolvePending looks the pending documents up by id on every shard of
// the sides they missed on, then classifies them.
func (lj *lookupState) resolvePending(ctx context.Context, w *worker) error {
	all := w.pending
	w.pending = nil
	for batch := range slices.Chunk(all, lj.d.idsBatch()) {
		for _, side := range []struct {
			s     *indexSide
			need  func(p *pendingDoc) bool
			set   func(p *pendingDoc, r *ref)
			found *atomic.Int64
		}{
			{lj.t, func(p *pendingDoc) bool { return p.needT }, func(p *pendingDoc, r *ref) { p.tr.t = r }, &lj.tgtFound},
			{lj.b, func(p *pendingDoc) bool { return p.needB }, func(p *pendingDoc, r *ref) { p.tr.b = r }, &lj.backFound},
		} {
			var ids []string
			for _, p := range batch {
				if side.need(p) {
					ids = append(ids, p.tr.id)
				}
			}
			if len(ids) == 0 {
				continue
			}
			found, err := lj.d.findAnyRouting(ctx, side.s, ids, true)
			if err != nil {
				return err
			}
			for _, p := range batch {
				if g, ok := found[p.tr.id]; ok && side.need(p) {
					side.found.Add(1)
					side.set(p, &ref{routing: g.Routing, src: g.Source})
				}
			}
		}
		for _, p := range batch {
			if err := lj.d.classify(w, lj.rep, p.tr); err != nil {
				return err
			}
		}
	}
	return nil
}

// idsBatch is the most ids one ids query asks for: a page, and less than
// the result window since the query asks for one hit more.
func (d *Differ) idsBatch() int { return min(d.opt.PageSize, MaxPageSize-1) }

// targetPage finds the documents of one page of target ids that the
// original lacks.
func (lj *lookupState) targetPage(ctx context.Context, w *worker, page []dump.Doc) error {
	got, err := lj.o.get(ctx, lookups(page), false, lj.d.opt.Retry)
	if err != nil {
		return err
	}
	for i, g := range got {
		if g.Found {
			lj.both.Add(1)
		} else {
			w.missTgt = append(w.missTgt, page[i])
		}
	}
	if len(w.missTgt) >= lj.d.opt.PageSize {
		return lj.resolveTargetMisses(ctx, w)
	}
	return nil
}

// resolveTargetMisses reports the target ids _mget did not find in the
// original as added, unless an ids query finds them there under another
// routing (pass 1 classified those).
func (lj *lookupState) resolveTargetMisses(ctx context.Context, w *worker) error {
	all := w.missTgt
	w.missTgt = nil
	for miss := range slices.Chunk(all, lj.d.idsBatch()) {
		only, err := lj.notIn(ctx, lj.o, miss, &lj.both)
		if err != nil || len(only) == 0 {
			return err
		}
		docs, err := lj.t.get(ctx, lookups(only), true, lj.d.opt.Retry)
		if err != nil {
			return err
		}
		inBackup := map[string]bool{}
		if lj.b != nil {
			if inBackup, err = lj.present(ctx, lj.b, only); err != nil {
				return err
			}
		}
		lostCopies, err := lj.lostCopies(ctx, inBackup)
		if err != nil {
			return err
		}
		for i, g := range docs {
			if !g.Found {
				return fmt.Errorf("%w: document %q of %q vanished between its scan and its fetch", ErrCountMismatch, only[i].ID, lj.t.index)
			}
			tr := &triple{id: g.ID, t: &ref{routing: g.Routing, src: g.Source}}
			if inBackup[g.ID] {
				lj.lostInTarget.Add(1)
				tr.b = &ref{} // present; its copy is needed by the profile only
				if c, ok := lostCopies[g.ID]; ok {
					tr.b = &ref{routing: c.Routing, src: c.Source}
				}
			}
			if err := lj.d.classify(w, lj.rep, tr); err != nil {
				return err
			}
		}
	}
	return nil
}

// backupPage finds the documents of one page of backup ids that the
// original lacks.
func (lj *lookupState) backupPage(ctx context.Context, w *worker, page []dump.Doc) error {
	got, err := lj.o.get(ctx, lookups(page), false, lj.d.opt.Retry)
	if err != nil {
		return err
	}
	for i, g := range got {
		if g.Found {
			lj.backBoth.Add(1)
		} else {
			w.missBack = append(w.missBack, page[i])
		}
	}
	if len(w.missBack) >= lj.d.opt.PageSize {
		return lj.resolveBackupMisses(ctx, w)
	}
	return nil
}

// resolveBackupMisses classifies the backup ids the original lacks: lost.
// Those the target holds were classified by pass 2; the others are not
// recovered (or, with a virtual target, added from the backup).
func (lj *lookupState) resolveBackupMisses(ctx context.Context, w *worker) error {
	all := w.missBack
	w.missBack = nil
	for miss := range slices.Chunk(all, lj.d.idsBatch()) {
		lost, err := lj.notIn(ctx, lj.o, miss, &lj.backBoth)
		if err != nil || len(lost) == 0 {
			return err
		}
		if lj.t != nil {
			inTarget, err := lj.present(ctx, lj.t, lost)
			if err != nil {
				return err
			}
			lost = slices.DeleteFunc(lost, func(doc dump.Doc) bool { return inTarget[doc.ID] })
			if len(lost) == 0 {
				continue
			}
		}
		docs, err := lj.b.get(ctx, lookups(lost), true, lj.d.opt.Retry)
		if err != nil {
			return err
		}
		for i, g := range docs {
			if !g.Found {
				return fmt.Errorf("%w: document %q of %q vanished between its scan and its fetch", ErrCountMismatch, lost[i].ID, lj.b.index)
			}
			tr := &triple{id: g.ID, b: &ref{routing: g.Routing, src: g.Source}}
			if err := lj.d.classify(w, lj.rep, tr); err != nil {
				return err
			}
		}
	}
	return nil
}

// notIn returns the docs that side s lacks under any routing, after an ids
// query; found counts the others.
func (lj *lookupState) notIn(ctx context.Context, s *indexSide, docs []dump.Doc, found *atomic.Int64) ([]dump.Doc, error) {
	ids := make([]string, len(docs))
	for i, doc := range docs {
		ids[i] = doc.ID
	}
	hits, err := lj.d.findAnyRouting(ctx, s, ids, false)
	if err != nil {
		return nil, err
	}
	var out []dump.Doc
	for _, doc := range docs {
		if _, ok := hits[doc.ID]; ok {
			found.Add(1)
			continue
		}
		out = append(out, doc)
	}
	return out, nil
}

// present reports which of docs side s holds, under their routing or any.
func (lj *lookupState) present(ctx context.Context, s *indexSide, docs []dump.Doc) (map[string]bool, error) {
	got, err := s.get(ctx, lookups(docs), false, lj.d.opt.Retry)
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(docs))
	var ids []string
	for i, g := range got {
		if g.Found {
			out[docs[i].ID] = true
		} else {
			ids = append(ids, docs[i].ID)
		}
	}
	if len(ids) > 0 {
		hits, err := lj.d.findAnyRouting(ctx, s, ids, false)
		if err != nil {
			return nil, err
		}
		for id := range hits {
			out[id] = true
		}
	}
	return out, nil
}

// findAnyRouting looks ids up in s with an ids query, which searches every
// shard, and returns the hits by id.
func (d *Differ) findAnyRouting(ctx context.Context, s *indexSide, ids []string, source bool) (map[string]fetched, error) {
	hits, err := s.search(ctx, ids, source, d.opt.Retry)
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
