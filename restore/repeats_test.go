package restore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/esrestore/esrestore/fixtures"
	"github.com/esrestore/esrestore/fixtures/estest"
	"github.com/esrestore/esrestore/internal/dump"
	"github.com/esrestore/esrestore/restore"
)

// twice is a source that passes its documents, then the first of them
// again: a source that repeats an _id.
type twice struct {
	docs []dump.Doc
}

func (twice) Name() string                                 { return "twice" }
func (twice) Check(context.Context, restore.RunInfo) error { return nil }
func (twice) Prepare(context.Context) error                { return nil }
func (twice) Cleanup(context.Context) error                { return nil }
func (s twice) Scan(ctx context.Context, fn restore.ScanFunc) error {
	if err := fn(ctx, s.docs, nil); err != nil {
		return err
	}
	return fn(ctx, s.docs[:1], nil)
}

// TestRepeatsWarning: "the source repeats ids" is logged when a source
// does, and not on a merge whose reconciliation overwrites what the
// backup wrote (the original's live edits).
func TestRepeatsWarning(t *testing.T) {
	const warning = "the source repeats ids"
	es, sc := loss(t, 200, 3)
	c := es.Client()

	var logs bytes.Buffer
	opt := options("rep1")
	opt.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	r, err := restore.New(c, opt)
	if err != nil {
		t.Fatal(err)
	}
	st, err := r.Run(t.Context(), restore.SnapshotSource(c, repo, snap, "", false, ""))
	if err != nil {
		t.Fatal(err)
	}
	if st.Indexed == st.Created {
		t.Fatalf("the merge overwrote nothing (%+v): the case does not test the warning", st)
	}
	if strings.Contains(logs.String(), warning) {
		t.Errorf("a merge with live edits logs %q:\n%s", warning, logs.String())
	}

	logs.Reset()
	opt = options("rep2")
	opt.Target = target + "-rep2"
	opt.Mode = restore.ModeSource
	opt.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	r, err = restore.New(c, opt)
	if err != nil {
		t.Fatal(err)
	}
	var docs []dump.Doc
	for _, d := range sc.Complete[:20] {
		docs = append(docs, dump.Doc{ID: d.ID, Source: d.Source})
	}
	if _, err := r.Run(t.Context(), twice{docs: docs}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), warning) || !strings.Contains(logs.String(), "replaced=1") {
		t.Errorf("a source repeating one id does not say so:\n%s", logs.String())
	}
}

// TestFindDuplicateIDs: ids under two routings, or under a routing and
// none, are found with their routings; an index without routed documents
// is not read.
func TestFindDuplicateIDs(t *testing.T) {
	es := estest.New(t)
	c := es.Client()
	es.LoadDocs(t, "plain", fixtures.Commons(30, 1), 3)
	es.LoadDocs(t, "routed", fixtures.Commons(30, 1), 3)
	body := "{\"index\":{\"_id\":\"two\",\"routing\":\"a\"}}\n{\"title\":\"one\"}\n" +
		"{\"index\":{\"_id\":\"two\",\"routing\":\"c\"}}\n{\"title\":\"two\"}\n" +
		"{\"index\":{\"_id\":\"single\",\"routing\":\"a\"}}\n{\"title\":\"one\"}\n"
	estest.MustDo(t, c, esapi.BulkRequest{Index: "routed", Body: strings.NewReader(body), Refresh: "true"})
	// An id with a routing whose shard is not the id's own, and a copy
	// without routing: find a routing that lands elsewhere.
	id := fixtures.Commons(30, 1)[0].ID
	for i := range 20 {
		r := fmt.Sprintf("r%d", i)
		estest.MustDo(t, c, esapi.IndexRequest{Index: "routed", DocumentID: id, Routing: r, Body: strings.NewReader(`{"title":"x"}`), Refresh: "true"})
		n := countIDs(t, c, "routed", id)
		if n == 2 {
			break
		}
		// Same shard: the write replaced the copy; put it back unrouted.
		estest.MustDo(t, c, esapi.DeleteRequest{Index: "routed", DocumentID: id, Routing: r, Refresh: "true"})
		estest.MustDo(t, c, esapi.IndexRequest{Index: "routed", DocumentID: id, Body: strings.NewReader(`{"title":"y"}`), Refresh: "true"})
	}
	got, err := restore.FindDuplicateIDs(t.Context(), c, "routed", options("dup").Retry)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1].ID != "two" || strings.Join(got[1].Routings, ",") != "a,c" || got[0].ID != id || len(got[0].Routings) != 2 || got[0].Routings[0] != "" {
		t.Errorf("got %+v, want %s under no routing and another, two under a and c", got, id)
	}
	if got, err := restore.FindDuplicateIDs(t.Context(), c, "plain", options("dup").Retry); err != nil || got != nil {
		t.Errorf("an index without routing: %v, %v", got, err)
	}
}

func countIDs(t *testing.T, c *elasticsearch.Client, index, id string) int {
	t.Helper()
	b := estest.MustDo(t, c, esapi.CountRequest{Index: []string{index}, Body: strings.NewReader(`{"query":{"ids":{"values":["` + id + `"]}}}`)})
	var n struct {
		Count int `json:"count"`
	}
	if err := json.Unmarshal(b, &n); err != nil {
		t.Fatal(err)
	}
	return n.Count
}
