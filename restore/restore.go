// Package restore brings lost Elasticsearch documents back into a new index.
//
// A Restorer reads a Source (an index of this or another cluster, a
// snapshot, an NDJSON dump) and builds the target, an index it never
// shares with the original: it never writes to the original or its
// aliases.
//
// In merge mode (StrategyReconcile, the default) the target starts as the
// backup: a snapshot's index is restored by Elasticsearch directly as the
// target when its settings and mapping agree with the original's (see
// Stats.Load), otherwise the target is created with the original's
// mappings and settings and the source written into it with op_type
// create. Then the original is scanned, the target's copies fetched with
// _mget page by page, and each document written only when the version
// Prefer chooses (the original's, the source's, or the original filled
// from the source) differs from the target's copy. Running it again gives
// the same index. StrategyPasses writes both sides whole instead: the
// preferred with op_type index, the other with create, 409s kept. In
// source mode the target is the source.
//
// Every document read ends indexed, kept, skipped (out of Options.Scope)
// or failed; failures go to Options.Failures with the document and
// Elasticsearch's error. At the end Run checks that read == indexed + kept
// + skipped + failed and that the target's _count agrees (see Stats).
package restore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"golang.org/x/sync/errgroup"

	"github.com/esrestore/esrestore/internal/dump"
	"github.com/esrestore/esrestore/internal/elastic"
)

// Stats count what a run did. Read == Indexed + Kept + Skipped + Failed +
// Pending().
type Stats struct {
	// Read counts documents read, from both sides in merge mode (the
	// original and the source), bad dump lines included.
	Read int64
	// Indexed counts documents the target accepted (op_type index or a
	// successful create).
	Indexed int64
	// Kept counts creates answered 409 in merge mode: the target already
	// held the id (the preferred side's document, or, on a resumed run,
	// one written by the earlier attempt).
	Kept int64
	// Failed counts documents that could not be restored, each written to
	// Options.Failures.
	Failed int64
	// Skipped counts the source's documents read that Options.Scope left
	// out: never written.
	Skipped int64
	// Retried counts documents sent again (one per document per retry).
	Retried int64
	// Duplicates counts dump lines failed because an earlier line of the
	// same dump has their _id (the first line wins); they are in Failed.
	Duplicates int64
	// Rescans counts the points in time that expired during a scan and
	// were reopened, the scan going on from its last sort values.
	Rescans int64
	// Bytes counts the _source bytes read.
	Bytes int64
	// Created counts the indexed documents that were new in the target
	// ("created"); the others replaced a document with the same id.
	Created int64
	// Ambiguous counts documents answered "updated" or 409 after an
	// earlier request with them failed in transport: that request may have
	// written them, so they may be this run's own.
	Ambiguous int64
	// Existing is the target's _count when loading began: 0 for a new
	// target, what an earlier attempt wrote for a resumed one.
	Existing int64
	// Count is the target's _count at the end, -1 until checked. It must
	// be Existing + Created (up to Ambiguous more): on a new target with
	// unique ids that is Indexed.
	Count int64
	// Elapsed is the time since Run began, or its duration once it ended.
	Elapsed time.Duration
	// Restored counts the documents Elasticsearch restored from a snapshot
	// as the target (Load is LoadSnapshot): the backup side, counted in
	// Read and Kept, and in Existing, without a write of ours.
	Restored int64
	// KeptBySeqNo counts the original's documents the reconciliation kept
	// without reading the target's source: the target's copy had the same
	// _seq_no and _primary_term, the snapshot's copy of an index that
	// shares its history (part of Kept).
	KeptBySeqNo int64
	// Load is how the backup came into the target: LoadSnapshot, LoadBulk
	// or LoadPasses; LoadReason says why that one.
	Load, LoadReason string
}

// Pending counts documents read whose fate is unknown: after an
// interrupted run, those in a request that did not finish. A rerun with
// the same run id settles them.
func (s Stats) Pending() int64 { return s.Read - s.Indexed - s.Kept - s.Skipped - s.Failed }

// counters are the live Stats.
type counters struct {
	read, indexed, kept, failed, retried, bytes, created, ambiguous, existing, count atomic.Int64
	duplicates, rescans, restored, keptBySeq, skipped                                atomic.Int64
	// repeated counts the documents the first pass into an empty target
	// replaced: its source holds their _id twice (see pass.first).
	repeated   atomic.Int64
	start, end atomic.Int64 // unix nanoseconds
}

// Restorer restores documents into one target. It runs one Check or Run at
// a time; Stats may be called at any time from any goroutine.
type Restorer struct {
	es        *elasticsearch.Client
	opt       Options
	log       *slog.Logger
	failLevel slog.Level

	busy atomic.Bool
	st   counters

	// drain is the context of the requests in flight during Run: it
	// outlives Run's context by Options.Drain.
	drain context.Context

	failMu sync.Mutex
	// readOnly holds the original's concrete name and aliases, once
	// checked: no write may name them.
	readOnly map[string]bool
	// clusterUUID and originalUUID are read by the checks, for the
	// target's _meta (see Identity).
	clusterUUID, originalUUID string
	// loadAt is how the target gets the backup (see Stats.Load).
	loadAt atomic.Pointer[loadState]
	// dupes are Options.Duplicates by id.
	dupes map[string]*DuplicateID
	// scope is Options.Scope resolved by Run (see resolveScope).
	scopeMu sync.Mutex
	scope   *scopeSet
}

// New returns a Restorer writing through es. It fills the defaults of opt
// and reports every bad field at once (errors wrapping ErrInvalidOptions).
func New(es *elasticsearch.Client, opt Options) (*Restorer, error) {
	opt.fill(time.Now())
	err := opt.validate()
	if es == nil {
		err = errors.Join(err, fmt.Errorf("%w: elasticsearch client: required", ErrInvalidOptions))
	}
	if err != nil {
		return nil, err
	}
	r := &Restorer{es: es, opt: opt, log: opt.Logger, failLevel: slog.LevelDebug}
	if opt.Failures == nil {
		// The log is the only record of a failure then.
		r.failLevel = slog.LevelWarn
	}
	r.st.count.Store(-1)
	if len(opt.Duplicates) > 0 {
		r.dupes = make(map[string]*DuplicateID, len(opt.Duplicates))
		for i := range opt.Duplicates {
			r.dupes[opt.Duplicates[i].ID] = &opt.Duplicates[i]
		}
	}
	return r, nil
}

// Options returns the options in effect, defaults filled in.
func (r *Restorer) Options() Options { return r.opt }

// Stats returns a snapshot of the counters; safe while Run works.
func (r *Restorer) Stats() Stats {
	s := Stats{
		Read: r.st.read.Load(), Indexed: r.st.indexed.Load(), Kept: r.st.kept.Load(), Failed: r.st.failed.Load(),
		Retried: r.st.retried.Load(), Bytes: r.st.bytes.Load(), Created: r.st.created.Load(),
		Ambiguous: r.st.ambiguous.Load(), Existing: r.st.existing.Load(), Count: r.st.count.Load(),
		Duplicates: r.st.duplicates.Load(), Rescans: r.st.rescans.Load(), Restored: r.st.restored.Load(),
		KeptBySeqNo: r.st.keptBySeq.Load(), Skipped: r.st.skipped.Load(),
	}
	l := r.loadInfo()
	s.Load, s.LoadReason = l.load, l.why
	if start := r.st.start.Load(); start != 0 {
		end := r.st.end.Load()
		if end == 0 {
			end = time.Now().UnixNano()
		}
		s.Elapsed = time.Duration(end - start)
	}
	return s
}

// plan is what the checks found.
type plan struct {
	original indexMeta
	resume   bool
	// target is the resumed target, as the checks found it.
	target indexMeta
	// adopt: the target is this run's snapshot restore, interrupted before
	// its mapping and _meta were put (see interruptedSnapshotTarget).
	adopt bool
	// fromSnapshot: Elasticsearch restored the snapshot's index as the
	// target (now, or in the attempt this run resumes), so the backup is
	// in it without a write of ours.
	fromSnapshot bool
}

// Check runs the guard rails without writing anything: Elasticsearch is
// reachable and accepts the credentials, the original exists, the target
// is neither the original nor one of its aliases and does not exist (or
// carries this run id: a resume), and the source exists. Each failure
// names its object and wraps one of the package's errors.
func (r *Restorer) Check(ctx context.Context, src Source) error {
	if !r.busy.CompareAndSwap(false, true) {
		return errors.New("restore: a Check or Run is already in progress")
	}
	defer r.busy.Store(false)
	_, err := r.check(ctx, src)
	return err
}

func (r *Restorer) check(ctx context.Context, src Source) (*plan, error) {
	if src == nil {
		return nil, fmt.Errorf("%w: source: required", ErrInvalidOptions)
	}
	pol := r.opt.Retry
	ci, err := elastic.Reach(ctx, r.es, pol, "reach elasticsearch")
	if err != nil {
		return nil, err
	}
	orig, found, err := getIndex(ctx, r.es, pol, r.opt.Original, fmt.Sprintf("get original index %q", r.opt.Original))
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("original index %q: %w", r.opt.Original, ErrOriginalMissing)
	}
	if f := orig.aliasFilter(r.opt.Original); f != nil && orig.Name != r.opt.Original {
		return nil, fmt.Errorf("original %q is an alias of index %q with the filter %s: the restore would copy the whole index and the diff compare the filtered view (name index %q as the original to restore all of it): %w",
			r.opt.Original, orig.Name, f, orig.Name, ErrFilteredAlias)
	}
	if orig.closed() {
		return nil, fmt.Errorf("original index %q: %w; open it (POST /%s/_open) before the run", orig.Name, ErrIndexClosed, orig.Name)
	}
	r.clusterUUID, r.originalUUID = ci.UUID, orig.uuid()
	readOnly := orig.names()
	readOnly[r.opt.Original] = true
	r.readOnly = readOnly
	if readOnly[r.opt.Target] || readOnly[WriterAlias(r.opt.Target)] {
		return nil, fmt.Errorf("target %q (original %q is index %q): %w", r.opt.Target, r.opt.Original, orig.Name, ErrTargetIsOriginal)
	}
	if r.opt.Mode == ModeMerge && orig.sourceDisabled() {
		return nil, fmt.Errorf("original index %q: %w, merge mode cannot copy its documents", r.opt.Original, ErrSourceDisabled)
	}
	p := &plan{original: orig}
	tgt, found, err := getIndex(ctx, r.es, pol, r.opt.Target, fmt.Sprintf("get target index %q", r.opt.Target))
	if err != nil {
		return nil, err
	}
	if found {
		switch id := runIDOf(tgt); {
		case tgt.Name != r.opt.Target:
			return nil, fmt.Errorf("target %q is an alias of index %q: %w", r.opt.Target, tgt.Name, ErrTargetExists)
		case id == "":
			adopt, err := r.interruptedSnapshotTarget(ctx, tgt, src)
			if err != nil {
				return nil, err
			}
			if !adopt {
				return nil, fmt.Errorf("target %q (no esrestore run id in its _meta): %w", r.opt.Target, ErrTargetExists)
			}
			p.adopt = true
		case id != r.opt.RunID:
			return nil, fmt.Errorf("target %q (written by run %q, this is run %q): %w", r.opt.Target, id, r.opt.RunID, ErrTargetExists)
		}
		p.resume, p.target = true, tgt
	}
	own := orig.ownNames()
	own[r.opt.Original] = true
	protected := map[string]bool{r.opt.Target: true}
	for n := range readOnly {
		protected[n] = true
	}
	run := RunInfo{
		ES: r.es, ClusterUUID: ci.UUID, Original: orig.Name, OriginalAsGiven: r.opt.Original, OwnNames: own, SourceIndex: r.opt.SourceIndex,
		Target: r.opt.Target, Protected: protected,
		RunID: r.opt.RunID, KeepStaging: r.opt.KeepStaging, Logger: r.log,
		Retry: pol, AllowEmpty: r.opt.AllowEmptySource, Rescanned: func() { r.st.rescans.Add(1) },
	}
	if err := src.Check(ctx, run); err != nil {
		return nil, err
	}
	if sc := r.opt.Scope; sc != nil && sc.Query != nil {
		if _, _, ok := queryable(src); !ok {
			return nil, fmt.Errorf("%w: source %s cannot be queried (a dump): an only-query scope needs an index or a snapshot", ErrScopeQuery, src.Name())
		}
	}
	if p.resume && !p.adopt {
		if err := r.sameRun(tgt, src); err != nil {
			return nil, err
		}
	}
	r.log.Info("checks passed", "cluster", ci.Name, "version", ci.Version, "original", orig.Name,
		"target", r.opt.Target, "resume", p.resume, "source", src.Name(), "run_id", r.opt.RunID)
	return p, nil
}

// writable refuses any write naming the original or one of its aliases.
func (r *Restorer) writable(name string) error {
	if name == r.opt.Original || r.readOnly[name] || r.readOnly == nil {
		return fmt.Errorf("refusing to write to %q: %w", name, ErrTargetIsOriginal)
	}
	return nil
}

// Run checks (as Check), prepares the source, creates the target (or
// resumes it), loads it, puts the original's refresh interval and replicas
// back and refreshes it (also after a failure), verifies the counts, and
// cleans the source up. It returns the final Stats with its error.
//
// On cancellation it stops reading, lets the requests in flight finish or
// time out, and returns the counts with an error wrapping ctx's: documents
// read but not settled are Stats.Pending, and a rerun with the same RunID
// resumes.
func (r *Restorer) Run(ctx context.Context, src Source) (Stats, error) {
	if !r.busy.CompareAndSwap(false, true) {
		return r.Stats(), errors.New("restore: a Check or Run is already in progress")
	}
	defer r.busy.Store(false)
	r.reset()
	dctx, dcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer dcancel()
	stop := context.AfterFunc(ctx, func() {
		r.log.Info("interrupted: waiting for the requests in flight", "at_most", r.opt.Drain)
		time.AfterFunc(r.opt.Drain, dcancel)
	})
	defer stop()
	r.drain = dctx
	err := r.run(ctx, src)
	r.st.end.Store(time.Now().UnixNano())
	st := r.Stats()
	if err != nil {
		r.log.Error("restore failed", "target", r.opt.Target, "read", st.Read, "indexed", st.Indexed, "kept", st.Kept,
			"failed", st.Failed, "pending", st.Pending(), "error", err)
		return st, err
	}
	r.log.Info("restore done", "target", r.opt.Target, "load", st.Load, "load_reason", st.LoadReason, "read", st.Read,
		"indexed", st.Indexed, "kept", st.Kept, "skipped", st.Skipped, "failed", st.Failed, "retried", st.Retried, "count", st.Count, "elapsed", st.Elapsed)
	return st, nil
}

func (r *Restorer) reset() {
	for _, c := range []*atomic.Int64{&r.st.read, &r.st.indexed, &r.st.kept, &r.st.failed, &r.st.retried,
		&r.st.bytes, &r.st.created, &r.st.ambiguous, &r.st.existing, &r.st.end, &r.st.duplicates, &r.st.rescans, &r.st.restored, &r.st.repeated, &r.st.skipped} {
		c.Store(0)
	}
	r.st.count.Store(-1)
	r.st.start.Store(time.Now().UnixNano())
	r.loadAt.Store(nil)
}

func (r *Restorer) run(ctx context.Context, src Source) (err error) {
	p, err := r.check(ctx, src)
	if err != nil {
		return err
	}
	defer func() {
		cctx := ctx
		if ctx.Err() != nil {
			var cancel context.CancelFunc
			cctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
			defer cancel()
		}
		if cerr := src.Cleanup(cctx); cerr != nil {
			err = errors.Join(err, fmt.Errorf("clean up source %s: %w", src.Name(), cerr))
		}
	}()
	if err := src.Prepare(ctx); err != nil {
		return fmt.Errorf("prepare source %s: %w", src.Name(), err)
	}
	if err := r.resolveScope(ctx, src); err != nil {
		return err
	}
	if err := r.createTarget(ctx, p, src); err != nil {
		return err
	}
	if err := r.ensureWriter(ctx); err != nil {
		return err
	}
	loadErr := r.resumeCount(ctx, p)
	if loadErr == nil {
		loadErr = r.load(ctx, p, src)
	}
	if err := r.finish(ctx, p); err != nil {
		return errors.Join(loadErr, err)
	}
	if loadErr != nil {
		return loadErr
	}
	return r.verify(ctx)
}

// resumeCount records what an earlier attempt left in a resumed target.
func (r *Restorer) resumeCount(ctx context.Context, p *plan) error {
	if !p.resume {
		return nil
	}
	if err := r.refresh(ctx); err != nil {
		return err
	}
	n, err := elastic.Count(ctx, r.es, r.opt.Target, r.opt.Retry)
	if err != nil {
		return err
	}
	r.st.existing.Store(n)
	r.log.Info("resuming into existing target", "target", r.opt.Target, "documents", n, "run_id", r.opt.RunID)
	return nil
}

// load builds the target. Source mode, and merge mode with
// StrategyPasses, read each side whole (see loadPasses). Merge mode with
// StrategyReconcile starts from the backup and reconciles the original:
// the backup is loaded with op_type create (unless Elasticsearch restored
// it as the target), so that a resumed run keeps what the reconciliation
// already wrote, then reconcilePass writes what differs.
func (r *Restorer) load(ctx context.Context, p *plan, src Source) error {
	if err := r.writable(r.opt.Target); err != nil {
		return err
	}
	if p.fromSnapshot && r.opt.Mode == ModeSource {
		return nil // the target is the snapshot's index already
	}
	if r.opt.Mode == ModeSource || r.opt.Strategy == StrategyPasses {
		return r.loadPasses(ctx, p, src)
	}
	if !p.fromSnapshot {
		ps := &pass{src: src, name: src.Name(), op: "create", scoped: true}
		r.log.Info("loading", "from", ps.name, "how", "backup written", "op_type", ps.op, "target", r.opt.Target)
		if err := r.loadPass(ctx, ps); err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("restore into %q interrupted while reading %s: %w", r.opt.Target, ps.name, context.Cause(ctx))
			}
			return err
		}
	}
	return r.reconcilePass(ctx, p)
}

// loadPasses runs the passes of StrategyPasses: in merge mode the
// preferred side with op_type index, then the other with create; in source
// mode the source alone.
func (r *Restorer) loadPasses(ctx context.Context, p *plan, src Source) error {
	orig := &pass{
		src: &indexSource{es: r.es, index: p.original.Name, slices: r.opt.Slices, pol: r.opt.Retry, rescanned: r.rescanned,
			in: r.opt.Instant},
		name: "original:" + r.opt.Original,
	}
	source := &pass{src: src, name: src.Name(), scoped: true}
	var passes []*pass
	switch {
	case r.opt.Mode == ModeSource:
		source.op = "index"
		passes = []*pass{source}
	case r.opt.Prefer == PreferSource:
		source.op, orig.op = "index", "create"
		passes = []*pass{source, orig}
	default:
		orig.op, source.op = "index", "create"
		passes = []*pass{orig, source}
	}
	passes[0].first = !p.resume && !p.fromSnapshot
	for _, ps := range passes {
		r.log.Info("loading", "from", ps.name, "how", "pass: the whole side written", "op_type", ps.op, "target", r.opt.Target)
		if err := r.loadPass(ctx, ps); err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("restore into %q interrupted while reading %s: %w", r.opt.Target, ps.name, context.Cause(ctx))
			}
			return err
		}
	}
	return nil
}

// loadPass reads one side into the target: the reader stays in this
// goroutine and starts one worker per batch, at most Workers at a time.
func (r *Restorer) loadPass(ctx context.Context, p *pass) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.opt.Workers)
	b := &batcher{r: r, p: p, g: g, ctx: gctx}
	scanErr := p.src.Scan(gctx, func(ctx context.Context, docs []dump.Doc, bad []*dump.LineError) error {
		if err := gctx.Err(); err != nil {
			return err
		}
		for _, le := range bad {
			if err := r.badLine(p, le); err != nil {
				return err
			}
		}
		return b.add(docs)
	})
	if err := b.flush(); scanErr == nil {
		scanErr = err
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if scanErr != nil {
		return fmt.Errorf("read %s: %w", p.name, scanErr)
	}
	return nil
}

// verify checks the counts against each other and against the target.
func (r *Restorer) verify(ctx context.Context) error {
	s := r.Stats()
	if s.Read != s.Indexed+s.Kept+s.Skipped+s.Failed {
		return fmt.Errorf("%w: read %d != indexed %d + kept %d + skipped %d + failed %d", ErrInvariant, s.Read, s.Indexed, s.Kept, s.Skipped, s.Failed)
	}
	n, err := elastic.Count(ctx, r.es, r.opt.Target, r.opt.Retry)
	if err != nil {
		return fmt.Errorf("verify target: %w", err)
	}
	r.st.count.Store(n)
	want := s.Existing + s.Created
	if n < want || n > want+s.Ambiguous {
		return fmt.Errorf("%w: target %q has _count %d, want %d (existing %d + created %d, up to %d ambiguous more)",
			ErrInvariant, r.opt.Target, n, want, s.Existing, s.Created, s.Ambiguous)
	}
	if n := r.st.repeated.Load(); n > 0 {
		r.log.Warn("some documents replaced one written earlier in this run: the source repeats ids",
			"replaced", n, "indexed", s.Indexed, "created", s.Created)
	}
	return nil
}

// rescanned counts a reopened point in time.
func (r *Restorer) rescanned() { r.st.rescans.Add(1) }

// discardLogger is the logger of a source used without a Restorer.
func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
