package main

import (
	"strings"
	"testing"

	"github.com/esrestore/esrestore/fixtures"
)

// TestThrottleFlags: --max-docs-per-second makes the restore wait, the
// back-off cuts the requests in flight when the cluster rejects items,
// and the summary records both.
func TestThrottleFlags(t *testing.T) {
	es, _ := lossCluster(t, 1000)
	out := t.TempDir()
	c := newCLI(t)
	// The throttle paces writes: --strategy passes writes the snapshot
	// (1000) and the original (900) whole, where a snapshot restored as
	// the target would write almost nothing. 1900 documents at 3000/s
	// cannot take less than 0.6 s, so the workers must have waited for at
	// least some of it.
	if code := c.run(t.Context(), runArgs(es, out, "t1", "--prefer", "source", "--strategy", "passes", "--batch-size", "100", "--max-docs-per-second", "3000")...); code != exitOK {
		t.Fatalf("exit %d\n%s", code, c.stderr.String())
	}
	s := readSummary(t, out, "documents", "t1")
	if th := s.Throttle; th == nil || th.MaxDocsPerSecond != 3000 || th.WaitedSeconds < 0.3 || th.DocsPerSecond <= 0 {
		t.Errorf("throttle %+v, want the limit 3000 and at least 0.3 s of waiting", s.Throttle)
	}
	if s.Throttle != nil && s.Restore != nil {
		t.Logf("limit 3000: throttle %.0f docs/s over the load, restore %d indexed in %.2fs (%.0f docs/s)",
			s.Throttle.DocsPerSecond, s.Restore.Indexed, s.Restore.Seconds, float64(s.Restore.Indexed)/s.Restore.Seconds)
	}
	// The limit holds from the first batch: over the whole load, not
	// only after the first requests.
	if th := s.Throttle; th != nil && th.DocsPerSecond > 3000*1.02 {
		t.Errorf("throttle's rate %.0f docs/s over the load, limit 3000", th.DocsPerSecond)
	}
	if r := s.Restore; r == nil || r.Seconds <= 0 || float64(r.Indexed)/r.Seconds > 3000*1.02 {
		t.Errorf("restore %+v: more than 3000 documents written per second", s.Restore)
	}
	if !strings.Contains(c.stderr.String(), `"max_docs_per_second":{"value":"3000","origin":"flag"}`) {
		t.Error("the effective configuration does not show the limit")
	}

	// Rejected items (injected by the stand-in): the requests in flight
	// are cut, and it says so.
	fake, _ := fakeLossCluster(t, 1000)
	fake.Fake.SetFaults(fixtures.Faults{Seed: 3, BulkItemReject: 0.1})
	code := c.run(t.Context(), runArgs(fake, out, "t2", "--prefer", "source", "--strategy", "passes", "--target", "documents_t2", "--batch-size", "200", "--retry-for", "1m")...)
	fake.Fake.SetFaults(fixtures.Faults{})
	if code != exitOK {
		t.Fatalf("with rejected items: exit %d\n%s", code, c.stderr.String())
	}
	s = readSummary(t, out, "documents", "t2")
	if th := s.Throttle; th == nil || th.Backoffs == 0 || th.MinInFlight >= th.Workers || th.MaxDocsPerSecond != 0 {
		t.Errorf("throttle with rejected items %+v, want back-offs below %d workers and no rate limit", s.Throttle, 4)
	}

	if code := c.run(t.Context(), runArgs(es, out, "t3", "--max-docs-per-second", "-5")...); code != exitUsage ||
		!strings.Contains(c.text(), `--max-docs-per-second: must be a number of documents per second, 0..10000000 (0 = no limit) (got "-5")`) {
		t.Errorf("negative limit: exit %d\n%s", code, c.text())
	}
}
