package page

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"testing"

	"github.com/esrestore/esrestore/diff"
	"github.com/esrestore/esrestore/fixtures"
)

// BenchmarkPage streams a diff of n added Commons documents through a
// Collector and renders the page: the page's bytes and the heap in use
// afterwards must not grow with n.
func BenchmarkPage(b *testing.B) {
	docs := fixtures.Commons(1000, 3) // setup: not timed
	sc := newScenarioOf(b, 200, false)
	for _, n := range []int{10_000, 500_000} {
		b.Run(fmt.Sprintf("added=%d", n), func(b *testing.B) {
			var page bytes.Buffer
			var streamed int64
			b.ReportAllocs()
			for b.Loop() {
				c := NewCollector(Options{})
				var line []byte
				streamed = 0
				for i := range n {
					d := docs[i%len(docs)]
					line = fmt.Appendf(line[:0], `{"_id":"%s-%07d","change":"%s","restored":`, d.ID, i, diff.ChangeAdded)
					line = append(append(line, d.Source...), '}', '\n')
					streamed += int64(len(line))
					c.Write(line)
				}
				page.Reset()
				if err := Write(&page, sc.summary, c, Options{}); err != nil {
					b.Fatal(err)
				}
			}
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			b.SetBytes(streamed)
			b.ReportMetric(float64(page.Len()), "page-bytes")
			b.ReportMetric(float64(ms.HeapInuse), "heap-inuse-bytes")
			fmt.Fprint(io.Discard, page.Len())
		})
	}
}
