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
		return progressSnapshot{Phase: "restore", Side: "original documents", Part: 1, Parts: 2,
			Done: done.Add(100), Total: 1000, Failed: 2, ShowFailed: true}
	}
	// Not a terminal: structured records, one schema.
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
	if rec["msg"] != "progress" || rec["phase"] != "restore" || rec["side"] != "original documents" ||
		rec["total"] != float64(1000) || rec["done"] != float64(100) || rec["percent"] != float64(10) ||
		rec["part"] != float64(1) || rec["parts"] != float64(2) || rec["failed"] != float64(2) {
		t.Errorf("progress record: %v", rec)
	}
	// Known total: an ETA in seconds (TestMeasure checks its value).
	if eta, ok := rec["eta_seconds"].(float64); !ok || eta < 0 {
		t.Errorf("eta_seconds %v, want a number of seconds", rec["eta_seconds"])
	}

	// A terminal: one live line, rewritten in place, cleared at the end;
	// the diff has no failures to show.
	var term bytes.Buffer
	lw := &lockedWriter{w: &term}
	env = &Env{Stderr: lw, IsTerminal: true}
	p = startProgress(env, slog.New(slog.NewTextHandler(lw, nil)), time.Millisecond, func() progressSnapshot {
		return progressSnapshot{Phase: "diff", Side: "target documents_restored", Part: 2, Parts: 3, Done: 50, Total: 200}
	})
	time.Sleep(50 * time.Millisecond)
	p.Stop()
	out := term.String()
	if !strings.Contains(out, "\r\033[Kdiff 2/3 target documents_restored  50/200 docs 25.0%") || !strings.Contains(out, "ETA") ||
		!strings.HasSuffix(out, "\r\033[K") || strings.Contains(out, "failed") {
		t.Errorf("live line: %q", out)
	}
	// Interval 0: nothing.
	var none bytes.Buffer
	startProgress(&Env{Stderr: &none}, slog.New(slog.NewTextHandler(&none, nil)), 0, read).Stop()
	if none.Len() != 0 {
		t.Errorf("--progress 0 wrote %q", none.String())
	}
}

// TestLiveLineClearedBeforeOutput: a log line written while the live line
// shows starts on a clean line, and the live line comes back after it.
func TestLiveLineClearedBeforeOutput(t *testing.T) {
	var term bytes.Buffer
	lw := &lockedWriter{w: &term}
	lw.setLive("restore 10/100 docs")
	lw.Write([]byte("level=WARN msg=slow\n"))
	lw.setLive("")
	lw.Write([]byte("esrestore run: interrupted\n"))
	want := "\r\033[Krestore 10/100 docs" + "\r\033[Klevel=WARN msg=slow\n" + "restore 10/100 docs" + "\r\033[K" + "esrestore run: interrupted\n"
	if got := term.String(); got != want {
		t.Errorf("terminal got\n%q\nwant\n%q", got, want)
	}
}

// TestRestoreProgressSides: in merge mode each side is counted against
// its own total, never both against one.
func TestRestoreProgressSides(t *testing.T) {
	known := func(n int64) *sideTotal { return &sideTotal{n: n, known: true} }
	parts := []progressPart{{name: "original documents", total: known(1000)}, {name: "source snapshot:b/s", total: known(1200)}}
	at := func(read int64) progressSnapshot { return splitRead(parts, read, 0) }
	if s := at(400); s.Part != 1 || s.Done != 400 || s.Total != 1000 {
		t.Errorf("400 read: %+v, want part 1 at 400/1000", s)
	}
	if s := at(1000); s.Part != 2 || s.Done != 0 || s.Total != 1200 {
		t.Errorf("1000 read: %+v, want part 2 at 0/1200", s)
	}
	if s := at(2100); s.Part != 2 || s.Done != 1100 || s.Side != "source snapshot:b/s" {
		t.Errorf("2100 read: %+v, want part 2 at 1100/1200", s)
	}
}

func TestMeasure(t *testing.T) {
	l := measure(progressSnapshot{Done: 250, Total: 1000}, 5*time.Second)
	if l.percent != 25 || l.rate != 50 || l.eta != 15 {
		t.Errorf("250 of 1000 in 5s: %+v, want 25%%, 50 docs/s, 15s", l)
	}
	if l := measure(progressSnapshot{Done: 250}, 5*time.Second); l.percent != -1 || l.eta != -1 {
		t.Errorf("unknown total: %+v, want -1 percent and eta", l)
	}
}
