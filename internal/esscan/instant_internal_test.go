package esscan

import (
	"strings"
	"testing"

	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/esrestore/esrestore/fixtures"
	"github.com/esrestore/esrestore/fixtures/estest"
)

// TestInstantReopensALostPointInTime: a point in time closed behind the
// instant's back (as a node restart loses it) is reopened by the next
// reader, once, and counted; the instant moves to the reopening.
func TestInstantReopensALostPointInTime(t *testing.T) {
	es := estest.NewES(t)
	if err := es.LoadDocs("docs", fixtures.Commons(40, 1), 1); err != nil {
		t.Fatal(err)
	}
	in := NewInstant(es.Client(), "docs", InstantOptions{})
	defer in.Close()
	id, err := in.pit(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	first := in.At()
	closePIT(es.Client(), id)
	estest.MustDo(t, es.Client(), esapi.IndexRequest{Index: "docs", DocumentID: "late", Body: strings.NewReader(`{}`), Refresh: "true"})
	n, err := in.Count(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if in.Reopens() != 1 || !in.At().After(first) {
		t.Errorf("reopens %d, instant %s → %s", in.Reopens(), first, in.At())
	}
	if n != 41 {
		t.Errorf("count at the reopened instant %d, want 41 (the write before the reopening)", n)
	}
	if _, err := in.Lookup(t.Context(), []string{"late"}, false); err != nil || in.Reopens() != 1 {
		t.Errorf("lookup after the reopening: %v, reopens %d", err, in.Reopens())
	}
	in.Close()
	if _, err := in.Count(t.Context()); err == nil {
		t.Error("a closed instant still counts")
	}
}
