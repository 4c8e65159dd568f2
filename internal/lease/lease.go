// Package lease makes one process at a time the runner of a run id: a
// lease held in Elasticsearch, as one document of a small index.
//
// Acquire creates the document (op_type create): the first process wins.
// The holder's keeper renews it every Options.Renew with if_seq_no and
// if_primary_term, moving its expires_at Options.TTL ahead; a renewal
// that finds the document changed means another process took the lease,
// and one that cannot be written before the lease would expire means the
// holder can no longer prove it holds it. Either way the lease is lost:
// Done is closed and Err says why, so that the holder stops writing.
//
// A process that finds the lease held watches the document until its
// expires_at. A document that changes meanwhile (renewed, released, taken
// by a third process) has a live runner: Acquire returns a *HeldError
// naming the holder and when its lease expires. A document unchanged past
// its expires_at is a dead holder's: it is taken over, with if_seq_no and
// if_primary_term so that of two processes waiting on it only one wins.
//
// Expiry is judged by each process's own clock: clocks may differ by less
// than the margin between the holder giving up (Options.TTL - Options.Renew
// after its last renewal) and the lease expiring (Options.TTL after it).
package lease

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/esrestore/esrestore/internal/elastic"
	"github.com/esrestore/esrestore/internal/fielderr"
	"github.com/esrestore/esrestore/internal/retry"
)

// DefaultIndex is the index of the leases. It does not start with a dot:
// Elasticsearch 8 warns on every request naming a dot-prefixed index that
// is not a system index. It is created hidden, so that wildcards and
// dashboards do not show it.
const DefaultIndex = "esrestore-leases"

// Defaults of Options.
const (
	DefaultTTL = 60 * time.Second
)

// Errors of the package; check them with errors.Is.
var (
	// ErrHeld means another process holds the lease (see HeldError).
	ErrHeld = errors.New("another process holds the lease")
	// ErrLost means the holder lost its lease: another process took it,
	// or it could not be renewed before it would expire.
	ErrLost = errors.New("lease lost")
	// ErrInvalidOptions is a bad field of Options.
	ErrInvalidOptions = errors.New("invalid lease options")
)

// Options configure a lease.
type Options struct {
	// ID is the lease's document id: the run id. Required.
	ID string
	// Index holds the lease documents. Default DefaultIndex.
	Index string
	// Holder names this process in the lease: default the host name (a
	// Kubernetes pod's name) and the process id, "host/pid". A random
	// token is added to tell two holders of the same name apart.
	Holder string
	// TTL is how long a lease lasts without renewal. Default 60s, at least
	// 1s.
	TTL time.Duration
	// Renew is how often the holder renews it. Default TTL/4; less than
	// TTL/2, so that a failed renewal has time to be retried before the
	// holder gives up.
	Renew time.Duration
	// Retry bounds the retries of the requests of Acquire and Release
	// (transient failures). The keeper retries within the lease's TTL
	// instead.
	Retry retry.Policy
	// Logger receives the lease's events. Default: discard.
	Logger *slog.Logger
}

func (o *Options) fill() error {
	if o.Index == "" {
		o.Index = DefaultIndex
	}
	if o.TTL == 0 {
		o.TTL = DefaultTTL
	}
	if o.Renew == 0 {
		o.Renew = o.TTL / 4
	}
	if o.Holder == "" {
		host, _ := os.Hostname()
		if host == "" {
			host = "unknown-host"
		}
		o.Holder = fmt.Sprintf("%s/%d", host, os.Getpid())
	}
	o.Retry = o.Retry.WithDefaults()
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	var errs []error
	bad := func(field, reason, got string) {
		errs = append(errs, fmt.Errorf("%w: %w", ErrInvalidOptions, fielderr.New(nil, field, reason, got)))
	}
	if o.ID == "" {
		bad("id", "required", "")
	}
	if o.TTL < time.Second {
		bad("ttl", "must be at least 1s", o.TTL.String())
	}
	if o.Renew <= 0 || o.Renew*2 >= o.TTL {
		bad("renew", "must be more than 0 and less than half the TTL "+o.TTL.String(), o.Renew.String())
	}
	return errors.Join(errs...)
}

// Record is the lease document.
type Record struct {
	RunID string `json:"run_id"`
	// Holder is "host/pid" (Options.Holder).
	Holder string `json:"holder"`
	// Token is random to each Acquire: two processes with the same holder
	// name (a pod restarted in place) hold different leases.
	Token      string    `json:"token"`
	AcquiredAt time.Time `json:"acquired_at"`
	RenewedAt  time.Time `json:"renewed_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	// TTL is the holder's Options.TTL, as a duration string.
	TTL string `json:"ttl"`
}

// HeldError is the error of Acquire when another process holds the
// lease; it wraps ErrHeld.
type HeldError struct {
	Index, ID string
	Record    Record
	// Why says how the holder showed it is alive: "renewed", "released",
	// "taken over".
	Why string
}

func (e *HeldError) Error() string {
	since, expires := e.Record.AcquiredAt.UTC().Format(time.RFC3339), e.Record.ExpiresAt.UTC().Format(time.RFC3339)
	if e.Why == "released" {
		return fmt.Sprintf("run %q was held by %s (token %s, since %s; lease released while this process waited, it would have expired %s): %v",
			e.ID, e.Record.Holder, e.Record.Token, since, expires, ErrHeld)
	}
	return fmt.Sprintf("run %q is held by %s (token %s, since %s; lease %s, expires %s unless renewed): %v",
		e.ID, e.Record.Holder, e.Record.Token, since, e.Why, expires, ErrHeld)
}

func (e *HeldError) Unwrap() error { return ErrHeld }

// Lease is a held lease. Its keeper renews it until Release; Done is
// closed when it is lost.
type Lease struct {
	es  *elasticsearch.Client
	opt Options

	mu     sync.Mutex
	rec    Record
	seqNo  int
	term   int
	err    error
	done   chan struct{}
	stop   chan struct{}
	exited chan struct{}
	once   sync.Once
}

// doc is a lease document as GET returns it.
type doc struct {
	Found  bool   `json:"found"`
	SeqNo  int    `json:"_seq_no"`
	Term   int    `json:"_primary_term"`
	Source Record `json:"_source"`
}

// Acquire takes the lease of opt.ID, waiting at most until the current
// holder's expires_at when another process holds it (see the package
// doc). On success the keeper runs until Release.
func Acquire(ctx context.Context, es *elasticsearch.Client, opt Options) (*Lease, error) {
	if err := opt.fill(); err != nil {
		return nil, err
	}
	l := &Lease{es: es, opt: opt, done: make(chan struct{}), stop: make(chan struct{}), exited: make(chan struct{})}
	if err := l.acquire(ctx); err != nil {
		return nil, err
	}
	go l.keep()
	return l, nil
}

func newToken() string {
	var b [8]byte
	rand.Read(b[:]) //nolint:errcheck // never fails
	return hex.EncodeToString(b[:])
}

func (l *Lease) record(now time.Time, acquired time.Time, token string) Record {
	return Record{RunID: l.opt.ID, Holder: l.opt.Holder, Token: token, AcquiredAt: acquired.UTC(),
		RenewedAt: now.UTC(), ExpiresAt: now.Add(l.opt.TTL).UTC(), TTL: l.opt.TTL.String()}
}

func (l *Lease) acquire(ctx context.Context) error {
	log := l.opt.Logger
	token := newToken()
	if err := l.ensureIndex(ctx); err != nil {
		return err
	}
	var watched *doc
	var firstSeen time.Time
	lastLog := time.Time{}
	for {
		now := time.Now()
		rec := l.record(now, now, token)
		cur, err := l.get(ctx)
		if err != nil {
			return err
		}
		if cur.Found && cur.Source.Token == token {
			// A create or take-over of ours whose answer was lost, then
			// sent again and refused: it was applied.
			l.mu.Lock()
			l.rec, l.seqNo, l.term = cur.Source, cur.SeqNo, cur.Term
			l.mu.Unlock()
			log.Info("lease acquired", "lease", l.opt.Index+"/"+l.opt.ID, "holder", cur.Source.Holder, "token", token,
				"expires_at", cur.Source.ExpiresAt, "ttl", l.opt.TTL)
			return nil
		}
		if watched != nil && (!cur.Found || cur.SeqNo != watched.SeqNo || cur.Term != watched.Term) {
			why := "renewed"
			switch {
			case !cur.Found:
				why = "released"
				cur = watched
			case cur.Source.Token != watched.Source.Token:
				why = "taken over by " + cur.Source.Holder
			}
			return &HeldError{Index: l.opt.Index, ID: l.opt.ID, Record: cur.Source, Why: why}
		}
		switch {
		case !cur.Found:
			st, body, err := l.send(ctx, "create", func() esapi.Request {
				return esapi.CreateRequest{Index: l.opt.Index, DocumentID: l.opt.ID, Body: l.body(rec)}
			})
			if err != nil {
				return err
			}
			if st == 409 {
				continue // another process created it first: watch it
			}
			if err := l.took(st, body, rec); err != nil {
				return err
			}
			log.Info("lease acquired", "lease", l.opt.Index+"/"+l.opt.ID, "holder", rec.Holder, "token", rec.Token,
				"expires_at", rec.ExpiresAt, "ttl", l.opt.TTL)
			return nil
		case now.After(cur.Source.ExpiresAt):
			seq, term := cur.SeqNo, cur.Term
			st, body, err := l.send(ctx, "take over", func() esapi.Request {
				return esapi.IndexRequest{Index: l.opt.Index, DocumentID: l.opt.ID, Body: l.body(rec), IfSeqNo: &seq, IfPrimaryTerm: &term}
			})
			if err != nil {
				return err
			}
			if st == 409 {
				continue // another process took it first
			}
			if err := l.took(st, body, rec); err != nil {
				return err
			}
			log.Warn("lease taken over: its holder did not renew it", "lease", l.opt.Index+"/"+l.opt.ID,
				"previous_holder", cur.Source.Holder, "previous_token", cur.Source.Token, "expired_at", cur.Source.ExpiresAt,
				"holder", rec.Holder, "token", rec.Token, "expires_at", rec.ExpiresAt)
			return nil
		}
		if watched == nil {
			watched, firstSeen = cur, now
		}
		if now.Sub(lastLog) >= 10*time.Second {
			lastLog = now
			log.Warn("lease held by another process: waiting for it to renew it or let it expire",
				"lease", l.opt.Index+"/"+l.opt.ID, "holder", cur.Source.Holder, "token", cur.Source.Token,
				"expires_at", cur.Source.ExpiresAt, "waited", now.Sub(firstSeen).Round(time.Second))
		}
		// Poll often enough to see a renewal well before the expiry, and
		// wake right after the expiry.
		wait := min(l.opt.Renew/4, time.Until(cur.Source.ExpiresAt)+10*time.Millisecond)
		wait = max(wait, 10*time.Millisecond)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// took records a lease just written.
func (l *Lease) took(status int, body []byte, rec Record) error {
	if status >= 300 {
		return fmt.Errorf("lease %s/%s: %v", l.opt.Index, l.opt.ID, elastic.ParseError(status, body))
	}
	var ans struct {
		SeqNo int `json:"_seq_no"`
		Term  int `json:"_primary_term"`
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		return fmt.Errorf("lease %s/%s: decode answer: %w", l.opt.Index, l.opt.ID, err)
	}
	l.mu.Lock()
	l.rec, l.seqNo, l.term = rec, ans.SeqNo, ans.Term
	l.mu.Unlock()
	return nil
}

func (l *Lease) body(rec Record) *bytes.Reader {
	b, _ := json.Marshal(rec)
	return bytes.NewReader(b)
}

// send performs the write mk builds under the retry policy and returns a
// 2xx or 409 answer; any other answer is an error.
func (l *Lease) send(ctx context.Context, what string, mk func() esapi.Request) (int, []byte, error) {
	st, body, err := elastic.Send(ctx, l.es, l.opt.Retry, mk)
	if err != nil {
		return 0, nil, fmt.Errorf("lease %s/%s: %s: %w", l.opt.Index, l.opt.ID, what, err)
	}
	if st >= 300 && st != 409 {
		return st, body, fmt.Errorf("lease %s/%s: %s: %v", l.opt.Index, l.opt.ID, what, elastic.ParseError(st, body))
	}
	return st, body, nil
}

// get reads the lease document.
func (l *Lease) get(ctx context.Context) (*doc, error) {
	st, body, err := elastic.Send(ctx, l.es, l.opt.Retry, elastic.Fixed(esapi.GetRequest{Index: l.opt.Index, DocumentID: l.opt.ID}))
	if err != nil {
		return nil, fmt.Errorf("lease %s/%s: read: %w", l.opt.Index, l.opt.ID, err)
	}
	var d doc
	if st == 404 {
		if e := elastic.ParseError(st, body); e.Type == "index_not_found_exception" {
			return nil, fmt.Errorf("lease %s/%s: read: %v", l.opt.Index, l.opt.ID, e)
		}
		return &d, nil
	}
	if st >= 300 {
		return nil, fmt.Errorf("lease %s/%s: read: %v", l.opt.Index, l.opt.ID, elastic.ParseError(st, body))
	}
	if err := json.Unmarshal(body, &d); err != nil {
		return nil, fmt.Errorf("lease %s/%s: decode: %w", l.opt.Index, l.opt.ID, err)
	}
	return &d, nil
}

// ensureIndex creates the lease index when it is missing: hidden, one
// shard, a replica where the cluster has a node for it. A create is not
// left to the first write, which a cluster may forbid
// (action.auto_create_index) and which would give it the defaults.
func (l *Lease) ensureIndex(ctx context.Context) error {
	st, body, err := elastic.Send(ctx, l.es, l.opt.Retry, elastic.Fixed(esapi.IndicesExistsRequest{Index: []string{l.opt.Index}}))
	if err != nil {
		return fmt.Errorf("lease index %q: %w", l.opt.Index, err)
	}
	if st == 200 {
		return nil
	}
	if st != 404 {
		return fmt.Errorf("lease index %q: %v", l.opt.Index, elastic.ParseError(st, body))
	}
	settings := []byte(`{"settings":{"index.hidden":true,"index.number_of_shards":1,"index.auto_expand_replicas":"0-1"},` +
		`"mappings":{"dynamic":false,"properties":{"run_id":{"type":"keyword"},"holder":{"type":"keyword"},"expires_at":{"type":"date"}}}}`)
	st, body, err = elastic.Send(ctx, l.es, l.opt.Retry, func() esapi.Request {
		return esapi.IndicesCreateRequest{Index: l.opt.Index, Body: bytes.NewReader(settings)}
	})
	if err != nil {
		return fmt.Errorf("create lease index %q: %w", l.opt.Index, err)
	}
	if st >= 300 {
		if e := elastic.ParseError(st, body); e.Type != "resource_already_exists_exception" {
			return fmt.Errorf("create lease index %q: %v", l.opt.Index, e)
		}
	}
	return nil
}

// Record returns the lease as last written.
func (l *Lease) Record() Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rec
}

// Done is closed when the lease is lost (see Err).
func (l *Lease) Done() <-chan struct{} { return l.done }

// Err is nil while the lease is held, then the reason it was lost
// (wrapping ErrLost).
func (l *Lease) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Context returns a context of parent cancelled, with Err as its cause,
// when the lease is lost.
func (l *Lease) Context(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	go func() {
		select {
		case <-l.done:
			cancel(l.Err())
		case <-ctx.Done():
		}
	}()
	return ctx, func() { cancel(context.Canceled) }
}

func (l *Lease) lose(err error) {
	l.mu.Lock()
	if l.err == nil {
		l.err = err
		close(l.done)
	}
	l.mu.Unlock()
}

// keep renews the lease every Renew until Release or the loss. A failed
// renewal is retried every second until the lease would have less than
// Renew left: then the holder gives up, before another process may take
// it over.
func (l *Lease) keep() {
	defer close(l.exited)
	log := l.opt.Logger
	tick := time.NewTimer(l.opt.Renew)
	defer tick.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-tick.C:
		}
		l.mu.Lock()
		prev, seq, term := l.rec, l.seqNo, l.term
		l.mu.Unlock()
		giveUp := prev.ExpiresAt.Add(-l.opt.Renew)
		now := time.Now()
		rec := l.record(now, prev.AcquiredAt, prev.Token)
		ctx, cancel := context.WithDeadline(context.Background(), giveUp)
		st, body, err := elastic.Try(ctx, l.es, esapi.IndexRequest{Index: l.opt.Index, DocumentID: l.opt.ID, Body: l.body(rec),
			IfSeqNo: &seq, IfPrimaryTerm: &term})
		cancel()
		switch {
		case err == nil && st == 409:
			gctx, gcancel := context.WithTimeout(context.Background(), 5*time.Second)
			cur, gerr := l.get(gctx)
			gcancel()
			if gerr != nil {
				err = fmt.Errorf("renewal refused with 409, and the lease could not be read: %w", gerr)
				break
			}
			if cur.Found && cur.Source.Token == prev.Token {
				// A renewal of ours whose answer was lost (the client sent
				// it again, or the last one was applied unseen): still ours.
				l.mu.Lock()
				l.rec, l.seqNo, l.term = cur.Source, cur.SeqNo, cur.Term
				l.mu.Unlock()
				tick.Reset(0)
				continue
			}
			holder := "nobody (the lease document was deleted)"
			if cur.Found {
				holder = cur.Source.Holder + " (token " + cur.Source.Token + ")"
			}
			l.lose(fmt.Errorf("lease %s/%s of %s: %w: now held by %s", l.opt.Index, l.opt.ID, prev.Holder, ErrLost, holder))
			log.Error("lease lost: another process holds it", "lease", l.opt.Index+"/"+l.opt.ID, "holder", holder)
			return
		case err == nil && st < 300:
			if terr := l.took(st, body, rec); terr == nil {
				tick.Reset(l.opt.Renew)
				continue
			}
			err = fmt.Errorf("decode answer of a renewal")
		case err == nil:
			err = elastic.ParseError(st, body)
		}
		if !time.Now().Before(giveUp) {
			l.lose(fmt.Errorf("lease %s/%s of %s: %w: not renewed since %s, it expires at %s: %v", l.opt.Index, l.opt.ID,
				prev.Holder, ErrLost, prev.RenewedAt.Format(time.RFC3339), prev.ExpiresAt.Format(time.RFC3339), err))
			log.Error("lease lost: it could not be renewed in time", "lease", l.opt.Index+"/"+l.opt.ID,
				"expires_at", prev.ExpiresAt, "error", err)
			return
		}
		log.Warn("lease renewal failed, retrying", "lease", l.opt.Index+"/"+l.opt.ID, "expires_at", prev.ExpiresAt,
			"gives_up_at", giveUp, "error", err)
		tick.Reset(min(time.Second, max(time.Until(giveUp), time.Millisecond)))
	}
}

// Release stops the keeper and deletes the lease document, if it is still
// this holder's. Release after a loss deletes nothing and returns the
// loss. Err stays as it was: nil for a lease held to the end.
func (l *Lease) Release(ctx context.Context) error {
	var err error
	l.once.Do(func() {
		close(l.stop)
		<-l.exited
		if l.Err() != nil {
			err = l.Err()
			return
		}
		l.mu.Lock()
		seq, term := l.seqNo, l.term
		l.mu.Unlock()
		var st int
		var body []byte
		st, body, err = elastic.Send(ctx, l.es, l.opt.Retry,
			elastic.Fixed(esapi.DeleteRequest{Index: l.opt.Index, DocumentID: l.opt.ID, IfSeqNo: &seq, IfPrimaryTerm: &term}))
		switch {
		case err != nil:
			err = fmt.Errorf("release lease %s/%s: %w", l.opt.Index, l.opt.ID, err)
		case st == 409 || st == 404:
			err = fmt.Errorf("release lease %s/%s: %w: held by another process by then", l.opt.Index, l.opt.ID, ErrLost)
		case st >= 300:
			err = fmt.Errorf("release lease %s/%s: %v", l.opt.Index, l.opt.ID, elastic.ParseError(st, body))
		default:
			l.opt.Logger.Info("lease released", "lease", l.opt.Index+"/"+l.opt.ID)
		}
	})
	return err
}
