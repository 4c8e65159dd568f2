package esscan

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/esrestore/esrestore/fixtures"
	"github.com/esrestore/esrestore/fixtures/estest"
	"github.com/esrestore/esrestore/internal/dump"
	"github.com/esrestore/esrestore/internal/retry"
)

// TestScanTotalIgnoresLiveWrites: the slices' totals add up to what the
// point in time holds, also when the index takes writes during the scan
// (where _count would not match what the scan read).
func TestScanTotalIgnoresLiveWrites(t *testing.T) {
	es := estest.NewES(t)
	docs := fixtures.Commons(1500, 2)
	if err := es.LoadDocs("live", docs, 3); err != nil {
		t.Fatal(err)
	}
	for _, slices := range []int{1, 4} {
		var total, read, calls atomic.Int64
		written := 0
		err := Scan(t.Context(), es.Client(), "live", Options{Slices: slices, PageSize: 100,
			OnTotal: func(_ int, n int64) { total.Add(n); calls.Add(1) }},
			func(ctx context.Context, _ int, page []dump.Doc) error {
				if read.Add(int64(len(page))) == int64(len(page)) {
					// The first page is in: write to the index now.
					for i := range 5 {
						written++
						estest.MustDo(t, es.Client(), esapi.IndexRequest{Index: "live", DocumentID: fmt.Sprintf("new-%d-%d", slices, i),
							Body: strings.NewReader(`{"n":1}`), Refresh: "true"})
					}
				}
				return nil
			})
		if err != nil {
			t.Fatal(err)
		}
		n, err := Count(t.Context(), es.Client(), "live")
		if err != nil {
			t.Fatal(err)
		}
		if calls.Load() != int64(slices) || total.Load() != read.Load() || n == read.Load() {
			t.Errorf("%d slices: %d totals summing to %d, read %d, _count %d (after %d writes)",
				slices, calls.Load(), total.Load(), read.Load(), n, written)
		}
	}
}

// A _count some shards did not answer is retried, never taken as the
// count: a real node recovering an index answers 200 with the count of the
// shards that did answer.
func TestCountRetriesShortAnswers(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
		w.Header().Set("Content-Type", "application/json")
		if calls.Add(1) < 3 {
			fmt.Fprint(w, `{"count":201,"_shards":{"total":3,"successful":1,"skipped":0,"failed":2}}`)
			return
		}
		fmt.Fprint(w, `{"count":600,"_shards":{"total":3,"successful":3,"skipped":0,"failed":0}}`)
	}))
	defer srv.Close()
	es, err := elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	pol := retry.Policy{Budget: time.Second, Base: time.Millisecond, Cap: time.Millisecond}
	n, err := CountRetry(t.Context(), es, "x", pol)
	if err != nil || n != 600 || calls.Load() != 3 {
		t.Fatalf("got %d, %v after %d calls, want 600 after 3", n, err, calls.Load())
	}
	calls.Store(-1000) // short answers only: the budget runs out
	if _, err := CountRetry(t.Context(), es, "x", pol); !errors.Is(err, retry.ErrBudget) {
		t.Fatalf("got %v, want the budget's error", err)
	}
}
