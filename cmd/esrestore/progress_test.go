package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestProgressReports(t *testing.T) {
	var done atomic.Int64
	read := func() progressSnapshot {
		return progressSnapshot{Phase: "restore", Done: done.Add(100), Read: 1000, Failed: 2}
	}
	// Not a terminal: structured log lines.
	var logs bytes.Buffer
	env := &Env{Stderr: &logs}
	p := startProgress(env, slog.New(slog.NewJSONHandler(&logs, nil)), 5*time.Millisecond, read)
	time.Sleep(40 * time.Millisecond)
	p.Stop()
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) < 2 {
		t.Fatalf("got %d progress lines in 40ms at 5ms", len(lines))
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["msg"] != "progress" || rec["phase"] != "restore" || rec["read"] != float64(1000) || rec["failed"] != float64(2) {
		t.Errorf("progress record: %v", rec)
	}
	// A terminal: one live line, rewritten in place, cleared at the end.
	var term bytes.Buffer
	env = &Env{Stderr: &term, IsTerminal: true}
	p = startProgress(env, slog.New(slog.NewTextHandler(&term, nil)), time.Millisecond, func() progressSnapshot {
		return progressSnapshot{Phase: "diff", Done: 50, Total: 100}
	})
	time.Sleep(50 * time.Millisecond)
	p.Stop()
	out := term.String()
	if !strings.Contains(out, "\r\033[Kdiff    50/100 docs") || !strings.Contains(out, "ETA") || !strings.HasSuffix(out, "\r\033[K") {
		t.Errorf("live line: %q", out)
	}
	// Interval 0: nothing.
	var none bytes.Buffer
	startProgress(&Env{Stderr: &none}, slog.New(slog.NewTextHandler(&none, nil)), 0, read).Stop()
	if none.Len() != 0 {
		t.Errorf("--progress 0 wrote %q", none.String())
	}
}
