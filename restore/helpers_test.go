package restore_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/esrestore/esrestore/fixtures"
	"github.com/esrestore/esrestore/fixtures/estest"
	"github.com/esrestore/esrestore/internal/dump"
	"github.com/esrestore/esrestore/internal/elastic"
	"github.com/esrestore/esrestore/internal/esscan"
	"github.com/esrestore/esrestore/internal/retry"
	"github.com/esrestore/esrestore/restore"
)

// Names of the loss scenario every test starts from.
const (
	original = "documents"
	repo     = "backups"
	snap     = "before-loss"
	target   = "documents-restored"
)

// loss gives the test a cluster (the real node when the environment asks
// for one) holding the original after a loss of n documents and the
// snapshot of it before.
func loss(t testing.TB, n int, seed int64) (*estest.Cluster, fixtures.Scenario) {
	t.Helper()
	es := estest.New(t)
	sc := fixtures.NewScenario(n, 0.1, seed)
	es.LoadScenario(t, original, repo, snap, sc, 3)
	return es, sc
}

// lossFake is loss on the stand-in, for the tests that inject faults.
func lossFake(t testing.TB, n int, seed int64) (*fixtures.ES, fixtures.Scenario) {
	t.Helper()
	es := estest.NewES(t)
	sc := fixtures.NewScenario(n, 0.1, seed)
	if err := es.LoadScenario(original, repo, snap, sc, 3); err != nil {
		t.Fatal(err)
	}
	return es, sc
}

// spy is an http.RoundTripper that watches the _bulk requests a client
// sends.
type spy struct {
	base http.RoundTripper
	// onBulk runs at the start of the n-th _bulk request (1-based).
	onBulk func(n int)
	// onRequest runs at the start of every request.
	onRequest func(req *http.Request)

	mu          sync.Mutex
	bulks       int
	inflight    int
	maxInflight int
	maxBody     int64
	// oversized counts _bulk bodies larger than limit holding more than
	// one document.
	limit     int64
	oversized int
	paths     []string
}

func (s *spy) RoundTrip(req *http.Request) (*http.Response, error) {
	bulk := strings.HasSuffix(req.URL.Path, "/_bulk")
	s.mu.Lock()
	s.paths = append(s.paths, req.Method+" "+req.URL.Path)
	var n int
	if bulk {
		s.bulks++
		n = s.bulks
		s.inflight++
		s.maxInflight = max(s.maxInflight, s.inflight)
		s.maxBody = max(s.maxBody, req.ContentLength)
	}
	s.mu.Unlock()
	if bulk && s.limit > 0 && req.ContentLength > s.limit && req.GetBody != nil {
		if body, err := req.GetBody(); err == nil {
			b, _ := io.ReadAll(body)
			if bytes.Count(b, []byte("\n")) > 2 {
				s.mu.Lock()
				s.oversized++
				s.mu.Unlock()
			}
		}
	}
	if bulk && s.onBulk != nil {
		s.onBulk(n)
	}
	if s.onRequest != nil {
		s.onRequest(req)
	}
	base := s.base
	if base == nil {
		base = http.DefaultTransport
	}
	res, err := base.RoundTrip(req)
	if bulk {
		s.mu.Lock()
		s.inflight--
		s.mu.Unlock()
	}
	return res, err
}

// client returns a client of url with retries off, through sp when given.
func client(t testing.TB, url string, sp *spy) *elasticsearch.Client {
	t.Helper()
	cfg := elasticsearch.Config{Addresses: []string{url}, DisableRetry: true}
	if sp != nil {
		cfg.Transport = sp
	}
	c, err := elasticsearch.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// options returns options for tests: small batches so that a few hundred
// documents make many requests, and short backoffs.
func options(runID string) restore.Options {
	o := restore.NewOptions()
	o.Original, o.Target, o.RunID = original, target, runID
	o.BatchDocs = 50
	o.Workers = 3
	o.Retry = retry.Policy{Budget: 2 * time.Second, Base: time.Millisecond, Cap: 5 * time.Millisecond}
	return o
}

// docsOf reads every document of index through the client: id -> source.
func docsOf(t testing.TB, es *elasticsearch.Client, index string) map[string]string {
	t.Helper()
	var mu sync.Mutex
	out := map[string]string{}
	err := esscan.Scan(context.Background(), es, index, esscan.Options{Slices: 2}, func(_ context.Context, _ int, page []dump.Doc) error {
		mu.Lock()
		defer mu.Unlock()
		for _, d := range page {
			if _, dup := out[d.ID]; dup {
				return fmt.Errorf("id %q read twice", d.ID)
			}
			out[d.ID] = string(d.Source)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("read %s: %v", index, err)
	}
	return out
}

func toMap(docs []fixtures.Doc) map[string]string {
	out := make(map[string]string, len(docs))
	for _, d := range docs {
		out[d.ID] = string(d.Source)
	}
	return out
}

// expected is the target a mode must produce from a scenario.
func expected(sc fixtures.Scenario, mode restore.Mode, prefer restore.Prefer) map[string]string {
	complete := toMap(sc.Complete)
	// Without live writes, filling a stripped document gives back the
	// complete one: fill keeps the backup's copy, already right.
	if mode == restore.ModeSource || prefer == restore.PreferSource || prefer == restore.PreferFill {
		return complete
	}
	out := toMap(sc.Original)
	for id, src := range complete {
		if _, ok := out[id]; !ok {
			out[id] = src
		}
	}
	return out
}

// sameDocs compares every document of the target with the expected set.
func sameDocs(t testing.TB, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("target has %d documents, want %d", len(got), len(want))
	}
	bad := 0
	for _, id := range slices.Sorted(maps.Keys(want)) {
		g, ok := got[id]
		switch {
		case !ok:
			t.Errorf("document %q missing from the target", id)
		case g != want[id]:
			t.Errorf("document %q differs:\n got %.120s\nwant %.120s", id, g, want[id])
		default:
			continue
		}
		if bad++; bad > 5 {
			t.Fatalf("more differences left out")
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			t.Errorf("target has unexpected document %q", id)
		}
	}
}

// exists reports whether an index exists.
func exists(t testing.TB, es *elasticsearch.Client, index string) bool {
	t.Helper()
	res, err := esapi.IndicesExistsRequest{Index: []string{index}}.Do(context.Background(), es)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode == 200
}

// untouched records the original (every document, its mapping, settings
// and aliases) and checks at the end of the test that it has not changed
// by a byte.
func untouched(t testing.TB, es interface {
	Client() *elasticsearch.Client
	Start() error
}, index string) {
	t.Helper()
	state := func() (map[string]string, string) {
		c := es.Client()
		var meta bytes.Buffer
		meta.Write(estest.MustDo(t, c, esapi.IndicesGetMappingRequest{Index: []string{index}}))
		meta.Write(estest.MustDo(t, c, esapi.IndicesGetSettingsRequest{Index: []string{index}}))
		meta.Write(estest.MustDo(t, c, esapi.IndicesGetAliasRequest{Index: []string{index}}))
		return docsOf(t, c, index), meta.String()
	}
	docs, meta := state()
	t.Cleanup(func() {
		if err := es.Start(); err != nil { // a test may have stopped it
			t.Fatal(err)
		}
		docs2, meta2 := state()
		if meta2 != meta {
			t.Errorf("original %q metadata changed:\nbefore %s\nafter  %s", index, meta, meta2)
		}
		if !maps.Equal(docs, docs2) {
			t.Errorf("original %q documents changed: %d before, %d after", index, len(docs), len(docs2))
		}
	})
}

// invariant checks the counts of a finished run against each other and
// against the target.
func invariant(t testing.TB, es *elasticsearch.Client, st restore.Stats) {
	t.Helper()
	if st.Read != st.Indexed+st.Kept+st.Skipped+st.Failed {
		t.Errorf("read %d != indexed %d + kept %d + skipped %d + failed %d", st.Read, st.Indexed, st.Kept, st.Skipped, st.Failed)
	}
	n, err := elastic.Count(context.Background(), es, target, retry.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	if n != st.Count {
		t.Errorf("_count %d, stats say %d", n, st.Count)
	}
	if n < st.Existing+st.Created || n > st.Existing+st.Created+st.Ambiguous {
		t.Errorf("_count %d, want existing %d + created %d (+ up to %d ambiguous)", n, st.Existing, st.Created, st.Ambiguous)
	}
}

// ndjson renders docs as a dump, gzipped when gz is set.
func ndjson(t testing.TB, docs []fixtures.Doc, gz bool) []byte {
	t.Helper()
	var b []byte
	for _, d := range docs {
		b = dump.AppendLine(b, dump.Doc{Index: original, ID: d.ID, Routing: d.Routing, Source: d.Source})
	}
	if !gz {
		return b
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// failures decodes a failures writer's lines.
func failures(t testing.TB, b []byte) []restore.Failure {
	t.Helper()
	var out []restore.Failure
	d := json.NewDecoder(bytes.NewReader(b))
	for {
		var f restore.Failure
		if err := d.Decode(&f); errors.Is(err, io.EOF) {
			return out
		} else if err != nil {
			t.Fatalf("failures line %d: %v", len(out)+1, err)
		}
		out = append(out, f)
	}
}

// settingsOf returns the flat settings of an index.
func settingsOf(t testing.TB, es *elasticsearch.Client, index string) map[string]any {
	t.Helper()
	flat := true
	var out map[string]struct {
		Settings map[string]any `json:"settings"`
	}
	if err := json.Unmarshal(estest.MustDo(t, es, esapi.IndicesGetSettingsRequest{Index: []string{index}, FlatSettings: &flat}), &out); err != nil {
		t.Fatal(err)
	}
	return out[index].Settings
}

// metaOf returns mappings._meta.esrestore of an index.
func metaOf(t testing.TB, es *elasticsearch.Client, index string) map[string]string {
	t.Helper()
	var out map[string]struct {
		Mappings struct {
			Meta struct {
				Esrestore map[string]json.RawMessage `json:"esrestore"`
			} `json:"_meta"`
		} `json:"mappings"`
	}
	if err := json.Unmarshal(estest.MustDo(t, es, esapi.IndicesGetMappingRequest{Index: []string{index}}), &out); err != nil {
		t.Fatal(err)
	}
	// Strings as they are, other values (the ignore list) as JSON.
	meta := map[string]string{}
	for k, v := range out[index].Mappings.Meta.Esrestore {
		var str string
		if json.Unmarshal(v, &str) == nil {
			meta[k] = str
		} else {
			meta[k] = string(v)
		}
	}
	return meta
}

func esapiPutSettings(index, body string) esapi.Request {
	return esapi.IndicesPutSettingsRequest{Index: []string{index}, Body: strings.NewReader(body)}
}

func esapiPutAlias(index, alias string) esapi.Request {
	return esapi.IndicesPutAliasRequest{Index: []string{index}, Name: alias}
}
