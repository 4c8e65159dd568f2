package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/esrestore/esrestore/diff"
	"github.com/esrestore/esrestore/fixtures"
	"github.com/esrestore/esrestore/fixtures/estest"
	"github.com/esrestore/esrestore/internal/dump"
	"github.com/esrestore/esrestore/internal/esscan"
	"github.com/esrestore/esrestore/internal/jsonpatch"
	"github.com/esrestore/esrestore/report"
)

// liveCluster is a loss scenario whose original took live writes after the
// snapshot: 40 edits (title and modified), 20 visibility flips, 10
// deletions and 15 new documents.
func liveCluster(t *testing.T, n int) (*estest.Cluster, fixtures.Scenario, fixtures.LiveChanges) {
	t.Helper()
	sc := fixtures.NewScenario(n, 0.05, 11)
	sc, ch, err := sc.WithLiveWrites(fixtures.LiveWrites{Edits: 40, Flips: 20, Deletes: 10, New: 15}, 11)
	if err != nil {
		t.Fatal(err)
	}
	es := estest.New(t)
	es.LoadScenario(t, "documents", "backups", "before-loss", sc, 3)
	return es, sc, ch
}

// docSet is a document set decoded, by id.
type docSet map[string]any

func decodeDocs(t *testing.T, docs []fixtures.Doc) docSet {
	t.Helper()
	out := docSet{}
	for _, d := range docs {
		v, err := jsonpatch.Decode(d.Source)
		if err != nil {
			t.Fatal(err)
		}
		out[d.ID] = v
	}
	return out
}

func readIndex(t *testing.T, es *estest.Cluster, index string) docSet {
	t.Helper()
	out := docSet{}
	err := esscan.Scan(t.Context(), es.Client(), index, esscan.Options{}, func(_ context.Context, _ int, page []dump.Doc) error {
		for _, d := range page {
			v, err := jsonpatch.Decode(d.Source)
			if err != nil {
				return err
			}
			out[d.ID] = v
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// naiveOp is one difference between two documents, found by walking both
// objects member by member; arrays and scalars are compared whole, which
// suffices where arrays are never edited in part (the scenario's).
type naiveOp struct{ op, path string }

func naiveDiff(a, b any, path string, out []naiveOp) []naiveOp {
	ma, okA := a.(map[string]any)
	mb, okB := b.(map[string]any)
	if !okA || !okB {
		if !jsonpatch.Equal(a, b) {
			out = append(out, naiveOp{"replace", path})
		}
		return out
	}
	keys := map[string]bool{}
	for k := range ma {
		keys[k] = true
	}
	for k := range mb {
		keys[k] = true
	}
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range keys {
			if !yield(k) {
				return
			}
		}
	}) {
		p := path + "/" + k
		va, inA := ma[k]
		vb, inB := mb[k]
		switch {
		case !inA:
			out = append(out, naiveOp{"add", p})
		case !inB:
			out = append(out, naiveOp{"remove", p})
		default:
			out = naiveDiff(va, vb, p, out)
		}
	}
	return out
}

// recount classifies the three document sets independently of diff/.
func recount(o, b, tg docSet) (diff.Outcome, diff.Loss) {
	var oc diff.Outcome
	var l diff.Loss
	oc.Original, oc.Target, l.Backup = int64(len(o)), int64(len(tg)), int64(len(b))
	ids := map[string]bool{}
	for _, s := range []docSet{o, b, tg} {
		for id := range s {
			ids[id] = true
		}
	}
	for id := range ids {
		od, inO := o[id]
		bd, inB := b[id]
		td, inT := tg[id]
		switch {
		case inO && inT:
			ops := naiveDiff(od, td, "", nil)
			switch {
			case len(ops) == 0:
				oc.Unchanged++
			case slices.ContainsFunc(ops, func(x naiveOp) bool { return x.op != "add" }):
				oc.Overwritten++
			default:
				oc.Recovered++
			}
		case inO:
			oc.Removed++
		case inT:
			oc.Added++
		}
		switch {
		case inB && !inO:
			l.Lost++
			if !inT {
				l.NotRecovered++
				l.NotRecoveredLost++
			}
		case inB:
			ops := naiveDiff(od, bd, "", nil)
			stripped, edited, missing := false, false, false
			for _, x := range ops {
				switch x.op {
				case "add":
					stripped = true
					if inT {
						if _, err := jsonpatch.Get(td, x.path); err != nil {
							missing = true
						}
					}
				case "replace":
					edited = true
				}
			}
			if stripped {
				l.Stripped++
			}
			if edited {
				l.EditedSinceBackup++
			}
			if missing {
				l.NotRecovered++
			}
		default:
			l.NewSinceBackup++
		}
	}
	return oc, l
}

// diffLine is one line of diff.ndjson.gz.
type diffLine struct {
	ID           string          `json:"_id"`
	Change       string          `json:"change"`
	Patch        json.RawMessage `json:"patch"`
	NotRecovered json.RawMessage `json:"not_recovered"`
	Restored     json.RawMessage `json:"restored"`
	Original     json.RawMessage `json:"original"`
	Watched      []string        `json:"watched"`
	Backup       json.RawMessage `json:"backup"`
}

func TestVerdictOnLiveWrites(t *testing.T) {
	es, sc, ch := liveCluster(t, 2000)
	before := indexState(t, es, "documents")
	orig, backup := decodeDocs(t, sc.Original), decodeDocs(t, sc.Complete)
	for _, tt := range []struct {
		name    string
		args    []string
		reasons []string // kinds, in order
		texts   []string // substrings of the reasons
	}{
		// Fill brings back the lost documents and the stripped fields and
		// keeps every live edit: nothing to review.
		{"prefer-fill", []string{"--prefer", "fill"}, nil, nil},
		{"prefer-original", nil, []string{report.ReasonNotRecovered},
			[]string{"50 documents: backup values not recovered (/content/markdown 12, /excerpt 12, /content/rawText 11, and 9 more)"}},
		{"prefer-source", []string{"--prefer", "source"}, []string{report.ReasonOverwritten},
			[]string{"60 documents: live values would be overwritten (/modified 40, /title 40, /visibility 20: INTERNAL → PUBLIC 16, PUBLIC → INTERNAL 4)"}},
		{"mode-source", []string{"--mode", "source"}, []string{report.ReasonRemoved, report.ReasonOverwritten},
			[]string{"15 documents: only in the original, a switch would lose them", "60 documents: live values would be overwritten"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out := t.TempDir()
			c := newCLI(t)
			target := "documents_" + strings.ReplaceAll(tt.name, "-", "_")
			args := append(runArgs(es, out, tt.name, "--target", target), tt.args...)
			wantCode, wantStatus, wantLine := exitFailOn, report.StatusReview, "verdict review: "
			if len(tt.reasons) == 0 {
				wantCode, wantStatus, wantLine = exitOK, report.StatusOK, "verdict ok"
			}
			if code := c.run(t.Context(), args...); code != wantCode {
				t.Fatalf("exit %d, want %d\n%s", code, wantCode, c.stderr.String())
			}
			if v := c.verdictLine(); !strings.HasPrefix(v, wantLine) {
				t.Errorf("stderr does not end with the verdict:\n%s", c.stderr.String())
			}
			s := readSummary(t, out, "documents", tt.name)
			tgt := readIndex(t, es, target)

			// Every class count equals a recount from the three sets.
			wantO, wantL := recount(orig, backup, tgt)
			if *s.Outcome != withRouting(wantO, s.Outcome.RoutingChanged) {
				t.Errorf("outcome\n got %+v\nwant %+v", *s.Outcome, wantO)
			}
			if got := lossCounts(*s.Loss); !reflect.DeepEqual(got, wantL) {
				t.Errorf("loss\n got %+v\nwant %+v", *s.Loss, wantL)
			}
			if wantL.Lost != int64(len(sc.Lost)+len(ch.Deleted)) || wantL.NewSinceBackup != int64(len(ch.New)) {
				t.Errorf("recount: %d lost, %d new; the scenario lost %d, deleted %d and added %d",
					wantL.Lost, wantL.NewSinceBackup, len(sc.Lost), len(ch.Deleted), len(ch.New))
			}

			// The verdict's reasons.
			var kinds, texts []string
			for _, r := range s.Verdict.Reasons {
				kinds = append(kinds, r.Kind)
				texts = append(texts, r.Text)
			}
			if s.Verdict.Status != wantStatus || !slices.Equal(kinds, tt.reasons) {
				t.Errorf("verdict %s %v, want %s %v", s.Verdict.Status, kinds, wantStatus, tt.reasons)
			}
			for _, want := range tt.texts {
				if !strings.Contains(strings.Join(texts, "\n"), want) {
					t.Errorf("reasons %q lack %q", texts, want)
				}
			}
			if !slices.Equal(s.Attention, texts) {
				t.Errorf("attention %q, want the reasons --fail-on names %q", s.Attention, texts)
			}

			// Patches apply: original → target, and original → backup for
			// what was not recovered.
			dl := readDiffLines(t, filepath.Join(out, "documents", tt.name, "diff.ndjson.gz"))
			checkPatches(t, dl, orig, backup, tgt)

			// Each object's sha256, bytes and lines are what a reviewer
			// computes.
			checkObjects(t, s, filepath.Join(out, "documents", tt.name))

			// The summary, timestamps and uuids aside, is the golden one.
			golden(t, filepath.Join("testdata", "verdict-"+tt.name+".golden.json"), normalizeSummary(t, out, tt.name))

			// --fail-on none turns the reasons into a clean exit.
			c2 := newCLI(t)
			if code := c2.run(t.Context(), append(runArgs(es, out, tt.name+"-none", "--target", target+"_none", "--fail-on", "none"), tt.args...)...); code != exitOK {
				t.Errorf("--fail-on none: exit %d\n%s", code, c2.stderr.String())
			}
		})
	}
	if indexState(t, es, "documents") != before {
		t.Error("the original changed")
	}
}

// lossCounts is l without its profile: the counts a recount gives.
func lossCounts(l diff.Loss) diff.Loss {
	l.Profile, l.ProfileDate, l.Note = nil, nil, ""
	return l
}

func withRouting(o diff.Outcome, routing int64) diff.Outcome {
	o.RoutingChanged = routing
	return o
}

func readDiffLines(t *testing.T, path string) []diffLine {
	t.Helper()
	var out []diffLine
	sc := bufio.NewScanner(bytes.NewReader(gunzipFile(t, path)))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		var l diffLine
		if err := dec.Decode(&l); err != nil {
			t.Fatalf("diff line %q: %v", sc.Text(), err)
		}
		out = append(out, l)
	}
	if !slices.IsSortedFunc(out, func(a, b diffLine) int { return strings.Compare(a.ID, b.ID) }) {
		t.Error("diff lines not sorted by _id")
	}
	return out
}

// checkPatches applies every patch: recovered and overwritten ones turn the
// original's document into the target's; not_recovered ones give the
// original's document the backup's values at their paths.
func checkPatches(t *testing.T, lines []diffLine, orig, backup, tgt docSet) {
	t.Helper()
	seen := map[string]int{}
	for _, l := range lines {
		seen[l.Change]++
		switch l.Change {
		case diff.ChangeRecovered, diff.ChangeOverwritten:
			got, err := jsonpatch.Apply(clone(t, orig[l.ID]), l.Patch)
			if err != nil || !jsonpatch.Equal(got, tgt[l.ID]) {
				t.Errorf("%s %s: patch does not give the target's document (%v)", l.Change, l.ID, err)
			}
			if l.Change == diff.ChangeRecovered && strings.Contains(string(l.Patch), `"op":"replace"`) {
				t.Errorf("recovered %s has a replace", l.ID)
			}
			if l.NotRecovered != nil {
				checkNotRecovered(t, l, orig, backup)
			}
		case diff.ChangeNotRecovered:
			checkNotRecovered(t, l, orig, backup)
		case diff.ChangeAdded:
			if got, _ := jsonpatch.Decode(l.Restored); !jsonpatch.Equal(got, tgt[l.ID]) {
				t.Errorf("added %s: not the target's document", l.ID)
			}
		case diff.ChangeRemoved:
			if got, _ := jsonpatch.Decode(l.Original); !jsonpatch.Equal(got, orig[l.ID]) {
				t.Errorf("removed %s: not the original's document", l.ID)
			}
		default:
			t.Errorf("%s: change %q", l.ID, l.Change)
		}
	}
	if len(lines) == 0 {
		t.Error("no diff lines")
	}
}

func checkNotRecovered(t *testing.T, l diffLine, orig, backup docSet) {
	t.Helper()
	patch := l.Patch
	if l.NotRecovered != nil {
		patch = l.NotRecovered
	}
	var ops []struct {
		Op   string `json:"op"`
		Path string `json:"path"`
	}
	if err := json.Unmarshal(patch, &ops); err != nil {
		t.Fatal(err)
	}
	var start any
	if d, ok := orig[l.ID]; ok {
		start = clone(t, d)
	}
	got, err := jsonpatch.Apply(start, patch)
	if err != nil {
		t.Errorf("not_recovered %s: %v", l.ID, err)
		return
	}
	for _, op := range ops {
		want, err1 := jsonpatch.Get(backup[l.ID], op.Path)
		have, err2 := jsonpatch.Get(got, op.Path)
		if op.Op != "add" || err1 != nil || err2 != nil || !jsonpatch.Equal(want, have) {
			t.Errorf("not_recovered %s: %s %s does not give the backup's value", l.ID, op.Op, op.Path)
		}
	}
}

func clone(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	c, err := jsonpatch.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// checkObjects recomputes each object's digest from the file.
func checkObjects(t *testing.T, s report.Summary, dir string) {
	t.Helper()
	if _, ok := s.Objects["page"]; len(s.Objects) != 3 || !ok {
		t.Errorf("objects %v, want diff, failures and page", s.Objects)
	}
	for name, o := range s.Objects {
		b, err := os.ReadFile(filepath.Join(dir, filepath.Base(o.Key)))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		content := b
		if strings.HasSuffix(o.Key, ".gz") {
			content = gunzipFile(t, filepath.Join(dir, filepath.Base(o.Key)))
		}
		lines := int64(bytes.Count(content, []byte("\n")))
		if len(content) > 0 && content[len(content)-1] != '\n' {
			lines++
		}
		if hex.EncodeToString(sum[:]) != o.SHA256 || int64(len(b)) != o.Bytes || lines != o.Lines {
			t.Errorf("object %s: sha256 %x, %d bytes, %d lines; the summary says %s, %d, %d",
				name, sum, len(b), lines, o.SHA256, o.Bytes, o.Lines)
		}
	}
}

// normalizeSummary returns summary.json with what differs between runs
// (times, uuids, temporary paths, digests of compressed bytes) replaced.
func normalizeSummary(t *testing.T, out, runID string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(out, "documents", runID, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	var walk func(v any, key string) any
	walk = func(v any, key string) any {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				x[k] = walk(e, k)
			}
		case []any:
			for i, e := range x {
				x[i] = walk(e, key)
			}
		case string:
			switch key {
			case "started", "finished", "start_time", "end_time", "instant", "at", "until", "uuid", "sha256", "config_sha256", "tool_version", "url", "location":
				return "<" + key + ">"
			case "es_url":
				return "<es_url>"
			case "output":
				return "<output>"
			}
		case float64:
			switch key {
			case "seconds", "docs_per_second", "bytes":
				return "<" + key + ">"
			case "requests_per_second", "waited_seconds",
				// The back-off answers the machine's load, not the data.
				// Zeroed, not a placeholder: the page's tests decode these
				// files as summaries.
				"backoffs", "min_in_flight", "final_in_flight",
				// So do the retries of an Elasticsearch under load.
				"retries", "backoff_seconds", "gave_up":
				return float64(0)
			}
		}
		return v
	}
	walk(m, "")
	// The cluster's name and version are the node's, the stand-in's or a
	// real one's: the same run on either gives the same summary.
	if integrity, ok := m["integrity"].(map[string]any); ok {
		if cluster, ok := integrity["cluster"].(map[string]any); ok {
			for _, k := range []string{"name", "version"} {
				if _, ok := cluster[k]; ok {
					cluster[k] = "<cluster " + k + ">"
				}
			}
		}
	}
	b, err = json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return regexp.MustCompile(`127\.0\.0\.1:\d+`).ReplaceAll(append(b, '\n'), []byte("127.0.0.1:PORT"))
}

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with the golden file, or rewrites it with -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/esrestore -run %s -update)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the run's summary (normalised); rerun with -update and review the change:\n%s", path, got)
	}
}

func TestVerdictMappingsAndLiveWrites(t *testing.T) {
	t.Run("snapshot mapping differs", func(t *testing.T) {
		es, _ := lossCluster(t, 300)
		// A field mapped after the snapshot: the snapshot's index lacks it.
		estest.MustDo(t, es.Client(), esapi.IndicesPutMappingRequest{Index: []string{"documents"},
			Body: strings.NewReader(`{"properties":{"region":{"type":"keyword"}}}`)})
		out := t.TempDir()
		c := newCLI(t)
		if code := c.run(t.Context(), runArgs(es, out, "m1", "--prefer", "source", "--fail-on", "mappings")...); code != exitFailOn {
			t.Fatalf("exit %d, want 3\n%s", code, c.stderr.String())
		}
		s := readSummary(t, out, "documents", "m1")
		if len(s.Indexes.Mappings) != 0 || len(s.Indexes.Settings) != 0 {
			t.Errorf("target differs from the original: %+v", s.Indexes)
		}
		// The invertible patch: a test of the original's value, then the
		// remove.
		if p := s.Indexes.SnapshotMappings; len(p) != 2 || p[0].Type != "test" || p[1].Type != "remove" || p[1].Path != "/properties/region" {
			t.Errorf("snapshot mappings patch %+v, want test and remove of /properties/region", p)
		}
		if len(s.Verdict.Reasons) != 1 || s.Verdict.Reasons[0].Kind != report.ReasonMappings ||
			!strings.Contains(s.Verdict.Reasons[0].Text, "the snapshot's mappings differ from the original's (remove /properties/region)") {
			t.Errorf("verdict %+v", s.Verdict)
		}
	})
	t.Run("live writes during the run", func(t *testing.T) {
		es, _ := lossCluster(t, 600)
		// The application writes a new document every 20 ms from the
		// moment the target exists until the job has ended: some land
		// before the instant the run reads the original at, the others
		// after it.
		stop := make(chan struct{})
		var written atomic.Int64
		done := make(chan struct{})
		go func() {
			defer close(done)
			for !targetExists(es, "documents_restored") {
				select {
				case <-stop:
					return
				case <-time.After(5 * time.Millisecond):
				}
			}
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
				id := fmt.Sprintf("written-live-%04d", n)
				res, err := esapi.IndexRequest{Index: "documents", DocumentID: id,
					Body: strings.NewReader(`{"id":"` + id + `","title":"during the run"}`)}.Do(context.Background(), es.Client())
				if err == nil {
					if res.StatusCode < 300 {
						written.Add(1)
					}
					res.Body.Close()
				}
			}
		}()
		out := t.TempDir()
		c := newCLI(t)
		code := c.run(t.Context(), runArgs(es, out, "lw1", "--prefer", "source", "--strategy", "passes", "--batch-size", "50", "--workers", "1",
			"--max-docs-per-second", "1000")...)
		close(stop)
		<-done
		// Live writes are a reason to review, not one of --fail-on's
		// defaults: the counts are of the original at one instant.
		if code != exitOK {
			t.Fatalf("exit %d, want 0\n%s", code, c.stderr.String())
		}
		s := readSummary(t, out, "documents", "lw1")
		if s.Instant == nil || s.Live == nil {
			t.Fatalf("summary names no instant (%v) or live counts (%v)", s.Instant, s.Live)
		}
		l := s.Live
		if !l.At.Equal(*s.Instant) || !l.Until.After(l.At) {
			t.Errorf("live counts from %s until %s, instant %s", l.At, l.Until, *s.Instant)
		}
		if l.New < 1 || l.Changed != 0 || l.Deleted != 0 {
			t.Errorf("live %+v, want new documents only", *l)
		}
		// The documents written before the instant are in the target; the
		// others are the live counts; none is reported removed.
		es.Refresh(t, "documents_restored")
		seen := int64(0)
		for id := range readIndex(t, es, "documents_restored") {
			if strings.HasPrefix(id, "written-live-") {
				seen++
			}
		}
		if seen+l.New > written.Load() || seen+l.New < 1 {
			t.Errorf("%d live documents in the target and %d counted new since the instant; %d written", seen, l.New, written.Load())
		}
		for _, dl := range readDiffLines(t, filepath.Join(out, "documents", "lw1", "diff.ndjson.gz")) {
			if strings.HasPrefix(dl.ID, "written-live-") {
				t.Errorf("the diff lists %s (%s): it compared the original after its instant", dl.ID, dl.Change)
			}
		}
		var kinds []string
		for _, r := range s.Verdict.Reasons {
			kinds = append(kinds, r.Kind)
		}
		if s.Verdict.Status != report.StatusReview || !slices.Contains(kinds, report.ReasonLiveWrites) {
			t.Errorf("verdict %+v lacks the live writes", s.Verdict)
		}
	})
}

// TestInterruptionKeepsFailures: after SIGTERM the failures recorded so
// far are written and listed, and every document read is accounted for.
func TestInterruptionKeepsFailures(t *testing.T) {
	es, _ := fakeLossCluster(t, 1000)
	// Every bulk item is refused: with a 1 s budget each fails for good.
	es.Fake.SetFaults(fixtures.Faults{BulkItemReject: 1, Latency: 20 * time.Millisecond, Endpoints: []string{"bulk"}})
	out := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	// The interruption comes once a progress record counts a document
	// failed for good, its second of retries spent.
	stderr := &syncBuffer{}
	failed := regexp.MustCompile(`"msg":"progress".*"failed":[1-9]`)
	go func() {
		for deadline := time.Now().Add(time.Minute); ctx.Err() == nil && !failed.MatchString(stderr.String()) && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
	}()
	// --strategy passes writes the whole backup, so the refused items
	// keep the restore busy until the interruption; a snapshot restored
	// as the target would write almost nothing.
	env := &Env{Getenv: func(string) string { return "" }, Environ: func() []string { return nil }, Stdout: &bytes.Buffer{}, Stderr: stderr}
	code := Main(ctx, env, runArgs(es, out, "term1", "--retry-for", "1s", "--batch-size", "50", "--workers", "2", "--prefer", "source",
		"--strategy", "passes", "--progress", "20ms", "--log-format", "json"))
	if code != exitInterrupted {
		t.Fatalf("exit %d, want 130\n%s", code, stderr.String())
	}
	s := readSummary(t, out, "documents", "term1")
	r := s.Restore
	if s.Complete || r == nil || r.Failed == 0 || r.Read != r.Indexed+r.Kept+r.Failed+r.Pending {
		t.Fatalf("summary: complete %v restore %+v", s.Complete, r)
	}
	o, ok := s.Objects["failures"]
	if !ok || o.Lines != r.Failed {
		t.Fatalf("failures object %+v, want %d lines", o, r.Failed)
	}
	lines := bytes.Split(bytes.TrimSpace(gunzipFile(t, filepath.Join(out, "documents", "term1", "failures.ndjson.gz"))), []byte("\n"))
	if int64(len(lines)) != r.Failed {
		t.Errorf("failures.ndjson.gz has %d lines, the summary says %d failed", len(lines), r.Failed)
	}
	for _, l := range lines {
		var f struct {
			ID    string          `json:"_id"`
			Error json.RawMessage `json:"error"`
		}
		if err := json.Unmarshal(l, &f); err != nil || f.ID == "" || !bytes.Contains(f.Error, []byte("es_rejected_execution_exception")) {
			t.Errorf("failure line %q: %v", l, err)
			break
		}
	}
	if s.Verdict.Status != report.StatusReview || s.Verdict.Reasons[0].Kind != report.ReasonIncomplete {
		t.Errorf("verdict %+v, want review, incomplete first", s.Verdict)
	}
}
