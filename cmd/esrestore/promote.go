package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/elastic/go-elasticsearch/v8"

	"github.com/esrestore/esrestore/internal/redact"
	"github.com/esrestore/esrestore/internal/retry"
	"github.com/esrestore/esrestore/job"
	"github.com/esrestore/esrestore/promote"
	"github.com/esrestore/esrestore/report"
	"github.com/esrestore/esrestore/restore"
	"github.com/esrestore/esrestore/s3out"
)

type promoteCmd struct{}

func (promoteCmd) Name() string { return "promote" }

func (promoteCmd) Summary() string {
	return "after review: bring the original's writes since the run into the target, switch the alias, record promote.json"
}

const promoteHelp = `Promotes a reviewed run. Before any write it checks that the summary is
complete, that every object matches its sha256, that the verdict is ok or each
of its reasons is accepted (--accept), that the target still carries the run id
and the document count the report says, and that each alias points at the
original alone; every failed check is named, exit 2. Then it brings the
documents the original received, changed or lost since the run into the target
(a fresh diff compared with the reviewed one; the live version wins, and a
document the report recovered stays), switches every alias in one atomic
POST /_aliases (is_write_index moves with it), and writes promote.json beside
summary.json. A rerun after an interruption resumes where it stopped.
--dry-run prints the _aliases body and the catch-up counts and writes nothing.`

// reportFlags name the run's report: --report, or --output, --original
// and --run-id as the run was given them (the Job's ConfigMap sets them).
var reportFlags = []flagDef{
	{name: "report", usage: "the run's summary.json (or its directory), s3://… or file://…; it wins over --output, --original and --run-id"},
	{name: "output", usage: "the run's --output, with --original and --run-id, when --report is not given"},
	{name: "original", usage: "the run's --original, with --output and --run-id"},
	{name: "run-id", usage: "the run's --run-id, with --output and --original"},
}

// promoteFlags are promote's own.
var promoteFlags = []flagDef{
	{name: "alias", usage: "aliases to move, comma-separated (default: the original's aliases as the summary recorded them)", check: anyList},
	{name: "accept", usage: "verdict reasons accepted after review, comma-separated: " + strings.Join(promote.AcceptableKinds, ", "), check: anyList},
	{name: "block-writes", def: "false", isBool: true, usage: "write-block the original (PUT _block/write, which waits for the writes in flight) for the final catch-up round and the switch only, and remove the block afterwards, also on failure (the application's writes fail meanwhile): the one change promote makes to the original's settings"},
}

// afterReviewFlags are shared by promote and rollback.
var afterReviewFlags = []flagDef{
	{name: "dry-run", def: "false", isBool: true, usage: "print the _aliases body and the catch-up counts; write nothing"},
	{name: "environment", usage: "environment name; when set it must be the report's (default: the report's)"},
	{name: "workers", def: "4", usage: "scan slices and comparisons of the catch-up's diff (1..256)", check: intIn(1, 256)},
}

// s3Flags are the output flags but --output, which reportFlags define.
func s3Flags() []flagDef {
	var out []flagDef
	for _, f := range outputFlags {
		if f.name != "output" {
			out = append(out, f)
		}
	}
	return out
}

// afterReview is the configuration promote and rollback share.
type afterReview struct {
	cfg         Config
	dir         string // the report directory
	log         *slog.Logger
	es          *elasticsearch.Client
	store       promote.Store
	s3opt       s3out.Options
	fv          *flagValues
	blockWrites bool
	// aliases and accept are --alias and --accept (promote only).
	aliases, accept []string
}

// afterReviewGroups are the flags of promote (extra: promoteFlags) or
// rollback.
func afterReviewGroups(extra ...[]flagDef) [][]flagDef {
	groups := append([][]flagDef{esFlags, reportFlags}, extra...)
	return append(groups, afterReviewFlags, s3Flags(), logFlags)
}

// parseAfterReview parses and validates the flags of promote or rollback.
func parseAfterReview(env *Env, name, help string, args []string, extra ...[]flagDef) (*afterReview, error) {
	fs, fv := newFlagSet(name, help, env, afterReviewGroups(extra...)...)
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	cfg, err := fv.build(time.Now(), "es-url")
	var errs []error
	if err != nil {
		errs = append(errs, errors.Unwrap(err))
	}
	dir, derr := reportDir(fv)
	if derr != nil {
		errs = append(errs, derr)
	}
	if len(errs) > 0 {
		return nil, usageError(fmt.Errorf("invalid configuration:\n%w", errors.Join(errs...)))
	}
	ar := &afterReview{cfg: cfg, dir: dir, fv: fv, blockWrites: fv.flag("block-writes"),
		aliases: splitList(fv.str("alias")), accept: splitList(fv.str("accept"))}
	ar.log = newLogger(env, cfg.LogFormat, cfg.LogLevel).With("command", name, "report", redact.URLs(dir))
	// The effective configuration, as a job logs it: one schema.
	rec := newLogger(env, cfg.LogFormat, cfg.LogLevel).With("run_id", fv.str("run-id"), "environment", strings.ToUpper(cfg.Environment))
	job.LogOverrides(rec, cfg)
	job.LogConfig(rec, name, cfg, "", job.Identities{}, jsonLogs(env, cfg.LogFormat))
	ar.s3opt = s3out.Options{Region: cfg.S3Region, Endpoint: cfg.S3Endpoint, SSE: cfg.S3SSE, KMSKeyID: cfg.S3KMSKeyID}
	return ar, nil
}

// reportDir is the report directory --report names, or OUTPUT/ORIGINAL/RUN_ID.
func reportDir(fv *flagValues) (string, error) {
	if r := fv.str("report"); r != "" {
		dir := strings.TrimSuffix(strings.TrimSuffix(r, "/"), "/"+report.SummaryName)
		if strings.HasSuffix(dir, ".json") {
			return "", fv.bad("report", "must be a run's summary.json or its directory")
		}
		return dir, nil
	}
	var missing []string
	for _, n := range []string{"output", "original", "run-id"} {
		if fv.str(n) == "" {
			missing = append(missing, fv.origin(n))
		}
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("--report: is required, or else %s (env %s, or %s)", strings.Join(missing, ", "),
			envName("report"), strings.Join([]string{envName("output"), envName("original"), envName("run-id")}, ", "))
	}
	if why := restore.CheckIndexName(fv.str("original")); why != "" {
		return "", fv.bad("original", why)
	}
	if !runIDRE.MatchString(fv.str("run-id")) {
		return "", fv.bad("run-id", "must be letters, digits, ., _ or - (at most 64)")
	}
	return strings.TrimSuffix(fv.str("output"), "/") + "/" + job.ReportName(fv.str("original")) + "/" + fv.str("run-id"), nil
}

// connect reaches Elasticsearch and the report; failures are exit 2.
func (ar *afterReview) connect(ctx context.Context, env *Env) error {
	es, err := newESClient(env, ar.cfg.ES)
	if err != nil {
		return job.GuardError(err)
	}
	v, err := pingES(ctx, es, retry.Policy{Budget: ar.cfg.RetryFor, Logger: ar.log}.WithDefaults(), strings.Join(ar.cfg.ES.URLs, ","))
	if err != nil {
		return job.GuardError(err)
	}
	ar.log.Info("elasticsearch reachable", "version", v)
	if ar.store, err = promote.ReportStore(ctx, ar.dir, ar.s3opt); err != nil {
		return job.GuardError(fmt.Errorf("--report %s: %w", redact.URLs(ar.dir), err))
	}
	ar.es = es
	return nil
}

// options are the promote.Options the flags say.
func (ar *afterReview) options(env *Env) promote.Options {
	o := promote.Options{
		DryRun: ar.cfg.DryRun, Environment: ar.cfg.Environment, Workers: ar.cfg.Workers,
		Operator: operator(env), ToolVersion: toolVersion(), Logger: ar.log,
		Retry: retry.Policy{Budget: ar.cfg.RetryFor, Logger: ar.log},
	}
	o.Aliases, o.Accept = ar.aliases, ar.accept
	o.BlockWrites = ar.blockWrites
	return o
}

// operator is who runs the command as the process sees it: $USER and
// $HOSTNAME (a pod's name).
func operator(env *Env) string {
	user := env.Getenv("USER")
	if user == "" {
		user = env.Getenv("LOGNAME")
	}
	if h := env.Getenv("HOSTNAME"); h != "" {
		if user == "" {
			return h
		}
		return user + "@" + h
	}
	return user
}

// afterReviewError maps an error of promote or rollback to its exit code:
// a failed check is 2, an interruption 130, anything else 1.
func afterReviewError(ctx context.Context, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, promote.ErrBadOptions):
		return usageError(err)
	case errors.Is(err, promote.ErrCheck) && ctx.Err() == nil:
		return usageError(err)
	}
	return job.Interruption(ctx, err)
}

func (promoteCmd) Run(ctx context.Context, env *Env, args []string) error {
	ar, err := parseAfterReview(env, "promote", promoteHelp, args, promoteFlags)
	if err != nil {
		return err
	}
	opt := ar.options(env)
	if err := opt.Validate(); err != nil {
		return usageError(fmt.Errorf("invalid configuration:\n%w", err))
	}
	p, err := ar.promoter(ctx, env, opt)
	if err != nil {
		return err
	}
	prog := startProgress(env, ar.log, ar.cfg.Progress, func() progressSnapshot {
		s := p.Stats()
		return progressSnapshot{Phase: "catch-up", Done: s.Indexed + s.Removed + s.KeptRecovered, Read: s.New + s.Changed + s.Deleted, Failed: s.Failed}
	})
	rec, err := p.Run(ctx)
	prog.Stop()
	return ar.end(ctx, env, rec, err, printPromote)
}

// promoter connects and returns the Promoter of the report.
func (ar *afterReview) promoter(ctx context.Context, env *Env, opt promote.Options) (*promote.Promoter, error) {
	if err := ar.connect(ctx, env); err != nil {
		return nil, err
	}
	p, err := promote.New(ar.es, ar.store, opt)
	if err != nil {
		return nil, usageError(err)
	}
	return p, nil
}

// end closes promote or rollback: the human summary on stderr, then on
// stdout the result, a dry run's record or promote.json's URL.
func (ar *afterReview) end(ctx context.Context, env *Env, rec *promote.Record, err error, print func(*Env, *promote.Record, promote.Store)) error {
	if rec != nil {
		print(env, rec, ar.store)
	}
	if err != nil {
		return afterReviewError(ctx, err)
	}
	if rec.State == promote.StateDryRun {
		return writeJSON(env.Stdout, rec)
	}
	fmt.Fprintln(env.Stdout, ar.store.URL(promote.RecordName))
	return nil
}

// printPromote writes the human summary of a promote to stderr.
func printPromote(env *Env, rec *promote.Record, st promote.Store) {
	var b strings.Builder
	fmt.Fprintf(&b, "\nesrestore promote · %s · run %s · %s\n", rec.Environment, rec.RunID, rec.State)
	for _, m := range rec.Aliases {
		fmt.Fprintf(&b, "  alias     %s: %s → %s%s\n", m.Name, m.From, m.To, writeIndexNote(m.Definition))
	}
	if len(rec.Accepted) > 0 {
		fmt.Fprintf(&b, "  accepted  %s\n", strings.Join(rec.Accepted, ", "))
	}
	if c := rec.CatchUp; c != nil {
		fmt.Fprintf(&b, "  catch-up  since the run the original got %d new, %d changed and %d deleted documents (%d kept: recovered by the report; %d superseded a reviewed change)\n",
			c.New, c.Changed, c.Deleted, c.KeptRecovered, c.Superseded)
		if rec.State != promote.StateDryRun {
			fmt.Fprintf(&b, "            %d indexed into the target, %d deleted from it, %d failed, in %.1fs\n", c.Indexed, c.Removed, c.Failed, c.Seconds)
		}
	}
	if f := rec.Block; f != nil {
		fmt.Fprintf(&b, "  writes blocked  set %t, removed %t, %.1f s%s\n", f.Set, f.Removed, f.Seconds, map[bool]string{true: " (already blocked before)"}[f.AlreadyBlocked])
	}
	if rec.State != promote.StateDryRun {
		fmt.Fprintf(&b, "  record    %s\n", st.URL(promote.RecordName))
	}
	fmt.Fprint(env.Stderr, b.String())
}

// writeIndexNote says when an alias is its indexes' write alias.
func writeIndexNote(def json.RawMessage) string {
	var d struct {
		IsWriteIndex bool `json:"is_write_index"`
	}
	if json.Unmarshal(def, &d) == nil && d.IsWriteIndex {
		return " (write index)"
	}
	return ""
}

// writeJSON writes v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
