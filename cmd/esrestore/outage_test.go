package main

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/esrestore/esrestore/fixtures/faultproxy"
	"github.com/esrestore/esrestore/fixtures/faultproxy/fptest"
)

// TestOutageCounted: a run through faults (503s, cut connections, and an
// outage of the node mid-restore) finishes, warns while it retries, and
// its summary counts the retries and backoffs of each phase, where they
// happened. On the real node when the environment asks for one.
func TestOutageCounted(t *testing.T) {
	es, _ := lossCluster(t, 1000)
	out := t.TempDir()
	var p *faultproxy.Proxy
	var once sync.Once
	p = fptest.New(t, es.URL, faultproxy.Options{Seed: 11, Rules: []faultproxy.Rule{
		{Name: "bulk-503", Method: "POST", Path: `/_bulk$`, Every: 5, Action: faultproxy.Status, Code: 503},
		{Name: "bulk-cut", Method: "POST", Path: `/_bulk$`, Every: 7, Action: faultproxy.CutAfterForward},
		{Name: "search-cut", Method: "POST", Path: `/_search$`, Every: 6, Action: faultproxy.Cut},
		{Name: "mget-503", Path: `/_mget$`, Every: 4, Action: faultproxy.Status, Code: 503},
		// The 12th _bulk takes the node down for a second and a half.
		{Name: "outage", Method: "POST", Path: `/_bulk$`, Nth: 12, Action: faultproxy.Cut},
	}, OnFire: func(rule string, _ *http.Request) {
		if rule == "outage" {
			once.Do(func() {
				go func() {
					p.Down()
					// A real outage on the real clock: the run's backoffs
					// through it are what the summary must count (at
					// least a second, below).
					time.Sleep(1500 * time.Millisecond)
					p.Up()
				}()
			})
		}
	}})
	proxied := *es
	proxied.URL = p.URL()
	c := newCLI(t)
	code := c.run(t.Context(), runArgs(&proxied, out, "outage", "--prefer", "source", "--strategy", "passes", "--batch-size", "50",
		"--retry-for", "1m", "--log-format", "json")...)
	if code != exitOK {
		t.Fatalf("exit %d (faults %v)\n%s", code, p.Stats().Fired, c.text())
	}
	fired := p.Stats().Fired
	if fired["outage"] != 1 || fired["bulk-503"] == 0 || fired["search-cut"] == 0 || fired["mget-503"] == 0 {
		t.Fatalf("faults fired %v, want each", fired)
	}
	s := readSummary(t, out, "documents", "outage")
	if s.Restore == nil || s.Restore.Failed != 0 || s.Restore.Retried == 0 {
		t.Errorf("restore %+v, want no failure and documents retried", s.Restore)
	}
	t.Logf("faults %v; retries %+v; restore retried %d documents", fired, s.Retries, s.Restore.Retried)
	r, d := s.Retries["restore"], s.Retries["diff"]
	if r.Retries == 0 || r.Backoffs < r.Retries || r.BackoffSeconds <= 0 || r.GaveUp != 0 {
		t.Errorf("restore phase retries %+v, want retries with their backoffs", r)
	}
	// The outage alone kept the restore waiting for at least a second.
	if r.BackoffSeconds < 1 {
		t.Errorf("restore phase waited %.2fs in backoffs through a 1.5 s outage", r.BackoffSeconds)
	}
	if d.Retries == 0 {
		t.Errorf("diff phase retries %+v, want the cut scans and 503 lookups counted", d)
	}
	for _, phase := range []string{"checks", "restore", "diff", "end"} {
		if _, ok := s.Retries[phase]; !ok {
			t.Errorf("summary has no retries for the %s phase: %+v", phase, s.Retries)
		}
	}
	if n := strings.Count(c.stderr.String(), `"msg":"retrying"`); n == 0 {
		t.Error("no retrying warning in the log")
	}
	// The summary record on stderr carries them too.
	if !strings.Contains(c.stderr.String(), `"retries":{"checks":`) {
		t.Errorf("the summary record lacks the retries:\n%s", c.stderr.String())
	}
}
