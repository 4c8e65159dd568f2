package job

import (
	"context"
	"sync"

	"github.com/esrestore/esrestore/internal/retry"
	"github.com/esrestore/esrestore/report"
)

// phaseRetries counts the retries of each phase of a job.
type phaseRetries struct {
	mu sync.Mutex
	by map[string]*retry.Counter
}

// phase returns ctx carrying the retry counter of the named phase and the
// job's logger: every call of the phase that retries, under whatever
// policy, is counted and warns while it keeps failing.
func (j *Job) phase(ctx context.Context, name string) context.Context {
	j.retries.mu.Lock()
	if j.retries.by == nil {
		j.retries.by = map[string]*retry.Counter{}
	}
	c := j.retries.by[name]
	if c == nil {
		c = &retry.Counter{}
		j.retries.by[name] = c
	}
	j.retries.mu.Unlock()
	return retry.WithLogger(retry.WithCounter(ctx, c), j.log)
}

// retryCounts is the summary's account of the retries of each phase that
// ran, nil when none did.
func (j *Job) retryCounts() map[string]report.Retries {
	j.retries.mu.Lock()
	defer j.retries.mu.Unlock()
	if len(j.retries.by) == 0 {
		return nil
	}
	out := make(map[string]report.Retries, len(j.retries.by))
	for name, c := range j.retries.by {
		n := c.Counts()
		out[name] = report.Retries{Retries: n.Retries, Backoffs: n.Backoffs, BackoffSeconds: n.Waited.Seconds(), GaveUp: n.GaveUp}
	}
	return out
}
