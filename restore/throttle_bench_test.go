package restore_test

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/esrestore/esrestore/fixtures"
	"github.com/esrestore/esrestore/internal/dump"
	"github.com/esrestore/esrestore/restore"
)

// BenchmarkRestoreThrottled restores 10k Commons documents through the
// whole write path (batches, _bulk to the fixture cluster, answers) under
// --max-docs-per-second, to show the limit holds across 4 workers:
// docs/s is the rate the throttle let through, its first request included,
// error-% how far that is from the limit. The limits stay well under the
// fixture's own ceiling (BenchmarkRestore), or the cluster, not the
// throttle, would set the rate.
func BenchmarkRestoreThrottled(b *testing.B) {
	const n = 10_000
	docs := fixtures.Commons(n, benchSeed)
	mem := make([]dump.Doc, n)
	for i, d := range docs {
		mem[i] = dump.Doc{Index: original, ID: d.ID, Source: d.Source}
	}
	es := benchCluster(b)
	for _, rate := range []float64{2_500, 10_000} {
		b.Run(fmt.Sprintf("max-docs-per-second=%.0f", rate), func(b *testing.B) {
			var docs float64
			var elapsed float64
			i := 0
			for b.Loop() {
				opt := restore.NewOptions()
				opt.Original, opt.Mode, opt.Workers, opt.BatchDocs = original, restore.ModeSource, 4, 500
				opt.Throttle = restore.NewThrottle(rate, opt.Workers)
				opt.Target = fmt.Sprintf("throttled-%.0f-%d", rate, i)
				i++
				r, err := restore.New(es.Client(), opt)
				if err != nil {
					b.Fatal(err)
				}
				if st, err := r.Run(context.Background(), &memSource{docs: mem, page: 1000}); err != nil || st.Indexed != n {
					b.Fatalf("indexed %d, %v", st.Indexed, err)
				}
				s := opt.Throttle.Stats()
				docs += float64(s.Docs)
				elapsed += s.Elapsed.Seconds()
				b.StopTimer()
				deleteIndex(b, es, opt.Target)
				b.StartTimer()
			}
			got := docs / elapsed
			b.ReportMetric(got, "docs/s")
			b.ReportMetric(100*math.Abs(got-rate)/rate, "error-%")
		})
	}
}
