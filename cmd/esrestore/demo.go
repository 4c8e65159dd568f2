package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/esrestore/esrestore/fixtures"
	"github.com/esrestore/esrestore/job"
	"github.com/esrestore/esrestore/s3out"
)

type demoCmd struct{}

func (demoCmd) Name() string { return "demo" }

func (demoCmd) Summary() string {
	return "run the whole job on an in-process fixture cluster with a simulated loss"
}

const demoHelp = `Starts a fixture Elasticsearch in this process holding a Content Commons-like
index "documents" that lost some documents and some fields, and a snapshot
backups/before-loss taken before the loss; runs 'esrestore run' against it; and
writes the report under ./esrestore-demo/. Needs no cluster, bucket or credentials.`

var demoFlags = []flagDef{
	{name: "docs", def: "5000", usage: "documents in the index before the loss (10..200000)", check: intIn(10, 200000)},
	{name: "loss", def: "0.05", usage: "fraction of documents lost (0.001..0.5); half as many lose fields", check: lossFraction},
	{name: "seed", def: "1", usage: "seed of the generated data", check: intIn(0, 1<<30)},
	{name: "output", def: "esrestore-demo", usage: "directory the report goes to"},
	{name: "workers", def: "4", usage: "concurrent _bulk requests and scan slices (1..256)", check: intIn(1, 256)},
}

func (demoCmd) Run(ctx context.Context, env *Env, args []string) error {
	fs, fv := newFlagSet("demo", demoHelp, env, demoFlags, logFlags)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if errs := fv.validate(); len(errs) > 0 {
		return usageError(fmt.Errorf("invalid configuration:\n%w", sortedErrors(errs)))
	}
	docs, seed, loss := fv.int("docs"), fv.int("seed"), fv.float("loss")
	out := fv.str("output")
	if env.WorkDir != "" && !filepath.IsAbs(out) {
		out = filepath.Join(env.WorkDir, out)
	}
	if abs, err := filepath.Abs(out); err == nil {
		out = abs
	}
	if !fv.get("log-level").set {
		fv.get("log-level").value = "warn"
	}
	if !fv.get("progress").set {
		fv.get("progress").value = "0"
	}

	srv := fixtures.NewServer(fixtures.Options{})
	sc := fixtures.NewScenario(docs, loss, int64(seed))
	if err := srv.LoadScenario("documents", "backups", "before-loss", sc, 3); err != nil {
		return fmt.Errorf("load demo data: %w", err)
	}
	es, err := fixtures.Listen("127.0.0.1:0", srv)
	if err != nil {
		return fmt.Errorf("start fixture elasticsearch: %w", err)
	}
	defer es.Close()
	fmt.Fprintf(env.Stdout, "A fixture Elasticsearch at %s holds the index \"documents\": %d documents after losing %d,\nand %d others lost fields. The snapshot backups/before-loss holds all %d as they were.\n\n",
		es.URL, len(sc.Original), len(sc.Lost), len(sc.Stripped), len(sc.Complete))

	// The demo is a real run: the same flags, validation and guard rails.
	runArgs := []string{
		"--es-url", es.URL, "--original", "documents", "--source", "snapshot:backups/before-loss",
		"--prefer", "source", "--output", "file://" + out, "--environment", "demo",
		"--workers", fv.str("workers"), "--log-format", fv.str("log-format"), "--log-level", fv.str("log-level"),
		"--progress", fv.str("progress"),
	}
	rfs, rfv := newFlagSet("run", runHelp, &Env{Getenv: func(string) string { return "" }, ReadFile: env.ReadFile, Stderr: env.Stderr},
		runFlags()...)
	if err := parseFlags(rfs, runArgs); err != nil {
		return err
	}
	cfg, err := rfv.build(time.Now(), "es-url", "original", "source", "environment")
	if err != nil {
		return err
	}
	j := newJob("demo", env, cfg)
	runErr := j.Run(ctx)
	if exitCode(runErr) == exitError || exitCode(runErr) == exitInterrupted || exitCode(runErr) == exitUsage {
		return runErr
	}
	explain(env, j, sc)
	return runErr
}

func lossFraction(v string) string {
	if n, err := strconv.ParseFloat(v, 64); err != nil || n < 0.001 || n > 0.5 {
		return "must be a fraction between 0.001 and 0.5"
	}
	return ""
}

// explain tells a newcomer what happened and where to look.
func explain(env *Env, j *job.Job, sc fixtures.Scenario) {
	s := j.Summary()
	var b strings.Builder
	fmt.Fprintf(&b, "\nWhat happened\n")
	if r := s.Restore; r != nil {
		if r.Load == "snapshot-as-target" {
			fmt.Fprintf(&b, "  Elasticsearch restored the snapshot's %d documents as the new index %s (no indexing),\n", r.SnapshotRestored, s.Target)
			fmt.Fprintf(&b, "  then esrestore read the live index and wrote only the documents that differ from what --prefer source chooses.\n")
		} else {
			fmt.Fprintf(&b, "  esrestore loaded the backup's %d documents into the new index %s (%s: %s),\n", len(sc.Complete), s.Target, r.Load, r.LoadReason)
			fmt.Fprintf(&b, "  then the live index's documents the backup lacks.\n")
		}
		fmt.Fprintf(&b, "  %d written, %d already right, %d failed. The original was only read.\n", r.Indexed, r.Kept, r.Failed)
	}
	if o := s.Outcome; o != nil {
		fmt.Fprintf(&b, "  Comparing \"documents\", the snapshot and %s, document by document:\n", s.Target)
		fmt.Fprintf(&b, "    %7d added        the lost documents, back (the demo lost %d)\n", o.Added, len(sc.Lost))
		fmt.Fprintf(&b, "    %7d recovered    documents whose lost fields came back, each with a JSON Patch (the demo stripped %d)\n", o.Recovered, len(sc.Stripped))
		fmt.Fprintf(&b, "    %7d overwritten  documents whose live values a switch would replace\n", o.Overwritten)
		fmt.Fprintf(&b, "    %7d removed      documents the restored index would lose if the alias moved\n", o.Removed)
		fmt.Fprintf(&b, "    %7d unchanged\n", o.Unchanged)
	}
	if l := s.Loss; l != nil {
		fmt.Fprintf(&b, "    %7d not recovered: backup documents or fields the new index lacks too\n", l.NotRecovered)
	}
	fmt.Fprintf(&b, "  The %s\n", s.Verdict.Line())
	if j.ReportURL("") != "" {
		fmt.Fprintf(&b, "\nWhere to look\n")
		fmt.Fprintf(&b, "  %s  open this first, in a browser: the verdict, the counts, the fields and the documents\n", j.ReportURL(s3out.PageName))
		fmt.Fprintf(&b, "  %s  complete: %v, the counts and options; sha256 %s\n", j.ReportURL(s3out.SummaryName), s.Complete, j.SummarySHA256())
		fmt.Fprintf(&b, "  %s  one line per added, changed or removed document (zcat it)\n", j.ReportURL(s3out.DiffName))
		fmt.Fprintf(&b, "  %s  documents that could not be restored, with the Elasticsearch error\n", j.ReportURL(s3out.FailuresName))
	}
	fmt.Fprint(env.Stdout, b.String())
}
