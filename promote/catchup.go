package promote

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/esrestore/esrestore/diff"
	"github.com/esrestore/esrestore/internal/elastic"
	"github.com/esrestore/esrestore/internal/esscan"
	"github.com/esrestore/esrestore/internal/retry"
	"github.com/esrestore/esrestore/report"
)

// Kinds of the writes the original took since the run.
const (
	kindNew     = "new"     // the original has it, the target lacks it
	kindChanged = "changed" // both hold it, the original's changed since
	kindDeleted = "deleted" // the target has it, the original no longer
)

// entry is one document the original wrote since the run.
type entry struct {
	id   string
	kind string
	// reviewed is the class of the document's line in the reviewed diff,
	// "" when it had none (it was unchanged).
	reviewed string
}

// protected reports whether a document gone from the original stays in
// the target: the report recovered it (lost whole, or stripped of fields),
// and the original lacking it is what the restore was for.
func (e entry) protected() bool {
	return e.reviewed == diff.ChangeAdded || e.reviewed == diff.ChangeRecovered
}

// superseded reports whether the live version replaces a document the
// report changed.
func (e entry) superseded() bool { return e.reviewed != "" && e.kind != kindDeleted }

// plan is what the catch-up will do.
type plan struct {
	entries []entry
	stats   CatchUp
}

// diffLine is the part of a diff.ndjson.gz line that says what a switch
// does to one document: its class and patch (or whole document) and
// routing. The not_recovered member of a three-sided diff, which a
// two-sided one lacks, is left out.
type diffLine struct {
	ID       string          `json:"_id"`
	Change   string          `json:"change"`
	Routing  json.RawMessage `json:"routing"`
	Patch    json.RawMessage `json:"patch"`
	Restored json.RawMessage `json:"restored"`
	Original json.RawMessage `json:"original"`
}

// outcome is the line's comparable part: equal for two lines when the
// original and the target agree on the document as they did.
func (l *diffLine) outcome() string {
	var b strings.Builder
	for _, p := range [][]byte{[]byte(l.Change), l.Routing, l.Patch, l.Restored, l.Original} {
		b.Write(p)
		b.WriteByte(0)
	}
	return b.String()
}

// lineReader reads a diff sorted by _id, one line ahead.
type lineReader struct {
	name string
	r    *bufio.Reader
	cur  diffLine
	ok   bool
	n    int64
	err  error
}

func newLineReader(name string, r io.Reader) *lineReader {
	lr := &lineReader{name: name, r: bufio.NewReaderSize(r, 1<<20)}
	lr.next()
	return lr
}

// next reads the next line into cur; ok is false at the end or on error.
func (lr *lineReader) next() {
	prev := lr.cur.ID
	for {
		b, err := lr.r.ReadBytes('\n')
		if len(bytes.TrimSpace(b)) == 0 {
			if err != nil {
				if !errors.Is(err, io.EOF) {
					lr.err = fmt.Errorf("read %s: %w", lr.name, err)
				}
				lr.ok = false
				return
			}
			continue
		}
		lr.n++
		var l diffLine
		if jerr := json.Unmarshal(b, &l); jerr != nil || l.ID == "" && l.Change == "" {
			lr.err = fmt.Errorf("%s line %d: not a diff line: %v", lr.name, lr.n, jerr)
			lr.ok = false
			return
		}
		if lr.n > 1 && l.ID <= prev {
			lr.err = fmt.Errorf("%s line %d: _id %q after %q: the diff is not sorted by _id", lr.name, lr.n, l.ID, prev)
			lr.ok = false
			return
		}
		lr.cur, lr.ok = l, true
		return
	}
}

// comparePlans walks the reviewed diff and the fresh one by _id and
// returns the documents whose fresh line differs from the reviewed one,
// or has no reviewed line: those the original wrote since the run.
func comparePlans(reviewed, fresh *lineReader) (*plan, error) {
	p := &plan{stats: CatchUp{Method: "diff", Samples: map[string][]string{}}}
	add := func(f *diffLine, rv string) {
		e := entry{id: f.ID, reviewed: rv}
		switch f.Change {
		case diff.ChangeRemoved:
			e.kind = kindNew
			if rv == diff.ChangeRemoved {
				e.kind = kindChanged
			}
		case diff.ChangeAdded:
			e.kind = kindDeleted
		default:
			e.kind = kindChanged
		}
		p.entries = append(p.entries, e)
		switch e.kind {
		case kindNew:
			p.stats.New++
		case kindChanged:
			p.stats.Changed++
		case kindDeleted:
			p.stats.Deleted++
		}
		p.stats.sample(e.kind, e.id)
		if e.kind == kindDeleted && e.protected() {
			p.stats.KeptRecovered++
			p.stats.sample("kept_recovered", e.id)
		}
		if e.superseded() {
			p.stats.Superseded++
			p.stats.sample("superseded", e.id)
		}
	}
	for reviewed.ok || fresh.ok {
		switch {
		case !fresh.ok || reviewed.ok && reviewed.cur.ID < fresh.cur.ID:
			// The original and the target now agree on a document the
			// reviewed diff listed: nothing to bring over.
			reviewed.next()
		case !reviewed.ok || fresh.cur.ID < reviewed.cur.ID:
			add(&fresh.cur, "")
			fresh.next()
		default:
			rv := reviewed.cur.Change
			if rv == diff.ChangeNotRecovered || rv == diff.ChangeSkipped {
				// The outcome was unchanged; the line only told what
				// the backup held beyond both, or left out.
				rv = ""
			}
			if rv == "" || reviewed.cur.outcome() != fresh.cur.outcome() {
				add(&fresh.cur, rv)
			}
			reviewed.next()
			fresh.next()
		}
	}
	if err := errors.Join(reviewed.err, fresh.err); err != nil {
		return nil, err
	}
	p.stats.Reviewed, p.stats.Fresh = reviewed.n, fresh.n
	return p, nil
}

// sample keeps the first MaxSamples ids of a class (the smallest: the
// diffs are sorted).
func (c *CatchUp) sample(class, id string) {
	if c.Samples == nil {
		c.Samples = map[string][]string{}
	}
	if len(c.Samples[class]) < MaxSamples && !slices.Contains(c.Samples[class], id) {
		c.Samples[class] = append(c.Samples[class], id)
	}
}

// hashingReader digests what is read through it.
type hashingReader struct {
	r io.Reader
	h hash.Hash
}

func (h *hashingReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	return n, err
}

// makePlan runs a fresh diff original → target, the original read at the
// instant orig and the target at tgt (nil: as it is, which holds while
// only the promote writes it), and compares it with the reviewed one. The
// reviewed diff is digested again as it is read: it must still be the
// object the summary names.
func (p *Promoter) makePlan(ctx context.Context, s *state, orig, tgt *esscan.Instant) (*plan, error) {
	tmp, err := os.CreateTemp(p.opt.TempDir, "esrestore-promote-*.ndjson")
	if err != nil {
		return nil, fmt.Errorf("catch-up: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	target := diff.IndexSide(p.es, s.sum.Target)
	if tgt != nil {
		target = diff.IndexSideAt(p.es, tgt)
	} else if err := refresh(ctx, p.es, s.sum.Target); err != nil {
		// The catch-up's own writes (and an interrupted attempt's) must
		// be visible to the diff's scan of the target.
		return nil, fmt.Errorf("catch-up: %w", err)
	}
	origCount, err := orig.Count(ctx)
	if err != nil {
		return nil, fmt.Errorf("catch-up: %w", err)
	}
	w := bufio.NewWriterSize(tmp, 1<<20)
	_, err = diff.Run(ctx, diff.IndexSideAt(p.es, orig), target, w,
		diff.Options{Workers: p.opt.Workers, Ignore: s.sum.Ignored, TempDir: p.opt.TempDir, Logger: p.log, Retry: p.opt.Retry})
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		return nil, fmt.Errorf("catch-up: %w", err)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	obj := s.sum.Objects["diff"]
	rc, err := p.store.Open(ctx, objectName(obj))
	if err != nil {
		return nil, fmt.Errorf("catch-up: open the reviewed diff: %w", err)
	}
	defer rc.Close()
	hr := &hashingReader{r: rc, h: sha256.New()}
	zr, err := gzip.NewReader(hr)
	if err != nil {
		return nil, fmt.Errorf("catch-up: the reviewed diff %s: %w", p.store.URL(objectName(obj)), err)
	}
	pl, err := comparePlans(newLineReader(report.DiffName, zr), newLineReader("the fresh diff", tmp))
	if err != nil {
		return nil, fmt.Errorf("catch-up: %w", err)
	}
	if _, err := io.Copy(io.Discard, hr); err != nil {
		return nil, fmt.Errorf("catch-up: read the reviewed diff: %w", err)
	}
	if got := hex.EncodeToString(hr.h.Sum(nil)); got != obj.SHA256 {
		return nil, fmt.Errorf("%w: %s changed since the check: sha256 %s, the summary says %s", ErrCheck, report.DiffName, got, obj.SHA256)
	}
	pl.stats.OriginalCount = origCount
	return pl, nil
}

// hit is a document a lookup found.
type hit struct {
	routing string
	source  json.RawMessage
}

// lookup fetches the documents ids of index (sources unless noSource). A
// page with failed shards is an error: a short answer would read as
// documents deleted.
func lookup(ctx context.Context, es *elasticsearch.Client, index string, ids []string, noSource bool) (map[string]hit, error) {
	body, err := json.Marshal(map[string]any{
		"query":   map[string]any{"ids": map[string]any{"values": ids}},
		"size":    len(ids),
		"_source": !noSource,
	})
	if err != nil {
		return nil, err
	}
	var out struct {
		TimedOut bool `json:"timed_out"`
		Shards   struct {
			Failed int `json:"failed"`
		} `json:"_shards"`
		Hits struct {
			Hits []struct {
				ID      string          `json:"_id"`
				Routing string          `json:"_routing"`
				Source  json.RawMessage `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	what := fmt.Sprintf("look up %d documents in %q", len(ids), index)
	if _, err := elastic.Once(ctx, es, what, esapi.SearchRequest{Index: []string{index}, Body: bytes.NewReader(body)}, &out); err != nil {
		return nil, err
	}
	if out.TimedOut || out.Shards.Failed > 0 {
		return nil, fmt.Errorf("%s: %d shards failed (timed out %t): the answer may be short", what, out.Shards.Failed, out.TimedOut)
	}
	found := make(map[string]hit, len(out.Hits.Hits))
	for _, h := range out.Hits.Hits {
		found[h.ID] = hit{routing: h.Routing, source: h.Source}
	}
	return found, nil
}

// apply brings the plan's documents over: the original's version at the
// instant orig is indexed into the target, a document the original no
// longer had then is deleted from it unless protected. It is idempotent,
// so a rerun after an interruption redoes what was not done.
//
// With guard (the target at the switch, once the application writes to
// it), every write is conditional on the target's copy being the one the
// guard saw: an index or delete carries its _seq_no and _primary_term, a
// document the target lacked is created, never indexed. A write the
// application made to the target since the switch fails the condition and
// stands (counted KeptApplication): no older copy from the original
// replaces it.
func (p *Promoter) apply(ctx context.Context, s *state, pl *plan, orig, guard *esscan.Instant) error {
	for start := 0; start < len(pl.entries); start += p.opt.BatchDocs {
		if err := ctx.Err(); err != nil {
			return err
		}
		batch := pl.entries[start:min(start+p.opt.BatchDocs, len(pl.entries))]
		ids := make([]string, len(batch))
		for i, e := range batch {
			ids[i] = e.id
		}
		live, err := orig.Lookup(ctx, ids, true)
		if err != nil {
			return fmt.Errorf("catch-up: %w", err)
		}
		var tgt []esscan.MgetDoc
		if guard != nil {
			if tgt, err = guard.Lookup(ctx, ids, false); err != nil {
				return fmt.Errorf("catch-up: %w", err)
			}
		}
		var ops []bulkOp
		var gone []string
		for i, e := range batch {
			h := live[i]
			var cond *esscan.MgetDoc
			if guard != nil {
				cond = &tgt[i]
			}
			switch {
			case h.Found:
				op, err := indexOp(s.sum.Target, e.id, hit{routing: h.Routing, source: h.Source}, cond)
				if err != nil {
					return fmt.Errorf("catch-up: %w", err)
				}
				ops = append(ops, op)
			case e.protected():
				if e.kind != kindDeleted {
					// Changed, then gone by the time it was read;
					// the plan counted the deleted ones.
					p.mu.Lock()
					pl.stats.KeptRecovered++
					pl.stats.sample("kept_recovered", e.id)
					p.mu.Unlock()
				}
			case cond != nil:
				if cond.Found {
					ops = append(ops, deleteOp(s.sum.Target, e.id, cond.Routing, cond))
				}
			default:
				gone = append(gone, e.id)
			}
		}
		if len(gone) > 0 {
			// A delete needs the document's routing in the target.
			tgt, err := lookup(ctx, p.es, s.sum.Target, gone, true)
			if err != nil {
				return fmt.Errorf("catch-up: %w", err)
			}
			for _, id := range gone {
				if h, ok := tgt[id]; ok {
					ops = append(ops, deleteOp(s.sum.Target, id, h.routing, nil))
				}
			}
		}
		if len(ops) > 0 {
			if err := p.bulk(ctx, ops, pl); err != nil {
				return err
			}
		}
		if err := p.step(ctx, stepCatchUpBatch); err != nil {
			return err
		}
	}
	if pl.stats.Failed > 0 {
		return fmt.Errorf("catch-up: %d documents could not be written to the target %q; rerun promote once the cause is fixed",
			pl.stats.Failed, s.sum.Target)
	}
	if err := refresh(ctx, p.es, s.sum.Target); err != nil {
		return fmt.Errorf("catch-up: %w", err)
	}
	return nil
}

// bulkOp is one item of a catch-up _bulk: its action, its _id and its
// lines (the action line, and for an index the source line); guarded
// when it is conditional on the target's copy.
type bulkOp struct {
	action, id string
	lines      []byte
	guarded    bool
}

// indexOp indexes h as id. With cond (the target's copy at the switch) it
// is conditional: on that copy's _seq_no and _primary_term, or a create
// when the target had none.
func indexOp(index, id string, h hit, cond *esscan.MgetDoc) (bulkOp, error) {
	meta := map[string]any{"_index": index, "_id": id}
	if h.routing != "" {
		meta["routing"] = h.routing
	}
	action := "index"
	if cond != nil {
		if cond.Found {
			meta["if_seq_no"], meta["if_primary_term"] = cond.SeqNo, cond.PrimaryTerm
		} else {
			action = "create"
		}
	}
	mb, _ := json.Marshal(map[string]any{action: meta})
	b := bytes.NewBuffer(append(mb, '\n'))
	if bytes.ContainsAny(h.source, "\r\n") {
		// NDJSON carries one document a line.
		if err := json.Compact(b, h.source); err != nil {
			return bulkOp{}, fmt.Errorf("document %q: %w", id, err)
		}
	} else {
		b.Write(h.source)
	}
	b.WriteByte('\n')
	return bulkOp{action: action, id: id, lines: b.Bytes(), guarded: cond != nil}, nil
}

// deleteOp deletes id, conditionally on the copy cond when given.
func deleteOp(index, id, routing string, cond *esscan.MgetDoc) bulkOp {
	meta := map[string]any{"_index": index, "_id": id}
	if routing != "" {
		meta["routing"] = routing
	}
	if cond != nil {
		meta["if_seq_no"], meta["if_primary_term"] = cond.SeqNo, cond.PrimaryTerm
	}
	mb, _ := json.Marshal(map[string]any{"delete": meta})
	return bulkOp{action: "delete", id: id, lines: append(mb, '\n'), guarded: cond != nil}
}

// bulk sends one _bulk and counts its items into pl. The catch-up's
// operations are idempotent (the live version indexed, a document deleted),
// so a request that fails for a while (429, 502-504, a cut connection) is
// sent again, and so are the items a shedding node rejected with 429, all
// within Options.Retry's time budget; an item that fails otherwise, or
// still fails when the budget is spent, is counted failed and logged.
func (p *Promoter) bulk(ctx context.Context, items []bulkOp, pl *plan) error {
	att := p.opt.Retry.Begin()
	for len(items) > 0 {
		var body []byte
		for _, it := range items {
			body = append(body, it.lines...)
		}
		var out bulkAnswer
		if err := elastic.Get(ctx, p.es, p.opt.Retry, "catch-up _bulk", func() esapi.Request {
			return esapi.BulkRequest{Body: bytes.NewReader(body)}
		}, &out); err != nil {
			return fmt.Errorf("catch-up: %w", err)
		}
		if len(out.Items) != len(items) {
			return fmt.Errorf("catch-up: catch-up _bulk: %d items answered for %d sent", len(out.Items), len(items))
		}
		var again []bulkOp
		rejected := ""
		p.mu.Lock()
		for i, item := range out.Items {
			for op, r := range item {
				switch {
				case op == "delete" && (r.Status < 300 || r.Status == 404 && !items[i].guarded):
					// 404: gone already, as the catch-up wants.
					pl.stats.Removed++
				case items[i].guarded && (r.Status == 409 || r.Status == 404):
					// The application wrote the target since the switch:
					// its write stands.
					pl.stats.KeptApplication++
					pl.stats.sample("kept_application", r.ID)
					p.log.Info("catch-up left the application's write in place", "op", op, "_id", r.ID, "status", r.Status)
				case r.Status < 300:
					pl.stats.Indexed++
				case r.Status == 429:
					again = append(again, items[i])
					rejected = r.reason()
				default:
					pl.stats.Failed++
					p.log.Error("catch-up item failed", "op", op, "_id", r.ID, "status", r.Status, "error", r.reason())
				}
			}
		}
		p.mu.Unlock()
		if len(again) == 0 {
			return nil
		}
		if werr := att.Wait(ctx, retry.Transient(fmt.Errorf("%d items rejected: %s", len(again), rejected))); werr != nil {
			if ctx.Err() != nil {
				return werr
			}
			// Out of budget: the rejected items are failures, named.
			p.mu.Lock()
			for _, it := range again {
				pl.stats.Failed++
				p.log.Error("catch-up item failed", "op", it.action, "_id", it.id, "status", 429, "error", werr.Error())
			}
			p.mu.Unlock()
			return nil
		}
		items = again
	}
	return nil
}

// bulkAnswer is a _bulk answer, item by item.
type bulkAnswer struct {
	Items []map[string]bulkItem `json:"items"`
}

type bulkItem struct {
	ID     string `json:"_id"`
	Status int    `json:"status"`
	Result string `json:"result"`
	Error  *struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	} `json:"error"`
}

func (r bulkItem) reason() string {
	if r.Error == nil {
		return ""
	}
	return r.Error.Type + ": " + r.Error.Reason
}
