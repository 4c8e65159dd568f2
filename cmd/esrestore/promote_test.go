package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/esrestore/esrestore/fixtures"
	"github.com/esrestore/esrestore/fixtures/estest"
	"github.com/esrestore/esrestore/promote"
)

// promoteCluster is a loss scenario whose original has a write alias
// "docs", restored by a run r1 whose report is under out.
func promoteCluster(t *testing.T, n int, runExtra ...string) (es *estest.Cluster, out string, sc fixtures.Scenario) {
	t.Helper()
	es, sc = lossCluster(t, n)
	estest.MustDo(t, es.Client(), esapi.IndicesUpdateAliasesRequest{Body: strings.NewReader(
		`{"actions":[{"add":{"index":"documents","alias":"docs","is_write_index":true}}]}`)})
	out = t.TempDir()
	c := newCLI(t)
	if code := c.run(t.Context(), runArgs(es, out, "r1", runExtra...)...); code != exitOK && code != exitFailOn {
		t.Fatalf("run: exit %d\n%s", code, c.stderr.String())
	}
	return es, out, sc
}

func promoteArgs(es *estest.Cluster, out string, extra ...string) []string {
	return withFlags([]string{"promote", "--es-url", es.URL, "--report", "file://" + filepath.Join(out, "documents", "r1", "summary.json"),
		"--progress", "0"}, extra...)
}

func rollbackArgs(es *estest.Cluster, out string, extra ...string) []string {
	return withFlags([]string{"rollback", "--es-url", es.URL, "--output", "file://" + out, "--original", "documents", "--run-id", "r1",
		"--progress", "0"}, extra...)
}

// aliasOf returns the indexes alias points at and whether the target is
// its write index.
func aliasOf(t *testing.T, es *estest.Cluster, alias string) map[string]map[string]any {
	t.Helper()
	res, err := esapi.IndicesGetAliasRequest{Name: []string{alias}}.Do(context.Background(), es.Client())
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]struct {
		Aliases map[string]map[string]any `json:"aliases"`
	}
	if res.StatusCode == 404 {
		return nil
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	m := map[string]map[string]any{}
	for idx, a := range out {
		m[idx] = a.Aliases[alias]
	}
	return m
}

func readRecord(t *testing.T, out string) promote.Record {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(out, "documents", "r1", promote.RecordName))
	if err != nil {
		t.Fatal(err)
	}
	var r promote.Record
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func put(t *testing.T, es *estest.Cluster, index, id, src string) {
	t.Helper()
	estest.MustDo(t, es.Client(), esapi.IndexRequest{Index: index, DocumentID: id, Body: strings.NewReader(src), Refresh: "true"})
}

func del(t *testing.T, es *estest.Cluster, index, id string) {
	t.Helper()
	estest.MustDo(t, es.Client(), esapi.DeleteRequest{Index: index, DocumentID: id, Refresh: "true"})
}

// TestPromoteCatchesUpAndRollsBack: writes, edits and deletes made to the
// original after the run reach the target through promote; a deletion of a
// document the report recovered does not; rollback moves the alias back
// and names the write the target took since.
func TestPromoteCatchesUpAndRollsBack(t *testing.T) {
	es, out, sc := promoteCluster(t, 300, "--prefer", "source")
	orig := readIndex(t, es, "documents")
	var unchanged []string
	for id := range orig {
		if _, stripped := sc.Stripped[id]; !stripped {
			unchanged = append(unchanged, id)
		}
	}
	slices.Sort(unchanged)
	var stripped []string
	for id := range sc.Stripped {
		stripped = append(stripped, id)
	}
	slices.Sort(stripped)

	// The live index goes on: 3 new, 2 edited, 2 deleted, and one of the
	// documents the report recovered deleted too.
	for _, id := range []string{"new-1", "new-2", "new-3"} {
		put(t, es, "docs", id, `{"title":"written after the run `+id+`"}`)
	}
	put(t, es, "documents", unchanged[0], `{"title":"edited after the run"}`)
	put(t, es, "documents", stripped[0], `{"title":"a recovered document edited after the run"}`)
	del(t, es, "documents", unchanged[1])
	del(t, es, "documents", unchanged[2])
	del(t, es, "documents", stripped[1])

	c := newCLI(t)
	if code := c.run(t.Context(), promoteArgs(es, out, "--dry-run")...); code != exitOK {
		t.Fatalf("dry run: exit %d\n%s", code, c.stderr.String())
	}
	var dry promote.Record
	if err := json.Unmarshal(c.stdout.Bytes(), &dry); err != nil {
		t.Fatalf("dry run stdout: %v\n%s", err, c.stdout.String())
	}
	if dry.State != promote.StateDryRun || dry.CatchUp == nil || !strings.Contains(string(dry.Actions), `"must_exist"`) {
		t.Fatalf("dry run record: %s", c.stdout.String())
	}
	if got := aliasOf(t, es, "docs"); len(got) != 1 || got["documents"] == nil {
		t.Fatalf("a dry run moved the alias: %v", got)
	}
	if _, err := os.Stat(filepath.Join(out, "documents", "r1", promote.RecordName)); !os.IsNotExist(err) {
		t.Fatalf("a dry run wrote promote.json: %v", err)
	}

	c.stderr.Reset()
	if code := c.run(t.Context(), promoteArgs(es, out, "--log-format", "json")...); code != exitOK {
		t.Fatalf("promote: exit %d\n%s", code, c.stderr.String())
	}
	// Once the summary is read, every record names the run, as the run's
	// own records do.
	promoted := false
	for _, line := range strings.Split(strings.TrimSpace(c.stderr.String()), "\n") {
		var r map[string]any
		if json.Unmarshal([]byte(line), &r) != nil || r["msg"] != "promoted" {
			continue
		}
		promoted = true
		if r["run_id"] != "r1" || r["environment"] != "TEST" {
			t.Errorf("promote's record %s: want run_id r1 and environment TEST", line)
		}
	}
	if !promoted {
		t.Errorf("no JSON record \"promoted\" in\n%s", c.stderr.String())
	}
	if got := aliasOf(t, es, "docs"); len(got) != 1 || got["documents_restored"] == nil || got["documents_restored"]["is_write_index"] != true {
		t.Fatalf("alias after promote: %v, want documents_restored alone, its write index", got)
	}
	tgt := readIndex(t, es, "documents_restored")
	live := readIndex(t, es, "documents")
	for _, id := range []string{"new-1", "new-2", "new-3", unchanged[0], stripped[0]} {
		if b, _ := json.Marshal(tgt[id]); string(b) != mustJSON(t, live[id]) {
			t.Errorf("target %s = %s, want the live %s", id, b, mustJSON(t, live[id]))
		}
	}
	for _, id := range []string{unchanged[1], unchanged[2]} {
		if _, ok := tgt[id]; ok {
			t.Errorf("target still has %s, deleted from the original after the run", id)
		}
	}
	if _, ok := tgt[stripped[1]]; !ok {
		t.Errorf("target lost %s: the report recovered it, the original's deletion must not remove it", stripped[1])
	}
	for _, id := range sc.Lost {
		if _, ok := tgt[id]; !ok {
			t.Errorf("target lost the recovered document %s", id)
		}
	}
	rec := readRecord(t, out)
	cu := rec.CatchUp
	if rec.State != promote.StatePromoted || cu == nil || cu.New != 3 || cu.Changed != 2 || cu.Deleted != 3 || cu.KeptRecovered != 1 ||
		cu.Superseded != 1 || cu.Indexed != 5 || cu.Removed != 2 || cu.Failed != 0 {
		t.Fatalf("record: state %s, catch-up %+v", rec.State, cu)
	}
	wantNote := "security is disabled"
	if es.Real() {
		// The real test node (tools/realnode) runs the server without
		// x-pack: no security REST handler is registered, and GET
		// /_security/_authenticate answers 405 (8.19.21) or 400 "no
		// handler found" (9.5.3), which promote records as no identity,
		// with the answer. A distribution with security disabled answers
		// 500 "Security is not enabled ...", as the stand-in does.
		wantNote = "no identity: who am I (GET /_security/_authenticate): 4"
	}
	if rec.Who.Environment != "TEST" || rec.Who.ES != nil || !strings.Contains(rec.Who.ESNote, wantNote) {
		t.Errorf("who: %+v", rec.Who)
	}
	if len(rec.Aliases) != 1 || rec.Aliases[0].Name != "docs" || rec.Aliases[0].From != "documents" || rec.Aliases[0].To != "documents_restored" {
		t.Errorf("aliases: %+v", rec.Aliases)
	}
	if want := filepath.Join(out, "documents", "r1", promote.RecordName); !strings.Contains(c.stdout.String(), want) {
		t.Errorf("stdout %q does not name %s", c.stdout.String(), want)
	}

	// A second promote finds the job done.
	if code := c.run(t.Context(), promoteArgs(es, out)...); code != exitOK {
		t.Fatalf("promote again: exit %d\n%s", code, c.stderr.String())
	}

	// Through the alias, the target takes a write; rollback says so.
	put(t, es, "docs", "after-switch", `{"title":"written to the target"}`)
	if code := c.run(t.Context(), rollbackArgs(es, out)...); code != exitOK {
		t.Fatalf("rollback: exit %d\n%s", code, c.stderr.String())
	}
	if got := aliasOf(t, es, "docs"); len(got) != 1 || got["documents"] == nil || got["documents"]["is_write_index"] != true {
		t.Fatalf("alias after rollback: %v, want documents alone, its write index", got)
	}
	rec = readRecord(t, out)
	if rec.State != promote.StateRolledBack || rec.Rollback == nil || rec.Rollback.LeftBehind.New != 1 ||
		rec.Rollback.LeftBehind.Changed != 0 || rec.Rollback.LeftBehind.Deleted != 0 || !slices.Contains(rec.Rollback.LeftBehind.Samples["new"], "after-switch") {
		t.Fatalf("rollback record: %+v", rec.Rollback)
	}
	if !strings.Contains(c.stderr.String(), "took 1 new") {
		t.Errorf("rollback does not say what it leaves behind:\n%s", c.stderr.String())
	}
	// Promoting a rolled-back run again is refused: the target moved on.
	if code := c.run(t.Context(), promoteArgs(es, out)...); code != exitUsage {
		t.Fatalf("promote after rollback: exit %d, want 2\n%s", code, c.stderr.String())
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestPromoteStopsOnFailedChecks: a tampered object, a changed target
// count and an unaccepted verdict each stop promote with exit 2 before
// any write.
func TestPromoteStopsOnFailedChecks(t *testing.T) {
	es, out, _ := promoteCluster(t, 200)
	dir := filepath.Join(out, "documents", "r1")
	c := newCLI(t)
	unmoved := func(name string) {
		t.Helper()
		if got := aliasOf(t, es, "docs"); len(got) != 1 || got["documents"] == nil {
			t.Fatalf("%s: the alias moved: %v", name, got)
		}
		if _, err := os.Stat(filepath.Join(dir, promote.RecordName)); !os.IsNotExist(err) {
			t.Fatalf("%s: promote.json written: %v", name, err)
		}
	}

	// The run's default --prefer original leaves stripped fields: the
	// verdict is review (not-recovered), which needs --accept.
	if code := c.run(t.Context(), promoteArgs(es, out)...); code != exitUsage {
		t.Fatalf("unaccepted verdict: exit %d, want 2\n%s", code, c.stderr.String())
	}
	if !strings.Contains(c.stderr.String(), "not accepted: not-recovered") {
		t.Errorf("the error does not name the reason:\n%s", c.stderr.String())
	}
	unmoved("unaccepted verdict")
	if code := c.run(t.Context(), promoteArgs(es, out, "--accept", "overwritten")...); code != exitUsage {
		t.Fatalf("another reason accepted: exit %d, want 2\n%s", code, c.stderr.String())
	}
	if code := c.run(t.Context(), promoteArgs(es, out, "--accept", "bogus")...); code != exitUsage {
		t.Fatalf("--accept bogus: exit %d, want 2\n%s", code, c.stderr.String())
	}

	// One byte of the diff changed.
	path := filepath.Join(dir, "diff.ndjson.gz")
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	bad := slices.Clone(good)
	bad[len(bad)/2] ^= 1
	if err := os.WriteFile(path, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	if code := c.run(t.Context(), promoteArgs(es, out, "--accept", "not-recovered")...); code != exitUsage {
		t.Fatalf("tampered diff: exit %d, want 2\n%s", code, c.stderr.String())
	}
	if !strings.Contains(c.stderr.String(), "object diff") || !strings.Contains(c.stderr.String(), "sha256") {
		t.Errorf("the error does not name the object:\n%s", c.stderr.String())
	}
	unmoved("tampered diff")
	if err := os.WriteFile(path, good, 0o644); err != nil {
		t.Fatal(err)
	}

	// The target took a document since the review.
	put(t, es, "documents_restored", "stray", `{"title":"not reviewed"}`)
	if code := c.run(t.Context(), promoteArgs(es, out, "--accept", "not-recovered")...); code != exitUsage {
		t.Fatalf("changed target: exit %d, want 2\n%s", code, c.stderr.String())
	}
	if !strings.Contains(c.text(), `target "documents_restored" holds`) {
		t.Errorf("the error does not name the count:\n%s", c.stderr.String())
	}
	unmoved("changed target")
	del(t, es, "documents_restored", "stray")

	// The wrong environment, and an alias that is not the original's.
	estest.MustDo(t, es.Client(), esapi.IndicesCreateRequest{Index: "other"})
	estest.MustDo(t, es.Client(), esapi.IndicesUpdateAliasesRequest{Body: strings.NewReader(`{"actions":[{"add":{"index":"other","alias":"elsewhere"}}]}`)})
	if code := c.run(t.Context(), promoteArgs(es, out, "--accept", "not-recovered", "--environment", "prod", "--alias", "elsewhere")...); code != exitUsage {
		t.Fatalf("wrong environment and alias: exit %d, want 2\n%s", code, c.stderr.String())
	}
	for _, want := range []string{"environment PROD: the report was made in TEST", `alias "elsewhere" points at [other]`} {
		if !strings.Contains(c.text(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, c.stderr.String())
		}
	}
	unmoved("wrong environment")

	// Rollback of a run never promoted.
	if code := c.run(t.Context(), rollbackArgs(es, out)...); code != exitUsage {
		t.Fatalf("rollback before promote: exit %d, want 2\n%s", code, c.stderr.String())
	}

	// Accepted, it promotes.
	if code := c.run(t.Context(), promoteArgs(es, out, "--accept", "not-recovered", "--block-writes")...); code != exitOK {
		t.Fatalf("accepted: exit %d\n%s", code, c.stderr.String())
	}
	rec := readRecord(t, out)
	if !slices.Equal(rec.Accepted, []string{"not-recovered"}) || rec.Summary.Verdict != "review" {
		t.Errorf("record: accepted %v, verdict %s", rec.Accepted, rec.Summary.Verdict)
	}
	if f := rec.Block; f == nil || !f.Set || !f.Removed {
		t.Errorf("--block-writes: record %+v, want the block set and removed", f)
	}
	put(t, es, "documents", "after-freeze", `{"title":"the original takes writes again"}`)
}

// TestPromoteSwitchIsAtomicUnderAReader: a reader querying the alias in a
// loop during promote never sees it on no index or on both.
func TestPromoteSwitchIsAtomicUnderAReader(t *testing.T) {
	es, out, _ := promoteCluster(t, 200, "--prefer", "source")
	put(t, es, "docs", "new-1", `{"title":"after the run"}`)
	origCount := int64(len(readIndex(t, es, "documents")))

	var stop atomic.Bool
	var wg sync.WaitGroup
	var mu sync.Mutex
	var bad []string
	seen := map[string]int{}
	counts := map[int64]int{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			res, err := esapi.IndicesGetAliasRequest{Name: []string{"docs"}}.Do(context.Background(), es.Client())
			if err != nil {
				continue
			}
			var m map[string]any
			json.NewDecoder(res.Body).Decode(&m) //nolint:errcheck // an empty map fails below
			res.Body.Close()
			var cnt struct {
				Count int64 `json:"count"`
			}
			cres, err := esapi.CountRequest{Index: []string{"docs"}}.Do(context.Background(), es.Client())
			if err != nil {
				continue
			}
			status := cres.StatusCode
			json.NewDecoder(cres.Body).Decode(&cnt) //nolint:errcheck // status says
			cres.Body.Close()
			mu.Lock()
			if len(m) != 1 || status != 200 {
				bad = append(bad, mustJSON(t, m))
			}
			for k := range m {
				seen[k]++
			}
			counts[cnt.Count]++
			mu.Unlock()
		}
	}()
	c := newCLI(t)
	const secret = "pw-never-shown"
	code := c.run(t.Context(), promoteArgs(es, out, "--es-username", "promoter", "--es-password", secret, "--log-level", "debug")...)
	stop.Store(true)
	wg.Wait()
	if code != exitOK {
		t.Fatalf("promote: exit %d\n%s", code, c.stderr.String())
	}
	tgtCount := int64(len(readIndex(t, es, "documents_restored")))
	if len(bad) > 0 {
		t.Fatalf("the reader saw the alias on no index or on several (%d times): %v", len(bad), bad[:min(3, len(bad))])
	}
	if seen["documents"] == 0 || len(seen) > 2 {
		t.Fatalf("the reader saw %v: it did not run across the switch", seen)
	}
	for n := range counts {
		if n != origCount && n != tgtCount {
			t.Errorf("the reader counted %d documents through the alias, want %d (original) or %d (target)", n, origCount, tgtCount)
		}
	}
	if got := aliasOf(t, es, "docs"); len(got) != 1 || got["documents_restored"] == nil {
		t.Fatalf("alias after promote: %v", got)
	}
	rec, err := os.ReadFile(filepath.Join(out, "documents", "r1", promote.RecordName))
	if err != nil {
		t.Fatal(err)
	}
	for what, text := range map[string]string{"stdout": c.stdout.String(), "stderr": c.stderr.String(), "promote.json": string(rec)} {
		if strings.Contains(text, secret) {
			t.Errorf("%s shows the password", what)
		}
	}
}

// TestPromoteREADMEListsItsFlags keeps the README's promote table true.
func TestPromoteREADMEListsItsFlags(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range append([]flagDef{reportFlags[0]}, promoteFlags...) {
		row := "| `--" + f.name + "` | `" + envName(f.name)
		if !strings.Contains(string(b), row) {
			t.Errorf("README has no table row starting %q", row)
		}
	}
}
