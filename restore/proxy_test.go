package restore_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/esrestore/esrestore/fixtures"
	"github.com/esrestore/esrestore/fixtures/estest"
	"github.com/esrestore/esrestore/fixtures/faultproxy"
	"github.com/esrestore/esrestore/fixtures/faultproxy/fptest"
	"github.com/esrestore/esrestore/internal/retry"
	"github.com/esrestore/esrestore/restore"
)

// TestFaultsThroughProxy: the faults a cluster's network and load balancer
// make (5xx answers, 429 answers, connections cut before, after and in
// the middle of the answer) cost retries, not documents, on whatever
// cluster the test runs (the real node when asked). A bulk cut after it
// reached the node was applied: sent again it must leave the same target.
func TestFaultsThroughProxy(t *testing.T) {
	bulk := `/_bulk$`
	for _, tt := range []struct {
		name  string
		rules []faultproxy.Rule
	}{
		{"502-503-504", []faultproxy.Rule{
			{Name: "503", Method: "POST", Path: bulk, Every: 4, Action: faultproxy.Status, Code: 503},
			{Name: "502", Method: "POST", Path: bulk, Every: 7, Action: faultproxy.Status, Code: 502},
			{Name: "504", Method: "POST", Path: bulk, Every: 9, Action: faultproxy.Status, Code: 504},
		}},
		{"429-requests", []faultproxy.Rule{{Name: "429", Method: "POST", Path: bulk, Fraction: 0.3, Action: faultproxy.Status, Code: 429}}},
		{"cut-before", []faultproxy.Rule{{Name: "cut", Method: "POST", Path: bulk, Every: 3, Action: faultproxy.Cut}}},
		{"cut-after-forward", []faultproxy.Rule{{Name: "cut", Method: "POST", Path: bulk, Every: 3, Action: faultproxy.CutAfterForward}}},
		{"cut-mid-body", []faultproxy.Rule{{Name: "cut", Method: "POST", Path: bulk, Every: 3, Action: faultproxy.CutMidBody, Bytes: 40}}},
		{"slow-search", []faultproxy.Rule{{Name: "slow", Path: `/_search$`, Every: 2, Action: faultproxy.Delay, Delay: 50 * time.Millisecond}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			es, sc := loss(t, 600, 5)
			untouched(t, es, original)
			p := fptest.New(t, es.URL, faultproxy.Options{Seed: 7, Rules: tt.rules})
			opt := options("proxy-faults")
			// Both sides written whole: many _bulk requests for the faults
			// to hit (a snapshot restored as the target writes few).
			opt.Strategy = restore.StrategyPasses
			var fails bytes.Buffer
			opt.Failures = &fails
			c := client(t, p.URL(), nil)
			r, err := restore.New(c, opt)
			if err != nil {
				t.Fatal(err)
			}
			st, err := r.Run(t.Context(), restore.SnapshotSource(c, repo, snap, "", false, ""))
			if err != nil {
				t.Fatalf("Run: %v (proxy %+v)", err, p.Stats().Fired)
			}
			fired := p.Stats().Fired
			p.SetRules(nil) //nolint:errcheck // no rules cannot be invalid
			direct := es.Client()
			sameDocs(t, docsOf(t, direct, target), expected(sc, restore.ModeMerge, restore.PreferOriginal))
			invariant(t, direct, st)
			if st.Failed != 0 || fails.Len() != 0 {
				t.Errorf("failed %d: %.500s", st.Failed, fails.String())
			}
			var n int64
			for _, f := range fired {
				n += f
			}
			if n == 0 {
				t.Fatalf("no fault fired (%+v)", p.Stats())
			}
			if tt.name != "slow-search" && st.Retried == 0 {
				t.Errorf("%d faults fired, retried %d", n, st.Retried)
			}
		})
	}
}

// TestRealRejections: a node whose write queue overflows rejects bulk
// items with 429 es_rejected_execution_exception; every one is retried and
// nothing is lost. On the stand-in the rejections are injected.
func TestRealRejections(t *testing.T) {
	es := estest.NewWriteQueue(t, 1)
	sc := fixtures.NewScenario(1500, 0.1, 6)
	es.LoadScenario(t, original, repo, snap, sc, 3)
	if es.Fake != nil {
		es.Fake.SetFaults(fixtures.Faults{Seed: 4, BulkItemReject: 0.2, Endpoints: []string{"bulk"}})
	}
	opt := options("rejections")
	opt.Strategy = restore.StrategyPasses
	opt.Workers = 6
	// Six workers share one write thread and a queue of one: the 5 ms
	// backoff of the other tests is a hot loop here, and on a busy machine
	// one worker can lose every race for the slot within 2 s. A backoff that
	// grows to half a second, within the product's default budget, is what
	// a loaded cluster gets in production.
	opt.Retry = retry.Policy{Budget: retry.DefaultBudget, Base: 10 * time.Millisecond, Cap: 500 * time.Millisecond}
	var fails bytes.Buffer
	opt.Failures = &fails
	r, err := restore.New(es.Client(), opt)
	if err != nil {
		t.Fatal(err)
	}
	st, err := r.Run(t.Context(), restore.SnapshotSource(es.Client(), repo, snap, "", false, ""))
	if es.Fake != nil {
		es.Fake.SetFaults(fixtures.Faults{})
	}
	if err != nil {
		t.Fatal(err)
	}
	c := es.Client()
	sameDocs(t, docsOf(t, c, target), expected(sc, restore.ModeMerge, restore.PreferOriginal))
	invariant(t, c, st)
	if st.Failed != 0 || fails.Len() != 0 {
		t.Errorf("failed %d: %.500s", st.Failed, fails.String())
	}
	if st.Retried == 0 {
		t.Errorf("retried 0: the node rejected nothing")
	}
	t.Logf("retried %d of %d read", st.Retried, st.Read)
}
