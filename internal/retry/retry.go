// Package retry retries operations that fail for a while: a node shedding
// load (429), a cluster electing a master (503 cluster_block_exception), a
// restart that refuses or cuts connections. It retries by time, not by
// count: an outage lasts seconds or minutes whatever the number of
// requests made during it, so a count either gives up in a second or waits
// far too long when each try is slow.
//
// One Policy (budget, base, cap, jitter) serves every call site. An
// Attempt is one operation's retries under it: Wait sleeps a capped,
// jittered exponential backoff, and returns an error wrapping ErrBudget
// once the budget, counted from the first failure, is spent. Do runs an
// operation under a Policy; Transient marks an error a later try may not
// see, and Transport and Status say which transport errors and HTTP
// statuses are. A Counter carried by the context counts every retry made
// under it, whatever the Policy. The Policy's Clock is the time slept on:
// tests pass a fake one and sleep for no one.
package retry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// Defaults of Policy.
const (
	DefaultBudget = 5 * time.Minute
	DefaultBase   = 200 * time.Millisecond
	DefaultCap    = 30 * time.Second
	DefaultJitter = 0.5
	// DefaultLogEvery spaces the warnings of an operation that keeps failing.
	DefaultLogEvery = 30 * time.Second
)

// ErrBudget is wrapped, with the last transient error, by Wait and Do when
// the time budget ran out. A later run may succeed: it is not a
// configuration error.
var ErrBudget = errors.New("transient failure outlasted the retry budget")

// ErrInvalid is wrapped by Policy.Validate errors.
var ErrInvalid = errors.New("invalid retry policy")

// Clock is the time an Attempt reads and sleeps on; tests pass a fake one.
type Clock interface {
	Now() time.Time
	// Sleep waits d, or returns ctx's error when ctx is done first.
	Sleep(ctx context.Context, d time.Duration) error
}

// Policy says how long and how often an operation is retried. The zero
// value of each field means its default.
type Policy struct {
	// Budget is how long an operation keeps being retried, counted from
	// its first failure. Default 5m.
	Budget time.Duration
	// Base is the delay before the first retry; it doubles with each one.
	// Default 200ms.
	Base time.Duration
	// Cap bounds one delay. Default 30s.
	Cap time.Duration
	// Jitter is the fraction of each delay drawn at random: a delay d is
	// drawn in [d×(1−Jitter), d], so that clients rejected together do not
	// come back together. 0 means the default 0.5; a negative value turns
	// jitter off.
	Jitter float64
	// Clock is the clock slept on. Default: the real one.
	Clock Clock
	// Rand returns numbers in [0, 1) for the jitter. Default math/rand/v2.
	Rand func() float64
	// Logger, when set, receives a warning ("retrying") at an operation's
	// first failure and then at most every LogEvery while it goes on
	// failing, so that an outage is never silent. Nil: nothing is logged.
	Logger *slog.Logger
	// LogEvery spaces the warnings of one operation. Default 30s.
	LogEvery time.Duration
}

// WithDefaults returns p with every zero field set to its default.
func (p Policy) WithDefaults() Policy {
	if p.Budget == 0 {
		p.Budget = DefaultBudget
	}
	if p.Base == 0 {
		p.Base = DefaultBase
	}
	if p.Cap == 0 {
		p.Cap = DefaultCap
	}
	if p.Jitter == 0 {
		p.Jitter = DefaultJitter
	}
	if p.Jitter < 0 {
		p.Jitter = 0
	}
	if p.Clock == nil {
		p.Clock = realClock{}
	}
	if p.Rand == nil {
		p.Rand = rand.Float64
	}
	if p.LogEvery <= 0 {
		p.LogEvery = DefaultLogEvery
	}
	return p
}

// Validate reports every bad field at once.
func (p Policy) Validate() error {
	var errs []error
	if p.Budget < 0 {
		errs = append(errs, fmt.Errorf("%w: budget must not be negative (got %s)", ErrInvalid, p.Budget))
	}
	if p.Base < 0 {
		errs = append(errs, fmt.Errorf("%w: base must not be negative (got %s)", ErrInvalid, p.Base))
	}
	if p.Cap < 0 || (p.Cap > 0 && p.Cap < p.Base) {
		errs = append(errs, fmt.Errorf("%w: cap must be at least base %s (got %s)", ErrInvalid, p.Base, p.Cap))
	}
	if p.Jitter > 1 {
		errs = append(errs, fmt.Errorf("%w: jitter must be at most 1 (got %g)", ErrInvalid, p.Jitter))
	}
	return errors.Join(errs...)
}

// Delay is the backoff before retry n (1-based), before jitter: Base
// doubled n-1 times, at most Cap.
func (p Policy) Delay(n int) time.Duration {
	p = p.WithDefaults()
	d := p.Base
	for i := 1; i < n && d < p.Cap; i++ {
		d *= 2
	}
	return min(d, p.Cap)
}

// Attempt is one operation's retries. It is not safe for concurrent use.
type Attempt struct {
	p      Policy
	start  time.Time // of the first failure; zero until then
	n      int       // retries waited for
	logged time.Time // when the last warning was logged
}

// Begin starts retrying one operation under p.
func (p Policy) Begin() *Attempt { return &Attempt{p: p.WithDefaults()} }

// Retries is how many times Wait let the operation try again.
func (a *Attempt) Retries() int { return a.n }

// Elapsed is the time since the first failure, 0 before one.
func (a *Attempt) Elapsed() time.Duration {
	if a.start.IsZero() {
		return 0
	}
	return a.p.Clock.Now().Sub(a.start)
}

// Reset forgets the failures so far: the operation made progress, and a
// later failure starts a fresh budget.
func (a *Attempt) Reset() { a.start, a.n = time.Time{}, 0 }

// Extend moves the start of the budget d later: time the operation spent
// waiting on something else (a request-level outage while items wait for
// their own retry) is not counted against it.
func (a *Attempt) Extend(d time.Duration) {
	if !a.start.IsZero() && d > 0 {
		a.start = a.start.Add(d)
	}
}

// Wait is called after a transient failure err. It sleeps the next
// backoff and returns nil, or returns an error wrapping ErrBudget and err
// when the budget is spent (the last delay is cut so that one try lands
// at the end of the budget), or ctx's error.
func (a *Attempt) Wait(ctx context.Context, err error) error {
	now := a.p.Clock.Now()
	if a.start.IsZero() {
		a.start = now
	}
	left := a.p.Budget - now.Sub(a.start)
	if left <= 0 {
		if c := counterOf(ctx); c != nil {
			c.gaveUp.Add(1)
		}
		return fmt.Errorf("%w (%s, %d retries): %w", ErrBudget, now.Sub(a.start).Round(time.Millisecond), a.n, err)
	}
	d := a.p.Delay(a.n + 1)
	if a.p.Jitter > 0 {
		d -= time.Duration(a.p.Rand() * a.p.Jitter * float64(d))
	}
	d = min(d, left)
	l := a.p.Logger
	if l == nil {
		l, _ = ctx.Value(loggerKey{}).(*slog.Logger)
	}
	if l != nil && (a.n == 0 || now.Sub(a.logged) >= a.p.LogEvery) {
		a.logged = now
		l.Warn("retrying", "error", err.Error(), "retries", a.n, "elapsed_seconds", now.Sub(a.start).Seconds(),
			"budget_left_seconds", left.Seconds(), "next_in_seconds", d.Seconds())
	}
	a.n++
	c := counterOf(ctx)
	if c != nil {
		c.backoffs.Add(1)
	}
	slept := a.p.Clock.Now()
	serr := a.p.Clock.Sleep(ctx, d)
	if c != nil {
		c.waited.Add(int64(a.p.Clock.Now().Sub(slept)))
	}
	if serr != nil {
		return serr
	}
	if c != nil {
		c.retries.Add(1)
	}
	return nil
}

// Counter counts the retries of every operation whose context carries it
// (see WithCounter), whatever Policy it retries under: a job gives each of
// its phases one, so that its summary says what an outage cost each. It
// is safe for concurrent use; the zero value is ready.
type Counter struct {
	retries, backoffs, gaveUp, waited atomic.Int64
}

// Counts is what a Counter counted.
type Counts struct {
	// Retries counts the tries made again after a transient failure, each
	// after a backoff.
	Retries int64
	// Backoffs counts the backoff waits begun: Retries, plus the waits an
	// interruption ended.
	Backoffs int64
	// GaveUp counts the operations that failed past their budget.
	GaveUp int64
	// Waited is the time spent in backoff waits.
	Waited time.Duration
}

// Counts returns what c counted so far; a nil Counter counted nothing.
func (c *Counter) Counts() Counts {
	if c == nil {
		return Counts{}
	}
	return Counts{Retries: c.retries.Load(), Backoffs: c.backoffs.Load(), GaveUp: c.gaveUp.Load(),
		Waited: time.Duration(c.waited.Load())}
}

type counterKey struct{}

type loggerKey struct{}

// WithCounter returns a context whose operations' retries c counts
// (Wait and Do read it from the context they are given).
func WithCounter(ctx context.Context, c *Counter) context.Context {
	return context.WithValue(ctx, counterKey{}, c)
}

// WithLogger returns a context whose operations, when their Policy has no
// Logger, warn through l: calls made under a default Policy (a library's
// reads of metadata) are then not silent in an outage either.
func WithLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, l)
}

// Retried records a retry that another retrier makes (the AWS SDK's, of
// an S3 request): ctx's Counter counts it as a retry and a backoff, and
// ctx's Logger warns, naming what is retried, so that those retries are
// neither silent nor left out of a phase's count.
func Retried(ctx context.Context, what string, err error) {
	if c := counterOf(ctx); c != nil {
		c.backoffs.Add(1)
		c.retries.Add(1)
	}
	if l, _ := ctx.Value(loggerKey{}).(*slog.Logger); l != nil {
		l.Warn("retrying a request of another client", "request", what, "error", err.Error())
	}
}

func counterOf(ctx context.Context) *Counter {
	c, _ := ctx.Value(counterKey{}).(*Counter)
	return c
}

// Do runs op until it returns nil or a permanent error (one IsTransient
// does not accept), or the budget runs out; it returns that error, or one
// wrapping ErrBudget and the last transient error.
func Do(ctx context.Context, p Policy, op func(ctx context.Context) error) error {
	a := p.Begin()
	for {
		err := op(ctx)
		if err == nil || !IsTransient(err) {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if werr := a.Wait(ctx, err); werr != nil {
			return werr
		}
	}
}

// transient marks an error that may go away when the request is sent again.
type transient struct{ err error }

func (t *transient) Error() string { return t.err.Error() }
func (t *transient) Unwrap() error { return t.err }

// Transient marks err as one a later try may not see (a 429, a 503, a cut
// connection); nil stays nil.
func Transient(err error) error {
	if err == nil {
		return nil
	}
	return &transient{err: err}
}

// IsTransient reports whether err, or an error it wraps, was marked by
// Transient, or is ErrBudget: a run that ran out of budget may succeed
// when run again later.
func IsTransient(err error) bool {
	var t *transient
	return errors.As(err, &t) || errors.Is(err, ErrBudget)
}

// Transport reports whether an error of an HTTP round trip (the request
// could not be sent or its answer not read) may go away: refused, reset
// or cut connections, timeouts and DNS failures do; certificate and TLS
// configuration errors and a cancelled context do not.
func Transport(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var (
		unknownCA   x509.UnknownAuthorityError
		hostname    x509.HostnameError
		invalidCert x509.CertificateInvalidError
		record      tls.RecordHeaderError
		verify      *tls.CertificateVerificationError
	)
	switch {
	case errors.As(err, &unknownCA), errors.As(err, &hostname), errors.As(err, &invalidCert),
		errors.As(err, &record), errors.As(err, &verify):
		return false
	}
	return true
}

// Status reports whether an HTTP status may change when the request is
// sent again: 408, 429, 502, 503 and 504.
func Status(code int) bool {
	return code == 408 || code == 429 || code == 502 || code == 503 || code == 504
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
