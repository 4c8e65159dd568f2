package job

import (
	"encoding/json"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/esrestore/esrestore/fixtures/estest"
	"github.com/esrestore/esrestore/report"
)

// createIndex creates index with body (its mappings and settings).
func createIndex(t *testing.T, es *elasticsearch.Client, index, body string) {
	t.Helper()
	res, err := esapi.IndicesCreateRequest{Index: index, Body: strings.NewReader(body)}.Do(t.Context(), es)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.IsError() {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("create %s: %s %s", index, res.Status(), b)
	}
}

// TestCompareIndexes: the mappings and settings that differ between the
// original and the target are recorded as the patch that turns the one
// into the other, esrestore's own _meta and the settings each index has
// its own value of left out; for a snapshot source, the snapshot's
// index's mappings against the original's too.
func TestCompareIndexes(t *testing.T) {
	es := estest.New(t)
	c := es.Client()
	createIndex(t, c, "original", `{"settings": {"index": {"number_of_shards": 1, "number_of_replicas": 0}},
		"mappings": {"properties": {"a": {"type": "keyword"}, "b": {"type": "text"}}}}`)
	createIndex(t, c, "target", `{"settings": {"index": {"number_of_shards": 2, "number_of_replicas": 0}},
		"mappings": {"_meta": {"esrestore": {"run_id": "r1"}}, "properties": {"a": {"type": "keyword"}, "c": {"type": "long"}}}}`)
	createIndex(t, c, "staging", `{"settings": {"index": {"number_of_shards": 1, "number_of_replicas": 0}},
		"mappings": {"properties": {"a": {"type": "keyword"}, "b": {"type": "text"}}}}`)

	compare := func(target, staging string) *report.IndexDiff {
		t.Helper()
		j := New(Config{Original: "original", Target: target, RetryFor: time.Minute}, Options{Logger: slog.New(slog.DiscardHandler)})
		j.es = c
		if staging != "" {
			j.summary.Staging = &report.Staging{Index: staging}
		}
		if err := j.compareIndexes(t.Context()); err != nil {
			t.Fatal(err)
		}
		return j.summary.Indexes
	}
	ops := func(p []report.PatchOp) []string {
		var out []string
		for _, o := range p {
			out = append(out, o.Type+" "+o.Path+" "+string(o.Value))
		}
		return out
	}

	x := compare("target", "staging")
	if got, want := ops(x.Mappings), []string{`test /properties/b {"type":"text"}`, `remove /properties/b `,
		`add /properties/c {"type":"long"}`}; !slices.Equal(got, want) {
		t.Errorf("mappings patch %q, want %q", got, want)
	}
	if got, want := ops(x.Settings), []string{`test /index.number_of_shards "1"`, `replace /index.number_of_shards "2"`}; !slices.Equal(got, want) {
		t.Errorf("settings patch %q, want %q", got, want)
	}
	if x.SnapshotMappings == nil || len(x.SnapshotMappings) != 0 {
		t.Errorf("snapshot mappings %q, want none differing, recorded as such", ops(x.SnapshotMappings))
	}
	// The verdict names both: the test operations are not differences.
	if v := report.Judge(&report.Summary{Complete: true, Indexes: x}); v.Status != report.StatusReview ||
		len(v.Reasons) != 2 || v.Reasons[0].Count != 2 || v.Reasons[1].Count != 1 {
		t.Errorf("verdict %+v, want review for the mappings and the settings", v)
	}

	// An index compared with itself, no snapshot: empty patches, no
	// snapshot's mappings.
	x = compare("staging", "")
	if x.Mappings == nil || len(x.Mappings) != 0 || x.Settings == nil || len(x.Settings) != 0 || x.SnapshotMappings != nil {
		t.Errorf("alike: %+v, want empty mappings and settings patches, no snapshot's", x)
	}
	if b, err := json.Marshal(x); err != nil || string(b) != `{"mappings":[],"settings":[]}` {
		t.Errorf("alike in summary.json: %s %v", b, err)
	}
}
