package main

import (
	"bufio"
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
	"github.com/esrestore/esrestore/report"
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
	// Slow the stand-in's bulks and searches a little, so that a kill
	// lands inside a phase; a real node's requests take longer than that
	// by themselves.
	if es.Fake != nil {
		es.Fake.SetFaults(fixtures.Faults{Latency: 5 * time.Millisecond})
	}
	args := func(out, runID, target string) []string {
		return []string{"run", "--es-url", es.URL, "--original", "documents", "--source", "snapshot:backups/before-loss",
			"--target", target, "--output", "file://" + out, "--environment", "kill", "--run-id", runID,
			"--progress", "0", "--batch-size", "50", "--workers", "2", "--fail-on", "none", "--log-level", "warn",
			// A rerun right after a SIGKILL waits for the killed lease to expire.
			"--lease-ttl", "2s"}
	}
	out := t.TempDir()
	if b, err := exec.Command(bin, args(out, "whole", "documents_whole")...).CombinedOutput(); err != nil {
		t.Fatalf("uninterrupted run: %v\n%s", err, b)
	}
	wantDocs := indexDocs(t, es, "documents_whole")
	wantDiff := gunzipFile(t, filepath.Join(out, "documents", "whole", "diff.ndjson.gz"))
	if len(wantDocs) != len(sc.Complete) {
		t.Fatalf("uninterrupted run restored %d documents, want %d", len(wantDocs), len(sc.Complete))
	}
	rng := rand.New(rand.NewPCG(10, 10))
	// Each point is in a phase: the kill comes a random moment after the
	// phase's first log record, and the killed attempt's log must not
	// show the phase ending.
	phases := []struct{ name, start, end string }{
		{"restore", `"msg":"loading"`, `"msg":"restore done"`},
		{"diff", `"msg":"diff started"`, `"msg":"diff compared"`},
	}
	hit := map[string]int{}
	for i := range 10 {
		runID := fmt.Sprintf("kill%d", i)
		target := "documents_" + runID
		ph := phases[i%len(phases)]
		at := time.Duration(rng.Float64() * float64(30*time.Millisecond))
		cmd := exec.Command(bin, withFlags(args(out, runID, target), "--log-level", "info", "--log-format", "json")...)
		pipe, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		var timer *time.Timer
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			stderr.Write(sc.Bytes())
			stderr.WriteByte('\n')
			if timer == nil && bytes.Contains(sc.Bytes(), []byte(ph.start)) {
				timer = time.AfterFunc(at, func() { cmd.Process.Signal(syscall.SIGKILL) }) //nolint:errcheck // it may have ended
			}
		}
		err = cmd.Wait()
		if timer != nil {
			timer.Stop()
		}
		if err != nil && !bytes.Contains(stderr.Bytes(), []byte(ph.end)) {
			hit[ph.name]++
		}
		killed := err != nil
		if killed && !bytes.Contains(stderr.Bytes(), []byte(ph.start)) {
			t.Fatalf("point %d: the attempt ended before the %s began: %v\n%s", i, ph.name, err, stderr.Bytes())
		}
		rerun := time.Now()
		b, err := exec.Command(bin, args(out, runID, target)...).CombinedOutput()
		// The killed attempt's lease is taken over once it expires (2s
		// after its last renewal), in the same rerun.
		if killed && !bytes.Contains(b, []byte(`"msg":"lease taken over: its holder did not renew it"`)) &&
			!bytes.Contains(b, []byte(`msg="lease taken over: its holder did not renew it"`)) {
			t.Errorf("point %d: the rerun did not take the killed attempt's lease over:\n%s", i, b)
		}
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
		// The killed attempt left its start: the summary lists it, its
		// end unknown; killed in the diff, with its restore's counts.
		if killed {
			if a := s.Attempts; len(a) != 2 || a[0].Ended != report.AttemptKilled || a[0].Finished != nil || a[0].Started.IsZero() ||
				a[1].Ended != report.AttemptComplete || (ph.name == "diff" && a[0].Restore == nil) {
				t.Errorf("point %d: attempts %+v, want the killed one then a complete one", i, a)
			}
		} else if len(s.Attempts) != 1 {
			t.Errorf("point %d: attempts %+v of a run never killed", i, s.Attempts)
		}
		ents, _ := os.ReadDir(filepath.Join(out, "documents", runID))
		for _, e := range ents {
			if e.Name()[0] == '.' {
				t.Errorf("point %d: temporary file %s left in the report", i, e.Name())
			}
		}
		t.Logf("point %d: killed %s after the %s began: %v; the rerun took %s", i, at, ph.name, killed, time.Since(rerun).Round(time.Millisecond))
	}
	for _, ph := range phases {
		if hit[ph.name] < 3 {
			t.Errorf("only %d kills landed inside the %s (of 5 aimed there): %v", hit[ph.name], ph.name, hit)
		}
	}
}
