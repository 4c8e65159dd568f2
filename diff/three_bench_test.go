package diff

import (
	"io"
	"log/slog"
	"os"
	"strconv"
	"testing"

	"github.com/esrestore/esrestore/fixtures"
)

// BenchmarkDiffThreeSided pairs, in one run, the two-sided diff (original
// against target) with the three-sided one (original, backup and target)
// on a loss scenario: 5% lost, 2.5% stripped, the target restored with
// --prefer source (the backup's documents, and the original's where the
// backup lacks them). ESRESTORE_BENCH_DOCS sets the size (default 100k);
// the figure to compare is the ratio of the two sub-benchmarks' ns/op.
func BenchmarkDiffThreeSided(b *testing.B) {
	n := 100_000
	if v := os.Getenv("ESRESTORE_BENCH_DOCS"); v != "" {
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
	if err := srv.LoadDocs("three_backup", sc.Complete, 3); err != nil {
		b.Fatal(err)
	}
	if err := srv.LoadDocs("three_target", sc.Complete, 3); err != nil {
		b.Fatal(err)
	}
	es, err := fixtures.Listen("127.0.0.1:0", srv)
	if err != nil {
		b.Fatal(err)
	}
	defer es.Close()
	cl := es.Client()
	for _, c := range []struct {
		name  string
		sides Sides
	}{
		{"two-sided", Sides{Original: IndexSide(cl, "three_orig"), Target: IndexSide(cl, "three_target")}},
		{"three-sided", Sides{Original: IndexSide(cl, "three_orig"), Backup: IndexSide(cl, "three_backup"), Target: IndexSide(cl, "three_target")}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				d := New(Options{Workers: 4, Logger: slog.New(slog.DiscardHandler)})
				counts, err := d.RunSides(b.Context(), c.sides, io.Discard)
				if err != nil {
					b.Fatal(err)
				}
				if counts.Outcome.Added != int64(len(sc.Lost)) || counts.Outcome.Recovered != int64(len(sc.Stripped)) {
					b.Fatalf("outcome %+v", counts.Outcome)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "docs/s")
		})
	}
}
