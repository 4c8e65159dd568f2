package diff

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/esrestore/esrestore/internal/dump"
)

var (
	// ErrCountMismatch means the documents read do not add up: a side
	// holds more or fewer documents than its scan returned, or the classes
	// do not sum to the totals. The diff is incomplete and nothing is
	// reported, rather than a short read showing as missing documents.
	ErrCountMismatch = errors.New("document counts do not add up")
	// ErrDuplicateID means an _id occurs twice in one document set: twice
	// in a dump, or in an index on two shards under two routings.
	ErrDuplicateID = errors.New("duplicate _id")
	// ErrBadDump means a dump has lines that are not documents.
	ErrBadDump = errors.New("bad dump lines")
	// ErrNoSource means Elasticsearch returned a document without its
	// _source (an index with _source disabled cannot be compared).
	ErrNoSource = errors.New("document has no _source")
)

// Counts are the totals of a diff, as they go into summary.json.
//
// Original and Restored are the documents of each side; every one of them
// is unchanged, changed, added or removed: Original = Unchanged + Changed +
// Removed and Restored = Unchanged + Changed + Added. With an Overlay,
// Restored is the size of the merged target (Original + Added) and the
// original's documents the merge keeps are Unchanged. RoutingChanged counts
// the changed documents whose _routing differs (their patch may be empty).
type Counts struct {
	Original       int64    `json:"original"`
	Restored       int64    `json:"restored"`
	Unchanged      int64    `json:"unchanged"`
	Changed        int64    `json:"changed"`
	Added          int64    `json:"added"`
	Removed        int64    `json:"removed"`
	RoutingChanged int64    `json:"routing_changed"`
	Ignored        []string `json:"ignored"`
}

// check verifies the identities that hold for every complete diff.
func (c Counts) check() error {
	if got := c.Unchanged + c.Changed + c.Removed; got != c.Original {
		return fmt.Errorf("%w: unchanged %d + changed %d + removed %d = %d, original has %d",
			ErrCountMismatch, c.Unchanged, c.Changed, c.Removed, got, c.Original)
	}
	if got := c.Unchanged + c.Changed + c.Added; got != c.Restored {
		return fmt.Errorf("%w: unchanged %d + changed %d + added %d = %d, restored has %d",
			ErrCountMismatch, c.Unchanged, c.Changed, c.Added, got, c.Restored)
	}
	return nil
}

// stats are the live counters behind Differ.Stats.
type stats struct {
	original, restored                 atomic.Int64
	unchanged, changed, added, removed atomic.Int64
	routingChanged                     atomic.Int64
	// both counts the documents found on both sides by the pass that
	// reads the restored side, to check it against the other pass.
	both atomic.Int64
}

// Differ compares two document sets and writes the report. Create it with
// New, run it once with Run; Stats may be read from other goroutines while
// it runs.
type Differ struct {
	opt     Options
	ignore  []Pointer
	err     error // from Options.Validate, returned by Run
	live    stats
	running atomic.Bool
}

// New returns a Differ for opt; zero fields take their defaults, and Run
// reports invalid ones.
func New(opt Options) *Differ {
	d := &Differ{err: opt.Validate()}
	opt.defaults()
	d.opt = opt
	if d.err == nil {
		d.ignore, d.err = ParsePointers(opt.Ignore)
	}
	return d
}

// Run compares original and restored with opt and writes the report to w;
// it is New(opt).Run.
func Run(ctx context.Context, original, restored Side, w io.Writer, opt Options) (Counts, error) {
	return New(opt).Run(ctx, original, restored, w)
}

// Stats returns the counts so far, for progress. Original and Restored are
// the documents read from each side yet; the classes grow as documents are
// compared. When Run returns, Stats equals its Counts.
func (d *Differ) Stats() Counts {
	c := Counts{
		Original:       d.live.original.Load(),
		Restored:       d.live.restored.Load(),
		Unchanged:      d.live.unchanged.Load(),
		Changed:        d.live.changed.Load(),
		Added:          d.live.added.Load(),
		Removed:        d.live.removed.Load(),
		RoutingChanged: d.live.routingChanged.Load(),
		Ignored:        make([]string, len(d.ignore)),
	}
	for i, p := range d.ignore {
		c.Ignored[i] = p.String()
	}
	return c
}

// Run compares the two sets and writes one report line per changed, added
// or removed document to w, sorted by _id, then returns the counts. Nothing
// is written to w unless the diff is complete and its counts add up.
//
// Between two indexes, Run looks documents up: it scans the original and
// fetches the same ids from the restored index with _mget, then scans the
// restored index's ids for those the original lacks. When either side is a
// dump, it sorts both sides by _id in bounded memory and walks them in
// step.
func (d *Differ) Run(ctx context.Context, original, restored Side, w io.Writer) (Counts, error) {
	if !d.running.CompareAndSwap(false, true) {
		return Counts{}, errors.New("diff: Run called twice on one Differ")
	}
	if d.err != nil {
		return Counts{}, d.err
	}
	log := d.opt.Logger.With("original", original.Name(), "restored", restored.Name())
	start := time.Now()
	log.Info("diff start", "workers", d.opt.Workers, "page_size", d.opt.PageSize,
		"overlay", string(d.opt.Overlay), "ignore", d.opt.Ignore)

	rep := newSorter(d.opt.MemoryBudget, d.opt.TempDir, "esrestore-diff-report")
	defer rep.close()

	oi, oIndex := original.(*indexSide)
	ri, rIndex := restored.(*indexSide)
	var c Counts
	var err error
	if oIndex && rIndex {
		c, err = d.lookupJoin(ctx, log, oi, ri, rep)
	} else {
		c, err = d.mergeJoin(ctx, log, original, restored, rep)
	}
	if err != nil {
		return Counts{}, fmt.Errorf("diff %s against %s: %w", original.Name(), restored.Name(), err)
	}
	c.Ignored = d.Stats().Ignored
	if err := c.check(); err != nil {
		return Counts{}, fmt.Errorf("diff %s against %s: %w", original.Name(), restored.Name(), err)
	}
	d.live.restored.Store(c.Restored)
	if err := d.writeReport(rep, w); err != nil {
		return Counts{}, fmt.Errorf("diff %s against %s: %w", original.Name(), restored.Name(), err)
	}
	log.Info("diff done", "unchanged", c.Unchanged, "changed", c.Changed, "added", c.Added,
		"removed", c.Removed, "routing_changed", c.RoutingChanged, "spilled_runs", rep.spills,
		"elapsed", time.Since(start).Round(time.Millisecond))
	return c, nil
}

// writeReport merges the sorted report lines into w.
func (d *Differ) writeReport(rep *sorter, w io.Writer) error {
	it, err := rep.finish()
	if err != nil {
		return fmt.Errorf("sort report: %w", err)
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	var prev []byte
	first := true
	for it.next() {
		k, v := it.record()
		if !first && bytes.Equal(k, prev) {
			return fmt.Errorf("%w %q: reported twice", ErrDuplicateID, k)
		}
		first = false
		prev = append(prev[:0], k...)
		if _, err := bw.Write(v); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	}
	if err := it.err(); err != nil {
		return fmt.Errorf("sort report: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// worker is the state of one compare worker, or of one scan slice.
type worker struct {
	cmp *comparer
	buf []byte
	// Documents _mget missed, waiting for an ids query (lookup join).
	missOriginal []dump.Doc
	missRestored []lookup
}

func (d *Differ) newWorker() *worker {
	return &worker{cmp: newComparer(d.ignore, true)}
}

// both classifies a document found on both sides; a and b must stay
// unchanged while it runs.
func (d *Differ) both(w *worker, rep *sorter, id, routingA, routingB string, a, b []byte) error {
	if d.opt.Overlay == OverlayPreferOriginal {
		d.live.unchanged.Add(1) // the merge keeps the original's document
		return nil
	}
	patch, equal, err := w.cmp.compare(a, b)
	if err != nil {
		return fmt.Errorf("compare document %q: %w", id, err)
	}
	if equal && routingA == routingB {
		d.live.unchanged.Add(1)
		return nil
	}
	d.live.changed.Add(1)
	if routingA != routingB {
		d.live.routingChanged.Add(1)
	}
	w.buf = appendChangedLine(w.buf[:0], id, routingA, routingB, patch)
	if l := d.opt.Logger; l.Enabled(context.Background(), slog.LevelDebug) {
		l.Debug("document changed", "id", id, "ops", len(patch), "routing_original", routingA, "routing_restored", routingB)
	}
	return rep.add([]byte(id), w.buf)
}

// onlyOriginal classifies a document of the original missing from the
// restored side: removed, or kept by an overlay.
func (d *Differ) onlyOriginal(w *worker, rep *sorter, id, routing string, src []byte) error {
	if d.opt.Overlay != OverlayNone {
		d.live.unchanged.Add(1) // a merge keeps what only the original has
		return nil
	}
	d.live.removed.Add(1)
	var err error
	if w.buf, err = appendOnlyLine(w.buf[:0], id, ChangeRemoved, "original", routing, src); err != nil {
		return err
	}
	d.opt.Logger.Debug("document removed", "id", id)
	return rep.add([]byte(id), w.buf)
}

// onlyRestored classifies a document of the restored side missing from
// the original: added.
func (d *Differ) onlyRestored(w *worker, rep *sorter, id, routing string, src []byte) error {
	d.live.added.Add(1)
	var err error
	if w.buf, err = appendOnlyLine(w.buf[:0], id, ChangeAdded, "restored", routing, src); err != nil {
		return err
	}
	d.opt.Logger.Debug("document added", "id", id)
	return rep.add([]byte(id), w.buf)
}

// totals turns the live counters into Counts once both sides are read.
// original and restored are the documents read from each side; both is
// how many documents of the restored side the original also has.
func (d *Differ) totals(original, restored, both int64) (Counts, error) {
	c := d.Stats()
	c.Original = original
	added := c.Added
	if restored != both+added {
		return Counts{}, fmt.Errorf("%w: restored side has %d documents, %d also in the original and %d added",
			ErrCountMismatch, restored, both, added)
	}
	if d.opt.Overlay != OverlayNone {
		c.Restored = original + added // the merged target
	} else {
		c.Restored = restored
	}
	return c, nil
}
