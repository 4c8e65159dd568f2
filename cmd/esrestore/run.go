package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/esrestore/esrestore/diff"
)

type runCmd struct{}

func (runCmd) Name() string { return "run" }

func (runCmd) Summary() string {
	return "restore, diff and report: the Kubernetes Job's command"
}

const runHelp = `Restores the documents of --source into the new index --target, never writing
to --original; compares --original and --target document by document; writes
summary.json, diff.ndjson.gz and failures.ndjson.gz under OUTPUT/ORIGINAL/RUN_ID/.
With --dry-run nothing is written to Elasticsearch: the original is compared with
what the target would be, and the source and the original may be NDJSON dumps.`

func (runCmd) Run(ctx context.Context, env *Env, args []string) error {
	fs, fv := newFlagSet("run", runHelp, env, esFlags, restoreFlags, diffFlags, outputFlags, jobFlags, logFlags)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	required := []string{"original", "source", "environment"}
	if !dryRunOffline(fv) {
		required = append(required, "es-url")
	}
	cfg, err := fv.build(time.Now(), required...)
	if err != nil {
		return err
	}
	j := newJob("run", env, cfg, phases{restore: true, diff: true})
	if cfg.DryRun {
		return j.dryRun(ctx)
	}
	return j.run(ctx)
}

// dryRunOffline reports a dry run between two dumps, which needs no
// cluster.
func dryRunOffline(fv *flagValues) bool {
	return fv.str("dry-run") == "true" && isDumpURL(fv.str("original")) && isDumpURL(fv.str("source")) && fv.str("es-url") == ""
}

// run is the whole job: guard rails, restore, diff (original, backup and
// target), index differences, report.
func (j *job) run(ctx context.Context) error {
	logConfig(j.log, j.cmd, j.cfg)
	if err := j.openReport(ctx); err != nil {
		return interrupted(ctx, err)
	}
	if err := j.connect(ctx); err != nil {
		return interrupted(ctx, err)
	}
	_, src, err := j.checkRestore(ctx)
	if err != nil {
		return interrupted(ctx, err)
	}
	j.log.Info("guard rails passed", "original", j.cfg.Original, "target", j.cfg.Target, "source", src.Name())
	err = j.recordStart(ctx)
	if err == nil {
		err = j.restorePhase(ctx, src)
	}
	if err == nil && j.do.diff {
		err = j.diffPhase(ctx, diff.Sides{
			Original: diff.IndexSide(j.es, j.cfg.Original),
			Backup:   j.backup,
			Target:   diff.IndexSide(j.es, j.cfg.Target),
		}, diff.OverlayNone)
		if err == nil {
			err = j.compareIndexes(ctx)
		}
	}
	if cerr := j.runCleanups(ctx); cerr != nil {
		err = errors.Join(err, fmt.Errorf("clean up: %w", cerr))
	}
	if err == nil {
		err = j.recordEnd(ctx)
	}
	return j.end(ctx, err)
}

// end closes a job that got past its guard rails: it applies --fail-on
// and prints the human summary; in every case it writes summary.json,
// complete only without error, and prints the verdict as the last line. A
// met --fail-on condition still completes the report, then exits 3.
func (j *job) end(ctx context.Context, err error) error {
	var failOn error
	if err == nil {
		failOn = j.failOn()
	}
	err = j.finish(ctx, err)
	j.printSummary()
	fmt.Fprintln(j.env.Stderr, j.summary.Verdict.Line())
	if err != nil {
		return interrupted(ctx, err)
	}
	return failOn
}

// dryRun diffs the original against what the target would be, writing
// nothing to Elasticsearch.
func (j *job) dryRun(ctx context.Context) error {
	logConfig(j.log, j.cmd, j.cfg)
	spec, why := parseSource(j.cfg.Source)
	if why != "" {
		return usageError(fmt.Errorf("--source: %s", why))
	}
	if spec.kind == "snapshot" {
		return usageError(errors.New("--dry-run cannot read a snapshot source: Elasticsearch would have to restore it into a staging index, a write; dump the snapshot to NDJSON, or give --source index:NAME"))
	}
	if err := j.openReport(ctx); err != nil {
		return err
	}
	if !isDumpURL(j.cfg.Original) || spec.kind != "dump" {
		if err := j.connect(ctx); err != nil {
			return err
		}
	}
	var restored diff.Side
	switch spec.kind {
	case "dump":
		restored = diff.DumpSide(j.openDump(spec.url), redactURL(spec.url))
	case "index":
		restored = diff.IndexSide(j.es, spec.index)
	case "remote":
		es, err := j.remoteClient(ctx, spec)
		if err != nil {
			return err
		}
		restored = diff.IndexSide(es, spec.index)
	}
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
	err := j.diffPhase(ctx, diff.Sides{Original: j.side(j.cfg.Original), Backup: restored}, overlay)
	return j.end(ctx, err)
}
