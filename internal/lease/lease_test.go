package lease

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/esrestore/esrestore/fixtures/estest"
	"github.com/esrestore/esrestore/fixtures/faultproxy"
	"github.com/esrestore/esrestore/fixtures/faultproxy/fptest"
)

func opts(holder string) Options {
	return Options{ID: "run1", Holder: holder, TTL: 2 * time.Second, Renew: 300 * time.Millisecond}
}

// die stops the keeper without releasing: a holder killed with SIGKILL.
func (l *Lease) die() {
	l.once.Do(func() {
		close(l.stop)
		<-l.exited
	})
}

func TestSecondProcessSeesTheHolder(t *testing.T) {
	es := estest.New(t)
	a, err := Acquire(t.Context(), es.Client(), opts("pod-a/1"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Release(context.Background()) //nolint:errcheck // checked below
	start := time.Now()
	_, err = Acquire(t.Context(), es.Client(), opts("pod-b/2"))
	var held *HeldError
	if !errors.As(err, &held) || !errors.Is(err, ErrHeld) {
		t.Fatalf("second Acquire: %v, want a HeldError", err)
	}
	// The holder renews every 300ms: its renewal is seen well before its
	// lease would expire.
	if waited := time.Since(start); waited > time.Second {
		t.Errorf("second Acquire waited %s for a renewal every 300ms", waited)
	}
	for _, w := range []string{`run "run1"`, "pod-a/1", a.Record().Token, "renewed", "expires"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
	if err := a.Err(); err != nil {
		t.Errorf("holder lost its lease to a process that only looked: %v", err)
	}
	if err := a.Release(t.Context()); err != nil {
		t.Fatalf("release: %v", err)
	}
	// Released: the next process gets it at once.
	start = time.Now()
	c, err := Acquire(t.Context(), es.Client(), opts("pod-c/3"))
	if err != nil {
		t.Fatalf("Acquire after release: %v", err)
	}
	if waited := time.Since(start); waited > 500*time.Millisecond {
		t.Errorf("Acquire after release took %s", waited)
	}
	if err := c.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestDeadHolderIsTakenOverAfterExpiry(t *testing.T) {
	es := estest.New(t)
	a, err := Acquire(t.Context(), es.Client(), opts("pod-a/1"))
	if err != nil {
		t.Fatal(err)
	}
	a.die()
	expires := a.Record().ExpiresAt
	// Two processes start at once on the dead holder's lease: one takes
	// it over, after its expiry, the other sees the new holder.
	var wg sync.WaitGroup
	got := make([]*Lease, 2)
	errs := make([]error, 2)
	for i, h := range []string{"pod-b/2", "pod-c/3"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = Acquire(t.Context(), es.Client(), opts(h))
		}()
	}
	wg.Wait()
	won := 0
	for i := range got {
		switch {
		case errs[i] == nil:
			won++
			if time.Now().Before(expires) {
				t.Errorf("taken over before the expiry %s", expires)
			}
			if d := time.Since(expires); d > time.Second {
				t.Errorf("taken over %s after the expiry", d)
			}
		case !errors.Is(errs[i], ErrHeld):
			t.Errorf("Acquire %d: %v", i, errs[i])
		}
	}
	if won != 1 {
		t.Fatalf("%d processes took the lease over, want 1: %v", won, errs)
	}
	for _, l := range got {
		if l != nil {
			if err := l.Release(t.Context()); err != nil {
				t.Error(err)
			}
		}
	}
}

func TestHolderStopsWhenTakenOver(t *testing.T) {
	es := estest.New(t)
	a, err := Acquire(t.Context(), es.Client(), opts("pod-a/1"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := a.Context(t.Context())
	defer cancel()
	// Someone writes the lease behind the holder's back.
	res, err := esapi.IndexRequest{Index: DefaultIndex, DocumentID: "run1",
		Body: bytes.NewReader([]byte(`{"run_id":"run1","holder":"intruder/9","token":"x"}`))}.Do(t.Context(), es.Client())
	if err != nil || res.IsError() {
		t.Fatalf("overwrite lease: %v %v", err, res)
	}
	res.Body.Close()
	select {
	case <-ctx.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("holder still running 2s after its lease was taken")
	}
	if err := context.Cause(ctx); !errors.Is(err, ErrLost) || !strings.Contains(err.Error(), "intruder/9") {
		t.Errorf("cause %v, want ErrLost naming intruder/9", err)
	}
	// Releasing a lost lease deletes nothing of the new holder's.
	if err := a.Release(t.Context()); !errors.Is(err, ErrLost) {
		t.Errorf("release of a lost lease: %v", err)
	}
	res, err = esapi.GetRequest{Index: DefaultIndex, DocumentID: "run1"}.Do(t.Context(), es.Client())
	if err != nil || res.StatusCode != 200 {
		t.Errorf("the new holder's lease is gone: %v %v", err, res)
	}
}

func TestHolderStopsWhenItCannotRenew(t *testing.T) {
	es := estest.Fake(t)
	a, err := Acquire(t.Context(), es.Client(), opts("pod-a/1"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Release(context.Background()) //nolint:errcheck // lost
	expires := a.Record().ExpiresAt
	es.Fake.Close() // the cluster is gone for this holder
	select {
	case <-a.Done():
	case <-time.After(3 * time.Second):
		t.Fatal("holder still running 3s after the cluster went")
	}
	// It gives up before the lease expires, so that whoever takes it over
	// after the expiry finds it stopped.
	if now := time.Now(); !now.Before(expires) {
		t.Errorf("gave up at %s, after the expiry %s", now, expires)
	}
	if !errors.Is(a.Err(), ErrLost) {
		t.Errorf("Err %v, want ErrLost", a.Err())
	}
}

func TestOptions(t *testing.T) {
	for _, o := range []Options{{}, {ID: "x", TTL: time.Millisecond}, {ID: "x", TTL: time.Minute, Renew: 40 * time.Second}} {
		if err := o.fill(); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("%+v: %v, want ErrInvalidOptions", o, err)
		}
	}
	o := Options{ID: "x"}
	if err := o.fill(); err != nil || o.TTL != DefaultTTL || o.Renew != DefaultTTL/4 || o.Index != DefaultIndex || o.Holder == "" {
		t.Errorf("defaults: %+v %v", o, err)
	}
}

// TestRenewalAnswerLost: a renewal applied whose answer is lost (the
// connection cut after Elasticsearch wrote it) leaves the next renewal
// with an old _seq_no; the holder finds its own token there and keeps
// the lease.
func TestRenewalAnswerLost(t *testing.T) {
	es := estest.New(t)
	p := fptest.New(t, es.URL, faultproxy.Options{Rules: []faultproxy.Rule{
		{Method: "PUT", Path: "^/" + DefaultIndex + "/_doc/run1$", First: 1, Action: faultproxy.CutAfterForward}}})
	c, err := elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{p.URL()}, DisableRetry: true})
	if err != nil {
		t.Fatal(err)
	}
	a, err := Acquire(t.Context(), c, opts("pod-a/1"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Release(context.Background()) //nolint:errcheck // checked below
	deadline := time.Now().Add(5 * time.Second)
	for p.Stats().Fired["rule0"] == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if p.Stats().Fired["rule0"] == 0 {
		t.Fatal("no renewal was cut")
	}
	// Several renewals later (three more PUTs of the document) the lease
	// is still held.
	for deadline := time.Now().Add(30 * time.Second); p.Stats().Matched["rule0"] < 4; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d renewals in 30 s", p.Stats().Matched["rule0"])
		}
	}
	if err := a.Err(); err != nil {
		t.Fatalf("lease lost after a renewal's answer was lost: %v", err)
	}
	if err := a.Release(t.Context()); err != nil {
		t.Errorf("release: %v", err)
	}
}
