package job

import (
	"bufio"
	"context"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/elastic/go-elasticsearch/v8"

	"github.com/esrestore/esrestore/diff"
	"github.com/esrestore/esrestore/internal/elastic"
	"github.com/esrestore/esrestore/internal/redact"
	"github.com/esrestore/esrestore/internal/retry"
	"github.com/esrestore/esrestore/restore"
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

// indexTotal counts an index's documents for progress.
func indexTotal(es *elasticsearch.Client, index string) *sideTotal {
	return newSideTotal(func(ctx context.Context) (int64, error) {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return elastic.Count(ctx, es, index, retry.Policy{})
	})
}

// nameTotal counts a side named by an index of --es-url or a dump URL;
// only local dumps are counted (an S3 dump would be read twice).
func (j *Job) nameTotal(name string) *sideTotal {
	switch {
	case !restore.IsDumpURL(name):
		if j.es == nil {
			return nil
		}
		return indexTotal(j.es, name)
	case strings.HasPrefix(name, "s3://"):
		return nil
	}
	return newSideTotal(countLines(j.openDump(name)))
}

// startProgress reports a phase's advance from read, through
// Options.Progress.
func (j *Job) startProgress(read func() Progress) interface{ Stop() } {
	if j.opt.Progress == nil {
		return stopped{}
	}
	return j.opt.Progress(read)
}

// stopped is progress never started.
type stopped struct{}

func (stopped) Stop() {}

// progressPart is one side a phase reads, in the order it reads them.
type progressPart struct {
	name  string
	total *sideTotal
	done  func() int64 // for the diff: this side's own count
}

// restoreProgress reports the restore side by side: in merge mode it
// reads the preferred side, then the other, each counted against its own
// total (Stats.Read counts both, one after the other).
func (j *Job) restoreProgress(r *restore.Restorer) func() Progress {
	orig := progressPart{name: "original " + j.cfg.Original, total: j.nameTotal(j.cfg.Original)}
	src := progressPart{name: "source " + redact.URLs(j.cfg.Source), total: j.backupTotal}
	var parts []progressPart
	switch {
	case j.cfg.Mode == "source":
		parts = []progressPart{src}
	case j.cfg.Prefer == "source":
		parts = []progressPart{src, orig}
	default:
		parts = []progressPart{orig, src}
	}
	return func() Progress {
		s := r.Stats()
		return splitRead(parts, s.Read, s.Indexed+s.Kept+s.Skipped+s.Failed, s.Failed)
	}
}

// splitRead gives the documents read to the parts in order, each up to
// its total: the part under way has the rest. Its done are the documents
// settled (indexed, kept or failed), not read: reading runs ahead of the
// writes by the batches in flight, and a rate of reads would promise
// more than the throttle lets through.
func splitRead(parts []progressPart, read, settled, failed int64) Progress {
	for i, p := range parts {
		total := p.total.get()
		if i == len(parts)-1 || total == 0 || read < total {
			s := Progress{Phase: "restore", Side: p.name, Part: i + 1, Parts: len(parts),
				Done: max(settled, 0), Total: total, Failed: failed, ShowFailed: true}
			if read > s.Done {
				s.Read = read
			}
			return s
		}
		read -= total
		settled -= total
	}
	return Progress{Phase: "restore"}
}

// diffProgress reports the diff's reading side by side, in the order the
// lookup join reads them: the original, the target, the backup.
func (j *Job) diffProgress(d *diff.Differ, sides diff.Sides) func() Progress {
	var parts []progressPart
	if sides.Original != nil {
		parts = append(parts, progressPart{name: "original " + sides.Original.Name(), total: j.nameTotal(j.cfg.Original),
			done: func() int64 { return d.Stats().Outcome.Original }})
	}
	if sides.Target != nil {
		name := j.cfg.Target
		if j.cmd == "diff" {
			name = j.summary.Restored
		}
		parts = append(parts, progressPart{name: "target " + sides.Target.Name(), total: j.nameTotal(name),
			done: func() int64 { return d.Stats().Outcome.Target }})
	}
	if sides.Backup != nil {
		parts = append(parts, progressPart{name: "backup " + sides.Backup.Name(), total: j.backupTotal,
			done: func() int64 {
				if l := d.Stats().Loss; l != nil {
					return l.Backup
				}
				return 0
			}})
	}
	return func() Progress {
		cur := 0
		for i, p := range parts {
			if p.done() > 0 {
				cur = i
			}
		}
		p := parts[cur]
		return Progress{Phase: "diff", Side: p.name, Part: cur + 1, Parts: len(parts), Done: p.done(), Total: p.total.get()}
	}
}
