package diff

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8"

	"github.com/esrestore/esrestore/fixtures/estest"
	"github.com/esrestore/esrestore/fixtures/faultproxy"
	"github.com/esrestore/esrestore/fixtures/faultproxy/fptest"
	"github.com/esrestore/esrestore/internal/retry"
)

// proxied is a client of url with no retries of its own.
func proxied(t testing.TB, url string, rt http.RoundTripper) *elasticsearch.Client {
	t.Helper()
	c, err := elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{url}, DisableRetry: true, Transport: rt})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestFaultsThroughProxyDiff: 429 and 5xx answers and cut connections on
// the scan and the lookups, on whatever cluster the test runs (the real
// node when asked), give the report of an undisturbed diff.
func TestFaultsThroughProxyDiff(t *testing.T) {
	es := estest.New(t)
	twoIndexes(t, es, 400)
	c := es.Client()
	want, wantCounts := runDiff(t, IndexSide(c, "orig"), IndexSide(c, "rest"), Options{PageSize: 25})
	for _, tt := range []struct {
		name  string
		rules []faultproxy.Rule
	}{
		{"429-503-on-mget", []faultproxy.Rule{
			{Name: "429", Path: `/_mget$`, Every: 3, Action: faultproxy.Status, Code: 429},
			{Name: "503", Path: `/_mget$`, Every: 5, Action: faultproxy.Status, Code: 503},
		}},
		{"502-504-on-search", []faultproxy.Rule{
			{Name: "502", Path: `/_search$`, Every: 4, Action: faultproxy.Status, Code: 502},
			{Name: "504", Path: `/_search$`, Every: 7, Action: faultproxy.Status, Code: 504},
		}},
		{"cut-connections", []faultproxy.Rule{
			{Name: "cut-mget", Method: "POST", Path: `/_mget$`, Every: 4, Action: faultproxy.Cut},
			{Name: "cut-search-mid-body", Method: "POST", Path: `/_search$`, Every: 5, Action: faultproxy.CutMidBody, Bytes: 30},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := fptest.New(t, es.URL, faultproxy.Options{Seed: 3, Rules: tt.rules})
			pc := proxied(t, p.URL(), nil)
			got, gotCounts := runDiff(t, IndexSide(pc, "orig"), IndexSide(pc, "rest"),
				Options{PageSize: 25, Retry: retry.Policy{Budget: time.Minute, Base: time.Millisecond, Cap: 20 * time.Millisecond}})
			var fired int64
			for _, n := range p.Stats().Fired {
				fired += n
			}
			if fired == 0 {
				t.Fatalf("no fault fired: %+v", p.Stats())
			}
			gotCounts.Rescans = 0
			if g, w := countsJSON(t, gotCounts), countsJSON(t, wantCounts); got != want || g != w {
				t.Errorf("%d faults: counts %s, want %s; reports equal: %v", fired, g, w, got == want)
			}
		})
	}
}

// TestNodeRestartMidDiff: the node dies (SIGKILL on a real node) in the
// middle of the lookups and comes back on the same data; its points in
// time are gone with it. The diff waits, reopens what it needs, and
// reports what an undisturbed diff reports.
func TestNodeRestartMidDiff(t *testing.T) {
	es := estest.New(t)
	twoIndexes(t, es, 600)
	c := es.Client()
	want, wantCounts := runDiff(t, IndexSide(c, "orig"), IndexSide(c, "rest"), Options{PageSize: 25})

	var mgets atomic.Int64
	var once sync.Once
	restarted := make(chan error, 1)
	rt := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		if req.URL.Path == "/rest/_mget" && mgets.Add(1) == 5 {
			once.Do(func() {
				// Down now, back in the background: the diff meets a
				// refused connection, then 503s while shards recover.
				if err := es.Stop(true); err != nil {
					restarted <- err
					return
				}
				go func() { restarted <- es.Start() }()
			})
		}
		return http.DefaultTransport.RoundTrip(req)
	})
	got, gotCounts := runDiff(t, IndexSide(proxied(t, es.URL, rt), "orig"), IndexSide(proxied(t, es.URL, rt), "rest"),
		Options{PageSize: 25, Retry: retry.Policy{Budget: 2 * time.Minute, Base: 10 * time.Millisecond, Cap: time.Second}})
	select {
	case err := <-restarted:
		if err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatalf("the node was not restarted during the diff (%d _mget requests)", mgets.Load())
	}
	// The stand-in keeps its points in time across Stop and Start (its
	// memory is the test's); a real node loses them.
	if es.Real() && gotCounts.Rescans == 0 {
		t.Errorf("no rescan after the node lost its points in time")
	}
	gotCounts.Rescans = 0
	if g, w := countsJSON(t, gotCounts), countsJSON(t, wantCounts); got != want || g != w {
		t.Errorf("across a restart: counts %s, want %s; reports equal: %v", g, w, got == want)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
