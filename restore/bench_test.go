package restore_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/esrestore/esrestore/fixtures"
	"github.com/esrestore/esrestore/fixtures/estest"
	"github.com/esrestore/esrestore/internal/dump"
	"github.com/esrestore/esrestore/restore"
)

// childEnv, when set, makes the test binary run one restore job and print
// its peak memory instead of running tests (see BenchmarkRestorePeakMemory).
const childEnv = "ESRESTORE_TEST_RESTORE_BENCH_CHILD"

func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		if err := restoreChild(spec); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

const benchSeed = 1

// benchCluster starts a fixture cluster with an empty Commons original:
// the benchmarks restore in source mode, so only the source is read.
func benchCluster(b *testing.B) *fixtures.ES {
	b.Helper()
	es := estest.NewES(b)
	if err := es.LoadDocs(original, nil, 3); err != nil {
		b.Fatal(err)
	}
	return es
}

// createLikeTarget creates index as Run creates its target: the Commons
// mapping, no refresh, no replicas.
func createLikeTarget(b *testing.B, es *fixtures.ES, index string) {
	b.Helper()
	var body map[string]map[string]any
	if err := json.Unmarshal(fixtures.CommonsMapping(3), &body); err != nil {
		b.Fatal(err)
	}
	body["settings"]["refresh_interval"] = "-1"
	body["settings"]["number_of_replicas"] = 0
	raw, _ := json.Marshal(body)
	estest.MustDo(b, es.Client(), esapi.IndicesCreateRequest{Index: index, Body: bytes.NewReader(raw)})
}

func deleteIndex(b *testing.B, es *fixtures.ES, index string) {
	b.Helper()
	estest.MustDo(b, es.Client(), esapi.IndicesDeleteRequest{Index: []string{index}})
}

// memSource hands over documents already in memory, in pages, so that a
// benchmark measures the Restorer's write path alone.
type memSource struct {
	docs []dump.Doc
	page int
}

func (m *memSource) Name() string                                 { return "memory" }
func (m *memSource) Check(context.Context, restore.RunInfo) error { return nil }
func (m *memSource) Prepare(context.Context) error                { return nil }
func (m *memSource) Cleanup(context.Context) error                { return nil }
func (m *memSource) Scan(ctx context.Context, fn restore.ScanFunc) error {
	for i := 0; i < len(m.docs); i += m.page {
		if err := fn(ctx, m.docs[i:min(i+m.page, len(m.docs))], nil); err != nil {
			return err
		}
	}
	return nil
}

// BenchmarkRestore measures restore throughput on 100k Commons documents
// and, in the same run, the fixture server's _bulk ceiling: the same
// documents in bodies built before the clock starts, sent over 4
// connections by a plain HTTP client (ceiling/conns=N alone). Each restore
// is followed by a ceiling run, untimed, so that both see the same load on
// a shared machine; ceiling-ratio is restore docs/s over ceiling-docs/s.
//
//   - pool/workers=N: documents handed over from memory (the Restorer's
//     write path: batching, _bulk, answers, counting) at 1, 2, 4, 8 workers;
//   - ndjson/workers=4: from an NDJSON dump, parsing included;
//   - index/workers=4: from an index of the same cluster read with 2 slices.
func BenchmarkRestore(b *testing.B) {
	const n = 100_000
	docs := fixtures.Commons(n, benchSeed)
	mem := make([]dump.Doc, n)
	for i, d := range docs {
		mem[i] = dump.Doc{Index: original, ID: d.ID, Source: d.Source}
	}
	dumpBytes := ndjson(b, docs, false)
	bodies := fixtures.BulkBodies(docs, restore.DefaultBatchDocs)
	es := benchCluster(b)
	if err := es.LoadDocs("backup", docs, 3); err != nil {
		b.Fatal(err)
	}
	docs = nil
	// ceilingOnce ingests the documents with the ideal client into a new
	// index and returns how long it took.
	ceilingOnce := func(b *testing.B, conns int) time.Duration {
		b.Helper()
		index := fmt.Sprintf("ceiling-%d", conns)
		createLikeTarget(b, es, index)
		start := time.Now()
		if err := fixtures.BulkIngest(context.Background(), es.URL, index, bodies, conns); err != nil {
			b.Fatal(err)
		}
		d := time.Since(start)
		deleteIndex(b, es, index)
		return d
	}
	for _, conns := range []int{4, 8} {
		b.Run(fmt.Sprintf("ceiling/conns=%d", conns), func(b *testing.B) {
			b.ReportAllocs()
			var took time.Duration
			for b.Loop() {
				took += ceilingOnce(b, conns)
			}
			b.ReportMetric(float64(n*b.N)/took.Seconds(), "docs/s")
		})
	}
	run := func(name string, workers int, src func() restore.Source) {
		b.Run(fmt.Sprintf("%s/workers=%d", name, workers), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(dumpBytes)))
			i := 0
			var ceiling time.Duration
			for b.Loop() {
				opt := restore.NewOptions()
				opt.Original, opt.Mode, opt.Workers = original, restore.ModeSource, workers
				opt.Target = fmt.Sprintf("restored-%s-%d-%d", name, workers, i)
				i++
				r, err := restore.New(es.Client(), opt)
				if err != nil {
					b.Fatal(err)
				}
				st, err := r.Run(context.Background(), src())
				if err != nil {
					b.Fatal(err)
				}
				if st.Indexed != n || st.Count != n {
					b.Fatalf("indexed %d, count %d, want %d", st.Indexed, st.Count, n)
				}
				b.StopTimer()
				deleteIndex(b, es, opt.Target)
				// The ceiling right after each restore, so that both see
				// the same load on a shared machine.
				ceiling += ceilingOnce(b, 4)
				b.StartTimer()
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "docs/s")
			b.ReportMetric(float64(n*b.N)/ceiling.Seconds(), "ceiling-docs/s")
			b.ReportMetric(ceiling.Seconds()/b.Elapsed().Seconds(), "ceiling-ratio")
		})
	}
	for _, workers := range []int{1, 2, 4, 8} {
		run("pool", workers, func() restore.Source { return &memSource{docs: mem, page: 1000} })
	}
	run("ndjson", 4, func() restore.Source { return restore.NDJSONSource(bytes.NewReader(dumpBytes), "bench.ndjson") })
	run("index", 4, func() restore.Source { return restore.IndexSource(es.Client(), "backup", 2) })
}

// BenchmarkRestorePeakMemory runs a restore of 100k and of 1M Commons
// documents in a child process, so that the peak measured is the job's
// alone and not the fixture server's, which holds the target in the
// parent. The child reads a dump generated line by line through a pipe,
// so it never holds the documents either: its peak must not grow with
// their number.
func BenchmarkRestorePeakMemory(b *testing.B) {
	es := benchCluster(b)
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("docs=%d", n), func(b *testing.B) {
			var last childResult
			i := 0
			for b.Loop() {
				index := fmt.Sprintf("memory-%d-%d", n, i)
				i++
				cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
				cmd.Env = append(os.Environ(), childEnv+"="+es.URL+"|"+index+"|"+strconv.Itoa(n))
				cmd.Stderr = os.Stderr
				out, err := cmd.Output()
				if err != nil {
					b.Fatalf("child: %v", err)
				}
				if err := json.Unmarshal(out, &last); err != nil {
					b.Fatalf("child answered %q: %v", out, err)
				}
				if last.Indexed != int64(n) {
					b.Fatalf("child indexed %d, want %d", last.Indexed, n)
				}
				b.StopTimer()
				deleteIndex(b, es, index)
				b.StartTimer()
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "docs/s")
			b.ReportMetric(float64(last.PeakHeap)/(1<<20), "peak-heap-MB")
			b.ReportMetric(float64(last.PeakLive)/(1<<20), "peak-live-MB")
			b.ReportMetric(float64(last.PeakRSS)/(1<<20), "peak-RSS-MB")
		})
	}
}

// childResult is what a child job prints.
type childResult struct {
	Indexed  int64 `json:"indexed"`
	PeakHeap int64 `json:"peak_heap"` // largest heap objects size sampled, garbage not yet swept included
	PeakLive int64 `json:"peak_live"` // largest live heap a GC marked
	PeakRSS  int64 `json:"peak_rss"`  // VmHWM
}

// restoreChild restores n generated documents (spec "url|target|n") from
// a dump written on the fly into a pipe, sampling the heap meanwhile.
func restoreChild(spec string) error {
	parts := strings.Split(spec, "|")
	if len(parts) != 3 {
		return fmt.Errorf("child spec %q", spec)
	}
	url, index := parts[0], parts[1]
	n, err := strconv.Atoi(parts[2])
	if err != nil {
		return err
	}
	var peak, live atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/heap/live:bytes"}}
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			if v := int64(s[0].Value.Uint64()); v > peak.Load() {
				peak.Store(v)
			}
			if v := int64(s[1].Value.Uint64()); v > live.Load() {
				live.Store(v)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	pr, pw := io.Pipe()
	go func() {
		w := bufio.NewWriterSize(pw, 64<<10)
		var line []byte
		for i := range n {
			d := fixtures.CommonsDoc(i, benchSeed)
			line = dump.AppendLine(line[:0], dump.Doc{Index: original, ID: d.ID, Source: d.Source})
			if _, err := w.Write(line); err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		pw.CloseWithError(w.Flush())
	}()
	es, err := newBenchClient(url)
	if err != nil {
		return err
	}
	opt := restore.NewOptions()
	opt.Original, opt.Target, opt.Mode = original, index, restore.ModeSource
	r, err := restore.New(es, opt)
	if err != nil {
		return err
	}
	st, err := r.Run(context.Background(), restore.NDJSONSource(pr, "generated.ndjson"))
	close(stop)
	<-sampled
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(childResult{Indexed: st.Indexed, PeakHeap: peak.Load(), PeakLive: live.Load(), PeakRSS: vmHWM()})
}

// vmHWM reads the peak resident set size of this process.
func vmHWM() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return -1
}

func newBenchClient(url string) (*elasticsearch.Client, error) {
	return elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{url}, DisableRetry: true})
}
