package restore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/elastic/go-elasticsearch/v8/esapi"
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

// provenance is mappings._meta.esrestore of the target.
type provenance struct {
	RunID       string `json:"run_id"`
	Original    string `json:"original"`
	Source      string `json:"source"`
	Mode        Mode   `json:"mode"`
	Prefer      Prefer `json:"prefer,omitempty"`
	ToolVersion string `json:"tool_version"`
	Started     string `json:"started"`
}

// runIDOf returns mappings._meta.esrestore.run_id of an index, "" if none.
func runIDOf(im indexMeta) string {
	var meta struct {
		Esrestore struct {
			RunID string `json:"run_id"`
		} `json:"esrestore"`
	}
	if raw, ok := im.Mappings["_meta"]; ok {
		json.Unmarshal(raw, &meta) //nolint:errcheck // no run id then
	}
	return meta.Esrestore.RunID
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
	meta := map[string]json.RawMessage{}
	if raw, ok := mappings["_meta"]; ok {
		if err := json.Unmarshal(raw, &meta); err != nil {
			return nil, nil, fmt.Errorf("original %q: read mappings._meta: %w", r.opt.Original, err)
		}
	}
	p := provenance{
		RunID: r.opt.RunID, Original: r.opt.Original, Source: src.Name(), Mode: r.opt.Mode,
		ToolVersion: r.opt.ToolVersion, Started: r.opt.Started.UTC().Format(time.RFC3339),
	}
	if r.opt.Mode == ModeMerge {
		p.Prefer = r.opt.Prefer
	}
	pb, err := json.Marshal(p)
	if err != nil {
		return nil, nil, err
	}
	meta[metaKey] = pb
	mb, err := json.Marshal(meta)
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
	if p.resume {
		return r.putSettings(ctx, "load settings", loadSettings(p.original.Settings))
	}
	body, dropped, err := r.targetBody(p.original, src)
	if err != nil {
		return err
	}
	if len(dropped) > 0 {
		r.log.Info("original settings not copied to the target", "settings", strings.Join(dropped, ","))
	}
	what := fmt.Sprintf("create target index %q", r.opt.Target)
	a, err := send(ctx, r.es, what, esapi.IndicesCreateRequest{Index: r.opt.Target, Body: bytes.NewReader(body)})
	if err != nil {
		return err
	}
	if !a.ok() {
		e := a.err()
		if e.Type == "resource_already_exists_exception" {
			return fmt.Errorf("%s: %w: %v", what, ErrTargetExists, e)
		}
		return fmt.Errorf("%s: %v", what, e)
	}
	r.log.Info("target index created", "target", r.opt.Target, "run_id", r.opt.RunID)
	return nil
}

func (r *Restorer) putSettings(ctx context.Context, which string, s map[string]json.RawMessage) error {
	if err := r.writable(r.opt.Target); err != nil {
		return err
	}
	body, err := json.Marshal(s)
	if err != nil {
		return err
	}
	_, err = sendOK(ctx, r.es, fmt.Sprintf("put %s on %q", which, r.opt.Target),
		esapi.IndicesPutSettingsRequest{Index: []string{r.opt.Target}, Body: bytes.NewReader(body)})
	return err
}

func (r *Restorer) refresh(ctx context.Context) error {
	_, err := sendOK(ctx, r.es, fmt.Sprintf("refresh %q", r.opt.Target), esapi.IndicesRefreshRequest{Index: []string{r.opt.Target}})
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
