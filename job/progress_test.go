package job

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// TestRestoreProgressSides: in merge mode each side is counted against
// its own total, never both against one.
func TestRestoreProgressSides(t *testing.T) {
	known := func(n int64) *sideTotal { return &sideTotal{n: n, known: true} }
	parts := []progressPart{{name: "original documents", total: known(1000)}, {name: "source snapshot:b/s", total: known(1200)}}
	at := func(read int64) Progress { return splitRead(parts, read, read, 0) }
	if s := at(400); s.Part != 1 || s.Done != 400 || s.Total != 1000 {
		t.Errorf("400 read: %+v, want part 1 at 400/1000", s)
	}
	if s := at(1000); s.Part != 2 || s.Done != 0 || s.Total != 1200 {
		t.Errorf("1000 read: %+v, want part 2 at 0/1200", s)
	}
	if s := at(2100); s.Part != 2 || s.Done != 1100 || s.Side != "source snapshot:b/s" {
		t.Errorf("2100 read: %+v, want part 2 at 1100/1200", s)
	}
	// Done counts the documents settled; reading runs ahead of them.
	if s := splitRead(parts, 600, 450, 0); s.Part != 1 || s.Done != 450 || s.Read != 600 {
		t.Errorf("600 read, 450 settled: %+v, want part 1 at 450 (600 read)", s)
	}
	// The last writes of part 1 in flight while part 2 is read: part 2
	// has settled nothing yet, not a negative count.
	if s := splitRead(parts, 1100, 950, 0); s.Part != 2 || s.Done != 0 || s.Read != 100 {
		t.Errorf("1100 read, 950 settled: %+v, want part 2 at 0 (100 read)", s)
	}
}

// TestTotalCountedAgain: a total is counted again once it is older than
// totalTTL, the old value standing meanwhile.
func TestTotalCountedAgain(t *testing.T) {
	var n atomic.Int64
	n.Store(300)
	st := newSideTotal(func(context.Context) (int64, error) { return n.Load(), nil })
	waitFor := func(want int64) {
		t.Helper()
		for range 1000 {
			if st.get() == want {
				return
			}
			time.Sleep(time.Millisecond)
		}
		t.Fatalf("total %d, want %d", st.get(), want)
	}
	waitFor(300)
	n.Store(900)
	if got := st.get(); got != 300 {
		t.Errorf("a fresh total was counted again: %d", got)
	}
	st.mu.Lock()
	st.at = st.at.Add(-totalTTL - time.Second)
	st.mu.Unlock()
	waitFor(900)
}
