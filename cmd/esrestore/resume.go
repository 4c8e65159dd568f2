package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/esrestore/esrestore/internal/retry"
	"github.com/esrestore/esrestore/s3out"
)

// retryPolicy is the one retry policy of every Elasticsearch call of the
// job: --retry-for long, backoff capped at retry's 30s.
func (j *job) retryPolicy() retry.Policy {
	return retry.Policy{Budget: j.cfg.RetryFor, Logger: j.log}.WithDefaults()
}

// reportGrace is how long the report may take to be written after the
// drain: the failures flushed and closed, the summary put.
const reportGrace = 30 * time.Second

// reportContext is the context of the report's streams: it outlives ctx
// (a SIGTERM) by the drain and reportGrace, so that the failures recorded
// so far are written and listed, yet the job ends within the pod's grace
// period.
func (j *job) reportContext(ctx context.Context) context.Context {
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	context.AfterFunc(ctx, func() { time.AfterFunc(j.cfg.Drain+reportGrace, cancel) })
	return rctx
}

// guardError marks a failed guard rail: a configuration problem (exit 2),
// unless it is transient (Elasticsearch unreachable, 5xx, timeouts past
// the retry budget): a later pod may pass it, so it is an error (exit 1).
func guardError(err error) error {
	if retry.IsTransient(err) {
		return err
	}
	return usageError(err)
}

// previousRun looks at the report of this run id. A complete one ends the
// job with exit 2 pointing at it, unless --rerun: then the report goes
// beside it, under RUN_ID-rerun-TIME. Temporary objects a killed attempt
// left in a local report directory are removed.
func (j *job) previousRun(ctx context.Context, dest s3out.Destination, rep *s3out.Report) (*s3out.Report, error) {
	if !j.do.restore && !j.do.diff {
		return rep, nil
	}
	j.removeStale(rep)
	complete, err := j.reportComplete(ctx, rep)
	if err != nil {
		return nil, err
	}
	if !complete {
		if n := len(j.attempts.earlier); n > 0 {
			last := j.attempts.earlier[n-1]
			j.log.Info("resuming the run", "attempt", n+1, "last_started", last.Started, "last_ended", last.Ended)
		}
		return rep, nil
	}
	j.attempts.earlier = nil // a rerun is a run of its own
	if !j.cfg.Rerun {
		return nil, usageError(fmt.Errorf("run %q already finished, its report is complete: %s; read it, or pass --rerun to run again with a new report beside it",
			j.cfg.RunID, rep.URL(s3out.SummaryName)))
	}
	dir := j.cfg.RunID + "-rerun-" + j.start.UTC().Format("20060102T150405Z")
	j.log.Info("rerunning a finished run: the new report goes beside the old one", "old", rep.URL(""), "run_id", j.cfg.RunID)
	return s3out.NewReport(j.reportContext(ctx), dest, reportName(j.cfg.Original), dir), nil
}

// reportComplete reads the summary of rep, if any.
func (j *job) reportComplete(ctx context.Context, rep *s3out.Report) (bool, error) {
	rc, err := s3out.OpenReader(ctx, rep.URL(s3out.SummaryName), j.s3opt)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, guardError(fmt.Errorf("--output: read the summary of run %q: %w", j.cfg.RunID, err))
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 64<<20))
	if err != nil {
		return false, fmt.Errorf("--output: read %s: %w", rep.URL(s3out.SummaryName), err)
	}
	var s struct {
		Complete bool `json:"complete"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		// A summary that cannot be read is not a finished run's.
		j.log.Warn("summary of an earlier attempt unreadable, overwriting it", "summary", rep.URL(s3out.SummaryName), "error", err)
		return false, nil
	}
	j.attempts.earlier = earlierAttempts(b)
	return s.Complete, nil
}

// removeStale deletes the ".NAME.tmp-*" files a killed attempt left in a
// local report directory. In S3 a killed attempt leaves incomplete
// multipart uploads, which the bucket's AbortIncompleteMultipartUpload
// lifecycle rule removes; the job does not list and abort them itself.
func (j *job) removeStale(rep *s3out.Report) {
	loc, err := s3out.ParseURL(j.cfg.Output)
	if err != nil || loc.Scheme == s3out.SchemeS3 {
		return
	}
	dir := filepath.Join(loc.Path, filepath.FromSlash(rep.Dir()))
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		n := e.Name()
		if !e.Type().IsRegular() || !strings.HasPrefix(n, ".") || !strings.Contains(n, ".tmp-") {
			continue
		}
		if err := os.Remove(filepath.Join(dir, n)); err != nil {
			j.log.Warn("temporary file of an earlier attempt not removed", "file", filepath.Join(dir, n), "error", err)
			continue
		}
		j.log.Info("temporary file of an earlier attempt removed", "file", filepath.Join(dir, n))
	}
}
