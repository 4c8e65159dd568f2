package job

import (
	"context"
	"errors"
	"fmt"

	"github.com/elastic/go-elasticsearch/v8"

	"github.com/esrestore/esrestore/diff"
	"github.com/esrestore/esrestore/internal/redact"
	"github.com/esrestore/esrestore/report"
	"github.com/esrestore/esrestore/restore"
)

// run is the whole job: guard rails, restore, diff (original, backup and
// target), index differences, report.
func (j *Job) run(ctx context.Context) error {
	if err := j.openReport(ctx); err != nil {
		return j.abort(ctx, err)
	}
	if err := j.loadScope(ctx); err != nil {
		return j.abort(ctx, err)
	}
	if err := j.connect(ctx); err != nil {
		return j.abort(ctx, err)
	}
	defer j.closeInstant()
	// The lease before any delete or write: a second runner of this run
	// id must leave everything as it is, the report's leftovers included.
	parent := ctx
	ctx, err := j.holdLease(ctx)
	if err != nil {
		return j.abort(ctx, err)
	}
	defer j.releaseLease(parent)
	if j.ident, err = j.where(ctx); err == nil {
		err = j.claimReport()
	}
	if err != nil {
		return j.abort(parent, j.orLost(err))
	}
	_, src, err := j.checkRestore(ctx)
	if err == nil {
		err = j.pin(ctx)
	}
	if err != nil {
		return j.abort(parent, j.orLost(err))
	}
	j.log.Info("guard rails passed", "original", j.cfg.Original, "target", j.cfg.Target, "source", src.Name())
	j.notifyStart(ctx)
	err = j.recordRunning(ctx)
	if err == nil {
		err = j.restorePhase(ctx, src)
	}
	if err == nil {
		err = j.countHidden(ctx)
	}
	if err == nil && j.do.diff {
		// Again, with the restore's counts.
		if rerr := j.recordRunning(ctx); rerr != nil {
			j.log.Warn("summary of the running attempt not written", "error", rerr)
		}
		err = j.diffPhase(ctx, diff.Sides{
			Original: j.originalSide(),
			Backup:   j.backup,
			Target:   diff.IndexSide(j.es, j.cfg.Target),
			// The snapshot restored as the target, and again as the
			// staging index (the backup), which nothing writes.
			SharedHistory: j.summary.Restore != nil && j.summary.Restore.Load == restore.LoadSnapshot,
		}, diff.OverlayNone)
		if err == nil {
			err = j.compareIndexes(ctx)
		}
	}
	if lost := j.leaseLost(); lost != nil {
		return j.lostLease(parent, lost, err)
	}
	if cerr := j.runCleanups(ctx); cerr != nil {
		err = errors.Join(err, fmt.Errorf("clean up: %w", cerr))
	}
	if err == nil {
		err = j.recordEnd(ctx)
	}
	if lost := j.leaseLost(); lost != nil {
		return j.lostLease(parent, lost, err)
	}
	return j.end(parent, err)
}

// abort ends a job stopped by its guard rails, before any write: the
// notification says so; the command reports the error.
func (j *Job) abort(ctx context.Context, err error) error {
	j.logConfig()
	err = Interruption(ctx, err)
	j.notifyEnd(ctx, err, nil)
	return err
}

// end closes a job that got past its guard rails: it applies --fail-on,
// writes summary.json (complete only without error), sends the
// notification, and has Options.Tell tell the operator. A met --fail-on
// condition still completes the report, then is the job's FailOn error.
func (j *Job) end(ctx context.Context, err error) error {
	var failOn error
	if err == nil {
		failOn = j.failOn()
	}
	// The notification goes after summary.json is written, so that it
	// carries the summary's own sha256 (the summary records whether the
	// start message went; the log, whether the end message did).
	j.settle(err)
	err = Interruption(ctx, j.finish(ctx, err))
	j.notifyEnd(ctx, err, failOn)
	// The summary is written: the run id is free for another process.
	j.releaseLease(ctx)
	if j.opt.Tell != nil {
		err = j.opt.Tell(j, err)
	}
	if err != nil {
		return err
	}
	return failOn
}

// dryRun diffs the original against what the target would be, writing
// nothing to the original and creating no target. A snapshot source is
// restored into a temporary staging index, the one write, deleted at the
// end: so the production configuration can be tried as it is.
func (j *Job) dryRun(ctx context.Context) error {
	spec := j.src
	if err := j.openReport(ctx); err != nil {
		return j.abort(ctx, err)
	}
	if err := j.loadScope(ctx); err != nil {
		return j.abort(ctx, err)
	}
	parent := ctx
	if !restore.IsDumpURL(j.cfg.Original) || spec.Kind != restore.SourceDump {
		if err := j.connect(ctx); err != nil {
			return j.abort(ctx, err)
		}
		defer j.closeInstant()
		// A snapshot source is restored into a staging index, which only
		// the run id's one runner may create and delete; other dry runs
		// write nothing to Elasticsearch, not even a lease.
		if spec.Kind == restore.SourceSnapshot {
			var err error
			if ctx, err = j.holdLease(ctx); err != nil {
				return j.abort(parent, err)
			}
			defer j.releaseLease(parent)
		}
		var err error
		if j.ident, err = j.where(ctx); err != nil {
			return j.abort(parent, j.orLost(err))
		}
	}
	if err := j.claimReport(); err != nil {
		return j.abort(parent, err)
	}
	if spec.Kind != restore.SourceSnapshot {
		// A snapshot source is checked by stageSnapshot, before its one
		// write.
		if err := j.checkDrySource(ctx); err != nil {
			return j.abort(ctx, err)
		}
	}
	var restored diff.Side
	// The backup index the scope's query is resolved on.
	var scopeES *elasticsearch.Client
	var scopeIndex string
	switch spec.Kind {
	case restore.SourceDump:
		restored = diff.DumpSide(j.openDump(spec.URL), redact.URLs(spec.URL))
		j.backupTotal = j.nameTotal(spec.URL)
	case restore.SourceIndex:
		restored = diff.IndexSide(j.es, spec.Index)
		j.backupTotal = indexTotal(j.es, spec.Index)
		scopeES, scopeIndex = j.es, spec.Index
	case restore.SourceRemote:
		es, err := j.remoteClient(ctx, spec)
		if err != nil {
			return j.abort(parent, j.orLost(err))
		}
		restored = diff.IndexSide(es, spec.Index)
		j.backupTotal = indexTotal(es, spec.Index)
		scopeES, scopeIndex = es, spec.Index
	case restore.SourceSnapshot:
		side, err := j.stageSnapshot(ctx, spec)
		if err != nil {
			if lost := j.leaseLost(); lost != nil {
				return j.lostLease(parent, lost, err)
			}
			if cerr := j.runCleanups(ctx); cerr != nil {
				err = errors.Join(err, fmt.Errorf("clean up: %w", cerr))
			}
			return j.abort(parent, err)
		}
		restored = side
		scopeES, scopeIndex = j.es, restore.StagingIndex(j.cfg.RunID)
	}
	if err := j.pin(ctx); err != nil {
		return j.abort(ctx, err)
	}
	// The same scope as the run: the diff leaves the same backup
	// documents out.
	inScope, err := j.diffScope(ctx, scopeES, scopeIndex)
	if err != nil {
		if cerr := j.runCleanups(ctx); cerr != nil {
			err = errors.Join(err, fmt.Errorf("clean up: %w", cerr))
		}
		return j.abort(parent, j.orLost(err))
	}
	j.inScope = inScope
	overlay := diff.OverlaySource
	if j.cfg.Mode == "merge" {
		overlay = diff.OverlayPreferOriginal
		switch j.cfg.Prefer {
		case "source":
			overlay = diff.OverlayPreferSource
		case "fill":
			overlay = diff.OverlayFill
		}
	}
	j.summary.Target = ""
	j.summary.Restored = j.cfg.Target + " (not created: dry run)"
	j.notifyStart(ctx)
	// An original in a cluster got its identity and counts recorded by
	// identify, as in a real run; a dump has none.
	live := !restore.IsDumpURL(j.cfg.Original)
	err = j.diffPhase(ctx, diff.Sides{Original: j.originalSide(), Backup: restored}, overlay)
	if lost := j.leaseLost(); lost != nil {
		return j.lostLease(parent, lost, err)
	}
	if cerr := j.runCleanups(ctx); cerr != nil {
		err = errors.Join(err, fmt.Errorf("clean up: %w", cerr))
	}
	if err == nil && live {
		err = j.recordEnd(ctx)
	}
	if lost := j.leaseLost(); lost != nil {
		return j.lostLease(parent, lost, err)
	}
	return j.end(parent, err)
}

// stageSnapshot runs a dry run's guard rails on a snapshot source (those
// of a real run: the target must not exist, nothing may be written to the
// original) and restores the snapshot into its staging index, the dry
// run's only write, deleted by the job's clean-ups.
func (j *Job) stageSnapshot(ctx context.Context, spec restore.SourceSpec) (diff.Side, error) {
	src := restore.SnapshotSource(j.es, spec.Repo, spec.Snapshot, spec.Index, j.cfg.KeepStaging, j.cfg.RunID)
	r, err := restore.New(j.es, j.restoreOptions(nil))
	if err != nil {
		return nil, misconfigured(err)
	}
	if err := r.Check(ctx, src); err != nil {
		return nil, GuardError(sourceIndexHint(err))
	}
	if err := j.hiddenFields(ctx); err != nil {
		return nil, err
	}
	if err := j.duplicateIDs(ctx); err != nil {
		return nil, err
	}
	if err := j.checkScopeQuery(ctx); err != nil {
		return nil, err
	}
	// Before the staging restore, the dry run's one write.
	if err := j.pin(ctx); err != nil {
		return nil, err
	}
	staging := restore.StagingIndex(j.cfg.RunID)
	j.summary.Staging = &report.Staging{Index: staging}
	j.backupTotal = indexTotal(j.es, staging)
	j.cleanups = append(j.cleanups, func(ctx context.Context) error {
		if err := src.Cleanup(ctx); err != nil {
			return err
		}
		j.summary.Staging.Deleted = !j.cfg.KeepStaging
		return nil
	})
	j.log.Info("dry run: restoring the snapshot into a staging index, its only write", "staging", staging,
		"snapshot", spec.Repo+"/"+spec.Snapshot)
	if err := src.Prepare(ctx); err != nil {
		return nil, fmt.Errorf("prepare source %s: %w", src.Name(), err)
	}
	return diff.IndexSide(j.es, staging), nil
}

// checkDrySource runs a run's checks on a dry run's --source, so that a
// dry run fails where the run would: a missing or empty source (without
// --allow-empty-source), and, with the original in a cluster, every guard
// rail of the restore. The dump opened to check it is closed again.
func (j *Job) checkDrySource(ctx context.Context) error {
	src, err := j.source(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := src.Cleanup(context.WithoutCancel(ctx)); cerr != nil {
			j.log.Warn("dry run: the checked source did not close", "source", src.Name(), "error", cerr)
		}
	}()
	if j.es == nil || restore.IsDumpURL(j.cfg.Original) {
		// The original is a dump: what the source itself can tell.
		run := restore.RunInfo{ES: j.es, AllowEmpty: j.cfg.AllowEmpty, Logger: j.log, Retry: j.retryPolicy()}
		if err := src.Check(ctx, run); err != nil {
			return GuardError(err)
		}
		return nil
	}
	_, _, err = j.checkRestoreOf(ctx, src)
	return err
}

// Run runs the job: guard rails, then the phases of its command in order
// (restore, diff, index comparison), then the summary; with
// Config.DryRun, the diff of the original against what the target would
// be. A job stopped by its guard rails returns their error, and
// Options.Tell is not called.
func (j *Job) Run(ctx context.Context) error {
	if j.cfg.DryRun {
		return j.dryRun(ctx)
	}
	return j.run(ctx)
}

// Diff compares the original with restored, an index or a dump, and
// writes the diff and the summary.
func (j *Job) Diff(ctx context.Context, restored string) error {
	j.summary.Restored = redact.URLs(restored)
	if err := j.openReport(ctx); err != nil {
		j.logConfig()
		return err
	}
	if len(j.cfg.ES.URLs) > 0 {
		if err := j.connect(ctx); err != nil {
			j.logConfig()
			return err
		}
		defer j.closeInstant()
	}
	if err := j.identify(ctx); err != nil {
		return err
	}
	j.notifyStart(ctx)
	err := j.diffPhase(ctx, diff.Sides{Original: j.originalSide(), Target: j.side(restored)}, diff.OverlayNone)
	return j.end(ctx, err)
}

// Summary is the job's summary as it stands.
func (j *Job) Summary() *report.Summary { return &j.summary }

// ReportURL is where the named object of the report goes ("" for the
// report's directory), "" before the report location is checked.
func (j *Job) ReportURL(name string) string {
	if j.report == nil {
		return ""
	}
	return j.report.URL(name)
}
