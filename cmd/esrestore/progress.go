package main

import (
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// progressSnapshot is what a phase reports while it works.
type progressSnapshot struct {
	Phase  string
	Done   int64 // documents handled so far
	Total  int64 // expected, 0 when unknown
	Read   int64 // documents read so far, when reading runs ahead of Done
	Failed int64
}

// progress reports a phase's advance every interval: a live line on a
// terminal, a structured log line otherwise. Stop it before printing the
// summary.
type progress struct {
	stop chan struct{}
	done sync.WaitGroup
}

func startProgress(env *Env, log *slog.Logger, interval time.Duration, read func() progressSnapshot) *progress {
	p := &progress{stop: make(chan struct{})}
	if interval <= 0 {
		return p
	}
	live := env.IsTerminal
	if live && interval > time.Second {
		interval = time.Second
	}
	start := time.Now()
	p.done.Add(1)
	go func() {
		defer p.done.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				if live {
					fmt.Fprint(env.Stderr, "\r\033[K")
				}
				return
			case <-t.C:
				s := read()
				elapsed := time.Since(start).Seconds()
				rate := float64(s.Done) / max(elapsed, 0.001)
				eta := ""
				if s.Total > 0 && rate > 0 && s.Done < s.Total {
					eta = (time.Duration(float64(s.Total-s.Done)/rate) * time.Second).Round(time.Second).String()
				}
				if live {
					line := fmt.Sprintf("%-7s %d docs", s.Phase, s.Done)
					if s.Total > 0 {
						line = fmt.Sprintf("%-7s %d/%d docs", s.Phase, s.Done, s.Total)
					}
					if s.Read > 0 {
						line += fmt.Sprintf(" (%d read)", s.Read)
					}
					line += fmt.Sprintf("  %.0f docs/s", rate)
					if eta != "" {
						line += "  ETA " + eta
					}
					fmt.Fprintf(env.Stderr, "\r\033[K%s  failed %d", line, s.Failed)
					continue
				}
				attrs := []any{"phase", s.Phase, "done", s.Done, "docs_per_s", int64(rate), "failed", s.Failed}
				if s.Total > 0 {
					attrs = append(attrs, "total", s.Total, "eta", eta)
				}
				if s.Read > 0 {
					attrs = append(attrs, "read", s.Read)
				}
				log.Info("progress", attrs...)
			}
		}
	}()
	return p
}

// Stop ends the reports and waits for the last one.
func (p *progress) Stop() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	p.done.Wait()
}
