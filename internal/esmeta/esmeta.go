// Package esmeta reads what a report records about a cluster and its
// indexes: identities (cluster and index uuids, aliases, snapshot), and an
// index's mappings and settings in the form they are compared in.
package esmeta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/esrestore/esrestore/internal/esscan"
	"github.com/esrestore/esrestore/internal/retry"
)

// ErrNotFound means the index or snapshot does not exist.
var ErrNotFound = errors.New("not found")

// Cluster is GET / of a cluster.
type Cluster struct {
	Name    string
	UUID    string
	Version string
}

// GetCluster reads GET /.
func GetCluster(ctx context.Context, es *elasticsearch.Client, p retry.Policy) (Cluster, error) {
	var out struct {
		Name    string `json:"cluster_name"`
		UUID    string `json:"cluster_uuid"`
		Version struct {
			Number string `json:"number"`
		} `json:"version"`
	}
	if err := call(ctx, es, p, "get cluster info", esapi.InfoRequest{}, &out); err != nil {
		return Cluster{}, err
	}
	return Cluster{Name: out.Name, UUID: out.UUID, Version: out.Version.Number}, nil
}

// Index is one index as GET /{index} describes it.
type Index struct {
	// Name is the concrete index, which differs from the name asked for
	// when that is an alias.
	Name    string
	UUID    string
	Aliases []string
	// Mappings as Elasticsearch returns them.
	Mappings json.RawMessage
	// Settings flat ("index.number_of_shards": "3").
	Settings map[string]json.RawMessage
}

// GetIndex reads the index name (or the one index an alias names).
func GetIndex(ctx context.Context, es *elasticsearch.Client, name string, p retry.Policy) (*Index, error) {
	flat := true
	var out map[string]struct {
		Aliases  map[string]json.RawMessage `json:"aliases"`
		Mappings json.RawMessage            `json:"mappings"`
		Settings map[string]json.RawMessage `json:"settings"`
	}
	what := fmt.Sprintf("get index %q", name)
	if err := call(ctx, es, p, what, esapi.IndicesGetRequest{Index: []string{name}, FlatSettings: &flat, ExpandWildcards: "none"}, &out); err != nil {
		return nil, err
	}
	if len(out) != 1 {
		return nil, fmt.Errorf("%s: %q names %d indexes, want one", what, name, len(out))
	}
	for concrete, im := range out {
		ix := &Index{Name: concrete, Mappings: im.Mappings, Settings: im.Settings}
		if v, ok := im.Settings["index.uuid"]; ok {
			_ = json.Unmarshal(v, &ix.UUID)
		}
		for a := range im.Aliases {
			ix.Aliases = append(ix.Aliases, a)
		}
		slices.Sort(ix.Aliases)
		if ix.Aliases == nil {
			ix.Aliases = []string{}
		}
		return ix, nil
	}
	panic("unreachable")
}

// Count is _count of an index.
func Count(ctx context.Context, es *elasticsearch.Client, name string, p retry.Policy) (int64, error) {
	return esscan.CountRetry(ctx, es, name, p)
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

// Snapshot identifies a snapshot.
type Snapshot struct {
	Repository string
	Name       string
	UUID       string
	State      string
	Indices    []string
	Start, End time.Time
}

// GetSnapshot reads one snapshot of a repository.
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
	if err := call(ctx, es, p, what, esapi.SnapshotGetRequest{Repository: repo, Snapshot: []string{name}}, &out); err != nil {
		return nil, err
	}
	if len(out.Snapshots) != 1 {
		return nil, fmt.Errorf("%s: %w (the answer lists %d snapshots)", what, ErrNotFound, len(out.Snapshots))
	}
	s := out.Snapshots[0]
	return &Snapshot{Repository: repo, Name: s.Snapshot, UUID: s.UUID, State: s.State, Indices: s.Indices,
		Start: time.UnixMilli(s.StartMS).UTC(), End: time.UnixMilli(s.EndMS).UTC()}, nil
}

// call sends req and decodes a 2xx answer into out. These are reads, so
// transient failures (429, 5xx, cut connections, blocks that lift) are
// retried within p's time budget (the job's --retry-for), as the scans'
// are.
func call(ctx context.Context, es *elasticsearch.Client, p retry.Policy, what string, req esapi.Request, out any) error {
	status, body, err := esscan.Send(ctx, p.WithDefaults(), func() (*esapi.Response, error) {
		return req.Do(ctx, es)
	})
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if status == 404 {
		return fmt.Errorf("%s: %w: %v", what, ErrNotFound, esscan.ParseError(status, body))
	}
	if status >= 300 {
		return fmt.Errorf("%s: %v", what, esscan.ParseError(status, body))
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%s: decode answer: %w", what, err)
	}
	return nil
}
