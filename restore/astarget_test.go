package restore_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/esrestore/esrestore/fixtures"
	"github.com/esrestore/esrestore/fixtures/estest"
	"github.com/esrestore/esrestore/restore"
)

// liveLoss is a loss whose original then took live writes: edits, flips,
// deletions and new documents, some on stripped documents.
func liveLoss(t *testing.T, n int, seed int64) (*estest.Cluster, fixtures.Scenario) {
	t.Helper()
	sc, _, err := fixtures.NewScenario(n, 0.1, seed).WithLiveWrites(fixtures.LiveWrites{Edits: 20, Flips: 10, Deletes: 5, New: 8}, seed)
	if err != nil {
		t.Fatal(err)
	}
	es := estest.New(t)
	es.LoadScenario(t, original, repo, snap, sc, 3)
	return es, sc
}

// TestPathsAgree: the target built from the snapshot restored as the
// target, from the backup bulk-loaded and reconciled, and (for the
// preferences it knows) from both sides written whole holds the same
// documents, byte for byte.
func TestPathsAgree(t *testing.T) {
	for _, prefer := range []restore.Prefer{restore.PreferOriginal, restore.PreferSource, restore.PreferFill} {
		t.Run(string(prefer), func(t *testing.T) {
			// Past a page (1,000) of the original: the first page of a
			// slice reads every target copy, the next ones go by
			// sequence number.
			es, sc := liveLoss(t, 2500, 21)
			es.LoadDocs(t, "documents-backup", sc.Complete, 3)
			c := es.Client()
			var ref map[string]string
			for i, tt := range []struct {
				strategy restore.Strategy
				src      restore.Source
				load     string
			}{
				{restore.StrategyPasses, restore.SnapshotSource(c, repo, snap, "", false, ""), restore.LoadPasses},
				{restore.StrategyReconcile, restore.SnapshotSource(c, repo, snap, "", false, ""), restore.LoadSnapshot},
				{restore.StrategyReconcile, restore.IndexSource(c, "documents-backup", 2), restore.LoadBulk},
			} {
				if prefer == restore.PreferFill && tt.strategy == restore.StrategyPasses {
					continue
				}
				opt := options(fmt.Sprintf("agree-%d", i))
				opt.Target = fmt.Sprintf("%s_%d", target, i)
				opt.Prefer, opt.Strategy = prefer, tt.strategy
				r, err := restore.New(c, opt)
				if err != nil {
					t.Fatal(err)
				}
				st, err := r.Run(t.Context(), tt.src)
				if err != nil {
					t.Fatalf("%s from %s: %v", tt.strategy, tt.src.Name(), err)
				}
				if st.Load != tt.load {
					t.Errorf("%s from %s: load %q (%s), want %q", tt.strategy, tt.src.Name(), st.Load, st.LoadReason, tt.load)
				}
				// Only the snapshot restored as the target shares the
				// original's history.
				if bySeq := st.KeptBySeqNo > 0; bySeq != (tt.load == restore.LoadSnapshot) || st.KeptBySeqNo > st.Kept {
					t.Errorf("%s from %s: %d of %d kept by sequence number", tt.strategy, tt.src.Name(), st.KeptBySeqNo, st.Kept)
				}
				if tt.load == restore.LoadSnapshot && prefer == restore.PreferOriginal {
					// Written: the original's documents the backup lacks or
					// holds otherwise.
					backup := map[string]string{}
					for _, d := range sc.Complete {
						backup[d.ID] = string(d.Source)
					}
					differ := 0
					for _, d := range sc.Original {
						if b, ok := backup[d.ID]; !ok || b != string(d.Source) {
							differ++
						}
					}
					if st.Indexed != int64(differ) {
						t.Errorf("snapshot as target: %d written, want the %d documents that differ", st.Indexed, differ)
					}
				}
				got := docsOf(t, c, opt.Target)
				if ref == nil {
					ref = got
					continue
				}
				sameDocs(t, got, ref)
			}
		})
	}
}

// TestSnapshotIncompatible: a snapshot whose index maps a field otherwise
// than the original is not restored as the target: it stays a staging
// index, the target is made from the original's mapping, and Stats says
// which path ran and why.
func TestSnapshotIncompatible(t *testing.T) {
	es, sc := loss(t, 200, 13)
	c := es.Client()
	body := bytes.Replace(fixtures.CommonsMapping(3),
		[]byte(`"title":{"type":"text","fields":{"keyword":{"type":"keyword","ignore_above":256}}}`), []byte(`"title":{"type":"keyword"}`), 1)
	if bytes.Equal(body, fixtures.CommonsMapping(3)) {
		t.Fatal("the mapping's title field was not found to change")
	}
	estest.MustDo(t, c, esapi.IndicesCreateRequest{Index: "documents-v1", Body: bytes.NewReader(body)})
	estest.MustDo(t, c, esapi.BulkRequest{Index: "documents-v1", Body: bytes.NewReader(bulkBody(t, sc.Complete)), Refresh: "true"})
	wait := true
	estest.MustDo(t, c, esapi.SnapshotCreateRequest{Repository: repo, Snapshot: "v1", WaitForCompletion: &wait,
		Body: strings.NewReader(`{"indices":"documents-v1","include_global_state":false}`)})

	opt := options("incompatible")
	opt.SourceIndex = "documents-v1" // another index than the original's, on purpose
	r, err := restore.New(c, opt)
	if err != nil {
		t.Fatal(err)
	}
	st, err := r.Run(t.Context(), restore.SnapshotSource(c, repo, "v1", "documents-v1", false, ""))
	if err != nil {
		t.Fatal(err)
	}
	if st.Load != restore.LoadBulk || !strings.Contains(st.LoadReason, "field title: type is \"text\" in the original, \"keyword\" in the snapshot") {
		t.Errorf("load %q (%s), want bulk for the title field's type", st.Load, st.LoadReason)
	}
	sameDocs(t, docsOf(t, c, target), expected(sc, restore.ModeMerge, restore.PreferOriginal))
	invariant(t, c, st)
	var m map[string]struct {
		Mappings struct {
			Properties map[string]struct {
				Type string `json:"type"`
			} `json:"properties"`
		} `json:"mappings"`
	}
	if err := json.Unmarshal(estest.MustDo(t, c, esapi.IndicesGetMappingRequest{Index: []string{target}}), &m); err != nil {
		t.Fatal(err)
	}
	if got := m[target].Mappings.Properties["title"].Type; got != "text" {
		t.Errorf("target's title is %q, want the original's text", got)
	}
}

// TestSnapshotAsTargetMapping: the target restored from the snapshot gets
// the original's added fields and this run's _meta, and none of the
// original's aliases.
func TestSnapshotAsTargetMapping(t *testing.T) {
	es, sc := loss(t, 100, 17)
	c := es.Client()
	estest.MustDo(t, c, esapi.IndicesPutMappingRequest{Index: []string{original},
		Body: strings.NewReader(`{"properties":{"added_live":{"type":"keyword"}}}`)})
	estest.MustDo(t, c, esapi.IndicesPutAliasRequest{Index: []string{original}, Name: "documents-alias"})
	r, err := restore.New(c, options("mapping"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := r.Run(t.Context(), restore.SnapshotSource(c, repo, snap, "", false, ""))
	if err != nil {
		t.Fatal(err)
	}
	if st.Load != restore.LoadSnapshot {
		t.Fatalf("load %q (%s), want the snapshot as the target", st.Load, st.LoadReason)
	}
	sameDocs(t, docsOf(t, c, target), expected(sc, restore.ModeMerge, restore.PreferOriginal))
	raw := string(estest.MustDo(t, c, esapi.IndicesGetRequest{Index: []string{target}}))
	for _, want := range []string{`"added_live":{"type":"keyword"}`, `"run_id":"mapping"`, `"load":"snapshot-as-target"`} {
		if !strings.Contains(raw, want) {
			t.Errorf("target lacks %s: %.600s", want, raw)
		}
	}
	if strings.Contains(raw, "documents-alias") {
		t.Errorf("target took the snapshot's alias: %.300s", raw)
	}
	if got := settingsOf(t, c, target)["index.number_of_replicas"]; got != "1" {
		t.Errorf("number_of_replicas = %v, want the original's 1 back", got)
	}
}

// bulkBody is an index _bulk body of docs.
func bulkBody(t *testing.T, docs []fixtures.Doc) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, d := range docs {
		fmt.Fprintf(&b, `{"index":{"_id":%q}}`+"\n%s\n", d.ID, d.Source)
	}
	return b.Bytes()
}

// TestFillNull: with PreferFill a null of the original stays (a live
// value) unless NullIsMissing, and then the backup's value fills it;
// fields the original lacks are filled either way, live values kept.
func TestFillNull(t *testing.T) {
	d := func(id, src string) fixtures.Doc { return fixtures.Doc{ID: id, Source: []byte(src)} }
	orig := []fixtures.Doc{d("a", `{"title":"live","excerpt":null}`), d("b", `{"title":"live"}`)}
	backup := []fixtures.Doc{d("a", `{"title":"old","excerpt":"text"}`), d("b", `{"title":"old","excerpt":"text"}`), d("c", `{"title":"lost"}`)}
	for _, tt := range []struct {
		nullIsMissing bool
		wantA         string
	}{
		{false, `{"title":"live","excerpt":null}`},
		{true, `{"title":"live","excerpt":"text"}`},
	} {
		t.Run(fmt.Sprint(tt.nullIsMissing), func(t *testing.T) {
			es := estest.New(t)
			es.LoadDocs(t, original, orig, 1)
			opt := options("fill-null")
			opt.Prefer, opt.NullIsMissing = restore.PreferFill, tt.nullIsMissing
			r, err := restore.New(es.Client(), opt)
			if err != nil {
				t.Fatal(err)
			}
			st, err := r.Run(t.Context(), restore.NDJSONSource(bytes.NewReader(ndjson(t, backup, false)), "backup.ndjson"))
			if err != nil {
				t.Fatal(err)
			}
			got := docsOf(t, es.Client(), target)
			want := map[string]string{"a": tt.wantA, "b": `{"title":"live","excerpt":"text"}`, "c": `{"title":"lost"}`}
			sameDocs(t, got, want)
			// The backup's three, then a and b, each differing from it.
			if st.Indexed != 5 || st.Kept != 0 || st.Read != 5 {
				t.Errorf("read %d indexed %d kept %d, want 5 5 0", st.Read, st.Indexed, st.Kept)
			}
		})
	}
}

// TestResumeCutBeforeMeta: an attempt killed between the snapshot's
// restore as the target and the mapping put that records the run id
// leaves a target without _meta beside this run's staging index; the
// rerun adopts it. A target that is not that restore is still refused.
func TestResumeCutBeforeMeta(t *testing.T) {
	es, sc := loss(t, 200, 19)
	c := es.Client()
	restoreAs := func(name string) {
		wait := true
		estest.MustDo(t, c, esapi.SnapshotRestoreRequest{Repository: repo, Snapshot: snap, WaitForCompletion: &wait,
			Body: strings.NewReader(fmt.Sprintf(`{"indices":%q,"rename_pattern":".+","rename_replacement":%q,"include_aliases":false}`, original, name))})
	}
	restoreAs(restore.StagingIndex("cut-1"))
	restoreAs(target)
	r, err := restore.New(c, options("cut-1"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := r.Run(t.Context(), restore.SnapshotSource(c, repo, snap, "", false, ""))
	if err != nil {
		t.Fatalf("rerun after a cut before _meta: %v", err)
	}
	if st.Load != restore.LoadSnapshot || !strings.Contains(st.LoadReason, "cut before its _meta") {
		t.Errorf("load %q (%s), want the interrupted restore adopted", st.Load, st.LoadReason)
	}
	sameDocs(t, docsOf(t, c, target), expected(sc, restore.ModeMerge, restore.PreferOriginal))
	if meta := metaOf(t, c, target); meta["run_id"] != "cut-1" {
		t.Errorf("adopted target's _meta %v, want run id cut-1", meta)
	}

	// Another run's staging index beside a target with one document more
	// than the snapshot: not this run's restore.
	restoreAs(restore.StagingIndex("cut-2"))
	restoreAs("documents_other")
	estest.MustDo(t, c, esapi.IndexRequest{Index: "documents_other", DocumentID: "extra", Body: strings.NewReader(`{"title":"x"}`), Refresh: "true"})
	opt := options("cut-2")
	opt.Target = "documents_other"
	r, err = restore.New(c, opt)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(t.Context(), restore.SnapshotSource(c, repo, snap, "", false, "")); !errors.Is(err, restore.ErrTargetExists) {
		t.Errorf("a target that is not the interrupted restore: %v, want ErrTargetExists", err)
	}
}

// TestReconcileOriginalDeletesDuringPass: the reconciliation reads the
// original's ids, then fetches the sources of the documents that differ
// by sequence number; one deleted from the original in between is counted
// read and kept (there is nothing of it to write), and nothing is lost
// from the accounting.
func TestReconcileOriginalDeletesDuringPass(t *testing.T) {
	es, sc := liveLoss(t, 2500, 23)
	plain := es.Client()
	backup := map[string]string{}
	for _, d := range sc.Complete {
		backup[d.ID] = string(d.Source)
	}
	// The original's documents the backup holds otherwise: each is
	// fetched whole after the scan's page named it.
	var changed []fixtures.Doc
	for _, d := range sc.Original {
		if b, ok := backup[d.ID]; ok && b != string(d.Source) {
			changed = append(changed, d)
		}
	}
	if len(changed) < 20 {
		t.Fatalf("scenario has %d changed documents", len(changed))
	}
	var once sync.Once
	deleted := map[string]bool{}
	sp := &spy{onRequest: func(req *http.Request) {
		if req.URL.Path != "/"+original+"/_mget" {
			return
		}
		once.Do(func() {
			for _, d := range changed {
				estest.MustDo(t, plain, esapi.DeleteRequest{Index: original, DocumentID: d.ID, Routing: d.Routing})
				deleted[d.ID] = true
			}
			estest.MustDo(t, plain, esapi.IndicesRefreshRequest{Index: []string{original}})
		})
	}}
	opt := options("vanish")
	opt.Slices = 1
	r, err := restore.New(client(t, es.URL, sp), opt)
	if err != nil {
		t.Fatal(err)
	}
	st, err := r.Run(t.Context(), restore.SnapshotSource(plain, repo, snap, "", false, ""))
	if err != nil {
		t.Fatal(err)
	}
	if len(deleted) == 0 {
		t.Fatal("the original was never fetched by _mget")
	}
	invariant(t, plain, st)
	if st.KeptBySeqNo == 0 || st.Read-st.Restored != int64(len(sc.Original)) {
		t.Errorf("read %d of the original's %d, %d kept by sequence number", st.Read-st.Restored, len(sc.Original), st.KeptBySeqNo)
	}
	// Deleted before its page's fetch: the target keeps the backup's
	// copy. Written are only the changed documents still there when
	// fetched (the first page reads every source before the deletions).
	got := docsOf(t, plain, target)
	written := 0
	for _, d := range changed {
		switch got[d.ID] {
		case string(d.Source):
			written++
		case backup[d.ID]:
		default:
			t.Errorf("document %q: target holds %q, neither the original's nor the backup's", d.ID, got[d.ID])
		}
	}
	if int64(written) > st.Indexed || written == len(changed) {
		t.Errorf("%d of %d changed documents written (%d indexed): the deletions were not seen", written, len(changed), st.Indexed)
	}
}

// TestTargetAppearsAfterChecks: an attempt killed right after it asked
// Elasticsearch to restore the snapshot as the target leaves the restore
// going on; the rerun's checks may not see the target yet, and its own
// restore is then refused ("an open index with same name already exists",
// seen on 8.19.21). The rerun adopts the target as its checks would have,
// and ends with the expected documents.
func TestTargetAppearsAfterChecks(t *testing.T) {
	es, sc := loss(t, 300, 29)
	c := es.Client()
	var once sync.Once
	direct := es.Client()
	rt := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		if strings.HasSuffix(req.URL.Path, "/_restore") && req.Body != nil {
			b, err := io.ReadAll(req.Body)
			if err != nil {
				return nil, err
			}
			req.Body = io.NopCloser(bytes.NewReader(b))
			if bytes.Contains(b, []byte(`"rename_replacement":"`+target+`"`)) {
				once.Do(func() {
					// The earlier attempt's restore, finishing first.
					wait := true
					estest.MustDo(t, direct, esapi.SnapshotRestoreRequest{Repository: repo, Snapshot: snap, WaitForCompletion: &wait,
						Body: strings.NewReader(fmt.Sprintf(`{"indices":%q,"rename_pattern":".+","rename_replacement":%q,"include_aliases":false,"include_global_state":false,"index_settings":{"index.number_of_replicas":0}}`, original, target))})
				})
			}
		}
		return http.DefaultTransport.RoundTrip(req)
	})
	cl, err := elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{es.URL}, DisableRetry: true, Transport: rt})
	if err != nil {
		t.Fatal(err)
	}
	r, err := restore.New(cl, options("late-1"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := r.Run(t.Context(), restore.SnapshotSource(cl, repo, snap, "", false, ""))
	if err != nil {
		t.Fatalf("run whose target appeared after its checks: %v", err)
	}
	if st.Load != restore.LoadSnapshot || !strings.Contains(st.LoadReason, "cut before its _meta") {
		t.Errorf("load %q (%s), want the earlier attempt's restore adopted", st.Load, st.LoadReason)
	}
	sameDocs(t, docsOf(t, c, target), expected(sc, restore.ModeMerge, restore.PreferOriginal))
	invariant(t, c, st)
	if meta := metaOf(t, c, target); meta["run_id"] != "late-1" {
		t.Errorf("adopted target's _meta %v, want run id late-1", meta)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
