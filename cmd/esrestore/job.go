package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/elastic/go-elasticsearch/v8"

	"github.com/esrestore/esrestore/diff"
	"github.com/esrestore/esrestore/report"
	"github.com/esrestore/esrestore/report/page"
	"github.com/esrestore/esrestore/restore"
	"github.com/esrestore/esrestore/s3out"
)

// defaultOutput is where reports go without --output: a directory under
// the working directory.
const defaultOutput = "esrestore-report"

// phases says what a job does.
type phases struct {
	check   bool // guard rails only
	restore bool
	diff    bool
}

// job is one run of a command: configuration, clients, report.
type job struct {
	cmd   string
	cfg   Config
	env   *Env
	log   *slog.Logger
	start time.Time
	do    phases

	es      *elasticsearch.Client
	report  *s3out.Report
	summary report.Summary
	s3opt   s3out.Options

	// backup is the diff's view of --source, set by source.
	backup diff.Side
	// pages keeps a bounded sample of the diff and failure lines for
	// report.html.
	pages *page.Collector
	// cleanups run once the diff is done: a snapshot's staging index is
	// the backup side until then.
	cleanups []func(ctx context.Context) error
}

func summarizeRestore(s restore.Stats) *report.Restore {
	rs := &report.Restore{Read: s.Read, Indexed: s.Indexed, Kept: s.Kept, Failed: s.Failed, Pending: s.Pending(),
		Ambiguous: s.Ambiguous, Duplicates: s.Duplicates, Rescans: s.Rescans, Retried: s.Retried, Bytes: s.Bytes,
		ExistingBefore: s.Existing, TargetCount: s.Count, Seconds: s.Elapsed.Seconds(),
		Load: s.Load, LoadReason: s.LoadReason, SnapshotRestored: s.Restored}
	if rs.Seconds > 0 {
		rs.DocsPerSecond = float64(s.Read) / rs.Seconds
	}
	return rs
}

func newJob(cmd string, env *Env, cfg Config, do phases) *job {
	j := &job{cmd: cmd, cfg: cfg, env: env, start: time.Now(), do: do, pages: page.NewCollector(page.Options{})}
	j.log = newLogger(env, cfg.LogFormat, cfg.LogLevel)
	opts := map[string]any{}
	for _, kv := range cfg.redacted() {
		opts[kv.key] = kv.value
	}
	j.summary = report.Summary{
		Command: cmd, Environment: strings.ToUpper(cfg.Environment), RunID: cfg.RunID, DryRun: cfg.DryRun,
		Original: redactURL(cfg.Original), Target: cfg.Target, Source: redactURL(cfg.Source), Mode: cfg.Mode, Prefer: cfg.Prefer,
		ToolVersion: toolVersion(), Options: opts, Started: j.start.UTC(), Objects: map[string]report.Object{},
		FailOn: cfg.FailOn, Attention: []string{}, Ignored: []string{},
		Integrity: report.Integrity{ToolVersion: toolVersion()},
	}
	if j.summary.FailOn == nil {
		j.summary.FailOn = []string{}
	}
	if cfg.Output == "" {
		j.cfg.Output = defaultOutput
		if env.WorkDir != "" {
			j.cfg.Output = filepath.Join(env.WorkDir, defaultOutput)
		}
	}
	j.s3opt = s3out.Options{Region: cfg.S3Region, Endpoint: cfg.S3Endpoint, SSE: cfg.S3SSE, KMSKeyID: cfg.S3KMSKeyID,
		MaxObjectSize: 256 << 30, Concurrency: 2}
	return j
}

// openReport checks the output location and, unless only checking, puts
// and deletes a marker so a wrong bucket fails now, not after hours.
func (j *job) openReport(ctx context.Context) error {
	loc, err := s3out.ParseURL(j.cfg.Output)
	if err != nil {
		return guardError(fmt.Errorf("--output: %w", err))
	}
	if err := j.s3opt.Validate(loc); err != nil {
		return guardError(fmt.Errorf("--output: %w", err))
	}
	dest, err := s3out.Open(ctx, j.cfg.Output, j.s3opt)
	if err != nil {
		return guardError(fmt.Errorf("--output: %w", err))
	}
	rep := s3out.NewReport(j.reportContext(ctx), dest, reportName(j.cfg.Original), j.cfg.RunID)
	if err := rep.Preflight(ctx); err != nil {
		return guardError(fmt.Errorf("--output %s is not writable: %w", redactURL(j.cfg.Output), err))
	}
	if rep, err = j.previousRun(ctx, dest, rep); err != nil {
		return err
	}
	j.report = rep
	j.log.Info("report location checked", "output", rep.URL(""))
	return nil
}

// reportName is the ORIGINAL part of the report path: the index name, or
// the dump's file name.
func reportName(original string) string {
	if isDumpURL(original) {
		base := filepath.Base(strings.TrimPrefix(strings.TrimPrefix(original, "file://"), "s3://"))
		base = strings.TrimSuffix(strings.TrimSuffix(base, ".gz"), ".ndjson")
		if base != "" && base != "." && base != "/" {
			return base
		}
		return "dump"
	}
	return original
}

// connect builds the Elasticsearch client and checks it answers.
func (j *job) connect(ctx context.Context) error {
	es, err := newESClient(j.env, j.cfg.ES)
	if err != nil {
		return guardError(err)
	}
	v, err := pingES(ctx, es, j.retryPolicy(), strings.Join(j.cfg.ES.URLs, ","))
	if err != nil {
		return guardError(err)
	}
	j.es = es
	j.log.Info("elasticsearch reachable", "version", v)
	return nil
}

// finish writes the summary: complete only when err is nil, with the
// verdict and the objects' digests. It runs on a fresh context so an
// interrupted job still leaves its summary.
func (j *job) finish(ctx context.Context, err error) error {
	j.summary.Finished = time.Now().UTC()
	j.summary.Complete = err == nil
	if err != nil {
		j.summary.Error = err.Error()
	}
	j.summary.Verdict = report.Judge(&j.summary)
	if j.report == nil {
		return err
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	j.summary.Location = j.report.URL("")
	j.listObjects()
	// The page is for people: written for every run that has a report,
	// interrupted ones included (it says INCOMPLETE), before the summary
	// that lists it.
	if perr := j.writePage(wctx); perr != nil {
		perr = fmt.Errorf("write %s: %w", s3out.PageName, perr)
		j.log.Error("page not written", "error", perr)
		err = errors.Join(err, perr)
		j.summary.Complete = false
		j.summary.Error = err.Error()
		j.summary.Verdict = report.Judge(&j.summary)
	}
	j.listObjects()
	if werr := j.report.WriteSummary(wctx, j.summary); werr != nil {
		werr = fmt.Errorf("write summary: %w", werr)
		j.log.Error("summary not written", "error", werr)
		return errors.Join(err, werr)
	}
	j.log.Info("summary written", "complete", j.summary.Complete, "location", j.report.URL(s3out.SummaryName))
	if err == nil {
		fmt.Fprintln(j.env.Stdout, j.report.URL(""))
	}
	return err
}

// listObjects puts the committed objects' digests into the summary.
func (j *job) listObjects() {
	for name, o := range j.report.Objects() {
		j.summary.Objects[objectName(name)] = report.Object{Key: o.Key, URL: o.URL, ContentType: o.ContentType,
			Bytes: o.Bytes, Lines: o.Lines, SHA256: o.SHA256}
	}
}

// writePage writes report.html from the summary and the lines the
// collector kept.
func (j *job) writePage(ctx context.Context) error {
	pw, err := j.report.Page(ctx)
	if err != nil {
		return err
	}
	if err := page.Write(pw, &j.summary, j.pages, page.Options{}); err != nil {
		j.report.Abort() //nolint:errcheck // the write error is what matters; closed objects stay
		return err
	}
	return pw.Close()
}

// objectName is the summary's name of a report object.
func objectName(file string) string {
	switch file {
	case s3out.DiffName:
		return "diff"
	case s3out.FailuresName:
		return "failures"
	case report.PageName:
		return "page"
	}
	return file
}

// interrupted turns an error after a SIGINT/SIGTERM into exit 130.
func interrupted(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil {
		return &exitErr{code: exitInterrupted, err: fmt.Errorf("interrupted: %w", err)}
	}
	return err
}

// failOn returns exit 3 when the verdict has a reason --fail-on names;
// the reasons go into the summary's attention list.
func (j *job) failOn() error {
	v := report.Judge(&j.summary)
	var hit []string
	for _, r := range v.Reasons {
		if slices.Contains(j.cfg.FailOn, r.Kind) {
			hit = append(hit, r.Text)
		}
	}
	j.summary.Attention = append(j.summary.Attention, hit...)
	if len(hit) == 0 {
		return nil
	}
	return &exitErr{code: exitFailOn, reported: true,
		err: fmt.Errorf("finished, but %s (--fail-on %s)", strings.Join(hit, "; "), strings.Join(j.cfg.FailOn, ","))}
}

// openDump opens a dump URL (file://, s3:// or a path) for reading.
func (j *job) openDump(raw string) func(ctx context.Context) (io.ReadCloser, error) {
	return func(ctx context.Context) (io.ReadCloser, error) {
		rc, err := s3out.OpenReader(ctx, raw, j.s3opt)
		if err != nil {
			return nil, fmt.Errorf("open dump %s: %w", redactURL(raw), err)
		}
		return rc, nil
	}
}

// source builds the restore source of --source.
func (j *job) source(ctx context.Context) (restore.Source, error) {
	spec, why := parseSource(j.cfg.Source)
	if why != "" {
		return nil, usageError(fmt.Errorf("--source: %s (got %q)", why, redactURL(j.cfg.Source)))
	}
	switch spec.kind {
	case "snapshot":
		src := restore.SnapshotSource(j.es, spec.repo, spec.snap, spec.index, j.cfg.KeepStaging, j.cfg.RunID)
		staging := restore.StagingIndex(j.cfg.RunID)
		j.backup = diff.IndexSide(j.es, staging)
		j.summary.Staging = &report.Staging{Index: staging}
		// The staging index is the diff's backup: the restore must not
		// delete it, the job does once the diff is done.
		held := &heldCleanup{Source: src}
		j.cleanups = append(j.cleanups, func(ctx context.Context) error {
			if err := src.Cleanup(ctx); err != nil {
				return err
			}
			j.summary.Staging.Deleted = !j.cfg.KeepStaging
			return nil
		})
		return held, nil
	case "index":
		j.backup = diff.IndexSide(j.es, spec.index)
		return restore.IndexSource(j.es, spec.index, j.cfg.Workers), nil
	case "remote":
		es, err := j.remoteClient(ctx, spec)
		if err != nil {
			return nil, err
		}
		j.backup = diff.IndexSide(es, spec.index)
		return restore.Named(restore.IndexSource(es, spec.index, j.cfg.Workers), spec.url+"/"+spec.index), nil
	default:
		rc, err := j.openDump(spec.url)(ctx)
		if err != nil {
			return nil, guardError(err)
		}
		j.backup = diff.DumpSide(j.openDump(spec.url), redactURL(spec.url))
		return &closingSource{Source: restore.NDJSONSource(rc, redactURL(spec.url)), c: rc}, nil
	}
}

// heldCleanup is a source whose Cleanup waits for the job (see
// job.cleanups).
type heldCleanup struct{ restore.Source }

func (heldCleanup) Cleanup(context.Context) error { return nil }

// Unwrap lets the restore see the snapshot source inside, which it
// restores as the target when it can.
func (h *heldCleanup) Unwrap() restore.Source { return h.Source }

// runCleanups runs the held clean-ups, on a fresh context when ctx is
// done (an interrupted run still deletes its staging index).
func (j *job) runCleanups(ctx context.Context) error {
	cctx := ctx
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		cctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
	}
	var errs []error
	for _, c := range j.cleanups {
		errs = append(errs, c(cctx))
	}
	j.cleanups = nil
	return errors.Join(errs...)
}

// closingSource closes the dump it reads at Cleanup.
type closingSource struct {
	restore.Source
	c io.Closer
}

func (s *closingSource) Cleanup(ctx context.Context) error {
	return errors.Join(s.Source.Cleanup(ctx), s.c.Close())
}

func (j *job) restoreOptions(failures io.Writer) restore.Options {
	return restore.Options{
		Original: j.cfg.Original, Target: j.cfg.Target,
		Mode: restore.Mode(j.cfg.Mode), Prefer: restore.Prefer(j.cfg.Prefer), NullIsMissing: j.cfg.FillNull,
		Strategy: restore.Strategy(j.cfg.Strategy),
		Workers:  j.cfg.Workers, BatchBytes: j.cfg.BatchBytes, BatchDocs: j.cfg.BatchSize, Slices: j.cfg.Workers,
		Retry: j.retryPolicy(), Timeout: j.cfg.BulkTimeout, Drain: j.cfg.Drain, Ignore: j.cfg.Ignore,
		AllowEmptySource: j.cfg.AllowEmpty, RunID: j.cfg.RunID, ToolVersion: toolVersion(), Started: j.start,
		KeepStaging: j.cfg.KeepStaging, Failures: failures, Logger: j.log,
	}
}

// checkRestore runs the restore guard rails: the original exists, the
// target is new or this run's, and differs from the original and its
// aliases, and the source exists.
func (j *job) checkRestore(ctx context.Context) (*restore.Restorer, restore.Source, error) {
	src, err := j.source(ctx)
	if err != nil {
		return nil, nil, err
	}
	r, err := restore.New(j.es, j.restoreOptions(nil))
	if err != nil {
		return nil, nil, usageError(err)
	}
	if err := r.Check(ctx, src); err != nil {
		return nil, nil, guardError(err)
	}
	return r, src, nil
}

// restorePhase loads the target and reports the failures.
func (j *job) restorePhase(ctx context.Context, src restore.Source) error {
	failures, err := j.report.Failures()
	if err != nil {
		return err
	}
	r, err := restore.New(j.es, j.restoreOptions(io.MultiWriter(failures, j.pages.Failures())))
	if err != nil {
		failures.Close() //nolint:errcheck // the options error is what matters
		return usageError(err)
	}
	prog := startProgress(j.env, j.log, j.cfg.Progress, func() progressSnapshot {
		s := r.Stats()
		return progressSnapshot{Phase: "restore", Done: s.Indexed + s.Kept + s.Failed, Read: s.Read, Failed: s.Failed}
	})
	stats, err := r.Run(ctx, src)
	prog.Stop()
	j.summary.Restore = summarizeRestore(stats)
	// Closed after an interruption too: the failures recorded so far are
	// written, and listed only once they are.
	if cerr := failures.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("write failures: %w", cerr))
	}
	return err
}

// diffPhase compares the sides and writes the diff.
func (j *job) diffPhase(ctx context.Context, sides diff.Sides, overlay diff.Overlay) error {
	w, err := j.report.Diff()
	if err != nil {
		return err
	}
	opt := diff.Options{Workers: j.cfg.Workers, Ignore: j.cfg.Ignore, Overlay: overlay, NullIsMissing: j.cfg.FillNull,
		Logger: j.log, Retry: j.retryPolicy()}
	d := diff.New(opt)
	prog := startProgress(j.env, j.log, j.cfg.Progress, func() progressSnapshot {
		o := d.Stats().Outcome
		return progressSnapshot{Phase: "diff", Done: o.Unchanged + o.Recovered + o.Overwritten + o.Added + o.Removed}
	})
	counts, err := d.RunSides(ctx, sides, io.MultiWriter(w, j.pages))
	prog.Stop()
	if err != nil {
		j.report.Abort() //nolint:errcheck // the error below says what failed
		return fmt.Errorf("diff: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("write diff: %w", err)
	}
	j.summary.Outcome = &counts.Outcome
	j.summary.Loss = counts.Loss
	j.summary.Fields = counts.Fields
	j.summary.Ignored = counts.Ignored
	j.summary.DiffRescans = counts.Rescans
	return nil
}

// side is a diff side named by an index or a dump URL.
func (j *job) side(name string) diff.Side {
	if isDumpURL(name) {
		return diff.DumpSide(j.openDump(name), redactURL(name))
	}
	return diff.IndexSide(j.es, name)
}

// remoteClient connects to the cluster of a remote --source, with the
// credentials of its URL or, without any, those of --es-*.
func (j *job) remoteClient(ctx context.Context, spec sourceSpec) (*elasticsearch.Client, error) {
	rc := j.cfg.ES
	rc.URLs = []string{spec.url}
	if spec.user != "" {
		rc.Username, rc.Password, rc.APIKey, rc.BearerToken = spec.user, spec.pass, "", ""
	}
	es, err := newESClient(j.env, rc)
	if err != nil {
		return nil, guardError(err)
	}
	if _, err := pingES(ctx, es, j.retryPolicy(), spec.url); err != nil {
		return nil, guardError(fmt.Errorf("source cluster: %w", err))
	}
	return es, nil
}
