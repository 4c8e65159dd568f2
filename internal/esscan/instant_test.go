package esscan_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/esrestore/esrestore/fixtures"
	"github.com/esrestore/esrestore/fixtures/estest"
	"github.com/esrestore/esrestore/internal/dump"
	"github.com/esrestore/esrestore/internal/esscan"
)

// TestInstantHoldsOneMoment: writes made after an instant opened, refreshed
// so that any search would see them, are invisible to its scan, lookups
// and count; Since counts them by kind.
func TestInstantHoldsOneMoment(t *testing.T) {
	es := estest.New(t)
	docs := fixtures.Commons(300, 3)
	es.LoadDocs(t, "live", docs, 2)
	in := esscan.NewInstant(es.Client(), "live", esscan.InstantOptions{})
	defer in.Close()
	if err := in.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	if in.At().IsZero() {
		t.Fatal("an open instant has no time")
	}
	var changed, deleted []string
	for i, d := range docs[:12] {
		if i < 5 {
			changed = append(changed, d.ID)
			estest.MustDo(t, es.Client(), esapi.IndexRequest{Index: "live", DocumentID: d.ID, Body: strings.NewReader(`{"title":"changed"}`)})
		} else {
			deleted = append(deleted, d.ID)
			estest.MustDo(t, es.Client(), esapi.DeleteRequest{Index: "live", DocumentID: d.ID})
		}
	}
	added := []string{"after-1", "after-2", "after-3"}
	for _, id := range added {
		estest.MustDo(t, es.Client(), esapi.IndexRequest{Index: "live", DocumentID: id, Body: strings.NewReader(`{"title":"new"}`)})
	}
	es.Refresh(t, "live")

	if n, err := in.Count(t.Context()); err != nil || n != int64(len(docs)) {
		t.Fatalf("count at the instant: %d, %v; want %d", n, err, len(docs))
	}
	ids := append(append(append([]string{}, changed...), deleted...), added...)
	got, err := in.Lookup(t.Context(), ids, true)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]fixtures.Doc{}
	for _, d := range docs {
		byID[d.ID] = d
	}
	for i, g := range got {
		if g.ID != ids[i] {
			t.Errorf("lookup entry %d is %q, want %q", i, g.ID, ids[i])
		}
		want, had := byID[ids[i]]
		switch {
		case g.Found != had:
			t.Errorf("%s found %t at the instant, want %t", ids[i], g.Found, had)
		case had && !sameJSON(t, g.Source, want.Source):
			t.Errorf("%s at the instant is %s, want %s", ids[i], g.Source, want.Source)
		case had && g.PrimaryTerm < 1:
			t.Errorf("%s has no primary term", ids[i])
		}
	}
	var mu sync.Mutex
	var read []string
	err = esscan.Scan(t.Context(), es.Client(), "live", esscan.Options{Instant: in, Slices: 2, PageSize: 50},
		func(_ context.Context, _ int, page []dump.Doc) error {
			mu.Lock()
			defer mu.Unlock()
			for _, d := range page {
				read = append(read, d.ID)
				if slices.Contains(changed, d.ID) && strings.Contains(string(d.Source), `"changed"`) {
					t.Errorf("the scan at the instant read %s as changed after it", d.ID)
				}
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if len(read) != len(docs) {
		t.Errorf("the scan at the instant read %d documents, want %d", len(read), len(docs))
	}
	for _, id := range added {
		if slices.Contains(read, id) {
			t.Errorf("the scan at the instant read %s, written after it", id)
		}
	}
	live, err := in.Since(t.Context(), 2, 100)
	if err != nil {
		t.Fatal(err)
	}
	if live.New != 3 || live.Changed != 5 || live.Deleted != 7 || live.Total() != 15 || !live.Until.After(live.At) {
		t.Errorf("since the instant: %+v, want 3 new, 5 changed, 7 deleted", live)
	}
}

// TestInstantLookupRefusesDuplicates: an id held twice, under two
// routings, is an error, never one of the two copies.
func TestInstantLookupRefusesDuplicates(t *testing.T) {
	es := estest.New(t)
	estest.MustDo(t, es.Client(), esapi.IndicesCreateRequest{Index: "twice",
		Body: strings.NewReader(`{"settings":{"number_of_shards":4,"number_of_replicas":0}}`)})
	for _, r := range []string{"a", "b", "c", "d", "e", "f"} {
		estest.MustDo(t, es.Client(), esapi.IndexRequest{Index: "twice", DocumentID: "same", Routing: r, Body: strings.NewReader(`{"r":"` + r + `"}`)})
	}
	es.Refresh(t, "twice")
	in := esscan.NewInstant(es.Client(), "twice", esscan.InstantOptions{})
	defer in.Close()
	n, err := in.Count(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if n < 2 {
		t.Fatalf("six routings put the id on %d shards: the test needs two", n)
	}
	if _, err := in.Lookup(t.Context(), []string{"same"}, false); err == nil || !strings.Contains(err.Error(), "duplicate _id") {
		t.Fatalf("lookup of an id on %d shards: %v, want a duplicate _id error", n, err)
	}
}

func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	ja, _ := json.Marshal(x)
	jb, _ := json.Marshal(y)
	return string(ja) == string(jb)
}
