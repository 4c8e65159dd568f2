// Package esscan reads every document of an Elasticsearch index through a
// point in time, paging with search_after on _shard_doc, optionally split
// into slices read concurrently.
//
// A scan never ends short without an error: a page that reports failed
// shards, an expired point in time, or an answer it cannot read stops it.
package esscan

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"
	"golang.org/x/sync/errgroup"

	"github.com/esrestore/esrestore/internal/dump"
	"github.com/esrestore/esrestore/internal/jsonscan"
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
	// MaxAttempts bounds the tries of a page that fails with 429, 5xx or a
	// transport error. Default 5.
	MaxAttempts int
	// Backoff is the first retry delay, doubled each try, with jitter.
	// Default 200ms.
	Backoff time.Duration
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
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 5
	}
	if o.Backoff <= 0 {
		o.Backoff = 200 * time.Millisecond
	}
}

// PageFunc receives one page of documents of a slice. Pages of one slice
// come in order; pages of different slices come concurrently.
type PageFunc func(ctx context.Context, slice int, page []dump.Doc) error

// Scan reads every document of index and passes the pages to fn. It
// returns fn's first error, or an error wrapping ErrShardFailure,
// ErrContextExpired or ErrIndexNotFound.
func Scan(ctx context.Context, es *elasticsearch.Client, index string, opt Options, fn PageFunc) error {
	opt.defaults()
	pit, err := openPIT(ctx, es, index, opt)
	if err != nil {
		return err
	}
	defer closePIT(es, pit)
	g, gctx := errgroup.WithContext(ctx)
	for s := range opt.Slices {
		g.Go(func() error { return scanSlice(gctx, es, index, pit, s, opt, fn) })
	}
	return g.Wait()
}

func openPIT(ctx context.Context, es *elasticsearch.Client, index string, opt Options) (string, error) {
	var out struct {
		ID string `json:"id"`
	}
	err := retry(ctx, opt, func() (*esapi.Response, error) {
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
	PitID  string
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
				if string(k) == "hits" {
					return jsonscan.Array(b, vi, hit)
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

func scanSlice(ctx context.Context, es *elasticsearch.Client, index, pit string, slice int, opt Options, fn PageFunc) error {
	var after []json.RawMessage
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
		var p page
		err = retry(ctx, opt, func() (*esapi.Response, error) {
			return esapi.SearchRequest{Body: bytes.NewReader(body)}.Do(ctx, es)
		}, &p)
		if err != nil {
			return fmt.Errorf("scan %q slice %d: %w", index, slice, err)
		}
		if p.Shards.Failed > 0 {
			return fmt.Errorf("scan %q slice %d: %w: %d of %d shards failed: %s", index, slice, ErrShardFailure,
				p.Shards.Failed, p.Shards.Total, firstFailure(p.Shards.Failures))
		}
		if p.PitID != "" {
			pit = p.PitID
		}
		if len(p.Hits) == 0 {
			return nil
		}
		docs := make([]dump.Doc, len(p.Hits))
		for i, h := range p.Hits {
			docs[i] = dump.Doc{Index: h.Index, ID: h.ID, Routing: h.Routing, Source: h.Source}
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

// Count returns the number of documents _count reports for index.
func Count(ctx context.Context, es *elasticsearch.Client, index string) (int64, error) {
	var out struct {
		Count int64 `json:"count"`
	}
	opt := Options{}
	opt.defaults()
	err := retry(ctx, opt, func() (*esapi.Response, error) {
		return esapi.CountRequest{Index: []string{index}}.Do(ctx, es)
	}, &out)
	if err != nil {
		return 0, fmt.Errorf("count %q: %w", index, err)
	}
	return out.Count, nil
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
// sent again.
func Retryable(status int) bool {
	return status == 429 || status == 502 || status == 503 || status == 504
}

// retry sends a read request until it succeeds, fails for good, or the
// attempts run out, and decodes a 2xx answer into out.
func retry(ctx context.Context, opt Options, send func() (*esapi.Response, error), out any) error {
	delay := opt.Backoff
	var last error
	for attempt := 1; ; attempt++ {
		res, err := send()
		if err == nil {
			body, rerr := readBody(res)
			switch {
			case rerr != nil:
				err = fmt.Errorf("read answer: %w", rerr)
			case res.StatusCode < 300:
				var err error
				if d, ok := out.(decoder); ok {
					err = d.decode(body)
				} else {
					err = json.Unmarshal(body, out)
				}
				if err != nil {
					return fmt.Errorf("decode answer: %w", err)
				}
				return nil
			default:
				e := ParseError(res.StatusCode, body)
				switch {
				case res.StatusCode == 404 && (e.Root == "search_context_missing_exception" || e.Type == "search_context_missing_exception"):
					return fmt.Errorf("%w: %v", ErrContextExpired, e)
				case res.StatusCode == 404 && e.Type == "index_not_found_exception":
					return fmt.Errorf("%w: %v", ErrIndexNotFound, e)
				case !Retryable(res.StatusCode):
					return e
				}
				last = e
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			last = err
		}
		if attempt >= opt.MaxAttempts {
			return fmt.Errorf("after %d attempts: %w", attempt, last)
		}
		wait := delay/2 + rand.N(delay/2+1)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		delay *= 2
	}
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
