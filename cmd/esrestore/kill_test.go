package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/esrestore/esrestore/fixtures"
)

// TestKill9ThenResume kills the real binary with SIGKILL at random points
// of the restore and the diff, reruns it with the same run id, and checks
// that the target and the report's diff equal those of a run never
// killed: nothing a killed attempt leaves behind changes the outcome.
func TestKill9ThenResume(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "esrestore")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	es, sc := lossCluster(t, 600)
	// Slow bulks and searches a little, so that a kill lands inside a phase.
	es.SetFaults(fixtures.Faults{Latency: 5 * time.Millisecond})
	args := func(out, runID, target string) []string {
		return []string{"run", "--es-url", es.URL, "--original", "documents", "--source", "snapshot:backups/before-loss",
			"--target", target, "--output", "file://" + out, "--environment", "kill", "--run-id", runID,
			"--progress", "0", "--batch-size", "50", "--workers", "2", "--fail-on", "none", "--log-level", "warn"}
	}
	out := t.TempDir()
	start := time.Now()
	if b, err := exec.Command(bin, args(out, "whole", "documents_whole")...).CombinedOutput(); err != nil {
		t.Fatalf("uninterrupted run: %v\n%s", err, b)
	}
	whole := time.Since(start)
	wantDocs := indexDocs(t, es, "documents_whole")
	wantDiff := gunzipFile(t, filepath.Join(out, "documents", "whole", "diff.ndjson.gz"))
	if len(wantDocs) != len(sc.Complete) {
		t.Fatalf("uninterrupted run restored %d documents, want %d", len(wantDocs), len(sc.Complete))
	}
	rng := rand.New(rand.NewPCG(10, 10))
	for i := range 10 {
		runID := fmt.Sprintf("kill%d", i)
		target := "documents_" + runID
		// Points spread over the whole run: guard rails, restore, diff.
		at := time.Duration(float64(whole) * (0.1 + 0.8*rng.Float64()))
		cmd := exec.Command(bin, args(out, runID, target)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		timer := time.AfterFunc(at, func() { cmd.Process.Signal(syscall.SIGKILL) }) //nolint:errcheck // it may have ended
		err := cmd.Wait()
		timer.Stop()
		killed := err != nil
		b, err := exec.Command(bin, args(out, runID, target)...).CombinedOutput()
		if err != nil {
			ee, ok := err.(*exec.ExitError)
			if killed || !ok || ee.ExitCode() != exitUsage || !bytes.Contains(b, []byte("already finished")) {
				t.Fatalf("point %d (%s, killed %v): rerun: %v\n%s", i, at, killed, err, b)
			}
		}
		if got := indexDocs(t, es, target); fmt.Sprint(got) != fmt.Sprint(wantDocs) {
			t.Errorf("point %d (%s): target differs from the uninterrupted run's (%d documents, want %d)", i, at, len(got), len(wantDocs))
		}
		if got := gunzipFile(t, filepath.Join(out, "documents", runID, "diff.ndjson.gz")); !bytes.Equal(got, wantDiff) {
			t.Errorf("point %d (%s): diff.ndjson.gz differs from the uninterrupted run's", i, at)
		}
		s := readSummary(t, out, "documents", runID)
		if r := s.Restore; !s.Complete || r == nil || r.Read != r.Indexed+r.Kept+r.Failed+r.Pending || r.Failed != 0 {
			t.Errorf("point %d: summary complete %v restore %+v", i, s.Complete, r)
		}
		ents, _ := os.ReadDir(filepath.Join(out, "documents", runID))
		for _, e := range ents {
			if e.Name()[0] == '.' {
				t.Errorf("point %d: temporary file %s left in the report", i, e.Name())
			}
		}
		t.Logf("point %d: killed at %s: %v", i, at, killed)
	}
}
