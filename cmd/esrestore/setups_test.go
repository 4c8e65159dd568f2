package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/esrestore/esrestore/report"
)

// TestBadDumpLinesFinish: a dump whose lines the restore records as
// failures (a repeated _id, a line that is not JSON, one without _id, one
// not valid UTF-8) never blocks the run: the diff skips the same lines,
// the run finishes with exit 3 for the failed reason, the failures are
// listed, and a rerun gives the same.
func TestBadDumpLinesFinish(t *testing.T) {
	es, sc := lossCluster(t, 200)
	dir := t.TempDir()
	good := writeDump(t, dir, "good.ndjson", sc.Complete)
	b, err := os.ReadFile(strings.TrimPrefix(good, "file://"))
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	bad := string(b) + first + "\n" + // a repeated _id
		"{\"_id\":\"cut\",\"_source\":{\"a\":\n" + // not JSON
		`{"_source":{"a":1}}` + "\n" + // no _id
		"{\"_id\":\"utf\",\"_source\":{\"a\":\"\xff\"}}\n" // not UTF-8
	p := filepath.Join(dir, "bad.ndjson")
	if err := os.WriteFile(p, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	c := newCLI(t)
	var counts []string
	for _, id := range []string{"bad1", "bad2"} {
		code := c.run(t.Context(), runArgs(es, out, id, "--source", "file://"+p, "--target", "documents_"+id, "--prefer", "source")...)
		if code != exitFailOn {
			t.Fatalf("%s: exit %d, want 3\n%s", id, code, c.stderr.String())
		}
		s := readSummary(t, out, "documents", id)
		if !s.Complete || s.Restore == nil || s.Restore.Failed != 4 || s.Restore.Duplicates != 1 {
			t.Fatalf("%s: complete %v restore %+v, want 4 failed, 1 duplicate", id, s.Complete, s.Restore)
		}
		if len(s.Attention) != 1 || !strings.Contains(s.Attention[0], "4 documents failed to restore") {
			t.Errorf("%s: attention %v, want the failed reason", id, s.Attention)
		}
		if _, ok := s.Objects["failures"]; !ok || s.Objects["failures"].Lines != 4 {
			t.Errorf("%s: failures object %+v, want 4 lines", id, s.Objects["failures"])
		}
		if s.Verdict.Status != report.StatusReview {
			t.Errorf("%s: verdict %+v", id, s.Verdict)
		}
		counts = append(counts, fmt.Sprintf("%+v %+v", *s.Outcome, *s.Loss))
	}
	if counts[0] != counts[1] {
		t.Errorf("the rerun differs: %s, then %s", counts[0], counts[1])
	}
}

// TestDryRunChecksSource: a dry run applies a run's checks to its source:
// an empty source is exit 2 unless --allow-empty-source, a missing dump
// exit 2; with the original a dump as well as in a cluster.
func TestDryRunChecksSource(t *testing.T) {
	es, sc := lossCluster(t, 100)
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.ndjson")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	es.LoadDocs(t, "empty_index", nil, 1)
	orig := writeDump(t, dir, "documents.ndjson", sc.Original)
	out := t.TempDir()
	c := newCLI(t)
	offline := []string{"run", "--dry-run", "--original", orig, "--environment", "test", "--output", "file://" + out, "--progress", "0"}
	for _, tt := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"empty dump", withFlags(runArgs(es, out, "dry1"), "--dry-run", "--source", "file://"+empty), exitUsage,
			[]string{"has no line", "--allow-empty-source"}},
		{"empty dump allowed", withFlags(runArgs(es, out, "dry2"), "--dry-run", "--source", "file://"+empty, "--allow-empty-source",
			"--fail-on", "none"), exitOK, nil},
		{"missing dump", withFlags(runArgs(es, out, "dry3"), "--dry-run", "--source", "file://"+filepath.Join(dir, "nope.ndjson")), exitUsage,
			[]string{"nope.ndjson"}},
		{"empty index", withFlags(runArgs(es, out, "dry4"), "--dry-run", "--source", "index:empty_index"), exitUsage,
			[]string{"empty_index", "has no document"}},
		{"offline empty dump", withFlags(offline, "--run-id", "dry5", "--source", "file://"+empty), exitUsage,
			[]string{"has no line"}},
		{"offline missing dump", withFlags(offline, "--run-id", "dry6", "--source", "file://"+filepath.Join(dir, "nope.ndjson")), exitUsage,
			[]string{"nope.ndjson"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code := c.run(t.Context(), tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\n%s", code, tt.code, c.stderr.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(c.text(), w) {
					t.Errorf("stderr does not say %q:\n%s", w, c.stderr.String())
				}
			}
		})
	}
}
