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
					fmt.Fprintf(env.Stderr, "\r\033[K%-7s %d/%d docs  %.0f docs/s  ETA %s  failed %d", s.Phase, s.Done, s.Total, rate, eta, s.Failed)
					continue
				}
				log.Info("progress", "phase", s.Phase, "done", s.Done, "total", s.Total, "docs_per_s", int64(rate), "eta", eta, "failed", s.Failed)
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
