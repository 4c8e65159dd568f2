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
	"sync"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"
	"golang.org/x/sync/errgroup"

	"github.com/esrestore/esrestore/internal/dump"
	"github.com/esrestore/esrestore/internal/elastic"
	"github.com/esrestore/esrestore/internal/jsonscan"
	"github.com/esrestore/esrestore/internal/retry"
)

var (
	// ErrShardFailure means a page reported _shards.failed > 0: its hits
	// are incomplete, so the scan cannot go on.
	ErrShardFailure = errors.New("shard failure")
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
// returns fn's first error, or an error wrapping elastic.ErrIndexNotFound, or
// ErrShardFailure or elastic.ErrContextExpired (with retry.ErrBudget) when they
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
	err := elastic.Do(ctx, es, opt.Retry, elastic.Fixed(esapi.OpenPointInTimeRequest{Index: []string{index}, KeepAlive: opt.KeepAlive}), &out)
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
	elastic.Try(ctx, es, esapi.ClosePointInTimeRequest{Body: bytes.NewReader(body)}) //nolint:errcheck // best effort
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

// Decode reads a search answer in one validating pass; sources stay in
// place.
func (p *page) Decode(b []byte) error {
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
		err = elastic.Do(ctx, es, opt.Retry, func() esapi.Request {
			return esapi.SearchRequest{Body: bytes.NewReader(body)}
		}, &p)
		if errors.Is(err, elastic.ErrContextExpired) {
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
