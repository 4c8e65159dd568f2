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
