package restore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/esrestore/esrestore/internal/elastic"
	"github.com/esrestore/esrestore/internal/retry"
)

// SnapshotSource restores index from snapshot snap of repository repo into a
// staging index, reads it, and deletes it in Cleanup unless keep (or
// Options.KeepStaging) is set.
//
// Elasticsearch does the restore (_snapshot/REPO/SNAP/_restore with
// wait_for_completion, rename_pattern/rename_replacement, include_aliases
// false, no replicas, no ILM policy), so the snapshot's documents are read
// back exactly as they were stored. The staging index is named
// "esrestore-staging-RUNID" (lowercased; runID "" means the Restorer's
// RunID), so a resumed run finds and replaces its own. An empty index
// means the original's concrete name, which the Restorer tells the source
// before Check.
func SnapshotSource(es *elasticsearch.Client, repo, snap, index string, keep bool, runID string) Source {
	return &snapshotSource{es: es, repo: repo, snap: snap, index: index, keep: keep, runID: runID}
}

type snapshotSource struct {
	es          *elasticsearch.Client
	repo, snap  string
	index       string
	keep        bool
	runID       string
	protected   map[string]bool
	log         *slog.Logger
	staging     string
	created     bool // a restore into staging was asked for
	stagingSeen bool // staging existed at Check
	pol         retry.Policy
	allowEmpty  bool
	rescanned   func()
	// targetPending is set while the target is being restored from the
	// snapshot and carries no run id yet: an interruption then leaves a
	// restore going on in the cluster, and the staging index is what lets
	// a rerun recognise the target as its own (interruptedSnapshotTarget).
	targetPending atomic.Bool
}

func (s *snapshotSource) Name() string {
	n := "snapshot:" + s.repo + "/" + s.snap
	if s.index != "" {
		n += "/" + s.index
	}
	return n
}

// bind learns the run: the default index and run id, the names never to
// touch, the logger.
func (s *snapshotSource) bind(run RunInfo) {
	s.protected = run.Protected
	s.log = run.Logger
	if s.log == nil {
		s.log = discardLogger()
	}
	if s.index == "" {
		s.index = run.Original
	}
	if s.runID == "" {
		s.runID = run.RunID
	}
	s.keep = s.keep || run.KeepStaging
	s.staging = stagingName(s.runID)
	s.pol, s.allowEmpty, s.rescanned = run.Retry, run.AllowEmpty, run.Rescanned
}

// stagingName derives a valid index name from a run id.
func stagingName(runID string) string {
	var b strings.Builder
	b.WriteString("esrestore-staging-")
	for _, r := range strings.ToLower(runID) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	n := b.String()
	if len(n) > 255 {
		n = n[:255]
	}
	return n
}

type snapshotInfo struct {
	Snapshot string   `json:"snapshot"`
	State    string   `json:"state"`
	Indices  []string `json:"indices"`
}

func (s *snapshotSource) Check(ctx context.Context, run RunInfo) error {
	if s.es == nil {
		return fmt.Errorf("snapshot %s/%s: no elasticsearch client", s.repo, s.snap)
	}
	s.bind(run)
	if s.index == "" {
		return fmt.Errorf("%w: snapshot %s/%s: no index to restore", ErrInvalidOptions, s.repo, s.snap)
	}
	what := fmt.Sprintf("get snapshot %s/%s", s.repo, s.snap)
	a, err := elastic.Call(ctx, s.es, s.pol, what, elastic.Fixed(esapi.SnapshotGetRequest{Repository: s.repo, Snapshot: []string{s.snap}}))
	if err != nil {
		return err
	}
	if a.Status == 404 {
		e := a.Err()
		switch e.Type {
		case "repository_missing_exception":
			return fmt.Errorf("%s: repository %q: %w: %v", what, s.repo, ErrSourceMissing, e)
		case "snapshot_missing_exception":
			return fmt.Errorf("%s: snapshot %q in repository %q: %w: %v", what, s.snap, s.repo, ErrSourceMissing, e)
		}
		return fmt.Errorf("%s: %w: %v", what, ErrSourceMissing, e)
	}
	if !a.OK() {
		return fmt.Errorf("%s: %v", what, a.Err())
	}
	var out struct {
		Snapshots []snapshotInfo `json:"snapshots"`
	}
	if err := json.Unmarshal(a.Body, &out); err != nil {
		return fmt.Errorf("%s: decode answer: %w", what, err)
	}
	i := slices.IndexFunc(out.Snapshots, func(si snapshotInfo) bool { return si.Snapshot == s.snap })
	if i < 0 {
		return fmt.Errorf("%s: snapshot %q in repository %q: %w", what, s.snap, s.repo, ErrSourceMissing)
	}
	si := out.Snapshots[i]
	switch si.State {
	case "SUCCESS", "":
	case "PARTIAL":
		s.log.Warn("snapshot is partial: some shards may be missing and their restore fail", "snapshot", s.repo+"/"+s.snap)
	default:
		return fmt.Errorf("%s: snapshot state is %s, not restorable", what, si.State)
	}
	if !slices.Contains(si.Indices, s.index) {
		held := si.Indices
		if len(held) > 10 {
			held = append(held[:10:10], "...")
		}
		return fmt.Errorf("%s: index %q is not in it (it holds %d indices: %s): %w",
			what, s.index, len(si.Indices), strings.Join(held, ", "), ErrSourceMissing)
	}
	if err := s.checkIndex(run); err != nil {
		return err
	}
	if s.protected[s.staging] {
		return fmt.Errorf("%w: staging index %q (from run id %q) is the original, one of its aliases or the target",
			ErrInvalidOptions, s.staging, s.runID)
	}
	im, found, err := getIndex(ctx, s.es, s.pol, s.staging, fmt.Sprintf("get staging index %q", s.staging))
	if err != nil {
		return err
	}
	if found && im.Name != s.staging {
		return fmt.Errorf("staging index %q is an alias of %q: %w", s.staging, im.Name, ErrTargetExists)
	}
	s.stagingSeen = found
	if found {
		s.log.Info("staging index left by an earlier attempt of this run: it will be restored again", "staging", s.staging)
	}
	return nil
}

// checkIndex refuses a snapshot index that is not the original's unless
// run.SourceIndex names it. The snapshot API does not give an index's
// uuid (GET _snapshot/REPO/SNAP?index_details lists shard counts and
// sizes, and a restore gives the index a new uuid), and Elasticsearch
// never renames an index, so names decide: the original's concrete name,
// the name it was given as, and the names of its lineage (see
// RunInfo.OwnNames: a target a promote switched to is restored from the
// same snapshot again).
func (s *snapshotSource) checkIndex(run RunInfo) error {
	own := s.index == run.Original || s.index == run.OriginalAsGiven || run.OwnNames[s.index]
	switch {
	case own && run.SourceIndex != "":
		return fmt.Errorf("snapshot %s/%s: source index %q is named on purpose, but the source reads %q, the original's own index; name a source index only when it is another one: %w",
			s.repo, s.snap, run.SourceIndex, s.index, ErrSourceIndex)
	case own:
		return nil
	case run.SourceIndex == "":
		return fmt.Errorf("snapshot %s/%s: index %q is not the original %q: restoring it adds documents that never belonged to the original; name it as the source index to restore it on purpose: %w",
			s.repo, s.snap, s.index, run.OriginalAsGiven, ErrSourceIndex)
	case run.SourceIndex != s.index:
		return fmt.Errorf("snapshot %s/%s: source index %q is named on purpose, but the source reads %q: %w",
			s.repo, s.snap, run.SourceIndex, s.index, ErrSourceIndex)
	}
	s.log.Warn("the snapshot's index is not the original's: restoring it, as named on purpose",
		"snapshot", s.repo+"/"+s.snap, "index", s.index, "original", run.OriginalAsGiven)
	return nil
}

func (s *snapshotSource) Prepare(ctx context.Context) error {
	if s.protected[s.staging] || s.staging == "" {
		return fmt.Errorf("%w: staging index %q is protected", ErrInvalidOptions, s.staging)
	}
	if s.stagingSeen {
		// Elasticsearch cannot restore over an open index, and a staging
		// index from an interrupted attempt may be incomplete.
		if err := s.deleteStaging(ctx); err != nil {
			return err
		}
	}
	body, err := json.Marshal(map[string]any{
		"indices":               s.index,
		"rename_pattern":        ".+",
		"rename_replacement":    s.staging,
		"include_aliases":       false,
		"include_global_state":  false,
		"index_settings":        map[string]any{"index.number_of_replicas": 0},
		"ignore_index_settings": []string{"index.lifecycle.name", "index.lifecycle.rollover_alias"},
	})
	if err != nil {
		return err
	}
	what := fmt.Sprintf("restore %s/%s/%s into staging index %q", s.repo, s.snap, s.index, s.staging)
	s.log.Info("restoring snapshot into staging index", "snapshot", s.repo+"/"+s.snap, "index", s.index, "staging", s.staging)
	wait := true
	s.created = true
	// A restore is not sent again blindly: after a lost answer the staging
	// index may exist, restored in part or still restoring, and a restore
	// onto an open index fails. It is deleted (it is this run's own) and
	// the restore sent again, under the retry budget.
	att := s.pol.Begin()
	var a elastic.Answer
	for {
		a, err = elastic.CallOnce(ctx, s.es, what, esapi.SnapshotRestoreRequest{
			Repository: s.repo, Snapshot: s.snap, Body: bytes.NewReader(body), WaitForCompletion: &wait,
		})
		if err == nil && !a.OK() {
			return fmt.Errorf("%s: %v", what, a.Err())
		}
		if err == nil {
			break
		}
		if !retry.IsTransient(err) || ctx.Err() != nil {
			return err
		}
		if werr := att.Wait(ctx, err); werr != nil {
			return werr
		}
		if derr := s.deleteStaging(ctx); derr != nil {
			return derr
		}
	}
	if err := restoredInto(what, a.Body, s.staging); err != nil {
		return err
	}
	if !s.allowEmpty {
		// Before the target is made: only the staging index was written.
		return checkNotEmpty(ctx, s.es, s.pol, s.staging, fmt.Sprintf("snapshot %s/%s index %q, restored as", s.repo, s.snap, s.index))
	}
	return nil
}

// restoredInto checks the answer of a restore that waited for completion:
// every shard restored, into index.
func restoredInto(what string, body []byte, index string) error {
	var out struct {
		Snapshot struct {
			Indices []string `json:"indices"`
			Shards  struct {
				Total  int `json:"total"`
				Failed int `json:"failed"`
			} `json:"shards"`
		} `json:"snapshot"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return fmt.Errorf("%s: decode answer: %w", what, err)
	}
	if out.Snapshot.Shards.Failed > 0 {
		return fmt.Errorf("%s: %d of %d shards failed", what, out.Snapshot.Shards.Failed, out.Snapshot.Shards.Total)
	}
	if !slices.Contains(out.Snapshot.Indices, index) {
		return fmt.Errorf("%s: answer does not list index %q (got %v)", what, index, out.Snapshot.Indices)
	}
	return nil
}

func (s *snapshotSource) Scan(ctx context.Context, fn ScanFunc) error {
	if !s.created {
		return fmt.Errorf("snapshot %s/%s: scan before prepare", s.repo, s.snap)
	}
	src := &indexSource{es: s.es, index: s.staging, slices: 1, pol: s.pol, rescanned: s.rescanned}
	return src.Scan(ctx, fn)
}

func (s *snapshotSource) Cleanup(ctx context.Context) error {
	if !s.created {
		return nil
	}
	if s.keep {
		s.log.Info("staging index kept", "staging", s.staging)
		return nil
	}
	if s.targetPending.Load() {
		s.log.Warn("staging index kept: the target's restore from the snapshot was interrupted and may go on in the cluster; a rerun with the same run id takes the target over and deletes it",
			"staging", s.staging)
		return nil
	}
	return s.deleteStaging(ctx)
}

func (s *snapshotSource) deleteStaging(ctx context.Context) error {
	if s.protected[s.staging] || s.staging == "" {
		return fmt.Errorf("%w: refusing to delete protected index %q", ErrInvalidOptions, s.staging)
	}
	what := fmt.Sprintf("delete staging index %q", s.staging)
	a, err := elastic.Call(ctx, s.es, s.pol, what, elastic.Fixed(esapi.IndicesDeleteRequest{Index: []string{s.staging}, ExpandWildcards: "none"}))
	if err != nil {
		return err
	}
	if !a.OK() && a.Status != 404 {
		return fmt.Errorf("%s: %v", what, a.Err())
	}
	s.log.Info("staging index deleted", "staging", s.staging)
	return nil
}
