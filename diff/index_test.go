package diff

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
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
)

func load(t testing.TB, es *estest.Cluster, index string, docs []fixtures.Doc, shards int) {
	t.Helper()
	es.LoadDocs(t, index, docs, shards)
}

// dumpOf writes docs as an NDJSON dump side.
func dumpOf(name string, docs []fixtures.Doc) Side {
	var b []byte
	for i, d := range docs {
		b = dump.AppendLine(b, dump.Doc{ID: d.ID, Routing: d.Routing, Source: d.Source, Line: i + 1})
	}
	return stringSide(name, string(b))
}

func TestIndexSubset(t *testing.T) {
	es := estest.New(t)
	var four []fixtures.Doc
	for i := 1; i <= 4; i++ {
		four = append(four, fixtures.Doc{ID: fmt.Sprint(i), Source: fmt.Appendf(nil, `{"id":"%d"}`, i)})
	}
	load(t, es, "four", four, 3)
	load(t, es, "one", four[:1], 3)
	c := es.Client()
	tests := []struct {
		name       string
		orig, rest string
		change     string
		want       Counts
	}{
		{"removed", "four", "one", ChangeRemoved, Counts{Outcome: Outcome{Original: 4, Target: 1, Unchanged: 1, Removed: 3}, Fields: &Fields{Paths: []FieldStat{}, Transitions: []Transition{}}, Ignored: []string{}}},
		{"added", "one", "four", ChangeAdded, Counts{Outcome: Outcome{Original: 1, Target: 4, Unchanged: 1, Added: 3}, Fields: &Fields{Paths: []FieldStat{}, Transitions: []Transition{}}, Ignored: []string{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Page size 1 and 2 resolve the misses while scanning, the
			// default at the end of each pass.
			for _, v := range []struct{ workers, page int }{{1, 0}, {4, 0}, {1, 1}, {2, 2}} {
				report, counts := runDiff(t, IndexSide(c, tt.orig), IndexSide(c, tt.rest), Options{Workers: v.workers, PageSize: v.page})
				got := classes(parseReport(t, report))
				if strings.Join(got[tt.change], ",") != "2,3,4" || len(got) != 1 {
					t.Errorf("%+v: got %v, want %s 2,3,4 only", v, got, tt.change)
				}
				if g, w := countsJSON(t, counts), countsJSON(t, tt.want); g != w {
					t.Errorf("%+v: got counts %s, want %s", v, g, w)
				}
			}
		})
	}
}

// restoreSnapshot restores the scenario's snapshot under a new name through
// the client, as esrestore's snapshot source does.
func restoreSnapshot(t testing.TB, c *elasticsearch.Client, repo, snap, index, target string) {
	t.Helper()
	wait := true
	body := fmt.Sprintf(`{"indices":%q,"rename_pattern":"(.+)","rename_replacement":%q,"include_aliases":false}`, index, target)
	estest.MustDo(t, c, esapi.SnapshotRestoreRequest{Repository: repo, Snapshot: snap, Body: strings.NewReader(body), WaitForCompletion: &wait})
}

func TestCommonsLossScenario(t *testing.T) {
	es := estest.New(t)
	sc := fixtures.NewScenario(2000, 0.02, 7)
	es.LoadScenario(t, "documents", "backups", "before-loss", sc, 3)
	c := es.Client()
	restoreSnapshot(t, c, "backups", "before-loss", "documents", "restored_documents")

	report, counts := runDiff(t, IndexSide(c, "documents"), IndexSide(c, "restored_documents"), Options{Workers: 1})
	lines := parseReport(t, report)
	got := classes(lines)
	if !slices.Equal(got[ChangeAdded], sc.Lost) {
		t.Errorf("added: got %d ids, want the %d lost ones\ngot  %v\nwant %v", len(got[ChangeAdded]), len(sc.Lost), got[ChangeAdded], sc.Lost)
	}
	var stripped []string
	for id := range sc.Stripped {
		stripped = append(stripped, id)
	}
	slices.Sort(stripped)
	// The snapshot puts the stripped fields back and overwrites nothing.
	if !slices.Equal(got[ChangeRecovered], stripped) {
		t.Errorf("recovered: got %v, want the stripped %v", got[ChangeRecovered], stripped)
	}
	if len(got[ChangeOverwritten]) != 0 {
		t.Errorf("overwritten: got %v, want none", got[ChangeOverwritten])
	}
	if len(got[ChangeRemoved]) != 0 {
		t.Errorf("removed: got %v, want none", got[ChangeRemoved])
	}
	want := Outcome{Original: int64(len(sc.Original)), Target: int64(len(sc.Complete)), Unchanged: int64(len(sc.Original) - len(stripped)),
		Recovered: int64(len(stripped)), Added: int64(len(sc.Lost))}
	if counts.Outcome != want || counts.Loss != nil || len(counts.Ignored) != 0 {
		t.Errorf("got counts %s, want outcome %+v and no loss", countsJSON(t, counts), want)
	}
	// Every stripped path is counted as recovered, once per document.
	recoveredOps := map[string]int64{}
	for _, id := range stripped {
		for _, p := range sc.Stripped[id] {
			recoveredOps[pathPattern(p)]++
		}
	}
	for _, f := range counts.Fields.Paths {
		if f.Class != FieldRecovered || f.Replace+f.Remove != 0 || f.Add != recoveredOps[f.Path] {
			t.Errorf("field row %+v, want recovered with %d adds", f, recoveredOps[f.Path])
		}
		delete(recoveredOps, f.Path)
	}
	if len(recoveredOps) != 0 && counts.Fields.Other.Add == 0 {
		t.Errorf("stripped paths not counted by field: %v", recoveredOps)
	}

	// The patches put the stripped fields back, and only those.
	orig := map[string][]byte{}
	for _, d := range sc.Original {
		orig[d.ID] = d.Source
	}
	complete := map[string][]byte{}
	for _, d := range sc.Complete {
		complete[d.ID] = d.Source
	}
	for _, l := range lines {
		switch l.Change {
		case ChangeRecovered:
			patched, err := applyPatch(t, decodeJSON(t, orig[l.ID]), l.Patch)
			if err != nil {
				t.Fatalf("%s: %v", l.ID, err)
			}
			if !semanticEqual(patched, decodeJSON(t, complete[l.ID])) {
				t.Errorf("%s: the patch does not give back the complete document", l.ID)
			}
			var paths []string
			for _, op := range decodeJSON(t, l.Patch).([]any) {
				paths = append(paths, op.(map[string]any)["path"].(string))
			}
			if !slices.Equal(paths, sc.Stripped[l.ID]) {
				t.Errorf("%s: patch paths %v, want the stripped %v", l.ID, paths, sc.Stripped[l.ID])
			}
		case ChangeAdded:
			if !bytes.Equal(l.Restored, complete[l.ID]) {
				t.Errorf("%s: added document is not the snapshot's bytes", l.ID)
			}
		}
	}

	// Byte-identical with more workers, with every line spilled, and with
	// the original given as a dump instead of an index.
	variants := []struct {
		name string
		orig Side
		opt  Options
	}{
		{"workers 4", IndexSide(c, "documents"), Options{Workers: 4}},
		{"workers 3, page 7, spilled", IndexSide(c, "documents"), Options{Workers: 3, PageSize: 7, MemoryBudget: 1}},
		{"original as a dump", dumpOf("documents.ndjson", sc.Original), Options{Workers: 2}},
		{"original as a dump, spilled", dumpOf("documents.ndjson", sc.Original), Options{Workers: 2, MemoryBudget: 4096}},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			r, cnt := runDiff(t, v.orig, IndexSide(c, "restored_documents"), v.opt)
			if r != report {
				t.Errorf("report differs from workers 1 (%d bytes vs %d)", len(r), len(report))
			}
			if g, w := countsJSON(t, cnt), countsJSON(t, counts); g != w {
				t.Errorf("got counts %s, want %s", g, w)
			}
		})
	}
}

// TestIndexMatchesDump runs the golden cases with both sides loaded into
// indexes: the lookup join must write the same bytes as the merge join.
func TestIndexMatchesDump(t *testing.T) {
	es := estest.New(t)
	c := es.Client()
	for _, tt := range []struct {
		dir string
		opt Options
	}{
		{"classes", Options{}},
		{"classes", Options{Overlay: OverlayPreferOriginal}},
		{"classes", Options{Overlay: OverlayPreferSource}},
		{"classes", Options{Overlay: OverlaySource}},
		{"arrays", Options{}},
		{"ignore", Options{Ignore: []string{"/modified", "/tags/*/id"}}},
		{"unicode", Options{}},
		{"numbers", Options{}},
		{"routing", Options{}},
	} {
		name := tt.dir + string(tt.opt.Overlay)
		t.Run(name, func(t *testing.T) {
			var idx [2]string
			for i, side := range []string{"original", "restored"} {
				path := "testdata/cases/" + tt.dir + "/" + side + ".ndjson"
				idx[i] = strings.ToLower(strings.ReplaceAll(name, "-", "") + "_" + side)
				load(t, es, idx[i], readDumpDocs(t, path), 5)
			}
			wantReport, wantCounts := runDiff(t, fileSide("testdata/cases/"+tt.dir+"/original.ndjson"), fileSide("testdata/cases/"+tt.dir+"/restored.ndjson"), tt.opt)
			for _, workers := range []int{1, 4} {
				opt := tt.opt
				opt.Workers = workers
				report, counts := runDiff(t, IndexSide(c, idx[0]), IndexSide(c, idx[1]), opt)
				if report != wantReport {
					t.Errorf("workers %d: index report differs from the dump report:\n%s\nwant:\n%s", workers, report, wantReport)
				}
				if g, w := countsJSON(t, counts), countsJSON(t, wantCounts); g != w {
					t.Errorf("workers %d: got counts %s, want %s", workers, g, w)
				}
			}
		})
	}
}

func readDumpDocs(t testing.TB, path string) []fixtures.Doc {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := dump.NewReader(bytes.NewReader(b), path)
	if err != nil {
		t.Fatal(err)
	}
	var out []fixtures.Doc
	for {
		d, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fixtures.Doc{ID: d.ID, Routing: d.Routing, Source: d.Source})
	}
}

// twoIndexes loads n Commons documents into "orig" and the same with every
// tenth changed into "rest".
func twoIndexes(t testing.TB, es *estest.Cluster, n int) {
	t.Helper()
	docs := fixtures.Commons(n, 3)
	load(t, es, "orig", docs, 3)
	changed := make([]fixtures.Doc, len(docs))
	for i, d := range docs {
		changed[i] = d
		if i%10 == 0 {
			changed[i].Source = bytes.Replace(d.Source, []byte(`"visibility":"`), []byte(`"visibility":"x`), 1)
		}
	}
	load(t, es, "rest", changed, 3)
}

func TestScanFailuresAreErrors(t *testing.T) {
	es := estest.Fake(t)
	twoIndexes(t, es, 300)
	c := es.Client()
	tests := []struct {
		name   string
		faults fixtures.Faults
		orig   Side
		want   error
	}{
		{"shard failure", fixtures.Faults{Seed: 1, ShardFailure: 1}, IndexSide(c, "orig"), esscan.ErrShardFailure},
		{"shard failure, dump against index", fixtures.Faults{Seed: 1, ShardFailure: 1}, dumpOf("orig.ndjson", fixtures.Commons(300, 3)), esscan.ErrShardFailure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es.Fake.SetFaults(tt.faults)
			defer es.Fake.SetFaults(fixtures.Faults{})
			var buf bytes.Buffer
			_, err := Run(context.Background(), tt.orig, IndexSide(c, "rest"), &buf,
				Options{Workers: 2, PageSize: 20, Logger: quiet, TempDir: t.TempDir(), Retry: fastRetry})
			if !errors.Is(err, tt.want) || !errors.Is(err, retry.ErrBudget) {
				t.Fatalf("got error %v, want %v", err, tt.want)
			}
			if buf.Len() != 0 {
				t.Errorf("a failed diff wrote %d bytes of report", buf.Len())
			}
			if len(es.Fake.Injected()) == 0 {
				t.Error("no fault was injected")
			}
		})
	}
}

// fastRetry gives up quickly: a fault that persists is an error in
// milliseconds, not after the default five minutes.
var fastRetry = retry.Policy{Budget: 300 * time.Millisecond, Base: time.Millisecond, Cap: 10 * time.Millisecond}

// TestPassingScanFaultsAreRetried: a shard failure on some pages and an
// expired point in time are retried (the page read again, the point in
// time reopened), and the diff equals the one without faults.
func TestPassingScanFaultsAreRetried(t *testing.T) {
	es := estest.Fake(t)
	twoIndexes(t, es, 200)
	c := es.Client()
	want, wantCounts := runDiff(t, IndexSide(c, "orig"), IndexSide(c, "rest"), Options{PageSize: 25})
	for _, f := range []fixtures.Faults{{Seed: 2, ShardFailure: 0.3}, {ExpireContextsAfter: 3}} {
		es.Fake.SetFaults(f)
		got, gotCounts := runDiff(t, IndexSide(c, "orig"), IndexSide(c, "rest"),
			Options{PageSize: 25, Retry: retry.Policy{Base: time.Millisecond, Cap: 5 * time.Millisecond}})
		es.Fake.SetFaults(fixtures.Faults{})
		if (f.ExpireContextsAfter > 0) != (gotCounts.Rescans > 0) {
			t.Errorf("faults %+v: %d rescans", f, gotCounts.Rescans)
		}
		gotCounts.Rescans = 0
		if got != want || countsJSON(t, gotCounts) != countsJSON(t, wantCounts) {
			t.Errorf("faults %+v: diff differs from the one without faults (counts %+v, want %+v)", f, gotCounts, wantCounts)
		}
		if len(es.Fake.Injected()) == 0 {
			t.Errorf("faults %+v: none injected", f)
		}
	}
}

func TestRetriesRejectedRequests(t *testing.T) {
	es := estest.Fake(t)
	twoIndexes(t, es, 200)
	c := es.Client()
	want, wantCounts := runDiff(t, IndexSide(c, "orig"), IndexSide(c, "rest"), Options{PageSize: 25})
	// Eight attempts at a 25% failure rate: a request fails for good once
	// in 65,000, so the test does not flake whatever order the workers
	// draw the faults in.
	es.Fake.SetFaults(fixtures.Faults{Seed: 5, Reject429: 0.2, Unavailable503: 0.05, Endpoints: []string{"mget", "search"}})
	got, gotCounts := runDiff(t, IndexSide(c, "orig"), IndexSide(c, "rest"), Options{PageSize: 25, Retry: retry.Policy{Base: time.Millisecond, Cap: 5 * time.Millisecond}})
	inj := es.Fake.Injected()
	if inj["429"]+inj["503"] == 0 {
		t.Fatalf("no 429 or 503 injected: %v", inj)
	}
	if g, w := countsJSON(t, gotCounts), countsJSON(t, wantCounts); got != want || g != w {
		t.Errorf("with retried requests: counts %s, want %s; reports equal: %v", g, w, got == want)
	}
	// Every tenth document has a value replaced: overwritten.
	if o := wantCounts.Outcome; o.Overwritten != 20 || o.Recovered != 0 || o.Unchanged != 180 {
		t.Errorf("got %+v, want 20 overwritten and 180 unchanged", o)
	}
}

func TestCountMismatch(t *testing.T) {
	es := estest.New(t)
	docs := fixtures.Commons(50, 9)
	load(t, es, "orig", docs, 3)
	load(t, es, "rest", docs[:49], 3)
	c := es.Client()
	// The restored index stops refreshing, then gets the last document:
	// _mget sees it (real time), the point in time and _count do not.
	estest.MustDo(t, c, esapi.IndicesPutSettingsRequest{Index: []string{"rest"}, Body: strings.NewReader(`{"index":{"refresh_interval":"-1"}}`)})
	estest.MustDo(t, c, esapi.IndexRequest{Index: "rest", DocumentID: docs[49].ID, Body: bytes.NewReader(docs[49].Source)})
	var buf bytes.Buffer
	_, err := Run(context.Background(), IndexSide(c, "orig"), IndexSide(c, "rest"), &buf, Options{Logger: quiet})
	if !errors.Is(err, ErrCountMismatch) {
		t.Fatalf("got %v, want ErrCountMismatch", err)
	}
	if !strings.Contains(err.Error(), `50 documents of "orig" found in "rest", but 49 of "rest" found in "orig"`) {
		t.Errorf("error does not say what did not add up: %v", err)
	}
	if buf.Len() != 0 {
		t.Errorf("report written despite the error")
	}
}

func TestIndexRoutingChanged(t *testing.T) {
	es := estest.New(t)
	c := es.Client()
	load(t, es, "orig", []fixtures.Doc{
		{ID: "moved", Routing: "a", Source: []byte(`{"id":"moved"}`)},
		{ID: "unrouted", Source: []byte(`{"id":"unrouted"}`)},
		{ID: "same", Routing: "a", Source: []byte(`{"id":"same"}`)},
	}, 5)
	// Pick a routing that puts "moved" on another shard, so that _mget
	// with the original's routing misses it.
	var other string
	for _, r := range []string{"b", "c", "d", "e", "f", "g", "h", "i", "j", "k"} {
		load(t, es, "probe_"+r, []fixtures.Doc{{ID: "moved", Routing: r, Source: []byte(`{}`)}}, 5)
		res, err := esapi.GetRequest{Index: "probe_" + r, DocumentID: "moved", Routing: "a"}.Do(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode == 404 {
			other = r
			break
		}
	}
	if other == "" {
		t.Fatal("no routing lands on another shard")
	}
	load(t, es, "rest", []fixtures.Doc{
		{ID: "moved", Routing: other, Source: []byte(`{"id":"moved"}`)},
		{ID: "unrouted", Routing: other, Source: []byte(`{"id":"unrouted","x":1}`)},
		{ID: "same", Routing: "a", Source: []byte(`{"id":"same"}`)},
	}, 5)
	for _, dir := range []struct {
		name string
		a, b string
	}{{"forward", "orig", "rest"}, {"backward", "rest", "orig"}} {
		t.Run(dir.name, func(t *testing.T) {
			report, counts := runDiff(t, IndexSide(c, dir.a), IndexSide(c, dir.b), Options{Workers: 2})
			lines := parseReport(t, report)
			if len(lines) != 2 || lines[0].ID != "moved" || lines[1].ID != "unrouted" {
				t.Fatalf("got report %s, want moved and unrouted overwritten", report)
			}
			// A routing change overwrites, whatever the patch: "moved"
			// has none, "unrouted" an add one way and a remove the other.
			for _, l := range lines {
				if l.Change != ChangeOverwritten || l.Routing == nil {
					t.Errorf("%s: got %s (routing %v), want overwritten with routing", l.ID, l.Change, l.Routing != nil)
				}
			}
			if p := string(lines[0].Patch); p != "[]" {
				t.Errorf("moved: patch %s, want none", p)
			}
			if r := lines[0].Routing; r != nil && (r.Original == nil || r.Restored == nil || *r.Original == *r.Restored) {
				t.Errorf("moved: routing %+v", r)
			}
			want := Outcome{Original: 3, Target: 3, Unchanged: 1, Overwritten: 2, RoutingChanged: 2}
			if counts.Outcome != want || counts.Loss != nil {
				t.Errorf("got counts %s, want outcome %+v", countsJSON(t, counts), want)
			}
		})
	}
}

func TestCancelled(t *testing.T) {
	es := estest.New(t)
	twoIndexes(t, es, 100)
	c := es.Client()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, orig := range []Side{IndexSide(c, "orig"), dumpOf("orig.ndjson", fixtures.Commons(100, 3))} {
		var buf bytes.Buffer
		_, err := Run(ctx, orig, IndexSide(c, "rest"), &buf, Options{Logger: quiet})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s: got %v, want context.Canceled", orig.Name(), err)
		}
		if buf.Len() != 0 {
			t.Errorf("%s: report written after cancel", orig.Name())
		}
	}
}

func TestMissingIndex(t *testing.T) {
	es := estest.New(t)
	twoIndexes(t, es, 10)
	c := es.Client()
	for _, tt := range []struct{ orig, rest string }{{"nope", "rest"}, {"orig", "nope"}} {
		_, err := Run(context.Background(), IndexSide(c, tt.orig), IndexSide(c, tt.rest), io.Discard, Options{Logger: quiet})
		if !errors.Is(err, elastic.ErrIndexNotFound) || !strings.Contains(err.Error(), `"nope"`) {
			t.Errorf("%s vs %s: got %v, want ErrIndexNotFound naming the index", tt.orig, tt.rest, err)
		}
	}
}

// TestSkipIDsIndexes: an id held under two routings in both indexes is
// left out with SkipIDs, whether the original is read at an instant or
// not: the scans' counts, less what they left out, add up.
func TestSkipIDsIndexes(t *testing.T) {
	es := estest.New(t)
	docs := fixtures.Commons(50, 5)
	load(t, es, "o", docs, 3)
	load(t, es, "t", docs, 3)
	body := "{\"index\":{\"_id\":\"dup\",\"routing\":\"a\"}}\n{\"title\":\"one\"}\n{\"index\":{\"_id\":\"dup\",\"routing\":\"c\"}}\n{\"title\":\"two\"}\n"
	for _, idx := range []string{"o", "t"} {
		estest.MustDo(t, es.Client(), esapi.BulkRequest{Index: idx, Body: strings.NewReader(body), Refresh: "true"})
	}
	in := esscan.NewInstant(es.Client(), "o", esscan.InstantOptions{})
	defer in.Close()
	for name, orig := range map[string]Side{"index": IndexSide(es.Client(), "o"), "instant": IndexSideAt(es.Client(), in)} {
		c, err := Run(t.Context(), orig, IndexSide(es.Client(), "t"), io.Discard, Options{Logger: quiet, SkipIDs: []string{"dup"}})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if want := (Outcome{Original: 50, Target: 50, Unchanged: 50}); c.Outcome != want || c.Skipped != 4 {
			t.Errorf("%s: got %+v, %d skipped; want %+v, 4", name, c.Outcome, c.Skipped, want)
		}
	}
}
