package restore

import (
	"bytes"
	"context"
	"math"
	"sync"
	"time"

	"github.com/esrestore/esrestore/internal/retry"
)

// Throttle protects the target cluster from the restore: a rate limit on
// documents per second shared by every worker (as _reindex's
// requests_per_second or elasticdump's --throttle), and an adaptive limit
// on _bulk requests in flight that halves when Elasticsearch pushes back
// (a 429, an es_rejected_execution_exception item, a request much slower
// than usual) and grows back by one request per round of answers: AIMD, as
// TCP does, so the restore backs off at once and recovers slowly.
//
// Set one in Options.Throttle; a nil *Throttle limits nothing. Its methods
// are safe for concurrent use, and Stats may be called while a Run works.
type Throttle struct {
	rate    float64 // documents per second, 0 = no limit
	workers int

	// clock is the retries' clock (internal/retry): real, or a fake in
	// tests.
	clock retry.Clock

	mu   sync.Mutex
	wake chan struct{} // closed and replaced when a slot frees
	// next is when the rate limit lets the next request go (virtual
	// scheduling: each request pushes it by its documents / rate).
	next     time.Time
	limit    float64 // in-flight limit, in [1, workers]
	inFlight int
	minLimit int
	maxLimit int
	lastCut  time.Time
	baseline float64 // smoothed latency of answers that were not slow, seconds

	first, last time.Time
	docs        int64
	requests    int64
	backoffs    int64
	waited      time.Duration
}

// ThrottleStats is what a Throttle did.
type ThrottleStats struct {
	// MaxDocsPerSecond is the configured limit, 0 for none.
	MaxDocsPerSecond float64
	// Docs and Requests count what was let through.
	Docs, Requests int64
	// Elapsed runs from the first request made (before its wait for the
	// rate limit) to the last answer.
	Elapsed time.Duration
	// Workers is the most requests ever allowed in flight.
	Workers int
	// InFlightLimit is the current limit; MinInFlight and MaxInFlight the
	// lowest and highest it has been.
	InFlightLimit, MinInFlight, MaxInFlight int
	// Backoffs counts the cuts of the in-flight limit.
	Backoffs int64
	// Waited is the time requests spent waiting for the rate limit or a
	// slot, summed over workers.
	Waited time.Duration
}

// DocsPerSecond is the effective document rate, 0 before any answer.
func (s ThrottleStats) DocsPerSecond() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Docs) / s.Elapsed.Seconds()
}

// RequestsPerSecond is the effective _bulk request rate.
func (s ThrottleStats) RequestsPerSecond() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Requests) / s.Elapsed.Seconds()
}

// slowFloor keeps fast answers from counting as slow: on a quiet cluster
// a 20 ms bulk following 5 ms ones is noise, not load.
const slowFloor = 500 * time.Millisecond

// rateSlack is how far behind its schedule the rate limit lets the
// requests catch up: the burst after an idle moment.
const rateSlack = 500 * time.Millisecond

// slowFactor is how many times the usual latency makes an answer slow.
const slowFactor = 3

// NewThrottle returns a Throttle letting at most maxDocsPerSecond
// documents a second through (0 or less: no rate limit) and at most
// workers requests in flight (less than 1: 1), the in-flight limit
// adapting to the cluster's answers.
func NewThrottle(maxDocsPerSecond float64, workers int) *Throttle {
	workers = max(workers, 1)
	return &Throttle{
		rate: max(maxDocsPerSecond, 0), workers: workers, limit: float64(workers),
		minLimit: workers, maxLimit: workers,
		clock: retry.Policy{}.WithDefaults().Clock, wake: make(chan struct{}),
	}
}

// Stats returns what the throttle did so far.
func (t *Throttle) Stats() ThrottleStats {
	if t == nil {
		return ThrottleStats{}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	s := ThrottleStats{
		MaxDocsPerSecond: t.rate, Docs: t.docs, Requests: t.requests, Workers: t.workers,
		InFlightLimit: int(t.limit), MinInFlight: t.minLimit, MaxInFlight: t.maxLimit,
		Backoffs: t.backoffs, Waited: t.waited,
	}
	if !t.first.IsZero() && t.last.After(t.first) {
		s.Elapsed = t.last.Sub(t.first)
	}
	return s
}

// begin waits until a request of docs documents may go: a free slot under
// the in-flight limit, then its turn under the rate limit. The returned
// func reports the outcome of the _bulk request (as elastic.Try returns
// it: status 0 when no answer came) and frees the slot; it must be called
// once. The error is ctx's.
func (t *Throttle) begin(ctx context.Context, docs int) (func(status int, body []byte, err error), error) {
	if t == nil {
		return func(int, []byte, error) {}, nil
	}
	start := t.clock.Now()
	for {
		t.mu.Lock()
		if t.inFlight < int(t.limit) {
			break
		}
		wake := t.wake
		t.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-wake:
		}
	}
	t.inFlight++
	if t.first.IsZero() {
		t.first = start // the schedule, and the rate, start here
	}
	var wait time.Duration
	if t.rate > 0 {
		now := t.clock.Now()
		at := t.next
		switch {
		case at.IsZero():
			at = t.first
		case at.Before(now.Add(-rateSlack)):
			// A worker that wakes late (timers, a busy machine) may use
			// the time it lost, up to rateSlack; starting from now instead
			// would lose a little on every wake and fall short of the
			// rate.
			at = now.Add(-rateSlack)
		}
		// A request goes once its own documents are paid for, the first
		// one included: n documents never go before n / rate seconds
		// after the first request, so the rate holds over any run,
		// however short.
		at = at.Add(time.Duration(float64(docs) / t.rate * float64(time.Second)))
		t.next = at
		wait = at.Sub(now)
	}
	t.mu.Unlock()
	if err := t.clock.Sleep(ctx, wait); err != nil {
		t.release(0, false, false, time.Time{})
		return nil, err
	}
	sent := t.clock.Now()
	t.mu.Lock()
	t.waited += sent.Sub(start)
	t.docs += int64(docs)
	t.requests++
	t.mu.Unlock()
	return func(status int, body []byte, _ error) {
		// A transient error answer (a 429) is an answer: it cuts the limit.
		t.release(t.clock.Now().Sub(sent), status != 0, pushback(status, body), sent)
	}, nil
}

// pushback reports an answer by which Elasticsearch says it is
// overloaded: the request or one of its items rejected with 429.
func pushback(status int, body []byte) bool {
	if status == 429 {
		return true
	}
	return status >= 200 && status < 300 && bytes.HasPrefix(body, []byte(`{"errors":true`)) &&
		(bytes.Contains(body, []byte(`"status":429`)) || bytes.Contains(body, []byte("es_rejected_execution_exception")))
}

// release frees a slot and adapts the in-flight limit to the answer: a
// multiplicative cut on push-back or a slow answer (at most one per
// latency, so that the answers of one overload cut once), an additive
// increase of one slot per limit answers otherwise.
func (t *Throttle) release(latency time.Duration, answered, throttled bool, sent time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.inFlight--
	close(t.wake)
	t.wake = make(chan struct{})
	if !answered {
		return
	}
	now := t.clock.Now()
	t.last = now
	sec := latency.Seconds()
	slow := t.baseline > 0 && latency > slowFloor && sec > slowFactor*t.baseline
	if !slow && !throttled {
		if t.baseline == 0 {
			t.baseline = sec
		} else {
			t.baseline += (sec - t.baseline) / 8
		}
	}
	switch {
	case throttled || slow:
		if sent.Before(t.lastCut) {
			return // sent before the last cut: part of the same overload
		}
		t.limit = math.Max(1, math.Floor(t.limit/2))
		t.lastCut = now
		t.backoffs++
		t.minLimit = min(t.minLimit, int(t.limit))
	default:
		t.limit = math.Min(float64(t.workers), t.limit+1/t.limit)
		t.maxLimit = max(t.maxLimit, int(t.limit))
	}
}
