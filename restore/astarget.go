package restore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/esrestore/esrestore/internal/elastic"
	"github.com/esrestore/esrestore/internal/retry"
)

// How the target got the backup, as Stats.Load and the target's _meta
// say.
const (
	// LoadSnapshot: Elasticsearch restored the snapshot's index as the
	// target; it copied segment files and indexed nothing.
	LoadSnapshot = "snapshot-as-target"
	// LoadBulk: the target was created from the original's mapping and
	// the backup written into it with _bulk.
	LoadBulk = "bulk"
	// LoadPasses: StrategyPasses, both sides written whole.
	LoadPasses = "passes"
)

// Unwrapper is a Source wrapping another, e.g. one whose Cleanup its
// caller holds back: the Restorer looks through it for a snapshot it can
// restore as the target.
type Unwrapper interface {
	Unwrap() Source
}

// Unwrap returns the source named wraps.
func (n named) Unwrap() Source { return n.Source }

// snapshotOf returns the snapshot source src is or wraps, nil if none.
func snapshotOf(src Source) *snapshotSource {
	for src != nil {
		if s, ok := src.(*snapshotSource); ok {
			return s
		}
		u, ok := src.(Unwrapper)
		if !ok {
			return nil
		}
		src = u.Unwrap()
	}
	return nil
}

// Settings compared between the original and the snapshot's index before
// the snapshot may become the target: all the copied ones but those the
// load changes and puts back.
func comparedSettings(s map[string]json.RawMessage) map[string]json.RawMessage {
	copied, _ := targetSettings(s)
	for k := range loadSettings(s) {
		delete(copied, k)
	}
	delete(copied, settingAutoExpand)
	return copied
}

// compatible tells whether the snapshot's index (as restored into the
// staging index) can be the target: the same settings (analysis, shards,
// everything the target would copy from the original), the same top-level
// mapping parameters, and no field mapped otherwise than in the original.
// Fields only the original has are added to the target's mapping; fields
// only the snapshot has would have been mapped dynamically by a bulk load
// of the same documents. why names the first difference.
func compatible(orig, snap indexMeta) (ok bool, why string) {
	os, ss := comparedSettings(orig.Settings), comparedSettings(snap.Settings)
	for _, k := range slices.Sorted(maps.Keys(joinKeys(os, ss))) {
		if !sameJSON(os[k], ss[k]) {
			return false, fmt.Sprintf("setting %s: original %s, snapshot %s", k, shown(os[k]), shown(ss[k]))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(joinKeys(orig.Mappings, snap.Mappings))) {
		if k == "_meta" || k == "properties" {
			continue
		}
		if !sameJSON(orig.Mappings[k], snap.Mappings[k]) {
			return false, fmt.Sprintf("mapping %s: original %s, snapshot %s", k, shown(orig.Mappings[k]), shown(snap.Mappings[k]))
		}
	}
	return sameFields("", orig.Mappings["properties"], snap.Mappings["properties"])
}

// sameFields compares two "properties" (or multi-field "fields") objects
// field by field: a field both hold must have the same parameters.
func sameFields(prefix string, orig, snap json.RawMessage) (bool, string) {
	var of, sf map[string]map[string]json.RawMessage
	if len(orig) > 0 {
		if err := json.Unmarshal(orig, &of); err != nil {
			return false, fmt.Sprintf("original mapping %s: %v", prefix, err)
		}
	}
	if len(snap) > 0 {
		if err := json.Unmarshal(snap, &sf); err != nil {
			return false, fmt.Sprintf("snapshot mapping %s: %v", prefix, err)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(of)) {
		o, s := of[name], sf[name]
		if s == nil {
			continue // an addition, put on the target
		}
		path := prefix + name
		for _, k := range slices.Sorted(maps.Keys(joinKeys(o, s))) {
			if k == "properties" || k == "fields" {
				continue
			}
			if !sameJSON(o[k], s[k]) {
				return false, fmt.Sprintf("field %s: %s is %s in the original, %s in the snapshot", path, k, shown(o[k]), shown(s[k]))
			}
		}
		for _, sub := range []string{"properties", "fields"} {
			if ok, why := sameFields(path+".", o[sub], s[sub]); !ok {
				return false, why
			}
		}
	}
	return true, ""
}

func joinKeys[V any](a, b map[string]V) map[string]bool {
	out := make(map[string]bool, len(a)+len(b))
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

// shown is a setting or mapping value in a reason, absent ones named so.
func shown(v json.RawMessage) string {
	if len(v) == 0 {
		return "(none)"
	}
	if len(v) > 80 {
		return string(v[:77]) + "..."
	}
	return string(v)
}

// restoreAsTarget asks Elasticsearch to restore the snapshot's index under
// the target's name: no aliases, no replicas and no refresh while the
// original is reconciled into it, no ILM policy and no write block. It
// then puts the original's mapping (its additions) and _meta on it.
func (r *Restorer) restoreAsTarget(ctx context.Context, s *snapshotSource, snap indexMeta, p *plan, src Source) error {
	if err := r.writable(r.opt.Target); err != nil {
		return err
	}
	settings := map[string]any{settingReplicas: 0, settingRefresh: "-1"}
	if _, ok := snap.Settings[settingAutoExpand]; ok {
		settings[settingAutoExpand] = "false"
	}
	// Never null: Elasticsearch refuses a null section ("malformed
	// ignore_index_settings section, should be an array of strings").
	ignore := []string{}
	for k := range snap.Settings {
		if strings.HasPrefix(k, "index.lifecycle.") || strings.HasPrefix(k, "index.blocks.") {
			ignore = append(ignore, k)
		}
	}
	slices.Sort(ignore)
	body, err := json.Marshal(map[string]any{
		"indices":               s.index,
		"rename_pattern":        ".+",
		"rename_replacement":    r.opt.Target,
		"include_aliases":       false,
		"include_global_state":  false,
		"index_settings":        settings,
		"ignore_index_settings": ignore,
	})
	if err != nil {
		return err
	}
	what := fmt.Sprintf("restore %s/%s/%s as target index %q", s.repo, s.snap, s.index, r.opt.Target)
	wait := true
	// Until the run id is on the target, an interruption must keep the
	// staging index: Elasticsearch goes on restoring without us.
	s.targetPending.Store(true)
	// Not sent again blindly: after a lost answer the target may exist,
	// restored in part; it carries no run id yet, so only an operator can
	// tell it is ours. The error says so.
	// A refusal that says the restore did not start (429, a cluster block
	// such as "no master") is sent again under the retry policy.
	att := r.opt.Retry.Begin()
	var a elastic.Answer
	for {
		a, err = elastic.CallOnce(ctx, r.es, what, esapi.SnapshotRestoreRequest{
			Repository: s.repo, Snapshot: s.snap, Body: bytes.NewReader(body), WaitForCompletion: &wait,
		})
		if err == nil || !notStarted(a) {
			break
		}
		if werr := att.Wait(ctx, err); werr != nil {
			err = werr
			break
		}
	}
	if err != nil {
		if retry.IsTransient(err) {
			return fmt.Errorf("%s: %w (if the target exists now, it is this run's partial restore: delete it and rerun)", what, err)
		}
		return err
	}
	if !a.OK() {
		if e := a.Err(); e.Type == "snapshot_restore_exception" && strings.Contains(e.Reason, "an open index with same name already exists") {
			// The target appeared after the checks: an earlier attempt's
			// restore, killed, that Elasticsearch finished meanwhile.
			return fmt.Errorf("%s: %w: %v", what, errTargetAppeared, e)
		}
		return fmt.Errorf("%s: %v", what, a.Err())
	}
	if err := restoredInto(what, a.Body, r.opt.Target); err != nil {
		return err
	}
	if err := r.putTargetMapping(ctx, p, src); err != nil {
		return err
	}
	s.targetPending.Store(false)
	if err := r.refresh(ctx); err != nil {
		return err
	}
	if err := r.dropDuplicateCopies(ctx, &pass{src: src, name: src.Name()}); err != nil {
		return err
	}
	n, err := elastic.Count(ctx, r.es, r.opt.Target, r.opt.Retry)
	if err != nil {
		return err
	}
	// The snapshot's documents are the backup side, read and already
	// right: counted so that read == indexed + kept + failed holds, and
	// as existing so that the final _count checks what was created.
	r.st.restored.Store(n)
	r.st.existing.Store(n)
	r.st.read.Add(n)
	r.st.kept.Add(n)
	return nil
}

// putTargetMapping puts the original's fields and _meta, with this run's
// provenance, on a target restored from the snapshot.
func (r *Restorer) putTargetMapping(ctx context.Context, p *plan, src Source) error {
	meta, err := r.targetMeta(p.original, src)
	if err != nil {
		return err
	}
	m := map[string]json.RawMessage{"_meta": meta}
	if props, ok := p.original.Mappings["properties"]; ok {
		m["properties"] = props
	}
	body, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, err = elastic.CallOK(ctx, r.es, r.opt.Retry, fmt.Sprintf("put the original's mapping and _meta on %q", r.opt.Target), func() esapi.Request {
		return esapi.IndicesPutMappingRequest{Index: []string{r.opt.Target}, Body: bytes.NewReader(body)}
	})
	return err
}

// loadState is how the target gets the backup, and why.
type loadState struct{ load, why string }

func (r *Restorer) loadInfo() loadState {
	if l := r.loadAt.Load(); l != nil {
		return *l
	}
	return loadState{}
}

func (r *Restorer) setLoad(load, why string) {
	r.loadAt.Store(&loadState{load: load, why: why})
}

// trySnapshotTarget restores a snapshot source as the target when its
// index can be: done reports that the target exists then. Otherwise it
// records why not and the target is created from the original's mapping.
func (r *Restorer) trySnapshotTarget(ctx context.Context, p *plan, src Source) (done bool, err error) {
	bulk := LoadBulk
	if r.opt.Mode == ModeMerge && r.opt.Strategy == StrategyPasses {
		bulk = LoadPasses
	}
	s := snapshotOf(src)
	switch {
	case s == nil:
		r.setLoad(bulk, "the source is not a snapshot")
		return false, nil
	case bulk == LoadPasses:
		r.setLoad(bulk, "strategy passes writes both sides whole")
		return false, nil
	case r.opt.Scope != nil:
		r.setLoad(bulk, "a scope leaves some of the backup's documents out, and the snapshot restored as the target would hold them all")
		return false, nil
	case strings.ContainsAny(r.opt.Target, `$\`):
		// A rename_replacement reads $ and \ as group references.
		r.setLoad(bulk, "the target's name holds $ or \\, which a snapshot rename cannot produce")
		return false, nil
	}
	snap, found, err := getIndex(ctx, r.es, r.opt.Retry, s.staging, fmt.Sprintf("get staging index %q", s.staging))
	if err != nil {
		return false, err
	}
	if !found {
		return false, fmt.Errorf("staging index %q: not found after the snapshot's restore", s.staging)
	}
	if ok, why := compatible(p.original, snap); !ok {
		r.setLoad(bulk, "the snapshot's index is not compatible with the original: "+why)
		r.log.Warn("the snapshot cannot be restored as the target: it is read from the staging index into a target made from the original's mapping",
			"reason", why, "staging", s.staging)
		return false, nil
	}
	r.setLoad(LoadSnapshot, "the snapshot's settings and mapping are compatible with the original's")
	// Every way of loading starts with a "loading" record, so that a log
	// reader (and the kill test) can tell the restore's work has begun.
	r.log.Info("loading", "from", src.Name(), "how", "snapshot restored as the target", "op_type", "", "target", r.opt.Target)
	if err := r.restoreAsTarget(ctx, s, snap, p, src); err != nil {
		return false, err
	}
	p.fromSnapshot = true
	r.log.Info("target restored from the snapshot", "target", r.opt.Target, "documents", r.st.restored.Load(), "run_id", r.opt.RunID)
	return true, nil
}

// errTargetAppeared is the restore of the snapshot as the target refused
// because an index of the target's name appeared after the checks.
var errTargetAppeared = errors.New("the target appeared after the checks")

// interruptedSnapshotTarget tells whether a target without a run id is
// this run's own restore of the snapshot, cut (by SIGKILL, a lost pod)
// between the restore and the mapping put that records the run id: the
// source is a snapshot, this run's staging index exists (it is restored
// before the target and named after the run id), and the target has the
// staging index's settings and mapping exactly, no esrestore _meta, and
// no more documents. Any other index under the target's name is refused,
// as before.
func (r *Restorer) interruptedSnapshotTarget(ctx context.Context, tgt indexMeta, src Source) (bool, error) {
	s := snapshotOf(src)
	if s == nil || r.opt.Strategy == StrategyPasses {
		return false, nil
	}
	runID := s.runID
	if runID == "" {
		runID = r.opt.RunID
	}
	staging := stagingName(runID)
	snap, found, err := getIndex(ctx, r.es, r.opt.Retry, staging, fmt.Sprintf("get staging index %q", staging))
	if err != nil || !found || snap.Name != staging {
		return false, err
	}
	if ok, _ := compatible(snap, tgt); !ok {
		return false, nil
	}
	for _, k := range slices.Sorted(maps.Keys(joinKeys(snap.Mappings, tgt.Mappings))) {
		if !sameJSON(snap.Mappings[k], tgt.Mappings[k]) {
			return false, nil
		}
	}
	tn, err := elastic.Count(ctx, r.es, tgt.Name, r.opt.Retry)
	if err != nil {
		return false, err
	}
	sn, err := elastic.Count(ctx, r.es, staging, r.opt.Retry)
	if err != nil {
		return false, err
	}
	return tn == sn, nil
}

// notStarted reports an answer refusing a request before it was applied:
// a 429, or a cluster block (no master, state not recovered), which
// Elasticsearch checks before it starts anything.
func notStarted(a elastic.Answer) bool {
	return a.Status == 429 || (a.Status == 503 && a.Err().Type == "cluster_block_exception")
}
