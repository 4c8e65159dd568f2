package restore_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/esrestore/esrestore/fixtures"
	"github.com/esrestore/esrestore/restore"
)

// logLines decodes JSON log records with the given message.
func logLines(t *testing.T, b []byte, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range bytes.Split(b, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// TestTooLargeLogged: a _bulk refused with 413 says so, with its size and
// the sizes of the halves sent instead; a document alone over the limit
// fails, and says so too.
func TestTooLargeLogged(t *testing.T) {
	es, sc := loss(t, 100, 6)
	untouched(t, es, original)
	const limit = 64 << 10
	big := fixtures.Doc{ID: "big", Source: []byte(`{"title":"big","excerpt":"` + strings.Repeat("a", limit) + `"}`)}
	docs := append(append(append([]fixtures.Doc(nil), sc.Complete[:30]...), big), sc.Complete[30:60]...)
	var fails, logs bytes.Buffer
	opt := options("big-logged")
	opt.Mode = restore.ModeSource
	opt.Failures = &fails
	opt.BatchDocs = 20
	opt.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	r, err := restore.New(client(t, es.URL, &spy{base: tooLarge{limit: limit}}), opt)
	if err != nil {
		t.Fatal(err)
	}
	st, err := r.Run(t.Context(), restore.NDJSONSource(bytes.NewReader(ndjson(t, docs, false)), "big.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Failed != 1 || st.Indexed != 60 {
		t.Errorf("failed %d indexed %d, want 1 60", st.Failed, st.Indexed)
	}
	splits := logLines(t, logs.Bytes(), "bulk request larger than the cluster accepts (413), splitting it")
	if len(splits) == 0 {
		t.Fatalf("no warning for the 413:\n%s", logs.String())
	}
	// The batch holding big: 20 documents, then 10, 5, 3 (big among them), 2.
	first := splits[0]
	if first["level"] != "WARN" || first["documents"] != float64(20) || first["bytes"].(float64) <= limit {
		t.Errorf("first split %v, want a warning for the 20 documents of over %d bytes", first, limit)
	}
	if nd, nb := first["new_documents"].([]any), first["new_bytes"].([]any); len(nd) != 2 || nd[0].(float64)+nd[1].(float64) != 20 ||
		len(nb) != 2 || nb[0].(float64)+nb[1].(float64) != first["bytes"].(float64) {
		t.Errorf("first split %v: the halves do not add up to the batch", first)
	}
	alone := logLines(t, logs.Bytes(), "document larger than the cluster accepts (413): it fails")
	if len(alone) != 1 || alone[0]["id"] != "big" {
		t.Errorf("warnings for the document alone %v, want one for big", alone)
	}
}

// cutter is a proxy that cuts the connection of every _bulk request whose
// body is larger than limit, as a load balancer with a body limit may,
// and forwards the others. It counts the sends of each body.
type cutter struct {
	limit int64
	next  http.Handler
	mu    sync.Mutex
	sends map[[32]byte]int
	cuts  int
}

func (c *cutter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasSuffix(r.URL.Path, "/_bulk") {
		c.next.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	c.mu.Lock()
	c.sends[sha256.Sum256(body)]++
	cut := int64(len(body)) > c.limit
	if cut {
		c.cuts++
	}
	c.mu.Unlock()
	if cut {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	c.next.ServeHTTP(w, r)
}

// TestCutTwiceSplits: a body whose connection is cut again and again is
// sent twice, then split, down to requests that pass; a document that no
// request can carry fails alone, named, and the run goes on.
func TestCutTwiceSplits(t *testing.T) {
	es, sc := loss(t, 100, 6)
	untouched(t, es, original)
	u, err := url.Parse(es.URL)
	if err != nil {
		t.Fatal(err)
	}
	const limit = 200 << 10
	cut := &cutter{limit: limit, next: httputil.NewSingleHostReverseProxy(u), sends: map[[32]byte]int{}}
	proxy := httptest.NewServer(cut)
	t.Cleanup(proxy.Close)

	// 60 documents of about 20 KB: one batch of 1.2 MB, cut until split
	// into requests under 200 KB; and one document of 1.5 MB, cut alone.
	var docs []fixtures.Doc
	for i, d := range sc.Complete[:60] {
		pad := strings.Repeat("x", 20<<10)
		src := strings.TrimSuffix(string(d.Source), "}") + `,"pad":"` + pad + `"}`
		docs = append(docs, fixtures.Doc{ID: d.ID, Source: []byte(src)})
		if i == 29 {
			docs = append(docs, fixtures.Doc{ID: "huge", Source: []byte(`{"title":"huge","excerpt":"` + strings.Repeat("h", 3<<19) + `"}`)})
		}
	}
	var fails, logs bytes.Buffer
	opt := options("cut-twice")
	opt.Mode = restore.ModeSource
	opt.Failures = &fails
	opt.BatchDocs, opt.BatchBytes = 100, 8<<20
	opt.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	r, err := restore.New(client(t, proxy.URL, nil), opt)
	if err != nil {
		t.Fatal(err)
	}
	st, err := r.Run(t.Context(), restore.NDJSONSource(bytes.NewReader(ndjson(t, docs, false)), "cut.ndjson"))
	if err != nil {
		t.Fatalf("Run: %v\n%.3000s", err, logs.String())
	}
	invariant(t, es.Client(), st)
	if st.Failed != 1 || st.Indexed != 60 {
		t.Errorf("failed %d indexed %d, want 1 60", st.Failed, st.Indexed)
	}
	got := failures(t, fails.Bytes())
	if len(got) != 1 || got[0].ID != "huge" || !strings.Contains(string(got[0].Error), `"connection_cut"`) {
		t.Errorf("failures %s, want huge cut", fails.String())
	}
	cut.mu.Lock()
	for _, n := range cut.sends {
		if n > 2 {
			t.Errorf("a body was sent %d times unchanged (%d cuts in all)", n, cut.cuts)
		}
	}
	cut.mu.Unlock()
	if len(logLines(t, logs.Bytes(), "bulk request cut again, splitting it")) == 0 {
		t.Errorf("no warning for the split:\n%.3000s", logs.String())
	}
	sameDocs(t, docsOf(t, es.Client(), target), toMap(append(append([]fixtures.Doc(nil), docs[:30]...), docs[31:]...)))
}
