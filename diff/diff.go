package diff

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/esrestore/esrestore/internal/dump"
	"github.com/esrestore/esrestore/internal/esscan"
)

var (
	// ErrCountMismatch means the documents read do not add up: a side
	// holds more or fewer documents than its scan returned, or the classes
	// do not sum to the totals. The diff is incomplete and nothing is
	// reported, rather than a short read showing as missing documents.
	ErrCountMismatch = errors.New("document counts do not add up")
	// ErrDuplicateID means an _id occurs twice in one document set: twice
	// in a dump, or in an index on two shards under two routings.
	ErrDuplicateID = esscan.ErrDuplicateID
	// ErrNoSource means Elasticsearch returned a document without its
	// _source (an index with _source disabled cannot be compared).
	ErrNoSource = esscan.ErrNoSource
)

// Counts are the totals of a diff, as they go into summary.json.
type Counts struct {
	// Outcome is original → target.
	Outcome Outcome `json:"outcome"`
	// Loss is original vs backup; nil in a two-sided diff.
	Loss *Loss `json:"loss,omitempty"`
	// Fields counts the patch operations by path and class.
	Fields *Fields `json:"fields"`
	// Ignored lists the ignore patterns, as given.
	Ignored []string `json:"ignored"`
	// Rescans counts the points in time that expired during a scan and
	// were reopened, the scan going on from its last sort values.
	Rescans int64 `json:"rescans"`
	// BadLines counts the dump lines skipped, on every dump side: not
	// documents, or repeating the _id of an earlier line (see DumpSide).
	BadLines int64 `json:"bad_lines,omitempty"`
	// Skipped counts the documents left out for Options.SkipIDs, on
	// every side.
	Skipped int64 `json:"skipped,omitempty"`
	// Watched counts, per Options.Watch, the documents it matched;
	// WatchedDocuments those any watch matched.
	Watched          []WatchCount `json:"watched,omitempty"`
	WatchedDocuments int64        `json:"watched_documents,omitempty"`
	// Alternatives are the outcomes each prefer would give; nil in a
	// two-sided diff.
	Alternatives *Alternatives `json:"alternatives,omitempty"`
}

// check verifies the identities that hold for every complete diff.
func (c Counts) check(shared int64) error {
	o := c.Outcome
	if got := o.Unchanged + o.Recovered + o.Overwritten + o.Removed; got != o.Original {
		return fmt.Errorf("%w: unchanged %d + recovered %d + overwritten %d + removed %d = %d, original has %d",
			ErrCountMismatch, o.Unchanged, o.Recovered, o.Overwritten, o.Removed, got, o.Original)
	}
	if got := o.Unchanged + o.Recovered + o.Overwritten + o.Added; got != o.Target {
		return fmt.Errorf("%w: unchanged %d + recovered %d + overwritten %d + added %d = %d, target has %d",
			ErrCountMismatch, o.Unchanged, o.Recovered, o.Overwritten, o.Added, got, o.Target)
	}
	if l := c.Loss; l != nil {
		if got := l.Lost + shared; got != l.Backup {
			return fmt.Errorf("%w: lost %d + %d also in the original = %d, backup has %d",
				ErrCountMismatch, l.Lost, shared, got, l.Backup)
		}
		if got := shared + l.NewSinceBackup + l.SkippedInOriginal; got != o.Original {
			return fmt.Errorf("%w: %d also in the backup + new since backup %d + %d out of the scope = %d, original has %d",
				ErrCountMismatch, shared, l.NewSinceBackup, l.SkippedInOriginal, got, o.Original)
		}
	}
	return nil
}

// stats are the live counters behind Differ.Stats.
type stats struct {
	original, target, backup                             atomic.Int64
	unchanged, recovered, overwritten, added, removed    atomic.Int64
	routingChanged                                       atomic.Int64
	lost, stripped, edited, newSince, notRec, notRecLost atomic.Int64
	shared                                               atomic.Int64 // in the original and the backup
	skipped, skippedHeld                                 atomic.Int64 // out of Options.Scope; of them, in the original
	bySeqNo                                              atomic.Int64 // backup copies taken from the target
}

// Sides names the document sets of a diff.
type Sides struct {
	// Original is the live document set.
	Original Side
	// Backup is where lost documents come back from; nil for a two-sided
	// diff, which reports the outcome only.
	Backup Side
	// Target is the restored set. nil means the target is virtual: what
	// Options.Overlay builds from Original and Backup (a dry run).
	Target Side
	// SharedHistory says Target and Backup are indexes restored from one
	// snapshot and Backup was never written since. A document has then
	// the same _seq_no and _primary_term on both only while the target's
	// copy is the snapshot's (a write to the target gets a sequence number
	// above every one the snapshot holds), so the backup's _source is
	// fetched only for documents whose target copy was written: the others
	// are the target's bytes (counted in Loss.BackupBySeqNo). The first
	// page of each scan slice fetches every backup copy and checks that
	// claim; a copy that differs turns it off for the rest of the diff.
	SharedHistory bool
}

// Differ compares document sets and writes the report. Create it with New,
// run it once with Run or RunSides; Stats may be read from other
// goroutines while it runs.
type Differ struct {
	opt     Options
	ignore  []Pointer
	err     error // from Options.Validate, returned by Run
	live    stats
	fields  *fieldSet
	trans   *transSet
	watch   *watchSet
	running atomic.Bool
	// three is set when a backup takes part (read by Stats, so atomic);
	// virtual when the target is built from the original and the backup.
	three   atomic.Bool
	virtual bool
	// The loss profile (nil when nothing is profiled) and the prefer
	// alternatives of a three-sided diff.
	profiles *profileSet
	alts     altSet
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
	if d.err == nil {
		d.profiles, d.err = newProfileSet(&opt)
	}
	d.fields = newFieldSet(opt.MaxFieldEntries)
	d.trans = newTransSet(opt.MaxFieldEntries)
	if d.err == nil {
		d.watch, d.err = newWatchSet(opt.Watch)
	}
	return d
}

// Run compares original and restored with opt and writes the report to w;
// it is New(opt).Run.
func Run(ctx context.Context, original, restored Side, w io.Writer, opt Options) (Counts, error) {
	return New(opt).Run(ctx, original, restored, w)
}

// Stats returns the counts so far, for progress. Outcome.Original,
// Outcome.Target and Loss.Backup are the documents read from each side
// yet; the classes grow as documents are compared. Fields is only filled
// in by Run's result.
func (d *Differ) Stats() Counts {
	l := &d.live
	c := Counts{
		Outcome: Outcome{
			Original: l.original.Load(), Target: l.target.Load(), Unchanged: l.unchanged.Load(),
			Recovered: l.recovered.Load(), Overwritten: l.overwritten.Load(), Added: l.added.Load(),
			Removed: l.removed.Load(), RoutingChanged: l.routingChanged.Load(), Skipped: l.skipped.Load(),
		},
		Ignored: make([]string, len(d.ignore)),
	}
	if d.three.Load() {
		c.Loss = &Loss{
			// The backup's documents out of the scope are not the
			// backup side's.
			Backup: max(l.backup.Load()-l.skipped.Load()-l.skippedHeld.Load(), 0), Lost: l.lost.Load(), Stripped: l.stripped.Load(),
			SkippedInOriginal: l.skippedHeld.Load(),
			EditedSinceBackup: l.edited.Load(), NewSinceBackup: l.newSince.Load(),
			NotRecovered: l.notRec.Load(), NotRecoveredLost: l.notRecLost.Load(),
			BackupBySeqNo: l.bySeqNo.Load(),
		}
	}
	for i, p := range d.ignore {
		c.Ignored[i] = p.String()
	}
	return c
}

// Run compares original and restored (a two-sided diff: the outcome
// only), writing one report line per document that is not unchanged to w,
// sorted by _id. With an Overlay, restored is the source the target would
// be built from, and the diff is three-sided with a virtual target (see
// RunSides).
func (d *Differ) Run(ctx context.Context, original, restored Side, w io.Writer) (Counts, error) {
	if d.opt.Overlay != OverlayNone {
		return d.RunSides(ctx, Sides{Original: original, Backup: restored}, w)
	}
	return d.RunSides(ctx, Sides{Original: original, Target: restored}, w)
}

// RunSides compares the sides and writes one report line per document that
// is not unchanged to w, sorted by _id, then returns the counts. Nothing is
// written to w unless the diff is complete and its counts add up.
//
// When every side is an index, RunSides looks documents up: it scans the
// original and fetches the same ids from the target and the backup with
// _mget, then scans the target's and (when needed) the backup's ids for
// those the original lacks. When any side is a dump, it sorts every side
// by _id in bounded memory and walks them in step.
func (d *Differ) RunSides(ctx context.Context, s Sides, w io.Writer) (Counts, error) {
	if !d.running.CompareAndSwap(false, true) {
		return Counts{}, errors.New("diff: Run called twice on one Differ")
	}
	if d.err != nil {
		return Counts{}, d.err
	}
	if s.Original == nil || (s.Target == nil && s.Backup == nil) {
		return Counts{}, fmt.Errorf("%w: a diff needs an original and a target or a backup", ErrBadOptions)
	}
	d.three.Store(s.Backup != nil)
	d.virtual = s.Target == nil
	if d.virtual && d.opt.Overlay == OverlayNone {
		return Counts{}, fmt.Errorf("%w: a virtual target needs an overlay", ErrBadOptions)
	}
	if !d.virtual && d.opt.Overlay != OverlayNone {
		return Counts{}, fmt.Errorf("%w: overlay %q with a real target", ErrBadOptions, d.opt.Overlay)
	}
	what := s.Original.Name() + " against " + sideName(s.Target, "the would-be target")
	if s.Backup != nil {
		what += " and backup " + s.Backup.Name()
	}
	log := d.opt.Logger
	start := time.Now()
	log.Info("diff started", "original", s.Original.Name(), "target", sideName(s.Target, ""),
		"backup", sideName(s.Backup, ""), "workers", d.opt.Workers, "page_size", d.opt.PageSize,
		"overlay", string(d.opt.Overlay), "ignore", append([]string{}, d.opt.Ignore...))

	rep := newSorter(d.opt.MemoryBudget, d.opt.TempDir, "esrestore-diff-report")
	defer rep.close()

	var err error
	if allIndexes(s) {
		err = d.lookupJoin(ctx, s, rep)
	} else {
		err = d.mergeJoin(ctx, s, rep)
	}
	if err != nil {
		return Counts{}, fmt.Errorf("diff %s: %w", what, err)
	}
	c := d.Stats()
	for _, side := range []Side{s.Original, s.Backup, s.Target} {
		switch side := side.(type) {
		case *indexSide:
			c.Rescans += side.reopens.Load()
			c.Skipped += side.skipped.Load()
		case *dumpSide:
			c.BadLines += side.bad.Load()
			c.Skipped += side.skipped.Load()
		}
	}
	if err := c.check(d.live.shared.Load()); err != nil {
		return Counts{}, fmt.Errorf("diff %s: %w", what, err)
	}
	c.Fields = d.fields.result()
	c.Fields.Transitions = d.trans.result()
	c.Watched, c.WatchedDocuments = d.watch.counts(), d.watch.any.Load()
	if c.Loss != nil {
		d.profiles.result(c.Loss, &d.opt, log)
		c.Alternatives = d.alts.result()
		if c.Loss.Lost > 0 {
			c.Loss.Note = LostNote
		}
	}
	if err := d.writeReport(rep, w); err != nil {
		return Counts{}, fmt.Errorf("diff %s: %w", what, err)
	}
	o := c.Outcome
	attrs := []any{"unchanged", o.Unchanged, "recovered", o.Recovered, "overwritten", o.Overwritten,
		"added", o.Added, "removed", o.Removed, "spilled_runs", rep.spills,
		"seconds", time.Since(start).Seconds()}
	if l := c.Loss; l != nil {
		attrs = append(attrs, "lost", l.Lost, "stripped", l.Stripped, "not_recovered", l.NotRecovered, "skipped", o.Skipped)
	}
	log.Info("diff compared", attrs...)
	return c, nil
}

func sideName(s Side, none string) string {
	if s == nil {
		return none
	}
	return s.Name()
}

// allIndexes reports whether every side present is an index.
func allIndexes(s Sides) bool {
	for _, side := range []Side{s.Original, s.Backup, s.Target} {
		if side == nil {
			continue
		}
		if _, ok := side.(*indexSide); !ok {
			return false
		}
	}
	return true
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
	cmp, cmpLoss *comparer
	buf          []byte
	fields       *fieldTally
	trans        *transTally
	watch        watchScratch
	prof         *profileTally // nil when nothing is profiled
	alt          *altTally     // counts in a three-sided diff only
	// Documents whose lookup missed on a side, waiting for an ids query
	// (lookup join).
	pending  []*pendingDoc
	missTgt  []dump.Doc
	missBack []dump.Doc
	// checked is set once a page of this worker fetched every backup
	// copy to check Sides.SharedHistory.
	checked bool
}

func (d *Differ) newWorker() *worker {
	return &worker{
		cmp:     newComparer(d.ignore, true),
		cmpLoss: newComparer(d.ignore, true),
		fields:  d.fields.tally(),
		trans:   d.trans.tally(),
		prof:    d.profiles.tally(),
		alt:     d.alts.tally(d),
	}
}
