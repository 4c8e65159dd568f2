package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/esrestore/esrestore/diff"
	"github.com/esrestore/esrestore/fixtures"
	"github.com/esrestore/esrestore/fixtures/estest"
	"github.com/esrestore/esrestore/report"
)

// appAlias is the alias the application of decisionCluster writes through.
const appAlias = "documents-app"

// decisionCluster is the live-writes scenario as production makes it: the
// loss, then an application writing through its alias after the backup:
// edits, visibility flips, deletions on purpose and new documents.
func decisionCluster(t *testing.T, n int) (*estest.Cluster, fixtures.Scenario, fixtures.LiveChanges) {
	t.Helper()
	sc := fixtures.NewScenario(n, 0.05, 11)
	live, ch, err := sc.WithLiveWrites(fixtures.LiveWrites{Edits: 40, Flips: 20, Deletes: 10, New: 15}, 11)
	if err != nil {
		t.Fatal(err)
	}
	es := estest.New(t)
	es.LoadScenario(t, "documents", "backups", "before-loss", sc, 3)
	estest.MustDo(t, es.Client(), esapi.IndicesUpdateAliasesRequest{Body: strings.NewReader(
		`{"actions":[{"add":{"index":"documents","alias":"` + appAlias + `","is_write_index":true}}]}`)})

	// The application's writes: every document the live set holds with
	// other bytes than the loss left, and a delete for each deletion.
	before := map[string][]byte{}
	for _, d := range sc.Original {
		before[d.ID] = d.Source
	}
	var body bytes.Buffer
	for _, d := range live.Original {
		if b, ok := before[d.ID]; ok && bytes.Equal(b, d.Source) {
			continue
		}
		meta := map[string]any{"_id": d.ID}
		if d.Routing != "" {
			meta["routing"] = d.Routing
		}
		line, _ := json.Marshal(map[string]any{"index": meta})
		body.Write(line)
		body.WriteByte('\n')
		body.Write(d.Source)
		body.WriteByte('\n')
	}
	for _, id := range ch.Deleted {
		fmt.Fprintf(&body, `{"delete":{"_id":%q}}`+"\n", id)
	}
	res, err := esapi.BulkRequest{Index: appAlias, Body: &body, Refresh: "true"}.Do(t.Context(), es.Client())
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var answer struct {
		Errors bool `json:"errors"`
		Items  []map[string]struct {
			Status int `json:"status"`
		} `json:"items"`
	}
	if err := json.NewDecoder(res.Body).Decode(&answer); err != nil || res.IsError() || answer.Errors {
		t.Fatalf("application writes through %s: %s, errors %v, %v", appAlias, res.Status(), answer.Errors, err)
	}
	if want := len(ch.Edited) + len(ch.Flipped) + len(ch.Deleted) + len(ch.New); len(answer.Items) != want {
		t.Fatalf("application wrote %d items, want %d", len(answer.Items), want)
	}
	// What the application left is the scenario's live set.
	got, want := readIndex(t, es, "documents"), decodeDocs(t, live.Original)
	if len(got) != len(want) {
		t.Fatalf("the original holds %d documents after the application's writes, want %d", len(got), len(want))
	}
	for id, v := range want {
		if mustJSON(t, got[id]) != mustJSON(t, v) {
			t.Fatalf("document %q after the application's writes differs from the scenario's", id)
		}
	}
	return es, live, ch
}

// The reviewer's decision on the scenario an application made through its
// alias: what becomes public, which prefer was the better choice, what the
// lost documents look like, and leaving the deliberate deletions out.
func TestReviewerDecisionThroughAlias(t *testing.T) {
	es, sc, ch := decisionCluster(t, 2000)
	orig, backup := decodeDocs(t, sc.Original), decodeDocs(t, sc.Complete)
	out := t.TempDir()

	// --prefer source, watching what becomes public.
	c := newCLI(t)
	if code := c.run(t.Context(), runArgs(es, out, "source-watch", "--target", "documents_source",
		"--prefer", "source", "--watch", "/visibility=PUBLIC")...); code != exitFailOn {
		t.Fatalf("exit %d, want %d\n%s", code, exitFailOn, c.stderr.String())
	}
	s := readSummary(t, out, "documents", "source-watch")
	tgt := readIndex(t, es, "documents_source")
	// The profile stays in summary.json: every log record is a line a
	// container runtime keeps whole (Docker splits lines at 16 KiB).
	for i, line := range strings.Split(c.stderr.String(), "\n") {
		if len(line) >= 16<<10 {
			t.Errorf("log line %d is %d bytes: %.200s", i+1, len(line), line)
		}
	}

	// Recounted from the three sets: documents becoming PUBLIC, and the
	// transitions of the documents on both sides.
	ids := becomePublic(orig, tgt)
	public, publicLost := int64(len(ids)), int64(0)
	for _, id := range ids {
		if _, ok := orig[id]; !ok {
			publicLost++
		}
	}
	transitions := recountTransitions(t, orig, tgt)
	flips := 0
	for _, tr := range transitions {
		if tr.Path == "/visibility" {
			flips++
		}
	}
	if public == 0 || flips != 2 {
		t.Fatalf("recount: %d documents become PUBLIC, transitions %s; the scenario flips visibility both ways",
			public, compactTransitions(t, transitions))
	}
	if len(s.Verdict.Reasons) == 0 || s.Verdict.Reasons[0].Kind != report.ReasonWatched || s.Verdict.Reasons[0].Count != public {
		t.Errorf("verdict reasons %+v: want the watched reason first, counting %d documents", s.Verdict.Reasons, public)
	} else if text := s.Verdict.Reasons[0].Text; !strings.Contains(text, fmt.Sprint(public)) || !strings.Contains(text, "/visibility") || !strings.Contains(text, "PUBLIC") {
		t.Errorf("watched reason %q does not name the count, the path and the value", text)
	}
	if len(s.Watched) != 1 || s.Watched[0].Documents != public || s.Watched[0].Lost != publicLost || publicLost == 0 {
		t.Errorf("watched %+v, recounted %d documents, %d of them lost", s.Watched, public, publicLost)
	}
	if g, w := compactTransitions(t, s.Fields.Transitions), compactTransitions(t, transitions); g != w {
		t.Errorf("transitions %s, recounted %s", g, w)
	}

	// The choice not made: the chosen row is this run's own outcome; fill
	// overwrites nothing and recovers everything, and its watched count is
	// the documents fill would make PUBLIC, recounted: the lost ones
	// coming back PUBLIC, and the live ones whose visibility the loss
	// stripped and the fill brings back.
	a := s.PreferAlternatives
	if a == nil {
		t.Fatal("summary has no prefer_alternatives")
	}
	if a.Source.Overwritten != s.Outcome.Overwritten || a.Source.Added != s.Outcome.Added || a.Source.Recovered != s.Outcome.Recovered ||
		a.Source.NotRecovered != s.Loss.NotRecovered || a.Source.Watched != s.WatchedDocuments || a.Source.Status != report.StatusReview {
		t.Errorf("prefer_alternatives.source %+v differs from the run's own outcome %+v, not recovered %d, watched %d",
			a.Source, *s.Outcome, s.Loss.NotRecovered, s.WatchedDocuments)
	}
	var fillPublic int64
	for id, b := range backup {
		o := orig[id]
		v := visibility(b)
		if visibility(o) != "" {
			v = visibility(o)
		}
		if v == "PUBLIC" && visibility(o) != "PUBLIC" {
			fillPublic++
		}
	}
	if a.Fill.Overwritten != 0 || a.Fill.NotRecovered != 0 || a.Fill.Watched != fillPublic {
		t.Errorf("prefer_alternatives.fill %+v: want nothing overwritten, everything recovered, %d watched", a.Fill, fillPublic)
	}

	// The fill run itself gives the fill row: its outcome, watched count
	// and status.
	c = newCLI(t)
	code := c.run(t.Context(), runArgs(es, out, "fill-watch", "--target", "documents_fill_watch",
		"--prefer", "fill", "--watch", "/visibility=PUBLIC")...)
	f := readSummary(t, out, "documents", "fill-watch")
	if wantCode := map[string]int{report.StatusOK: exitOK, report.StatusReview: exitFailOn}[a.Fill.Status]; code != wantCode ||
		f.Verdict.Status != a.Fill.Status || f.WatchedDocuments != a.Fill.Watched || f.Outcome.Overwritten != a.Fill.Overwritten ||
		f.Outcome.Recovered != a.Fill.Recovered || f.Outcome.Added != a.Fill.Added || f.Loss.NotRecovered != a.Fill.NotRecovered {
		t.Errorf("the fill run: exit %d, %s, watched %d, outcome %+v, not recovered %d; the source run's fill row %+v",
			code, f.Verdict.Status, f.WatchedDocuments, *f.Outcome, f.Loss.NotRecovered, a.Fill)
	}

	// The shape of the loss at /site, recounted: lost documents are the
	// backup's the original lacks, deliberate deletions among them.
	lostSite, backupSite := map[string]int64{}, map[string]int64{}
	for id, d := range backup {
		m, _ := d.(map[string]any)
		v := mustJSON(t, m["site"]) // null for none, as the profile counts it
		backupSite[v]++
		if _, ok := orig[id]; !ok {
			lostSite[v]++
		}
	}
	var site *diff.ProfileField
	for i := range s.Loss.Profile {
		if s.Loss.Profile[i].Path == "/site" {
			site = &s.Loss.Profile[i]
		}
	}
	if site == nil {
		t.Fatalf("loss profile %+v has no /site (a keyword field of the mapping)", s.Loss.Profile)
	}
	var lostSum, backupSum int64
	for _, v := range site.Values {
		if v.Lost != lostSite[string(v.Value)] || v.Backup != backupSite[string(v.Value)] {
			t.Errorf("/site = %s: lost %d backup %d, recounted %d and %d", v.Value, v.Lost, v.Backup, lostSite[string(v.Value)], backupSite[string(v.Value)])
		}
		lostSum += v.Lost
		backupSum += v.Backup
	}
	if site.Other != nil {
		lostSum += site.Other.Lost
		backupSum += site.Other.Backup
	}
	if lostSum != s.Loss.Lost || backupSum != int64(len(backup)) {
		t.Errorf("/site profile sums to %d lost and %d backup, want %d and %d", lostSum, backupSum, s.Loss.Lost, len(backup))
	}

	// --prefer fill leaving the deliberate deletions out.
	skip := filepath.Join(t.TempDir(), "deleted.txt")
	if err := os.WriteFile(skip, []byte(strings.Join(ch.Deleted, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c = newCLI(t)
	if code := c.run(t.Context(), runArgs(es, out, "fill-skip", "--target", "documents_fill",
		"--prefer", "fill", "--skip-ids", skip)...); code != exitOK {
		t.Fatalf("exit %d, want %d\n%s", code, exitOK, c.stderr.String())
	}
	s = readSummary(t, out, "documents", "fill-skip")
	tgt = readIndex(t, es, "documents_fill")
	n := int64(len(ch.Deleted))
	if s.Verdict.Status != report.StatusOK || s.Outcome.Skipped != n || s.Restore == nil || s.Restore.Skipped != n {
		t.Errorf("verdict %s, outcome skipped %d, restore %+v; want ok and %d skipped", s.Verdict.Status, s.Outcome.Skipped, s.Restore, n)
	}
	for _, id := range ch.Deleted {
		if _, ok := tgt[id]; ok {
			t.Errorf("document %q, deleted on purpose and skipped, is in the target", id)
		}
	}
	if want := int64(len(backup) - len(orig) + len(ch.New)); s.Outcome.Added != want-n {
		t.Errorf("added %d, want the %d lost documents but the %d skipped", s.Outcome.Added, want, n)
	}
	// The profile and the alternatives count the backup in scope: the
	// skipped documents are neither lost nor added under any prefer.
	for _, p := range s.Loss.Profile {
		if p.Path != "/site" {
			continue
		}
		var lost, all int64
		for _, v := range p.Values {
			lost, all = lost+v.Lost, all+v.Backup
		}
		if p.Other != nil {
			lost, all = lost+p.Other.Lost, all+p.Other.Backup
		}
		if lost != s.Loss.Lost || all != s.Loss.Backup {
			t.Errorf("scoped /site profile sums to %d lost and %d backup, want %d and %d", lost, all, s.Loss.Lost, s.Loss.Backup)
		}
	}
	if a := s.PreferAlternatives; a == nil || a.Fill.Added != s.Outcome.Added || a.Fill.Status != report.StatusOK {
		t.Errorf("scoped prefer_alternatives %+v: want the fill row ok, adding %d as the run did", a, s.Outcome.Added)
	}
	var skipped []string
	for _, l := range readDiffLines(t, filepath.Join(out, "documents", "fill-skip", "diff.ndjson.gz")) {
		if l.Change == diff.ChangeSkipped {
			skipped = append(skipped, l.ID)
		}
	}
	slices.Sort(skipped)
	if !slices.Equal(skipped, ch.Deleted) {
		t.Errorf("diff lines of class skipped %v, want the deleted ids %v", skipped, ch.Deleted)
	}
}
