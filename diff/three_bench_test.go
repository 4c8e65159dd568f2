package diff

import (
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/esrestore/esrestore/fixtures"
	"github.com/esrestore/esrestore/fixtures/estest"
)

// BenchmarkDiffThreeSided pairs, in one run, the two-sided diff (original
// against target) with the three-sided one (original, backup and target)
// on a loss scenario: 5% lost, 2.5% stripped, the target restored with
// --prefer source (the backup's documents, and the original's where the
// backup lacks them). ESRESTORE_TEST_BENCH_DOCS sets the size (default 100k);
// the figure to compare is the ratio of the two sub-benchmarks' ns/op.
//
// The backup and the target are the snapshot restored twice, as a run
// with the snapshot restored as the target leaves them: "three-sided"
// fetches every backup copy (as for a target bulk-loaded from a dump or an
// index), "three-sided-shared" takes those the target did not rewrite by
// sequence number (Sides.SharedHistory, what esrestore run does then).
//
// With ESRESTORE_TEST_BENCH_ES_URL the indexes are those of that cluster (say
// esfake in its own process, after an esrestore run with --keep-staging),
// named by ESRESTORE_TEST_BENCH_INDEXES=ORIGINAL,BACKUP,TARGET; each
// sub-benchmark then also reports the process's peak RSS, so run them one
// at a time (-bench 'ThreeSided/two-sided$'). Run three-sided-shared only
// on a target the snapshot was restored as.
func BenchmarkDiffThreeSided(b *testing.B) {
	cl, names, check := threeBenchCluster(b)
	for _, c := range []struct {
		name    string
		sides   Sides
		profile bool
	}{
		{"two-sided", Sides{Original: IndexSide(cl, names[0]), Target: IndexSide(cl, names[2])}, false},
		{"three-sided", Sides{Original: IndexSide(cl, names[0]), Backup: IndexSide(cl, names[1]), Target: IndexSide(cl, names[2])}, false},
		{"three-sided-shared", Sides{Original: IndexSide(cl, names[0]), Backup: IndexSide(cl, names[1]), Target: IndexSide(cl, names[2]),
			SharedHistory: true}, false},
		// The loss profiled on every keyword path of the mapping and its
		// first date, as esrestore picks them by default.
		{"three-sided-profile", Sides{Original: IndexSide(cl, names[0]), Backup: IndexSide(cl, names[1]), Target: IndexSide(cl, names[2])}, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var docs int64
			for b.Loop() {
				opt := Options{Workers: 4, Logger: slog.New(slog.DiscardHandler)}
				if c.profile {
					opt.Profile, opt.ProfileDate = benchProfile, "/modified"
				}
				d := New(opt)
				counts, err := d.RunSides(b.Context(), c.sides, io.Discard)
				if err != nil {
					b.Fatal(err)
				}
				check(b, counts)
				docs = counts.Outcome.Original
			}
			b.ReportMetric(float64(docs*int64(b.N))/b.Elapsed().Seconds(), "docs/s")
			if os.Getenv("ESRESTORE_TEST_BENCH_ES_URL") != "" {
				b.ReportMetric(peakRSSMiB(b), "peak-RSS-MiB")
			}
		})
	}
}

// benchProfile are the keyword paths of fixtures.CommonsMapping.
var benchProfile = []string{"/bureaus", "/countries", "/filename", "/filetype", "/id", "/language/displayName",
	"/language/languageCode", "/language/locale", "/language/nativeName", "/language/textDirection", "/owner",
	"/site", "/tags/id", "/type", "/url", "/visibility"}

// threeBenchCluster returns the client and the original, backup and
// target index names of the benchmark, and a check of each run's counts.
func threeBenchCluster(b *testing.B) (*elasticsearch.Client, [3]string, func(*testing.B, Counts)) {
	if u := os.Getenv("ESRESTORE_TEST_BENCH_ES_URL"); u != "" {
		cl, err := elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{u}})
		if err != nil {
			b.Fatal(err)
		}
		parts := strings.Split(os.Getenv("ESRESTORE_TEST_BENCH_INDEXES"), ",")
		if len(parts) != 3 {
			b.Fatal("ESRESTORE_TEST_BENCH_INDEXES must name ORIGINAL,BACKUP,TARGET")
		}
		return cl, [3]string{parts[0], parts[1], parts[2]}, func(b *testing.B, c Counts) {
			if c.Outcome.Added == 0 {
				b.Fatalf("nothing added: %+v", c.Outcome)
			}
		}
	}
	n := 100_000
	if v := os.Getenv("ESRESTORE_TEST_BENCH_DOCS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	srv := fixtures.NewServer(fixtures.Options{})
	sc := fixtures.NewScenario(n, 0.05, 1)
	if err := srv.LoadScenario("three_orig", "bench", "snap", sc, 3); err != nil {
		b.Fatal(err)
	}
	es, err := fixtures.Listen("127.0.0.1:0", srv)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(es.Close)
	// --prefer source on a loss without live writes: the target is the
	// snapshot.
	wait := true
	for _, name := range []string{"three_backup", "three_target"} {
		estest.MustDo(b, es.Client(), esapi.SnapshotRestoreRequest{Repository: "bench", Snapshot: "snap", WaitForCompletion: &wait,
			Body: strings.NewReader(`{"indices":"three_orig","rename_pattern":".+","rename_replacement":"` + name + `"}`)})
	}
	return es.Client(), [3]string{"three_orig", "three_backup", "three_target"}, func(b *testing.B, c Counts) {
		if c.Outcome.Added != int64(len(sc.Lost)) || c.Outcome.Recovered != int64(len(sc.Stripped)) {
			b.Fatalf("outcome %+v", c.Outcome)
		}
	}
}

// peakRSSMiB is the process's peak resident set (VmHWM).
func peakRSSMiB(b *testing.B) float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb / 1024
		}
	}
	b.Fatal("no VmHWM in /proc/self/status")
	return 0
}
