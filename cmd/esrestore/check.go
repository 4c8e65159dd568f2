package main

import (
	"context"
	"fmt"
	"time"
)

type checkCmd struct{}

func (checkCmd) Name() string { return "check" }

func (checkCmd) Summary() string {
	return "validate the configuration and run the guard rails, nothing else"
}

const checkHelp = `Runs exactly the checks 'esrestore run' makes before its first write: the
configuration, Elasticsearch reachable and authenticated, the original present,
the target absent (or this run's) and distinct from the original and its aliases,
the source present, and the output writable (a marker object put and deleted).
Exits 0 when every check passes, 2 otherwise.`

func (checkCmd) Run(ctx context.Context, env *Env, args []string) error {
	fs, fv := newFlagSet("check", checkHelp, env, esFlags, restoreFlags, diffFlags, outputFlags, jobFlags, logFlags)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := fv.build(time.Now(), "es-url", "original", "source", "environment")
	if err != nil {
		return err
	}
	j := newJob("check", env, cfg, phases{check: true})
	logConfig(j.log, j.cmd, j.cfg)
	if err := j.openReport(ctx); err != nil {
		return err
	}
	if err := j.connect(ctx); err != nil {
		return err
	}
	if _, _, err := j.checkRestore(ctx); err != nil {
		return err
	}
	j.log.Info("every check passed", "environment", j.summary.Environment, "original", cfg.Original, "target", cfg.Target)
	fmt.Fprintf(env.Stdout, "ok: %s → %s in %s, report to %s\n", cfg.Original, cfg.Target, j.summary.Environment, j.report.URL(""))
	return nil
}
