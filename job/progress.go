package job

import (
	"bufio"
	"context"
	"io"
	"sync"
	"time"
)

// Progress is what a phase reports while it works: one part of
// it (a side it reads) at a time, counted against that part's own total.
type Progress struct {
	Phase string // restore, diff
	// Side names the part under way ("original documents", "snapshot
	// backups/before-loss"); Part and Parts number it ("2/2").
	Side        string
	Part, Parts int
	Done        int64 // documents of this part so far
	Total       int64 // this part's, from _count or the dump's lines; 0 when unknown
	// Read is documents read so far, when reading runs ahead of Done (a
	// promote's catch-up); 0 when it does not.
	Read int64
	// Failed is documents failed so far, shown with ShowFailed (or once
	// there are some).
	Failed     int64
	ShowFailed bool
}

// sideTotal is a part's total, asked for in the background until it is
// known (a staging index exists only once the snapshot is restored), so
// that a slow count never holds up a progress report; and asked again
// every totalTTL, since an index that was still filling (a staging index
// restored shard by shard) or takes writes gives a count that falls
// behind.
type sideTotal struct {
	mu     sync.Mutex
	n      int64
	known  bool
	at     time.Time // of the count known
	asking bool
	count  func(ctx context.Context) (int64, error)
}

// totalTTL is how long a total is trusted before it is counted again.
const totalTTL = 30 * time.Second

func newSideTotal(count func(ctx context.Context) (int64, error)) *sideTotal {
	return &sideTotal{count: count}
}

// get returns the total, 0 while unknown.
func (t *sideTotal) get() int64 {
	if t == nil {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if (!t.known || (!t.at.IsZero() && time.Since(t.at) > totalTTL)) && !t.asking && t.count != nil {
		t.asking = true
		go func() {
			n, err := t.count(context.Background())
			t.mu.Lock()
			defer t.mu.Unlock()
			t.asking = false
			if err == nil {
				t.n, t.known, t.at = n, true, time.Now()
			}
		}()
	}
	return t.n
}

// countLines counts the lines of a dump (documents, one a line), for a
// dump source's total; it reads the dump once more, so only local files
// are counted.
func countLines(open func(ctx context.Context) (io.ReadCloser, error)) func(ctx context.Context) (int64, error) {
	var once sync.Once
	var n int64
	var err error
	return func(ctx context.Context) (int64, error) {
		once.Do(func() {
			var rc io.ReadCloser
			rc, err = open(context.WithoutCancel(ctx))
			if err != nil {
				return
			}
			defer rc.Close()
			sc := bufio.NewScanner(rc)
			sc.Buffer(make([]byte, 0, 1<<20), 512<<20)
			for sc.Scan() {
				if len(sc.Bytes()) > 0 {
					n++
				}
			}
			err = sc.Err()
		})
		return n, err
	}
}
