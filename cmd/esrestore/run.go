package main

import (
	"context"
	"time"

	"github.com/esrestore/esrestore/job"
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
	fs, fv := newFlagSet("run", runHelp, env, runFlags()...)
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
	return newJob("run", env, cfg).Run(ctx)
}

// dryRunOffline reports a dry run between two dumps, which needs no
// cluster.
func dryRunOffline(fv *flagValues) bool {
	return fv.str("dry-run") == "true" && job.IsDumpURL(fv.str("original")) && job.IsDumpURL(fv.str("source")) && fv.str("es-url") == ""
}
