package main

import (
	"context"
	"fmt"
	"time"
)

type restoreCmd struct{}

func (restoreCmd) Name() string { return "restore" }

func (restoreCmd) Summary() string { return "restore only: load the target, report failures" }

const restoreHelp = `Runs the guard rails and the restore phase alone: the target is created and
loaded from --source; summary.json and failures.ndjson.gz are written, no diff.`

func (restoreCmd) Run(ctx context.Context, env *Env, args []string) error {
	fs, fv := newFlagSet("restore", restoreHelp, env, runFlags()...)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := fv.build(time.Now(), "es-url", "original", "source", "environment")
	if err != nil {
		return err
	}
	if cfg.DryRun {
		return usageError(fmt.Errorf("--dry-run: use 'esrestore run --dry-run', which diffs without writing"))
	}
	return newJob("restore", env, cfg).Run(ctx)
}
