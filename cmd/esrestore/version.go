package main

import (
	"context"
	"flag"
	"fmt"
	"runtime"
)

// version is stamped at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

type versionCmd struct{}

func (versionCmd) Name() string { return "version" }

func (versionCmd) Summary() string { return "print the version" }

func (versionCmd) Run(_ context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.Stderr, "Usage: esrestore version\n\nPrints the version of esrestore.\n\n%s", exitCodesHelp)
	}
	if err := fs.Parse(args); err != nil {
		return flagParseError(err)
	}
	fmt.Fprintf(env.Stdout, "esrestore %s %s %s/%s\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}
