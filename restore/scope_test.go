package restore_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/esrestore/esrestore/fixtures/estest"
	"github.com/esrestore/esrestore/restore"
)

// TestScope: with --prefer source, a scope keeps three lost documents
// out of the target and leaves three stripped ones as the original holds
// them (their backup copies may not come back), on every kind of source;
// the skipped are counted, a snapshot is read from its staging index,
// and the scope is in the target's _meta: a resume with another is
// refused, naming it.
func TestScope(t *testing.T) {
	for _, s := range sources {
		if s.name == "ndjson-gzip" || s.name == "other-cluster" {
			continue
		}
		t.Run(s.name, func(t *testing.T) {
			es, sc := loss(t, 300, 7)
			var stripped []string
			for id := range sc.Stripped {
				stripped = append(stripped, id)
			}
			slices.Sort(stripped)
			skip := append(slices.Clone(sc.Lost[:3]), stripped[:3]...)
			opt := options("scope-1")
			opt.Prefer = restore.PreferSource
			opt.Scope = &restore.Scope{SkipIDs: skip}
			r, err := restore.New(es.Client(), opt)
			if err != nil {
				t.Fatal(err)
			}
			st, err := r.Run(t.Context(), s.make(t, es, sc))
			if err != nil {
				t.Fatal(err)
			}
			want := expected(sc, restore.ModeMerge, restore.PreferSource)
			orig := toMap(sc.Original)
			for _, id := range skip {
				if src, ok := orig[id]; ok {
					want[id] = src
				} else {
					delete(want, id)
				}
			}
			c := es.Client()
			sameDocs(t, docsOf(t, c, target), want)
			invariant(t, c, st)
			if st.Skipped != 6 {
				t.Errorf("skipped %d, want 6", st.Skipped)
			}
			if st.Load == restore.LoadSnapshot {
				t.Errorf("load %q: a scoped snapshot must not be restored as the target", st.Load)
			}
			in := r.InScope()
			if in == nil || in(skip[0]) || !in(sc.Lost[5]) {
				t.Error("InScope does not give the scope")
			}
			res := estest.MustDo(t, c, esapi.IndicesGetMappingRequest{Index: []string{target}})
			if !strings.Contains(string(res), `"scope":{`) || !strings.Contains(string(res), `"skip_ids_sha256":"`) || !strings.Contains(string(res), `"skip_ids_count":6`) {
				t.Errorf("target's _meta lacks the scope: %s", res)
			}

			o := opt
			o.Scope = &restore.Scope{SkipIDs: skip[:5]}
			r, _ = restore.New(c, o)
			_, err = r.Run(t.Context(), s.make(t, es, sc))
			if !errors.Is(err, restore.ErrResumeMismatch) || !strings.Contains(err.Error(), "--skip-ids: target has 6 ids") ||
				!strings.Contains(err.Error(), "this run has 5 ids") {
				t.Fatalf("resume with another scope: %v", err)
			}
		})
	}
}

// TestScopeQuery: only the documents of the source the query matches are
// written; a dump cannot be queried, and a query Elasticsearch refuses
// fails before anything is written.
func TestScopeQuery(t *testing.T) {
	es, sc := loss(t, 300, 7)
	q := json.RawMessage(`{"term":{"visibility":"PUBLIC"}}`)
	for _, s := range sources {
		if s.name != "snapshot" && s.name != "index" {
			continue
		}
		t.Run(s.name, func(t *testing.T) {
			opt := options("query-" + s.name)
			opt.Target = target + "-" + s.name
			opt.Scope = &restore.Scope{Query: q}
			r, err := restore.New(es.Client(), opt)
			if err != nil {
				t.Fatal(err)
			}
			st, err := r.Run(t.Context(), s.make(t, es, sc))
			if err != nil {
				t.Fatal(err)
			}
			want := toMap(sc.Original)
			var out int64
			for _, d := range sc.Complete {
				var v struct{ Visibility string }
				if err := json.Unmarshal(d.Source, &v); err != nil {
					t.Fatal(err)
				}
				if v.Visibility != "PUBLIC" {
					out++
					continue
				}
				if _, ok := want[d.ID]; !ok {
					want[d.ID] = string(d.Source)
				}
			}
			if out == 0 {
				t.Fatal("the query matches every document")
			}
			got := docsOf(t, es.Client(), opt.Target)
			if len(got) != len(want) {
				t.Errorf("target has %d documents, want %d", len(got), len(want))
			}
			for id := range want {
				if _, ok := got[id]; !ok {
					t.Errorf("%s missing from the target", id)
				}
			}
			if st.Skipped != out || st.Read != st.Indexed+st.Kept+st.Skipped+st.Failed {
				t.Errorf("stats %+v, want %d skipped", st, out)
			}
		})
	}
	t.Run("dump", func(t *testing.T) {
		opt := options("query-dump")
		opt.Scope = &restore.Scope{Query: q}
		r, _ := restore.New(es.Client(), opt)
		err := r.Check(t.Context(), restore.NDJSONSource(bytes.NewReader(ndjson(t, sc.Complete, false)), "dump.ndjson"))
		if !errors.Is(err, restore.ErrScopeQuery) {
			t.Errorf("got %v, want ErrScopeQuery", err)
		}
	})
	t.Run("refused", func(t *testing.T) {
		_, err := restore.MatchingIDs(t.Context(), es.Client(), original, json.RawMessage(`{"no_such_query":{}}`), 0, options("x").Retry)
		if !errors.Is(err, restore.ErrScopeQuery) {
			t.Errorf("got %v, want ErrScopeQuery", err)
		}
		_, err = restore.MatchingIDs(t.Context(), es.Client(), original, json.RawMessage(`{"match_all":{}}`), 10, options("x").Retry)
		if !errors.Is(err, restore.ErrScopeTooLarge) {
			t.Errorf("got %v, want ErrScopeTooLarge", err)
		}
	})
}
