package esscan

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/esrestore/esrestore/internal/dump"
	"github.com/esrestore/esrestore/internal/elastic"
	"github.com/esrestore/esrestore/internal/jsonscan"
	"github.com/esrestore/esrestore/internal/retry"
)

// Instant is one moment of an index that several readers share: a point in
// time opened once and held open until Close, so that a scan, lookups by
// id and counts all see the index as it was when the instant was opened,
// whatever it received since. A live index (one the application keeps
// writing to) can only be compared at one moment; reading it at three
// (a point in time, a realtime _mget, a _count at the last refresh) makes
// counts that cannot add up.
//
// An Instant is opened lazily by Open (or the first reader), and kept alive
// between readers by a goroutine that renews its keep-alive. A point in
// time a node restart lost is reopened: the instant then moves (Reopens
// counts it), and what was read before it is of the earlier moment.
type Instant struct {
	es    *elasticsearch.Client
	index string
	opt   InstantOptions

	once    sync.Once
	openErr error

	mu      sync.Mutex
	id      string
	at      time.Time
	reopens int
	closed  bool
	stop    chan struct{}
	done    chan struct{}
	// skip are the ids Since leaves out (see SkipIDs).
	skip map[string]bool
}

// SkipIDs makes Since leave ids out: ids the index holds under several
// routings, which a lookup by id cannot tell apart. Call it before Since.
func (in *Instant) SkipIDs(ids []string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.skip = make(map[string]bool, len(ids))
	for _, id := range ids {
		in.skip[id] = true
	}
}

// InstantOptions tune an Instant.
type InstantOptions struct {
	// KeepAlive is the point in time's keep-alive, renewed every third of
	// it while the instant is open. Default "5m".
	KeepAlive time.Duration
	// Retry bounds the retries of each request. Zero fields are retry's
	// defaults.
	Retry retry.Policy
	// Logger receives the opening, reopening and closing. Default: none.
	Logger *slog.Logger
	// NoReopen makes a lost point in time an error (wrapping
	// elastic.ErrContextExpired) instead of a new instant: for an instant whose
	// moment cannot be had again.
	NoReopen bool
}

// NewInstant returns an Instant of index, not yet open.
func NewInstant(es *elasticsearch.Client, index string, opt InstantOptions) *Instant {
	if opt.KeepAlive <= 0 {
		opt.KeepAlive = 5 * time.Minute
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	return &Instant{es: es, index: index, opt: opt}
}

// AdoptInstant is the instant of index another process opened: its point
// in time id and when it was opened. Nothing is opened; the keep-alive is
// renewed from now on. A point in time that has expired meanwhile is an
// error of the first reader (with opt.NoReopen) or a new instant.
func AdoptInstant(es *elasticsearch.Client, index, id string, at time.Time, opt InstantOptions) *Instant {
	in := NewInstant(es, index, opt)
	in.once.Do(func() {
		in.id, in.at = id, at
		in.stop, in.done = make(chan struct{}), make(chan struct{})
		go in.keep()
	})
	return in
}

// ID is the point in time's current id, "" before Open. It is no secret:
// another process may adopt the instant with it (AdoptInstant).
func (in *Instant) ID() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.id
}

// Index is the index (or alias) the instant is of.
func (in *Instant) Index() string { return in.index }

// At is when the instant's point in time was opened (the latest reopening);
// zero before Open.
func (in *Instant) At() time.Time {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.at
}

// Reopens counts the times the point in time was lost and reopened.
func (in *Instant) Reopens() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.reopens
}

func (in *Instant) keepAlive() string {
	return fmt.Sprintf("%ds", int(in.opt.KeepAlive/time.Second))
}

// Open opens the instant's point in time; only the first call opens, the
// others return its error.
func (in *Instant) Open(ctx context.Context) error {
	in.once.Do(func() {
		id, err := openPIT(ctx, in.es, in.index, Options{KeepAlive: in.keepAlive(), Retry: in.opt.Retry})
		if err != nil {
			in.openErr = err
			return
		}
		in.mu.Lock()
		in.id, in.at = id, time.Now().UTC()
		in.stop, in.done = make(chan struct{}), make(chan struct{})
		in.mu.Unlock()
		in.opt.Logger.Info("instant opened", "index", in.index, "at", in.at.Format(time.RFC3339Nano), "keep_alive", in.keepAlive())
		go in.keep()
	})
	return in.openErr
}

// keep renews the keep-alive every third of it until Close.
func (in *Instant) keep() {
	defer close(in.done)
	t := time.NewTicker(in.opt.KeepAlive / 3)
	defer t.Stop()
	for {
		select {
		case <-in.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), in.opt.KeepAlive/3)
			_, err := in.count(ctx)
			cancel()
			if err != nil {
				in.opt.Logger.Warn("instant keep-alive failed", "index", in.index, "error", err)
			}
		}
	}
}

// Close stops the renewal and closes the point in time.
func (in *Instant) Close() {
	if id := in.Release(); id != "" {
		closePIT(in.es, id)
	}
}

// Release stops renewing the keep-alive and leaves the point in time
// open, to expire on its own: for another process to adopt it
// (AdoptInstant) within its keep-alive. It returns the point in time's
// id, "" when it was never opened or is released already.
func (in *Instant) Release() string {
	in.mu.Lock()
	if in.closed || in.id == "" {
		in.closed = true
		in.mu.Unlock()
		return ""
	}
	in.closed = true
	id, stop, done := in.id, in.stop, in.done
	in.mu.Unlock()
	close(stop)
	<-done
	return id
}

// pit is the current point in time id.
func (in *Instant) pit(ctx context.Context) (string, error) {
	if err := in.Open(ctx); err != nil {
		return "", err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return "", fmt.Errorf("instant of %q: closed", in.index)
	}
	return in.id, nil
}

// update keeps the id an answer gave (the id may change between answers).
func (in *Instant) update(old, id string) {
	if id == "" || id == old {
		return
	}
	in.mu.Lock()
	if in.id == old {
		in.id = id
	}
	in.mu.Unlock()
}

// reopen replaces a lost point in time, once for all the readers that
// found old lost.
func (in *Instant) reopen(ctx context.Context, old string, cause error) (string, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.id != old {
		return in.id, nil
	}
	if in.opt.NoReopen {
		return "", fmt.Errorf("instant of %q opened at %s: %w", in.index, in.at.Format(time.RFC3339), cause)
	}
	id, err := openPIT(ctx, in.es, in.index, Options{KeepAlive: in.keepAlive(), Retry: in.opt.Retry})
	if err != nil {
		return "", fmt.Errorf("instant of %q: reopen after %v: %w", in.index, cause, err)
	}
	in.id, in.at = id, time.Now().UTC()
	in.reopens++
	in.opt.Logger.Warn("instant reopened: the point in time was lost", "index", in.index, "cause", cause.Error(),
		"at", in.at.Format(time.RFC3339Nano), "reopens", in.reopens)
	return id, nil
}

// search sends one search under the instant's point in time; build
// writes the body's members after the "pit" member. A lost point in time
// is reopened within the retry budget.
func (in *Instant) search(ctx context.Context, build func(b []byte) []byte, out *page) error {
	att := in.opt.Retry.Begin()
	for {
		pit, err := in.pit(ctx)
		if err != nil {
			return err
		}
		body := make([]byte, 0, 256)
		body = append(body, `{"pit":{"id":`...)
		body = jsonscan.AppendString(body, pit)
		body = append(body, `,"keep_alive":`...)
		body = jsonscan.AppendString(body, in.keepAlive())
		body = append(body, '}')
		body = build(body)
		body = append(body, '}')
		*out = page{Total: -1}
		err = elastic.Do(ctx, in.es, in.opt.Retry, func() esapi.Request {
			return esapi.SearchRequest{Body: bytes.NewReader(body)}
		}, out)
		if errors.Is(err, elastic.ErrContextExpired) {
			if !in.opt.NoReopen {
				if werr := att.Wait(ctx, err); werr != nil {
					return werr
				}
			}
			if _, err := in.reopen(ctx, pit, err); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		if out.Shards.Failed > 0 {
			ferr := fmt.Errorf("%w: %d of %d shards failed: %s", ErrShardFailure, out.Shards.Failed, out.Shards.Total,
				firstFailure(out.Shards.Failures))
			if werr := att.Wait(ctx, retry.Transient(ferr)); werr != nil {
				return werr
			}
			continue
		}
		in.update(pit, out.PitID)
		return nil
	}
}

// Count is the number of documents the index held at the instant.
func (in *Instant) Count(ctx context.Context) (int64, error) {
	n, err := in.count(ctx)
	if err != nil {
		return 0, fmt.Errorf("count %q at its instant: %w", in.index, err)
	}
	return n, nil
}

func (in *Instant) count(ctx context.Context) (int64, error) {
	var p page
	if err := in.search(ctx, func(b []byte) []byte {
		return append(b, `,"size":0,"track_total_hits":true`...)
	}, &p); err != nil {
		return 0, err
	}
	if p.Total < 0 {
		return 0, errors.New("the answer has no hits.total")
	}
	return p.Total, nil
}

// Lookup finds ids in the index as it was at the instant, on every shard
// whatever their routing, and returns one entry per id in order (Found
// false for an id it did not hold), with _seq_no and _primary_term, and
// sources when source is set. An id found twice (indexed under two
// routings) is an error.
func (in *Instant) Lookup(ctx context.Context, ids []string, source bool) ([]MgetDoc, error) {
	out := make([]MgetDoc, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var p page
	err := in.search(ctx, func(b []byte) []byte {
		b = append(b, `,"query":{"ids":{"values":[`...)
		for i, id := range ids {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonscan.AppendString(b, id)
		}
		// One more than asked: an id on two shards must show.
		b = fmt.Appendf(b, `]}},"size":%d,"track_total_hits":false,"seq_no_primary_term":true`, len(ids)+1)
		if !source {
			b = append(b, `,"_source":false`...)
		}
		return b
	}, &p)
	if err != nil {
		return nil, fmt.Errorf("look up %d documents in %q at its instant: %w", len(ids), in.index, err)
	}
	at := make(map[string]int, len(ids))
	for i, id := range ids {
		if _, dup := at[id]; !dup {
			at[id] = i
		}
	}
	for _, h := range p.Hits {
		i, ok := at[h.ID]
		if !ok {
			return nil, fmt.Errorf("look up documents in %q: the answer has %q, which was not asked for", in.index, h.ID)
		}
		if out[i].Found {
			return nil, fmt.Errorf("%w: document %q is in %q twice, under routings %q and %q",
				ErrDuplicateID, h.ID, in.index, out[i].Routing, h.Routing)
		}
		if source && len(h.Source) == 0 {
			return nil, fmt.Errorf("document %q in %q: %w", h.ID, in.index, ErrNoSource)
		}
		out[i] = MgetDoc{ID: h.ID, Routing: h.Routing, Found: true, Source: h.Source, SeqNo: h.SeqNo, PrimaryTerm: h.Term}
	}
	for i, id := range ids {
		if !out[i].Found {
			out[i].ID = id
		}
	}
	return out, nil
}

// Live is what an index received after an instant: its documents now
// (at Until) compared with those of the instant.
type Live struct {
	// At is the instant; Until when the index was read again.
	At    time.Time `json:"at"`
	Until time.Time `json:"until"`
	// New are documents the instant lacks; Changed those with another
	// _seq_no or _primary_term now; Deleted those the instant held and
	// the index no longer does.
	New     int64 `json:"new"`
	Changed int64 `json:"changed"`
	Deleted int64 `json:"deleted"`
}

// Total is the documents the writes touched.
func (l Live) Total() int64 { return l.New + l.Changed + l.Deleted }

// Since compares the index now with the instant: it reads the ids and
// sequence numbers of every document under a second point in time and
// looks them up at the instant.
func (in *Instant) Since(ctx context.Context, slices, pageSize int) (Live, error) {
	before, err := in.Count(ctx)
	if err != nil {
		return Live{}, err
	}
	// The second point in time sees the last refresh: refreshed first,
	// it holds every write the original took until now (as the
	// promote's final round refreshes it), not only those a scheduled
	// refresh reached.
	var refreshed struct{}
	if err := elastic.Do(ctx, in.es, in.opt.Retry, elastic.Fixed(esapi.IndicesRefreshRequest{Index: []string{in.index}}), &refreshed); err != nil {
		return Live{}, err
	}
	now := NewInstant(in.es, in.index, InstantOptions{KeepAlive: in.opt.KeepAlive, Retry: in.opt.Retry})
	defer now.Close()
	if err := now.Open(ctx); err != nil {
		return Live{}, err
	}
	l := Live{At: in.At(), Until: now.At()}
	in.mu.Lock()
	skip := in.skip
	in.mu.Unlock()
	var mu sync.Mutex
	var read, skipped int64
	err = Scan(ctx, in.es, in.index, Options{Instant: now, Slices: slices, PageSize: pageSize, NoSource: true, SeqNo: true, Retry: in.opt.Retry},
		func(ctx context.Context, _ int, docs []dump.Doc) error {
			if len(skip) > 0 {
				kept := docs[:0:0]
				for _, d := range docs {
					if !skip[d.ID] {
						kept = append(kept, d)
					}
				}
				mu.Lock()
				skipped += int64(len(docs) - len(kept))
				mu.Unlock()
				docs = kept
			}
			ids := make([]string, len(docs))
			for i, d := range docs {
				ids[i] = d.ID
			}
			then, err := in.Lookup(ctx, ids, false)
			if err != nil {
				return err
			}
			var nw, ch int64
			for i, d := range docs {
				switch t := then[i]; {
				case !t.Found:
					nw++
				case t.SeqNo != d.SeqNo || t.PrimaryTerm != d.PrimaryTerm:
					ch++
				}
			}
			mu.Lock()
			l.New += nw
			l.Changed += ch
			read += int64(len(docs))
			mu.Unlock()
			return nil
		})
	if err != nil {
		return Live{}, fmt.Errorf("compare %q with its instant: %w", in.index, err)
	}
	// The copies of skipped ids are taken as unchanged since the instant.
	l.Deleted = before - skipped - (read - l.New)
	if l.Deleted < 0 {
		return Live{}, fmt.Errorf("compare %q with its instant: %d documents then, %d now of which %d new: the counts do not add up",
			in.index, before, read, l.New)
	}
	return l, nil
}
