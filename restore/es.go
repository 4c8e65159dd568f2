package restore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/elastic/go-elasticsearch/v8"

	"github.com/esrestore/esrestore/internal/elastic"
	"github.com/esrestore/esrestore/internal/retry"
)

// indexMeta is one index as GET /{index} describes it, its mappings read a
// level deep.
type indexMeta struct {
	// Name is the concrete index; it differs from the name asked for when
	// that is an alias.
	Name     string
	Aliases  map[string]json.RawMessage
	Mappings map[string]json.RawMessage
	Settings map[string]json.RawMessage // flat
}

// getIndex reads one index (or the one index an alias points to) through
// elastic.LookupIndex, errors prefixed with what. found is false on a 404.
func getIndex(ctx context.Context, es *elasticsearch.Client, pol retry.Policy, name, what string) (im indexMeta, found bool, err error) {
	ix, found, err := elastic.LookupIndex(ctx, es, pol, name, what)
	if err != nil || !found {
		return im, false, err
	}
	im = indexMeta{Name: ix.Name, Aliases: ix.AliasDefs, Settings: ix.Settings}
	if len(ix.Mappings) > 0 {
		if err := json.Unmarshal(ix.Mappings, &im.Mappings); err != nil {
			return im, false, fmt.Errorf("%s: decode answer: %w", what, err)
		}
	}
	return im, true, nil
}

// closed reports whether the index is closed: Elasticsearch marks an index
// it closes with index.verified_before_close and drops the mark when it
// opens it again; GET /{index} still answers for a closed index, but no
// search, count or point in time does.
func (im indexMeta) closed() bool {
	return string(im.Settings["index.verified_before_close"]) == `"true"`
}

// aliasFilter is the filter of alias on the index, nil when it has none.
func (im indexMeta) aliasFilter(alias string) json.RawMessage {
	var a struct {
		Filter json.RawMessage `json:"filter"`
	}
	if raw, ok := im.Aliases[alias]; ok && json.Unmarshal(raw, &a) == nil && len(a.Filter) > 0 && string(a.Filter) != "null" {
		return a.Filter
	}
	return nil
}

// sourceDisabled reports whether a mapping has "_source": {"enabled": false}.
func (im indexMeta) sourceDisabled() bool {
	var src struct {
		Enabled *bool `json:"enabled"`
	}
	if raw, ok := im.Mappings["_source"]; ok && json.Unmarshal(raw, &src) == nil && src.Enabled != nil {
		return !*src.Enabled
	}
	return false
}

// names returns the concrete name and every alias of the index.
func (im indexMeta) names() map[string]bool {
	out := map[string]bool{im.Name: true}
	for a := range im.Aliases {
		out[a] = true
	}
	return out
}

// uuid is the index's index.uuid setting, "" when not shown.
func (im indexMeta) uuid() string {
	var s string
	json.Unmarshal(im.Settings["index.uuid"], &s) //nolint:errcheck // "" then
	return s
}
