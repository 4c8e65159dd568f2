package main

import (
	"context"
	"flag"
	"fmt"
	"runtime"
	"runtime/debug"
)

// release is the version of this source tree, raised with each release
// (the image tag deploy/ names). Every build reports it, so a binary of
// `go run` or of a build without VCS stamping (-buildvcs=false, a tree
// without .git, as the Dockerfile's context is) still says what it is.
const release = "v0.1.0"

// version is stamped at build time: -ldflags "-X main.version=v1.2.3"
// (the Dockerfile's VERSION, e.g. git describe). Empty or "dev" (the
// Dockerfile's default) leaves it to the release and the build info.
var version = ""

// toolVersion is the version a report records: the stamped one, else the
// release this tree is with the VCS revision the binary was built from
// (".modified" for a dirty tree), or the module version of a `go install
// module@version`, or the release alone.
func toolVersion() string {
	bi, ok := debug.ReadBuildInfo()
	return versionOf(version, bi, ok)
}

// versionOf is toolVersion for a stamped version and build info. A stamp
// is reported as given: the image's label and `esrestore version` say the
// same (.ci/container.sh checks it).
func versionOf(stamped string, bi *debug.BuildInfo, ok bool) string {
	switch {
	case stamped != "" && stamped != "dev":
		return stamped
	case !ok:
		return release
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = ".modified"
			}
		}
	}
	if rev != "" {
		return release + "+" + rev[:min(len(rev), 12)] + modified
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	return release
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
