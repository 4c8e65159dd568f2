package main

import (
	"context"
	"flag"
	"fmt"
	"runtime"
	"runtime/debug"
)

// version is stamped at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

// toolVersion is the version a report records: the stamped one, or else
// the VCS revision the binary was built from (with "+modified" for a
// dirty tree), or the module version.
func toolVersion() string {
	bi, ok := debug.ReadBuildInfo()
	return versionOf(version, bi, ok)
}

// versionOf is toolVersion for a stamped version and build info.
func versionOf(stamped string, bi *debug.BuildInfo, ok bool) string {
	if stamped != "dev" {
		return stamped
	}
	if !ok {
		return stamped
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "+modified"
			}
		}
	}
	if rev != "" {
		return "dev-" + rev + modified
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	return "dev (no VCS revision: built with -buildvcs=false or outside a checkout)"
}

type versionCmd struct{}

func (versionCmd) Name() string { return "version" }

func (versionCmd) Summary() string { return "print the version" }

func (versionCmd) Run(_ context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(env.Stdout, "Usage: esrestore version\n\nPrints the version of esrestore.\n\n%s", exitCodesHelp)
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "esrestore %s %s %s/%s\n", toolVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}
