package main

import (
	"os"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionOf(t *testing.T) {
	vcs := &debug.BuildInfo{Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123def4567890"}, {Key: "vcs.modified", Value: "true"}}}
	devel := &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}
	for _, tt := range []struct {
		name, stamped string
		bi            *debug.BuildInfo
		ok            bool
		want          string
	}{
		{"stamped wins", "v1.2.3", vcs, true, "v1.2.3"},
		{"stamped describe", "v1.2.3-4-gb25cd64-dirty", devel, true, "v1.2.3-4-gb25cd64-dirty"},
		{"Dockerfile default", "dev", devel, true, release},
		{"revision of a dirty tree", "", vcs, true, release + "+abc123def456.modified"},
		{"module version", "", &debug.BuildInfo{Main: debug.Module{Version: "v0.4.0"}}, true, "v0.4.0"},
		{"go run, or -buildvcs=false", "", devel, true, release},
		{"no build info", "", nil, false, release},
	} {
		got := versionOf(tt.stamped, tt.bi, tt.ok)
		if got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
		if strings.HasPrefix(got, "dev") || !strings.HasPrefix(got, "v") {
			t.Errorf("%s: %q does not name a release", tt.name, got)
		}
	}
}

// The binary this test runs in is built as `go run` and `go build` build
// it (with -buildvcs=false here): it names the release.
func TestToolVersionOfThisBuild(t *testing.T) {
	if got := toolVersion(); !strings.HasPrefix(got, release) {
		t.Errorf("toolVersion() = %q, want it to start with %s", got, release)
	}
}

// The release is the image tag the deployment names: a new release
// raises both.
func TestReleaseIsTheDeployedTag(t *testing.T) {
	b, err := os.ReadFile("../../deploy/kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*newTag:\s*(\S+)`).FindSubmatch(b)
	if m == nil || string(m[1]) != release {
		t.Errorf("deploy/kustomization.yaml newTag %q, release %q: raise them together", m, release)
	}
}
