package promote

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/elastic/go-elasticsearch/v8"
)

// TestAddWriteBlockReadsTheAnswer: promote adds the block through
// PUT /{index}/_block/write and goes on only on an answer that confirms
// it: the index blocked now (8.19.21 and 9.5.3's answer) or verified as
// blocked before (left out of "indices").
func TestAddWriteBlockReadsTheAnswer(t *testing.T) {
	for _, tt := range []struct {
		name, answer string
		status       int
		err          string
	}{
		{"blocked", `{"acknowledged":true,"shards_acknowledged":true,"indices":[{"name":"docs","blocked":true}]}`, 200, ""},
		{"verified before", `{"acknowledged":true,"shards_acknowledged":false,"indices":[]}`, 200, ""},
		{"not acknowledged", `{"acknowledged":false,"shards_acknowledged":false,"indices":[]}`, 200, "did not acknowledge"},
		{"not blocked", `{"acknowledged":true,"shards_acknowledged":false,"indices":[{"name":"docs","blocked":false,"failed_shards":[{"id":0}]}]}`, 200, "did not block it"},
		{"not an answer", `[]`, 200, "not an add-block response"},
		{"no acknowledged", `{}`, 200, "did not acknowledge"},
		{"missing", `{"error":{"type":"index_not_found_exception","reason":"no such index [docs]"},"status":404}`, 404, "index_not_found_exception"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body) //nolint:errcheck // the request has no body to read
				got = r.Method + " " + r.URL.Path
				w.Header().Set("X-Elastic-Product", "Elasticsearch")
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.answer) //nolint:errcheck // the test reads the client's side
			}))
			defer srv.Close()
			es, err := elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{srv.URL}})
			if err != nil {
				t.Fatal(err)
			}
			err = addWriteBlock(t.Context(), es, "docs")
			if got != "PUT /docs/_block/write" {
				t.Errorf("request %q, want PUT /docs/_block/write", got)
			}
			switch {
			case tt.err == "" && err != nil:
				t.Errorf("error %v", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Errorf("error %v, want one saying %q", err, tt.err)
			}
		})
	}
}
