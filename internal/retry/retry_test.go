package retry

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeClock advances when slept on, so a five-minute budget takes no time.
type fakeClock struct {
	now    time.Time
	sleeps []time.Duration
}

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return nil
}

func newFake() *fakeClock { return &fakeClock{now: time.Date(2021, 12, 2, 10, 0, 0, 0, time.UTC)} }

func TestDelayDoublesUpToCap(t *testing.T) {
	p := Policy{Base: 100 * time.Millisecond, Cap: time.Second}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, w := range want {
		if got := p.Delay(i + 1); got != w*time.Millisecond {
			t.Errorf("Delay(%d) = %s, want %s", i+1, got, w*time.Millisecond)
		}
	}
}

func TestWaitStopsAtBudget(t *testing.T) {
	clk := newFake()
	p := Policy{Budget: 10 * time.Second, Base: time.Second, Cap: 4 * time.Second, Jitter: -1, Clock: clk}
	a := p.Begin()
	cause := errors.New("503 cluster_block_exception")
	var err error
	for range 100 {
		if err = a.Wait(t.Context(), cause); err != nil {
			break
		}
	}
	if !errors.Is(err, ErrBudget) || !errors.Is(err, cause) {
		t.Fatalf("Wait = %v, want ErrBudget wrapping the cause", err)
	}
	// 1 + 2 + 4 + 3 (cut to the budget's end): one last try at 10s.
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 3 * time.Second}
	if fmt.Sprint(clk.sleeps) != fmt.Sprint(want) {
		t.Errorf("slept %v, want %v", clk.sleeps, want)
	}
	if a.Retries() != 4 || a.Elapsed() != 10*time.Second {
		t.Errorf("retries %d elapsed %s, want 4 and 10s", a.Retries(), a.Elapsed())
	}
}

func TestJitterStaysInRange(t *testing.T) {
	for _, r := range []float64{0, 0.5, 0.999} {
		clk := newFake()
		p := Policy{Base: time.Second, Cap: time.Second, Jitter: 0.5, Clock: clk, Rand: func() float64 { return r }}
		if err := p.Begin().Wait(t.Context(), io.EOF); err != nil {
			t.Fatal(err)
		}
		if d := clk.sleeps[0]; d < 500*time.Millisecond || d > time.Second {
			t.Errorf("rand %g: slept %s, want within [500ms, 1s]", r, d)
		}
	}
}

func TestResetStartsAFreshBudget(t *testing.T) {
	clk := newFake()
	p := Policy{Budget: 3 * time.Second, Base: time.Second, Cap: time.Second, Jitter: -1, Clock: clk}
	a := p.Begin()
	for i := range 10 {
		if err := a.Wait(t.Context(), io.EOF); err != nil {
			t.Fatalf("wait %d: %v: progress after every failure must not spend the budget", i, err)
		}
		a.Reset()
	}
}

func TestDoRetriesTransientOnly(t *testing.T) {
	clk := newFake()
	p := Policy{Budget: time.Minute, Clock: clk}
	n := 0
	err := Do(t.Context(), p, func(context.Context) error {
		n++
		if n < 4 {
			return Transient(syscall.ECONNREFUSED)
		}
		return nil
	})
	if err != nil || n != 4 {
		t.Fatalf("Do = %v after %d tries, want nil after 4", err, n)
	}
	perm := errors.New("400 mapper_parsing_exception")
	n = 0
	err = Do(t.Context(), p, func(context.Context) error { n++; return perm })
	if err != perm || n != 1 {
		t.Fatalf("Do = %v after %d tries, want the permanent error after 1", err, n)
	}
	n = 0
	err = Do(t.Context(), p, func(context.Context) error { n++; return Transient(io.ErrUnexpectedEOF) })
	if !errors.Is(err, ErrBudget) || !errors.Is(err, io.ErrUnexpectedEOF) || !IsTransient(err) {
		t.Fatalf("Do = %v, want ErrBudget wrapping the cut connection, still transient", err)
	}
}

func TestDoHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	n := 0
	err := Do(ctx, Policy{Clock: newFake()}, func(context.Context) error {
		n++
		cancel()
		return Transient(io.EOF)
	})
	if !errors.Is(err, context.Canceled) || n != 1 {
		t.Fatalf("Do = %v after %d tries, want context.Canceled after 1", err, n)
	}
}

func TestTransport(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{syscall.ECONNREFUSED, true},
		{io.ErrUnexpectedEOF, true},
		{fmt.Errorf("dial: %w", syscall.ECONNRESET), true},
		{context.DeadlineExceeded, true},
		{context.Canceled, false},
		{fmt.Errorf("tls: %w", x509.UnknownAuthorityError{}), false},
		{nil, false},
	} {
		if got := Transport(tt.err); got != tt.want {
			t.Errorf("Transport(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestValidate(t *testing.T) {
	if err := (Policy{}).Validate(); err != nil {
		t.Errorf("zero policy: %v", err)
	}
	err := Policy{Budget: -1, Base: 2 * time.Second, Cap: time.Second, Jitter: 2}.Validate()
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("Validate = %v, want ErrInvalid", err)
	}
	for _, s := range []string{"budget", "cap", "jitter"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("Validate = %v, want it to name %s", err, s)
		}
	}
}

// TestOutagesAreLogged: an operation that keeps failing logs a warning at
// its first failure, then at most one every LogEvery, each with the same
// keys; without a Logger nothing is logged.
func TestOutagesAreLogged(t *testing.T) {
	var buf bytes.Buffer
	clock := newFake()
	p := Policy{Budget: 2 * time.Minute, Base: time.Second, Cap: 10 * time.Second, Jitter: -1, Clock: clock,
		Logger: slog.New(slog.NewJSONHandler(&buf, nil)), LogEvery: 30 * time.Second}
	calls := 0
	err := Do(t.Context(), p, func(context.Context) error {
		calls++
		return Transient(errors.New("connection refused"))
	})
	if !errors.Is(err, ErrBudget) {
		t.Fatalf("Do: %v", err)
	}
	var lines []map[string]any
	for _, l := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		lines = append(lines, m)
	}
	// Two minutes of failures logged every 30 s: the first failure and
	// about four more, never one per retry.
	if len(lines) < 4 || len(lines) > 6 || len(lines) >= calls {
		t.Fatalf("%d warnings for %d calls in 2 minutes:\n%s", len(lines), calls, buf.String())
	}
	for i, m := range lines {
		if m["msg"] != "retrying" || m["level"] != "WARN" || m["error"] != "connection refused" ||
			m["elapsed_seconds"] == nil || m["budget_left_seconds"] == nil || m["retries"] == nil {
			t.Errorf("warning %d: %v", i, m)
		}
	}
	if first := lines[0]; first["retries"] != float64(0) || first["elapsed_seconds"] != float64(0) {
		t.Errorf("first warning: %v, want it at the first failure", first)
	}
}

// TestCounterCountsEveryRetry: a Counter in the context counts the retries
// and backoff waits of every operation under it, whatever its Policy, and
// the operations that gave up; an interrupted wait is a backoff, not a
// retry. A Logger in the context warns for a Policy without one.
func TestCounterCountsEveryRetry(t *testing.T) {
	var c Counter
	var buf bytes.Buffer
	ctx := WithLogger(WithCounter(t.Context(), &c), slog.New(slog.NewJSONHandler(&buf, nil)))
	clock := newFake()
	p := Policy{Budget: 10 * time.Second, Base: time.Second, Cap: time.Second, Jitter: -1, Clock: clock}
	fails := 3
	if err := Do(ctx, p, func(context.Context) error {
		if fails > 0 {
			fails--
			return Transient(errors.New("503"))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := c.Counts(); got != (Counts{Retries: 3, Backoffs: 3, Waited: 3 * time.Second}) {
		t.Errorf("after 3 failures then success: %+v", got)
	}
	// A second operation under another policy, past its budget.
	q := Policy{Budget: 2 * time.Second, Base: time.Second, Cap: time.Second, Jitter: -1, Clock: clock}
	if err := Do(ctx, q, func(context.Context) error { return Transient(errors.New("refused")) }); !errors.Is(err, ErrBudget) {
		t.Fatalf("Do: %v", err)
	}
	if got := c.Counts(); got.Retries != 5 || got.GaveUp != 1 || got.Waited != 5*time.Second {
		t.Errorf("after a second operation that gave up after 2 retries: %+v", got)
	}
	// A wait the context ends.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := p.Begin().Wait(cctx, errors.New("cut")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait: %v", err)
	}
	if got := c.Counts(); got.Retries != 5 || got.Backoffs != 6 {
		t.Errorf("after an interrupted wait: %+v, want 5 retries, 6 backoffs", got)
	}
	if n := strings.Count(buf.String(), `"msg":"retrying"`); n != 3 {
		t.Errorf("%d warnings through the context's logger, want one per operation:\n%s", n, buf.String())
	}
	// Nothing in the context: nothing counted, nothing logged, no panic.
	if err := Do(t.Context(), p, func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	var nilC *Counter
	if nilC.Counts() != (Counts{}) {
		t.Error("a nil counter counts")
	}
}
