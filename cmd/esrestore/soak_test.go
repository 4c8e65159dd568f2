package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/esrestore/esrestore/fixtures"
	"github.com/esrestore/esrestore/fixtures/estest"
	"github.com/esrestore/esrestore/internal/dump"
	"github.com/esrestore/esrestore/internal/esscan"
)

var (
	soakLong   = flag.Bool("soak.long", false, "soak longer: 60s outages, more runs")
	soakOutage = flag.Duration("soak.outage", 0, "outage of the soak test in each phase (default 20s, 60s with -soak.long)")
)

// faultMix is the production trouble the job must survive on defaults:
// a fifth of bulk items rejected, one request in twenty answered 503, one
// response in thirty-three cut, on every endpoint.
func faultMix(seed uint64) fixtures.Faults {
	return fixtures.Faults{Seed: seed, BulkItemReject: 0.2, Unavailable503: 0.05, DropConnection: 0.03}
}

// outageProxy serves a fixture server on an address of its own and can go
// down for a while: the listener closed and every connection cut, as a
// cluster whose nodes restart. trigger decides, per request path, when.
type outageProxy struct {
	srv  *fixtures.Server
	addr string
	URL  string

	mu   sync.Mutex
	hs   *http.Server
	down atomic.Bool

	bulks, mgets atomic.Int64
	outages      atomic.Int64
	// onRequest is called for every request with the counts so far; it
	// returns an outage to start now, or 0.
	onRequest func(p *outageProxy, path string) time.Duration
}

func newOutageProxy(t *testing.T, srv *fixtures.Server) *outageProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &outageProxy{srv: srv, addr: ln.Addr().String()}
	p.URL = "http://" + p.addr
	p.serve(ln)
	t.Cleanup(p.stop)
	return p
}

func (p *outageProxy) serve(ln net.Listener) {
	hs := &http.Server{Handler: http.HandlerFunc(p.handle), ReadHeaderTimeout: 10 * time.Second}
	p.mu.Lock()
	p.hs = hs
	p.mu.Unlock()
	go hs.Serve(ln) //nolint:errcheck // ErrServerClosed on stop
}

func (p *outageProxy) stop() {
	p.mu.Lock()
	hs := p.hs
	p.hs = nil
	p.mu.Unlock()
	if hs != nil {
		hs.Close()
	}
}

func (p *outageProxy) handle(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasSuffix(r.URL.Path, "/_bulk"):
		p.bulks.Add(1)
	case strings.HasSuffix(r.URL.Path, "/_mget"):
		p.mgets.Add(1)
	}
	if p.onRequest != nil {
		if d := p.onRequest(p, r.URL.Path); d > 0 && p.down.CompareAndSwap(false, true) {
			p.outages.Add(1)
			go p.outage(d)
			panic(http.ErrAbortHandler) // this request dies with the node
		}
	}
	p.srv.ServeHTTP(w, r)
}

// outage stops serving for d, then listens again on the same address.
func (p *outageProxy) outage(d time.Duration) {
	p.stop()
	// The outage is what the soak puts the run through, on the real clock
	// its retry budget is counted on (-soak.outage).
	time.Sleep(d)
	for { // until the address is free again
		ln, err := net.Listen("tcp", p.addr)
		if err == nil {
			p.serve(ln)
			p.down.Store(false)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// expectedTarget is what a merge restore of sc makes the target.
func expectedTarget(sc fixtures.Scenario, prefer string) map[string]string {
	win, other := sc.Original, sc.Complete
	if prefer == "source" {
		win, other = sc.Complete, sc.Original
	}
	out := map[string]string{}
	for _, d := range win {
		out[d.ID] = string(d.Source)
	}
	for _, d := range other {
		if _, ok := out[d.ID]; !ok {
			out[d.ID] = string(d.Source)
		}
	}
	return out
}

func indexDocs(t *testing.T, es *estest.Cluster, index string) map[string]string {
	t.Helper()
	var mu sync.Mutex
	out := map[string]string{}
	err := esscan.Scan(t.Context(), es.Client(), index, esscan.Options{}, func(_ context.Context, _ int, page []dump.Doc) error {
		mu.Lock()
		defer mu.Unlock()
		for _, d := range page {
			out[d.ID] = string(d.Source)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("scan %s: %v", index, err)
	}
	return out
}

// TestSoakFaultsAndOutages runs the whole job on defaults under the fault
// mix, with the cluster down for an outage in the restore and again in
// the diff, for both prefers: each run must finish (exit 0 or 3) with the
// expected target, the counts adding up, nothing failed and the original
// untouched.
func TestSoakFaultsAndOutages(t *testing.T) {
	estest.StandInOnly(t) // faults and outages: the stand-in's, about 100 s of waiting
	outage := 20 * time.Second
	runs := 1
	if *soakLong {
		outage, runs = 60*time.Second, 3
	}
	if *soakOutage > 0 {
		outage = *soakOutage
	}
	var finished, started atomic.Int64
	var longest atomic.Int64
	t.Cleanup(func() {
		t.Logf("soak: %d of %d runs finished under the fault mix with defaults; outages of %s survived in restore and diff (longest %s)",
			finished.Load(), started.Load(), outage, time.Duration(longest.Load()))
	})
	for _, prefer := range []string{"original", "source"} {
		for i := range runs {
			t.Run(fmt.Sprintf("prefer-%s/%d", prefer, i), func(t *testing.T) {
				t.Parallel()
				es, sc := fakeLossCluster(t, 1000) // faults and outages: the stand-in
				before := indexState(t, es, "documents")
				px := newOutageProxy(t, es.Fake.Server)
				var restoreDown, diffDown atomic.Bool
				px.onRequest = func(p *outageProxy, path string) time.Duration {
					switch {
					// The restore reconciles the original into the target
					// restored from the snapshot: it reads the target's
					// copies with _mget (and writes few documents).
					case p.mgets.Load() == 2 && restoreDown.CompareAndSwap(false, true):
						return outage
					// Only the diff reads the backup, in the staging index.
					case strings.HasPrefix(path, "/esrestore-staging-soak/_mget") && diffDown.CompareAndSwap(false, true):
						return outage
					}
					return 0
				}
				es.Fake.SetFaults(faultMix(uint64(i + 1)))
				out := t.TempDir()
				c := newCLI(t)
				args := []string{"run", "--es-url", px.URL, "--original", "documents", "--source", "snapshot:backups/before-loss",
					"--target", "documents_restored", "--output", "file://" + out, "--environment", "soak", "--run-id", "soak",
					"--progress", "0", "--prefer", prefer, "--fail-on", "failed,removed", "--log-level", "warn"}
				started.Add(1)
				start := time.Now()
				code := c.run(t.Context(), args...)
				es.Fake.SetFaults(fixtures.Faults{})
				if code != exitOK && code != exitFailOn {
					t.Fatalf("exit %d after %s, want 0 or 3 (injected %v, outages %d)\n%.3000s", code, time.Since(start), es.Fake.Injected(),
						px.outages.Load(), c.stderr.String())
				}
				if px.outages.Load() != 2 {
					t.Errorf("%d outages happened, want one in the restore and one in the diff", px.outages.Load())
				}
				s := readSummary(t, out, "documents", "soak")
				r := s.Restore
				if !s.Complete || r == nil || r.Read != r.Indexed+r.Kept+r.Failed+r.Pending || r.Pending != 0 || r.Failed != 0 {
					t.Fatalf("summary: complete %v, restore %+v: want complete, read = indexed + kept + failed + pending, none failed or pending", s.Complete, r)
				}
				got, want := indexDocs(t, es, "documents_restored"), expectedTarget(sc, prefer)
				lost := 0
				for id, src := range want {
					if got[id] != src {
						lost++
					}
				}
				if lost != 0 || len(got) != len(want) {
					t.Errorf("target: %d of %d documents missing or different, %d documents, want %d", lost, len(want), len(got), len(want))
				}
				if indexState(t, es, "documents") != before {
					t.Error("the original changed")
				}
				if !t.Failed() {
					finished.Add(1)
					for {
						l := longest.Load()
						if int64(outage) <= l || longest.CompareAndSwap(l, int64(outage)) {
							break
						}
					}
				}
				t.Logf("prefer %s: exit %d in %s, restore %+v, injected %v", prefer, code, time.Since(start).Round(time.Second), *r, es.Fake.Injected())
			})
		}
	}
}
