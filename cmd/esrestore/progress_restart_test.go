package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestProgressAcrossRestart: the node restarts in the middle of a
// throttled restore; the run resumes its requests and finishes, and no
// progress record shows a done past its total, a rate above what the
// throttle lets through, or an ETA shorter than the work left at that
// rate. On the real node when the environment asks for one (the node is
// killed and started again), on the stand-in otherwise.
func TestProgressAcrossRestart(t *testing.T) {
	es, _ := lossCluster(t, 2000)
	out := t.TempDir()
	const limit = 1000
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	// --strategy passes writes both sides whole: 3,800 documents, about
	// 4 s at the limit, with the restart in the middle.
	args := runArgs(es, out, "restart", "--prefer", "source", "--strategy", "passes", "--batch-size", "50",
		"--max-docs-per-second", "1000", "--progress", "100ms", "--retry-for", "3m", "--log-format", "json")
	var (
		wg   sync.WaitGroup
		code int
	)
	stderr := &syncBuffer{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		env := &Env{Getenv: func(string) string { return "" }, Environ: func() []string { return nil },
			Stdout: &bytes.Buffer{}, Stderr: stderr}
		code = Main(ctx, env, args)
	}()
	// Once the restore has written for a second, the node goes down.
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(stderr.String(), `"phase":"restore"`) || strings.Count(stderr.String(), `"phase":"restore"`) < 10 {
		if time.Now().After(deadline) {
			t.Fatalf("no restore progress in a minute:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := es.Stop(true); err != nil {
		t.Fatal(err)
	}
	// Down for two seconds of the real clock, longer than the throttle's
	// half-second slack: the records after the restart show whether the
	// throttle lets a burst through to make up for the lost time.
	time.Sleep(2 * time.Second)
	if err := es.Start(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if code != exitOK {
		t.Fatalf("exit %d after a restart:\n%s", code, stderr.String())
	}
	var n int
	var maxRate float64
	for _, line := range strings.Split(stderr.String(), "\n") {
		var rec struct {
			Msg     string  `json:"msg"`
			Phase   string  `json:"phase"`
			Side    string  `json:"side"`
			Done    int64   `json:"done"`
			Total   int64   `json:"total"`
			Rate    float64 `json:"docs_per_second"`
			ETA     float64 `json:"eta_seconds"`
			Percent float64 `json:"percent"`
		}
		if json.Unmarshal([]byte(line), &rec) != nil || rec.Msg != "progress" || rec.Phase != "restore" {
			continue
		}
		n++
		maxRate = max(maxRate, rec.Rate)
		if rec.Total > 0 && rec.Done > rec.Total {
			t.Errorf("done %d past total %d: %s", rec.Done, rec.Total, line)
		}
		// The throttle's slack lets a late worker catch up half a second:
		// over a window that short, a little above the limit.
		if rec.Rate > limit*1.6 {
			t.Errorf("rate %.0f docs/s under a limit of %d: %s", rec.Rate, limit, line)
		}
		if left := rec.Total - rec.Done; rec.ETA >= 0 && left > 0 && rec.ETA < float64(left)/(limit*1.6) {
			t.Errorf("ETA %.1fs for %d documents left at most %d/s: %s", rec.ETA, left, limit, line)
		}
	}
	if n < 10 {
		t.Errorf("%d restore progress records", n)
	}
	s := readSummary(t, out, "documents", "restart")
	t.Logf("%d restore progress records, highest rate %.0f docs/s; retries %+v", n, maxRate, s.Retries)
	if s.Retries["restore"].Retries == 0 && s.Retries["diff"].Retries == 0 {
		t.Errorf("a restart cost no retry: %+v", s.Retries)
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
