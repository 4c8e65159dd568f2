package esscan

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/esrestore/esrestore/fixtures"
	"github.com/esrestore/esrestore/fixtures/estest"
	"github.com/esrestore/esrestore/internal/dump"
	"github.com/esrestore/esrestore/internal/elastic"
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
		n, err := elastic.Count(t.Context(), es.Client(), "live", retry.Policy{})
		if err != nil {
			t.Fatal(err)
		}
		if calls.Load() != int64(slices) || total.Load() != read.Load() || n == read.Load() {
			t.Errorf("%d slices: %d totals summing to %d, read %d, _count %d (after %d writes)",
				slices, calls.Load(), total.Load(), read.Load(), n, written)
		}
	}
}
