package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/esrestore/esrestore/fixtures"
	"github.com/esrestore/esrestore/fixtures/estest"
	"github.com/esrestore/esrestore/report"
)

// TestBadDumpLinesFinish: a dump whose lines the restore records as
// failures (a repeated _id, a line that is not JSON, one without _id, one
// not valid UTF-8) never blocks the run: the diff skips the same lines,
// the run finishes with exit 3 for the failed reason, the failures are
// listed, and a rerun gives the same.
func TestBadDumpLinesFinish(t *testing.T) {
	es, sc := lossCluster(t, 200)
	dir := t.TempDir()
	good := writeDump(t, dir, "good.ndjson", sc.Complete)
	b, err := os.ReadFile(strings.TrimPrefix(good, "file://"))
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	bad := string(b) + first + "\n" + // a repeated _id
		"{\"_id\":\"cut\",\"_source\":{\"a\":\n" + // not JSON
		`{"_source":{"a":1}}` + "\n" + // no _id
		"{\"_id\":\"utf\",\"_source\":{\"a\":\"\xff\"}}\n" // not UTF-8
	p := filepath.Join(dir, "bad.ndjson")
	if err := os.WriteFile(p, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	c := newCLI(t)
	var counts []string
	for _, id := range []string{"bad1", "bad2"} {
		code := c.run(t.Context(), runArgs(es, out, id, "--source", "file://"+p, "--target", "documents_"+id, "--prefer", "source")...)
		if code != exitFailOn {
			t.Fatalf("%s: exit %d, want 3\n%s", id, code, c.stderr.String())
		}
		s := readSummary(t, out, "documents", id)
		if !s.Complete || s.Restore == nil || s.Restore.Failed != 4 || s.Restore.Duplicates != 1 {
			t.Fatalf("%s: complete %v restore %+v, want 4 failed, 1 duplicate", id, s.Complete, s.Restore)
		}
		if len(s.Attention) != 1 || !strings.Contains(s.Attention[0], "4 documents failed to restore") {
			t.Errorf("%s: attention %v, want the failed reason", id, s.Attention)
		}
		if _, ok := s.Objects["failures"]; !ok || s.Objects["failures"].Lines != 4 {
			t.Errorf("%s: failures object %+v, want 4 lines", id, s.Objects["failures"])
		}
		if s.Verdict.Status != report.StatusReview {
			t.Errorf("%s: verdict %+v", id, s.Verdict)
		}
		counts = append(counts, mustJSON(t, []any{s.Outcome, s.Loss}))
	}
	if counts[0] != counts[1] {
		t.Errorf("the rerun differs: %s, then %s", counts[0], counts[1])
	}

	// A dry run has no restore to fail them: the verdict does.
	code := c.run(t.Context(), runArgs(es, out, "bad3", "--source", "file://"+p, "--dry-run", "--prefer", "source")...)
	if code != exitFailOn {
		t.Fatalf("dry run: exit %d, want 3\n%s", code, c.stderr.String())
	}
	if s := readSummary(t, out, "documents", "bad3"); s.DumpBadLines != 4 || len(s.Attention) != 1 || !strings.Contains(s.Attention[0], "4 dump lines") {
		t.Errorf("dry run: %d bad lines, attention %v", s.DumpBadLines, s.Attention)
	}
}

// TestDryRunChecksSource: a dry run applies a run's checks to its source:
// an empty source is exit 2 unless --allow-empty-source, a missing dump
// exit 2; with the original a dump as well as in a cluster.
func TestDryRunChecksSource(t *testing.T) {
	es, sc := lossCluster(t, 100)
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.ndjson")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	es.LoadDocs(t, "empty_index", nil, 1)
	orig := writeDump(t, dir, "documents.ndjson", sc.Original)
	out := t.TempDir()
	c := newCLI(t)
	offline := []string{"run", "--dry-run", "--original", orig, "--environment", "test", "--output", "file://" + out, "--progress", "0"}
	for _, tt := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"empty dump", withFlags(runArgs(es, out, "dry1"), "--dry-run", "--source", "file://"+empty), exitUsage,
			[]string{"has no line", "--allow-empty-source"}},
		{"empty dump allowed", withFlags(runArgs(es, out, "dry2"), "--dry-run", "--source", "file://"+empty, "--allow-empty-source",
			"--fail-on", "none"), exitOK, nil},
		{"missing dump", withFlags(runArgs(es, out, "dry3"), "--dry-run", "--source", "file://"+filepath.Join(dir, "nope.ndjson")), exitUsage,
			[]string{"nope.ndjson"}},
		{"empty index", withFlags(runArgs(es, out, "dry4"), "--dry-run", "--source", "index:empty_index"), exitUsage,
			[]string{"empty_index", "has no document"}},
		{"offline empty dump", withFlags(offline, "--run-id", "dry5", "--source", "file://"+empty), exitUsage,
			[]string{"has no line"}},
		{"offline missing dump", withFlags(offline, "--run-id", "dry6", "--source", "file://"+filepath.Join(dir, "nope.ndjson")), exitUsage,
			[]string{"nope.ndjson"}},
		{"dump original, empty index", withFlags(offline, "--run-id", "dry7", "--source", "index:empty_index", "--es-url", es.URL), exitUsage,
			[]string{"empty_index", "has no document"}},
		{"dump original, index source", withFlags(offline, "--run-id", "dry8", "--source", "index:documents", "--es-url", es.URL,
			"--fail-on", "none"), exitOK, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code := c.run(t.Context(), tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\n%s", code, tt.code, c.stderr.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(c.text(), w) {
					t.Errorf("stderr does not say %q:\n%s", w, c.stderr.String())
				}
			}
		})
	}
}

// countQuery counts the documents of index a query matches: a recount of
// the target independent of the job's own numbers.
func countQuery(t *testing.T, es *estest.Cluster, index, query string) int64 {
	t.Helper()
	estest.MustDo(t, es.Client(), esapi.IndicesRefreshRequest{Index: []string{index}})
	b := estest.MustDo(t, es.Client(), esapi.CountRequest{Index: []string{index}, Body: strings.NewReader(query)})
	var c struct {
		Count int64 `json:"count"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c.Count
}

// idsOf is the set of ids of docs.
func idsOf(docs []fixtures.Doc) map[string]bool {
	out := map[string]bool{}
	for _, d := range docs {
		out[d.ID] = true
	}
	return out
}

// TestEverydaySetups: the operators' everyday setups are decided before
// the first write: exit 2 in the checks for a snapshot index that is not
// the original's (unless --source-index names it, and then the verdict
// says so), a closed or missing original, source index or repository, a
// filtered alias as the original; each with the words an operator acts
// on. On the real node with ESRESTORE_TEST_ES_URL or ESRESTORE_TEST_REAL.
func TestEverydaySetups(t *testing.T) {
	es, sc := lossCluster(t, 200)
	c := es.Client()
	// Another index, in another snapshot of the same repository with the
	// original: a snapshot holding both, as backups often do.
	other := fixtures.Commons(60, 99)
	for i := range other {
		other[i].ID = fmt.Sprintf("other-%d", i)
	}
	es.LoadDocs(t, "other", other, 1)
	estest.MustDo(t, c, esapi.SnapshotCreateRequest{Repository: "backups", Snapshot: "with-other",
		Body: strings.NewReader(`{"indices":"documents,other","include_global_state":false}`), WaitForCompletion: ptr(true)})
	es.LoadDocs(t, "closed1", sc.Complete[:10], 1)
	estest.MustDo(t, c, esapi.IndicesCloseRequest{Index: []string{"closed1"}})
	estest.MustDo(t, c, esapi.IndicesUpdateAliasesRequest{Body: strings.NewReader(
		`{"actions":[{"add":{"index":"documents","alias":"filtered","filter":{"term":{"visibility":"public"}}}}]}`)})

	out := t.TempDir()
	cl := newCLI(t)
	for i, tt := range []struct {
		name string
		args []string
		cmd  string // "check" runs the check command with the same flags
		code int
		want []string
	}{
		{"another index of the snapshot", []string{"--source", "snapshot:backups/with-other/other"}, "", exitUsage,
			[]string{`index "other" is not the original "documents"`, "--source-index"}},
		{"another index, checked", []string{"--source", "snapshot:backups/with-other/other"}, "check", exitUsage,
			[]string{`index "other" is not the original "documents"`}},
		{"--source-index names another index than /INDEX", []string{"--source", "snapshot:backups/with-other/other", "--source-index", "documents2"}, "", exitUsage,
			[]string{`source index "documents2" is named on purpose, but the source reads "other"`}},
		{"--source-index for the original's own index", []string{"--source", "snapshot:backups/with-other", "--source-index", "documents"}, "", exitUsage,
			[]string{"the original's own index"}},
		{"--source-index with an index source", []string{"--source", "index:other", "--source-index", "other"}, "", exitUsage,
			[]string{"--source-index: only for a snapshot source"}},
		{"closed original", []string{"--original", "closed1", "--target", "closed1_restored"}, "", exitUsage,
			[]string{`original index "closed1": index is closed`, "_open"}},
		{"closed original, checked", []string{"--original", "closed1", "--target", "closed1_restored"}, "check", exitUsage,
			[]string{`original index "closed1": index is closed`}},
		{"closed source index", []string{"--source", "index:closed1"}, "", exitUsage,
			[]string{`source index "closed1": index is closed`}},
		{"missing source index", []string{"--source", "index:nope"}, "", exitUsage,
			[]string{`source index "nope"`, "not found"}},
		{"missing repository", []string{"--source", "snapshot:nope/before-loss"}, "", exitUsage,
			[]string{`repository "nope"`, "source not found"}},
		{"missing snapshot", []string{"--source", "snapshot:backups/nope"}, "", exitUsage,
			[]string{`snapshot "nope"`, "source not found"}},
		{"filtered alias", []string{"--original", "filtered", "--target", "filtered_restored"}, "", exitUsage,
			[]string{`original "filtered" is an alias of index "documents" with the filter`, `"visibility":"public"`}},
		{"filtered alias, checked", []string{"--original", "filtered", "--target", "filtered_restored"}, "check", exitUsage,
			[]string{`with the filter`}},
		{"filtered alias, dry run", []string{"--original", "filtered", "--target", "filtered_restored", "--dry-run"}, "", exitUsage,
			[]string{`with the filter`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := runArgs(es, out, fmt.Sprintf("s%d", i), tt.args...)
			if tt.cmd != "" {
				// check takes the run's flags but --dry-run and --progress.
				args[0] = tt.cmd
				at := slices.Index(args, "--progress")
				args = slices.Delete(args, at, at+2)
			}
			code := cl.run(t.Context(), args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\n%s", code, tt.code, cl.stderr.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(cl.text(), w) {
					t.Errorf("stderr does not say %q:\n%s", w, cl.stderr.String())
				}
			}
			for _, idx := range []string{"documents_restored", "closed1_restored", "filtered_restored"} {
				if indexExists(t, es, idx) {
					t.Errorf("the checks failed but %s was created", idx)
				}
			}
		})
	}

	t.Run("ESRESTORE_SOURCE_INDEX", func(t *testing.T) {
		cl.vars["ESRESTORE_SOURCE_INDEX"] = "documents2"
		defer delete(cl.vars, "ESRESTORE_SOURCE_INDEX")
		code := cl.run(t.Context(), runArgs(es, out, "s-env", "--source", "snapshot:backups/with-other/other")...)
		if code != exitUsage || !strings.Contains(cl.text(), `source index "documents2" is named on purpose, but the source reads "other"`) {
			t.Errorf("exit %d, want 2 naming the variable's index\n%s", code, cl.stderr.String())
		}
	})
	t.Run("--source-index restores another index on purpose", func(t *testing.T) {
		code := cl.run(t.Context(), runArgs(es, out, "s-named", "--source", "snapshot:backups/with-other/other",
			"--source-index", "other", "--target", "documents_named", "--fail-on", "source-index")...)
		if code != exitFailOn {
			t.Fatalf("exit %d, want 3\n%s", code, cl.stderr.String())
		}
		s := readSummary(t, out, "documents", "s-named")
		if s.SourceIndex != "other" || len(s.Attention) != 1 || !strings.Contains(s.Attention[0], `the snapshot's index "other", not the original's`) {
			t.Errorf("summary source_index %q attention %v", s.SourceIndex, s.Attention)
		}
		// Independent recount: the original's documents and other's.
		want := idsOf(sc.Original)
		for id := range idsOf(other) {
			want[id] = true
		}
		if got := countQuery(t, es, "documents_named", `{"query":{"match_all":{}}}`); got != int64(len(want)) {
			t.Errorf("target holds %d documents, want %d", got, len(want))
		}
		if got := countQuery(t, es, "documents_named", `{"query":{"ids":{"values":["other-0","other-59"]}}}`); got != 2 {
			t.Errorf("target holds %d of other's documents other-0 and other-59, want 2", got)
		}
	})
}

func ptr[T any](v T) *T { return &v }

// TestSourceExcludes: fields the original's mapping leaves out of _source
// are named before the run with the documents holding each; a load
// through _bulk cannot copy them and the verdict's source-excludes reason
// (in the default --fail-on) says so with the counts, while a snapshot
// restored as the target keeps them. The target is recounted with exists
// queries, not from the job's numbers.
func TestSourceExcludes(t *testing.T) {
	es, _ := lossCluster(t, 20) // for its repository "backups"
	c := es.Client()
	mapping := `{"settings":{"number_of_shards":2,"number_of_replicas":0},"mappings":{"_source":{"excludes":["secret.*"]},` +
		`"properties":{"secret":{"properties":{"pin":{"type":"keyword"}}},"title":{"type":"keyword"}}}}`
	var bulk strings.Builder
	holding := 0
	for i := range 100 {
		doc := fmt.Sprintf(`{"title":"t%d"}`, i)
		if i%2 == 0 {
			doc = fmt.Sprintf(`{"title":"t%d","secret":{"pin":"p%d"}}`, i, i)
			holding++
		}
		fmt.Fprintf(&bulk, "{\"index\":{\"_id\":\"d%d\"}}\n%s\n", i, doc)
	}
	for _, idx := range []string{"ex", "ex-copy"} {
		estest.MustDo(t, c, esapi.IndicesCreateRequest{Index: idx, Body: strings.NewReader(mapping)})
		estest.MustDo(t, c, esapi.BulkRequest{Index: idx, Body: strings.NewReader(bulk.String()), Refresh: "true"})
	}
	estest.MustDo(t, c, esapi.SnapshotCreateRequest{Repository: "backups", Snapshot: "ex-snap",
		Body: strings.NewReader(`{"indices":"ex","include_global_state":false}`), WaitForCompletion: ptr(true)})
	// The loss: ten documents, five of them holding the hidden field.
	var del strings.Builder
	for i := range 10 {
		fmt.Fprintf(&del, "{\"delete\":{\"_id\":\"d%d\"}}\n", i)
	}
	estest.MustDo(t, c, esapi.BulkRequest{Index: "ex", Body: strings.NewReader(del.String()), Refresh: "true"})
	const exists = `{"query":{"exists":{"field":"secret.*"}}}`
	inOriginal := countQuery(t, es, "ex", exists)
	if inOriginal != int64(holding-5) {
		t.Fatalf("the original holds secret.* in %d documents, want %d", inOriginal, holding-5)
	}

	out := t.TempDir()
	cl := newCLI(t)
	base := func(runID, target string, extra ...string) []string {
		return runArgs(es, out, runID, append([]string{"--original", "ex", "--target", target}, extra...)...)
	}

	args := base("x0", "ex_checked", "--source", "index:ex-copy")
	args[0] = "check"
	at := slices.Index(args, "--progress")
	args = slices.Delete(args, at, at+2)
	if code := cl.run(t.Context(), args...); code != exitOK ||
		!strings.Contains(cl.text(), "leaves fields out of _source") || !strings.Contains(cl.stderr.String(), "secret.*") {
		t.Errorf("check: exit %d, want 0 naming the hidden fields\n%s", code, cl.stderr.String())
	}

	code := cl.run(t.Context(), base("x1", "ex_bulk", "--source", "index:ex-copy")...)
	if code != exitFailOn {
		t.Fatalf("bulk load: exit %d, want 3\n%s", code, cl.stderr.String())
	}
	s := readSummary(t, out, "ex", "x1")
	if len(s.Attention) != 1 || !strings.Contains(s.Attention[0], fmt.Sprintf("secret.* (%d documents in the original, 0 in the target)", inOriginal)) {
		t.Errorf("attention %v, want the source-excludes reason with its counts", s.Attention)
	}
	if got := countQuery(t, es, "ex_bulk", exists); got != 0 {
		t.Errorf("a _bulk copy holds secret.* in %d documents, want 0", got)
	}
	if got := countQuery(t, es, "ex_bulk", `{"query":{"match_all":{}}}`); got != 100 {
		t.Errorf("the target holds %d documents, want 100", got)
	}

	code = cl.run(t.Context(), base("x2", "ex_snap", "--source", "snapshot:backups/ex-snap")...)
	if code != exitOK {
		t.Fatalf("snapshot as the target: exit %d, want 0\n%s", code, cl.stderr.String())
	}
	s = readSummary(t, out, "ex", "x2")
	if s.Restore == nil || s.Restore.Load != "snapshot-as-target" || len(s.SourceExcludes) != 1 || s.SourceExcludes[0].Target == nil {
		t.Fatalf("restore %+v source_excludes %+v", s.Restore, s.SourceExcludes)
	}
	got := countQuery(t, es, "ex_snap", exists)
	if got != int64(holding) || *s.SourceExcludes[0].Target != got {
		t.Errorf("the snapshot restored as the target holds secret.* in %d documents (summary %d), want %d", got, *s.SourceExcludes[0].Target, holding)
	}
	for _, r := range s.Verdict.Reasons {
		if r.Kind == report.ReasonSourceExcludes {
			t.Errorf("a target that kept the hidden fields has the reason %q", r.Text)
		}
	}
}

// TestDuplicateIDAcrossRoutings: an _id the original holds under two
// routings (custom routing allows it) is found before the first write
// and named, with both routings, as a failure of that document; the run
// finishes (exit 3, failed), never with "document counts do not add up".
// The target is recounted by queries.
func TestDuplicateIDAcrossRoutings(t *testing.T) {
	es, sc := lossCluster(t, 200)
	body := "{\"index\":{\"_id\":\"dup\",\"routing\":\"a\"}}\n{\"title\":\"one\"}\n" +
		"{\"index\":{\"_id\":\"dup\",\"routing\":\"c\"}}\n{\"title\":\"two\"}\n"
	estest.MustDo(t, es.Client(), esapi.BulkRequest{Index: "documents", Body: strings.NewReader(body), Refresh: "true"})
	if n := countQuery(t, es, "documents", `{"query":{"ids":{"values":["dup"]}}}`); n != 2 {
		t.Fatalf("the original holds %d copies of dup, want 2 (two shards)", n)
	}
	// A snapshot that holds both copies too, restored as the target.
	estest.MustDo(t, es.Client(), esapi.SnapshotCreateRequest{Repository: "backups", Snapshot: "with-dup",
		Body: strings.NewReader(`{"indices":"documents","include_global_state":false}`), WaitForCompletion: ptr(true)})
	want := idsOf(sc.Original)
	for id := range idsOf(sc.Complete) {
		want[id] = true
	}
	out := t.TempDir()
	c := newCLI(t)
	for _, tt := range []struct {
		name, runID string
		extra       []string
		dry         bool
		failed      int64
	}{
		{"reconcile", "dup1", nil, false, 2},
		{"passes", "dup2", []string{"--strategy", "passes"}, false, 2},
		{"dry run", "dup3", []string{"--dry-run"}, true, 0},
		// The target restored from the snapshot loses the snapshot's two
		// copies, and the original's two fail.
		{"snapshot holding the id", "dup4", []string{"--source", "snapshot:backups/with-dup"}, false, 4},
	} {
		t.Run(tt.name, func(t *testing.T) {
			target := "documents_" + tt.runID
			code := c.run(t.Context(), runArgs(es, out, tt.runID, append([]string{"--target", target, "--prefer", "source"}, tt.extra...)...)...)
			if code != exitFailOn {
				t.Fatalf("exit %d, want 3\n%s", code, c.stderr.String())
			}
			s := readSummary(t, out, "documents", tt.runID)
			if len(s.Attention) != 1 || !strings.Contains(s.Attention[0], `"dup" under routings "a" and "c"`) {
				t.Errorf("attention %v, want the failed reason naming dup and its routings", s.Attention)
			}
			if strings.Contains(c.stderr.String(), "do not add up") {
				t.Errorf("a count mismatch was reported:\n%s", c.stderr.String())
			}
			if tt.dry {
				if indexExists(t, es, target) {
					t.Error("the dry run created the target")
				}
				return
			}
			if s.Restore.Failed != tt.failed {
				t.Errorf("restore failed %d, want %d (each copy of dup)", s.Restore.Failed, tt.failed)
			}
			fails := string(gunzipFile(t, filepath.Join(out, "documents", tt.runID, "failures.ndjson.gz")))
			if strings.Count(fails, `"duplicate_id_routings"`) != int(tt.failed) || !strings.Contains(fails, `routings \"a\" and \"c\"`) {
				t.Errorf("failures do not name dup's copies and routings:\n%s", fails)
			}
			if n := countQuery(t, es, target, `{"query":{"ids":{"values":["dup"]}}}`); n != 0 {
				t.Errorf("the target holds %d copies of dup, want none", n)
			}
			n, w := countQuery(t, es, target, `{"query":{"match_all":{}}}`), int64(len(want))
			if tt.runID == "dup4" {
				w = int64(len(sc.Original)) // the backup is the original now
			}
			if n != w {
				t.Errorf("the target holds %d documents, want %d (original and backup)", n, w)
			}
		})
	}
}
