package restore

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock that sleeping advances, so that the throttle's
// arithmetic is tested without waiting.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Sleep(_ context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d > 0 {
		c.t = c.t.Add(d)
	}
	return nil
}

func fakeThrottle(rate float64, workers int) (*Throttle, *fakeClock) {
	c := &fakeClock{t: time.Date(2021, 12, 2, 0, 0, 0, 0, time.UTC)}
	t := NewThrottle(rate, workers)
	t.clock = c
	return t, c
}

func TestThrottleRate(t *testing.T) {
	th, clock := fakeThrottle(1000, 4)
	start := clock.Now()
	for range 100 {
		done, err := th.begin(t.Context(), 100)
		if err != nil {
			t.Fatal(err)
		}
		done(200, []byte(`{"errors":false}`), nil)
	}
	// 10,000 documents at 1,000/s: each request goes once its documents
	// are paid for, the first after 0.1 s, the 100th after 10 s.
	if got, want := clock.Now().Sub(start), 10*time.Second; got != want {
		t.Errorf("100 requests of 100 documents at 1000/s took %s, want %s", got, want)
	}
	if s := th.Stats(); s.Docs != 10000 || s.Requests != 100 {
		t.Errorf("stats %+v, want 10000 docs in 100 requests", s)
	}
}

func TestThrottleNoRateNoWait(t *testing.T) {
	th, clock := fakeThrottle(0, 2)
	start := clock.Now()
	for range 10 {
		done, err := th.begin(t.Context(), 1000)
		if err != nil {
			t.Fatal(err)
		}
		done(200, nil, nil)
	}
	if clock.Now() != start {
		t.Errorf("no rate limit, but the clock moved %s", clock.Now().Sub(start))
	}
	var nilT *Throttle
	done, err := nilT.begin(t.Context(), 5)
	if err != nil {
		t.Fatal(err)
	}
	done(429, nil, nil)
	if s := nilT.Stats(); s != (ThrottleStats{}) {
		t.Errorf("a nil throttle counts %+v", s)
	}
}

// TestThrottleAIMD: push-back halves the in-flight limit once per
// overload, and the limit grows back by one per round of answers.
func TestThrottleAIMD(t *testing.T) {
	th, clock := fakeThrottle(0, 8)
	ctx := t.Context()
	var dones []func(int, []byte, error)
	for range 8 {
		d, err := th.begin(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		dones = append(dones, d)
	}
	clock.Sleep(ctx, 10*time.Millisecond)
	// Eight requests sent together, all answered 429: one cut, not eight.
	for _, d := range dones {
		d(429, nil, nil)
	}
	if s := th.Stats(); s.InFlightLimit != 4 || s.Backoffs != 1 {
		t.Fatalf("after one overload: limit %d, backoffs %d; want 4, 1", s.InFlightLimit, s.Backoffs)
	}
	// A rejected item in a 200 answer, sent after the cut: another cut.
	clock.Sleep(ctx, time.Millisecond)
	d, _ := th.begin(ctx, 10)
	clock.Sleep(ctx, time.Millisecond)
	d(200, []byte(`{"errors":true,"items":[{"index":{"status":429,"error":{"type":"es_rejected_execution_exception"}}}]}`), nil)
	if s := th.Stats(); s.InFlightLimit != 2 || s.MinInFlight != 2 {
		t.Fatalf("after a rejected item: limit %d (min %d), want 2", s.InFlightLimit, s.MinInFlight)
	}
	// While at the limit, a third request waits for a slot.
	a, _ := th.begin(ctx, 10)
	b, _ := th.begin(ctx, 10)
	waitCtx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	if _, err := th.begin(waitCtx, 10); err == nil {
		t.Error("a third request went out under a limit of 2")
	}
	cancel()
	a(200, []byte(`{"errors":false}`), nil)
	b(200, []byte(`{"errors":false}`), nil)
	// Slow recovery: from 2 back to 8 takes more than a few answers.
	answers := 0
	for th.Stats().InFlightLimit < 8 {
		d, err := th.begin(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		clock.Sleep(ctx, 5*time.Millisecond)
		d(200, []byte(`{"errors":false}`), nil)
		answers++
		if answers > 1000 {
			t.Fatal("the limit never recovered")
		}
	}
	// 1/l per answer: about 2+3+...+7 = 27 answers, never one per answer.
	if answers < 20 {
		t.Errorf("recovered from 2 to 8 in %d answers: too fast to be additive", answers)
	}
}

// TestThrottleSlowAnswers: an answer far slower than usual counts as
// push-back; fast noise does not.
func TestThrottleSlowAnswers(t *testing.T) {
	th, clock := fakeThrottle(0, 4)
	ctx := t.Context()
	send := func(latency time.Duration) {
		d, err := th.begin(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		clock.Sleep(ctx, latency)
		d(200, []byte(`{"errors":false}`), nil)
	}
	for range 20 {
		send(100 * time.Millisecond)
	}
	send(150 * time.Millisecond) // slower, but not slow
	if s := th.Stats(); s.Backoffs != 0 {
		t.Fatalf("backoffs %d on ordinary latencies", s.Backoffs)
	}
	send(2 * time.Second)
	if s := th.Stats(); s.Backoffs != 1 || s.InFlightLimit != 2 {
		t.Errorf("after a 2s answer among 100ms ones: backoffs %d, limit %d; want 1, 2", s.Backoffs, s.InFlightLimit)
	}
}

// BenchmarkThrottleRate runs workers against a rate limit with instant
// answers, so the rate measured is the throttle's alone; error-% is how
// far it is from the limit (it must stay under 5).
func BenchmarkThrottleRate(b *testing.B) {
	for _, rate := range []float64{2_000, 20_000, 200_000} {
		b.Run(fmtRate(rate), func(b *testing.B) {
			th := NewThrottle(rate, 4)
			b.SetParallelism(1) // GOMAXPROCS goroutines, each one worker
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					done, err := th.begin(context.Background(), 100)
					if err != nil {
						b.Error(err)
						return
					}
					done(200, []byte(`{"errors":false}`), nil)
				}
			})
			s := th.Stats()
			// Every document counts, the first request's included: the
			// rate holds from the first batch.
			got := float64(s.Docs) / s.Elapsed.Seconds()
			b.ReportMetric(got, "docs/s")
			b.ReportMetric(100*abs(got-rate)/rate, "error-%")
		})
	}
}

func fmtRate(r float64) string {
	return "max-docs-per-second=" + strconv.FormatFloat(r, 'f', -1, 64)
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

// TestThrottleSlack: after an idle moment the rate limit makes up at most
// rateSlack of lost time, not the whole pause.
func TestThrottleSlack(t *testing.T) {
	th, clock := fakeThrottle(100, 1)
	ctx := t.Context()
	send := func() {
		d, err := th.begin(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		d(200, nil, nil)
	}
	send()
	clock.Sleep(ctx, time.Minute) // idle
	start := clock.Now()
	for range 20 {
		send()
	}
	// 20 requests of 10 documents at 100/s is 2 s of sending; the idle
	// minute buys rateSlack of it, no more.
	if got, want := clock.Now().Sub(start), 2*time.Second-rateSlack; got != want {
		t.Errorf("20 requests after an idle minute took %s, want %s", got, want)
	}
}

// TestThrottleHoldsFromFirstBatch: over a run of a few batches, all sent
// together by as many workers, the documents sent ÷ the time from the
// first request to each send never exceed the limit: the first batches
// are not free. The schedule is read from the fake clock, so nothing
// depends on how fast the machine is.
func TestThrottleHoldsFromFirstBatch(t *testing.T) {
	for _, tc := range []struct {
		rate           float64
		workers, batch int
		batches        int
	}{
		{rate: 1000, workers: 4, batch: 1000, batches: 4}, // 4,000 documents at 1,000/s
		{rate: 1000, workers: 4, batch: 250, batches: 16},
		{rate: 100, workers: 8, batch: 1000, batches: 3}, // a batch of ten seconds' worth
		{rate: 5000, workers: 2, batch: 7, batches: 50},
	} {
		t.Run(fmt.Sprintf("%.0f/s %d×%d", tc.rate, tc.batches, tc.batch), func(t *testing.T) {
			th, clock := fakeThrottle(tc.rate, tc.workers)
			start := clock.Now()
			var dones []func(int, []byte, error)
			sent := 0
			for i := range tc.batches {
				if len(dones) == tc.workers {
					// Every slot taken: the oldest request is answered.
					dones[0](200, []byte(`{"errors":false}`), nil)
					dones = dones[1:]
				}
				done, err := th.begin(t.Context(), tc.batch)
				if err != nil {
					t.Fatal(err)
				}
				dones = append(dones, done)
				sent += tc.batch
				elapsed := clock.Now().Sub(start).Seconds()
				if rate := float64(sent) / elapsed; elapsed <= 0 || rate > tc.rate*1.02 {
					t.Fatalf("batch %d: %d documents sent %.3fs after the first request: %.0f docs/s, limit %.0f", i+1, sent, elapsed, rate, tc.rate)
				}
			}
			for _, d := range dones {
				d(200, []byte(`{"errors":false}`), nil)
			}
			s := th.Stats()
			if s.Docs != int64(sent) {
				t.Errorf("stats count %d documents, want %d", s.Docs, sent)
			}
			if got := s.DocsPerSecond(); got > tc.rate*1.02 || got < tc.rate*0.98 {
				t.Errorf("stats give %.1f docs/s over the run, want %.0f (±2%%)", got, tc.rate)
			}
		})
	}
}
