package promote

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/esrestore/esrestore/internal/elastic"
)

// aliasesBody is the _aliases body moving every alias of moves from index
// from to index to: per alias a remove that must find it (so a concurrent
// change fails the call rather than leaving the alias on both) and an add
// carrying the alias's definition, is_write_index included.
func aliasesBody(moves []AliasMove, from, to string) (json.RawMessage, error) {
	actions := make([]map[string]map[string]any, 0, 2*len(moves))
	for _, m := range moves {
		add := map[string]any{"index": to, "alias": m.Name}
		if len(m.Definition) > 0 {
			var def map[string]json.RawMessage
			if err := json.Unmarshal(m.Definition, &def); err != nil {
				return nil, fmt.Errorf("alias %q: definition: %w", m.Name, err)
			}
			// GET /_alias shows routing as index_routing and
			// search_routing; the add action takes routing for both.
			ir, sr := def["index_routing"], def["search_routing"]
			if len(ir) > 0 && string(ir) == string(sr) {
				add["routing"] = ir
			} else {
				if len(ir) > 0 {
					add["index_routing"] = ir
				}
				if len(sr) > 0 {
					add["search_routing"] = sr
				}
			}
			for _, k := range []string{"filter", "is_write_index", "is_hidden"} {
				if v, ok := def[k]; ok {
					add[k] = v
				}
			}
		}
		actions = append(actions,
			map[string]map[string]any{"remove": {"index": from, "alias": m.Name, "must_exist": true}},
			map[string]map[string]any{"add": add})
	}
	return json.Marshal(map[string]any{"actions": actions})
}

// switchAliases sends body in one POST /_aliases: Elasticsearch applies
// its actions atomically.
func switchAliases(ctx context.Context, es *elasticsearch.Client, body json.RawMessage) error {
	var out struct {
		Acknowledged bool `json:"acknowledged"`
		Errors       bool `json:"errors"`
	}
	if _, err := elastic.Once(ctx, es, "switch aliases (POST /_aliases)", esapi.IndicesUpdateAliasesRequest{Body: strings.NewReader(string(body))}, &out); err != nil {
		return err
	}
	if !out.Acknowledged || out.Errors {
		return fmt.Errorf("switch aliases (POST /_aliases): answered acknowledged %t, errors %t", out.Acknowledged, out.Errors)
	}
	return nil
}

// aliasPlace is where an alias points.
type aliasPlace int

const (
	aliasMissing aliasPlace = iota
	aliasOnOriginal
	aliasOnTarget
	aliasElsewhere
)

// placeOf says where members (aliasMembers) put an alias relative to the
// original and the target: on exactly one of them, or not.
func placeOf(members map[string]json.RawMessage, original, target string) aliasPlace {
	switch {
	case len(members) == 0:
		return aliasMissing
	case len(members) == 1 && members[original] != nil:
		return aliasOnOriginal
	case len(members) == 1 && members[target] != nil:
		return aliasOnTarget
	}
	return aliasElsewhere
}

func memberNames(members map[string]json.RawMessage) []string {
	names := make([]string, 0, len(members))
	for n := range members {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// verifyAliases checks that every alias of moves now points at index
// alone.
func verifyAliases(ctx context.Context, es *elasticsearch.Client, moves []AliasMove, index string) error {
	for _, m := range moves {
		members, err := aliasMembers(ctx, es, m.Name)
		if err != nil {
			return err
		}
		if len(members) != 1 || members[index] == nil {
			return fmt.Errorf("alias %q points at %v after the switch, want [%s]", m.Name, memberNames(members), index)
		}
	}
	return nil
}
