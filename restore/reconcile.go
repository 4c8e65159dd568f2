package restore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sync/atomic"

	"github.com/elastic/go-elasticsearch/v8/esapi"
	"golang.org/x/sync/errgroup"

	"github.com/esrestore/esrestore/internal/dump"
	"github.com/esrestore/esrestore/internal/elastic"
	"github.com/esrestore/esrestore/internal/esscan"
	"github.com/esrestore/esrestore/internal/jsonmerge"
	"github.com/esrestore/esrestore/internal/retry"
)

// The reconciliation pass: the target holds the backup; the original is
// scanned, each page's ids are fetched from the target with one _mget, and
// a document is written only when the version Prefer chooses differs from
// the target's copy. Writes are proportional to the difference between
// the original and the backup, not to the index: on a real cluster
// indexing is the expensive operation, reads and _mget are cheap.

// reconcilePass is the pass over the original.
func (r *Restorer) reconcilePass(ctx context.Context, p *plan) error {
	ps := &pass{name: "original:" + r.opt.Original, op: "index"}
	shared, why := r.sharedHistory(ctx, p)
	// With a shared history most documents are decided by sequence
	// number: the original is scanned for ids and sequence numbers only,
	// and the sources of the others fetched by _mget.
	rc := &reconciler{r: r, original: p.original.Name, sourceless: shared}
	rc.bySeq.Store(shared)
	src := &indexSource{es: r.es, index: p.original.Name, slices: r.opt.Slices, pol: r.opt.Retry, rescanned: r.rescanned,
		seqNo: shared, noSource: shared, in: r.opt.Instant}
	r.log.Info("reconciling", "from", ps.name, "op_type", ps.op, "target", r.opt.Target,
		"by_seq_no", shared, "by_seq_no_reason", why)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.opt.Workers)
	b := &batcher{r: r, p: ps, g: g, ctx: gctx}
	scanErr := src.Scan(gctx, func(ctx context.Context, docs []dump.Doc, _ []*dump.LineError) error {
		if err := gctx.Err(); err != nil {
			return err
		}
		docs, err := r.dropDuplicates(ps, docs)
		if err != nil {
			return err
		}
		write, err := rc.page(ctx, docs)
		if err != nil {
			return err
		}
		return b.add(write)
	})
	if err := b.flush(); scanErr == nil {
		scanErr = err
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if scanErr != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("restore into %q interrupted while reading %s: %w", r.opt.Target, ps.name, context.Cause(ctx))
		}
		return fmt.Errorf("read %s: %w", ps.name, scanErr)
	}
	return nil
}

// sharedHistory tells whether the original and the target share the
// snapshot's history, so that a document with the same _seq_no and
// _primary_term on both is the same copy: Elasticsearch restored the
// snapshot as the target in this attempt (nothing has written it yet, so
// every copy the pass reads is the snapshot's), and the target keeps the
// original's creation date (a restore keeps the snapshot's, a recreated
// index has its own). A write to the original since the snapshot gives
// its document a sequence number above the snapshot's; one rolled back
// and reused after a failover has another primary term.
func (r *Restorer) sharedHistory(ctx context.Context, p *plan) (bool, string) {
	switch {
	case !p.fromSnapshot:
		return false, "the target was not restored from a snapshot"
	case p.resume:
		return false, "a resumed target may hold copies an earlier attempt wrote"
	}
	t, found, err := getIndex(ctx, r.es, r.opt.Retry, r.opt.Target, fmt.Sprintf("get target index %q", r.opt.Target))
	if err != nil || !found {
		return false, "the target's settings could not be read"
	}
	oc, tc := p.original.Settings["index.creation_date"], t.Settings["index.creation_date"]
	if len(oc) == 0 || !bytes.Equal(oc, tc) {
		return false, "the snapshot's index is not the original's (another creation date)"
	}
	return true, "the target is the original's snapshot"
}

// reconciler is the state of one reconciliation pass.
type reconciler struct {
	r *Restorer
	// original is the original's concrete index; sourceless says its
	// scan reads ids and sequence numbers only (see withSources).
	original   string
	sourceless bool
	// bySeq: the target's copies are fetched without sources first, and
	// one with the original's _seq_no and _primary_term is kept as it is.
	bySeq atomic.Bool
	// checked counts the pages that fetched every source to check bySeq:
	// one per scan slice.
	checked atomic.Int64
}

// page reconciles one page of the original; see reconcilePage.
func (rc *reconciler) page(ctx context.Context, docs []dump.Doc) ([]dump.Doc, error) {
	r := rc.r
	check := rc.bySeq.Load() && rc.checked.Add(1) <= int64(r.opt.Slices)
	if !rc.bySeq.Load() || check {
		docs, err := rc.withSources(ctx, docs)
		if err != nil {
			return nil, err
		}
		var refute *reconciler
		if check {
			refute = rc
		}
		return r.reconcilePage(ctx, docs, refute)
	}
	have, err := r.mgetTarget(ctx, docs, false)
	if err != nil {
		return nil, err
	}
	var differ []dump.Doc
	for i, d := range docs {
		if sameSeq(d, have[i]) {
			r.keep(d)
			r.st.keptBySeq.Add(1)
			continue
		}
		differ = append(differ, d)
	}
	if differ, err = rc.withSources(ctx, differ); err != nil || len(differ) == 0 {
		return nil, err
	}
	return r.reconcilePage(ctx, differ, nil)
}

// withSources gives docs, read from the original without their sources,
// the sources the original holds (at Options.Instant, or now), with the
// sequence numbers of those copies. A document the original no longer
// has, deleted since the scan, is counted read and kept: there is nothing
// of it to write.
func (rc *reconciler) withSources(ctx context.Context, docs []dump.Doc) ([]dump.Doc, error) {
	if !rc.sourceless || len(docs) == 0 {
		return docs, nil
	}
	r := rc.r
	var got []*targetCopy
	var err error
	if in := r.opt.Instant; in != nil {
		got, err = r.lookupAt(ctx, in, docs)
	} else {
		got, err = r.mgetCopies(ctx, rc.original, "original", docs, true)
	}
	if err != nil {
		return nil, err
	}
	out := docs[:0:0]
	for i, d := range docs {
		c := got[i]
		if c == nil {
			r.keep(d)
			continue
		}
		d.Source, d.SeqNo, d.PrimaryTerm = c.source, c.seqNo, c.term
		out = append(out, d)
	}
	return out, nil
}

// sameSeq reports whether the target's copy t is the original's document
// d by sequence number and primary term (and routing).
func sameSeq(d dump.Doc, t *targetCopy) bool {
	return t != nil && d.PrimaryTerm > 0 && d.PrimaryTerm == t.term && d.SeqNo == t.seqNo && d.Routing == t.routing
}

// reconcilePage fetches the target's copies of a page of the original and
// returns the documents to write, each with the source to write. The
// others are counted read and kept: the target already holds what Prefer
// chooses. With check set, a document whose copy has its sequence number
// but would be written refutes the shared history: the pass then reads
// every copy whole.
func (r *Restorer) reconcilePage(ctx context.Context, docs []dump.Doc, check *reconciler) ([]dump.Doc, error) {
	have, err := r.mgetTarget(ctx, docs, true)
	if err != nil {
		return nil, err
	}
	write := docs[:0:0]
	for i := range docs {
		d := docs[i]
		src, ok := r.desired(d, have[i])
		if check != nil && ok && sameSeq(d, have[i]) && check.bySeq.CompareAndSwap(true, false) {
			r.log.Warn("reconciliation reads every target copy", "reason",
				"a target copy with the original's _seq_no and _primary_term differs from it", "id", d.ID, "target", r.opt.Target)
		}
		if !ok {
			r.keep(d)
			continue
		}
		d.Source = src
		write = append(write, d)
	}
	return write, nil
}

// keep counts an original's document read and kept: the target holds
// what Prefer chooses, or (deleted since the scan) there is nothing of it
// to write. A document read without its source adds no bytes.
func (r *Restorer) keep(d dump.Doc) {
	r.st.read.Add(1)
	r.st.bytes.Add(int64(len(d.Source)))
	r.st.kept.Add(1)
}

// targetCopy is the target's copy of a document; nil when it has none.
type targetCopy struct {
	routing string
	source  json.RawMessage // nil when fetched without
	// seqNo and term are its _seq_no and _primary_term (term 0: none).
	seqNo, term int64
}

// desired returns the source the target must hold for the original's
// document d, and whether it must be written (false: t already holds it).
func (r *Restorer) desired(d dump.Doc, t *targetCopy) (json.RawMessage, bool) {
	if t == nil {
		return d.Source, true // the backup lacks it: the original's, as it is
	}
	switch r.opt.Prefer {
	case PreferSource:
		return nil, false
	case PreferFill:
		src, filled, err := jsonmerge.Fill(d.Source, t.source, jsonmerge.Options{NullIsMissing: r.opt.NullIsMissing})
		if err == nil && filled {
			return src, !sameJSON(src, t.source)
		}
		// Nothing to fill (or not two objects, which the diff's
		// OverlayFill treats alike): the original's document.
	}
	return d.Source, d.Routing != t.routing || !sameJSON(d.Source, t.source)
}

// sameJSON reports whether two sources hold the same JSON value: bytes
// first, then decoded (key order aside, as the diff compares), so that a
// copy already right is never indexed again for its member order.
func sameJSON(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	var x, y any
	da, db := json.NewDecoder(bytes.NewReader(a)), json.NewDecoder(bytes.NewReader(b))
	da.UseNumber()
	db.UseNumber()
	if da.Decode(&x) != nil || db.Decode(&y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// lookupAt fetches the copies of docs the original held at the instant
// in, in order (nil: missing), with their sources.
func (r *Restorer) lookupAt(ctx context.Context, in *esscan.Instant, docs []dump.Doc) ([]*targetCopy, error) {
	ids := make([]string, len(docs))
	for i, d := range docs {
		ids[i] = d.ID
	}
	got, err := in.Lookup(ctx, ids, true)
	if err != nil {
		return nil, err
	}
	return copies(got), nil
}

// copies are the found documents of got as copies, in order (nil:
// missing).
func copies(got []esscan.MgetDoc) []*targetCopy {
	out := make([]*targetCopy, len(got))
	for i := range got {
		if g := &got[i]; g.Found {
			out[i] = &targetCopy{routing: g.Routing, source: g.Source, seqNo: g.SeqNo, term: g.PrimaryTerm}
		}
	}
	return out
}

// mgetTarget fetches the target's copies of docs, in order (nil: missing),
// with their sources or without.
func (r *Restorer) mgetTarget(ctx context.Context, docs []dump.Doc, source bool) ([]*targetCopy, error) {
	return r.mgetCopies(ctx, r.opt.Target, "target", docs, source)
}

// mgetCopies fetches the copies of docs in index (the side named by what),
// in order (nil: missing), with their sources or without.
func (r *Restorer) mgetCopies(ctx context.Context, index, side string, docs []dump.Doc, source bool) ([]*targetCopy, error) {
	if len(docs) == 0 {
		return nil, nil
	}
	body := esscan.MgetBody(len(docs), func(i int) (string, string) { return docs[i].ID, docs[i].Routing })
	realtime := true
	what := fmt.Sprintf("_mget %d documents from %s %q", len(docs), side, index)
	var got []esscan.MgetDoc
	// One retry loop for the request and its entries: an entry that failed
	// for a reason a retry clears (a shard still recovering after a node
	// restart) sends the _mget again under the same budget.
	err := retry.Do(ctx, r.opt.Retry, func(ctx context.Context) error {
		// No filter_path: what it would drop is a few small members a
		// document, and filtering an answer of a thousand sources costs the
		// server a walk over all of them.
		req := esapi.MgetRequest{Index: index, Body: bytes.NewReader(body), Realtime: &realtime}
		if !source {
			req.Source = []string{"false"}
		}
		a, err := elastic.CallOnce(ctx, r.es, what, req)
		if err != nil {
			return err
		}
		if !a.OK() {
			return fmt.Errorf("%s: %v", what, a.Err())
		}
		got, err = esscan.DecodeMget(a.Body, len(docs))
		if err == nil && len(got) != len(docs) {
			err = fmt.Errorf("answer has %d documents", len(got))
		}
		if err == nil {
			// A shard that cannot answer must not read as a missing copy:
			// the document would be written over what the target holds.
			err = esscan.CheckMget(got, func(i int) string { return docs[i].ID }, source)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return copies(got), nil
}

// dropDuplicates fails, before any lookup, the documents of a page whose
// id is one of Options.Duplicates (an id under several routings, which a
// lookup by id cannot tell apart), and returns the others.
func (r *Restorer) dropDuplicates(p *pass, docs []dump.Doc) ([]dump.Doc, error) {
	if len(r.dupes) == 0 {
		return docs, nil
	}
	out := docs[:0:0]
	for _, d := range docs {
		dup := r.dupes[d.ID]
		if dup == nil {
			out = append(out, d)
			continue
		}
		r.st.read.Add(1)
		r.st.bytes.Add(int64(len(d.Source)))
		err := r.fail(p, Failure{ID: d.ID, Index: d.Index, Routing: d.Routing, Line: d.Line,
			Error:    errorJSON("duplicate_id_routings", dup.String()+": no copy can stand for the document, none is restored"),
			Document: d.Source}, nil)
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
