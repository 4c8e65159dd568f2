package main

import (
	"bytes"
	"compress/gzip"
	"encoding/pem"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/esrestore/esrestore/internal/dump"

	"github.com/esrestore/esrestore/diff"
	"github.com/esrestore/esrestore/fixtures"
	"github.com/esrestore/esrestore/fixtures/estest"
	"github.com/esrestore/esrestore/internal/elastic"
	"github.com/esrestore/esrestore/internal/retry"
	"github.com/esrestore/esrestore/report"
)

// authProxy is a TLS front of a fixture cluster that records the
// Authorization header of every request.
type authProxy struct {
	*httptest.Server
	mu   sync.Mutex
	seen map[string]bool
}

func newAuthProxy(t *testing.T, es *estest.Cluster) (*authProxy, string) {
	t.Helper()
	target, _ := url.Parse(es.URL)
	p := &authProxy{seen: map[string]bool{}}
	rp := httputil.NewSingleHostReverseProxy(target)
	p.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.seen[r.Header.Get("Authorization")] = true
		p.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.Certificate().Raw})
	if err := os.WriteFile(ca, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return p, ca
}

func (p *authProxy) saw(h string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seen[h]
}

func TestESAuthAndTLSFlags(t *testing.T) {
	es, _ := lossCluster(t, 50)
	proxy, ca := newAuthProxy(t, es)
	out := t.TempDir()
	c := newCLI(t)
	c.files["/secrets/key"] = "a2V5OnNlY3JldA==\n"
	base := []string{"check", "--es-url", proxy.URL, "--original", "documents", "--source", "snapshot:backups/before-loss",
		"--output", "file://" + out, "--environment", "test", "--es-ca-cert", ca}
	for _, tt := range []struct {
		name   string
		args   []string
		vars   map[string]string
		header string
	}{
		{"basic", []string{"--es-username", "restorer", "--es-password", "pw1"}, nil, "Basic cmVzdG9yZXI6cHcx"},
		{"basic in URL", []string{"--es-url", strings.Replace(proxy.URL, "https://", "https://u2:pw2@", 1)}, nil, "Basic dTI6cHcy"},
		{"api key from file", nil, map[string]string{"ESRESTORE_ES_API_KEY_FILE": "/secrets/key"}, "APIKey a2V5OnNlY3JldA=="},
		{"bearer", nil, map[string]string{"ESRESTORE_ES_BEARER_TOKEN": "tok"}, "Bearer tok"},
	} {
		c.vars = tt.vars
		if c.vars == nil {
			c.vars = map[string]string{}
		}
		args := append(append([]string{}, base...), tt.args...)
		if len(tt.args) > 0 && tt.args[0] == "--es-url" {
			args = replaceArg(base, "--es-url", tt.args[1])
		}
		if code := c.run(t.Context(), args...); code != exitOK {
			t.Errorf("%s: exit %d\n%s", tt.name, code, c.stderr.String())
		}
		if !proxy.saw(tt.header) {
			t.Errorf("%s: Elasticsearch never saw Authorization %q", tt.name, tt.header)
		}
	}
	c.vars = map[string]string{}

	// Without the CA the certificate is refused; the server name checked
	// is the one given.
	if code := c.run(t.Context(), replaceArg(base, "--es-ca-cert", "")...); code != exitUsage || !strings.Contains(c.text(), "certificate") {
		t.Errorf("no CA: exit %d\n%s", code, c.stderr.String())
	}
	if code := c.run(t.Context(), append(base, "--es-tls-server-name", "example.com")...); code != exitOK {
		t.Errorf("server name example.com (in the test certificate): exit %d\n%s", code, c.stderr.String())
	}
	if code := c.run(t.Context(), append(base, "--es-tls-server-name", "elsewhere.internal")...); code != exitUsage || !strings.Contains(c.text(), "elsewhere.internal") {
		t.Errorf("wrong server name: exit %d\n%s", code, c.stderr.String())
	}
	if code := c.run(t.Context(), replaceArg(base, "--es-ca-cert", "/nope.pem")...); code != exitUsage || !strings.Contains(c.text(), `--es-ca-cert: cannot read the CA file`) {
		t.Errorf("missing CA file: exit %d\n%s", code, c.stderr.String())
	}
}

func TestRestoreFlagsHaveEffect(t *testing.T) {
	es, sc := lossCluster(t, 200)
	out := t.TempDir()
	c := newCLI(t)

	// --keep-staging leaves the snapshot's staging index.
	if code := c.run(t.Context(), runArgs(es, out, "ks1", "--target", "documents_ks", "--keep-staging", "--prefer", "source")...); code != exitOK {
		t.Fatalf("keep-staging: exit %d\n%s", code, c.stderr.String())
	}
	n, err := elastic.Count(t.Context(), es.Client(), "esrestore-staging-ks1", retry.Policy{})
	if err != nil || n != int64(len(sc.Complete)) {
		t.Errorf("staging index after --keep-staging: %d docs, %v", n, err)
	}
	if code := c.run(t.Context(), runArgs(es, out, "ks2", "--target", "documents_ks2", "--prefer", "source")...); code != exitOK {
		t.Fatalf("without keep-staging: exit %d", code)
	}
	if indexExists(t, es, "esrestore-staging-ks2") {
		t.Error("staging index left without --keep-staging")
	}

	// --retry-for bounds the retries by time: every item rejected (a
	// fault of the stand-in's), each retried for a second, then failed.
	// The source is an index holding the backup: a snapshot would be
	// restored as the target, and nothing written.
	fake, _ := fakeLossCluster(t, 200)
	fake.LoadDocs(t, "backup_copy", sc.Complete, 2)
	fake.Fake.SetFaults(fixtures.Faults{BulkItemReject: 1})
	start := time.Now()
	code := c.run(t.Context(), runArgs(fake, out, "mr1", "--target", "documents_mr", "--retry-for", "1s", "--mode", "source",
		"--source", "index:backup_copy")...)
	took := time.Since(start)
	fake.Fake.SetFaults(fixtures.Faults{})
	if code != exitError && code != exitFailOn {
		t.Fatalf("all items rejected: exit %d\n%s", code, c.stderr.String())
	}
	s := readSummary(t, out, "documents", "mr1")
	if s.Restore == nil || s.Restore.Failed != int64(len(sc.Complete)) || s.Restore.Retried == 0 {
		t.Errorf("--retry-for 1s: restore %+v, want all %d failed after retries", s.Restore, len(sc.Complete))
	}
	if took < time.Second || took > time.Minute {
		t.Errorf("--retry-for 1s: the run took %s, want about a second of retries", took)
	}
	fails := gunzipFile(t, filepath.Join(out, "documents", "mr1", "failures.ndjson.gz"))
	if got := strings.Count(string(fails), "es_rejected_execution_exception"); got != len(sc.Complete) {
		t.Errorf("failures.ndjson.gz names %d rejections, want %d", got, len(sc.Complete))
	}

	// --ignore takes the stripped fields out of the comparison.
	code = c.run(t.Context(), "diff", "--es-url", es.URL, "--original", "documents", "--restored", "documents_ks",
		"--ignore", strings.Join(fixtures.StrippedPointers[:], ","), "--output", "file://"+out, "--run-id", "ig1", "--progress", "0")
	if code != exitOK {
		t.Fatalf("diff --ignore: exit %d\n%s", code, c.stderr.String())
	}
	is := readSummary(t, out, "documents", "ig1")
	if d := is.Outcome; d.Recovered+d.Overwritten != 0 || d.Added != int64(len(sc.Lost)) || len(is.Ignored) != len(fixtures.StrippedPointers) {
		t.Errorf("diff --ignore every stripped pointer: %+v, ignored %v", d, is.Ignored)
	}
}

// TestFillNullFlag: --fill-null decides whether a null of the original is
// filled from the source; both the restore and the dry run read it.
func TestFillNullFlag(t *testing.T) {
	dir := t.TempDir()
	write := func(name, lines string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(lines), 0o644); err != nil {
			t.Fatal(err)
		}
		return "file://" + p
	}
	orig := write("documents.ndjson", `{"_id":"a","_source":{"v":1,"excerpt":null}}`+"\n"+`{"_id":"b","_source":{"v":2}}`+"\n")
	backup := write("before.ndjson", `{"_id":"a","_source":{"v":0,"excerpt":"text"}}`+"\n"+`{"_id":"b","_source":{"v":0,"x":1}}`+"\n")
	for _, tt := range []struct {
		args                   []string
		recovered, overwritten int64
	}{
		{nil, 1, 0}, // b's /x only: a's null is a live value
		// a's null replaced by the backup's value: the diff reads a
		// replaced null as an overwrite, for the reviewer to see.
		{[]string{"--fill-null"}, 1, 1},
	} {
		out := t.TempDir()
		c := newCLI(t)
		args := append([]string{"run", "--dry-run", "--original", orig, "--source", backup, "--prefer", "fill",
			"--environment", "laptop", "--output", "file://" + out, "--run-id", "fn", "--progress", "0", "--fail-on", "none"}, tt.args...)
		if code := c.run(t.Context(), args...); code != exitOK {
			t.Fatalf("%v: exit %d\n%s", tt.args, code, c.stderr.String())
		}
		if o := readSummary(t, out, "documents", "fn").Outcome; o.Recovered != tt.recovered || o.Overwritten != tt.overwritten {
			t.Errorf("%v: outcome %+v, want %d recovered, %d overwritten", tt.args, *o, tt.recovered, tt.overwritten)
		}
	}
	c := newCLI(t)
	if code := c.run(t.Context(), "run", "--dry-run", "--original", orig, "--source", backup, "--fill-null",
		"--environment", "laptop", "--output", "file://"+t.TempDir()); code != exitUsage {
		t.Errorf("--fill-null without --prefer fill: exit %d, want %d", code, exitUsage)
	}
}

// TestStrategyFlag: --strategy passes writes both sides whole; the default
// restores the snapshot as the target and writes only what differs. Both
// give the same target and the same diff.
func TestStrategyFlag(t *testing.T) {
	// Past a diff page (1,000) per worker: the first page of each scan
	// slice fetches every backup copy.
	es, sc := lossCluster(t, 2500)
	out := t.TempDir()
	type result struct {
		restore *report.Restore
		outcome diff.Outcome
		loss    diff.Loss
		docs    map[string]string
	}
	runs := map[string]result{}
	for _, strategy := range []string{"passes", "reconcile"} {
		c := newCLI(t)
		target := "documents_" + strategy
		if code := c.run(t.Context(), runArgs(es, out, "st-"+strategy, "--target", target, "--strategy", strategy, "--prefer", "source", "--workers", "1")...); code != exitOK {
			t.Fatalf("--strategy %s: exit %d\n%s", strategy, code, c.stderr.String())
		}
		s := readSummary(t, out, "documents", "st-"+strategy)
		runs[strategy] = result{s.Restore, *s.Outcome, *s.Loss, indexDocs(t, es, target)}
	}
	p, r := runs["passes"], runs["reconcile"]
	if p.restore.Load != "passes" || p.restore.Indexed != int64(len(sc.Complete)) {
		t.Errorf("--strategy passes: restore %+v, want every backup document written", *p.restore)
	}
	if r.restore.Load != "snapshot-as-target" || r.restore.Indexed != 0 || r.restore.SnapshotRestored != int64(len(sc.Complete)) {
		t.Errorf("--strategy reconcile: restore %+v, want the snapshot as the target and nothing written", *r.restore)
	}
	if p.outcome != r.outcome || !maps.Equal(p.docs, r.docs) {
		t.Errorf("the strategies disagree: outcome %+v and %+v, %d and %d documents", p.outcome, r.outcome, len(p.docs), len(r.docs))
	}
	// The target restored from the snapshot shares its history with the
	// staging index: the diff takes the backup's copies the target did
	// not rewrite from the target, and says the same.
	if p.loss.BackupBySeqNo != 0 || r.loss.BackupBySeqNo == 0 {
		t.Errorf("backup copies taken from the target: passes %d, reconcile %d; want 0 and some", p.loss.BackupBySeqNo, r.loss.BackupBySeqNo)
	}
	r.loss.BackupBySeqNo = 0
	if !reflect.DeepEqual(p.loss, r.loss) {
		t.Errorf("the strategies disagree on the loss: %+v and %+v", p.loss, r.loss)
	}
	c := newCLI(t)
	if code := c.run(t.Context(), runArgs(es, out, "st-bad", "--target", "documents_bad", "--strategy", "passes", "--prefer", "fill")...); code != exitUsage {
		t.Errorf("--strategy passes --prefer fill: exit %d, want %d", code, exitUsage)
	}
}

// TestUnknownVariables: an ESRESTORE_* variable no flag of any command
// reads is exit 2 before anything else happens, each one named with the
// closest known name; the tests' own prefix is left alone.
func TestUnknownVariables(t *testing.T) {
	for _, tc := range []struct {
		vars map[string]string
		want []string // in the message
	}{
		{map[string]string{"ESRESTORE_DRYRUN": "true"}, []string{"ESRESTORE_DRYRUN: not a variable of esrestore; did you mean ESRESTORE_DRY_RUN?"}},
		{map[string]string{"ESRESTORE_WORKER": "8", "ESRESTORE_OUTUPT": "s3://b/p"}, []string{
			"ESRESTORE_WORKER: not a variable of esrestore; did you mean ESRESTORE_WORKERS?",
			"ESRESTORE_OUTUPT: not a variable of esrestore; did you mean ESRESTORE_OUTPUT?"}},
		{map[string]string{"ESRESTORE_MAX_DOCS_PER_SEC": "100"}, []string{"did you mean ESRESTORE_MAX_DOCS_PER_SECOND?"}},
		{map[string]string{"ESRESTORE_NOTHING_LIKE_IT": "1"}, []string{"ESRESTORE_NOTHING_LIKE_IT: not a variable of esrestore"}},
	} {
		for _, cmd := range []string{"run", "check", "diff", "promote", "version"} {
			c := newCLI(t)
			maps.Copy(c.vars, tc.vars)
			// An address nothing listens on: exit 2 must come before any
			// call to it.
			code := c.run(t.Context(), cmd, "--es-url", "http://127.0.0.1:1", "--original", "documents")
			if code != exitUsage {
				t.Errorf("%s with %v: exit %d, want %d\n%s", cmd, tc.vars, code, exitUsage, c.stderr.String())
				continue
			}
			for _, w := range tc.want {
				if !strings.Contains(c.stderr.String(), w) {
					t.Errorf("%s with %v: stderr lacks %q:\n%s", cmd, tc.vars, w, c.stderr.String())
				}
			}
		}
	}
	// Every variable a flag reads, and the tests' own, pass this check.
	c := newCLI(t)
	for _, name := range knownVariables() {
		c.vars[name] = ""
	}
	c.vars["ESRESTORE_TEST_ES_URL"] = "http://127.0.0.1:1"
	if err := checkEnviron(c.environ()); err != nil {
		t.Errorf("known variables refused: %v", err)
	}
}

// TestBlankListsAndRepeatedFlags: a blank list (or a blank item) is exit
// 2, never a gate turned off; none is the one off switch and stands
// alone; a flag given twice is exit 2, naming both values.
func TestBlankListsAndRepeatedFlags(t *testing.T) {
	base := []string{"run", "--es-url", "http://127.0.0.1:1", "--original", "documents", "--source", "index:backup",
		"--target", "restored", "--output", "file:///tmp/x"}
	for _, tc := range []struct {
		name string
		args []string
		vars map[string]string
		want string
	}{
		{"empty --fail-on", []string{"--fail-on", ""}, nil, `--fail-on: a blank list or a blank item`},
		{"blank variable", nil, map[string]string{"ESRESTORE_FAIL_ON": " "}, `ESRESTORE_FAIL_ON: a blank list or a blank item`},
		{"comma alone", []string{"--fail-on", ","}, nil, `--fail-on: a blank list or a blank item: list the values, comma-separated (got ",")`},
		{"trailing comma", []string{"--fail-on", "removed,"}, nil, `--fail-on: a blank list or a blank item`},
		{"none with others", []string{"--fail-on", "none,removed"}, nil, `--fail-on: none turns every gate off: give it alone`},
		{"empty --ignore", []string{"--ignore", " "}, nil, `--ignore: a blank list or a blank item`},
		{"empty --profile", []string{"--profile", " "}, nil, `--profile: a blank list or a blank item`},
		{"blank profile variable", nil, map[string]string{"ESRESTORE_PROFILE": "/site,"}, `ESRESTORE_PROFILE: a blank list or a blank item`},
		{"profile none with others", []string{"--profile", "none,/site"}, nil, `--profile: none turns the profile off: give it alone`},
		{"profile not a pointer", []string{"--profile", "site"}, nil, `--profile: bad JSON Pointer "site"`},
		{"profile date not a pointer", []string{"--profile-date", "modified"}, nil, `--profile-date: bad JSON Pointer "modified"`},
		{"repeated flag", []string{"--original", "other"}, nil, `--original given twice ("documents", then "other"): give it once`},
		{"repeated bool", []string{"--dry-run", "--dry-run"}, nil, `--dry-run given twice`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCLI(t)
			maps.Copy(c.vars, tc.vars)
			if code := c.run(t.Context(), append(slices.Clone(base), tc.args...)...); code != exitUsage {
				t.Fatalf("exit %d, want %d\n%s", code, exitUsage, c.stderr.String())
			}
			if !strings.Contains(c.text(), tc.want) {
				t.Errorf("stderr lacks %q:\n%s", tc.want, c.text())
			}
		})
	}
	for _, args := range [][]string{{"--accept", ""}, {"--alias", "docs,"}} {
		c := newCLI(t)
		code := c.run(t.Context(), append([]string{"promote", "--es-url", "http://127.0.0.1:1", "--report", "file:///tmp/x/summary.json"}, args...)...)
		if code != exitUsage || !strings.Contains(c.text(), args[0]+": a blank list or a blank item") {
			t.Errorf("promote %v: exit %d\n%s", args, code, c.text())
		}
	}
	// none alone still turns the gates off: the configuration passes
	// (the run then fails on the address nothing listens on).
	c := newCLI(t)
	c.run(t.Context(), append(slices.Clone(base), "--fail-on", "none", "--environment", "test", "--retry-for", "1s")...)
	if strings.Contains(c.text(), "fail-on") || !strings.Contains(c.text(), "127.0.0.1:1") {
		t.Errorf("--fail-on none:\n%s", c.text())
	}
}

// TestNotElasticsearch: a server that answers, but not as Elasticsearch
// (here OpenSearch's GET /), is exit 2 at once, naming what answered;
// no retry can change it.
func TestNotElasticsearch(t *testing.T) {
	var gets atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gets.Add(1)
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		io.WriteString(w, `{"name":"node-1","cluster_name":"opensearch","cluster_uuid":"x","version":{"distribution":"opensearch",`+ //nolint:errcheck // a test server
			`"number":"2.19.6","build_type":"tar","minimum_wire_compatibility_version":"7.10.0"},"tagline":"The OpenSearch Project: https://opensearch.org/"}`)
	}))
	defer srv.Close()
	c := newCLI(t)
	code := c.run(t.Context(), "run", "--es-url", srv.URL, "--original", "documents", "--source", "index:backup",
		"--target", "restored", "--output", "file://"+t.TempDir(), "--environment", "test", "--retry-for", "1m")
	if code != exitUsage || !strings.Contains(c.text(), "is not Elasticsearch: it answers GET / as") || strings.Contains(c.text(), "unreachable") || !strings.Contains(c.text(), `opensearch 2.19.6 ("The OpenSearch Project`) {
		t.Fatalf("exit %d, want %d naming OpenSearch:\n%s", code, exitUsage, c.text())
	}
	if n := gets.Load(); n > 3 {
		t.Errorf("%d requests: the refusal was retried", n)
	}
}

// TestIndexNamesBeforeAnyCall: an original or source that is no index
// name, or a source that is the original, is exit 2 before any call.
func TestIndexNamesBeforeAnyCall(t *testing.T) {
	for _, tc := range []struct {
		original, source, want string
	}{
		{"a/b", "index:backup", `--original: must not contain \ / * ? " < > | space , # : (got "a/b")`},
		{"../documents", "index:backup", `--original: must not contain`},
		{"Documents", "index:backup", `--original: must be lowercase`},
		{"documents", "index:a/b", `--source: index must not contain`},
		{"documents", "index:_all", `--source: index must not start with _, - or +`},
		{"documents", "index:documents", `--source: is the original: a backup must be another index (got "index:documents")`},
	} {
		for _, cmd := range []string{"run", "check"} {
			c := newCLI(t)
			code := c.run(t.Context(), cmd, "--es-url", "http://127.0.0.1:1", "--original", tc.original, "--source", tc.source,
				"--environment", "test", "--output", "file://"+t.TempDir(), "--retry-for", "1m")
			if code != exitUsage || !strings.Contains(c.text(), tc.want) {
				t.Errorf("%s --original %s --source %s: exit %d, want %d with %q:\n%s", cmd, tc.original, tc.source, code, exitUsage, tc.want, c.text())
			}
		}
	}
}

// TestNextRunCommandPastes: credentials in --es-url become --es-username
// and the password's variable in the command check suggests, never a
// "[redacted]" that cannot be pasted, never the password.
func TestNextRunCommandPastes(t *testing.T) {
	c := newCLI(t)
	env := &Env{Getenv: func(k string) string { return c.vars[k] }, ReadFile: os.ReadFile, Stdout: io.Discard, Stderr: io.Discard}
	fs, fv := newFlagSet("check", checkHelp, env, runFlags()...)
	if err := parseFlags(fs, []string{"--es-url", "http://alice:s3cret@127.0.0.1:9200", "--original", "documents",
		"--source", "index:backup", "--environment", "prod"}); err != nil {
		t.Fatal(err)
	}
	got := nextRunCommand(fv, "r1", "ab12")
	want := `esrestore run --es-url http://127.0.0.1:9200 --es-username alice --es-password "$ESRESTORE_ES_PASSWORD" --original documents --source index:backup --environment prod --run-id r1 --expect-config ab12`
	if got != want {
		t.Errorf("next command\n got %s\nwant %s", got, want)
	}
}

// TestTruncatedDumpIsExit2: a compressed dump cut short is exit 2 (no
// retry of the Job reads it to its end), naming the file, for a run and a
// dry run alike.
func TestTruncatedDumpIsExit2(t *testing.T) {
	es, sc := lossCluster(t, 300)
	var raw bytes.Buffer
	zw := gzip.NewWriter(&raw)
	for _, d := range sc.Complete {
		zw.Write(dump.AppendLine(nil, dump.Doc{Index: "documents", ID: d.ID, Source: d.Source})) //nolint:errcheck // a buffer
	}
	zw.Close()
	path := filepath.Join(t.TempDir(), "before-loss.ndjson.gz")
	if err := os.WriteFile(path, raw.Bytes()[:raw.Len()*2/3], 0o644); err != nil {
		t.Fatal(err)
	}
	for i, extra := range [][]string{{"--dry-run"}, nil} {
		c := newCLI(t)
		args := runArgs(es, t.TempDir(), fmt.Sprintf("cut%d", i), append([]string{"--source", "file://" + path}, extra...)...)
		if code := c.run(t.Context(), args...); code != exitUsage || !strings.Contains(c.text(), "corrupt compressed dump") ||
			!strings.Contains(c.text(), "before-loss.ndjson.gz:") {
			t.Errorf("%v: exit %d, want %d naming the cut file:\n%s", extra, code, exitUsage, c.text())
		}
	}
}
