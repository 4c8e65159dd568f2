// Package esscan reads every document of an Elasticsearch index through a
// point in time, paging with search_after on _shard_doc, optionally split
// into slices read concurrently.
//
// A scan never ends short without an error. Transient failures (429,
// 502-504, refused or cut connections, a page reporting failed shards) are
// retried under a retry.Policy, and are an error only when they outlast its
// budget; an expired point in time is reopened and the slice goes on from
// its last sort values; an answer it cannot read stops it.
package esscan

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"
	"golang.org/x/sync/errgroup"

	"github.com/esrestore/esrestore/internal/dump"
	"github.com/esrestore/esrestore/internal/jsonscan"
	"github.com/esrestore/esrestore/internal/retry"
)

var (
	// ErrShardFailure means a page reported _shards.failed > 0: its hits
	// are incomplete, so the scan cannot go on.
	ErrShardFailure = errors.New("shard failure")
	// ErrContextExpired means the point in time expired or was closed.
	ErrContextExpired = errors.New("point in time expired")
	// ErrIndexNotFound means the index or alias does not exist.
	ErrIndexNotFound = errors.New("index not found")
)

// Options tune a scan. The zero value gets the defaults noted on each field.
type Options struct {
	// Slices is the number of slices read concurrently. Default 1.
	Slices int
	// PageSize is the number of hits a page asks for. Default 1000.
	PageSize int
	// KeepAlive is how long the point in time lives between pages.
	// Default "5m".
	KeepAlive string
	// NoSource asks for ids and routing only.
	NoSource bool
	// SeqNo asks for each hit's _seq_no and _primary_term
	// (seq_no_primary_term), set in dump.Doc.
	SeqNo bool
	// Retry bounds, by time, the retries of a request that fails with 429,
	// 502-504, a transport error or failed shards. Zero fields are
	// retry's defaults.
	Retry retry.Policy
	// OnReopen is called, from the slice's goroutine, each time a slice
	// reopens an expired point in time and goes on from its last sort
	// values (a rescan). Nil: not reported.
	OnReopen func(slice int)
	// OnTotal, when set, is called once per slice, from its goroutine, with
	// the number of documents the slice holds in the point in time (its
	// first page asks for the exact total). The totals of all slices add
	// up to the index as the scan saw it, which _count cannot tell once
	// the index takes writes; after a reopen they describe the first
	// point in time only.
	OnTotal func(slice int, total int64)
	// Instant, when set, is the point in time the scan reads under,
	// opened if it is not yet, and left open: the scan sees the index at
	// that instant, as do the instant's other readers. A lost point in
	// time is reopened for all of them (OnReopen is called). Its
	// keep-alive replaces KeepAlive.
	Instant *Instant
	// Query, when set, is the query the scan reads with: only the
	// documents it matches are passed on. Nil: every document.
	Query json.RawMessage
}

func (o *Options) defaults() {
	if o.Slices <= 0 {
		o.Slices = 1
	}
	if o.PageSize <= 0 {
		o.PageSize = 1000
	}
	if o.KeepAlive == "" {
		o.KeepAlive = "5m"
	}
}

// PageFunc receives one page of documents of a slice. Pages of one slice
// come in order; pages of different slices come concurrently.
type PageFunc func(ctx context.Context, slice int, page []dump.Doc) error

// Scan reads every document of index and passes the pages to fn. It
// returns fn's first error, or an error wrapping ErrIndexNotFound, or
// ErrShardFailure or ErrContextExpired (with retry.ErrBudget) when they
// outlast the retry budget.
func Scan(ctx context.Context, es *elasticsearch.Client, index string, opt Options, fn PageFunc) error {
	opt.defaults()
	pits := &pitSet{}
	defer pits.close(es)
	var pit string
	var err error
	if in := opt.Instant; in != nil {
		opt.KeepAlive = in.keepAlive()
		pit, err = in.pit(ctx)
	} else {
		pit, err = openPIT(ctx, es, index, opt)
		pits.add(pit)
	}
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	for s := range opt.Slices {
		g.Go(func() error { return scanSlice(gctx, es, index, pit, s, opt, pits, fn) })
	}
	return g.Wait()
}

// pitSet holds the points in time a scan opened, to close them all.
type pitSet struct {
	mu  sync.Mutex
	ids []string
}

func (p *pitSet) add(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ids = append(p.ids, id)
}

func (p *pitSet) close(es *elasticsearch.Client) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, id := range p.ids {
		closePIT(es, id)
	}
}

func openPIT(ctx context.Context, es *elasticsearch.Client, index string, opt Options) (string, error) {
	var out struct {
		ID string `json:"id"`
	}
	err := do(ctx, opt.Retry, func() (*esapi.Response, error) {
		return esapi.OpenPointInTimeRequest{Index: []string{index}, KeepAlive: opt.KeepAlive}.Do(ctx, es)
	}, &out)
	if err != nil {
		return "", fmt.Errorf("open point in time on %q: %w", index, err)
	}
	if out.ID == "" {
		return "", fmt.Errorf("open point in time on %q: empty id in answer", index)
	}
	return out.ID, nil
}

func closePIT(es *elasticsearch.Client, pit string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	body, _ := json.Marshal(map[string]string{"id": pit})
	res, err := esapi.ClosePointInTimeRequest{Body: bytes.NewReader(body)}.Do(ctx, es)
	if err == nil {
		io.Copy(io.Discard, res.Body) //nolint:errcheck // best effort
		res.Body.Close()
	}
}

// page is one search answer, read by decode.
type page struct {
	PitID string
	// Total is hits.total.value, -1 when the answer has none.
	Total  int64
	Shards struct {
		Total    int
		Failed   int
		Failures []json.RawMessage
	}
	Hits []hit
}

type hit struct {
	Index, ID, Routing string
	Source             json.RawMessage // points into the answer's bytes
	Sort               []json.RawMessage
	SeqNo, Term        int64
}

// decode reads a search answer in one validating pass; sources stay in
// place.
func (p *page) decode(b []byte) error {
	str := func(vi int, dst *string) (int, error) {
		end, err := jsonscan.Skip(b, vi)
		*dst, _ = jsonscan.String(b[vi:end])
		return end, err
	}
	num := func(vi int, dst *int) (int, error) {
		end, err := jsonscan.Skip(b, vi)
		n, _ := jsonscan.Int(b[vi:end])
		*dst = int(n)
		return end, err
	}
	list := func(vi int, dst *[]json.RawMessage) (int, error) {
		return jsonscan.Array(b, vi, func(ei int) (int, error) {
			end, err := jsonscan.Skip(b, ei)
			*dst = append(*dst, b[ei:end])
			return end, err
		})
	}
	hit := func(vi int) (int, error) {
		var h hit
		end, err := jsonscan.Object(b, vi, func(k []byte, vi int) (int, error) {
			switch string(k) {
			case "_index":
				return str(vi, &h.Index)
			case "_id":
				return str(vi, &h.ID)
			case "_routing":
				return str(vi, &h.Routing)
			case "_source":
				end, err := jsonscan.Skip(b, vi)
				h.Source = b[vi:end]
				return end, err
			case "sort":
				return list(vi, &h.Sort)
			case "_seq_no":
				return intAt(b, vi, &h.SeqNo, "_seq_no")
			case "_primary_term":
				return intAt(b, vi, &h.Term, "_primary_term")
			}
			return jsonscan.Skip(b, vi)
		})
		p.Hits = append(p.Hits, h)
		return end, err
	}
	end, err := jsonscan.Object(b, 0, func(k []byte, vi int) (int, error) {
		switch string(k) {
		case "pit_id":
			return str(vi, &p.PitID)
		case "_shards":
			return jsonscan.Object(b, vi, func(k []byte, vi int) (int, error) {
				switch string(k) {
				case "total":
					return num(vi, &p.Shards.Total)
				case "failed":
					return num(vi, &p.Shards.Failed)
				case "failures":
					return list(vi, &p.Shards.Failures)
				}
				return jsonscan.Skip(b, vi)
			})
		case "hits":
			return jsonscan.Object(b, vi, func(k []byte, vi int) (int, error) {
				switch string(k) {
				case "hits":
					return jsonscan.Array(b, vi, hit)
				case "total":
					return jsonscan.Object(b, vi, func(k []byte, vi int) (int, error) {
						end, err := jsonscan.Skip(b, vi)
						if string(k) == "value" {
							p.Total, _ = jsonscan.Int(b[vi:end])
						}
						return end, err
					})
				}
				return jsonscan.Skip(b, vi)
			})
		}
		return jsonscan.Skip(b, vi)
	})
	if err == nil && jsonscan.Space(b, end) != len(b) {
		err = errors.New("data after the answer")
	}
	return err
}

// decoder is an answer that reads itself.
type decoder interface{ decode([]byte) error }

// scanSlice reads one slice. One retry.Attempt covers a page: transient
// errors and failed shards wait on it, a page read resets it. An expired
// point in time is reopened, for this slice, and the slice goes on from
// the last sort values it passed on: _shard_doc values stay valid as long
// as the index's segments were not merged meanwhile, and everything that
// reads a scan (the restore's index and create, the diff's lookups) is
// idempotent if a document comes twice.
func scanSlice(ctx context.Context, es *elasticsearch.Client, index, pit string, slice int, opt Options, pits *pitSet, fn PageFunc) error {
	var after []json.RawMessage
	att := opt.Retry.Begin()
	counted := opt.OnTotal == nil
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		q := map[string]any{
			"size":             opt.PageSize,
			"pit":              map[string]any{"id": pit, "keep_alive": opt.KeepAlive},
			"sort":             []any{map[string]any{"_shard_doc": "asc"}},
			"track_total_hits": false,
		}
		if opt.NoSource {
			q["_source"] = false
		}
		if opt.SeqNo {
			q["seq_no_primary_term"] = true
		}
		if opt.Query != nil {
			q["query"] = opt.Query
		}
		if !counted {
			q["track_total_hits"] = true
		}
		if opt.Slices > 1 {
			q["slice"] = map[string]any{"id": slice, "max": opt.Slices}
		}
		if after != nil {
			q["search_after"] = after
		}
		body, err := json.Marshal(q)
		if err != nil {
			return err
		}
		p := page{Total: -1}
		err = do(ctx, opt.Retry, func() (*esapi.Response, error) {
			return esapi.SearchRequest{Body: bytes.NewReader(body)}.Do(ctx, es)
		}, &p)
		if errors.Is(err, ErrContextExpired) {
			if werr := att.Wait(ctx, err); werr != nil {
				return fmt.Errorf("scan %q slice %d: %w", index, slice, werr)
			}
			var npit string
			var oerr error
			if opt.Instant != nil {
				npit, oerr = opt.Instant.reopen(ctx, pit, err)
			} else if npit, oerr = openPIT(ctx, es, index, opt); oerr == nil {
				pits.add(npit)
			}
			if oerr != nil {
				return fmt.Errorf("scan %q slice %d: reopen after %v: %w", index, slice, err, oerr)
			}
			pit = npit
			if opt.OnReopen != nil {
				opt.OnReopen(slice)
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("scan %q slice %d: %w", index, slice, err)
		}
		if p.Shards.Failed > 0 {
			// The page lacks the failed shards' hits: read it again.
			ferr := fmt.Errorf("%w: %d of %d shards failed: %s", ErrShardFailure, p.Shards.Failed, p.Shards.Total,
				firstFailure(p.Shards.Failures))
			if werr := att.Wait(ctx, ferr); werr != nil {
				return fmt.Errorf("scan %q slice %d: %w", index, slice, werr)
			}
			continue
		}
		att.Reset()
		if p.PitID != "" {
			if opt.Instant != nil {
				opt.Instant.update(pit, p.PitID)
			}
			pit = p.PitID
		}
		if !counted {
			if p.Total < 0 {
				return fmt.Errorf("scan %q slice %d: the first page has no hits.total", index, slice)
			}
			counted = true
			opt.OnTotal(slice, p.Total)
		}
		if len(p.Hits) == 0 {
			return nil
		}
		docs := make([]dump.Doc, len(p.Hits))
		for i, h := range p.Hits {
			docs[i] = dump.Doc{Index: h.Index, ID: h.ID, Routing: h.Routing, Source: h.Source, SeqNo: h.SeqNo, PrimaryTerm: h.Term}
		}
		last := p.Hits[len(p.Hits)-1]
		if len(last.Sort) == 0 {
			return fmt.Errorf("scan %q slice %d: hit %q has no sort values", index, slice, last.ID)
		}
		after = last.Sort
		if err := fn(ctx, slice, docs); err != nil {
			return err
		}
	}
}

func firstFailure(f []json.RawMessage) string {
	if len(f) == 0 {
		return "no failure detail"
	}
	var r struct {
		Shard  int    `json:"shard"`
		Index  string `json:"index"`
		Reason struct {
			Type   string `json:"type"`
			Reason string `json:"reason"`
		} `json:"reason"`
	}
	if json.Unmarshal(f[0], &r) != nil {
		return string(f[0])
	}
	return fmt.Sprintf("[%s][%d] %s: %s", r.Index, r.Shard, r.Reason.Type, r.Reason.Reason)
}

// Count returns the number of documents _count reports for index,
// retrying under the default retry.Policy.
func Count(ctx context.Context, es *elasticsearch.Client, index string) (int64, error) {
	return CountRetry(ctx, es, index, retry.Policy{})
}

// CountRetry is Count under the retry policy pol.
//
// A count some shards did not answer is short, not small: while a snapshot
// restore or a restart recovers an index, a real node answers 200 with
// _shards.failed > 0 and the count of the shards that did answer. Such an
// answer is retried like a 503, until pol's budget runs out.
func CountRetry(ctx context.Context, es *elasticsearch.Client, index string, pol retry.Policy) (int64, error) {
	var out countAnswer
	err := do(ctx, pol, func() (*esapi.Response, error) {
		return esapi.CountRequest{Index: []string{index}}.Do(ctx, es)
	}, &out)
	if err != nil {
		return 0, fmt.Errorf("count %q: %w", index, err)
	}
	return out.Count, nil
}

// CountQuery is CountRetry of the documents of index that query matches.
// A query Elasticsearch refuses (400) is an *Error, not retried.
func CountQuery(ctx context.Context, es *elasticsearch.Client, index string, query json.RawMessage, pol retry.Policy) (int64, error) {
	body, err := json.Marshal(map[string]json.RawMessage{"query": query})
	if err != nil {
		return 0, fmt.Errorf("count %q with a query: %w", index, err)
	}
	var out countAnswer
	err = do(ctx, pol, func() (*esapi.Response, error) {
		return esapi.CountRequest{Index: []string{index}, Body: bytes.NewReader(body)}.Do(ctx, es)
	}, &out)
	if err != nil {
		return 0, fmt.Errorf("count %q with a query: %w", index, err)
	}
	return out.Count, nil
}

// countAnswer is a _count answer; one some shards did not answer is
// transient.
type countAnswer struct {
	Count  int64 `json:"count"`
	Shards struct {
		Total      int `json:"total"`
		Successful int `json:"successful"`
		Failed     int `json:"failed"`
	} `json:"_shards"`
}

func (c *countAnswer) decode(b []byte) error {
	*c = countAnswer{}
	if err := json.Unmarshal(b, c); err != nil {
		return err
	}
	if sh := c.Shards; sh.Failed > 0 || sh.Successful < sh.Total {
		return retry.Transient(fmt.Errorf("%d of %d shards answered (%d failed): the count would be short", sh.Successful, sh.Total, sh.Failed))
	}
	return nil
}

// Error is an error answer from Elasticsearch.
type Error struct {
	Status int
	Type   string
	Reason string
	Root   string // root cause type, when it differs
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%d %s: %s", e.Status, e.Type, e.Reason)
	if e.Root != "" && e.Root != e.Type {
		s += " (" + e.Root + ")"
	}
	return s
}

// ParseError reads Elasticsearch's error envelope from an answer body.
func ParseError(status int, body []byte) *Error {
	var env struct {
		Error json.RawMessage `json:"error"`
	}
	e := &Error{Status: status}
	if json.Unmarshal(body, &env) != nil || len(env.Error) == 0 {
		e.Type, e.Reason = http.StatusText(status), strings.TrimSpace(string(truncate(body, 300)))
		return e
	}
	var obj struct {
		Type      string `json:"type"`
		Reason    string `json:"reason"`
		RootCause []struct {
			Type   string `json:"type"`
			Reason string `json:"reason"`
		} `json:"root_cause"`
	}
	if json.Unmarshal(env.Error, &obj) != nil {
		json.Unmarshal(env.Error, &e.Reason) //nolint:errcheck // a plain string error
		e.Type = http.StatusText(status)
		return e
	}
	e.Type, e.Reason = obj.Type, obj.Reason
	if len(obj.RootCause) > 0 {
		e.Root = obj.RootCause[0].Type
		if e.Reason == "all shards failed" || e.Reason == "" {
			e.Reason = obj.RootCause[0].Reason
		}
	}
	return e
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// Retryable reports whether an answer with this status may succeed when
// sent again: 408, 429, 502, 503 and 504.
func Retryable(status int) bool { return retry.Status(status) }

// TransientError reports whether an error answer may go away when the
// request is sent again: a retryable status, or an error type that says so
// whatever the status (a full thread pool, a tripped circuit breaker, a
// cluster block that lifts when a master is elected or a node recovers).
func TransientError(e *Error) bool {
	if e == nil {
		return false
	}
	if Retryable(e.Status) {
		return true
	}
	switch e.Type {
	case "es_rejected_execution_exception", "circuit_breaking_exception", "node_not_connected_exception",
		"no_shard_available_action_exception", "unavailable_shards_exception", "node_closed_exception",
		"connect_transport_exception", "receive_timeout_transport_exception":
		return true
	case "cluster_block_exception":
		// SERVICE_UNAVAILABLE blocks (no master, state not recovered) lift;
		// a FORBIDDEN one (read_only, read_only_allow_delete) needs an operator.
		return e.Status >= 500 || strings.Contains(e.Reason, "SERVICE_UNAVAILABLE")
	}
	return false
}

// Send performs one request under pol and returns the status and body of
// an answer that is not transient: any 2xx, and the errors a retry would
// not change, for the caller to judge. Transport errors, answers cut
// short and transient error answers are retried until pol's budget runs
// out; the error then wraps retry.ErrBudget and the last failure.
func Send(ctx context.Context, pol retry.Policy, send func() (*esapi.Response, error)) (int, []byte, error) {
	var status int
	var body []byte
	err := retry.Do(ctx, pol, func(ctx context.Context) error {
		var err error
		status, body, err = Try(ctx, send)
		return err
	})
	return status, body, err
}

// Try performs one request and reads its answer, as Send does, without
// retrying: the error of a transport failure, of an answer cut short or of
// a transient error answer is marked retry.Transient; any other answer is
// returned for the caller to judge. It is for requests that must not be
// repeated blindly (creating an index, restoring a snapshot): the caller
// checks what the first one did before sending another.
func Try(ctx context.Context, send func() (*esapi.Response, error)) (int, []byte, error) {
	res, err := send()
	if err != nil {
		if ctx.Err() != nil {
			return 0, nil, ctx.Err()
		}
		if retry.Transport(err) {
			return 0, nil, retry.Transient(err)
		}
		return 0, nil, err
	}
	b, rerr := readBody(res)
	if rerr != nil {
		if ctx.Err() != nil {
			return 0, nil, ctx.Err()
		}
		return 0, nil, retry.Transient(fmt.Errorf("read answer: %w", rerr))
	}
	if res.StatusCode >= 300 {
		if e := ParseError(res.StatusCode, b); TransientError(e) {
			return res.StatusCode, b, retry.Transient(e)
		}
	}
	return res.StatusCode, b, nil
}

// do sends a read request under pol and decodes a 2xx answer into out,
// in one retry loop: a decoder may find a 2xx answer transient (a count
// some shards did not answer), and it is then sent again like a 503.
func do(ctx context.Context, pol retry.Policy, send func() (*esapi.Response, error), out any) error {
	return retry.Do(ctx, pol, func(ctx context.Context) error {
		status, body, err := Try(ctx, send)
		if err != nil {
			return err
		}
		if status >= 300 {
			e := ParseError(status, body)
			switch {
			case status == 404 && (e.Root == "search_context_missing_exception" || e.Type == "search_context_missing_exception"):
				return fmt.Errorf("%w: %v", ErrContextExpired, e)
			case status == 404 && e.Type == "index_not_found_exception":
				return fmt.Errorf("%w: %v", ErrIndexNotFound, e)
			}
			return e
		}
		if d, ok := out.(decoder); ok {
			err = d.decode(body)
		} else {
			err = json.Unmarshal(body, out)
		}
		if err != nil {
			return fmt.Errorf("decode answer: %w", err)
		}
		return nil
	})
}

// readBody reads an answer whole, sized by its Content-Length when known
// so that a page is not copied as its buffer grows.
func readBody(res *esapi.Response) ([]byte, error) {
	defer res.Body.Close()
	var buf bytes.Buffer
	if n := res.Header.Get("Content-Length"); n != "" {
		if size, err := strconv.Atoi(n); err == nil && size > 0 && size < 1<<30 {
			buf.Grow(size + bytes.MinRead)
		}
	}
	_, err := buf.ReadFrom(res.Body)
	return buf.Bytes(), err
}
