package restore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"syscall"

	"github.com/elastic/go-elasticsearch/v8/esapi"
	"golang.org/x/sync/errgroup"

	"github.com/esrestore/esrestore/internal/dump"
	"github.com/esrestore/esrestore/internal/elastic"
	"github.com/esrestore/esrestore/internal/jsonscan"
	"github.com/esrestore/esrestore/internal/retry"
)

// Failure is one line of Options.Failures: a document (or a dump line) that
// could not be restored, with what Elasticsearch said about it.
type Failure struct {
	// ID is the document's _id; empty for a dump line without one.
	ID string `json:"_id,omitempty"`
	// Index is the _index the document came from (the dump line's, the
	// original, the source or staging index).
	Index   string `json:"_index,omitempty"`
	Routing string `json:"_routing,omitempty"`
	// Source names the side it was read from: Source.Name(), or
	// "original:NAME" for the original in merge mode.
	Source string `json:"source"`
	// Line is the 1-based line in a dump, 0 for index documents.
	Line int `json:"line,omitempty"`
	// OpType is the bulk action tried: "index" or "create".
	OpType string `json:"op_type,omitempty"`
	// Status is the HTTP status of the item (or of the whole request when
	// it failed as one), 0 when the document was never sent.
	Status int `json:"status,omitempty"`
	// Attempts is how many times the document was sent.
	Attempts int `json:"attempts,omitempty"`
	// Error is Elasticsearch's error object ({"type","reason",...}), or
	// one of ours with a type naming the problem: bad_dump_line,
	// id_too_long, missing_source, invalid_source.
	Error json.RawMessage `json:"error"`
	// Document is the _source that was sent, or that a duplicate line
	// held; absent for other bad dump lines.
	Document json.RawMessage `json:"document,omitempty"`
	// Raw is a bad dump line as read, base64-encoded (it may not be valid
	// UTF-8 or JSON, and the failures file must stay both).
	Raw []byte `json:"raw,omitempty"`
}

// maxIDBytes is Elasticsearch's limit on _id; a longer one fails the
// whole _bulk request, so it is failed here instead.
const maxIDBytes = 512

// bulkFilter trims item answers to what is read.
// The error envelope of a request refused as a whole ("error", "status")
// is kept too: without it a 503 reads "503 Service Unavailable: {}".
var bulkFilter = []string{"errors", "items.*.status", "items.*.result", "items.*.error", "error", "status"}

// pass is one read of one side into the target.
type pass struct {
	src  Source
	name string // Source.Name(), or original:NAME
	op   string // "index" or "create"
	// scoped: the pass reads the source, whose documents Options.Scope
	// may leave out.
	scoped bool
	// first is set on the first pass into a target this run made empty:
	// nothing else wrote it before, so a document its writes replace
	// (not "created", not after a transport failure) repeats an _id of
	// this pass's own source.
	first bool
}

// item is one document of a batch: its place in the batch body and what
// a failure report needs.
type item struct {
	id, index, routing string
	line               int
	start              int // action line
	src, end           int // _source, without the newline
}

// batch is one _bulk request: an NDJSON body and its items.
type batch struct {
	body  []byte
	items []item
}

// bodyOf returns the NDJSON body of some items of the batch, in order.
func (b *batch) bodyOf(items []item) []byte {
	if len(items) == len(b.items) {
		return b.body
	}
	out := make([]byte, 0, bodyBytes(items))
	for _, it := range items {
		out = append(out, b.body[it.start:it.end+1]...)
	}
	return out
}

// batcher turns pages from a source into batches bounded by bytes and
// documents, and starts a worker on each full one. Sliced sources call add
// concurrently, hence the lock; Go blocking under it is the backpressure.
type batcher struct {
	r    *Restorer
	p    *pass
	g    *errgroup.Group
	ctx  context.Context
	mu   sync.Mutex
	cur  *batch
	hint int // capacity for a new body: a little more than the last one
}

func (b *batcher) add(docs []dump.Doc) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	r := b.r
	for i := range docs {
		d := &docs[i]
		r.st.read.Add(1)
		r.st.bytes.Add(int64(len(d.Source)))
		if err := b.bad(d); err != nil {
			if err == errSkip {
				continue
			}
			return err
		}
		if b.p.scoped && !r.scope.in(d.ID) {
			r.st.skipped.Add(1)
			continue
		}
		size := len(d.ID) + len(d.Routing) + len(d.Source) + 48
		if b.cur != nil && (len(b.cur.items) >= r.opt.BatchDocs || len(b.cur.body)+size > r.opt.BatchBytes) {
			if err := b.dispatch(); err != nil {
				return err
			}
		}
		if b.cur == nil {
			b.cur = &batch{body: make([]byte, 0, max(b.hint, size)), items: make([]item, 0, min(r.opt.BatchDocs, 1024))}
		}
		if err := b.append(d); err != nil {
			return err
		}
	}
	return nil
}

// errSkip marks a document failed before it is batched.
var errSkip = errors.New("skip")

// bad fails, without sending it, a document Elasticsearch would refuse as
// a whole request or that cannot be written as one bulk line.
func (b *batcher) bad(d *dump.Doc) error {
	var typ, reason string
	switch {
	case len(d.ID) > maxIDBytes:
		typ, reason = "id_too_long", fmt.Sprintf("_id is %d bytes, Elasticsearch accepts at most %d", len(d.ID), maxIDBytes)
	case d.ID == "":
		typ, reason = "missing_id", "document has no _id"
	case len(bytes.TrimSpace(d.Source)) == 0:
		typ, reason = "missing_source", "document has no _source"
	case b.r.dupes[d.ID] != nil:
		typ, reason = "duplicate_id_routings", b.r.dupes[d.ID].String()+": no copy can stand for the document, none is restored"
	default:
		return nil
	}
	return b.r.fail(b.p, Failure{ID: d.ID, Index: d.Index, Routing: d.Routing, Line: d.Line,
		Error: errorJSON(typ, reason), Document: d.Source}, errSkip)
}

func (b *batcher) append(d *dump.Doc) error {
	c := b.cur
	it := item{id: d.ID, index: d.Index, routing: d.Routing, line: d.Line, start: len(c.body)}
	body := append(c.body, `{"`...)
	body = append(body, b.p.op...)
	body = append(body, `":{"_id":`...)
	body = jsonscan.AppendString(body, d.ID)
	if d.Routing != "" {
		body = append(body, `,"routing":`...)
		body = jsonscan.AppendString(body, d.Routing)
	}
	body = append(body, "}}\n"...)
	it.src = len(body)
	if bytes.IndexByte(d.Source, '\n') >= 0 || bytes.IndexByte(d.Source, '\r') >= 0 {
		// A pretty-printed _source (as stored by whoever indexed it) would
		// break the NDJSON framing.
		buf := bytes.NewBuffer(body)
		if err := json.Compact(buf, d.Source); err != nil {
			c.body = body[:it.start]
			return b.r.fail(b.p, Failure{ID: d.ID, Index: d.Index, Routing: d.Routing, Line: d.Line,
				Error: errorJSON("invalid_source", err.Error()), Document: nil}, nil)
		}
		body = buf.Bytes()
	} else {
		body = append(body, d.Source...)
	}
	it.end = len(body)
	c.body = append(body, '\n')
	c.items = append(c.items, it)
	if len(c.items) >= b.r.opt.BatchDocs {
		return b.dispatch()
	}
	return nil
}

// dispatch hands the current batch to a worker; it blocks while Workers
// requests are in flight.
func (b *batcher) dispatch() error {
	c := b.cur
	b.cur = nil
	if c == nil || len(c.items) == 0 {
		return nil
	}
	// Sized on the last batch, not the largest ever seen: a ratchet would
	// make every body as large as the rarest one.
	b.hint = min(len(c.body)+len(c.body)/8, b.r.opt.BatchBytes)
	if err := b.ctx.Err(); err != nil {
		return err // a worker failed or the run was cancelled: stop reading
	}
	b.g.Go(func() error { return b.r.sendBatch(b.ctx, b.p, c) })
	return nil
}

// flush dispatches the last, partial batch.
func (b *batcher) flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.dispatch()
}

// unit is a part of a batch sent together: the whole batch, the items left
// to retry, or a half of a batch refused as a whole.
type unit struct {
	items []item
	// sends is how many times these items were sent.
	sends int
	// ambiguous: a request of these items failed in transport, so it may
	// have been applied; a later "updated" or 409 may then be our own
	// write.
	ambiguous bool
	// items is the budget of item-level retries (items rejected with 429
	// in an answer that was read), started at the first rejection; nil
	// until then.
	itemAtt *retry.Attempt
	// cuts counts the requests of these items in a row whose connection
	// was cut (see cutConnection).
	cuts int
}

// halves splits u in two, each half a new body (no cut seen on it yet).
func (u unit) halves() (unit, unit) {
	h := len(u.items) / 2
	return unit{items: u.items[:h], sends: u.sends, ambiguous: u.ambiguous, itemAtt: u.itemAtt},
		unit{items: u.items[h:], sends: u.sends, ambiguous: u.ambiguous, itemAtt: u.itemAtt}
}

// bodyBytes is the size of the body of some items.
func bodyBytes(items []item) int {
	n := 0
	for _, it := range items {
		n += it.end + 1 - it.start
	}
	return n
}

// cutsToSplit is how many cuts in a row split a body: a body cut again
// and again may be over a proxy's or load balancer's limit on its size,
// which no resend passes. Its halves are sent instead; in an outage that
// only makes the requests smaller.
const cutsToSplit = 2

// cutFailBytes is the smallest request of one document that fails, rather
// than being resent, once cut cutsToSplit times in a row: nothing smaller
// can carry it. A smaller one is resent until the retry budget ends, as
// in an outage.
const cutFailBytes = 1 << 20

// cutConnection reports a transport error in which the connection broke
// while the request or its answer was under way (an EOF, a reset, a
// broken pipe), as opposed to one refused, or timed out.
func cutConnection(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// bulkAnswer is the part of a _bulk answer that is read.
type bulkAnswer struct {
	Errors bool `json:"errors"`
	Items  []struct {
		Index  *bulkItem `json:"index"`
		Create *bulkItem `json:"create"`
	} `json:"items"`
}

type bulkItem struct {
	Status int             `json:"status"`
	Result string          `json:"result"`
	Error  json.RawMessage `json:"error"`
}

// errorType reads the type of an error object.
func errorType(raw json.RawMessage) string {
	var e struct {
		Type string `json:"type"`
	}
	json.Unmarshal(raw, &e) //nolint:errcheck // empty type then
	return e.Type
}

// retryableItem reports whether an item may succeed when sent again.
func retryableItem(it *bulkItem) bool {
	return elastic.Retryable(it.Status) || errorType(it.Error) == "es_rejected_execution_exception" ||
		errorType(it.Error) == "circuit_breaking_exception"
}

// sendBatch sends a batch until every item has its fate, retrying what
// may succeed later. Two budgets of Options.Retry apply: the batch's
// request-level failures (transport errors, 429/5xx as a whole, answers
// cut short) spend one, reset by every answer read; items rejected in an
// answer spend their own, which a request-level outage does not use up.
// It returns an error only when the run must stop: the context is done, a
// request kept failing as a whole past the budget, or the failures cannot
// be written. Items without a fate then stay pending.
func (r *Restorer) sendBatch(ctx context.Context, p *pass, b *batch) error {
	reqAtt := r.opt.Retry.Begin()
	stack := []unit{{items: b.items}}
	for len(stack) > 0 {
		u := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if err := ctx.Err(); err != nil {
			return err
		}
		u.sends++
		done, err := r.opt.Throttle.begin(ctx, len(u.items))
		if err != nil {
			return err
		}
		status, body, err := r.bulk(ctx, b.bodyOf(u.items))
		done(status, body, err)
		if err != nil && ctx.Err() != nil {
			return ctx.Err() // interrupted: the items stay pending
		}
		ok := err == nil && status >= 200 && status < 300
		if ok && r.allWritten(p, body, u) {
			reqAtt.Reset()
			continue
		}
		var ans bulkAnswer
		if ok {
			if derr := json.Unmarshal(body, &ans); derr != nil {
				err = fmt.Errorf("decode answer: %w", derr)
			} else if len(ans.Items) != len(u.items) {
				err = fmt.Errorf("answer has %d items for %d documents", len(ans.Items), len(u.items))
			}
		}
		var esErr *elastic.Error
		if err == nil && !ok {
			esErr = elastic.ParseError(status, body)
		}
		switch {
		case err != nil || elastic.TransientError(esErr):
			// Nothing is known of the items: send them all again.
			cause := err
			if cause == nil {
				cause = esErr
			}
			if err != nil && cutConnection(err) {
				u.cuts++
			} else {
				u.cuts = 0
			}
			r.log.Debug("bulk request failed, retrying", "documents", len(u.items), "sends", u.sends, "error", cause)
			// Only a 429 says for sure the request was not applied; after a
			// transport error or a 5xx (maybe from a proxy) it may have been.
			u.ambiguous = u.ambiguous || status != 429
			size := bodyBytes(u.items)
			if u.cuts >= cutsToSplit && size >= cutFailBytes && len(u.items) == 1 {
				// One document whose every send is cut: no smaller request
				// holds it. It fails; the run goes on.
				reqAtt.Reset()
				r.log.Warn("bulk request cut again: the document cannot be sent, it fails", "id", u.items[0].id,
					"bytes", size, "cuts", u.cuts, "error", cause)
				if err := r.failItem(p, b, u.items[0], 0, errorJSON("connection_cut",
					fmt.Sprintf("the connection was cut %d times in a row while sending this document (%d bytes in its request): %v", u.cuts, size, cause)), u.sends); err != nil {
					return err
				}
				continue
			}
			r.st.retried.Add(int64(len(u.items)))
			if werr := reqAtt.Wait(ctx, cause); werr != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return fmt.Errorf("bulk into %q: %d documents from %s: %w: %w", r.opt.Target, len(u.items), p.name, ErrBulk, werr)
			}
			if u.cuts >= cutsToSplit && len(u.items) > 1 {
				// The same body cut again: sent unchanged it may be cut
				// forever. Its halves go instead.
				a, c := u.halves()
				r.log.Warn("bulk request cut again, splitting it", "documents", len(u.items), "bytes", size, "cuts", u.cuts,
					"new_documents", []int{len(a.items), len(c.items)}, "new_bytes", []int{bodyBytes(a.items), bodyBytes(c.items)},
					"error", cause)
				stack = append(stack, c, a)
				continue
			}
			stack = append(stack, u)
			continue
		case status == 400 || status == 413:
			r.answered(reqAtt, &u)
			u.cuts = 0
			// The request was refused as a whole (too large, or a line it
			// cannot take): halve it until the one document is found.
			if len(u.items) > 1 {
				a, c := u.halves()
				if status == 413 {
					r.log.Warn("bulk request larger than the cluster accepts (413), splitting it", "documents", len(u.items),
						"bytes", bodyBytes(u.items), "new_documents", []int{len(a.items), len(c.items)},
						"new_bytes", []int{bodyBytes(a.items), bodyBytes(c.items)})
				}
				stack = append(stack, c, a)
				continue
			}
			if status == 413 {
				r.log.Warn("document larger than the cluster accepts (413): it fails", "id", u.items[0].id, "bytes", bodyBytes(u.items))
			}
			if err := r.failItem(p, b, u.items[0], status, requestError(status, body), u.sends); err != nil {
				return err
			}
			continue
		case status == 401:
			return fmt.Errorf("bulk into %q: %w: %v", r.opt.Target, ErrUnauthorized, esErr)
		case status == 403:
			return fmt.Errorf("bulk into %q: %w: %v", r.opt.Target, ErrForbidden, esErr)
		case !ok:
			return fmt.Errorf("bulk into %q: %w: %v", r.opt.Target, ErrBulk, esErr)
		}
		r.answered(reqAtt, &u)
		var retryItems []item
		var retryCause json.RawMessage
		retryStatus := 0
		for i := range ans.Items {
			res := ans.Items[i].Index
			if res == nil {
				res = ans.Items[i].Create
			}
			it := u.items[i]
			switch {
			case res == nil || res.Status == 0:
				return fmt.Errorf("bulk into %q: %w: answer item %d (%q) has no status", r.opt.Target, ErrBulk, i, it.id)
			case res.Status < 300:
				r.st.indexed.Add(1)
				switch {
				case res.Result == "created":
					r.st.created.Add(1)
				case u.ambiguous:
					r.st.ambiguous.Add(1)
				case p.first:
					r.st.repeated.Add(1)
				}
			case res.Status == 404 && errorType(res.Error) == "index_not_found_exception":
				return fmt.Errorf("bulk into %q: %w: its writer alias %q is gone (%s); nothing was written or created for it",
					r.opt.Target, ErrTargetGone, WriterAlias(r.opt.Target), res.Error)
			case res.Status == 409 && p.op == "create":
				r.st.kept.Add(1)
				if u.ambiguous {
					r.st.ambiguous.Add(1)
				}
			case retryableItem(res):
				retryItems = append(retryItems, it)
				retryCause, retryStatus = res.Error, res.Status
			default:
				if err := r.failItem(p, b, it, res.Status, res.Error, u.sends); err != nil {
					return err
				}
			}
		}
		if len(retryItems) == 0 {
			continue
		}
		if u.itemAtt == nil {
			u.itemAtt = r.opt.Retry.Begin()
		}
		cause := fmt.Errorf("%d items rejected: %d %s", len(retryItems), retryStatus, retryCause)
		if werr := u.itemAtt.Wait(ctx, cause); werr != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			// Rejected for the whole budget: these documents fail, the
			// run goes on.
			for _, it := range retryItems {
				if err := r.failItem(p, b, it, retryStatus, retryCause, u.sends); err != nil {
					return err
				}
			}
			continue
		}
		r.st.retried.Add(int64(len(retryItems)))
		r.log.Debug("bulk items rejected, retrying", "documents", len(retryItems), "sends", u.sends)
		stack = append(stack, unit{items: retryItems, sends: u.sends, ambiguous: u.ambiguous, itemAtt: u.itemAtt})
	}
	return nil
}

// answered records that an answer was read for u: the request-level
// outage, if any, ends, and its time is not counted against u's item
// retries.
func (r *Restorer) answered(reqAtt *retry.Attempt, u *unit) {
	if u.itemAtt != nil {
		u.itemAtt.Extend(reqAtt.Elapsed())
	}
	reqAtt.Reset()
}

// Keys counted in an answer without errors.
var (
	noErrors   = []byte(`{"errors":false,`)
	statusKey  = []byte(`"status":`)
	createdKey = []byte(`"result":"created"`)
)

// allWritten counts the items of an answer that reports no errors without
// decoding it: every item then has a 2xx status and no error object, and
// a quote inside a string is escaped, so the keys counted cannot appear
// but as keys. It returns false, counting nothing, when the answer is not
// such an answer (errors, pretty-printed, another shape): it is decoded
// then.
func (r *Restorer) allWritten(p *pass, body []byte, u unit) bool {
	if !bytes.HasPrefix(body, noErrors) || bytes.Count(body, statusKey) != len(u.items) {
		return false
	}
	n, created := int64(len(u.items)), int64(bytes.Count(body, createdKey))
	r.st.indexed.Add(n)
	r.st.created.Add(created)
	switch {
	case u.ambiguous:
		r.st.ambiguous.Add(n - created)
	case p.first:
		r.st.repeated.Add(n - created)
	}
	return true
}

// bulk sends one _bulk request, in one attempt (elastic.Try): sendBatch
// judges the answer and sends again what may go. It runs on the drain
// context, bounded by Timeout: a cancelled run lets the requests in flight
// finish, for at most Options.Drain.
func (r *Restorer) bulk(ctx context.Context, body []byte) (int, []byte, error) {
	base := r.drain
	if base == nil {
		base = ctx
	}
	rctx, cancel := context.WithTimeout(base, r.opt.Timeout)
	defer cancel()
	// Through the writer alias with require_alias: a target deleted
	// under the run fails the write instead of being created again by it
	// (one shard, dynamic mapping, no _meta).
	requireAlias := true
	return elastic.Try(rctx, r.es, esapi.BulkRequest{Index: WriterAlias(r.opt.Target), RequireAlias: &requireAlias, Body: bytes.NewReader(body),
		FilterPath: bulkFilter})
}

// requestError is the error object of a request refused as a whole.
func requestError(status int, body []byte) json.RawMessage {
	var env struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &env) == nil && len(env.Error) > 0 && env.Error[0] == '{' {
		return env.Error
	}
	return errorJSON(http.StatusText(status), string(bytes.TrimSpace(body)))
}

// errorJSON builds an error object like Elasticsearch's.
func errorJSON(typ, reason string) json.RawMessage {
	b, _ := json.Marshal(map[string]string{"type": typ, "reason": reason})
	return b
}

// failItem reports a batch item that failed for good.
func (r *Restorer) failItem(p *pass, b *batch, it item, status int, errObj json.RawMessage, attempts int) error {
	return r.fail(p, Failure{
		ID: it.id, Index: it.index, Routing: it.routing, Line: it.line, OpType: p.op,
		Status: status, Attempts: attempts, Error: errObj, Document: b.body[it.src:it.end],
	}, nil)
}

// badLine reports a dump line that is not a document, or that repeats the
// _id of an earlier line.
func (r *Restorer) badLine(p *pass, le *dump.LineError) error {
	r.st.read.Add(1)
	if errors.Is(le.Err, dump.ErrDuplicateID) {
		r.st.duplicates.Add(1)
		d := le.Doc
		return r.fail(p, Failure{ID: d.ID, Index: d.Index, Routing: d.Routing, Line: le.Line,
			Error: errorJSON("duplicate_id", le.Error()), Document: d.Source}, nil)
	}
	typ := "bad_dump_line"
	if errors.Is(le.Err, dump.ErrInvalidUTF8) {
		typ = "invalid_utf8"
	}
	return r.fail(p, Failure{ID: le.ID, Line: le.Line, Error: errorJSON(typ, le.Error()), Raw: le.Raw}, nil)
}

// fail counts a failed document and writes its Failure; it returns ret,
// or the error of a failures writer that cannot take it (then the run
// stops: a failure must not go unrecorded).
func (r *Restorer) fail(p *pass, f Failure, ret error) error {
	r.st.failed.Add(1)
	f.Source = p.name
	line, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("encode failure of %q: %w", f.ID, err)
	}
	level := r.failLevel
	r.log.Log(context.Background(), level, "document failed", "source", f.Source, "id", f.ID, "line", f.Line,
		"status", f.Status, "error", json.RawMessage(f.Error))
	if r.opt.Failures == nil {
		return ret
	}
	line = append(line, '\n')
	r.failMu.Lock()
	defer r.failMu.Unlock()
	if _, err := r.opt.Failures.Write(line); err != nil {
		return fmt.Errorf("write failure of %q: %w", f.ID, err)
	}
	return ret
}
