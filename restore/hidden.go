package restore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/esrestore/esrestore/internal/elastic"
	"github.com/esrestore/esrestore/internal/retry"
)

// HiddenField is a path the original's mapping leaves out of _source
// (_source.excludes): Elasticsearch indexes its values but does not store
// them, so no copy through _bulk can carry them; only a snapshot restored
// as the target keeps them.
type HiddenField struct {
	// Path is the exclude pattern as the mapping writes it, e.g. "secret.*".
	Path string `json:"path"`
	// Documents counts the documents of the index holding a value under
	// it (an exists query).
	Documents int64 `json:"documents"`
}

// HiddenFields reads the _source.excludes of index's mapping (an alias
// reads its index) and counts, with an exists query on each path, how
// many documents hold a value the copy cannot carry. It returns nil for a
// mapping that excludes nothing.
func HiddenFields(ctx context.Context, es *elasticsearch.Client, index string, pol retry.Policy) ([]HiddenField, error) {
	im, found, err := getIndex(ctx, es, pol, index, fmt.Sprintf("get index %q", index))
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("index %q: %w", index, ErrOriginalMissing)
	}
	var src struct {
		Excludes json.RawMessage `json:"excludes"`
	}
	if raw, ok := im.Mappings["_source"]; !ok || json.Unmarshal(raw, &src) != nil || len(src.Excludes) == 0 {
		return nil, nil
	}
	var paths []string
	if json.Unmarshal(src.Excludes, &paths) != nil {
		var one string
		if json.Unmarshal(src.Excludes, &one) != nil || one == "" {
			return nil, fmt.Errorf("index %q: _source.excludes is neither a list nor a path: %s", index, src.Excludes)
		}
		paths = []string{one}
	}
	n, err := CountFields(ctx, es, im.Name, paths, pol)
	if err != nil {
		return nil, err
	}
	out := make([]HiddenField, len(paths))
	for i, p := range paths {
		out[i] = HiddenField{Path: p, Documents: n[i]}
	}
	return out, nil
}

// CountFields counts, with an exists query on each path (wildcards
// allowed), the documents of index holding a value under it: an
// independent count of what a mapping's excluded fields left in an index.
func CountFields(ctx context.Context, es *elasticsearch.Client, index string, paths []string, pol retry.Policy) ([]int64, error) {
	out := make([]int64, len(paths))
	for i, p := range paths {
		q, _ := json.Marshal(map[string]any{"query": map[string]any{"exists": map[string]string{"field": p}}})
		what := fmt.Sprintf("count documents of %q holding %s", index, p)
		a, err := elastic.CallOK(ctx, es, pol, what, func() esapi.Request {
			return esapi.CountRequest{Index: []string{index}, Body: bytes.NewReader(q)}
		})
		if err != nil {
			return nil, err
		}
		var c struct {
			Count  int64 `json:"count"`
			Shards struct {
				Total, Successful int
			} `json:"_shards"`
		}
		if err := json.Unmarshal(a.Body, &c); err != nil {
			return nil, fmt.Errorf("%s: decode answer: %w", what, err)
		}
		if c.Shards.Successful < c.Shards.Total {
			return nil, fmt.Errorf("%s: %d of %d shards answered", what, c.Shards.Successful, c.Shards.Total)
		}
		out[i] = c.Count
	}
	return out, nil
}
