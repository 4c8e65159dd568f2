package job

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/esrestore/esrestore/report"
	"github.com/esrestore/esrestore/restore"
	"github.com/esrestore/esrestore/s3out"
)

// attempts is what the job knows of the attempts of its run id.
type attempts struct {
	// earlier are the attempts before this one, as the summary at the
	// report location recorded them.
	earlier []report.Attempt
	// own is this attempt's restore counts, before they are made to
	// cover the earlier attempts.
	own *report.Restore
}

// earlierAttempts reads the attempts an earlier summary of the run id
// records. An attempt that recorded its start but not its end was killed.
// A summary without the list (a version of the tool that did not keep
// it) is one attempt.
func earlierAttempts(summary []byte) []report.Attempt {
	var prev struct {
		Started  time.Time                 `json:"started"`
		Finished time.Time                 `json:"finished"`
		Complete bool                      `json:"complete"`
		Error    string                    `json:"error"`
		Restore  *report.Restore           `json:"restore"`
		Retries  map[string]report.Retries `json:"retries"`
		Attempts []report.Attempt          `json:"attempts"`
	}
	if json.Unmarshal(summary, &prev) != nil {
		return nil
	}
	if len(prev.Attempts) > 0 {
		out := prev.Attempts
		if last := &out[len(out)-1]; last.Ended == report.AttemptRunning {
			last.Ended = report.AttemptKilled
			last.Error = "the process ended without recording its end (killed, or its node lost)"
		}
		return out
	}
	if prev.Started.IsZero() {
		return nil
	}
	a := report.Attempt{Number: 1, Started: prev.Started, Error: prev.Error, Restore: attemptRestore(prev.Restore), Retries: prev.Retries}
	if !prev.Finished.IsZero() {
		f := prev.Finished
		a.Finished = &f
	}
	switch {
	case prev.Complete:
		a.Ended = report.AttemptComplete
	case strings.Contains(prev.Error, context.Canceled.Error()) || strings.HasPrefix(prev.Error, "interrupted"):
		a.Ended = report.AttemptInterrupted
	default:
		a.Ended = report.AttemptFailed
	}
	return []report.Attempt{a}
}

func attemptRestore(r *report.Restore) *report.AttemptRestore {
	if r == nil {
		return nil
	}
	return &report.AttemptRestore{Read: r.Read, Indexed: r.Indexed, Kept: r.Kept, Failed: r.Failed, Pending: r.Pending,
		Retried: r.Retried, Seconds: r.Seconds}
}

// thisAttempt is this attempt as it stands: running until ended says how
// it ended.
func (j *Job) thisAttempt(ended string, err error) report.Attempt {
	own := j.attempts.own
	if own == nil {
		own = j.summary.Restore // running: this attempt's own counts so far
	}
	a := report.Attempt{Number: len(j.attempts.earlier) + 1, Started: j.start.UTC(), Ended: ended,
		Restore: attemptRestore(own), Retries: j.retryCounts()}
	if ended != report.AttemptRunning {
		f := j.summary.Finished
		a.Finished = &f
	}
	if err != nil {
		a.Error = err.Error()
	}
	return a
}

// howEnded names how an attempt that returned err ended.
func howEnded(err error) string {
	switch {
	case err == nil:
		return report.AttemptComplete
	case isInterrupted(err) || errors.Is(err, context.Canceled):
		return report.AttemptInterrupted
	}
	return report.AttemptFailed
}

// settleAttempts lists every attempt in the summary, this one ended by
// err, and makes the restore counts and the retries cover them all. It
// may run more than once.
func (j *Job) settleAttempts(err error) {
	if j.attempts.own == nil && j.summary.Restore != nil {
		own := *j.summary.Restore
		j.attempts.own = &own
	}
	this := j.thisAttempt(howEnded(err), err)
	j.summary.Attempts = append(append([]report.Attempt(nil), j.attempts.earlier...), this)
	j.summary.Retries = sumRetries(j.summary.Attempts)
	j.summary.Restore = wholeRun(j.attempts.own, j.attempts.earlier)
}

// sumRetries adds up the attempts' retries phase by phase.
func sumRetries(as []report.Attempt) map[string]report.Retries {
	var out map[string]report.Retries
	for _, a := range as {
		for p, r := range a.Retries {
			if out == nil {
				out = map[string]report.Retries{}
			}
			s := out[p]
			s.Retries += r.Retries
			s.Backoffs += r.Backoffs
			s.BackoffSeconds += r.BackoffSeconds
			s.GaveUp += r.GaveUp
			out[p] = s
		}
	}
	return out
}

// wholeRun is the restore counts of the last attempt made to cover the
// earlier ones. The last attempt read every document again, so read,
// failed and pending are the run's already; but what an earlier attempt
// wrote, the last found in the target and kept (a create answered 409, a
// document already equal to the one it would write). Those are indexed
// by the run: as many as the earlier attempts recorded indexing, plus,
// for attempts killed before they recorded counts, what the target held
// when loading began beyond that (a target loaded with _bulk holds only
// this run's writes; one a snapshot was restored as holds the snapshot,
// and what a killed attempt wrote into it stays unknown), never more than
// were kept. Retries add up.
func wholeRun(own *report.Restore, earlier []report.Attempt) *report.Restore {
	if own == nil {
		return nil
	}
	r := *own
	if len(earlier) == 0 {
		return &r
	}
	var known int64
	unknown := false
	for _, a := range earlier {
		if a.Restore == nil {
			unknown = true
			continue
		}
		known += a.Restore.Indexed
		r.Retried += a.Restore.Retried
	}
	written := known
	if unknown && r.Load != restore.LoadSnapshot {
		written = max(known, r.ExistingBefore)
	}
	w := min(max(0, r.Kept-r.SnapshotRestored-r.KeptBySeqNo), written)
	r.Indexed += w
	r.Kept -= w
	r.WrittenByEarlierAttempts = w
	return &r
}

// recordRunning writes a summary that says this attempt is running: before
// the first write, and again once the restore is done, with its counts. A
// process killed without a word (kill -9) leaves the last of them, and the
// next attempt records it as killed, with what it knew, and checks that
// it resumes where this one ran (sameWhere). The first one is the record
// that check needs, so failing to write it stops the attempt before its
// first write; the later one is a warning, the end saying more.
func (j *Job) recordRunning(ctx context.Context) error {
	if j.report == nil {
		return nil
	}
	s := j.summary
	this := j.thisAttempt(report.AttemptRunning, nil)
	s.Attempts = append(append([]report.Attempt(nil), j.attempts.earlier...), this)
	s.Retries = sumRetries(s.Attempts)
	s.Restore = wholeRun(j.summary.Restore, j.attempts.earlier)
	s.Error = fmt.Sprintf("attempt %d, started %s, is running: if no process runs it, it was killed and the run id must be run again",
		this.Number, this.Started.Format(time.RFC3339))
	s.Verdict = report.Judge(&s)
	if err := j.report.WriteSummary(ctx, s); err != nil {
		return fmt.Errorf("write the running attempt's record %s: %w", j.report.URL(s3out.SummaryName), err)
	}
	return nil
}
