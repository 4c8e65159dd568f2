package main

import (
	"context"
	"strings"
	"time"

	"github.com/elastic/go-elasticsearch/v8"

	"github.com/esrestore/esrestore/internal/retry"
	"github.com/esrestore/esrestore/job"
	"github.com/esrestore/esrestore/restore"
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
	return fv.str("dry-run") == "true" && restore.IsDumpURL(fv.str("original")) && restore.IsDumpURL(fv.str("source")) && fv.str("es-url") == ""
}

// newJob makes the job of a command: its logger, bound to the run and
// environment, and every effect of the process (the Elasticsearch
// client, progress, what it prints) handed to the job as values.
func newJob(cmd string, env *Env, cfg Config) *job.Job {
	asJSON := jsonLogs(env, cfg.LogFormat)
	// Bound once: every record of the job names its run and environment.
	log := newLogger(env, cfg.LogFormat, cfg.LogLevel).With("run_id", cfg.RunID, "environment", strings.ToUpper(cfg.Environment))
	env.log, env.json = log, asJSON
	t := &teller{cmd: cmd, env: env, log: log, json: asJSON}
	return job.New(cfg, job.Options{
		Command: cmd, Logger: log, JSONLogs: asJSON, Stdout: env.Stdout, WorkDir: env.WorkDir, ToolVersion: toolVersion(),
		NewClient: func(c job.ESConfig) (*elasticsearch.Client, error) { return newESClient(env, c) },
		Ping: func(ctx context.Context, es *elasticsearch.Client, pol retry.Policy, where string) (string, error) {
			return pingES(ctx, es, pol, where)
		},
		Progress: func(read func() job.Progress) interface{ Stop() } {
			return startProgress(env, log, cfg.Progress, read)
		},
		Tell:      t.tell,
		FieldName: func(field string) string { return s3FlagOf[field] },
	})
}

// s3FlagOf names s3out's options as the flags that set them, so that an
// error says what the operator can change.
var s3FlagOf = map[string]string{
	"region":     "--s3-region",
	"kms key id": "--s3-kms-key-id",
	"sse":        "--s3-sse",
	"endpoint":   "--s3-endpoint",
}
