package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/esrestore/esrestore/internal/redact"
	"github.com/esrestore/esrestore/internal/shell"
)

type checkCmd struct{}

func (checkCmd) Name() string { return "check" }

func (checkCmd) Summary() string {
	return "validate the configuration and run the guard rails, nothing else"
}

const checkHelp = `Runs exactly the checks 'esrestore run' makes before its first write: the
whole configuration of run (every flag and variable run reads, validated as run
validates it), Elasticsearch reachable and authenticated, the original present,
the target absent (or this run's) and distinct from the original and its
aliases, the source present, and the output writable (a marker object put and
deleted). Exits 0 when every check passes, 2 otherwise.
It logs the effective configuration, each value with its origin, and prints its
config_sha256 as the last line on stdout: a second person compares it, and the
run gets it as --expect-config (ESRESTORE_EXPECT_CONFIG). The configuration it
vouched for goes to config.json in the run's report directory. Given
--expect-config, check says whether the configuration is that one and what
differs (the run refuses another).`

func (checkCmd) Run(ctx context.Context, env *Env, args []string) error {
	fs, fv := newFlagSet("check", checkHelp, env, runFlags()...)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := fv.build(time.Now(), "es-url", "original", "source", "environment")
	if err != nil {
		return err
	}
	j := newJob("check", env, cfg)
	if err := j.Check(ctx); err != nil {
		return err
	}
	sha := j.Summary().ConfigSHA256
	next := nextRunCommand(fv, cfg.RunID, sha)
	env.log.Info("every check passed", "original", cfg.Original, "target", cfg.Target, "source", redact.URLs(cfg.Source),
		"report", j.ReportURL(""), "next", next, "config_sha256", sha)
	fmt.Fprintf(env.Stdout, "ok: %s → %s in %s, report to %s\nrun id %s; to run with it:\n  %s\n"+
		"config_sha256, for a second person to compare with the values logged (the Job's ESRESTORE_EXPECT_CONFIG):\n%s\n",
		cfg.Original, cfg.Target, j.Summary().Environment, j.ReportURL(""), cfg.RunID, next, sha)
	return nil
}

// nextRunCommand is the run command line a passed check vouches for: the
// flags given on the command line (secrets as their environment
// variables, never their values) and the run id whose report path was
// checked. Values from the environment come from it again.
func nextRunCommand(fv *flagValues, runID, sha string) string {
	parts := []string{"esrestore", "run"}
	for _, n := range fv.order {
		rv := fv.get(n)
		if !rv.set || !strings.HasPrefix(rv.origin, "--") || n == "run-id" || n == "expect-config" {
			continue
		}
		if fv.defs[n].secret {
			parts = append(parts, "--"+n, `"$`+envName(n)+`"`)
			continue
		}
		if n == "es-url" {
			// Credentials in the URL become the flags that take them, the
			// password by its variable: the line can be pasted as it is.
			urls, user := esURLsWithoutCredentials(rv.value)
			parts = append(parts, "--"+n, shell.Quote(urls))
			if user != "" && !fv.get("es-username").set {
				parts = append(parts, "--es-username", shell.Quote(user), "--es-password", `"$`+envName("es-password")+`"`)
			}
			continue
		}
		// A URL's user:password@ stays out of stdout too.
		parts = append(parts, "--"+n, shell.Quote(redact.URLs(rv.value)))
	}
	return strings.Join(append(parts, "--run-id", shell.Quote(runID), "--expect-config", sha), " ")
}

// esURLsWithoutCredentials is --es-url with every user:password@ taken
// out, and the first user name found.
func esURLsWithoutCredentials(raw string) (string, string) {
	var out []string
	user := ""
	for _, part := range splitList(raw) {
		if u, err := url.Parse(part); err == nil && u.User != nil {
			if user == "" {
				user = u.User.Username()
			}
			u.User = nil
			part = u.String()
		}
		out = append(out, part)
	}
	return strings.Join(out, ","), user
}
