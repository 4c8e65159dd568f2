package job

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8"

	"github.com/esrestore/esrestore/fixtures"
	"github.com/esrestore/esrestore/fixtures/estest"
	"github.com/esrestore/esrestore/fixtures/faultproxy"
	"github.com/esrestore/esrestore/fixtures/faultproxy/fptest"
	"github.com/esrestore/esrestore/internal/retry"
	"github.com/esrestore/esrestore/report"
)

// runConfig is the configuration the command builds for a run of the
// flags' defaults: the index documents restored from the snapshot
// backups/before-loss into documents_restored, the report under out.
func runConfig(url, out, runID string) Config {
	return Config{
		ES:       ESConfig{URLs: []string{url}},
		Original: "documents", Source: "snapshot:backups/before-loss",
		Target: "documents_restored", Mode: "merge", Prefer: "source", Strategy: "reconcile",
		Workers: 4, BatchSize: 1000, BatchBytes: 5 << 20,
		RetryFor: time.Minute, BulkTimeout: 2 * time.Minute, Drain: time.Minute, LeaseTTL: time.Minute,
		Output: "file://" + out, Environment: "test", RunID: runID,
		FailOn: slices.Clone(report.DefaultFailOn),
	}
}

// testJob is a job of command on cfg whose records go to logs as JSON,
// and whose Tell keeps what it was told.
type testJob struct {
	*Job
	logs   bytes.Buffer
	stdout bytes.Buffer
	// told are the errors Tell was called with, and toldSummary the
	// summary.json on disk when it was.
	told        []error
	toldSummary []byte
}

func newTestJob(t *testing.T, command string, cfg Config) *testJob {
	t.Helper()
	tj := &testJob{}
	tj.Job = New(cfg, Options{
		Command: command, Logger: slog.New(slog.NewJSONHandler(&tj.logs, nil)), JSONLogs: true,
		Stdout: &tj.stdout, ToolVersion: "test",
		NewClient: func(c ESConfig) (*elasticsearch.Client, error) {
			return elasticsearch.NewClient(elasticsearch.Config{Addresses: c.URLs, DisableRetry: true})
		},
		Ping: ping,
		Tell: func(j *Job, err error) error {
			tj.told = append(tj.told, err)
			loc, _ := strings.CutPrefix(j.ReportURL("summary.json"), "file://")
			tj.toldSummary, _ = os.ReadFile(loc)
			return err
		},
	})
	return tj
}

// ping asks GET / for the version, as the command's ping does.
func ping(ctx context.Context, es *elasticsearch.Client, _ retry.Policy, where string) (string, error) {
	res, err := es.Info(es.Info.WithContext(ctx))
	if err != nil {
		return "", fmt.Errorf("elasticsearch at %s is unreachable: %w", where, err)
	}
	defer res.Body.Close()
	var info struct {
		Version struct {
			Number string `json:"number"`
		} `json:"version"`
	}
	if res.IsError() || json.NewDecoder(res.Body).Decode(&info) != nil {
		return "", fmt.Errorf("elasticsearch at %s: %s", where, res.Status())
	}
	return info.Version.Number, nil
}

// messages are the msg of each record logged, in order.
func (tj *testJob) messages(t *testing.T) []string {
	t.Helper()
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(tj.logs.Bytes()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r struct {
			Msg string `json:"msg"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("record %q: %v", sc.Text(), err)
		}
		out = append(out, r.Msg)
	}
	return out
}

// readSummary reads the summary.json of a run under out.
func readSummary(t *testing.T, out, runID string) (*report.Summary, []byte) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(out, "documents", runID, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := report.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return s, b
}

// TestRunPhasesInOrder runs the job on a loss: the guard rails, then the
// restore, the diff of what it loaded, the index comparison and the
// counts at the end, then the summary, written before the command is
// told, and its location on stdout.
func TestRunPhasesInOrder(t *testing.T) {
	es := estest.New(t)
	sc := fixtures.NewScenario(300, 0.1, 7)
	es.LoadScenario(t, "documents", "backups", "before-loss", sc, 3)
	out := t.TempDir()
	j := newTestJob(t, "run", runConfig(es.URL, out, "r1"))
	err := j.Run(t.Context())
	if err != nil && KindOf(err) != FailOn {
		t.Fatalf("run: %v\n%s", err, j.logs.String())
	}
	if len(j.told) != 1 || j.told[0] != nil {
		t.Fatalf("Tell called with %v, want once with nil", j.told)
	}

	s, b := readSummary(t, out, "r1")
	if !s.Complete || s.Error != "" {
		t.Fatalf("summary complete %v, error %q", s.Complete, s.Error)
	}
	if !bytes.Equal(j.toldSummary, b) {
		t.Error("the summary.json Tell saw is not the one the run left")
	}
	sum := sha256.Sum256(b)
	if got := j.SummarySHA256(); got != hex.EncodeToString(sum[:]) {
		t.Errorf("SummarySHA256 %s, not the sha256 of summary.json", got)
	}
	if got, want := j.stdout.String(), j.ReportURL("")+"\n"; got != want {
		t.Errorf("stdout %q, want the report's location %q", got, want)
	}

	// The restore loaded every document of the backup and the original.
	r := s.Restore
	if r == nil || r.Pending != 0 || r.Failed != 0 || r.TargetCount != int64(len(sc.Complete)) {
		t.Fatalf("restore %+v, want nothing pending or failed and %d documents in the target", r, len(sc.Complete))
	}
	// The diff read the target the restore loaded: it ran after it.
	o := s.Outcome
	if o == nil || o.Original != int64(len(sc.Original)) || o.Target != r.TargetCount || o.Added != int64(len(sc.Lost)) {
		t.Fatalf("outcome %+v, want %d original documents, the target's %d, the %d lost added", o, len(sc.Original), r.TargetCount, len(sc.Lost))
	}
	// The index comparison and the counts at the end ran after both.
	// The target and the snapshot's index have the original's mapping.
	if x := s.Indexes; x == nil || x.Mappings == nil || x.Settings == nil || len(x.Mappings) != 0 || len(x.SnapshotMappings) != 0 {
		t.Errorf("indexes %+v, want the mappings and settings compared, and no difference in the mappings", x)
	}
	in := s.Integrity
	if in.Cluster == nil || in.Original == nil || in.Snapshot == nil || in.Target == nil ||
		in.Original.CountEnd != int64(len(sc.Original)) || in.Target.CountEnd != r.TargetCount {
		t.Errorf("integrity %+v, want the cluster, snapshot, original and target recorded with their counts", in)
	}
	if s.Staging == nil || !s.Staging.Deleted {
		t.Errorf("staging %+v, want the snapshot's staging index deleted once the diff is done", s.Staging)
	}
	if len(s.Attempts) != 1 || s.Attempts[0].Ended != report.AttemptComplete {
		t.Errorf("attempts %+v, want one, complete", s.Attempts)
	}
	if s.Verdict.Status == "" || s.Verdict.Status != report.Judge(s).Status {
		t.Errorf("verdict %+v, want the summary's own", s.Verdict)
	}
	for _, name := range []string{"diff", "failures", "page"} {
		if o, ok := s.Objects[name]; !ok || o.SHA256 == "" {
			t.Errorf("summary lists no %s object: %+v", name, s.Objects)
		}
	}

	// The records say the same, in the same order.
	msgs := j.messages(t)
	at := -1
	for _, m := range []string{"report location checked", "elasticsearch reachable", "effective configuration",
		"guard rails passed", "summary written"} {
		i := slices.Index(msgs, m)
		if i <= at {
			t.Errorf("record %q at %d, want it after %d: %q", m, i, at, msgs)
		}
		at = i
	}
}

// TestResumeSettlesThePending: an attempt that failed mid-restore leaves
// an incomplete summary counting the documents whose fate it does not
// know; the next attempt of the run id resumes it, settles them, and the
// summary lists both attempts.
func TestResumeSettlesThePending(t *testing.T) {
	es := estest.New(t)
	sc := fixtures.NewScenario(200, 0.1, 7)
	es.LoadScenario(t, "documents", "backups", "before-loss", sc, 3)
	out := t.TempDir()

	// Every _bulk answers 503: the restore gives up after --retry-for.
	p := fptest.New(t, es.URL, faultproxy.Options{Rules: []faultproxy.Rule{{Path: "_bulk", Action: faultproxy.Status, Code: 503}}})
	cfg := runConfig(p.URL(), out, "r1")
	cfg.RetryFor, cfg.Strategy = time.Second, "passes"
	first := newTestJob(t, "run", cfg)
	err := first.Run(t.Context())
	if KindOf(err) != Failed {
		t.Fatalf("first attempt: %v (kind %d), want a failure\n%s", err, KindOf(err), first.logs.String())
	}
	if len(first.told) != 1 || first.told[0] == nil {
		t.Errorf("Tell called with %v, want once with the failure", first.told)
	}
	s, _ := readSummary(t, out, "r1")
	if s.Complete || s.Restore == nil || s.Restore.Pending <= 0 {
		t.Fatalf("first attempt's summary: complete %v, restore %+v; want incomplete, documents pending", s.Complete, s.Restore)
	}
	if r := s.Restore; r.Pending != r.Read-r.Indexed-r.Kept-r.Skipped-r.Failed {
		t.Errorf("pending %d, want read %d less the settled", r.Pending, r.Read)
	}
	if len(s.Attempts) != 1 || s.Attempts[0].Ended != report.AttemptFailed {
		t.Fatalf("first attempt's attempts %+v, want one, failed", s.Attempts)
	}

	cfg.ES.URLs, cfg.RetryFor = []string{es.URL}, time.Minute
	second := newTestJob(t, "run", cfg)
	if err := second.Run(t.Context()); err != nil && KindOf(err) != FailOn {
		t.Fatalf("second attempt: %v\n%s", err, second.logs.String())
	}
	if !slices.Contains(second.messages(t), "resuming the run") {
		t.Errorf("the second attempt did not say it resumes: %q", second.messages(t))
	}
	s, _ = readSummary(t, out, "r1")
	if !s.Complete || s.Restore == nil || s.Restore.Pending != 0 || s.Restore.TargetCount != int64(len(sc.Complete)) {
		t.Fatalf("resumed summary: complete %v, restore %+v; want complete, nothing pending, %d documents", s.Complete, s.Restore, len(sc.Complete))
	}
	if len(s.Attempts) != 2 || s.Attempts[0].Ended != report.AttemptFailed || s.Attempts[1].Ended != report.AttemptComplete {
		t.Errorf("attempts %+v, want the failed one, then this one complete", s.Attempts)
	}
	if s.Outcome == nil || s.Outcome.Added != int64(len(sc.Lost)) {
		t.Errorf("outcome %+v, want the %d lost added", s.Outcome, len(sc.Lost))
	}
}

// TestGuardRailsStopBeforeAnyWrite: a job its guard rails refuse returns
// a Misconfigured error before its first write: no summary, no target,
// the command not told (it reports the error itself).
func TestGuardRailsStopBeforeAnyWrite(t *testing.T) {
	es := estest.New(t)
	sc := fixtures.NewScenario(50, 0.1, 7)
	es.LoadScenario(t, "documents", "backups", "before-loss", sc, 1)
	out := t.TempDir()
	cfg := runConfig(es.URL, out, "r1")
	cfg.Original = "missing"
	j := newTestJob(t, "run", cfg)
	err := j.Run(t.Context())
	if KindOf(err) != Misconfigured || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("run: %v (kind %d), want a configuration error naming the original", err, KindOf(err))
	}
	if len(j.told) != 0 {
		t.Errorf("Tell called with %v for a job its guard rails stopped", j.told)
	}
	if _, err := os.Stat(filepath.Join(out, "missing", "r1", "summary.json")); !os.IsNotExist(err) {
		t.Errorf("summary.json after the guard rails refused the run: %v", err)
	}
	res, err := es.Client().Indices.Exists([]string{"documents_restored"})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 404 {
		t.Errorf("the target exists (%s) after the guard rails refused the run", res.Status())
	}
	if msgs := j.messages(t); !slices.Contains(msgs, "effective configuration") || slices.Contains(msgs, "guard rails passed") {
		t.Errorf("records %q, want the effective configuration logged and no guard rails passed", msgs)
	}
}
