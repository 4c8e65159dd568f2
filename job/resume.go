package job

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

	"github.com/esrestore/esrestore/internal/elastic"
	"github.com/esrestore/esrestore/internal/retry"
	"github.com/esrestore/esrestore/report"
	"github.com/esrestore/esrestore/restore"
	"github.com/esrestore/esrestore/s3out"
)

// retryPolicy is the one retry policy of every Elasticsearch call of the
// job: --retry-for long, backoff capped at retry's 30s.
func (j *Job) retryPolicy() retry.Policy {
	return retry.Policy{Budget: j.cfg.RetryFor, Logger: j.log}.WithDefaults()
}

// reportGrace is how long the report may take to be written after the
// drain: the failures flushed and closed, the summary put.
const reportGrace = 30 * time.Second

// reportContext is the context of the report's streams: it outlives ctx
// (a SIGTERM) by the drain and reportGrace, so that the failures recorded
// so far are written and listed, yet the job ends within the pod's grace
// period.
func (j *Job) reportContext(ctx context.Context) context.Context {
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	context.AfterFunc(ctx, func() { time.AfterFunc(j.cfg.Drain+reportGrace, cancel) })
	return rctx
}

// previousRun looks at the report of this run id. A complete one ends the
// job with exit 2 pointing at it, unless --rerun: then the report goes
// beside it, under RUN_ID-rerun-TIME. An incomplete one is an earlier
// attempt's, which claimReport checks and cleans up once the lease is
// held.
func (j *Job) previousRun(ctx context.Context, dest s3out.Destination, rep *s3out.Report) (*s3out.Report, error) {
	if !j.do.restore && !j.do.diff {
		return rep, nil
	}
	prev, err := j.reportSummary(ctx, rep)
	if err != nil {
		return nil, err
	}
	complete := prev != nil && prev.Complete
	if !complete {
		j.prev = prev
		if !j.do.restore {
			// A diff alone holds no lease: its leftovers are its own.
			j.removeStale(rep)
		}
		if n := len(j.attempts.earlier); n > 0 {
			last := j.attempts.earlier[n-1]
			j.log.Info("resuming the run", "attempt", n+1, "last_started", last.Started, "last_ended", last.Ended)
		}
		return rep, nil
	}
	j.attempts.earlier = nil // a rerun is a run of its own
	if !j.cfg.Rerun {
		return nil, misconfigured(fmt.Errorf("run %q already finished, its report is complete: %s; read it, or pass --rerun to run again with a new report beside it",
			j.cfg.RunID, rep.URL(s3out.SummaryName)))
	}
	dir := j.cfg.RunID + "-rerun-" + j.start.UTC().Format("20060102T150405Z")
	j.log.Info("rerunning a finished run: the new report goes beside the old one", "old", rep.URL(""), "run_id", j.cfg.RunID)
	return s3out.NewReport(j.reportContext(ctx), dest, ReportName(j.cfg.Original), dir), nil
}

// reportSummary reads the summary of rep, nil if there is none (or none
// that can be read).
func (j *Job) reportSummary(ctx context.Context, rep *s3out.Report) (*report.Summary, error) {
	rc, err := s3out.OpenReader(ctx, rep.URL(s3out.SummaryName), j.s3opt)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, GuardError(fmt.Errorf("--output: read the summary of run %q: %w", j.cfg.RunID, err))
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("--output: read %s: %w", rep.URL(s3out.SummaryName), err)
	}
	var s report.Summary
	if err := json.Unmarshal(b, &s); err != nil {
		// A summary that cannot be read is not a finished run's.
		j.log.Warn("summary of an earlier attempt unreadable, overwriting it", "summary", rep.URL(s3out.SummaryName), "error", err)
		return nil, nil
	}
	j.attempts.earlier = earlierAttempts(b)
	return &s, nil
}

// where is this attempt's identity, recorded in the target's _meta and
// the summary: the environment, and the uuids of the cluster, of the
// original and, for a snapshot source, of the snapshot. A uuid that
// cannot be read because its object is missing stays empty (the guard
// rails name the missing object).
func (j *Job) where(ctx context.Context) (restore.Identity, error) {
	id := restore.Identity{Environment: strings.ToUpper(j.cfg.Environment)}
	if j.es == nil {
		return id, nil
	}
	c, err := elastic.GetCluster(ctx, j.es, j.retryPolicy())
	if err != nil {
		return id, GuardError(err)
	}
	id.ClusterUUID = c.UUID
	if !restore.IsDumpURL(j.cfg.Original) {
		ix, err := elastic.GetIndex(ctx, j.es, j.cfg.Original, j.retryPolicy())
		switch {
		case err == nil:
			id.OriginalUUID = ix.UUID
		case !errors.Is(err, elastic.ErrNotFound):
			return id, GuardError(err)
		}
	}
	if spec := j.src; spec.Kind == restore.SourceSnapshot {
		sn, err := elastic.GetSnapshot(ctx, j.es, spec.Repo, spec.Snapshot, j.retryPolicy())
		switch {
		case err == nil:
			id.SnapshotUUID = sn.UUID
		case !errors.Is(err, elastic.ErrNotFound):
			return id, GuardError(err)
		}
	}
	return id, nil
}

// claimReport takes over the report of an earlier attempt of the run id,
// once this process holds the run id's lease: the attempt must have run
// where this one runs (sameWhere), and the temporary files it left in a
// local report directory are removed.
func (j *Job) claimReport() error {
	if j.report == nil || !j.do.restore {
		return nil
	}
	if err := j.sameWhere(j.report, j.prev); err != nil {
		return err
	}
	j.removeStale(j.report)
	return nil
}

// sameWhere refuses to resume a run id elsewhere than where its first
// attempt ran, as that attempt's summary records it: another cluster
// (where the target may not even exist), another original (same name,
// other uuid), target, environment or snapshot. Each difference is named;
// nothing has been written or deleted yet.
func (j *Job) sameWhere(rep *s3out.Report, prev *report.Summary) error {
	if prev == nil || !j.do.restore {
		return nil
	}
	was := restore.Identity{Environment: prev.Environment}
	in := prev.Integrity
	if in.Cluster != nil {
		was.ClusterUUID = in.Cluster.UUID
	}
	if in.Original != nil {
		was.OriginalUUID = in.Original.UUID
	}
	if in.Snapshot != nil {
		was.SnapshotUUID = in.Snapshot.UUID
	}
	if d := sameScope(prev.Scope, j.summary.Scope); len(d) > 0 {
		return misconfigured(fmt.Errorf("run %q cannot resume with another scope than its earlier attempt's (%s): %s; rerun with the same --skip-ids and --only-query, or start a new --run-id: %w",
			j.cfg.RunID, rep.URL(s3out.SummaryName), strings.Join(d, "; "), restore.ErrResumeMismatch))
	}
	diffs := was.Differences(j.ident)
	// A dry run records no target.
	if prev.Target != "" && j.summary.Target != "" && prev.Target != j.summary.Target {
		diffs = append(diffs, fmt.Sprintf("target: was %q, now %q", prev.Target, j.summary.Target))
	}
	if len(diffs) == 0 {
		return nil
	}
	return misconfigured(fmt.Errorf("run %q cannot resume here: its earlier attempt (%s) ran elsewhere: %s; resume it with that attempt's cluster, --target and --environment, or start a new --run-id: %w",
		j.cfg.RunID, rep.URL(s3out.SummaryName), strings.Join(diffs, "; "), restore.ErrResumeMismatch))
}

// removeStale deletes the ".NAME.tmp-*" files a killed attempt left in a
// local report directory. In S3 a killed attempt leaves incomplete
// multipart uploads, which the bucket's AbortIncompleteMultipartUpload
// lifecycle rule removes; the job does not list and abort them itself.
func (j *Job) removeStale(rep *s3out.Report) {
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
