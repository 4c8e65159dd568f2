package main

import (
	"bytes"
	"encoding/json"
	"fmt"
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
	waitReads(t, func() int64 { return done.Load() / 100 }, 3) // the first two are written
	p.Stop()
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) < 2 {
		t.Fatalf("got %d progress lines after three reads at 5ms", len(lines))
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
	var reads atomic.Int64
	p = startProgress(env, slog.New(slog.NewTextHandler(lw, nil)), time.Millisecond, func() progressSnapshot {
		reads.Add(1)
		return progressSnapshot{Phase: "diff", Side: "target documents_restored", Part: 2, Parts: 3, Done: 50, Total: 200}
	})
	waitReads(t, reads.Load, 2) // the first is drawn
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

func TestMeasure(t *testing.T) {
	start := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	m := newMeter(start)
	s, l := m.measure(progressSnapshot{Phase: "restore", Part: 1, Done: 250, Total: 1000}, start.Add(5*time.Second))
	if l.percent != 25 || l.rate != 50 || l.eta != 15 || s.Done != 250 || s.Total != 1000 {
		t.Errorf("250 of 1000 in 5s: %+v, want 25%%, 50 docs/s, 15s", l)
	}
	if _, l := newMeter(start).measure(progressSnapshot{Done: 250}, start.Add(5*time.Second)); l.percent != -1 || l.eta != -1 {
		t.Errorf("unknown total: %+v, want -1 percent and eta", l)
	}
	// 50 documents left at 1,029 docs/s is 0.049 s: shown as 0.1 s, never
	// as 0 while work is left.
	if _, l := newMeter(start).measure(progressSnapshot{Done: 10290, Total: 10340}, start.Add(10*time.Second)); l.rate != 1029 || l.eta != 0.1 {
		t.Errorf("50 left at 1029 docs/s: %+v, want an ETA of 0.1 s", l)
	}
}

// TestMeasureSaneAcrossRestarts: what a stall, a part whose count jumps,
// and a total counted before the part grew do to the rate and the ETA.
func TestMeasureSaneAcrossRestarts(t *testing.T) {
	start := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return start.Add(time.Duration(s) * time.Second) }
	m := newMeter(start)
	part := func(n int, done, total int64) progressSnapshot {
		return progressSnapshot{Phase: "restore", Side: fmt.Sprint("side ", n), Part: n, Parts: 2, Done: done, Total: total}
	}
	// 100 docs/s for a minute.
	var l progressLine
	for sec := 5; sec <= 60; sec += 5 {
		_, l = m.measure(part(1, int64(100*sec), 100_000), at(sec))
	}
	if l.rate != 100 || l.eta != 940 {
		t.Fatalf("steady: %+v, want 100 docs/s, ETA 940s", l)
	}
	// The node restarts: nothing for 40 s. The rate falls to 0 within the
	// window and the ETA becomes unknown, instead of a minute's average.
	for sec := 65; sec <= 100; sec += 5 {
		_, l = m.measure(part(1, 6000, 100_000), at(sec))
	}
	if l.rate != 0 || l.eta != -1 {
		t.Errorf("after 35 s of stall: %+v, want rate 0 and no ETA", l)
	}
	// Back: 50 docs/s. The ETA is the remaining work at the recent rate.
	for sec := 105; sec <= 140; sec += 5 {
		_, l = m.measure(part(1, 6000+int64(50*(sec-100)), 100_000), at(sec))
	}
	if l.rate < 40 || l.rate > 50 || l.eta < 1500 {
		t.Errorf("recovered at 50 docs/s: %+v, want about 50 docs/s and an ETA of a long run", l)
	}
	// The next part starts with 64,000 documents already counted to it (a
	// total known late moved them): a baseline, not 64,000 docs in a tick.
	_, l = m.measure(part(2, 64_000, 1_000_000), at(141))
	if l.rate != 0 || l.eta != -1 {
		t.Errorf("a part that starts at 64,000: %+v, want no rate yet", l)
	}
	_, l = m.measure(part(2, 64_100, 1_000_000), at(142))
	if l.rate != 100 {
		t.Errorf("then 100 more in a second: %+v, want 100 docs/s", l)
	}
	// A total counted before the part grew: done stays within it.
	s, l := m.measure(part(2, 1_000_100, 1_000_000), at(150))
	if s.Done > s.Total || l.percent != 100 || l.eta != -1 {
		t.Errorf("done past a stale total: %+v %+v, want done ≤ total, 100%%, no ETA", s, l)
	}
}

// waitReads waits until reads() reaches n, at most ten seconds.
func waitReads(t *testing.T, reads func() int64, n int64) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); reads() < n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d progress reads in 10s, want %d", reads(), n)
		}
	}
}
