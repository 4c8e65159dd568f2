package elastic

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/esrestore/esrestore/internal/retry"
)

// Index is one index as GET /{index} describes it.
type Index struct {
	// Name is the concrete index, which differs from the name asked for
	// when that is an alias.
	Name string
	UUID string
	// Aliases are the names of the index's aliases, sorted.
	Aliases []string
	// AliasDefs are the aliases' definitions (filter, routing,
	// is_write_index) by name.
	AliasDefs map[string]json.RawMessage
	// Mappings as Elasticsearch returns them.
	Mappings json.RawMessage
	// Settings flat ("index.number_of_shards": "3").
	Settings map[string]json.RawMessage
}

// indexRequest is GET /{name} with flat settings, an alias naming its
// index and a wildcard matching nothing.
func indexRequest(name string) func() esapi.Request {
	flat := true
	return Fixed(esapi.IndicesGetRequest{Index: []string{name}, FlatSettings: &flat, ExpandWildcards: "none"})
}

// GetIndex reads the index name (or the one index an alias names) under
// p. A missing index wraps ErrNotFound.
func GetIndex(ctx context.Context, es *elasticsearch.Client, name string, p retry.Policy) (*Index, error) {
	what := fmt.Sprintf("get index %q", name)
	status, body, err := Send(ctx, es, p, indexRequest(name))
	if err := judgeRead(what, status, body, err); err != nil {
		return nil, err
	}
	return decodeIndex(what, name, body)
}

// LookupIndex reads the index name (or the one index an alias names)
// under pol, with errors as Judge's prefixed with what. found is false on
// a 404.
func LookupIndex(ctx context.Context, es *elasticsearch.Client, pol retry.Policy, name, what string) (ix *Index, found bool, err error) {
	a, err := Call(ctx, es, pol, what, indexRequest(name))
	if err != nil {
		return nil, false, err
	}
	if a.Status == 404 {
		return nil, false, nil
	}
	if !a.OK() {
		return nil, false, fmt.Errorf("%s: %v", what, a.Err())
	}
	ix, err = decodeIndex(what, name, a.Body)
	return ix, err == nil, err
}

// decodeIndex reads a GET /{name} answer, which must describe one index.
func decodeIndex(what, name string, body []byte) (*Index, error) {
	var all map[string]struct {
		Aliases  map[string]json.RawMessage `json:"aliases"`
		Mappings json.RawMessage            `json:"mappings"`
		Settings map[string]json.RawMessage `json:"settings"`
	}
	if err := json.Unmarshal(body, &all); err != nil {
		return nil, fmt.Errorf("%s: decode answer: %w", what, err)
	}
	if len(all) != 1 {
		names := make([]string, 0, len(all))
		for n := range all {
			names = append(names, n)
		}
		slices.Sort(names)
		return nil, fmt.Errorf("%s: %q names %d indices %v, not one", what, name, len(all), names)
	}
	for concrete, im := range all {
		ix := &Index{Name: concrete, AliasDefs: im.Aliases, Mappings: im.Mappings, Settings: flatten(im.Settings), Aliases: []string{}}
		if v, ok := ix.Settings["index.uuid"]; ok {
			_ = json.Unmarshal(v, &ix.UUID)
		}
		for a := range im.Aliases {
			ix.Aliases = append(ix.Aliases, a)
		}
		slices.Sort(ix.Aliases)
		return ix, nil
	}
	panic("unreachable")
}

// flatten turns nested settings into flat "index.x.y" keys. Elasticsearch
// answers flat settings when asked, but not every server honours
// flat_settings on GET /{index}; flattening here reads both forms.
func flatten(settings map[string]json.RawMessage) map[string]json.RawMessage {
	out := make(map[string]json.RawMessage, len(settings))
	var walk func(prefix string, m map[string]json.RawMessage)
	walk = func(prefix string, m map[string]json.RawMessage) {
		for k, v := range m {
			key := k
			if prefix != "" {
				key = prefix + "." + k
			}
			var sub map[string]json.RawMessage
			if len(v) > 0 && v[0] == '{' && json.Unmarshal(v, &sub) == nil {
				walk(key, sub)
				continue
			}
			out[key] = v
		}
	}
	walk("", settings)
	return out
}

// identitySettings always differ between two indexes: Elasticsearch sets
// them per index. They are left out of a comparison of settings.
var (
	identitySettings        = []string{"index.uuid", "index.creation_date", "index.creation_date_string", "index.provided_name", "index.history.uuid", "index.verified_before_close"}
	identitySettingPrefixes = []string{"index.version.", "index.resize.", "index.shrink.", "index.routing.allocation.initial_recovery."}
)

// ComparableSettings returns the settings without those every index has
// its own value of, as a JSON object with sorted keys.
func (ix *Index) ComparableSettings() json.RawMessage {
	keep := map[string]json.RawMessage{}
	for k, v := range ix.Settings {
		if slices.Contains(identitySettings, k) || slices.ContainsFunc(identitySettingPrefixes, func(p string) bool { return strings.HasPrefix(k, p) }) {
			continue
		}
		keep[k] = v
	}
	b, _ := json.Marshal(keep) // sorted keys; values are valid JSON already
	return b
}

// ComparableMappings returns the mappings without the member of _meta
// named meta (a tool's provenance), and without _meta when nothing else is
// left in it.
func (ix *Index) ComparableMappings(meta string) (json.RawMessage, error) {
	if len(ix.Mappings) == 0 {
		return json.RawMessage(`{}`), nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(ix.Mappings, &m); err != nil {
		return nil, fmt.Errorf("mappings of %q: %w", ix.Name, err)
	}
	if raw, ok := m["_meta"]; ok && meta != "" {
		var mm map[string]json.RawMessage
		if err := json.Unmarshal(raw, &mm); err == nil {
			delete(mm, meta)
			if len(mm) == 0 {
				delete(m, "_meta")
			} else {
				m["_meta"], _ = json.Marshal(mm)
			}
		}
	}
	return json.Marshal(m)
}

// Count returns the number of documents _count reports for index, under
// the retry policy pol.
//
// A count some shards did not answer is short, not small: while a snapshot
// restore or a restart recovers an index, a real node answers 200 with
// _shards.failed > 0 and the count of the shards that did answer. Such an
// answer is retried like a 503, until pol's budget runs out.
func Count(ctx context.Context, es *elasticsearch.Client, index string, pol retry.Policy) (int64, error) {
	var out countAnswer
	err := Do(ctx, es, pol, Fixed(esapi.CountRequest{Index: []string{index}}), &out)
	if err != nil {
		return 0, fmt.Errorf("count %q: %w", index, err)
	}
	return out.Count, nil
}

// CountQuery is Count of the documents of index that query matches.
// A query Elasticsearch refuses (400) is an *Error, not retried.
func CountQuery(ctx context.Context, es *elasticsearch.Client, index string, query json.RawMessage, pol retry.Policy) (int64, error) {
	body, err := json.Marshal(map[string]json.RawMessage{"query": query})
	if err != nil {
		return 0, fmt.Errorf("count %q with a query: %w", index, err)
	}
	var out countAnswer
	err = Do(ctx, es, pol, func() esapi.Request {
		return esapi.CountRequest{Index: []string{index}, Body: bytes.NewReader(body)}
	}, &out)
	if err != nil {
		return 0, fmt.Errorf("count %q with a query: %w", index, err)
	}
	return out.Count, nil
}

// countAnswer is a _count answer; one some shards did not answer is
// transient.
type countAnswer struct {
	Count  int64 `json:"count"`
	Shards struct {
		Total      int `json:"total"`
		Successful int `json:"successful"`
		Failed     int `json:"failed"`
	} `json:"_shards"`
}

// Decode reads a _count answer.
func (c *countAnswer) Decode(b []byte) error {
	*c = countAnswer{}
	if err := json.Unmarshal(b, c); err != nil {
		return err
	}
	if sh := c.Shards; sh.Failed > 0 || sh.Successful < sh.Total {
		return retry.Transient(fmt.Errorf("%d of %d shards answered (%d failed): the count would be short", sh.Successful, sh.Total, sh.Failed))
	}
	return nil
}

// Snapshot identifies a snapshot.
type Snapshot struct {
	Repository string
	Name       string
	UUID       string
	State      string
	Indices    []string
	Start, End time.Time
}

// GetSnapshot reads one snapshot of a repository under p. A missing
// snapshot or repository wraps ErrNotFound.
func GetSnapshot(ctx context.Context, es *elasticsearch.Client, repo, name string, p retry.Policy) (*Snapshot, error) {
	var out struct {
		Snapshots []struct {
			Snapshot  string   `json:"snapshot"`
			UUID      string   `json:"uuid"`
			State     string   `json:"state"`
			Indices   []string `json:"indices"`
			StartMS   int64    `json:"start_time_in_millis"`
			EndMS     int64    `json:"end_time_in_millis"`
			StartTime string   `json:"start_time"`
		} `json:"snapshots"`
	}
	what := fmt.Sprintf("get snapshot %s/%s", repo, name)
	status, body, err := Send(ctx, es, p, Fixed(esapi.SnapshotGetRequest{Repository: repo, Snapshot: []string{name}}))
	if err := judgeRead(what, status, body, err); err != nil {
		return nil, err
	}
	if err := decode(what, status, body, &out); err != nil {
		return nil, err
	}
	if len(out.Snapshots) != 1 {
		return nil, fmt.Errorf("%s: %w (the answer lists %d snapshots)", what, ErrNotFound, len(out.Snapshots))
	}
	s := out.Snapshots[0]
	return &Snapshot{Repository: repo, Name: s.Snapshot, UUID: s.UUID, State: s.State, Indices: s.Indices,
		Start: time.UnixMilli(s.StartMS).UTC(), End: time.UnixMilli(s.EndMS).UTC()}, nil
}
