package job

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/elastic/go-elasticsearch/v8"

	"github.com/esrestore/esrestore/diff"
	"github.com/esrestore/esrestore/internal/esscan"
	"github.com/esrestore/esrestore/internal/fielderr"
	"github.com/esrestore/esrestore/internal/lease"
	"github.com/esrestore/esrestore/internal/redact"
	"github.com/esrestore/esrestore/internal/retry"
	"github.com/esrestore/esrestore/report"
	"github.com/esrestore/esrestore/report/page"
	"github.com/esrestore/esrestore/restore"
	"github.com/esrestore/esrestore/s3out"
)

// DefaultOutput is where reports go without Config.Output: a directory
// under Options.WorkDir.
const DefaultOutput = "esrestore-report"

// Options are what a job takes from the command that runs it: what it
// is, and every effect of the process's environment, as values.
type Options struct {
	// Command names the job: "run" and "demo" restore and diff,
	// "restore" restores, "diff" diffs, "check" runs the guard rails.
	Command string
	// Logger takes every record of the job; JSONLogs says it writes
	// JSON (the effective configuration is then one object per setting).
	Logger   *slog.Logger
	JSONLogs bool
	// Stdout gets the report's location once the summary is written.
	Stdout io.Writer
	// WorkDir is where the default output goes; "" is the current
	// directory.
	WorkDir string
	// ToolVersion is recorded in the summary and the target's _meta.
	ToolVersion string
	// NewClient builds the Elasticsearch client of c; Ping checks that
	// es answers as Elasticsearch and accepts the credentials, retrying
	// under pol, and returns its version (where names it in errors).
	// Both are required when Config.ES has URLs.
	NewClient func(c ESConfig) (*elasticsearch.Client, error)
	Ping      func(ctx context.Context, es *elasticsearch.Client, pol retry.Policy, where string) (string, error)
	// Progress starts reporting a phase's advance from read every
	// Config.Progress, until Stop; nil reports none.
	Progress func(read func() Progress) interface{ Stop() }
	// Tell is called once a job that got past its guard rails has
	// written its summary and sent its notification, with the job's
	// error: the command tells the operator, and returns the error the
	// job ends with. nil tells nothing.
	Tell func(j *Job, err error) error
	// FieldName names an option of s3out as the operator set it (a
	// flag), for the errors of its validation; nil or "" keeps the
	// option's own name.
	FieldName func(field string) string
}

// phases says what a job does.
type phases struct {
	check   bool // guard rails only
	restore bool
	diff    bool
}

// phasesOf are the phases of a command.
func phasesOf(command string) phases {
	switch command {
	case "check":
		return phases{check: true}
	case "restore":
		return phases{restore: true}
	case "diff":
		return phases{diff: true}
	}
	return phases{restore: true, diff: true}
}

// Job is one run of a command: configuration, clients, report.
type Job struct {
	cmd   string
	cfg   Config
	opt   Options
	log   *slog.Logger
	json  bool // stderr carries JSON records only
	start time.Time
	do    phases

	es      *elasticsearch.Client
	report  *s3out.Report
	summary report.Summary
	s3opt   s3out.Options
	// summarySHA is the hex sha256 of the summary.json finish wrote.
	summarySHA string

	// throttle paces the restore's writes (--max-docs-per-second) and
	// backs off when the cluster pushes back.
	throttle *restore.Throttle

	// instant is the moment the original is read at, by the restore's
	// reconciliation and the diff alike; set by connect when the
	// original is an index, opened by its first reader.
	instant *esscan.Instant
	// backup is the diff's view of --source, set by source.
	backup diff.Side
	// dupes are the ids held under several routings, found by the checks.
	dupes []restore.DuplicateID
	// backupTotal counts the documents of --source, for progress.
	backupTotal *sideTotal
	// pages keeps a bounded sample of the diff and failure lines for
	// report.html.
	pages *page.Collector
	// cleanups run once the diff is done: a snapshot's staging index is
	// the backup side until then.
	cleanups []func(ctx context.Context) error

	// ids are the identities config_sha256 binds, read by identify;
	// identified and configLogged make identify and the record once.
	ids                      Identities
	identified, configLogged bool
	// retries counts the retries of each phase.
	retries phaseRetries
	// attempts are the attempts of the run id.
	attempts attempts
	// lease makes this process the run id's one runner (see holdLease);
	// leaseCancel stops watching it.
	lease       *lease.Lease
	leaseCancel context.CancelFunc
	// ident is where this attempt runs (see where).
	ident restore.Identity
	// src is Config.Source parsed.
	src restore.SourceSpec
	// prev is the incomplete summary of an earlier attempt of the run
	// id, nil if none.
	prev *report.Summary
	// scope is --skip-ids and --only-query (loadScope), nil for none;
	// inScope is it resolved for the diff: by the restore, or on a dry
	// run's backup.
	scope   *restore.Scope
	inScope func(id string) bool
}

func summarizeRestore(s restore.Stats) *report.Restore {
	rs := &report.Restore{Read: s.Read, Indexed: s.Indexed, Kept: s.Kept, Skipped: s.Skipped, Failed: s.Failed, Pending: s.Pending(),
		Ambiguous: s.Ambiguous, Duplicates: s.Duplicates, Rescans: s.Rescans, Retried: s.Retried, Bytes: s.Bytes,
		ExistingBefore: s.Existing, TargetCount: s.Count, Seconds: s.Elapsed.Seconds(),
		Load: s.Load, LoadReason: s.LoadReason, SnapshotRestored: s.Restored, KeptBySeqNo: s.KeptBySeqNo}
	if rs.Seconds > 0 {
		rs.DocsPerSecond = float64(s.Read) / rs.Seconds
	}
	return rs
}

// New makes a job of cfg: nothing is read or written before one of its
// commands runs (Run, Check, Diff).
func New(cfg Config, opt Options) *Job {
	j := &Job{cmd: opt.Command, cfg: cfg, opt: opt, log: opt.Logger, json: opt.JSONLogs, start: time.Now(),
		do: phasesOf(opt.Command), pages: page.NewCollector(page.Options{})}
	if j.log == nil {
		j.log = slog.New(slog.DiscardHandler)
	}
	if j.opt.Stdout == nil {
		j.opt.Stdout = io.Discard
	}
	// The command has validated Source; a job without one (diff) has the
	// zero spec.
	j.src, _ = restore.ParseSourceSpec(cfg.Source)
	j.ident = restore.Identity{Environment: strings.ToUpper(cfg.Environment)}
	LogOverrides(j.log, cfg)
	opts := cfg.options()
	j.summary = report.Summary{
		SourceIndex: cfg.SourceIndex,
		Command:     j.cmd, Environment: strings.ToUpper(cfg.Environment), RunID: cfg.RunID, DryRun: cfg.DryRun,
		Original: redact.URLs(cfg.Original), Target: cfg.Target, Source: redact.URLs(cfg.Source), Mode: cfg.Mode, Prefer: cfg.Prefer,
		ToolVersion: opt.ToolVersion, Options: opts, Started: j.start.UTC(), Objects: map[string]report.Object{},
		FailOn: cfg.FailOn, Attention: []string{}, Ignored: []string{},
		Integrity: report.Integrity{ToolVersion: opt.ToolVersion},
	}
	if j.summary.FailOn == nil {
		j.summary.FailOn = []string{}
	}
	if cfg.Output == "" {
		j.cfg.Output = DefaultOutput
		if opt.WorkDir != "" {
			j.cfg.Output = filepath.Join(opt.WorkDir, DefaultOutput)
		}
	}
	j.throttle = restore.NewThrottle(cfg.MaxDocsPerSecond, cfg.Workers)
	j.s3opt = s3out.Options{Region: cfg.S3Region, Endpoint: cfg.S3Endpoint, SSE: cfg.S3SSE, KMSKeyID: cfg.S3KMSKeyID,
		MaxObjectSize: 256 << 30, Concurrency: 2}
	return j
}

// openReport checks the output location and, unless only checking, puts
// and deletes a marker so a wrong bucket fails now, not after hours.
func (j *Job) openReport(ctx context.Context) error {
	ctx = j.phase(ctx, report.PhaseReport)
	loc, err := s3out.ParseURL(j.cfg.Output)
	if err != nil {
		return GuardError(fmt.Errorf("--output: %w", err))
	}
	if err := j.s3opt.Validate(loc); err != nil {
		return GuardError(fmt.Errorf("--output: %w", j.asFlags(err)))
	}
	dest, err := s3out.Open(ctx, j.cfg.Output, j.s3opt)
	if err != nil {
		return GuardError(fmt.Errorf("--output: %w", err))
	}
	rep := s3out.NewReport(j.reportContext(ctx), dest, ReportName(j.cfg.Original), j.cfg.RunID)
	if err := rep.Preflight(ctx); err != nil {
		return GuardError(fmt.Errorf("--output %s is not writable: %w", redact.URLs(j.cfg.Output), err))
	}
	if rep, err = j.previousRun(ctx, dest, rep); err != nil {
		return err
	}
	j.report = rep
	j.log.Info("report location checked", "output", rep.URL(""))
	return nil
}

// ReportName is the ORIGINAL part of the report path: the index name, or
// the dump's file name.
func ReportName(original string) string {
	if restore.IsDumpURL(original) {
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
func (j *Job) connect(ctx context.Context) error {
	ctx = j.phase(ctx, report.PhaseChecks)
	es, err := j.opt.NewClient(j.cfg.ES)
	if err != nil {
		return GuardError(err)
	}
	v, err := j.opt.Ping(ctx, es, j.retryPolicy(), strings.Join(j.cfg.ES.URLs, ","))
	if err != nil {
		return GuardError(err)
	}
	j.es = es
	j.log.Info("elasticsearch reachable", "version", v)
	if !restore.IsDumpURL(j.cfg.Original) {
		j.instant = esscan.NewInstant(es, j.cfg.Original, esscan.InstantOptions{Retry: j.retryPolicy(), Logger: j.log})
	}
	return nil
}

// pin runs before a job's first write: identify, then --expect-config.
func (j *Job) pin(ctx context.Context) error {
	if err := j.identify(ctx); err != nil {
		return err
	}
	return j.expectConfig(ctx)
}

// identify runs once, before the first write: it reads what the report
// is about (recordStart), takes config_sha256 over the configuration and
// those identities, and logs the effective configuration with it.
func (j *Job) identify(ctx context.Context) error {
	if j.identified {
		return nil
	}
	j.identified = true
	if j.es != nil && !restore.IsDumpURL(j.cfg.Original) && j.cmd != "diff" {
		if err := j.recordStart(ctx); err != nil {
			return err
		}
	}
	in := j.summary.Integrity
	if in.Cluster != nil {
		j.ids.Cluster = in.Cluster.UUID
	}
	if in.Original != nil {
		j.ids.Original = in.Original.UUID
	}
	if in.Snapshot != nil {
		j.ids.Snapshot = in.Snapshot.UUID
	}
	if err := j.detectProfile(ctx); err != nil {
		return err
	}
	j.summary.ConfigSHA256 = ConfigSHA256(j.cfg.Settings, j.ids)
	j.logConfig()
	return nil
}

// logConfig logs the effective configuration, once: with its fingerprint
// when identify took it, else (a job stopped before) without.
func (j *Job) logConfig() {
	if j.configLogged {
		return
	}
	j.configLogged = true
	LogConfig(j.log, j.cmd, j.cfg, j.summary.ConfigSHA256, j.ids, j.json)
}

// record is what config.json holds for this configuration.
func (j *Job) record() configRecord {
	return configRecord{ConfigSHA256: j.summary.ConfigSHA256, Settings: fingerprinted(j.cfg.Settings), Identities: j.ids}
}

// expectConfig refuses a configuration whose fingerprint is not the one
// --expect-config gives (exit 2), naming the settings that differ from
// the record check left at the report location, when it is there.
func (j *Job) expectConfig(ctx context.Context) error {
	want, got := j.cfg.ExpectConfig, j.summary.ConfigSHA256
	if want == "" || want == got {
		return nil
	}
	where := "--expect-config"
	for _, s := range j.cfg.Settings {
		if s.Name == "expect-config" && s.Origin != "flag" {
			where = s.Origin
		}
	}
	msg := fmt.Sprintf("%s: this configuration's config_sha256 is %s, not the %s expected; nothing was written", where, got, want)
	if j.report == nil {
		return misconfigured(errors.New(msg))
	}
	url := j.report.URL(s3out.ConfigName)
	checked, err := j.readConfigRecord(ctx, url)
	switch {
	case err != nil:
		msg += fmt.Sprintf("; no record of check at %s to compare with (%v)", url, err)
	case checked.ConfigSHA256 == got:
		msg += fmt.Sprintf("; it is the configuration check recorded last at %s: --expect-config names another check's", url)
	case checked.ConfigSHA256 != want:
		// check ran again since, on another configuration: still the
		// nearest thing to compare with.
		msg += fmt.Sprintf("; the record check left at %s is of %s, not of the configuration expected; what differs from it:\n%s",
			url, checked.ConfigSHA256, strings.Join(checked.differences(j.record()), "\n"))
	default:
		msg += fmt.Sprintf("; what differs from the configuration check recorded at %s:\n%s", url, strings.Join(checked.differences(j.record()), "\n"))
	}
	return misconfigured(errors.New(msg))
}

// readConfigRecord reads the config.json check left.
func (j *Job) readConfigRecord(ctx context.Context, url string) (configRecord, error) {
	var r configRecord
	rc, err := s3out.OpenReader(ctx, url, j.s3opt)
	if err != nil {
		return r, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 1<<20))
	if err == nil {
		err = json.Unmarshal(b, &r)
	}
	return r, err
}

// closeInstant releases the original's point in time.
func (j *Job) closeInstant() {
	if j.instant != nil {
		j.instant.Close()
	}
}

// originalSide is the diff's view of the original: an index read at the
// job's instant, or a dump.
func (j *Job) originalSide() diff.Side {
	if j.instant != nil {
		return diff.IndexSideAt(j.es, j.instant)
	}
	return j.side(j.cfg.Original)
}

// finish writes the summary: complete only when err is nil, with the
// verdict and the objects' digests; summarySHA256 is then its own. It runs on a fresh context so an
// interrupted job still leaves its summary.
func (j *Job) finish(ctx context.Context, err error) error {
	j.settle(err)
	if j.report == nil {
		return err
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
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
		j.judgeAlternatives()
	}
	j.listObjects()
	if werr := j.report.WriteSummary(wctx, j.summary); werr != nil {
		werr = fmt.Errorf("write summary: %w", werr)
		j.log.Error("summary not written", "error", werr)
		return errors.Join(err, werr)
	}
	j.summarySHA = j.report.SummarySHA256()
	j.log.Info("summary written", "complete", j.summary.Complete, "location", j.report.URL(s3out.SummaryName),
		"sha256", j.summarySHA)
	if err == nil {
		fmt.Fprintln(j.opt.Stdout, j.report.URL(""))
	}
	return err
}

// SummarySHA256 is the hex sha256 of the summary.json this job's end
// wrote, "" when it wrote none (a summary of the running attempt does
// not count).
func (j *Job) SummarySHA256() string { return j.summarySHA }

// settle records how the job ended in the summary: finished, complete
// only without error, the verdict, the report's location.
func (j *Job) settle(err error) {
	j.summary.Finished = time.Now().UTC()
	j.settleAttempts(err)
	j.summary.Complete = err == nil
	if err != nil {
		j.summary.Error = err.Error()
	}
	j.summary.Verdict = report.Judge(&j.summary)
	j.judgeAlternatives()
	if j.report != nil {
		j.summary.Location = j.report.URL("")
	}
}

// listObjects puts the committed objects' digests into the summary.
func (j *Job) listObjects() {
	for name, o := range j.report.Objects() {
		j.summary.Objects[report.ObjectName(name)] = report.Object{Key: o.Key, URL: o.URL, ContentType: o.ContentType,
			Bytes: o.Bytes, Lines: o.Lines, SHA256: o.SHA256}
	}
}

// writePage writes report.html from the summary and the lines the
// collector kept.
func (j *Job) writePage(ctx context.Context) error {
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

// failOn is the job's FailOn error when the verdict has a reason --fail-on
// names; the reasons go into the summary's attention list.
func (j *Job) failOn() error {
	hit := report.Judge(&j.summary).FailOn(j.cfg.FailOn)
	j.summary.Attention = append(j.summary.Attention, hit...)
	if len(hit) == 0 {
		return nil
	}
	return &Error{Kind: FailOn,
		Err: fmt.Errorf("finished, but %s (--fail-on %s)", strings.Join(hit, "; "), strings.Join(j.cfg.FailOn, ","))}
}

// openDump opens a dump URL (file://, s3:// or a path) for reading.
func (j *Job) openDump(raw string) func(ctx context.Context) (io.ReadCloser, error) {
	return func(ctx context.Context) (io.ReadCloser, error) {
		rc, err := s3out.OpenReader(ctx, raw, j.s3opt)
		if err != nil {
			return nil, fmt.Errorf("open dump %s: %w", redact.URLs(raw), err)
		}
		return rc, nil
	}
}

// source builds the restore source of --source.
func (j *Job) source(ctx context.Context) (restore.Source, error) {
	spec := j.src
	if j.cfg.SourceIndex != "" && spec.Kind != restore.SourceSnapshot {
		return nil, misconfigured(fmt.Errorf("--source-index: only for a snapshot source (snapshot:REPO/SNAP/INDEX), not %q", redact.URLs(j.cfg.Source)))
	}
	switch spec.Kind {
	case restore.SourceSnapshot:
		src := restore.SnapshotSource(j.es, spec.Repo, spec.Snapshot, spec.Index, j.cfg.KeepStaging, j.cfg.RunID)
		staging := restore.StagingIndex(j.cfg.RunID)
		j.backup = diff.IndexSide(j.es, staging)
		j.backupTotal = indexTotal(j.es, staging)
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
	case restore.SourceIndex:
		j.backup = diff.IndexSide(j.es, spec.Index)
		j.backupTotal = indexTotal(j.es, spec.Index)
		return restore.IndexSource(j.es, spec.Index, j.cfg.Workers), nil
	case restore.SourceRemote:
		es, err := j.remoteClient(ctx, spec)
		if err != nil {
			return nil, err
		}
		j.backup = diff.IndexSide(es, spec.Index)
		j.backupTotal = indexTotal(es, spec.Index)
		return restore.Named(restore.IndexSource(es, spec.Index, j.cfg.Workers), spec.URL+"/"+spec.Index), nil
	default:
		rc, err := j.openDump(spec.URL)(ctx)
		if err != nil {
			return nil, GuardError(err)
		}
		j.backup = diff.DumpSide(j.openDump(spec.URL), redact.URLs(spec.URL))
		j.backupTotal = j.nameTotal(spec.URL)
		return &closingSource{Source: restore.NDJSONSource(rc, redact.URLs(spec.URL)), c: rc}, nil
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
func (j *Job) runCleanups(ctx context.Context) error {
	ctx = j.phase(ctx, report.PhaseEnd)
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

func (j *Job) restoreOptions(failures io.Writer) restore.Options {
	return restore.Options{
		Original: j.cfg.Original, Target: j.cfg.Target, Instant: j.instant,
		Mode: restore.Mode(j.cfg.Mode), Prefer: restore.Prefer(j.cfg.Prefer), NullIsMissing: j.cfg.FillNull,
		Strategy: restore.Strategy(j.cfg.Strategy),
		Workers:  j.cfg.Workers, BatchBytes: j.cfg.BatchBytes, BatchDocs: j.cfg.BatchSize, Slices: j.cfg.Workers,
		Retry: j.retryPolicy(), Timeout: j.cfg.BulkTimeout, Drain: j.cfg.Drain, Ignore: j.cfg.Ignore,
		AllowEmptySource: j.cfg.AllowEmpty, SourceIndex: j.cfg.SourceIndex, RunID: j.cfg.RunID, ToolVersion: j.opt.ToolVersion, Started: j.start,
		KeepStaging: j.cfg.KeepStaging, Failures: failures, Logger: j.log, Throttle: j.throttle, Duplicates: j.dupes, Identity: j.ident,
		Scope: j.scope,
	}
}

// summarizeThrottle is the summary's account of the load the restore put
// on the cluster.
func summarizeThrottle(s restore.ThrottleStats) *report.Throttle {
	return &report.Throttle{
		MaxDocsPerSecond: s.MaxDocsPerSecond, DocsPerSecond: s.DocsPerSecond(), RequestsPerSecond: s.RequestsPerSecond(),
		Workers: s.Workers, MinInFlight: s.MinInFlight, MaxInFlight: s.MaxInFlight, FinalInFlight: s.InFlightLimit,
		Backoffs: s.Backoffs, WaitedSeconds: s.Waited.Seconds(),
	}
}

// checkRestore runs the restore guard rails: the original exists, the
// target is new or this run's, and differs from the original and its
// aliases, and the source exists.
func (j *Job) checkRestore(ctx context.Context) (*restore.Restorer, restore.Source, error) {
	ctx = j.phase(ctx, report.PhaseChecks)
	src, err := j.source(ctx)
	if err != nil {
		return nil, nil, err
	}
	return j.checkRestoreOf(ctx, src)
}

// checkRestoreOf runs the restore guard rails on src.
func (j *Job) checkRestoreOf(ctx context.Context, src restore.Source) (*restore.Restorer, restore.Source, error) {
	opt := j.restoreOptions(nil)
	// The restore checks again right before it writes and logs that; this
	// first pass is the job's "guard rails passed": one record per event.
	opt.Logger = slog.New(atLeast{h: j.log.Handler(), min: slog.LevelWarn})
	r, err := restore.New(j.es, opt)
	if err != nil {
		return nil, nil, misconfigured(err)
	}
	if err := r.Check(ctx, src); err != nil {
		return nil, nil, GuardError(sourceIndexHint(err))
	}
	if err := j.hiddenFields(ctx); err != nil {
		return nil, nil, err
	}
	if err := j.duplicateIDs(ctx); err != nil {
		return nil, nil, err
	}
	if err := j.checkScopeQuery(ctx); err != nil {
		return nil, nil, err
	}
	return r, src, nil
}

// duplicateIDs finds, before the first write, the ids the original (and
// an index source of the same cluster) holds under several routings: the
// restore fails every copy of them, naming the routings, and the diff
// leaves them out, so that they are failures of their documents, never
// a count that does not add up.
func (j *Job) duplicateIDs(ctx context.Context) error {
	if j.es == nil || restore.IsDumpURL(j.cfg.Original) {
		return nil
	}
	indexes := []string{j.cfg.Original}
	if spec := j.src; spec.Kind == restore.SourceIndex {
		indexes = append(indexes, spec.Index)
	}
	j.dupes = nil
	seen := map[string]bool{}
	for _, index := range indexes {
		found, err := restore.FindDuplicateIDs(ctx, j.es, index, j.retryPolicy())
		if err != nil {
			return GuardError(fmt.Errorf("look for ids under several routings: %w", err))
		}
		for _, d := range found {
			if !seen[d.ID] {
				seen[d.ID] = true
				j.dupes = append(j.dupes, d)
			}
		}
	}
	if j.instant != nil && len(j.dupes) > 0 {
		j.instant.SkipIDs(j.skipIDs())
	}
	j.summary.DuplicateIDs = nil
	for i, d := range j.dupes {
		j.summary.DuplicateIDs = append(j.summary.DuplicateIDs, report.DuplicateID{Index: d.Index, ID: d.ID, Routings: d.Routings})
		if i < maxLoggedDuplicates {
			j.log.Warn("an id is held under several routings: every copy fails to restore, and the diff leaves it out",
				"index", d.Index, "id", d.ID, "routings", d.Routings)
		}
	}
	if n := len(j.dupes); n > maxLoggedDuplicates {
		j.log.Warn("more ids are held under several routings", "more", n-maxLoggedDuplicates, "total", n)
	}
	return nil
}

// sourceIndexHint names the flag that restores another index of a
// snapshot on purpose.
func sourceIndexHint(err error) error {
	if errors.Is(err, restore.ErrSourceIndex) {
		return fmt.Errorf("%w (--source-index, or ESRESTORE_SOURCE_INDEX, repeats the snapshot's INDEX to restore it on purpose)", err)
	}
	return err
}

// maxLoggedDuplicates bounds the ids under several routings logged one
// by one.
const maxLoggedDuplicates = 20

// skipIDs are the ids the diff leaves out: those under several routings.
func (j *Job) skipIDs() []string {
	ids := make([]string, len(j.dupes))
	for i, d := range j.dupes {
		ids[i] = d.ID
	}
	return ids
}

// hiddenFields names, before the run, the fields the original's mapping
// leaves out of _source (_source.excludes) and how many documents hold
// each: a copy through _bulk cannot carry them, only a snapshot restored
// as the target keeps them. The verdict's source-excludes reason lists
// those the target lacks.
func (j *Job) hiddenFields(ctx context.Context) error {
	if j.es == nil || restore.IsDumpURL(j.cfg.Original) {
		return nil
	}
	hidden, err := restore.HiddenFields(ctx, j.es, j.cfg.Original, j.retryPolicy())
	if err != nil {
		return GuardError(fmt.Errorf("read the original's _source.excludes: %w", err))
	}
	j.summary.SourceExcludes = nil
	if len(hidden) == 0 {
		return nil
	}
	paths := make([]string, len(hidden))
	counts := make([]int64, len(hidden))
	for i, h := range hidden {
		j.summary.SourceExcludes = append(j.summary.SourceExcludes, report.HiddenField{Path: h.Path, Documents: h.Documents})
		paths[i], counts[i] = h.Path, h.Documents
	}
	j.log.Warn("the original's mapping leaves fields out of _source: only a snapshot restored as the target keeps them, a copy through _bulk cannot",
		"original", j.cfg.Original, "paths", paths, "documents", counts)
	return nil
}

// countHidden counts, after the restore, the documents of the target
// holding each of the original's hidden fields: the verdict compares them
// with the original's.
func (j *Job) countHidden(ctx context.Context) error {
	hs := j.summary.SourceExcludes
	if len(hs) == 0 {
		return nil
	}
	paths := make([]string, len(hs))
	for i, h := range hs {
		paths[i] = h.Path
	}
	n, err := restore.CountFields(ctx, j.es, j.cfg.Target, paths, j.retryPolicy())
	if err != nil {
		return fmt.Errorf("count the hidden fields in the target: %w", err)
	}
	for i := range hs {
		hs[i].Target = &n[i]
	}
	return nil
}

// restorePhase loads the target and reports the failures.
func (j *Job) restorePhase(ctx context.Context, src restore.Source) error {
	ctx = j.phase(ctx, report.PhaseRestore)
	failures, err := j.report.Failures()
	if err != nil {
		return err
	}
	r, err := restore.New(j.es, j.restoreOptions(io.MultiWriter(failures, j.pages.Failures())))
	if err != nil {
		failures.Close() //nolint:errcheck // the options error is what matters
		return misconfigured(err)
	}
	prog := j.startProgress(j.restoreProgress(r))
	stats, err := r.Run(ctx, src)
	prog.Stop()
	j.inScope = r.InScope()
	if errors.Is(err, restore.ErrScopeQuery) || errors.Is(err, restore.ErrScopeTooLarge) {
		// Found once a snapshot's staging index could be queried, before
		// the target was made: a retry cannot fix it.
		err = misconfigured(fmt.Errorf("--only-query: %w", err))
	}
	j.summary.Restore = summarizeRestore(stats)
	j.summary.Throttle = summarizeThrottle(j.throttle.Stats())
	// Closed after an interruption too: the failures recorded so far are
	// written, and listed only once they are. A lost lease leaves the
	// report to the current runner.
	if j.leaseLost() != nil {
		j.report.Abort() //nolint:errcheck // the lost lease is the error
	} else if cerr := failures.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("write failures: %w", cerr))
	}
	return err
}

// diffPhase compares the sides and writes the diff.
func (j *Job) diffPhase(ctx context.Context, sides diff.Sides, overlay diff.Overlay) error {
	ctx = j.phase(ctx, report.PhaseDiff)
	w, err := j.report.Diff()
	if err != nil {
		return err
	}
	opt := diff.Options{Workers: j.cfg.Workers, Ignore: j.cfg.Ignore, Overlay: overlay, NullIsMissing: j.cfg.FillNull,
		Logger: j.log, Retry: j.retryPolicy(), SkipIDs: j.skipIDs(), Watch: j.cfg.Watch, Scope: j.inScope}
	opt.Profile, opt.ProfileDate = j.cfg.profileOptions()
	d := diff.New(opt)
	prog := j.startProgress(j.diffProgress(d, sides))
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
	j.summary.Watched, j.summary.WatchedDocuments = counts.Watched, counts.WatchedDocuments
	j.summary.Ignored = counts.Ignored
	if a := counts.Alternatives; a != nil {
		j.summary.PreferAlternatives = report.Alternatives(&j.summary, *a)
	}
	j.summary.DiffRescans = counts.Rescans
	j.summary.DumpBadLines = counts.BadLines
	if j.instant != nil {
		j.summary.DiffRescans += int64(j.instant.Reopens())
		at := j.instant.At()
		j.summary.Instant = &at
	}
	return nil
}

// side is a diff side named by an index or a dump URL.
func (j *Job) side(name string) diff.Side {
	if restore.IsDumpURL(name) {
		return diff.DumpSide(j.openDump(name), redact.URLs(name))
	}
	return diff.IndexSide(j.es, name)
}

// remoteClient connects to the cluster of a remote --source, with the
// credentials of its URL or, without any, those of --es-*.
func (j *Job) remoteClient(ctx context.Context, spec restore.SourceSpec) (*elasticsearch.Client, error) {
	rc := j.cfg.ES
	rc.URLs = []string{spec.URL}
	if spec.User != "" {
		rc.Username, rc.Password, rc.APIKey, rc.BearerToken = spec.User, spec.Password, "", ""
	}
	es, err := j.opt.NewClient(rc)
	if err != nil {
		return nil, GuardError(err)
	}
	if _, err := j.opt.Ping(ctx, es, j.retryPolicy(), spec.URL); err != nil {
		return nil, GuardError(fmt.Errorf("source cluster: %w", err))
	}
	return es, nil
}

// flagNamed is an error whose text names flags; it still matches what it
// wraps.
type flagNamed struct {
	msg string
	err error
}

func (e *flagNamed) Error() string { return e.msg }
func (e *flagNamed) Unwrap() error { return e.err }

// asFlags writes s3out's validation errors (one, or several joined) with
// their options named as the command names them (Options.FieldName).
func (j *Job) asFlags(err error) error {
	var lines []string
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		if fe, ok := e.(*fielderr.Error); ok {
			lines = append(lines, fe.Named(j.opt.FieldName))
		} else {
			lines = append(lines, e.Error())
		}
	}
	return &flagNamed{msg: strings.Join(lines, "\n"), err: err}
}
