package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/esrestore/esrestore/diff"
	"github.com/esrestore/esrestore/fixtures"
	"github.com/esrestore/esrestore/fixtures/estest"
	"github.com/esrestore/esrestore/internal/dump"
	"github.com/esrestore/esrestore/internal/elastic"
	"github.com/esrestore/esrestore/internal/esscan"
	"github.com/esrestore/esrestore/internal/retry"
	"github.com/esrestore/esrestore/report"
)

// cli runs esrestore in-process and returns its exit code and output.
type cli struct {
	t      *testing.T
	vars   map[string]string
	files  map[string]string
	stdout bytes.Buffer
	stderr bytes.Buffer
}

func newCLI(t *testing.T) *cli {
	return &cli{t: t, vars: map[string]string{}, files: map[string]string{}}
}

// environ is the cli's variables as KEY=VALUE entries.
func (c *cli) environ() []string {
	var out []string
	for k, v := range c.vars {
		out = append(out, k+"="+v)
	}
	return out
}

func (c *cli) run(ctx context.Context, args ...string) int {
	c.t.Helper()
	c.stdout.Reset()
	c.stderr.Reset()
	env := &Env{
		Getenv:  func(k string) string { return c.vars[k] },
		Environ: c.environ,
		ReadFile: func(p string) ([]byte, error) {
			if b, ok := c.files[p]; ok {
				return []byte(b), nil
			}
			return os.ReadFile(p)
		},
		Stdout: &c.stdout,
		Stderr: &c.stderr,
	}
	code := Main(ctx, env, args)
	if testing.Verbose() {
		c.t.Logf("esrestore %s → %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, c.stdout.String(), c.stderr.String())
	}
	return code
}

// text is stderr for a person: each JSON record as its message and
// string values, unescaped, so tests can look for what an error says
// whatever the log format.
func (c *cli) text() string {
	var b strings.Builder
	for _, line := range strings.Split(c.stderr.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil {
			b.WriteString(line + "\n")
			continue
		}
		b.WriteString(fmt.Sprint(rec["msg"]))
		keys := make([]string, 0, len(rec))
		for k := range rec {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if v, ok := rec[k].(string); ok && k != "msg" && k != "time" && k != "level" {
				b.WriteString(" " + k + ": " + v)
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// verdictLine is the verdict the run ended its stderr with: the last
// line on a terminal, the "line" of the last record in JSON mode; "" when
// the last line or record is anything else.
func (c *cli) verdictLine() string {
	lines := strings.Split(strings.TrimSpace(c.stderr.String()), "\n")
	last := lines[len(lines)-1]
	var rec struct {
		Msg  string `json:"msg"`
		Line string `json:"line"`
	}
	if json.Unmarshal([]byte(last), &rec) == nil {
		if rec.Msg == "verdict" {
			return rec.Line
		}
		return ""
	}
	if strings.HasPrefix(last, "verdict ") {
		return last
	}
	return ""
}

// lossCluster is a cluster with a Commons loss scenario: the real node
// when the environment asks for one (estest), the stand-in otherwise.
func lossCluster(t *testing.T, n int) (*estest.Cluster, fixtures.Scenario) {
	t.Helper()
	return loadLoss(t, estest.New(t), n)
}

// fakeLossCluster is lossCluster on the stand-in whatever the environment
// says, for a test that injects faults (es.Fake.SetFaults) or reads the
// stand-in's state.
func fakeLossCluster(t *testing.T, n int) (*estest.Cluster, fixtures.Scenario) {
	t.Helper()
	return loadLoss(t, estest.Fake(t), n)
}

func loadLoss(t *testing.T, es *estest.Cluster, n int) (*estest.Cluster, fixtures.Scenario) {
	t.Helper()
	sc := fixtures.NewScenario(n, 0.1, 7)
	es.LoadScenario(t, "documents", "backups", "before-loss", sc, 3)
	return es, sc
}

// indexState is every document of an index plus its mapping and settings,
// to prove an index was not touched.
func indexState(t *testing.T, es *estest.Cluster, index string) string {
	t.Helper()
	var docs []string
	err := esscan.Scan(t.Context(), es.Client(), index, esscan.Options{}, func(_ context.Context, _ int, page []dump.Doc) error {
		for _, d := range page {
			docs = append(docs, d.ID+"\x00"+d.Routing+"\x00"+string(d.Source))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("scan %s: %v", index, err)
	}
	sort.Strings(docs)
	res, err := esapi.IndicesGetRequest{Index: []string{index}}.Do(t.Context(), es.Client())
	if err != nil {
		t.Fatal(err)
	}
	meta, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return strings.Join(docs, "\n") + "\n" + string(meta)
}

// targetExists is indexExists for a goroutine: no test failure, false on
// an error.
func targetExists(es *estest.Cluster, index string) bool {
	res, err := esapi.IndicesExistsRequest{Index: []string{index}}.Do(context.Background(), es.Client())
	if err != nil {
		return false
	}
	res.Body.Close()
	return res.StatusCode == 200
}

func indexExists(t *testing.T, es *estest.Cluster, index string) bool {
	t.Helper()
	res, err := esapi.IndicesExistsRequest{Index: []string{index}}.Do(t.Context(), es.Client())
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode == 200
}

func readSummary(t *testing.T, dir, original, runID string) report.Summary {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, original, runID, "summary.json"))
	if err != nil {
		t.Fatalf("summary: %v", err)
	}
	s, err := report.Decode(b)
	if err != nil {
		t.Fatalf("summary: %v", err)
	}
	return *s
}

func gunzipFile(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func runArgs(es *estest.Cluster, out, runID string, extra ...string) []string {
	return withFlags([]string{"run", "--es-url", es.URL, "--original", "documents", "--source", "snapshot:backups/before-loss",
		"--target", "documents_restored", "--output", "file://" + out, "--environment", "test", "--run-id", runID,
		"--progress", "0"}, extra...)
}

// withFlags is base (a command and --flag value pairs) with the flags of
// extra added, an extra flag replacing base's value of it: a flag given
// twice is an error.
func withFlags(base []string, extra ...string) []string {
	out := slices.Clone(base)
	for i := 0; i < len(extra); i++ {
		name := extra[i]
		hasValue := i+1 < len(extra) && !strings.HasPrefix(extra[i+1], "--")
		if at := slices.Index(out, name); at > 0 && strings.HasPrefix(name, "--") && at+1 < len(out) && hasValue {
			out[at+1] = extra[i+1]
			i++
			continue
		}
		out = append(out, name)
	}
	return out
}

func TestRunLossScenarioMatchesDiffAlone(t *testing.T) {
	es, sc := lossCluster(t, 600)
	before := indexState(t, es, "documents")
	out := t.TempDir()
	c := newCLI(t)
	if code := c.run(t.Context(), runArgs(es, out, "r1", "--prefer", "source")...); code != exitOK {
		t.Fatalf("exit %d, want 0\n%s", code, c.stderr.String())
	}
	if after := indexState(t, es, "documents"); after != before {
		t.Error("the original index changed")
	}
	s := readSummary(t, out, "documents", "r1")
	if !s.Complete || s.Environment != "TEST" || s.Restore == nil || s.Outcome == nil || s.Loss == nil {
		t.Fatalf("summary: %+v", s)
	}
	if s.Restore.Failed != 0 || s.Restore.Read != s.Restore.Indexed+s.Restore.Kept {
		t.Errorf("restore counts: %+v", s.Restore)
	}
	if o := s.Outcome; o.Added != int64(len(sc.Lost)) || o.Recovered != int64(len(sc.Stripped)) || o.Removed != 0 || o.Overwritten != 0 {
		t.Errorf("outcome: %+v, want %d added, %d recovered", o, len(sc.Lost), len(sc.Stripped))
	}
	if l := s.Loss; l.Lost != int64(len(sc.Lost)) || l.Stripped != int64(len(sc.Stripped)) || l.NotRecovered != 0 {
		t.Errorf("loss: %+v, want %d lost, %d stripped, none not recovered", l, len(sc.Lost), len(sc.Stripped))
	}
	if s.Verdict.Status != report.StatusOK || len(s.Verdict.Reasons) != 0 {
		t.Errorf("verdict %+v, want ok", s.Verdict)
	}
	if want := filepath.Join(out, "documents", "r1"); !strings.Contains(c.stdout.String(), want) {
		t.Errorf("stdout %q does not name the report %s", c.stdout.String(), want)
	}

	// The report is what diff/ alone says about the two indexes.
	var alone bytes.Buffer
	if _, err := diff.Run(t.Context(), diff.IndexSide(es.Client(), "documents"), diff.IndexSide(es.Client(), "documents_restored"), &alone, diff.Options{}); err != nil {
		t.Fatal(err)
	}
	got := gunzipFile(t, filepath.Join(out, "documents", "r1", "diff.ndjson.gz"))
	if !bytes.Equal(got, alone.Bytes()) {
		t.Errorf("diff.ndjson.gz (%d bytes) differs from diff/ alone (%d bytes)", len(got), alone.Len())
	}
	if len(got) == 0 {
		t.Error("empty diff on a loss scenario")
	}
}

func TestExitCodesEndToEnd(t *testing.T) {
	es, _ := lossCluster(t, 300)
	out := t.TempDir()
	c := newCLI(t)

	t.Run("usage", func(t *testing.T) {
		if code := c.run(t.Context(), "frobnicate"); code != exitUsage {
			t.Errorf("unknown command: exit %d", code)
		}
		c.vars["ESRESTORE_WORKERS"] = "O"
		defer delete(c.vars, "ESRESTORE_WORKERS")
		if code := c.run(t.Context(), runArgs(es, out, "u1")...); code != exitUsage || !strings.Contains(c.text(), `ESRESTORE_WORKERS: must be 1..256 (got "O")`) {
			t.Errorf("bad env: exit %d, stderr %s", code, c.stderr.String())
		}
	})
	t.Run("guard rails", func(t *testing.T) {
		for _, tt := range []struct {
			name string
			args []string
			want string
		}{
			{"original missing", []string{"--original", "nope"}, "nope"},
			{"target is the original", []string{"--target", "documents"}, "must differ from --original"},
			{"snapshot missing", []string{"--source", "snapshot:backups/nope"}, "nope"},
			{"output not writable", []string{"--output", "file:///proc/esrestore"}, "--output"},
		} {
			args := runArgs(es, out, "g1")
			for i := 0; i < len(tt.args); i += 2 {
				for k := range args {
					if args[k] == tt.args[i] {
						args[k+1] = tt.args[i+1]
					}
				}
			}
			if code := c.run(t.Context(), args...); code != exitUsage || !strings.Contains(c.text(), tt.want) {
				t.Errorf("%s: exit %d, want 2 with %q in:\n%s", tt.name, code, tt.want, c.stderr.String())
			}
		}
		if indexExists(t, es, "documents_restored") {
			t.Error("a failed guard rail created the target")
		}
	})
	t.Run("transient guard rails", func(t *testing.T) {
		// What a later pod may not meet exits 1, which the Job retries.
		args := runArgs(es, out, "g2", "--retry-for", "1s", "--es-url", "http://127.0.0.1:1")
		// The outage is logged from its first failure, not only at the end.
		if code := c.run(t.Context(), args...); code != exitError || !strings.Contains(c.stderr.String(), "unreachable") ||
			!strings.Contains(c.stderr.String(), "outlasted the retry budget") || !strings.Contains(c.text(), "retrying") {
			t.Errorf("unreachable: exit %d, want 1 naming the budget:\n%s", code, c.stderr.String())
		}
		// A 503 on one endpoint is a fault only the stand-in makes.
		fake, _ := fakeLossCluster(t, 300)
		fake.Fake.SetFaults(fixtures.Faults{Unavailable503: 1, Endpoints: []string{"snapshot.get"}})
		code := c.run(t.Context(), runArgs(fake, out, "g3", "--retry-for", "1s")...)
		fake.Fake.SetFaults(fixtures.Faults{})
		if code != exitError || !strings.Contains(c.stderr.String(), "cluster_block_exception") {
			t.Errorf("503 on get snapshot: exit %d, want 1:\n%s", code, c.stderr.String())
		}
		// Within --retry-for: every read of the checks follows the job's
		// budget, none the library's default of five minutes.
		m := regexp.MustCompile(`outlasted the retry budget \(([^,]+), `).FindStringSubmatch(c.stderr.String())
		if d, err := time.ParseDuration(func() string {
			if m == nil {
				return ""
			}
			return m[1]
		}()); err != nil || d > 1500*time.Millisecond {
			t.Errorf("503 on get snapshot: gave up after %v (%v), want the 1s of --retry-for", m, err)
		}
	})
	t.Run("fail-on", func(t *testing.T) {
		// The default merge prefers the original, which keeps the
		// stripped documents stripped: not recovered, exit 3.
		if code := c.run(t.Context(), runArgs(es, out, "f1", "--target", "documents_f1")...); code != exitFailOn {
			t.Errorf("default fail-on: exit %d, want 3\n%s", code, c.stderr.String())
		}
		s := readSummary(t, out, "documents", "f1")
		if !s.Complete || len(s.Attention) != 1 || !strings.Contains(s.Attention[0], "not recovered") {
			t.Errorf("fail-on summary: complete %v attention %v", s.Complete, s.Attention)
		}
		if v := c.verdictLine(); !strings.HasPrefix(v, "verdict review: ") {
			t.Errorf("stderr does not end with the verdict:\n%s", c.stderr.String())
		}
		if code := c.run(t.Context(), runArgs(es, out, "f2", "--target", "documents_f2", "--mode", "source", "--fail-on", "none")...); code != exitOK {
			t.Errorf("fail-on none: exit %d", code)
		}
	})
	t.Run("error mid-run", func(t *testing.T) {
		// Shard failures on every search: the stand-in's fault.
		fake, _ := fakeLossCluster(t, 300)
		fake.Fake.SetFaults(fixtures.Faults{ShardFailure: 1, Endpoints: []string{"search"}})
		defer fake.Fake.SetFaults(fixtures.Faults{})
		code := c.run(t.Context(), runArgs(fake, out, "e1", "--target", "documents_e1", "--retry-for", "2s")...)
		if code != exitError {
			t.Errorf("shard failures: exit %d, want 1\n%s", code, c.stderr.String())
		}
		s := readSummary(t, out, "documents", "e1")
		if s.Complete || !strings.Contains(s.Error, "shard") {
			t.Errorf("summary after error: complete %v error %q", s.Complete, s.Error)
		}
	})
}

// TestInterruptedRunResumes interrupts a run (SIGTERM's cancellation)
// once loading has begun, at two points, and reruns it with the same run
// id: the rerun resumes into the same target and finishes.
func TestInterruptedRunResumes(t *testing.T) {
	for _, tt := range []struct {
		name string
		// ready tells when the interruption may come.
		ready func(es *estest.Cluster, sc fixtures.Scenario) bool
		// realOnly: only a real node holds the point long enough to aim
		// at it.
		realOnly bool
	}{
		// While Elasticsearch restores the snapshot as the target: the
		// target exists and does not carry the run id yet. A real node
		// stays there about half a second; the stand-in restores at once,
		// and whether the interruption lands there depends on the
		// machine's speed.
		{"snapshot restore", func(es *estest.Cluster, _ fixtures.Scenario) bool { return targetExists(es, "documents_restored") }, true},
		// In the reconciliation, once it has written a document.
		{"reconciliation", func(es *estest.Cluster, sc fixtures.Scenario) bool {
			return rewritten(es, "documents_restored", sc.Stripped)
		}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.realOnly && !estest.Wanted() {
				t.Skip("the stand-in restores a snapshot at once: this interruption point needs a real node (" + estest.EnvReal + "=1)")
			}
			es, sc := lossCluster(t, 2000)
			out := t.TempDir()
			c := newCLI(t)
			ctx, cancel := context.WithCancel(t.Context())
			go func() {
				for ctx.Err() == nil && !tt.ready(es, sc) {
					time.Sleep(10 * time.Millisecond)
				}
				cancel()
			}()
			// The snapshot is restored as the target and only the stripped
			// documents (100) are written: in batches of 5, at 100
			// documents a second (a pace a real node keeps too, where the
			// stand-in's injected latency does not exist), the
			// reconciliation is still going after its first write.
			code := c.run(ctx, runArgs(es, out, "sig1", "--batch-size", "5", "--workers", "2", "--max-docs-per-second", "100")...)
			cancel()
			if code != exitInterrupted {
				t.Fatalf("interrupted run: exit %d, want 130\n%s", code, c.stderr.String())
			}
			s := readSummary(t, out, "documents", "sig1")
			if s.Complete || s.Error == "" {
				t.Errorf("interrupted summary: complete %v error %q", s.Complete, s.Error)
			}
			if len(s.Attempts) != 1 || s.Attempts[0].Ended != report.AttemptInterrupted || s.Attempts[0].Finished == nil {
				t.Errorf("interrupted summary's attempts %+v, want one, interrupted", s.Attempts)
			}
			first := s.Attempts[0].Restore
			if code := c.run(t.Context(), runArgs(es, out, "sig1")...); code != exitFailOn {
				t.Fatalf("rerun: exit %d, want 3 (prefer original leaves fields not recovered)\n%s", code, c.stderr.String())
			}
			if !strings.Contains(c.text(), "resuming the run") {
				t.Error("the rerun does not say it resumes")
			}
			s = readSummary(t, out, "documents", "sig1")
			if !s.Complete || s.Outcome == nil || s.Outcome.Added != int64(len(sc.Lost)) || s.Outcome.Removed != 0 {
				t.Errorf("rerun summary: complete %v outcome %+v", s.Complete, s.Outcome)
			}
			// A resumed run says so, and its counts cover both attempts:
			// what the first wrote, the second kept, and the run indexed.
			if len(s.Attempts) != 2 || s.Attempts[0].Ended != report.AttemptInterrupted || s.Attempts[1].Ended != report.AttemptComplete ||
				s.Attempts[1].Number != 2 || s.Attempts[1].Restore == nil || first == nil {
				t.Fatalf("rerun summary's attempts %+v, want interrupted then complete", s.Attempts)
			}
			last, r := s.Attempts[1].Restore, s.Restore
			if r.WrittenByEarlierAttempts != first.Indexed || r.Indexed != last.Indexed+first.Indexed || r.Kept != last.Kept-first.Indexed ||
				r.Read != r.Indexed+r.Kept+r.Failed+r.Pending {
				t.Errorf("whole run %+v; attempts %+v then %+v: want the first's indexed moved from kept to indexed", r, first, last)
			}
			// As many as a run never interrupted indexes, less what the
			// first attempt left pending (written, perhaps, but not known).
			if code := c.run(t.Context(), runArgs(es, out, "sig1-whole", "--target", "documents_whole")...); code != exitFailOn {
				t.Fatalf("uninterrupted run: exit %d\n%s", code, c.stderr.String())
			}
			whole := readSummary(t, out, "documents", "sig1-whole").Restore
			if r.Indexed > whole.Indexed || r.Indexed < whole.Indexed-first.Pending {
				t.Errorf("resumed run indexed %d, a run never interrupted %d (first attempt left %d pending)", r.Indexed, whole.Indexed, first.Pending)
			}
			n, err := elastic.Count(t.Context(), es.Client(), "documents_restored", retry.Policy{})
			if err != nil || n != int64(len(sc.Complete)) {
				t.Errorf("target count %d (%v), want %d", n, err, len(sc.Complete))
			}
		})
	}
}

// rewritten reports whether index holds one of ids written since the
// snapshot restored it (a _version above 1); false on an error (it is
// called from a goroutine).
func rewritten(es *estest.Cluster, index string, ids map[string][]string) bool {
	var q struct {
		IDs []string `json:"ids"`
	}
	for id := range ids {
		q.IDs = append(q.IDs, id)
	}
	body, _ := json.Marshal(q)
	res, err := esapi.MgetRequest{Index: index, Body: bytes.NewReader(body), Source: []string{"false"}}.Do(context.Background(), es.Client())
	if err != nil {
		return false
	}
	defer res.Body.Close()
	var got struct {
		Docs []struct {
			Version int64 `json:"_version"`
		}
	}
	json.NewDecoder(res.Body).Decode(&got) //nolint:errcheck // none found then
	for _, d := range got.Docs {
		if d.Version > 1 {
			return true
		}
	}
	return false
}

// targetRunID is the run id in an index's mappings._meta.esrestore, ""
// when it has none or on an error (it is called from a goroutine).
func targetRunID(es *estest.Cluster, index string) string {
	res, err := esapi.IndicesGetMappingRequest{Index: []string{index}}.Do(context.Background(), es.Client())
	if err != nil {
		return ""
	}
	defer res.Body.Close()
	var m map[string]struct {
		Mappings struct {
			Meta struct {
				Esrestore struct {
					RunID string `json:"run_id"`
				} `json:"esrestore"`
			} `json:"_meta"`
		} `json:"mappings"`
	}
	if res.IsError() || json.NewDecoder(res.Body).Decode(&m) != nil {
		return ""
	}
	return m[index].Mappings.Meta.Esrestore.RunID
}

func TestDryRunWritesNothing(t *testing.T) {
	es, sc := lossCluster(t, 400)
	es.LoadDocs(t, "backup_copy", sc.Complete, 2)
	cat := func() string {
		res, err := esapi.CatIndicesRequest{Format: "json", H: []string{"index", "docs.count"}}.Do(t.Context(), es.Client())
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var rows []map[string]string
		json.NewDecoder(res.Body).Decode(&rows)
		var out []string
		for _, r := range rows {
			out = append(out, r["index"]+"="+r["docs.count"])
		}
		sort.Strings(out)
		return strings.Join(out, ",")
	}
	before := cat()
	beforeDocs := indexState(t, es, "documents")
	out := t.TempDir()
	c := newCLI(t)
	args := runArgs(es, out, "d1", "--dry-run", "--source", "index:backup_copy")
	for i := range args {
		if args[i] == "--source" && args[i+1] == "snapshot:backups/before-loss" {
			args[i+1] = "index:backup_copy"
		}
	}
	// Prefer original keeps the stripped documents stripped: exit 3.
	if code := c.run(t.Context(), args...); code != exitFailOn {
		t.Fatalf("dry run: exit %d, want 3\n%s", code, c.stderr.String())
	}
	if after := cat(); after != before {
		t.Errorf("dry run changed the cluster: %s → %s", before, after)
	}
	if indexState(t, es, "documents") != beforeDocs {
		t.Error("dry run changed the original")
	}
	s := readSummary(t, out, "documents", "d1")
	if o := s.Outcome; !s.DryRun || !s.Complete || s.Restore != nil || o.Added != int64(len(sc.Lost)) || o.Recovered+o.Overwritten != 0 || o.Removed != 0 {
		t.Errorf("dry run summary (merge, prefer original): %+v %+v", s, s.Outcome)
	}
	if l := s.Loss; l == nil || l.Lost != int64(len(sc.Lost)) || l.NotRecovered != int64(len(sc.Stripped)) || l.NotRecoveredLost != 0 {
		t.Errorf("dry run loss (prefer original): %+v, want %d not recovered", s.Loss, len(sc.Stripped))
	}
	if o, b := s.Integrity.Original, s.Integrity.Backup; o == nil || o.CountStart != int64(len(sc.Original)) || o.CountEnd != o.CountStart ||
		b == nil || b.Name != "backup_copy" || s.Integrity.Target != nil {
		t.Errorf("dry run integrity: %+v", s.Integrity)
	}
}

// TestDryRunOfSnapshot: the production configuration (a snapshot source)
// can be tried: the snapshot goes into a staging index, the only write,
// named in the summary and the logs and deleted at the end; the original
// is untouched and the target is not created.
func TestDryRunOfSnapshot(t *testing.T) {
	es, sc := lossCluster(t, 400)
	before := indexState(t, es, "documents")
	out := t.TempDir()
	c := newCLI(t)
	code := c.run(t.Context(), runArgs(es, out, "d2", "--dry-run", "--prefer", "source")...)
	if code != exitOK {
		t.Fatalf("dry run from a snapshot: exit %d\n%s", code, c.stderr.String())
	}
	if indexState(t, es, "documents") != before {
		t.Error("dry run changed the original")
	}
	if indexExists(t, es, "documents_restored") {
		t.Error("dry run created the target")
	}
	if indexExists(t, es, "esrestore-staging-d2") {
		t.Error("dry run left its staging index")
	}
	s := readSummary(t, out, "documents", "d2")
	if s.Staging == nil || s.Staging.Index != "esrestore-staging-d2" || !s.Staging.Deleted {
		t.Errorf("summary staging %+v, want esrestore-staging-d2, deleted", s.Staging)
	}
	if o := s.Outcome; !s.DryRun || !s.Complete || s.Restore != nil || o == nil || o.Added != int64(len(sc.Lost)) ||
		o.Recovered != int64(len(sc.Stripped)) || o.Removed != 0 {
		t.Errorf("dry run summary (prefer source): dry %v complete %v restore %+v outcome %+v", s.DryRun, s.Complete, s.Restore, s.Outcome)
	}
	if !strings.Contains(c.text(), "esrestore-staging-d2") {
		t.Error("the logs do not name the staging index")
	}
}

// writeDump writes docs as an NDJSON dump in dir and returns its URL.
func writeDump(t *testing.T, dir, name string, docs []fixtures.Doc) string {
	t.Helper()
	var b []byte
	for _, d := range docs {
		b = dump.AppendLine(b, dump.Doc{Index: "documents", ID: d.ID, Source: d.Source})
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return "file://" + p
}

func TestDryRunOfflineDumps(t *testing.T) {
	sc := fixtures.NewScenario(300, 0.1, 3)
	dir := t.TempDir()
	orig, backup := writeDump(t, dir, "documents.ndjson", sc.Original), writeDump(t, dir, "before-loss.ndjson", sc.Complete)
	out := t.TempDir()
	c := newCLI(t)
	code := c.run(t.Context(), "run", "--dry-run", "--original", orig, "--source", backup, "--prefer", "source",
		"--environment", "laptop", "--output", "file://"+out, "--run-id", "off1", "--progress", "0")
	if code != exitOK {
		t.Fatalf("offline dry run: exit %d\n%s", code, c.stderr.String())
	}
	s := readSummary(t, out, "documents", "off1")
	if o := s.Outcome; o.Added != int64(len(sc.Lost)) || o.Recovered != int64(len(sc.Stripped)) || o.Removed != 0 {
		t.Errorf("offline dry run (prefer source): %+v", s.Outcome)
	}
	// diff alone between the same dumps reports the same.
	code = c.run(t.Context(), "diff", "--original", orig, "--restored", backup, "--output", "file://"+out, "--run-id", "off2", "--progress", "0")
	if code != exitOK {
		t.Fatalf("diff of dumps: exit %d\n%s", code, c.stderr.String())
	}
	if d := readSummary(t, out, "documents", "off2").Outcome; *d != *s.Outcome {
		t.Errorf("diff command %+v, dry run %+v", d, s.Outcome)
	}
}

func TestCheckCommand(t *testing.T) {
	es, _ := lossCluster(t, 100)
	out := t.TempDir()
	c := newCLI(t)
	c.vars["ESRESTORE_ES_PASSWORD"] = "not-shown-pw"
	c.vars["ESRESTORE_ES_USERNAME"] = "elastic"
	args := []string{"check", "--es-url", es.URL, "--original", "documents", "--source", "snapshot:backups/before-loss",
		"--target", "documents_restored", "--output", "file://" + out, "--environment", "prod"}
	if code := c.run(t.Context(), args...); code != exitOK || !strings.HasPrefix(c.stdout.String(), "ok: documents → documents_restored in PROD") {
		t.Fatalf("check: exit %d, stdout %q\n%s", code, c.stdout.String(), c.stderr.String())
	}
	if indexExists(t, es, "documents_restored") {
		t.Error("check created the target")
	}
	// The run command to use next, with the run id whose path was checked.
	m := regexp.MustCompile(`run id (\S+); to run with it:\n  (esrestore run .*)\n`).FindStringSubmatch(c.stdout.String())
	if m == nil {
		t.Fatalf("check does not print the run command:\n%s", c.stdout.String())
	}
	runID, next := m[1], m[2]
	// Nothing written but the marker, put and deleted, and the record of
	// the configuration check vouched for.
	var left []string
	filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(out, p)
			left = append(left, rel)
		}
		return nil
	})
	if want := filepath.Join("documents", runID, "config.json"); len(left) != 1 || left[0] != want {
		t.Errorf("check left %v in the output, want %s alone", left, want)
	}
	// The fingerprint is the last line, and the command pins it.
	lines := strings.Split(strings.TrimSpace(c.stdout.String()), "\n")
	sha := lines[len(lines)-1]
	if !sha256RE.MatchString(sha) || !strings.HasSuffix(next, "--expect-config "+sha) {
		t.Errorf("last stdout line %q, next command %q: want the fingerprint, pinned by the command", sha, next)
	}
	for _, want := range []string{"--es-url " + es.URL, "--original documents", "--source snapshot:backups/before-loss",
		"--target documents_restored", "--environment prod", "--run-id " + runID} {
		if !strings.Contains(next, want) {
			t.Errorf("next command %q lacks %q", next, want)
		}
	}
	if !strings.Contains(c.stdout.String(), filepath.Join(out, "documents", runID)) {
		t.Errorf("check names a report path without the run id %s:\n%s", runID, c.stdout.String())
	}
	if strings.Contains(c.stdout.String()+c.stderr.String(), "not-shown-pw") {
		t.Error("check showed the password")
	}
	// The printed command runs, with that run id (prefer original: exit 3).
	fields := strings.Fields(next)[1:]
	if code := c.run(t.Context(), append(fields, "--progress", "0")...); code != exitFailOn {
		t.Fatalf("the command check printed: exit %d\n%s", code, c.stderr.String())
	}
	if s := readSummary(t, out, "documents", runID); !s.Complete || s.RunID != runID || s.ConfigSHA256 != sha {
		t.Errorf("run from check's command: complete %v, run id %q, config_sha256 %s, want %q and %s", s.Complete, s.RunID, s.ConfigSHA256, runID, sha)
	}

	// A failed check creates no directory either.
	missing := filepath.Join(t.TempDir(), "nonexistent")
	if code := c.run(t.Context(), replaceArg(replaceArg(args, "--output", "file://"+missing), "--original", "nope")...); code != exitUsage {
		t.Errorf("check of a missing original: exit %d", code)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("a failed check created %s (%v)", missing, err)
	}
	if _, err := (esapi.IndicesCreateRequest{Index: "documents_restored"}).Do(t.Context(), es.Client()); err != nil {
		t.Fatal(err)
	}
	if code := c.run(t.Context(), args...); code != exitUsage || !strings.Contains(c.text(), "documents_restored") {
		t.Errorf("check with an existing target: exit %d\n%s", code, c.stderr.String())
	}
}

func TestHelp(t *testing.T) {
	c := newCLI(t)
	for _, cmd := range commands() {
		if code := c.run(t.Context(), cmd.Name(), "-h"); code != exitOK {
			t.Errorf("%s -h: exit %d", cmd.Name(), code)
		}
		// Help asked for is the output: stdout, so | less shows it.
		help := c.stdout.String()
		if !strings.Contains(help, "Exit codes:") || !strings.Contains(help, "130  interrupted") || c.stderr.Len() != 0 {
			t.Errorf("%s -h: stdout lacks the exit codes or stderr has %q:\n%s", cmd.Name(), c.stderr.String(), help)
		}
		if cmd.Name() == "run" {
			for _, want := range []string{"--es-url", "env ESRESTORE_ES_URL", "ESRESTORE_ES_PASSWORD_FILE", "--workers", "default 4", "--fail-on", "--dry-run",
				"--max-docs-per-second", "--notify", "ESRESTORE_NOTIFY_FILE"} {
				if !strings.Contains(help, want) {
					t.Errorf("run -h lacks %q", want)
				}
			}
		}
		if cmd.Name() == "check" || cmd.Name() == "restore" {
			// check and restore validate the whole configuration of run.
			for _, g := range runFlags() {
				for _, f := range g {
					if !strings.Contains(help, "--"+f.name+" ") && !strings.Contains(help, "--"+f.name+"\n") {
						t.Errorf("%s -h lacks --%s, which run reads", cmd.Name(), f.name)
					}
				}
			}
		}
	}
	if code := c.run(t.Context(), "help"); code != exitOK || !strings.Contains(c.stdout.String(), "Commands:") {
		t.Errorf("help: exit %d, stdout %q", code, c.stdout.String())
	}
	for _, args := range [][]string{{"version"}, {"--version"}} {
		if code := c.run(t.Context(), args...); code != exitOK || !strings.HasPrefix(c.stdout.String(), "esrestore ") {
			t.Errorf("%v: %d %q %q", args, code, c.stdout.String(), c.stderr.String())
		}
	}
	// A typo: one line, the flag it meant.
	c.vars["ESRESTORE_LOG_FORMAT"] = "text"
	if code := c.run(t.Context(), "run", "--orignal", "documents"); code != exitUsage ||
		c.stderr.String() != "esrestore run: --orignal: not a flag of esrestore run; did you mean --original?\n" || c.stdout.Len() != 0 {
		t.Errorf("--orignal: exit %d, stderr %q", code, c.stderr.String())
	}
	if code := c.run(t.Context(), "rnu"); code != exitUsage || strings.Count(c.stderr.String(), "\n") != 1 || !strings.Contains(c.stderr.String(), `did you mean "run"?`) {
		t.Errorf("rnu: exit %d, stderr %q", code, c.stderr.String())
	}
	delete(c.vars, "ESRESTORE_LOG_FORMAT")
	// Without a terminal the same error is one JSON record.
	if code := c.run(t.Context(), "check", "--wokers", "4"); code != exitUsage {
		t.Errorf("check --wokers: exit %d", code)
	}
	if rec, err := decodeRecord(strings.TrimSpace(c.stderr.String())); err != nil || !strings.Contains(fmt.Sprint(rec.vals["error"]), "--wokers: not a flag of esrestore check; did you mean --workers?") {
		t.Errorf("check --wokers: %v %q", err, c.stderr.String())
	}
}

func TestDemo(t *testing.T) {
	c := newCLI(t)
	dir := t.TempDir()
	code := c.run(t.Context(), "demo", "--docs", "400", "--output", dir)
	if code != exitOK {
		t.Fatalf("demo: exit %d\n%s", code, c.stderr.String())
	}
	for _, want := range []string{"What happened", "added", "Where to look", "summary.json"} {
		if !strings.Contains(c.stdout.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, c.stdout.String())
		}
	}
	runs, err := os.ReadDir(filepath.Join(dir, "documents"))
	if err != nil || len(runs) != 1 {
		t.Fatalf("demo report: %v %v", runs, err)
	}
	stored, err := os.ReadFile(filepath.Join(dir, "documents", runs[0].Name(), "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if sha := fmt.Sprintf("%x", sha256.Sum256(stored)); !strings.Contains(c.stdout.String(), "the counts and options; sha256 "+sha+"\n") {
		t.Errorf("demo output lacks the summary's sha256 %s:\n%s", sha, c.stdout.String())
	}
	s := readSummary(t, dir, "documents", runs[0].Name())
	if !s.Complete || s.Outcome.Added != 20 || s.Outcome.Recovered != 10 || s.Verdict.Status != report.StatusOK {
		t.Errorf("demo summary: complete %v outcome %+v verdict %+v", s.Complete, s.Outcome, s.Verdict)
	}
}
