package job

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/esrestore/esrestore/internal/lease"
)

// holdLease makes this process the one runner of the run id: it takes the
// run id's lease in Elasticsearch before the job deletes or writes
// anything (temporary report files, a staging index, the target, report
// objects), and returns a context cancelled when the lease is lost.
//
// A lease another process holds is waited on until that process renews
// it (then this one exits 1 naming it, deleting nothing: the Job retries
// later, by when the holder has finished) or lets it expire unrenewed (a
// holder killed with SIGKILL: this one takes it over and resumes). Either
// way the wait is at most one --lease-ttl, so a pod that follows a killed
// one resumes in the same attempt instead of spending the Job's
// backoffLimit on attempts that each fail at once.
func (j *Job) holdLease(ctx context.Context) (context.Context, error) {
	l, err := lease.Acquire(ctx, j.es, lease.Options{ID: j.cfg.RunID, TTL: j.cfg.LeaseTTL, Retry: j.retryPolicy(), Logger: j.log})
	var held *lease.HeldError
	switch {
	case errors.As(err, &held):
		return ctx, fmt.Errorf("%w; this process deleted nothing and stops, for the Job to retry after that run ends (lease %s/%s)",
			err, held.Index, held.ID)
	case errors.Is(err, lease.ErrInvalidOptions):
		return ctx, misconfigured(err)
	case err != nil:
		return ctx, GuardError(fmt.Errorf("take the lease of run %q (the job's Elasticsearch user needs create_index, read, write and delete on index %s): %w",
			j.cfg.RunID, lease.DefaultIndex, err))
	}
	j.lease = l
	lctx, cancel := l.Context(ctx)
	j.leaseCancel = cancel
	return lctx, nil
}

// leaseLost is the error of a lease lost during the run, nil while it is
// held (or without one).
func (j *Job) leaseLost() error {
	if j.lease == nil {
		return nil
	}
	return j.lease.Err()
}

// lostLease ends a job whose lease was lost: another process may be the
// run's runner now, so this one stops where it is, cleaning nothing up and
// writing no summary (both are the new runner's), and exits 1.
func (j *Job) lostLease(ctx context.Context, lost, err error) error {
	msg := fmt.Errorf("%w; stopped without cleaning up or writing the summary, which are the current runner's", lost)
	if err != nil && !errors.Is(err, context.Canceled) {
		msg = fmt.Errorf("%w (the run had: %v)", msg, err)
	}
	return j.abort(ctx, &Error{Kind: Failed, Err: msg})
}

// releaseLease releases a held lease at the end of the job.
func (j *Job) releaseLease(ctx context.Context) {
	if j.lease == nil {
		return
	}
	j.leaseCancel()
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := j.lease.Release(rctx); err != nil {
		j.log.Warn("lease not released", "error", err)
	}
}

// orLost is err, or the lost lease's error when the lease was lost (err
// is then its consequence: a cancelled request).
func (j *Job) orLost(err error) error {
	if lost := j.leaseLost(); lost != nil {
		return &Error{Kind: Failed, Err: fmt.Errorf("%w; stopped before any write", lost)}
	}
	return err
}
