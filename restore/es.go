package restore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/esrestore/esrestore/internal/esscan"
	"github.com/esrestore/esrestore/internal/retry"
)

// answer is a read Elasticsearch answer.
type answer struct {
	status int
	body   []byte
}

// err returns Elasticsearch's error envelope as an error.
func (a answer) err() *esscan.Error { return esscan.ParseError(a.status, a.body) }

// ok reports a 2xx answer.
func (a answer) ok() bool { return a.status >= 200 && a.status < 300 }

// send performs the request mk builds and reads the answer, retrying
// transient failures under pol: for idempotent requests only (reads,
// settings, refresh, delete). mk is called for every try, so a body is
// read afresh. A failure that outlasts the budget wraps retry.ErrBudget,
// and ErrUnreachable when Elasticsearch did not answer; a 401 wraps
// ErrUnauthorized and a 403 ErrForbidden, each prefixed with what (the
// operation and its object); other statuses are the caller's to judge.
func send(ctx context.Context, es *elasticsearch.Client, pol retry.Policy, what string, mk func() esapi.Request) (answer, error) {
	status, body, err := esscan.Send(ctx, pol, func() (*esapi.Response, error) { return mk().Do(ctx, es) })
	return judge(ctx, what, status, body, err)
}

// sendOnce is send without retries, for requests that must not be
// repeated blindly: a transient failure is returned, marked
// retry.Transient, for the caller to check what the request did.
func sendOnce(ctx context.Context, es *elasticsearch.Client, what string, req esapi.Request) (answer, error) {
	status, body, err := esscan.Try(ctx, func() (*esapi.Response, error) { return req.Do(ctx, es) })
	return judge(ctx, what, status, body, err)
}

// judge wraps the outcome of send and sendOnce.
func judge(ctx context.Context, what string, status int, body []byte, err error) (answer, error) {
	if err != nil {
		var esErr *esscan.Error
		switch {
		case ctx.Err() != nil:
			return answer{}, fmt.Errorf("%s: %w", what, ctx.Err())
		case errors.As(err, &esErr):
			// Elasticsearch answered, with an error that did not go away.
			return answer{status: status, body: body}, fmt.Errorf("%s: %w", what, err)
		}
		return answer{}, fmt.Errorf("%s: %w: %w", what, ErrUnreachable, err)
	}
	a := answer{status: status, body: body}
	switch a.status {
	case 401:
		return a, fmt.Errorf("%s: %w: %v", what, ErrUnauthorized, a.err())
	case 403:
		return a, fmt.Errorf("%s: %w: %v", what, ErrForbidden, a.err())
	}
	return a, nil
}

// sendOK is send that also treats any non-2xx answer as an error.
func sendOK(ctx context.Context, es *elasticsearch.Client, pol retry.Policy, what string, mk func() esapi.Request) (answer, error) {
	a, err := send(ctx, es, pol, what, mk)
	if err != nil {
		return a, err
	}
	if !a.ok() {
		return a, fmt.Errorf("%s: %v", what, a.err())
	}
	return a, nil
}

// fixed is a request without a body, the same on every try.
func fixed(req esapi.Request) func() esapi.Request { return func() esapi.Request { return req } }

// clusterInfo is what GET / says about a cluster.
type clusterInfo struct {
	Name    string `json:"cluster_name"`
	UUID    string `json:"cluster_uuid"`
	Version struct {
		Number string `json:"number"`
	} `json:"version"`
}

// ping checks that the cluster answers and accepts the credentials. A 403
// is not an error here: GET / needs the monitor privilege, which a user
// allowed to restore may lack; the checks that follow name what it cannot
// do. The info is empty then.
func ping(ctx context.Context, es *elasticsearch.Client, pol retry.Policy, what string) (clusterInfo, error) {
	var ci clusterInfo
	a, err := send(ctx, es, pol, what, fixed(esapi.InfoRequest{}))
	if err != nil {
		if a.status == 403 {
			return ci, nil
		}
		return ci, err
	}
	if !a.ok() {
		return ci, fmt.Errorf("%s: %v", what, a.err())
	}
	if err := json.Unmarshal(a.body, &ci); err != nil {
		return ci, fmt.Errorf("%s: decode answer: %w", what, err)
	}
	return ci, nil
}

// indexMeta is one index as GET /{index} describes it.
type indexMeta struct {
	// Name is the concrete index; it differs from the name asked for when
	// that is an alias.
	Name     string
	Aliases  map[string]json.RawMessage `json:"aliases"`
	Mappings map[string]json.RawMessage `json:"mappings"`
	Settings map[string]json.RawMessage `json:"settings"` // flat
}

// getIndex reads one index (or the one index an alias points to) with flat
// settings. found is false on a 404.
func getIndex(ctx context.Context, es *elasticsearch.Client, pol retry.Policy, name, what string) (im indexMeta, found bool, err error) {
	flat := true
	a, err := send(ctx, es, pol, what, fixed(esapi.IndicesGetRequest{Index: []string{name}, FlatSettings: &flat, ExpandWildcards: "none"}))
	if err != nil {
		return im, false, err
	}
	if a.status == 404 {
		return im, false, nil
	}
	if !a.ok() {
		return im, false, fmt.Errorf("%s: %v", what, a.err())
	}
	var all map[string]indexMeta
	if err := json.Unmarshal(a.body, &all); err != nil {
		return im, false, fmt.Errorf("%s: decode answer: %w", what, err)
	}
	if len(all) != 1 {
		names := make([]string, 0, len(all))
		for n := range all {
			names = append(names, n)
		}
		return im, false, fmt.Errorf("%s: %q names %d indices %v, not one", what, name, len(all), names)
	}
	for n, m := range all {
		im = m
		im.Name = n
	}
	im.Settings = flatten(im.Settings)
	return im, true, nil
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
