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

// setWriteBlock sets (true) or resets (null) index.blocks.write on index.
func setWriteBlock(ctx context.Context, es *elasticsearch.Client, index string, block bool) error {
	body := `{"index.blocks.write":null}`
	what := "remove index.blocks.write from %q"
	if block {
		body, what = `{"index.blocks.write":true}`, "set index.blocks.write on %q"
	}
	_, err := elastic.Once(ctx, es, fmt.Sprintf(what, index),
		esapi.IndicesPutSettingsRequest{Index: []string{index}, Body: strings.NewReader(body)}, nil)
	return err
}

// refresh makes every acknowledged write to index visible to searches.
func refresh(ctx context.Context, es *elasticsearch.Client, index string) error {
	_, err := elastic.Once(ctx, es, fmt.Sprintf("refresh %q", index), esapi.IndicesRefreshRequest{Index: []string{index}}, nil)
	return err
}
