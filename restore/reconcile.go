package restore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/elastic/go-elasticsearch/v8/esapi"
	"golang.org/x/sync/errgroup"

	"github.com/esrestore/esrestore/internal/dump"
	"github.com/esrestore/esrestore/internal/esscan"
	"github.com/esrestore/esrestore/internal/jsonmerge"
	"github.com/esrestore/esrestore/internal/jsonscan"
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
	src := &indexSource{es: r.es, index: p.original.Name, slices: r.opt.Slices, pol: r.opt.Retry, rescanned: r.rescanned}
	r.log.Info("loading", "from", ps.name, "how", "reconcile: only what differs written", "op_type", ps.op, "target", r.opt.Target)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.opt.Workers)
	b := &batcher{r: r, p: ps, g: g, ctx: gctx}
	scanErr := src.Scan(gctx, func(ctx context.Context, docs []dump.Doc, _ []*dump.LineError) error {
		if err := gctx.Err(); err != nil {
			return err
		}
		write, err := r.reconcilePage(ctx, docs)
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

// reconcilePage fetches the target's copies of a page of the original and
// returns the documents to write, each with the source to write. The
// others are counted read and kept: the target already holds what Prefer
// chooses.
func (r *Restorer) reconcilePage(ctx context.Context, docs []dump.Doc) ([]dump.Doc, error) {
	have, err := r.mgetTarget(ctx, docs)
	if err != nil {
		return nil, err
	}
	write := docs[:0:0]
	for i := range docs {
		d := docs[i]
		src, ok := r.desired(d, have[i])
		if !ok {
			r.st.read.Add(1)
			r.st.bytes.Add(int64(len(d.Source)))
			r.st.kept.Add(1)
			continue
		}
		d.Source = src
		write = append(write, d)
	}
	return write, nil
}

// targetCopy is the target's copy of a document; nil when it has none.
type targetCopy struct {
	routing string
	source  json.RawMessage
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

// mgetTarget fetches the target's copies of docs, in order (nil: missing).
func (r *Restorer) mgetTarget(ctx context.Context, docs []dump.Doc) ([]*targetCopy, error) {
	out := make([]*targetCopy, len(docs))
	if len(docs) == 0 {
		return out, nil
	}
	body := esscan.MgetBody(len(docs), func(i int) (string, string) { return docs[i].ID, docs[i].Routing })
	realtime := true
	what := fmt.Sprintf("_mget %d documents from target %q", len(docs), r.opt.Target)
	a, err := sendOK(ctx, r.es, r.opt.Retry, what, func() esapi.Request {
		// No filter_path: what it would drop is a few small members a
		// document, and filtering an answer of a thousand sources costs the
		// server a walk over all of them.
		return esapi.MgetRequest{Index: r.opt.Target, Body: bytes.NewReader(body), Realtime: &realtime}
	})
	if err != nil {
		return nil, err
	}
	// Walked with jsonscan, each _source left a slice of the answer: a
	// page is a thousand sources, and encoding/json would check and copy
	// each one again.
	i := 0
	_, err = jsonscan.Members(a.body, 0, func(key, value []byte) error {
		if string(key) != "docs" {
			return nil
		}
		_, err := jsonscan.ElementsTrusted(value, 0, func(entry []byte) error {
			if i >= len(docs) {
				return fmt.Errorf("more answers than the %d documents asked for", len(docs))
			}
			var id string
			var found bool
			var c targetCopy
			var docErr []byte
			_, err := jsonscan.MembersTrusted(entry, 0, func(k, v []byte) error {
				switch string(k) {
				case "_id":
					id, _ = jsonscan.String(v)
				case "_routing":
					c.routing, _ = jsonscan.String(v)
				case "found":
					found = string(v) == "true"
				case "_source":
					c.source = v
				case "error":
					docErr = v
				}
				return nil
			})
			if err != nil {
				return err
			}
			switch {
			case id != docs[i].ID:
				return fmt.Errorf("answer %d is %q, asked for %q", i, id, docs[i].ID)
			case len(docErr) > 0:
				// A shard that cannot answer must not read as a missing
				// copy: the document would be written over what the target
				// holds.
				return fmt.Errorf("%q: %s", id, docErr)
			case found && len(c.source) == 0:
				return fmt.Errorf("%q: found without _source", id)
			case found:
				out[i] = &c
			}
			i++
			return nil
		})
		return err
	})
	if err == nil && i != len(docs) {
		err = fmt.Errorf("answer has %d documents", i)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}
