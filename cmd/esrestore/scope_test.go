package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/esrestore/esrestore/diff"
	"github.com/esrestore/esrestore/fixtures"
	"github.com/esrestore/esrestore/fixtures/faultproxy"
	"github.com/esrestore/esrestore/fixtures/faultproxy/fptest"
	"github.com/esrestore/esrestore/internal/jsonpatch"
	"github.com/esrestore/esrestore/internal/s3test"
	"github.com/esrestore/esrestore/report"
	"github.com/esrestore/esrestore/restore"
)

// scopeLine is one line of diff.ndjson.gz, any class.
type scopeLine struct {
	ID     string          `json:"_id"`
	Change string          `json:"change"`
	Backup json.RawMessage `json:"backup"`
}

func readScopeLines(t *testing.T, path string) []scopeLine {
	t.Helper()
	var out []scopeLine
	sc := bufio.NewScanner(bytes.NewReader(gunzipFile(t, path)))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var l scopeLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("diff line %q: %v", sc.Text(), err)
		}
		out = append(out, l)
	}
	return out
}

// lineIDs lists the ids of the lines of one class, sorted.
func lineIDs(lines []scopeLine, change string) []string {
	var out []string
	for _, l := range lines {
		if l.Change == change {
			out = append(out, l.ID)
		}
	}
	slices.Sort(out)
	return out
}

// writeList writes ids one a line and returns the file and its sha256.
func writeList(t *testing.T, ids []string) (string, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "skip.txt")
	b := []byte(strings.Join(ids, "\n") + "\n")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return path, hex.EncodeToString(sum[:])
}

// scoped is the backup without the documents out of scope, and how many
// of those the original holds.
func scoped(orig, backup docSet, in func(id string, doc any) bool) (docSet, int64) {
	out := docSet{}
	var held int64
	for id, d := range backup {
		if in(id, d) {
			out[id] = d
		} else if _, ok := orig[id]; ok {
			held++
		}
	}
	return out, held
}

// checkScoped checks a run's counts against a recount from the three
// document sets, the backup scoped by in: the target's documents, the
// outcome with the skipped, the loss over the backup in scope.
func checkScoped(t *testing.T, s report.Summary, orig, backup, tgt docSet, in func(id string, doc any) bool) {
	t.Helper()
	sb, held := scoped(orig, backup, in)
	skipped := int64(len(backup)-len(sb)) - held // those the original lacks
	wantO, wantL := recount(orig, sb, tgt)
	// recount counts an original's document whose backup copy is out of
	// scope as new since the backup: the diff counts it apart.
	wantL.NewSinceBackup -= held
	wantL.SkippedInOriginal = held
	wantO.Skipped = skipped
	if *s.Outcome != withRouting(wantO, s.Outcome.RoutingChanged) {
		t.Errorf("outcome\n got %+v\nwant %+v", *s.Outcome, wantO)
	}
	if got := lossCounts(*s.Loss); !reflect.DeepEqual(got, wantL) {
		t.Errorf("loss\n got %+v\nwant %+v", got, wantL)
	}
	r := s.Restore
	if r == nil {
		t.Fatal("no restore counts")
	}
	if r.Skipped != skipped+held {
		t.Errorf("restore skipped %d, want %d (%d the original lacks, %d it holds)", r.Skipped, skipped+held, skipped, held)
	}
	if r.Read != r.Indexed+r.Kept+r.Skipped+r.Failed+r.Pending {
		t.Errorf("restore: read %d != indexed %d + kept %d + skipped %d + failed %d + pending %d", r.Read, r.Indexed, r.Kept, r.Skipped, r.Failed, r.Pending)
	}
}

// TestScopeSkipIDs: the live-writes scenario's 10 documents deleted on
// purpose after the backup come back without --skip-ids (added), and
// stay out with it: skipped 10 in the restore and the outcome, listed as
// their own class with the backup's copy, verdict ok. The dry run with
// the same list gives the same counts.
func TestScopeSkipIDs(t *testing.T) {
	es, sc, ch := liveCluster(t, 2000)
	orig, backup := decodeDocs(t, sc.Original), decodeDocs(t, sc.Complete)
	deleted := slices.Sorted(slices.Values(ch.Deleted))
	if len(deleted) != 10 {
		t.Fatalf("the scenario deleted %d documents, want 10", len(deleted))
	}
	list, sha := writeList(t, deleted)
	out := t.TempDir()

	c := newCLI(t)
	if code := c.run(t.Context(), runArgs(es, out, "all", "--target", "documents_all", "--prefer", "fill")...); code != exitOK {
		t.Fatalf("without --skip-ids: exit %d\n%s", code, c.stderr.String())
	}
	all := readSummary(t, out, "documents", "all")
	added := lineIDs(readScopeLines(t, filepath.Join(out, "documents", "all", "diff.ndjson.gz")), diff.ChangeAdded)
	for _, id := range deleted {
		if _, ok := slices.BinarySearch(added, id); !ok {
			t.Errorf("without --skip-ids, deleted %s is not added back", id)
		}
	}
	if all.Outcome.Skipped != 0 || all.Restore.Skipped != 0 || all.Scope != nil {
		t.Errorf("without a scope: skipped %d and %d, scope %+v", all.Outcome.Skipped, all.Restore.Skipped, all.Scope)
	}

	c = newCLI(t)
	if code := c.run(t.Context(), runArgs(es, out, "scoped", "--target", "documents_scoped", "--prefer", "fill", "--skip-ids", list)...); code != exitOK {
		t.Fatalf("with --skip-ids: exit %d\n%s", code, c.stderr.String())
	}
	if v := c.verdictLine(); !strings.HasPrefix(v, "verdict ok") {
		t.Errorf("verdict line %q", v)
	}
	s := readSummary(t, out, "documents", "scoped")
	tgt := readIndex(t, es, "documents_scoped")
	for _, id := range deleted {
		if _, ok := tgt[id]; ok {
			t.Errorf("skipped %s is in the target", id)
		}
	}
	skip := map[string]bool{}
	for _, id := range deleted {
		skip[id] = true
	}
	in := func(id string, _ any) bool { return !skip[id] }
	checkScoped(t, s, orig, backup, tgt, in)
	if s.Restore.Skipped != 10 || s.Outcome.Skipped != 10 || s.Verdict.Status != report.StatusOK {
		t.Errorf("restore skipped %d, outcome skipped %d, verdict %s; want 10, 10, ok", s.Restore.Skipped, s.Outcome.Skipped, s.Verdict.Status)
	}
	if all.Outcome.Added-s.Outcome.Added != 10 {
		t.Errorf("added %d with the list, %d without: want 10 fewer", s.Outcome.Added, all.Outcome.Added)
	}
	want := report.Scope{SkipIDs: list, SkipIDsSHA256: sha, SkipIDsCount: 10}
	if s.Scope == nil || !reflect.DeepEqual(*s.Scope, want) {
		t.Errorf("scope %+v, want %+v", s.Scope, want)
	}
	if o, _ := s.Options["skip_ids"].(string); !strings.Contains(o, sha) {
		t.Errorf("options skip_ids %q lacks the list's sha256", o)
	}
	lines := readScopeLines(t, filepath.Join(out, "documents", "scoped", "diff.ndjson.gz"))
	if got := lineIDs(lines, diff.ChangeSkipped); !slices.Equal(got, deleted) {
		t.Errorf("skipped lines %v, want %v", got, deleted)
	}
	for _, l := range lines {
		if l.Change != diff.ChangeSkipped {
			if skip[l.ID] {
				t.Errorf("skipped %s has a %s line", l.ID, l.Change)
			}
			continue
		}
		got, err := jsonpatch.Decode(l.Backup)
		if err != nil || !jsonpatch.Equal(got, backup[l.ID]) {
			t.Errorf("skipped %s: the line does not carry the backup's copy (%v)", l.ID, err)
		}
	}

	// The dry run applies the same scope: the same counts.
	c = newCLI(t)
	if code := c.run(t.Context(), runArgs(es, out, "dry", "--target", "documents_dry", "--prefer", "fill", "--skip-ids", list, "--dry-run")...); code != exitOK {
		t.Fatalf("dry run: exit %d\n%s", code, c.stderr.String())
	}
	d := readSummary(t, out, "documents", "dry")
	if *d.Outcome != *s.Outcome || !reflect.DeepEqual(lossCounts(*d.Loss), lossCounts(*s.Loss)) {
		t.Errorf("dry run\n outcome %+v\n loss %+v\nrun\n outcome %+v\n loss %+v", *d.Outcome, *d.Loss, *s.Outcome, *s.Loss)
	}
	if got := lineIDs(readScopeLines(t, filepath.Join(out, "documents", "dry", "diff.ndjson.gz")), diff.ChangeSkipped); !slices.Equal(got, deleted) {
		t.Errorf("dry run: skipped lines %v, want %v", got, deleted)
	}
}

// TestScopeOnlyQuery: only the backup's documents a term query matches
// come back; the counts are recomputed from the three sets with the
// query applied by hand, and the dry run agrees.
func TestScopeOnlyQuery(t *testing.T) {
	es, sc, _ := liveCluster(t, 1000)
	orig, backup := decodeDocs(t, sc.Original), decodeDocs(t, sc.Complete)
	const query = `{"term": {"visibility": "PUBLIC"}}`
	in := func(_ string, doc any) bool {
		m, _ := doc.(map[string]any)
		return m["visibility"] == "PUBLIC"
	}
	out := t.TempDir()
	c := newCLI(t)
	if code := c.run(t.Context(), runArgs(es, out, "q", "--target", "documents_q", "--prefer", "fill", "--only-query", query)...); code != exitOK {
		t.Fatalf("exit %d\n%s", code, c.stderr.String())
	}
	s := readSummary(t, out, "documents", "q")
	tgt := readIndex(t, es, "documents_q")
	checkScoped(t, s, orig, backup, tgt, in)
	sb, held := scoped(orig, backup, in)
	if s.Outcome.Skipped == 0 || held == 0 || len(sb) == 0 {
		t.Fatalf("the query leaves nothing out or keeps nothing: skipped %d, held %d, in scope %d", s.Outcome.Skipped, held, len(sb))
	}
	if s.Restore.Load != "bulk" || !strings.Contains(s.Restore.LoadReason, "scope") {
		t.Errorf("load %q (%s): a scoped snapshot must be read from its staging index", s.Restore.Load, s.Restore.LoadReason)
	}
	if s.Scope == nil || string(restore.CompactQuery(s.Scope.OnlyQuery)) != `{"term":{"visibility":"PUBLIC"}}` {
		t.Errorf("scope %+v", s.Scope)
	}
	// Every lost document out of scope has its line; none is back.
	lines := readScopeLines(t, filepath.Join(out, "documents", "q", "diff.ndjson.gz"))
	var want []string
	for id, d := range backup {
		if _, ok := orig[id]; !ok && !in(id, d) {
			want = append(want, id)
			if _, ok := tgt[id]; ok {
				t.Errorf("%s is out of scope, and in the target", id)
			}
		}
	}
	slices.Sort(want)
	if got := lineIDs(lines, diff.ChangeSkipped); !slices.Equal(got, want) {
		t.Errorf("skipped lines %v, want %v", got, want)
	}

	c = newCLI(t)
	if code := c.run(t.Context(), runArgs(es, out, "qdry", "--target", "documents_qdry", "--prefer", "fill", "--only-query", query, "--dry-run")...); code != exitOK {
		t.Fatalf("dry run: exit %d\n%s", code, c.stderr.String())
	}
	d := readSummary(t, out, "documents", "qdry")
	if *d.Outcome != *s.Outcome || !reflect.DeepEqual(lossCounts(*d.Loss), lossCounts(*s.Loss)) {
		t.Errorf("dry run\n outcome %+v\n loss %+v\nrun\n outcome %+v\n loss %+v", *d.Outcome, *d.Loss, *s.Outcome, *s.Loss)
	}
}

// TestScopeResumeRefused: an attempt of a run id with another skip list
// than its earlier attempt's exits 2 naming the lists, from the earlier
// attempt's summary, and from the target's _meta when the summary is
// gone; the same list resumes.
func TestScopeResumeRefused(t *testing.T) {
	es, sc := lossCluster(t, 200)
	out := t.TempDir()
	first, _ := writeList(t, sc.Lost[:3])
	other, _ := writeList(t, sc.Lost[:4])

	p := fptest.New(t, es.URL, faultproxy.Options{Rules: []faultproxy.Rule{{Path: "_bulk", Action: faultproxy.Status, Code: 503}}})
	via := *es
	via.URL = p.URL()
	c := newCLI(t)
	if code := c.run(t.Context(), runArgs(&via, out, "r1", "--retry-for", "1s", "--skip-ids", first)...); code != exitError {
		t.Fatalf("first attempt: exit %d, want 1\n%s", code, c.stderr.String())
	}
	refused := func(t *testing.T, want ...string) {
		t.Helper()
		c := newCLI(t)
		if code := c.run(t.Context(), runArgs(es, out, "r1", "--skip-ids", other, "--fail-on", "none")...); code != exitUsage {
			t.Fatalf("resume with another list: exit %d, want 2\n%s", code, c.stderr.String())
		}
		stderr := strings.ReplaceAll(c.stderr.String(), `\"`, `"`)
		for _, w := range want {
			if !strings.Contains(stderr, w) {
				t.Errorf("stderr lacks %q:\n%s", w, stderr)
			}
		}
	}
	t.Run("summary", func(t *testing.T) {
		refused(t, "cannot resume with another scope", "skip ids: was "+first+" (3 ids", "now "+other+" (4 ids")
	})
	t.Run("target's _meta", func(t *testing.T) {
		if err := os.Remove(filepath.Join(out, "documents", "r1", "summary.json")); err != nil {
			t.Fatal(err)
		}
		refused(t, "--skip-ids: target has 3 ids", "this run has 4 ids")
	})
	t.Run("same list resumes", func(t *testing.T) {
		c := newCLI(t)
		if code := c.run(t.Context(), runArgs(es, out, "r1", "--skip-ids", first, "--fail-on", "none")...); code != exitOK {
			t.Fatalf("resume: exit %d\n%s", code, c.stderr.String())
		}
		s := readSummary(t, out, "documents", "r1")
		if s.Restore.Skipped != 3 || s.Outcome.Skipped != 3 {
			t.Errorf("skipped %d and %d, want 3", s.Restore.Skipped, s.Outcome.Skipped)
		}
	})
}

// TestScopeSkipIDsFromS3: the list read from S3 through the job's S3
// options, its URL, count and sha256 in the summary.
func TestScopeSkipIDsFromS3(t *testing.T) {
	es, sc := lossCluster(t, 300)
	srv := s3test.Start(t)
	srv.SetEnv(t)
	bucket := srv.NewBucket(t, "lists")
	ids := sc.Lost[:5]
	body := []byte(strings.Join(ids, "\r\n") + "\r\n")
	if _, err := srv.Client().PutObject(t.Context(), &s3.PutObjectInput{Bucket: &bucket, Key: aws.String("incident/skip.txt"),
		Body: bytes.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
	url := "s3://" + bucket + "/incident/skip.txt"
	out := t.TempDir()
	c := newCLI(t)
	if code := c.run(t.Context(), runArgs(es, out, "s3", "--skip-ids", url, "--s3-endpoint", srv.Endpoint, "--fail-on", "none")...); code != exitOK {
		t.Fatalf("exit %d\n%s", code, c.stderr.String())
	}
	s := readSummary(t, out, "documents", "s3")
	sum := sha256.Sum256(body)
	want := report.Scope{SkipIDs: url, SkipIDsSHA256: hex.EncodeToString(sum[:]), SkipIDsCount: 5}
	if s.Scope == nil || !reflect.DeepEqual(*s.Scope, want) {
		t.Errorf("scope %+v, want %+v", s.Scope, want)
	}
	if s.Restore.Skipped != 5 || s.Outcome.Skipped != 5 || s.Loss.NotRecoveredLost != 0 {
		t.Errorf("skipped %d and %d, not recovered lost %d; want 5, 5, 0", s.Restore.Skipped, s.Outcome.Skipped, s.Loss.NotRecoveredLost)
	}
	tgt := readIndex(t, es, "documents_restored")
	for _, id := range ids {
		if _, ok := tgt[id]; ok {
			t.Errorf("skipped %s is in the target", id)
		}
	}
}

// TestScopeFingerprint: config_sha256 covers what the list holds, not
// only its path.
func TestScopeFingerprint(t *testing.T) {
	es, sc := lossCluster(t, 100)
	list := filepath.Join(t.TempDir(), "skip.txt")
	shaOf := func(ids []string) string {
		t.Helper()
		if err := os.WriteFile(list, []byte(strings.Join(ids, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
		c := newCLI(t)
		args := slices.Clone(runArgs(es, t.TempDir(), "fp", "--skip-ids", list))
		args[0] = "check"
		if code := c.run(t.Context(), args...); code != exitOK {
			t.Fatalf("check: exit %d\n%s", code, c.stderr.String())
		}
		lines := strings.Split(strings.TrimSpace(c.stdout.String()), "\n")
		return lines[len(lines)-1]
	}
	a, b := shaOf(sc.Lost[:2]), shaOf(sc.Lost[:3])
	if a == b || len(a) != 64 {
		t.Errorf("config_sha256 %q with 2 ids, %q with 3 in the same file: want two fingerprints", a, b)
	}
}

// TestScopeBadInputs: a list or a query that cannot be used exits 2
// before any write, naming it.
func TestScopeBadInputs(t *testing.T) {
	es, sc := lossCluster(t, 100)
	dir := t.TempDir()
	file := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a, b := sc.Lost[0], sc.Lost[1]
	blank := file("blank.txt", a+"\n\n"+b+"\n")
	spaces := file("spaces.txt", a+"\n \t\n")
	dup := file("dup.txt", a+"\n"+b+"\n"+a+"\n")
	empty := file("empty.txt", "")
	missing := filepath.Join(dir, "missing.txt")
	for _, tt := range []struct {
		name  string
		extra []string
		want  []string
	}{
		{"blank line", []string{"--skip-ids", blank}, []string{"--skip-ids", blank + ":2: blank line"}},
		{"white space line", []string{"--skip-ids", spaces}, []string{spaces + ":2: blank line"}},
		{"repeated id", []string{"--skip-ids", dup}, []string{dup + ":3: id \"" + a + "\" repeats line 1"}},
		{"empty list", []string{"--skip-ids", empty}, []string{empty + " holds no id"}},
		{"missing list", []string{"--skip-ids", missing}, []string{"--skip-ids: cannot read the list " + missing}},
		{"s3 url without key", []string{"--skip-ids", "s3://bucket"}, []string{"--skip-ids: an s3:// list must name an object"}},
		{"invalid JSON", []string{"--only-query", `{"term":`}, []string{"--only-query: must be one JSON object"}},
		{"not an object", []string{"--only-query", `[1]`}, []string{"--only-query: must be one JSON object"}},
		{"refused by Elasticsearch", []string{"--only-query", `{"no_such_query":{}}`}, []string{"--only-query", "Elasticsearch refuses it"}},
		{"with a dump", []string{"--only-query", `{"match_all":{}}`, "--source", "file://" + filepath.Join(dir, "backup.ndjson")},
			[]string{"--only-query: a dump source cannot be queried"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(t)
			code := c.run(t.Context(), runArgs(es, t.TempDir(), "bad", append([]string{"--target", "documents_bad"}, tt.extra...)...)...)
			if code != exitUsage {
				t.Fatalf("exit %d, want 2\n%s", code, c.stderr.String())
			}
			stderr := strings.ReplaceAll(c.stderr.String(), `\"`, `"`)
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			if st := headIndex(t, es, "documents_bad"); st != 404 {
				t.Errorf("target: HEAD %d, want 404: nothing may be written", st)
			}
		})
	}
}

// TestScopeOfflineDryRun: a dry run between two dumps takes the skip
// list too, without a cluster.
func TestScopeOfflineDryRun(t *testing.T) {
	sc := fixtures.NewScenario(300, 0.1, 3)
	dir := t.TempDir()
	orig, backup := writeDump(t, dir, "documents.ndjson", sc.Original), writeDump(t, dir, "before-loss.ndjson", sc.Complete)
	var stripped []string
	for id := range sc.Stripped {
		stripped = append(stripped, id)
	}
	slices.Sort(stripped)
	list, _ := writeList(t, append(slices.Clone(sc.Lost[:4]), stripped[:2]...))
	out := t.TempDir()
	c := newCLI(t)
	code := c.run(t.Context(), "run", "--dry-run", "--original", orig, "--source", backup, "--prefer", "source", "--skip-ids", list,
		"--environment", "laptop", "--output", "file://"+out, "--run-id", "off1", "--progress", "0")
	if code != exitOK {
		t.Fatalf("offline dry run: exit %d\n%s", code, c.stderr.String())
	}
	s := readSummary(t, out, "documents", "off1")
	o, l := s.Outcome, s.Loss
	if o.Skipped != 4 || l.SkippedInOriginal != 2 || o.Added != int64(len(sc.Lost)-4) || o.Recovered != int64(len(sc.Stripped)-2) ||
		l.Backup != int64(len(sc.Complete)-6) || l.NotRecoveredLost != 0 {
		t.Errorf("offline dry run with 4 lost and 2 stripped ids skipped: %+v %+v", *o, *l)
	}
	lines := readScopeLines(t, filepath.Join(out, "documents", "off1", "diff.ndjson.gz"))
	if got := lineIDs(lines, diff.ChangeSkipped); !slices.Equal(got, sc.Lost[:4]) {
		t.Errorf("skipped lines %v, want %v", got, sc.Lost[:4])
	}
}
