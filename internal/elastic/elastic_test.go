package elastic

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/esrestore/esrestore/internal/retry"
)

// fastRetry retries within a second, without jitter.
var fastRetry = retry.Policy{Budget: time.Second, Base: time.Millisecond, Cap: time.Millisecond, Jitter: -1}

// server answers every request with h, as Elasticsearch would (its product
// header set), and counts the requests.
func server(t *testing.T, h func(w http.ResponseWriter, r *http.Request, n int32)) (*elasticsearch.Client, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
		w.Header().Set("Content-Type", "application/json")
		h(w, r, calls.Add(1))
	}))
	t.Cleanup(srv.Close)
	return client(t, srv.URL), &calls
}

func client(t *testing.T, url string) *elasticsearch.Client {
	t.Helper()
	es, err := elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{url}, DisableRetry: true})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// answer writes an error envelope.
func answer(w http.ResponseWriter, status int, typ, reason string) {
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":{"root_cause":[{"type":%q,"reason":%q}],"type":%q,"reason":%q},"status":%d}`, typ, reason, typ, reason, status)
}

// A _count some shards did not answer is retried, never taken as the
// count: a real node recovering an index answers 200 with the count of the
// shards that did answer.
func TestCountRetriesShortAnswers(t *testing.T) {
	var short atomic.Bool
	es, calls := server(t, func(w http.ResponseWriter, r *http.Request, n int32) {
		if n < 3 || short.Load() {
			fmt.Fprint(w, `{"count":201,"_shards":{"total":3,"successful":1,"skipped":0,"failed":2}}`)
			return
		}
		fmt.Fprint(w, `{"count":600,"_shards":{"total":3,"successful":3,"skipped":0,"failed":0}}`)
	})
	pol := retry.Policy{Budget: time.Second, Base: time.Millisecond, Cap: time.Millisecond}
	n, err := Count(t.Context(), es, "x", pol)
	if err != nil || n != 600 || calls.Load() != 3 {
		t.Fatalf("got %d, %v after %d calls, want 600 after 3", n, err, calls.Load())
	}
	short.Store(true) // short answers only: the budget runs out
	if _, err := Count(t.Context(), es, "x", pol); !errors.Is(err, retry.ErrBudget) {
		t.Fatalf("got %v, want the budget's error", err)
	}
}

// The one-attempt path sends once and classifies what it got: a failure a
// later try may not see is marked transient, with the answer's status and
// body kept; any other answer is the caller's to judge.
func TestTryClassifiesTransientFailures(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		typ       string
		reason    string
		transient bool
	}{
		{"429", 429, "es_rejected_execution_exception", "rejected execution", true},
		{"503", 503, "unavailable_shards_exception", "primary shard is not active", true},
		{"502 from a proxy", 502, "Bad Gateway", "", true},
		{"rejected execution under a 500", 500, "es_rejected_execution_exception", "queue full", true},
		{"no master", 500, "cluster_block_exception", "blocked by: [SERVICE_UNAVAILABLE/2/no master];", true},
		{"read-only index", 403, "cluster_block_exception", "blocked by: [FORBIDDEN/8/index write (api)];", false},
		{"bad request", 400, "mapper_parsing_exception", "failed to parse", false},
		{"missing index", 404, "index_not_found_exception", "no such index [x]", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es, calls := server(t, func(w http.ResponseWriter, _ *http.Request, _ int32) {
				answer(w, tt.status, tt.typ, tt.reason)
			})
			status, body, err := Try(t.Context(), es, esapi.IndicesCreateRequest{Index: "x", Body: strings.NewReader(`{}`)})
			if calls.Load() != 1 {
				t.Errorf("%d requests, want 1", calls.Load())
			}
			if status != tt.status || !strings.Contains(string(body), tt.typ) {
				t.Errorf("got %d %s, want the answer %d %s", status, body, tt.status, tt.typ)
			}
			if got := retry.IsTransient(err); got != tt.transient {
				t.Errorf("transient: got %t (%v), want %t", got, err, tt.transient)
			}
			if tt.transient {
				var e *Error
				if !errors.As(err, &e) || e.Status != tt.status || e.Type != tt.typ {
					t.Errorf("got %v, want the answer's *Error", err)
				}
			} else if err != nil {
				t.Errorf("got %v, want no error: the caller judges the answer", err)
			}
			// Once, the one attempt that decodes, classifies alike.
			st, oerr := Once(t.Context(), es, "create index \"x\"", esapi.IndicesCreateRequest{Index: "x", Body: strings.NewReader(`{}`)}, nil)
			if st != tt.status || oerr == nil || !strings.HasPrefix(oerr.Error(), `create index "x": `+fmt.Sprint(tt.status)) {
				t.Errorf("Once: got %d, %v", st, oerr)
			}
			if got := retry.IsTransient(oerr); got != tt.transient {
				t.Errorf("Once: transient got %t (%v), want %t", got, oerr, tt.transient)
			}
		})
	}
}

// A connection refused or cut is transient on the one-attempt path too;
// Judge names it unreachable.
func TestTryTransportFailures(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	es := client(t, "http://"+addr)
	status, _, err := Try(t.Context(), es, esapi.InfoRequest{})
	if status != 0 || !retry.IsTransient(err) {
		t.Errorf("refused: got %d, %v; want 0 and a transient error", status, err)
	}
	if _, jerr := Judge(t.Context(), "reach elasticsearch", status, nil, err); !errors.Is(jerr, ErrUnreachable) ||
		!strings.HasPrefix(jerr.Error(), "reach elasticsearch: elasticsearch unreachable: ") {
		t.Errorf("Judge: got %v, want ErrUnreachable", jerr)
	}

	cut, _ := server(t, func(w http.ResponseWriter, _ *http.Request, _ int32) {
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(200)
		fmt.Fprint(w, `{"cut":`)
		w.(http.Flusher).Flush()
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
	})
	if _, _, err := Try(t.Context(), cut, esapi.InfoRequest{}); !retry.IsTransient(err) || !strings.Contains(err.Error(), "read answer") {
		t.Errorf("cut answer: got %v, want a transient read error", err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, err := Try(ctx, es, esapi.InfoRequest{}); !errors.Is(err, context.Canceled) || retry.IsTransient(err) {
		t.Errorf("cancelled: got %v, want context.Canceled, not transient", err)
	}
}

// Send retries transient answers until one is not, building the request
// afresh for each try (a body is read once).
func TestSendRetries(t *testing.T) {
	es, calls := server(t, func(w http.ResponseWriter, _ *http.Request, n int32) {
		if n < 3 {
			answer(w, 503, "cluster_block_exception", "blocked by: [SERVICE_UNAVAILABLE/1/state not recovered / initialized];")
			return
		}
		fmt.Fprint(w, `{"acknowledged":true}`)
	})
	var bodies []string
	status, body, err := Send(t.Context(), es, fastRetry, func() esapi.Request {
		r := strings.NewReader(`{"index.refresh_interval":"1s"}`)
		bodies = append(bodies, "fresh")
		return esapi.IndicesPutSettingsRequest{Index: []string{"x"}, Body: r}
	})
	if err != nil || status != 200 || string(body) != `{"acknowledged":true}` || calls.Load() != 3 || len(bodies) != 3 {
		t.Errorf("got %d %s %v after %d calls (%d requests built), want 200 after 3", status, body, err, calls.Load(), len(bodies))
	}
}

func TestJudgeCredentials(t *testing.T) {
	for _, tt := range []struct {
		status int
		want   error
	}{{401, ErrUnauthorized}, {403, ErrForbidden}} {
		es, _ := server(t, func(w http.ResponseWriter, _ *http.Request, _ int32) {
			answer(w, tt.status, "security_exception", "no")
		})
		a, err := Call(t.Context(), es, fastRetry, "get index \"x\"", indexRequest("x"))
		if !errors.Is(err, tt.want) || a.Status != tt.status {
			t.Errorf("%d: got %d, %v; want %v", tt.status, a.Status, err, tt.want)
		}
	}
}

// Ping does not retry a server that is not Elasticsearch, and says what
// answered instead.
func TestPingNotElasticsearch(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"version":{"distribution":"opensearch","number":"2.11.0"},"tagline":"The OpenSearch Project"}`)
	}))
	defer srv.Close()
	es := client(t, srv.URL)
	_, _, err := Ping(t.Context(), es, fastRetry)
	if !errors.Is(err, ErrNotElasticsearch) || calls.Load() != 1 {
		t.Errorf("got %v after %d calls, want ErrNotElasticsearch after 1", err, calls.Load())
	}
	if got, want := WhatAnswered(t.Context(), es), `opensearch 2.11.0 ("The OpenSearch Project")`; got != want {
		t.Errorf("WhatAnswered: got %s, want %s", got, want)
	}
}

func TestReach(t *testing.T) {
	es, _ := server(t, func(w http.ResponseWriter, _ *http.Request, n int32) {
		if n == 1 {
			answer(w, 503, "master_not_discovered_exception", "")
			return
		}
		fmt.Fprint(w, `{"cluster_name":"c","cluster_uuid":"u","version":{"number":"8.19.0"}}`)
	})
	c, err := Reach(t.Context(), es, fastRetry, "reach elasticsearch")
	if err != nil || c != (Cluster{Name: "c", UUID: "u", Version: "8.19.0"}) {
		t.Errorf("got %+v, %v", c, err)
	}
	if g, err := GetCluster(t.Context(), es, fastRetry); err != nil || g != c {
		t.Errorf("GetCluster: got %+v, %v; want %+v", g, err, c)
	}
	forbidden, _ := server(t, func(w http.ResponseWriter, _ *http.Request, _ int32) {
		answer(w, 403, "security_exception", "action [cluster:monitor/main] is unauthorized")
	})
	if c, err := Reach(t.Context(), forbidden, fastRetry, "reach elasticsearch"); err != nil || c != (Cluster{}) {
		t.Errorf("403: got %+v, %v; want no identity and no error", c, err)
	}
}

func TestGetIndex(t *testing.T) {
	es, _ := server(t, func(w http.ResponseWriter, r *http.Request, _ int32) {
		if r.URL.Path == "/missing" {
			answer(w, 404, "index_not_found_exception", "no such index [missing]")
			return
		}
		// Settings nested, as a server may answer despite flat_settings.
		fmt.Fprint(w, `{"docs-1":{"aliases":{"docs":{},"all":{"filter":{"term":{"a":1}}}},"mappings":{"properties":{}},`+
			`"settings":{"index":{"uuid":"U1","number_of_shards":"3"}}}}`)
	})
	ix, err := GetIndex(t.Context(), es, "docs", fastRetry)
	if err != nil {
		t.Fatal(err)
	}
	if ix.Name != "docs-1" || ix.UUID != "U1" || strings.Join(ix.Aliases, ",") != "all,docs" ||
		string(ix.Settings["index.number_of_shards"]) != `"3"` || string(ix.AliasDefs["all"]) != `{"filter":{"term":{"a":1}}}` {
		t.Errorf("got %+v", ix)
	}
	if _, err := GetIndex(t.Context(), es, "missing", fastRetry); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing: got %v, want ErrNotFound", err)
	}
	if _, found, err := LookupIndex(t.Context(), es, fastRetry, "missing", "get index \"missing\""); found || err != nil {
		t.Errorf("LookupIndex missing: got %t, %v", found, err)
	}
}

func TestParseError(t *testing.T) {
	tests := []struct {
		status int
		body   string
		want   string
	}{
		{400, `{"error":{"root_cause":[{"type":"x","reason":"r"}],"type":"search_phase_execution_exception","reason":"all shards failed"},"status":400}`,
			"400 search_phase_execution_exception: r (x)"},
		{404, `{"error":"alias [a] missing","status":404}`, "404 Not Found: alias [a] missing"},
		{502, `<html>bad gateway</html>`, "502 Bad Gateway: <html>bad gateway</html>"},
	}
	for _, tt := range tests {
		if got := ParseError(tt.status, []byte(tt.body)).Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
	if err := AnswerError(404, []byte(`{"error":{"type":"index_not_found_exception","reason":"no such index [x]"},"status":404}`)); !errors.Is(err, ErrIndexNotFound) {
		t.Errorf("got %v, want ErrIndexNotFound", err)
	}
	if err := AnswerError(404, []byte(`{"error":{"root_cause":[{"type":"search_context_missing_exception","reason":"No search context found"}],"type":"search_phase_execution_exception","reason":"all shards failed"},"status":404}`)); !errors.Is(err, ErrContextExpired) {
		t.Errorf("got %v, want ErrContextExpired", err)
	}
}
