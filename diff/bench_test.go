package diff

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/esrestore/esrestore/fixtures"
	"github.com/esrestore/esrestore/fixtures/estest"
	"github.com/esrestore/esrestore/internal/dump"
	"github.com/esrestore/esrestore/internal/esscan"

	"github.com/esrestore/esrestore/internal/retry"
)

// benchPairs returns n pairs of ~2 KB Commons documents (1.8 to 2.3 KB),
// the second made from the first by edit.
func benchPairs(b *testing.B, n int, edit func(i int, src []byte) []byte) (pairs [][2][]byte, avg int) {
	b.Helper()
	total := 0
	for i := 0; len(pairs) < n; i++ {
		d := fixtures.CommonsDoc(i, 11)
		if len(d.Source) < 1800 || len(d.Source) > 2300 {
			continue
		}
		pairs = append(pairs, [2][]byte{d.Source, edit(len(pairs), d.Source)})
		total += len(d.Source)
	}
	return pairs, total / n
}

// reencode returns src with its keys sorted and its escapes changed, as
// another tool writing the same document would.
func reencode(b *testing.B, _ int, src []byte) []byte {
	var v any
	if err := json.Unmarshal(src, &v); err != nil {
		b.Fatal(err)
	}
	out, err := json.Marshal(v)
	if err != nil {
		b.Fatal(err)
	}
	return out
}

// BenchmarkCompare measures the compare step alone, one goroutine, so
// docs/s is per core.
func BenchmarkCompare(b *testing.B) {
	cases := []struct {
		name string
		edit func(b *testing.B, i int, src []byte) []byte
	}{
		{"equal-bytes", func(_ *testing.B, _ int, src []byte) []byte { return bytes.Clone(src) }},
		{"equal-reordered", reencode},
		{"one-field-changed", func(_ *testing.B, _ int, src []byte) []byte {
			return bytes.Replace(src, []byte(`"visibility":"`), []byte(`"visibility":"x`), 1)
		}},
		{"fields-stripped", func(_ *testing.B, _ int, src []byte) []byte {
			var m map[string]json.RawMessage
			json.Unmarshal(src, &m)
			delete(m, "excerpt")
			delete(m, "tags")
			out, _ := json.Marshal(m)
			return out
		}},
		{"mix-1pct-changed", func(_ *testing.B, i int, src []byte) []byte {
			if i%100 == 0 {
				return bytes.Replace(src, []byte(`"visibility":"`), []byte(`"visibility":"x`), 1)
			}
			return bytes.Clone(src)
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			pairs, avg := benchPairs(b, 1000, func(i int, src []byte) []byte { return c.edit(b, i, src) })
			w := &worker{cmp: newComparer(nil, true)}
			b.SetBytes(int64(avg * len(pairs)))
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				for _, p := range pairs {
					patch, equal, err := w.cmp.compare(p[0], p[1])
					if err != nil {
						b.Fatal(err)
					}
					if !equal {
						change := ChangeRecovered
						if overwrites(patch) {
							change = ChangeOverwritten
						}
						w.buf = appendPatchLine(w.buf[:0], "id", change, "", "", patch, nil)
					}
				}
				n += len(pairs)
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "docs/s")
		})
	}
}

// benchES is one fixture cluster shared by the index benchmarks: loading
// 100k documents twice takes longer than a benchmark run.
var benchES struct {
	once sync.Once
	es   *fixtures.ES
	n    int
}

const benchDocs = 100_000

// loadBenchIndexes loads n Commons documents into "bench_orig" and the same
// with 1% changed into "bench_rest".
func loadBenchIndexes(b *testing.B, es *fixtures.Server, n int) {
	b.Helper()
	docs := fixtures.Commons(n, 1)
	if err := es.LoadDocs("bench_orig", docs, 3); err != nil {
		b.Fatal(err)
	}
	for i := range docs {
		if i%100 == 0 {
			docs[i].Source = bytes.Replace(docs[i].Source, []byte(`"visibility":"`), []byte(`"visibility":"x`), 1)
		}
	}
	if err := es.LoadDocs("bench_rest", docs, 3); err != nil {
		b.Fatal(err)
	}
}

func sharedBenchES(b *testing.B) *fixtures.ES {
	benchES.once.Do(func() {
		es, err := fixtures.Listen("127.0.0.1:0", fixtures.NewServer(fixtures.Options{}))
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		loadBenchIndexes(b, es.Server, benchDocs)
		b.Logf("loaded 2 × %d documents in %s", benchDocs, time.Since(start).Round(time.Millisecond))
		benchES.es = es
	})
	return benchES.es
}

// rawScan does the requests of a diff between two indexes and nothing
// else: pass 1 scans orig and fetches the same ids with their sources from
// rest; with both set, pass 2 scans rest's ids and asks orig for them
// without sources.
func rawScan(ctx context.Context, c *elasticsearch.Client, orig, rest string, workers, pageSize int, both bool) (int64, error) {
	var n atomic.Int64
	opt := esscan.Options{Slices: workers, PageSize: pageSize}
	err := esscan.Scan(ctx, c, orig, opt, func(ctx context.Context, _ int, page []dump.Doc) error {
		l := make([]lookup, len(page))
		for i, d := range page {
			l[i] = lookup{id: d.ID, routing: d.Routing}
		}
		_, err := mget(ctx, c, rest, l, true, retry.Policy{})
		n.Add(int64(len(page)))
		return err
	})
	if err != nil || !both {
		return n.Load(), err
	}
	opt.NoSource = true
	return n.Load(), esscan.Scan(ctx, c, rest, opt, func(ctx context.Context, _ int, page []dump.Doc) error {
		l := make([]lookup, len(page))
		for i, d := range page {
			l[i] = lookup{id: d.ID, routing: d.Routing}
		}
		_, err := mget(ctx, c, orig, l, false, retry.Policy{})
		return err
	})
}

// BenchmarkDiffIndexes measures a diff of two 100k-document indexes with 1%
// changed, one sub-benchmark per worker count. Each iteration also runs,
// interleaved so that a busy machine slows all alike, a raw scan doing the
// same requests without comparing ("raw": pass 1 and pass 2) and pass 1's
// requests alone ("scan+mget": PIT scan of one index, _mget of the other).
// docs/s is the diff's; x_raw and x_scan+mget are its throughput as a
// fraction of theirs.
func BenchmarkDiffIndexes(b *testing.B) {
	es := sharedBenchES(b)
	c := es.Client()
	for _, workers := range []int{1, 2, 4, 8} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			b.ReportAllocs()
			var tDiff, tRaw, tScan time.Duration
			var counts Counts
			for b.Loop() {
				t0 := time.Now()
				if _, err := rawScan(b.Context(), c, "bench_orig", "bench_rest", workers, DefaultPageSize, false); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				n, err := rawScan(b.Context(), c, "bench_orig", "bench_rest", workers, DefaultPageSize, true)
				if err != nil || n != benchDocs {
					b.Fatalf("raw scan: %d documents, %v", n, err)
				}
				t2 := time.Now()
				d := New(Options{Workers: workers, Logger: quiet, TempDir: b.TempDir()})
				if counts, err = d.Run(b.Context(), IndexSide(c, "bench_orig"), IndexSide(c, "bench_rest"), io.Discard); err != nil {
					b.Fatal(err)
				}
				t3 := time.Now()
				tScan, tRaw, tDiff = tScan+t1.Sub(t0), tRaw+t2.Sub(t1), tDiff+t3.Sub(t2)
			}
			// The edit replaces a value: every changed document is overwritten.
			if o := counts.Outcome; o.Overwritten != benchDocs/100 || o.Recovered != 0 {
				b.Fatalf("got %d overwritten and %d recovered, want %d overwritten", o.Overwritten, o.Recovered, benchDocs/100)
			}
			n := float64(benchDocs * b.N)
			b.ReportMetric(n/tDiff.Seconds(), "docs/s")
			b.ReportMetric(n/tRaw.Seconds(), "raw_docs/s")
			b.ReportMetric(n/tScan.Seconds(), "scan+mget_docs/s")
			b.ReportMetric(tRaw.Seconds()/tDiff.Seconds(), "x_raw")
			b.ReportMetric(tScan.Seconds()/tDiff.Seconds(), "x_scan+mget")
		})
	}
}

// BenchmarkDiffMemory reports the peak memory of a diff between the
// Commons loss scenario's original index "documents" (1% lost, 0.5%
// stripped) and its snapshot restored as "restored_documents", with
// ESRESTORE_TEST_BENCH_DOCS documents (default 100k) and 4 workers.
//
// With ESRESTORE_TEST_ES_URL set, the indexes are read from that cluster,
// e.g. an esfake process started with --docs N --loss 0.01 (the snapshot is
// restored on the first run), so that the heap measured is the diff's
// alone; run this benchmark alone in its process for max_rss to mean
// anything. Otherwise an in-process fixture server holds the data, and its
// transient answers count too.
func BenchmarkDiffMemory(b *testing.B) {
	n := benchDocs
	if v := os.Getenv("ESRESTORE_TEST_BENCH_DOCS"); v != "" {
		if _, err := fmt.Sscan(v, &n); err != nil {
			b.Fatalf("ESRESTORE_TEST_BENCH_DOCS=%q: %v", v, err)
		}
	}
	var c *elasticsearch.Client
	if url := os.Getenv("ESRESTORE_TEST_ES_URL"); url != "" {
		var err error
		if c, err = elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{url}}); err != nil {
			b.Fatal(err)
		}
	} else {
		es := estest.NewES(b)
		if err := es.LoadScenario("documents", "backups", "before-loss", fixtures.NewScenario(n, 0.01, 1), 3); err != nil {
			b.Fatal(err)
		}
		c = es.Client()
	}
	res, err := esapi.IndicesExistsRequest{Index: []string{"restored_documents"}}.Do(b.Context(), c)
	if err != nil {
		b.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode == 404 {
		restoreSnapshot(b, c, "backups", "before-loss", "documents", "restored_documents")
	}
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var m runtime.MemStats
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				runtime.ReadMemStats(&m)
				if m.HeapInuse > peak.Load() {
					peak.Store(m.HeapInuse)
				}
			}
		}
	}()
	var counts Counts
	for b.Loop() {
		var err error
		d := New(Options{Workers: 4, Logger: quiet, TempDir: b.TempDir()})
		if counts, err = d.Run(b.Context(), IndexSide(c, "documents"), IndexSide(c, "restored_documents"), io.Discard); err != nil {
			b.Fatal(err)
		}
	}
	close(stop)
	<-done
	if counts.Outcome.Target != int64(n) {
		b.Fatalf("diffed %d restored documents, want %d", counts.Outcome.Target, n)
	}
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "docs/s")
	b.ReportMetric(float64(peak.Load()-min(peak.Load(), base.HeapInuse))/(1<<20), "peak_heap_MiB")
	b.ReportMetric(float64(ru.Maxrss)/1024, "max_rss_MiB")
	b.ReportMetric(float64(counts.Outcome.Added), "added")
	b.ReportMetric(float64(counts.Outcome.Recovered), "recovered")
	b.ReportMetric(float64(counts.Outcome.Overwritten), "overwritten")
}

// BenchmarkDiffDumps measures the sort-merge join on two 100k-document
// NDJSON dumps held in memory, 1% changed, with every side and the report
// sorted in memory (default budget) or spilled in 4 MiB runs.
func BenchmarkDiffDumps(b *testing.B) {
	var orig, rest []byte
	for i := range benchDocs {
		d := fixtures.CommonsDoc(i, 1)
		orig = dump.AppendLine(orig, dump.Doc{ID: d.ID, Source: d.Source})
		if i%100 == 0 {
			d.Source = bytes.Replace(d.Source, []byte(`"visibility":"`), []byte(`"visibility":"x`), 1)
		}
		rest = dump.AppendLine(rest, dump.Doc{ID: d.ID, Source: d.Source})
	}
	for _, budget := range []int64{0, 4 << 20} {
		for _, workers := range []int{1, 4} {
			b.Run(fmt.Sprintf("budget=%dMiB/workers=%d", budget>>20, workers), func(b *testing.B) {
				b.SetBytes(int64(len(orig) + len(rest)))
				b.ReportAllocs()
				for b.Loop() {
					c, err := Run(b.Context(), stringSide("orig.ndjson", string(orig)), stringSide("rest.ndjson", string(rest)), io.Discard,
						Options{Workers: workers, MemoryBudget: budget, Logger: quiet, TempDir: b.TempDir()})
					if err != nil {
						b.Fatal(err)
					}
					if o := c.Outcome; o.Overwritten != benchDocs/100 || o.Recovered != 0 {
						b.Fatalf("got %d overwritten and %d recovered, want %d overwritten", o.Overwritten, o.Recovered, benchDocs/100)
					}
				}
				b.ReportMetric(float64(benchDocs*b.N)/b.Elapsed().Seconds(), "docs/s")
			})
		}
	}
}
