package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/elastic/go-elasticsearch/v8"

	"github.com/esrestore/esrestore/diff"
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
	summary Summary
	s3opt   s3out.Options
}

// Summary is summary.json: what a reviewer reads first.
type Summary struct {
	// Complete is true only when every phase finished.
	Complete    bool   `json:"complete"`
	Error       string `json:"error,omitempty"`
	Command     string `json:"command"`
	Environment string `json:"environment"`
	RunID       string `json:"run_id"`
	DryRun      bool   `json:"dry_run"`
	Original    string `json:"original"`
	Target      string `json:"target,omitempty"`
	Restored    string `json:"restored,omitempty"`
	Source      string `json:"source,omitempty"`
	Mode        string `json:"mode,omitempty"`
	Prefer      string `json:"prefer,omitempty"`
	ToolVersion string `json:"tool_version"`
	// Options are the effective options, secrets redacted.
	Options  map[string]any  `json:"options"`
	Started  time.Time       `json:"started"`
	Finished time.Time       `json:"finished"`
	Restore  *restoreSummary `json:"restore,omitempty"`
	Diff     *diff.Counts    `json:"diff,omitempty"`
	// Objects are the report's objects, by name.
	Objects map[string]string `json:"objects"`
	FailOn  []string          `json:"fail_on"`
	// Attention lists the --fail-on conditions the run met.
	Attention []string `json:"attention"`
}

// restoreSummary is the restore phase's counts.
type restoreSummary struct {
	Read    int64 `json:"read"`
	Indexed int64 `json:"indexed"`
	Kept    int64 `json:"kept"`
	Failed  int64 `json:"failed"`
	Retried int64 `json:"retried"`
	// Pending counts documents read whose fate an interruption left
	// unknown: read == indexed + kept + failed + pending.
	Pending int64 `json:"pending"`
	// Ambiguous counts documents answered "updated" or 409 after a request
	// with them failed in transport: they may be this run's own writes.
	Ambiguous  int64   `json:"ambiguous"`
	Duplicates int64   `json:"duplicates"`
	Rescans    int64   `json:"rescans"`
	Bytes      int64   `json:"bytes"`
	Existing   int64   `json:"existing_before"`
	Count      int64   `json:"target_count"`
	Seconds    float64 `json:"seconds"`
	DocsPerSe  float64 `json:"docs_per_second"`
}

func summarizeRestore(s restore.Stats) *restoreSummary {
	rs := &restoreSummary{Read: s.Read, Indexed: s.Indexed, Kept: s.Kept, Failed: s.Failed, Retried: s.Retried,
		Pending: s.Pending(), Ambiguous: s.Ambiguous, Duplicates: s.Duplicates, Rescans: s.Rescans,
		Bytes: s.Bytes, Existing: s.Existing, Count: s.Count, Seconds: s.Elapsed.Seconds()}
	if rs.Seconds > 0 {
		rs.DocsPerSe = float64(s.Read) / rs.Seconds
	}
	return rs
}

func newJob(cmd string, env *Env, cfg Config, do phases) *job {
	j := &job{cmd: cmd, cfg: cfg, env: env, start: time.Now(), do: do}
	j.log = newLogger(env, cfg.LogFormat, cfg.LogLevel)
	opts := map[string]any{}
	for _, kv := range cfg.redacted() {
		opts[kv.key] = kv.value
	}
	j.summary = Summary{
		Command: cmd, Environment: strings.ToUpper(cfg.Environment), RunID: cfg.RunID, DryRun: cfg.DryRun,
		Original: redactURL(cfg.Original), Target: cfg.Target, Source: redactURL(cfg.Source), Mode: cfg.Mode, Prefer: cfg.Prefer,
		ToolVersion: version, Options: opts, Started: j.start.UTC(), Objects: map[string]string{}, FailOn: cfg.FailOn,
		Attention: []string{},
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

// finish writes the summary: complete only when err is nil. It runs on a
// fresh context so an interrupted job still leaves its summary.
func (j *job) finish(ctx context.Context, err error) error {
	j.summary.Finished = time.Now().UTC()
	j.summary.Complete = err == nil
	if err != nil {
		j.summary.Error = err.Error()
	}
	if j.report == nil {
		return err
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	j.summary.Objects["summary"] = j.report.URL(s3out.SummaryName)
	if werr := j.report.WriteSummary(wctx, j.summary); werr != nil {
		werr = fmt.Errorf("write summary: %w", werr)
		j.log.Error("summary not written", "error", werr)
		return errors.Join(err, werr)
	}
	j.log.Info("summary written", "complete", j.summary.Complete, "location", j.summary.Objects["summary"])
	if err == nil {
		fmt.Fprintln(j.env.Stdout, j.report.URL(""))
	}
	return err
}

// interrupted turns an error after a SIGINT/SIGTERM into exit 130.
func interrupted(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil {
		return &exitErr{code: exitInterrupted, err: fmt.Errorf("interrupted: %w", err)}
	}
	return err
}

// failOn returns exit 3 when the run met a --fail-on condition.
func (j *job) failOn() error {
	var hit []string
	for _, f := range j.cfg.FailOn {
		switch {
		case f == "failed" && j.summary.Restore != nil && j.summary.Restore.Failed > 0:
			hit = append(hit, fmt.Sprintf("%d documents failed to restore", j.summary.Restore.Failed))
		case f == "removed" && j.summary.Diff != nil && j.summary.Diff.Removed > 0:
			hit = append(hit, fmt.Sprintf("%d documents of the original are missing from the restored index", j.summary.Diff.Removed))
		case f == "changed" && j.summary.Diff != nil && j.summary.Diff.Changed > 0:
			hit = append(hit, fmt.Sprintf("%d documents differ between the original and the restored index", j.summary.Diff.Changed))
		}
	}
	j.summary.Attention = append(j.summary.Attention, hit...)
	if len(hit) == 0 {
		return nil
	}
	return &exitErr{code: exitFailOn, err: fmt.Errorf("finished, but %s (--fail-on %s)", strings.Join(hit, "; "), strings.Join(j.cfg.FailOn, ","))}
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
		return restore.SnapshotSource(j.es, spec.repo, spec.snap, spec.index, j.cfg.KeepStaging, j.cfg.RunID), nil
	case "index":
		return restore.IndexSource(j.es, spec.index, j.cfg.Workers), nil
	case "remote":
		es, err := j.remoteClient(ctx, spec)
		if err != nil {
			return nil, err
		}
		return restore.Named(restore.IndexSource(es, spec.index, j.cfg.Workers), spec.url+"/"+spec.index), nil
	default:
		rc, err := j.openDump(spec.url)(ctx)
		if err != nil {
			return nil, guardError(err)
		}
		return &closingSource{Source: restore.NDJSONSource(rc, redactURL(spec.url)), c: rc}, nil
	}
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
		Mode: restore.Mode(j.cfg.Mode), Prefer: restore.Prefer(j.cfg.Prefer),
		Workers: j.cfg.Workers, BatchBytes: j.cfg.BatchBytes, BatchDocs: j.cfg.BatchSize, Slices: j.cfg.Workers,
		Retry: j.retryPolicy(), Timeout: j.cfg.BulkTimeout, Drain: j.cfg.Drain, Ignore: j.cfg.Ignore,
		AllowEmptySource: j.cfg.AllowEmpty, RunID: j.cfg.RunID, ToolVersion: version, Started: j.start,
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
	r, err := restore.New(j.es, j.restoreOptions(failures))
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
	j.attentionRestore(stats)
	// Closed after an interruption too: the failures recorded so far are
	// written, and listed only once they are.
	if cerr := failures.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("write failures: %w", cerr))
	} else {
		j.summary.Objects["failures"] = j.report.URL(s3out.FailuresName)
	}
	j.log.Info("restore done", "read", stats.Read, "indexed", stats.Indexed, "kept", stats.Kept, "failed", stats.Failed,
		"retried", stats.Retried, "seconds", stats.Elapsed.Seconds())
	return err
}

// diffPhase compares original and restored and writes the diff.
func (j *job) diffPhase(ctx context.Context, original, restored diff.Side, overlay diff.Overlay) error {
	w, err := j.report.Diff()
	if err != nil {
		return err
	}
	opt := diff.Options{Workers: j.cfg.Workers, Ignore: j.cfg.Ignore, Overlay: overlay, Logger: j.log, Retry: j.retryPolicy()}
	d := diff.New(opt)
	prog := startProgress(j.env, j.log, j.cfg.Progress, func() progressSnapshot {
		c := d.Stats()
		return progressSnapshot{Phase: "diff", Done: c.Unchanged + c.Changed + c.Added + c.Removed}
	})
	counts, err := d.Run(ctx, original, restored, w)
	prog.Stop()
	if err != nil {
		j.report.Abort() //nolint:errcheck // the error below says what failed
		return fmt.Errorf("diff: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("write diff: %w", err)
	}
	j.summary.Diff = &counts
	j.summary.Objects["diff"] = j.report.URL(s3out.DiffName)
	j.log.Info("diff done", "original", counts.Original, "restored", counts.Restored, "unchanged", counts.Unchanged,
		"changed", counts.Changed, "added", counts.Added, "removed", counts.Removed)
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
