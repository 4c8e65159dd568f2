package main

import (
	"context"
	"log/slog"
	"strings"

	"github.com/elastic/go-elasticsearch/v8"

	"github.com/esrestore/esrestore/internal/retry"
	"github.com/esrestore/esrestore/job"
)

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
		Tell: t.tell,
	})
}

// teller tells the operator how a job ended.
type teller struct {
	cmd  string
	env  *Env
	log  *slog.Logger
	json bool // stderr carries JSON records only
}

// tell prints the human summary, the error if any, and the verdict as
// the last stderr line (in JSON mode, as records in the same order).
func (t *teller) tell(j *job.Job, err error) error {
	t.printSummary(j)
	if err != nil {
		reportError(t.env, nil, t.cmd, err)
		err = reported(err)
	}
	t.printVerdict(j)
	return err
}

// reported marks err as told to the operator already, keeping its exit
// code, so Main does not print it again after the verdict.
func reported(err error) error {
	return &exitErr{code: exitCode(err), err: err, reported: true}
}
