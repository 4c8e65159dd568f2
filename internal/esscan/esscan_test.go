package esscan

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/esrestore/esrestore/fixtures"
	"github.com/esrestore/esrestore/fixtures/estest"
	"github.com/esrestore/esrestore/internal/dump"
	"github.com/esrestore/esrestore/internal/elastic"
	"github.com/esrestore/esrestore/internal/retry"
)

func scanIDs(t *testing.T, es *fixtures.ES, index string, opt Options) ([]string, error) {
	t.Helper()
	var mu sync.Mutex
	var ids []string
	err := Scan(t.Context(), es.Client(), index, opt, func(_ context.Context, _ int, page []dump.Doc) error {
		mu.Lock()
		defer mu.Unlock()
		for _, d := range page {
			if !opt.NoSource && len(d.Source) == 0 {
				t.Errorf("doc %s: no source", d.ID)
			}
			if opt.NoSource && len(d.Source) != 0 {
				t.Errorf("doc %s: source with NoSource", d.ID)
			}
			ids = append(ids, d.ID)
		}
		return nil
	})
	sort.Strings(ids)
	return ids, err
}

func TestScanEverySliceCount(t *testing.T) {
	es := estest.NewES(t)
	docs := fixtures.Commons(1234, 5)
	if err := es.LoadDocs("docs", docs, 3); err != nil {
		t.Fatal(err)
	}
	want := make([]string, len(docs))
	for i, d := range docs {
		want[i] = d.ID
	}
	sort.Strings(want)
	for _, opt := range []Options{{}, {Slices: 2, PageSize: 100}, {Slices: 5, PageSize: 77, NoSource: true}} {
		got, err := scanIDs(t, es, "docs", opt)
		if err != nil {
			t.Fatalf("%+v: %v", opt, err)
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%+v: scanned %d ids, want the %d loaded", opt, len(got), len(want))
		}
	}
	n, err := elastic.Count(t.Context(), es.Client(), "docs", retry.Policy{})
	if err != nil || n != int64(len(docs)) {
		t.Errorf("Count = %d, %v; want %d", n, err, len(docs))
	}
}

// fastRetry is a policy for tests: short delays and budget.
var fastRetry = retry.Policy{Budget: 300 * time.Millisecond, Base: time.Millisecond, Cap: 10 * time.Millisecond}

func TestScanNeverShort(t *testing.T) {
	es := estest.NewES(t)
	if err := es.LoadDocs("docs", fixtures.Commons(300, 1), 3); err != nil {
		t.Fatal(err)
	}
	es.SetFaults(fixtures.Faults{ShardFailure: 1})
	_, err := scanIDs(t, es, "docs", Options{PageSize: 50, Retry: fastRetry})
	if !errors.Is(err, ErrShardFailure) || !errors.Is(err, retry.ErrBudget) {
		t.Errorf("persistent shard failure: got %v, want ErrShardFailure past the retry budget", err)
	}
	es.SetFaults(fixtures.Faults{})
	if _, err := scanIDs(t, es, "nope", Options{Retry: fastRetry}); !errors.Is(err, elastic.ErrIndexNotFound) {
		t.Errorf("missing index: got %v, want ErrIndexNotFound", err)
	}
}

func TestScanSurvivesShardFailuresAndExpiry(t *testing.T) {
	es := estest.NewES(t)
	docs := fixtures.Commons(300, 1)
	if err := es.LoadDocs("docs", docs, 3); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		f       fixtures.Faults
		slices  int
		reopens bool
	}{
		{"shard failures on some pages", fixtures.Faults{Seed: 2, ShardFailure: 0.3}, 1, false},
		{"point in time expires every 2 pages", fixtures.Faults{ExpireContextsAfter: 2}, 1, true},
		{"expiry, sliced", fixtures.Faults{ExpireContextsAfter: 3}, 3, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			es.SetFaults(tt.f)
			var reopened atomic.Int64
			opt := Options{PageSize: 50, Slices: tt.slices, Retry: retry.Policy{Base: time.Millisecond, Cap: 5 * time.Millisecond},
				OnReopen: func(int) { reopened.Add(1) }}
			got, err := scanIDs(t, es, "docs", opt)
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			for _, id := range got {
				seen[id] = true
			}
			if len(seen) != len(docs) {
				t.Errorf("scanned %d distinct ids, want %d", len(seen), len(docs))
			}
			if tt.reopens != (reopened.Load() > 0) {
				t.Errorf("reopened %d times, want reopens %v (injected %v)", reopened.Load(), tt.reopens, es.Injected())
			}
		})
	}
}

func TestScanRetriesTransientErrors(t *testing.T) {
	es := estest.NewES(t)
	if err := es.LoadDocs("docs", fixtures.Commons(400, 1), 2); err != nil {
		t.Fatal(err)
	}
	es.SetFaults(fixtures.Faults{Seed: 3, Reject429: 0.3, Unavailable503: 0.2, Endpoints: []string{"search"}})
	got, err := scanIDs(t, es, "docs", Options{PageSize: 40, Retry: retry.Policy{Base: time.Millisecond, Cap: 5 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 400 {
		t.Errorf("scanned %d, want 400", len(got))
	}
	inj := es.Injected()
	if inj["429"]+inj["503"] == 0 {
		t.Errorf("no faults injected: %v", inj)
	}
}

// BenchmarkScan reads 100k Commons documents through a point in time and
// pairs each run with the fixture's ideal scan client, reporting the ratio.
func BenchmarkScan(b *testing.B) {
	es := estest.NewES(b)
	const n = 100_000
	if err := es.LoadGenerated("docs", n, 1, 3); err != nil {
		b.Fatal(err)
	}
	for _, slices := range []int{1, 4} {
		b.Run(fmt.Sprintf("slices=%d", slices), func(b *testing.B) {
			var ours, ceiling time.Duration
			b.ReportAllocs()
			for b.Loop() {
				start := time.Now()
				var got atomic.Int64
				err := Scan(b.Context(), es.Client(), "docs", Options{Slices: slices}, func(_ context.Context, _ int, page []dump.Doc) error {
					got.Add(int64(len(page)))
					return nil
				})
				if err != nil || got.Load() != n {
					b.Fatalf("scanned %d: %v", got.Load(), err)
				}
				ours += time.Since(start)
				start = time.Now()
				if m, err := fixtures.ScanAll(b.Context(), es.URL, "docs", slices, 1000); err != nil || m != n {
					b.Fatalf("ceiling scanned %d: %v", m, err)
				}
				ceiling += time.Since(start)
			}
			b.ReportMetric(float64(n*b.N)/ours.Seconds(), "docs/s")
			b.ReportMetric(ceiling.Seconds()/ours.Seconds(), "ratio")
		})
	}
}
