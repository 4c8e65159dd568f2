package promote

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/esrestore/esrestore/internal/elastic"
)

// identity asks Elasticsearch who the credentials are. A cluster without
// security answers 500 (illegal_state_exception: "Security is not enabled
// but a security rest handler is registered"); a user without the
// privilege 403. Neither stops a promote: the note says why there is no
// identity.
func identity(ctx context.Context, es *elasticsearch.Client) (*Identity, string) {
	var out authenticateAnswer
	status, err := elastic.Once(ctx, es, "who am I (GET /_security/_authenticate)", esapi.SecurityAuthenticateRequest{}, &out)
	if err != nil {
		msg := err.Error()
		switch {
		case strings.Contains(msg, "Security is not enabled") || strings.Contains(msg, "Security must be explicitly enabled"):
			return nil, "security is disabled on this cluster: Elasticsearch reports no identity"
		case status == 403:
			return nil, "the credentials may not call GET /_security/_authenticate (403)"
		}
		return nil, "no identity: " + msg
	}
	return out.identity(), ""
}

// authenticateAnswer is the part of GET /_security/_authenticate kept.
type authenticateAnswer struct {
	Username            string   `json:"username"`
	Roles               []string `json:"roles"`
	AuthenticationRealm struct {
		Name string `json:"name"`
		Type string `json:"type"`
	} `json:"authentication_realm"`
	AuthenticationType string `json:"authentication_type"`
	APIKey             *struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"api_key"`
}

func (a authenticateAnswer) identity() *Identity {
	id := &Identity{Username: a.Username, Roles: a.Roles, Realm: a.AuthenticationRealm.Name, AuthenticationType: a.AuthenticationType}
	if a.APIKey != nil {
		id.APIKeyID, id.APIKeyName = a.APIKey.ID, a.APIKey.Name
	}
	return id
}

// aliasMembers returns the indexes alias points at, with the definition
// of each as GET /_alias/{alias} answers it; an empty map when the alias
// does not exist.
func aliasMembers(ctx context.Context, es *elasticsearch.Client, alias string) (map[string]json.RawMessage, error) {
	var out map[string]struct {
		Aliases map[string]json.RawMessage `json:"aliases"`
	}
	status, err := elastic.Once(ctx, es, fmt.Sprintf("get alias %q", alias), esapi.IndicesGetAliasRequest{Name: []string{alias}}, &out)
	if status == 404 {
		return map[string]json.RawMessage{}, nil
	}
	if err != nil {
		return nil, err
	}
	members := map[string]json.RawMessage{}
	for index, m := range out {
		if def, ok := m.Aliases[alias]; ok {
			members[index] = def
		}
	}
	return members, nil
}

// writeBlocked reports whether index.blocks.write is set on index.
func writeBlocked(ctx context.Context, es *elasticsearch.Client, index string) (bool, error) {
	flat := true
	var out map[string]struct {
		Settings map[string]json.RawMessage `json:"settings"`
	}
	_, err := elastic.Once(ctx, es, fmt.Sprintf("get settings of %q", index),
		esapi.IndicesGetSettingsRequest{Index: []string{index}, Name: []string{"index.blocks.write"}, FlatSettings: &flat}, &out)
	if err != nil {
		return false, err
	}
	for _, m := range out {
		if v, ok := m.Settings["index.blocks.write"]; ok {
			var s string
			if json.Unmarshal(v, &s) == nil {
				return s == "true", nil
			}
			var b bool
			return json.Unmarshal(v, &b) == nil && b, nil
		}
	}
	return false, nil
}

// addWriteBlock write-blocks index through PUT /{index}/_block/write,
// which answers once every write in flight on its shards is applied and
// sets index.blocks.write. A block set through _settings does not wait: a
// write that passed its block check before it would be acknowledged after
// the refresh that follows, and the last catch-up round would miss it.
// An index verified as blocked already is left out of the answer's
// "indices"; one listed not blocked, or an answer not acknowledged, is an
// error.
func addWriteBlock(ctx context.Context, es *elasticsearch.Client, index string) error {
	what := fmt.Sprintf("add the write block to %q", index)
	var out struct {
		Acknowledged *bool `json:"acknowledged"`
		Indices      []struct {
			Name    string `json:"name"`
			Blocked bool   `json:"blocked"`
		} `json:"indices"`
	}
	var b json.RawMessage
	if _, err := elastic.Once(ctx, es, what, esapi.IndicesAddBlockRequest{Index: []string{index}, Block: "write"}, &b); err != nil {
		return err
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return fmt.Errorf("%s: the answer is not an add-block response: %w: %.500s", what, err, b)
	}
	if out.Acknowledged == nil || !*out.Acknowledged {
		return fmt.Errorf("%s: Elasticsearch did not acknowledge it: %.500s", what, b)
	}
	for _, ix := range out.Indices {
		if ix.Name == index && !ix.Blocked {
			return fmt.Errorf("%s: Elasticsearch did not block it: %.500s", what, b)
		}
	}
	return nil
}

// removeWriteBlock resets index.blocks.write on index (null), which also
// drops the index.verified_read_only the add-block API set.
func removeWriteBlock(ctx context.Context, es *elasticsearch.Client, index string) error {
	_, err := elastic.Once(ctx, es, fmt.Sprintf("remove index.blocks.write from %q", index),
		esapi.IndicesPutSettingsRequest{Index: []string{index}, Body: strings.NewReader(`{"index.blocks.write":null}`)}, nil)
	return err
}

// refresh makes every acknowledged write to index visible to searches.
func refresh(ctx context.Context, es *elasticsearch.Client, index string) error {
	_, err := elastic.Once(ctx, es, fmt.Sprintf("refresh %q", index), esapi.IndicesRefreshRequest{Index: []string{index}}, nil)
	return err
}
