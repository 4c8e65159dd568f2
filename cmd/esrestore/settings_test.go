package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/esrestore/esrestore/job"
)

// flagSamples are two good values of each flag of run, and the flags a
// value needs beside it: the per-flag test sets each and reads the record
// and the fingerprint. A new flag needs its line here.
var flagSamples = map[string]struct {
	a, b  string
	extra []string
}{
	"es-url":              {a: "https://a.internal:9200", b: "https://b.internal:9200"},
	"es-username":         {a: "u1", b: "u2"},
	"es-password":         {a: "pw-one", b: "pw-two"},
	"es-api-key":          {a: "a2V5MQ==", b: "a2V5Mg=="},
	"es-bearer-token":     {a: "tok1", b: "tok2"},
	"es-ca-cert":          {a: "/ca1.pem", b: "/ca2.pem"},
	"es-tls-server-name":  {a: "a.example", b: "b.example"},
	"original":            {a: "documents", b: "documents2"},
	"source":              {a: "snapshot:backups/a", b: "index:backup"},
	"source-index":        {a: "m1", b: "m2"},
	"target":              {a: "documents_t1", b: "documents_t2"},
	"mode":                {a: "merge", b: "source"},
	"prefer":              {a: "original", b: "source"},
	"strategy":            {a: "reconcile", b: "passes"},
	"fill-null":           {a: "false", b: "true", extra: []string{"--prefer", "fill"}},
	"workers":             {a: "4", b: "8"},
	"batch-size":          {a: "1000", b: "10"},
	"batch-bytes":         {a: "5MiB", b: "1MiB"},
	"retry-for":           {a: "5m", b: "1m"},
	"bulk-timeout":        {a: "2m", b: "1m"},
	"drain-timeout":       {a: "60s", b: "10s"},
	"allow-empty-source":  {a: "false", b: "true"},
	"keep-staging":        {a: "false", b: "true"},
	"max-docs-per-second": {a: "0", b: "100"},
	"skip-ids":            {a: "/skip1.txt", b: "s3://lists/skip2.txt"},
	"only-query":          {a: `{"term":{"site":"a"}}`, b: `{"term":{"site":"b"}}`},
	"ignore":              {a: "/a", b: "/b"},
	"watch":               {a: "/visibility=PUBLIC", b: "/visibility"},
	"profile":             {a: "/site", b: "/site,/type"},
	"profile-date":        {a: "/modified", b: "/published"},
	"output":              {a: "file:///tmp/a", b: "file:///tmp/b"},
	"s3-endpoint":         {a: "http://127.0.0.1:1", b: "http://127.0.0.1:2"},
	"s3-region":           {a: "eu-west-1", b: "us-east-1"},
	"s3-sse":              {a: "AES256", b: "aws:kms"},
	"s3-kms-key-id":       {a: "k1", b: "k2", extra: []string{"--s3-sse", "aws:kms"}},
	"environment":         {a: "prod", b: "test"},
	"run-id":              {a: "r1", b: "r2"},
	"dry-run":             {a: "false", b: "true"},
	"notify":              {a: "https://hooks.example/1", b: "https://hooks.example/2"},
	"fail-on":             {a: "failed", b: "removed"},
	"rerun":               {a: "false", b: "true"},
	"lease-ttl":           {a: "60s", b: "30s"},
	"expect-config":       {a: strings.Repeat("a", 64), b: strings.Repeat("b", 64)},
	"log-format":          {a: "text", b: "json"},
	"log-level":           {a: "info", b: "debug"},
	"progress":            {a: "30s", b: "1s"},
}

// recordOf builds run's configuration from vars and args and returns the
// effective configuration record as logged, decoded: settings by key.
func recordOf(t *testing.T, vars map[string]string, args ...string) (map[string]struct{ Value, Origin string }, Config) {
	t.Helper()
	files := map[string]string{"/ca1.pem": "ca", "/ca2.pem": "ca", "/secret": "from-a-file-secret\n", "/notify": "https://hooks.example/f\n"}
	env, _, _ := testEnv(vars, files)
	fs, fv := newFlagSet("run", "", env, runFlags()...)
	if err := parseFlags(fs, args); err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	c, err := fv.build(time.Date(2021, 12, 2, 10, 0, 0, 0, time.UTC), "es-url", "original", "source", "environment")
	if err != nil {
		t.Fatalf("vars %v args %v: %v", vars, args, err)
	}
	var buf bytes.Buffer
	job.LogConfig(slog.New(slog.NewJSONHandler(&buf, nil)), "run", c, job.ConfigSHA256(c.Settings, job.Identities{}), job.Identities{}, true)
	var rec struct {
		Settings map[string]struct{ Value, Origin string } `json:"settings"`
	}
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("record %s: %v", buf.String(), err)
	}
	for _, s := range []string{"pw-one", "pw-two", "tok1", "a2V5MQ==", "from-a-file-secret", "hooks.example"} {
		if strings.Contains(buf.String(), s) {
			t.Errorf("the record shows the secret %q: %s", s, buf.String())
		}
	}
	return rec.Settings, c
}

// TestEveryFlagHasVariableOriginAndFingerprint fails when a flag lacks its
// variable, its origin in the effective configuration record, or its
// place in config_sha256 (or in job.NotFingerprinted, with why).
func TestEveryFlagHasVariableOriginAndFingerprint(t *testing.T) {
	// Every flag of every command has a variable esrestore accepts.
	for _, g := range allFlagGroups() {
		for _, f := range g {
			if err := checkEnviron([]string{envName(f.name) + "=x"}); err != nil {
				t.Errorf("--%s: its variable %s is refused: %v", f.name, envName(f.name), err)
			}
		}
	}
	for name, why := range job.NotFingerprinted {
		if _, ok := flagSamples[name]; !ok || why == "" {
			t.Errorf("job.NotFingerprinted lists %q (reason %q): not a flag of run, or no reason", name, why)
		}
	}
	base := map[string]string{"ESRESTORE_ES_URL": "https://es.internal:9200", "ESRESTORE_ORIGINAL": "documents",
		"ESRESTORE_SOURCE": "snapshot:backups/before-loss", "ESRESTORE_ENVIRONMENT": "prod", "ESRESTORE_RUN_ID": "r0",
		"ESRESTORE_ES_USERNAME": "restorer"}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for bk, bv := range base {
			m[bk] = bv
		}
		if k != "" {
			m[k] = v
		}
		return m
	}
	// The commands record every flag they register.
	for cmd, groups := range map[string][][]flagDef{"run": runFlags(), "diff": diffCmdFlags(),
		"promote": afterReviewGroups(promoteFlags), "rollback": afterReviewGroups()} {
		env, _, _ := testEnv(nil, nil)
		fs, fv := newFlagSet(cmd, "", env, groups...)
		if err := parseFlags(fs, []string{"--es-url", "http://127.0.0.1:1", "--original", "a"}); err != nil {
			t.Fatal(err)
		}
		c, err := fv.build(time.Now())
		if err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		for _, g := range groups {
			for _, f := range g {
				found := false
				for _, s := range c.Settings {
					found = found || s.Name == f.name && s.Origin != ""
				}
				if !found {
					t.Errorf("%s: --%s is not in the effective configuration", cmd, f.name)
				}
			}
		}
	}
	for _, g := range runFlags() {
		for _, f := range g {
			t.Run(f.name, func(t *testing.T) {
				s, ok := flagSamples[f.name]
				if !ok {
					t.Fatalf("--%s has no line in flagSamples", f.name)
				}
				key := strings.ReplaceAll(f.name, "-", "_")
				// Its origin: the variable, the flag, or the default.
				rec, _ := recordOf(t, with(envName(f.name), s.a), s.extra...)
				if rec[key].Origin != envName(f.name) {
					t.Errorf("set by %s: record %+v, want origin %s", envName(f.name), rec[key], envName(f.name))
				}
				flagArgs := append(append([]string{}, s.extra...), "--"+f.name+"="+s.a)
				rec, ca := recordOf(t, with("", ""), flagArgs...)
				if rec[key].Origin != "flag" {
					t.Errorf("set by --%s: record %+v, want origin flag", f.name, rec[key])
				}
				if f.secret {
					if want := "set (--" + f.name + ", " + itoa(len(s.a)) + " bytes)"; rec[key].Value != want {
						t.Errorf("secret --%s shows as %q, want %q", f.name, rec[key].Value, want)
					}
					file, n := "/secret", 18
					if f.name == "notify" {
						file, n = "/notify", 23
					}
					rec, _ = recordOf(t, with(envName(f.name)+"_FILE", file))
					if want := "set (" + envName(f.name) + "_FILE, " + itoa(n) + " bytes)"; rec[key].Value != want || rec[key].Origin != envName(f.name)+"_FILE" {
						t.Errorf("secret from %s_FILE: %+v, want %q", envName(f.name), rec[key], want)
					}
				}
				if _, ok := rec[key]; !ok {
					t.Errorf("the record lacks %s: %v", key, rec)
				}
				// Its place in the fingerprint.
				_, cb := recordOf(t, with("", ""), append(append([]string{}, s.extra...), "--"+f.name+"="+s.b)...)
				_, cv := recordOf(t, with(envName(f.name), s.a), s.extra...)
				sa, sb, sv := job.ConfigSHA256(ca.Settings, job.Identities{}), job.ConfigSHA256(cb.Settings, job.Identities{}), job.ConfigSHA256(cv.Settings, job.Identities{})
				_, excluded := job.NotFingerprinted[f.name]
				switch {
				case excluded && sa != sb:
					t.Errorf("--%s is in job.NotFingerprinted, yet changes config_sha256", f.name)
				case f.secret && sa != sb:
					t.Errorf("secret --%s: its value changes config_sha256", f.name)
				case f.secret && sa == sv:
					t.Errorf("secret --%s: its origin (flag or %s) does not change config_sha256", f.name, envName(f.name))
				case !excluded && !f.secret && sa == sb:
					t.Errorf("--%s %s and %s give one config_sha256: the flag is not in the fingerprint (or add it to job.NotFingerprinted, with why)", f.name, s.a, s.b)
				case !excluded && !f.secret && sa != sv:
					t.Errorf("--%s %s by flag and by %s give two fingerprints: a value's origin must not count", f.name, s.a, envName(f.name))
				}
			})
		}
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{5 * time.Minute: "5m", time.Hour: "1h", 90 * time.Second: "1m30s",
		0: "0s", 24 * time.Hour: "24h", time.Hour + time.Minute: "1h1m", 1500 * time.Millisecond: "1.5s"} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%s) = %q, want %q", d, got, want)
		}
	}
}

// TestEffectiveConfigurationDefaults: the record shows every default
// resolved, and the fingerprint binds the identities.
func TestEffectiveConfigurationDefaults(t *testing.T) {
	rec, c := recordOf(t, nil, validArgs...)
	for key, want := range map[string]string{
		"workers": "4", "batch_size": "1000", "batch_bytes": "5MiB", "fail_on": "failed,removed,overwritten,not-recovered,source-excludes",
		"retry_for": "5m", "bulk_timeout": "2m", "drain_timeout": "1m", "strategy": "reconcile", "mode": "merge",
		"prefer": "original", "fill_null": "false", "keep_staging": "false", "allow_empty_source": "false", "rerun": "false",
		"dry_run": "false", "max_docs_per_second": "0", "output": job.DefaultOutput, "target": "documents_restored_20211202",
		"progress": "30s", "es_password": "", "notify": "",
	} {
		if got := rec[key]; got.Value != want || got.Origin != "default" {
			t.Errorf("%s: %+v, want %q from default", key, got, want)
		}
	}
	if got := rec["run_id"]; !strings.HasPrefix(got.Value, "20211202T100000Z-") || got.Origin != "default" {
		t.Errorf("run_id: %+v", got)
	}
	id := job.Identities{Cluster: "c1", Original: "o1", Snapshot: "s1"}
	sum := job.ConfigSHA256(c.Settings, id)
	for _, other := range []job.Identities{{Cluster: "c2", Original: "o1", Snapshot: "s1"}, {Cluster: "c1", Original: "o2", Snapshot: "s1"}, {Cluster: "c1", Original: "o1", Snapshot: "s2"}} {
		if job.ConfigSHA256(c.Settings, other) == sum {
			t.Errorf("identities %+v and %+v give one config_sha256", id, other)
		}
	}
}

// configCase is one configuration mistake, run in-process: its exit code
// and what the output must say.
type configCase struct {
	name string
	vars map[string]string
	args []string
	code int
	want []string
}

// TestConfigurationMistakes: check, run and the other commands fail alike
// on the whole configuration of run, and say which setting and where it
// came from.
func TestConfigurationMistakes(t *testing.T) {
	es, _ := lossCluster(t, 100)
	out := t.TempDir()
	check := func(extra ...string) []string {
		return withFlags([]string{"check", "--es-url", es.URL, "--original", "documents", "--source", "snapshot:backups/before-loss",
			"--target", "documents_cm", "--output", "file://" + out, "--environment", "test"}, extra...)
	}
	for _, tt := range []configCase{
		{"ESRESTORE_WORKERS=O check", map[string]string{"ESRESTORE_WORKERS": "O"}, check(), exitUsage,
			[]string{`ESRESTORE_WORKERS: must be 1..256 (got "O")`}},
		{"ESRESTORE_WORKERS=O run", map[string]string{"ESRESTORE_WORKERS": "O"}, runArgs(es, out, "cm1"), exitUsage,
			[]string{`ESRESTORE_WORKERS: must be 1..256 (got "O")`}},
		{"ESRESTORE_WORKERS=O restore", map[string]string{"ESRESTORE_WORKERS": "O"}, append([]string{"restore"}, runArgs(es, out, "cm1")[1:]...), exitUsage,
			[]string{`ESRESTORE_WORKERS: must be 1..256 (got "O")`}},
		{"ESRESTORE_BATCH_BYTES=lots check", map[string]string{"ESRESTORE_BATCH_BYTES": "lots"}, check(), exitUsage,
			[]string{`ESRESTORE_BATCH_BYTES: must be a size`}},
		{"ESRESTORE_FAIL_ON blank check", map[string]string{"ESRESTORE_FAIL_ON": " , "}, check(), exitUsage,
			[]string{`ESRESTORE_FAIL_ON: a blank list`}},
		{"ESRESTORE_DRY_RUN=yes check", map[string]string{"ESRESTORE_DRY_RUN": "yes"}, check(), exitUsage,
			[]string{`ESRESTORE_DRY_RUN: must be true or false (got "yes")`}},
		{"a bad variable under a flag", map[string]string{"ESRESTORE_WORKERS": "O"}, check("--workers", "2"), exitUsage,
			[]string{`ESRESTORE_WORKERS: must be 1..256; --workers overrides it, but the variable is wrong all the same`}},
		{"run's variable in diff", map[string]string{"ESRESTORE_MODE": "mirror"},
			[]string{"diff", "--es-url", es.URL, "--original", "documents", "--restored", "documents_x", "--output", "file://" + out}, exitUsage,
			[]string{`ESRESTORE_MODE: must be one of merge, source; esrestore run reads it (got "mirror")`}},
		{"run's variable in promote", map[string]string{"ESRESTORE_MAX_DOCS_PER_SECOND": "fast"},
			[]string{"promote", "--es-url", es.URL, "--report", "file://" + out + "/documents/x"}, exitUsage,
			[]string{`ESRESTORE_MAX_DOCS_PER_SECOND: must be a number`}},
		{"a bad --expect-config", nil, check("--expect-config", "abc"), exitUsage,
			[]string{`--expect-config: must be the 64 hex digits of a config_sha256 (got "abc")`}},
		{"a flag over a variable", map[string]string{"ESRESTORE_WORKERS": "8"}, check("--workers", "2"), exitOK,
			[]string{`a flag overrides a variable environment: TEST flag: --workers`, `variable: ESRESTORE_WORKERS`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(t)
			for k, v := range tt.vars {
				c.vars[k] = v
			}
			code := c.run(t.Context(), tt.args...)
			text := c.text()
			if code != tt.code {
				t.Errorf("exit %d, want %d\n%s", code, tt.code, text)
			}
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("output lacks %q:\n%s", w, text)
				}
			}
		})
	}
	if targetExists(es, "documents_restored") {
		t.Error("a refused configuration created the target")
	}
}

// effectiveRecord is the "effective configuration" record of a JSON log.
func effectiveRecord(t *testing.T, stderr string) record {
	t.Helper()
	for _, line := range strings.Split(stderr, "\n") {
		if rec, err := decodeRecord(line); err == nil && rec.msg == "effective configuration" {
			return rec
		}
	}
	t.Fatalf("no effective configuration record in:\n%s", stderr)
	return record{}
}

// TestSecretsShownOnlyAsSet: a secret is "set (where, length)" in the
// record, and its value nowhere.
func TestSecretsShownOnlyAsSet(t *testing.T) {
	es, _ := lossCluster(t, 100)
	c := newCLI(t)
	const pw = "hunter2-0123456789abcdef"
	c.files["/run/secrets/es-password"] = pw + "\n"
	c.vars["ESRESTORE_ES_PASSWORD_FILE"] = "/run/secrets/es-password"
	c.vars["ESRESTORE_ES_USERNAME"] = "elastic"
	c.vars["ESRESTORE_LOG_FORMAT"] = "json"
	code := c.run(t.Context(), "check", "--es-url", es.URL, "--original", "documents", "--source", "snapshot:backups/before-loss",
		"--output", "file://"+t.TempDir(), "--environment", "test")
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, c.stderr.String())
	}
	rec := effectiveRecord(t, c.stderr.String())
	settings := rec.vals["settings"].(map[string]any)
	got := settings["es_password"].(map[string]any)
	if got["value"] != "set (ESRESTORE_ES_PASSWORD_FILE, 24 bytes)" || got["origin"] != "ESRESTORE_ES_PASSWORD_FILE" {
		t.Errorf("es_password in the record: %v", got)
	}
	if strings.Contains(c.stdout.String()+c.stderr.String(), pw) {
		t.Error("the password is in the output")
	}
	if sha, _ := rec.vals["config_sha256"].(string); !sha256RE.MatchString(sha) || rec.vals["cluster_uuid"] == "" || rec.vals["original_uuid"] == "" || rec.vals["snapshot_uuid"] == "" {
		t.Errorf("record: config_sha256 %v, cluster %v, original %v, snapshot %v", rec.vals["config_sha256"], rec.vals["cluster_uuid"], rec.vals["original_uuid"], rec.vals["snapshot_uuid"])
	}
}

// lastLine is the last line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// TestExpectConfig: check's fingerprint is the run's for the same
// configuration; a run with another exits 2 before any write, naming the
// settings that differ from check's record; the same runs.
func TestExpectConfig(t *testing.T) {
	es, _ := lossCluster(t, 100)
	out := t.TempDir()
	c := newCLI(t)
	c.vars["ESRESTORE_WORKERS"] = "3"
	checkArgs := []string{"check", "--es-url", es.URL, "--original", "documents", "--source", "snapshot:backups/before-loss",
		"--target", "documents_ec", "--output", "file://" + out, "--environment", "test", "--run-id", "ec1", "--prefer", "source"}
	if code := c.run(t.Context(), checkArgs...); code != exitOK {
		t.Fatalf("check: exit %d\n%s", code, c.stderr.String())
	}
	sha := lastLine(c.stdout.String())
	if !sha256RE.MatchString(sha) {
		t.Fatalf("check's last stdout line %q is no fingerprint", sha)
	}
	if _, err := os.Stat(filepath.Join(out, "documents", "ec1", "config.json")); err != nil {
		t.Fatalf("check left no config.json: %v", err)
	}
	// Check again: one configuration, one fingerprint.
	if code := c.run(t.Context(), checkArgs...); code != exitOK || lastLine(c.stdout.String()) != sha {
		t.Fatalf("check again: exit %d, fingerprint %s, want %s", code, lastLine(c.stdout.String()), sha)
	}
	run := append([]string{"run"}, checkArgs[1:]...)
	run = append(run, "--progress", "0")

	for _, tt := range []struct {
		name  string
		vars  map[string]string
		extra []string
		want  []string
	}{
		{"another value", nil, []string{"--batch-size", "10"}, []string{`batch_size: "10", check had "1000"`}},
		{"a variable changed", map[string]string{"ESRESTORE_WORKERS": "4"}, nil, []string{`workers: "4", check had "3"`}},
		// A dry run's one write, the staging restore, is not made either.
		{"a dry run", nil, []string{"--dry-run"}, []string{`dry_run: "true", check had "false"`}},
		{"by variable", map[string]string{"ESRESTORE_EXPECT_CONFIG": sha, "ESRESTORE_KEEP_STAGING": "true"}, nil,
			[]string{"ESRESTORE_EXPECT_CONFIG: this configuration's config_sha256 is", `keep_staging: "true", check had "false"`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c.vars = map[string]string{"ESRESTORE_WORKERS": "3"}
			for k, v := range tt.vars {
				c.vars[k] = v
			}
			args := append(append([]string{}, run...), tt.extra...)
			if tt.vars["ESRESTORE_EXPECT_CONFIG"] == "" {
				args = append(args, "--expect-config", sha)
			}
			code := c.run(t.Context(), args...)
			text := c.text()
			if code != exitUsage {
				t.Errorf("exit %d, want %d\n%s", code, exitUsage, text)
			}
			for _, w := range append(tt.want, "not the "+sha+" expected; nothing was written", "config.json") {
				if !strings.Contains(text, w) {
					t.Errorf("output lacks %q:\n%s", w, text)
				}
			}
			if indexExists(t, es, "documents_ec") || indexExists(t, es, "esrestore-staging-ec1") {
				t.Error("a refused run wrote to Elasticsearch")
			}
			if _, err := os.Stat(filepath.Join(out, "documents", "ec1", "summary.json")); err == nil {
				t.Error("a refused run wrote a summary")
			}
		})
	}

	// Without check's record the run still refuses, and says so.
	c.vars = map[string]string{"ESRESTORE_WORKERS": "3"}
	code := c.run(t.Context(), withFlags(run, "--run-id", "ec2", "--expect-config", sha)...)
	if code != exitUsage || !strings.Contains(c.text(), "no record of check at") {
		t.Errorf("another run id, no record: exit %d\n%s", code, c.text())
	}

	// check run again on another configuration: its record is the one to
	// compare with, and says so.
	c.vars = map[string]string{"ESRESTORE_WORKERS": "5"}
	if code := c.run(t.Context(), checkArgs...); code != exitOK || lastLine(c.stdout.String()) == sha {
		t.Fatalf("check with 5 workers: exit %d, fingerprint %s", code, lastLine(c.stdout.String()))
	}
	c.vars = map[string]string{"ESRESTORE_WORKERS": "3"}
	if code := c.run(t.Context(), append(run, "--expect-config", sha, "--batch-size", "10")...); code != exitUsage ||
		!strings.Contains(c.text(), "not of the configuration expected; what differs from it:") || !strings.Contains(c.text(), `workers: "3", check had "5"`) {
		t.Errorf("against a later check's record: exit %d\n%s", code, c.text())
	}
	c.vars = map[string]string{"ESRESTORE_WORKERS": "5"}
	if code := c.run(t.Context(), append(run, "--expect-config", sha)...); code != exitUsage ||
		!strings.Contains(c.text(), "it is the configuration check recorded last") {
		t.Errorf("the configuration of the later check, an earlier fingerprint: exit %d\n%s", code, c.text())
	}
	c.vars = map[string]string{"ESRESTORE_WORKERS": "3"}

	// The configuration check vouched for runs, and records the same
	// fingerprint.
	if code := c.run(t.Context(), append(run, "--expect-config", strings.ToUpper(sha))...); code != exitOK {
		t.Fatalf("the checked configuration: exit %d\n%s", code, c.stderr.String())
	}
	if s := readSummary(t, out, "documents", "ec1"); s.ConfigSHA256 != sha || s.Options["workers"] != "3" {
		t.Errorf("summary: config_sha256 %s (want %s), options %v", s.ConfigSHA256, sha, s.Options)
	}
}
