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
	"time"

	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/esrestore/esrestore/internal/elastic"
	"github.com/esrestore/esrestore/internal/retry"
)

// Settings of the original that the target does not get.
//
// Elasticsearch manages some and refuses them on create (uuid, creation
// date, version, provided name, history uuid, resize/shrink sources,
// initial recovery). The others would harm the restore:
//   - index.blocks.*: a write block on the original, often set to protect it
//     during an incident, would stop the load; set it on the target when
//     wanted;
//   - index.lifecycle.*: an ILM policy (with the original's origination
//     date) could roll the target over or delete it before review; attach
//     the policy when the target replaces the original;
//   - ccr follower, searchable snapshot, frozen, downsample and archived
//     settings describe how the original came to be, not what it holds.
var (
	droppedSettings = []string{
		"index.uuid", "index.creation_date", "index.creation_date_string", "index.provided_name",
		"index.history.uuid", "index.verified_before_close", "index.frozen", "index.search.throttled",
	}
	droppedSettingPrefixes = []string{
		"index.version.", "index.resize.", "index.shrink.", "index.routing.allocation.initial_recovery.",
		"index.blocks.", "index.lifecycle.", "index.xpack.ccr.", "index.store.snapshot.", "index.downsample.",
		"archived.",
	}
)

// Settings changed while loading and put back, from the original, at the end.
const (
	settingRefresh     = "index.refresh_interval"
	settingReplicas    = "index.number_of_replicas"
	settingAutoExpand  = "index.auto_expand_replicas"
	settingStoreType   = "index.store.type"
	metaKey            = "esrestore"
	finishTimeout      = time.Minute
	searchableSnapshot = `"snapshot"`
)

// dropSetting reports whether the original's setting k (flat) stays behind.
func dropSetting(k string, v json.RawMessage) bool {
	if slices.Contains(droppedSettings, k) {
		return true
	}
	for _, p := range droppedSettingPrefixes {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return k == settingStoreType && string(bytes.TrimSpace(v)) == searchableSnapshot
}

// targetSettings splits the original's flat settings into those copied to
// the target and those left behind (sorted, for the log).
func targetSettings(orig map[string]json.RawMessage) (copied map[string]json.RawMessage, dropped []string) {
	copied = make(map[string]json.RawMessage, len(orig))
	for k, v := range orig {
		if dropSetting(k, v) {
			dropped = append(dropped, k)
			continue
		}
		copied[k] = v
	}
	slices.Sort(dropped)
	return copied, dropped
}

// loadSettings are the settings while loading: no refresh, no replicas
// (and no auto-expanded ones).
func loadSettings(orig map[string]json.RawMessage) map[string]json.RawMessage {
	s := map[string]json.RawMessage{
		settingRefresh:  json.RawMessage(`"-1"`),
		settingReplicas: json.RawMessage(`"0"`),
	}
	if _, ok := orig[settingAutoExpand]; ok {
		s[settingAutoExpand] = json.RawMessage(`"false"`)
	}
	return s
}

// finalSettings are the original's values of what loadSettings changed; a
// setting the original leaves at its default is reset with null.
func finalSettings(orig map[string]json.RawMessage) map[string]json.RawMessage {
	s := map[string]json.RawMessage{}
	for k := range loadSettings(orig) {
		if v, ok := orig[k]; ok {
			s[k] = v
		} else {
			s[k] = json.RawMessage("null")
		}
	}
	return s
}

// provenance is mappings._meta.esrestore of the target: who made it and
// with what configuration, so that a resume can be checked against it.
type provenance struct {
	RunID       string   `json:"run_id"`
	Original    string   `json:"original"`
	Source      string   `json:"source"`
	Mode        Mode     `json:"mode"`
	Prefer      Prefer   `json:"prefer,omitempty"`
	Ignore      []string `json:"ignore"`
	ToolVersion string   `json:"tool_version"`
	Started     string   `json:"started"`
	// Load is how the backup came into the target (LoadSnapshot, LoadBulk,
	// LoadPasses): a resumed run must not load a restored snapshot again.
	// Not compared by sameRun: it follows from the data, not the flags.
	Load string `json:"load,omitempty"`
	// Scope is the run's Options.Scope: a resume with another is refused.
	Scope *scopeMeta `json:"scope,omitempty"`
	// Identity is where the run that made the target ran.
	Identity
}

// provenanceOf returns mappings._meta.esrestore of an index, zero if none.
func provenanceOf(im indexMeta) provenance {
	var meta struct {
		Esrestore provenance `json:"esrestore"`
	}
	if raw, ok := im.Mappings["_meta"]; ok {
		json.Unmarshal(raw, &meta) //nolint:errcheck // no run id then
	}
	return meta.Esrestore
}

// ownNames are the names under which an index's own documents may sit in
// a snapshot: its name, the name it was created with (a restore keeps the
// snapshot's index.provided_name), and, for an index esrestore made and a
// promote switched to, the original it was restored for and the index of
// the source it was restored from.
func (im indexMeta) ownNames() map[string]bool {
	names := map[string]bool{im.Name: true}
	var provided string
	if json.Unmarshal(im.Settings["index.provided_name"], &provided) == nil && provided != "" {
		names[provided] = true
	}
	p := provenanceOf(im)
	if p.Original != "" {
		names[p.Original] = true
	}
	if kind, rest, ok := strings.Cut(p.Source, ":"); ok {
		switch parts := strings.Split(rest, "/"); {
		case kind == "index":
			names[rest] = true
		case kind == "snapshot" && len(parts) == 3:
			names[parts[2]] = true
		}
	}
	return names
}

// runIDOf returns mappings._meta.esrestore.run_id of an index, "" if none.
func runIDOf(im indexMeta) string { return provenanceOf(im).RunID }

// provenance is what this run records in the target's _meta.
func (r *Restorer) provenance(src Source) provenance {
	p := provenance{
		RunID: r.opt.RunID, Original: r.opt.Original, Source: src.Name(), Mode: r.opt.Mode,
		Ignore: slices.Clone(r.opt.Ignore), ToolVersion: r.opt.ToolVersion, Started: r.opt.Started.UTC().Format(time.RFC3339),
	}
	if p.Ignore == nil {
		p.Ignore = []string{}
	}
	if r.opt.Mode == ModeMerge {
		p.Prefer = r.opt.Prefer
	}
	p.Load = r.loadInfo().load
	p.Scope = r.opt.Scope.meta()
	p.Identity = r.opt.Identity
	p.ClusterUUID, p.OriginalUUID = r.clusterUUID, r.originalUUID
	return p
}

// sameRun refuses to resume a target made by this run id with another
// configuration, naming every difference: a merge resumed as a source-mode
// run would otherwise report a target that is neither.
func (r *Restorer) sameRun(tgt indexMeta, src Source) error {
	had, want := provenanceOf(tgt), r.provenance(src)
	var diffs []string
	differ := func(field string, was, is any) {
		diffs = append(diffs, fmt.Sprintf("%s: target has %v, this run has %v", field, was, is))
	}
	if had.Mode != want.Mode {
		differ("--mode", quoted(string(had.Mode)), quoted(string(want.Mode)))
	}
	if had.Prefer != want.Prefer {
		differ("--prefer", quoted(string(had.Prefer)), quoted(string(want.Prefer)))
	}
	if had.Source != want.Source {
		differ("--source", quoted(had.Source), quoted(want.Source))
	}
	if had.Original != want.Original {
		differ("--original", quoted(had.Original), quoted(want.Original))
	}
	hi, wi := slices.Clone(had.Ignore), slices.Clone(want.Ignore)
	slices.Sort(hi)
	slices.Sort(wi)
	if !slices.Equal(hi, wi) {
		differ("--ignore", quoted(strings.Join(had.Ignore, ",")), quoted(strings.Join(want.Ignore, ",")))
	}
	diffs = append(diffs, scopeDifferences(had.Scope, want.Scope)...)
	if where := had.Identity.Differences(want.Identity); len(where) > 0 {
		return fmt.Errorf("target %q was made by run %q elsewhere (%s); resume it where it began, or choose a new --target and --run-id: %w",
			r.opt.Target, r.opt.RunID, strings.Join(where, "; "), ErrResumeMismatch)
	}
	if len(diffs) == 0 {
		return nil
	}
	return fmt.Errorf("target %q was made by run %q with another configuration (%s); rerun with the same flags, or choose a new --target and --run-id: %w",
		r.opt.Target, r.opt.RunID, strings.Join(diffs, "; "), ErrResumeMismatch)
}

// quoted shows a value of _meta, "" included.
func quoted(s string) string { return fmt.Sprintf("%q", s) }

// targetMeta is the target's mappings._meta: the original's, with this
// run's provenance under "esrestore".
func (r *Restorer) targetMeta(orig indexMeta, src Source) (json.RawMessage, error) {
	meta := map[string]json.RawMessage{}
	if raw, ok := orig.Mappings["_meta"]; ok {
		if err := json.Unmarshal(raw, &meta); err != nil {
			return nil, fmt.Errorf("original %q: read mappings._meta: %w", r.opt.Original, err)
		}
	}
	pb, err := json.Marshal(r.provenance(src))
	if err != nil {
		return nil, err
	}
	meta[metaKey] = pb
	return json.Marshal(meta)
}

// targetBody is the create-index body: the original's mappings with the
// provenance added to _meta, and its copied settings with the load
// settings on top.
func (r *Restorer) targetBody(orig indexMeta, src Source) ([]byte, []string, error) {
	settings, dropped := targetSettings(orig.Settings)
	maps.Copy(settings, loadSettings(orig.Settings))
	mappings := maps.Clone(orig.Mappings)
	if mappings == nil {
		mappings = map[string]json.RawMessage{}
	}
	mb, err := r.targetMeta(orig, src)
	if err != nil {
		return nil, nil, err
	}
	mappings["_meta"] = mb
	body, err := json.Marshal(map[string]any{"settings": settings, "mappings": mappings})
	return body, dropped, err
}

// createTarget creates the target, or on a resumed run puts the load
// settings back on it.
func (r *Restorer) createTarget(ctx context.Context, p *plan, src Source) error {
	if err := r.writable(r.opt.Target); err != nil {
		return err
	}
	if p.adopt {
		r.setLoad(LoadSnapshot, "resumed: the earlier attempt restored the snapshot as the target and was cut before its _meta")
		r.log.Info("adopting the target this run restored from the snapshot before it was interrupted", "target", r.opt.Target)
		if err := r.putTargetMapping(ctx, p, src); err != nil {
			return err
		}
		p.fromSnapshot = true
		return r.putSettings(ctx, "load settings", loadSettings(p.original.Settings))
	}
	if p.resume {
		had := provenanceOf(p.target)
		p.fromSnapshot = had.Load == LoadSnapshot
		r.setLoad(had.Load, "resumed: the earlier attempt's")
		return r.putSettings(ctx, "load settings", loadSettings(p.original.Settings))
	}
	done, err := r.trySnapshotTarget(ctx, p, src)
	if errors.Is(err, errTargetAppeared) {
		// An attempt killed right after it asked for the restore leaves
		// Elasticsearch restoring: the target may show up between this
		// attempt's checks and its own restore. When it is that attempt's
		// (the checks' takeover rule), it is adopted as the checks would
		// have adopted it.
		tgt, found, gerr := getIndex(ctx, r.es, r.opt.Retry, r.opt.Target, fmt.Sprintf("get target index %q", r.opt.Target))
		if gerr != nil || !found || tgt.Name != r.opt.Target || runIDOf(tgt) != "" {
			return errors.Join(err, gerr)
		}
		adopt, aerr := r.interruptedSnapshotTarget(ctx, tgt, src)
		if aerr != nil || !adopt {
			return errors.Join(err, aerr)
		}
		p.adopt, p.resume, p.target = true, true, tgt
		return r.createTarget(ctx, p, src)
	}
	if done || err != nil {
		return err
	}
	body, dropped, err := r.targetBody(p.original, src)
	if err != nil {
		return err
	}
	if len(dropped) > 0 {
		r.log.Info("original settings not copied to the target", "settings", strings.Join(dropped, ","))
	}
	what := fmt.Sprintf("create target index %q", r.opt.Target)
	// A create is not sent again blindly: when its answer is lost, the
	// target is looked at first, and one carrying this run id is the one
	// the lost request made.
	att := r.opt.Retry.Begin()
	for {
		a, err := elastic.CallOnce(ctx, r.es, what, esapi.IndicesCreateRequest{Index: r.opt.Target, Body: bytes.NewReader(body)})
		if err == nil && !a.OK() {
			e := a.Err()
			if e.Type == "resource_already_exists_exception" {
				err = fmt.Errorf("%s: %w: %v", what, ErrTargetExists, e)
				if made, cerr := r.madeByUs(ctx); cerr == nil && made {
					err = nil
				}
				if err != nil {
					return err
				}
			} else {
				return fmt.Errorf("%s: %v", what, e)
			}
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
		made, cerr := r.madeByUs(ctx)
		if cerr != nil {
			return cerr
		}
		if made {
			break
		}
	}
	r.log.Info("target index created", "target", r.opt.Target, "run_id", r.opt.RunID)
	return nil
}

// madeByUs reports whether the target exists with this run id in its
// _meta: the answer to a create was lost, but the create was applied.
func (r *Restorer) madeByUs(ctx context.Context) (bool, error) {
	im, found, err := getIndex(ctx, r.es, r.opt.Retry, r.opt.Target, fmt.Sprintf("check target index %q after a lost answer", r.opt.Target))
	if err != nil || !found {
		return false, err
	}
	return im.Name == r.opt.Target && runIDOf(im) == r.opt.RunID, nil
}

func (r *Restorer) putSettings(ctx context.Context, which string, s map[string]json.RawMessage) error {
	if err := r.writable(r.opt.Target); err != nil {
		return err
	}
	body, err := json.Marshal(s)
	if err != nil {
		return err
	}
	_, err = elastic.CallOK(ctx, r.es, r.opt.Retry, fmt.Sprintf("put %s on %q", which, r.opt.Target), func() esapi.Request {
		return esapi.IndicesPutSettingsRequest{Index: []string{r.opt.Target}, Body: bytes.NewReader(body)}
	})
	return err
}

func (r *Restorer) refresh(ctx context.Context) error {
	_, err := elastic.CallOK(ctx, r.es, r.opt.Retry, fmt.Sprintf("refresh %q", r.opt.Target),
		elastic.Fixed(esapi.IndicesRefreshRequest{Index: []string{r.opt.Target}}))
	return err
}

// finish puts the original's refresh interval and replicas back on the
// target and refreshes it. It runs after a failed or cancelled load too,
// on a context of its own then.
func (r *Restorer) finish(ctx context.Context, p *plan) error {
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
		defer cancel()
	}
	err := r.putSettings(ctx, "original settings", finalSettings(p.original.Settings))
	if rerr := r.refresh(ctx); err == nil {
		err = rerr
	}
	if err == nil {
		r.log.Info("target settings restored and refreshed", "target", r.opt.Target)
	}
	return err
}

// writerSuffix makes the name of a target's writer alias.
const writerSuffix = ".esrestore-writer"

// WriterAlias is the alias the restore writes a target through, with
// require_alias: it exists only on the target, put there by the restore
// when it creates (or restores, or resumes) the target, so a target
// deleted during the run makes the writes fail instead of auto-creating
// an index of that name. Reads (the diff, promote) name the target
// itself; the alias stays on the target as a mark of the restore.
func WriterAlias(target string) string { return target + writerSuffix }

// ensureWriter puts the writer alias on the target; it is idempotent, and
// fails on a target that does not exist.
func (r *Restorer) ensureWriter(ctx context.Context) error {
	if err := r.writable(r.opt.Target); err != nil {
		return err
	}
	alias := WriterAlias(r.opt.Target)
	_, err := elastic.CallOK(ctx, r.es, r.opt.Retry, fmt.Sprintf("put writer alias %q on %q", alias, r.opt.Target),
		elastic.Fixed(esapi.IndicesPutAliasRequest{Index: []string{r.opt.Target}, Name: alias}))
	return err
}
