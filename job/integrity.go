package job

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/esrestore/esrestore/diff"
	"github.com/esrestore/esrestore/internal/elastic"
	"github.com/esrestore/esrestore/report"
	"github.com/esrestore/esrestore/restore"
)

// metaKey is esrestore's member of the target's mappings._meta.
const metaKey = "esrestore"

// recordStart notes what the report is about before the first write: the
// cluster, the original's identity and count, the snapshot.
func (j *Job) recordStart(ctx context.Context) error {
	ctx = j.phase(ctx, report.PhaseChecks)
	in := &j.summary.Integrity
	if c, err := elastic.GetCluster(ctx, j.es, j.retryPolicy()); err == nil {
		in.Cluster = &report.Cluster{Name: c.Name, UUID: c.UUID, Version: c.Version}
	} else {
		j.log.Warn("cluster identity not recorded", "error", err)
	}
	st, err := j.indexState(ctx, j.cfg.Original)
	if err != nil {
		return err
	}
	in.Original = st
	spec := j.src
	switch spec.Kind {
	case restore.SourceSnapshot:
		sn, err := elastic.GetSnapshot(ctx, j.es, spec.Repo, spec.Snapshot, j.retryPolicy())
		if err != nil {
			return err
		}
		index := spec.Index
		if index == "" {
			index = st.Name
		}
		in.Snapshot = &report.Snapshot{Repository: sn.Repository, Name: sn.Name, UUID: sn.UUID, Index: index,
			State: sn.State, StartTime: sn.Start, EndTime: sn.End}
	case restore.SourceIndex:
		if in.Backup, err = j.indexState(ctx, spec.Index); err != nil {
			return err
		}
	}
	return nil
}

// recordEnd notes the counts at the end: a change in the original's means
// it took writes during the run.
func (j *Job) recordEnd(ctx context.Context) error {
	ctx = j.phase(ctx, report.PhaseEnd)
	in := &j.summary.Integrity
	n, err := elastic.Count(ctx, j.es, j.cfg.Original, j.retryPolicy())
	if err != nil {
		return fmt.Errorf("count original %q at the end: %w", j.cfg.Original, err)
	}
	in.Original.CountEnd = n
	if j.instant != nil && !j.instant.At().IsZero() {
		l, err := j.instant.Since(ctx, j.cfg.Workers, 1000)
		if err != nil {
			return fmt.Errorf("writes to the original since its instant: %w", err)
		}
		j.summary.Live = &report.Live{At: l.At, Until: l.Until, New: l.New, Changed: l.Changed, Deleted: l.Deleted}
		j.log.Info("original compared with its instant", "at", l.At, "until", l.Until,
			"new", l.New, "changed", l.Changed, "deleted", l.Deleted)
	}
	if j.do.restore && !j.cfg.DryRun {
		if in.Target, err = j.indexState(ctx, j.cfg.Target); err != nil {
			return err
		}
	}
	if in.Backup != nil {
		if in.Backup.CountEnd, err = elastic.Count(ctx, j.es, in.Backup.Name, j.retryPolicy()); err != nil {
			return fmt.Errorf("count backup %q at the end: %w", in.Backup.Name, err)
		}
	}
	return nil
}

// indexState reads an index's identity and count.
func (j *Job) indexState(ctx context.Context, name string) (*report.IndexState, error) {
	ix, err := elastic.GetIndex(ctx, j.es, name, j.retryPolicy())
	if err != nil {
		return nil, err
	}
	n, err := elastic.Count(ctx, j.es, name, j.retryPolicy())
	if err != nil {
		return nil, fmt.Errorf("count %q: %w", name, err)
	}
	return &report.IndexState{Name: ix.Name, UUID: ix.UUID, Aliases: ix.Aliases, CountStart: n, CountEnd: n}, nil
}

// compareIndexes records the mapping and settings differences between the
// original and the target, and for a snapshot source between the original
// and the snapshot's index (its staging copy).
func (j *Job) compareIndexes(ctx context.Context) error {
	ctx = j.phase(ctx, report.PhaseEnd)
	orig, err := elastic.GetIndex(ctx, j.es, j.cfg.Original, j.retryPolicy())
	if err != nil {
		return err
	}
	tgt, err := elastic.GetIndex(ctx, j.es, j.cfg.Target, j.retryPolicy())
	if err != nil {
		return err
	}
	om, err := orig.ComparableMappings(metaKey)
	if err != nil {
		return err
	}
	tm, err := tgt.ComparableMappings(metaKey)
	if err != nil {
		return err
	}
	x := &report.IndexDiff{}
	if x.Mappings, err = patchOps(om, tm); err != nil {
		return fmt.Errorf("compare mappings: %w", err)
	}
	if x.Settings, err = patchOps(orig.ComparableSettings(), tgt.ComparableSettings()); err != nil {
		return fmt.Errorf("compare settings: %w", err)
	}
	if st := j.summary.Staging; st != nil {
		sx, err := elastic.GetIndex(ctx, j.es, st.Index, j.retryPolicy())
		if err != nil {
			return err
		}
		sm, err := sx.ComparableMappings("")
		if err != nil {
			return err
		}
		if x.SnapshotMappings, err = patchOps(om, sm); err != nil {
			return fmt.Errorf("compare snapshot mappings: %w", err)
		}
		if x.SnapshotMappings == nil {
			x.SnapshotMappings = []report.PatchOp{}
		}
	}
	j.summary.Indexes = x
	return nil
}

// patchOps is the RFC 6902 patch from a to b.
func patchOps(a, b json.RawMessage) ([]report.PatchOp, error) {
	patch, _, err := diff.Compare(a, b, nil)
	if err != nil {
		return nil, err
	}
	out := []report.PatchOp{}
	for _, op := range patch {
		po := report.PatchOp{Type: op.Type, Path: op.Path}
		if op.Type != "remove" {
			v, err := json.Marshal(op.Value)
			if err != nil {
				return nil, err
			}
			po.Value = v
		}
		out = append(out, po)
	}
	return out, nil
}
