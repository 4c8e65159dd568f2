package main

import (
	"fmt"
	"io"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/esrestore/esrestore/job"
)

// progressSnapshot is what a phase reports while it works.
type progressSnapshot = job.Progress

// progress reports a phase's advance every interval: a live line on a
// terminal, a "progress" record otherwise. Stop it before printing the
// summary.
type progress struct {
	stop chan struct{}
	done sync.WaitGroup
}

// progressLine is what a tick computes from a snapshot.
type progressLine struct {
	percent float64 // -1 when the total is unknown
	rate    float64 // documents per second over the part so far
	eta     float64 // seconds, -1 when unknown
}

func startProgress(env *Env, log *slog.Logger, interval time.Duration, read func() progressSnapshot) *progress {
	p := &progress{stop: make(chan struct{})}
	if interval <= 0 {
		return p
	}
	live := env.IsTerminal
	lw, ok := env.Stderr.(*lockedWriter)
	if !ok {
		lw = &lockedWriter{w: env.Stderr}
	}
	if live && interval > time.Second {
		interval = time.Second
	}
	p.done.Add(1)
	go func() {
		defer p.done.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		m := newMeter(time.Now())
		for {
			select {
			case <-p.stop:
				if live {
					lw.setLive("")
				}
				return
			case now := <-t.C:
				s, l := m.measure(read(), now)
				if live {
					lw.setLive(liveLine(s, l))
					continue
				}
				log.Info("progress", "phase", s.Phase, "side", s.Side, "part", s.Part, "parts", s.Parts,
					"done", s.Done, "total", s.Total, "percent", l.percent, "docs_per_second", math.Round(l.rate),
					"eta_seconds", l.eta, "read", s.Read, "failed", s.Failed)
			}
		}
	}()
	return p
}

// rateWindow is how far back the rate looks: long enough to smooth the
// batches, short enough that a stall (a node restarting) shows as a
// falling rate within it, not as a part's average.
const rateWindow = 30 * time.Second

// meter turns a phase's successive snapshots into rates and ETAs. The
// rate is what this process did over the last rateWindow of the part
// under way: a count that jumps when the part changes (a total known
// late moves what was read to the next part) is a new baseline, never
// progress made in no time.
type meter struct {
	part    string
	samples []sample // of the part under way, oldest first
}

type sample struct {
	at   time.Time
	done int64
}

// newMeter starts measuring a phase begun at start: its first part
// starts from nothing.
func newMeter(start time.Time) *meter {
	return &meter{samples: []sample{{at: start}}}
}

// measure records s at now and returns it with done at most total (a
// total counted before the part grew is raised to done, its ETA then
// unknown), with its percent, rate and ETA.
func (m *meter) measure(s progressSnapshot, now time.Time) (progressSnapshot, progressLine) {
	key := fmt.Sprintf("%s/%s/%d", s.Phase, s.Side, s.Part)
	if m.part != "" && key != m.part {
		m.samples = m.samples[:0]
	}
	m.part = key
	if n := len(m.samples); n > 0 && s.Done < m.samples[n-1].done {
		m.samples = m.samples[:0] // counted anew: a new baseline
	}
	m.samples = append(m.samples, sample{at: now, done: s.Done})
	for len(m.samples) > 2 && !m.samples[1].at.After(now.Add(-rateWindow)) {
		m.samples = m.samples[1:]
	}
	l := progressLine{percent: -1, eta: -1}
	first, last := m.samples[0], m.samples[len(m.samples)-1]
	if span := last.at.Sub(first.at).Seconds(); span > 0 {
		l.rate = float64(last.done-first.done) / span
	}
	grown := s.Total > 0 && s.Done > s.Total
	if grown {
		s.Total = s.Done
	}
	if s.Total > 0 {
		l.percent = math.Round(1000*float64(s.Done)/float64(s.Total)) / 10
		switch {
		case grown:
		case s.Done >= s.Total:
			l.eta = 0
		case l.rate > 0:
			// Up to the next tenth: work left never shows as an ETA of
			// 0 (the epsilon keeps an exact tenth where it is).
			l.eta = math.Ceil(10*float64(s.Total-s.Done)/l.rate-1e-9) / 10
		}
	}
	return s, l
}

// liveLine is the terminal's line: "restore 2/2 original documents
// 12000/100000 12.0% 4400 docs/s ETA 20s failed 0".
func liveLine(s progressSnapshot, l progressLine) string {
	line := s.Phase
	if s.Parts > 1 {
		line += fmt.Sprintf(" %d/%d", s.Part, s.Parts)
	}
	if s.Side != "" {
		line += " " + s.Side
	}
	if s.Total > 0 {
		line += fmt.Sprintf("  %d/%d docs %.1f%%", s.Done, s.Total, l.percent)
	} else {
		line += fmt.Sprintf("  %d docs", s.Done)
	}
	line += fmt.Sprintf("  %.0f docs/s", l.rate)
	if l.eta >= 0 && s.Done < s.Total {
		line += "  ETA " + time.Duration(l.eta*float64(time.Second)).Round(time.Second).String()
	}
	if s.Read > 0 {
		line += fmt.Sprintf(" (%d read)", s.Read)
	}
	if s.ShowFailed || s.Failed > 0 {
		line += fmt.Sprintf("  failed %d", s.Failed)
	}
	return line
}

// Stop ends the reports and waits for the last one; the live line is
// cleared.
func (p *progress) Stop() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	p.done.Wait()
}

// lockedWriter serialises writes from the progress goroutine and the
// command, and keeps the terminal's live progress line out of the way:
// any other write clears it first and draws it again after a whole line,
// so a log line never lands in the middle of it.
type lockedWriter struct {
	mu   sync.Mutex
	w    io.Writer
	live string
}

const clearLine = "\r\033[K"

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.live == "" {
		return l.w.Write(p)
	}
	io.WriteString(l.w, clearLine) //nolint:errcheck // the write below reports
	n, err := l.w.Write(p)
	if err == nil && len(p) > 0 && p[len(p)-1] == '\n' {
		io.WriteString(l.w, l.live) //nolint:errcheck // best effort
	}
	return n, err
}

// setLive draws line as the live line in place of the last one; "" clears
// it.
func (l *lockedWriter) setLive(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if line == "" && l.live == "" {
		return
	}
	l.live = line
	io.WriteString(l.w, clearLine+line) //nolint:errcheck // best effort
}
