package main

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testEnv is an Env with the given variables and files, capturing output.
func testEnv(vars map[string]string, files map[string]string) (*Env, *bytes.Buffer, *bytes.Buffer) {
	var stdout, stderr bytes.Buffer
	return &Env{
		Getenv: func(k string) string { return vars[k] },
		ReadFile: func(p string) ([]byte, error) {
			if b, ok := files[p]; ok {
				return []byte(b), nil
			}
			return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
		},
		Stdout:  &stdout,
		Stderr:  &stderr,
		WorkDir: "",
	}, &stdout, &stderr
}

func buildConfig(t *testing.T, vars, files map[string]string, args ...string) (Config, error) {
	t.Helper()
	env, _, _ := testEnv(vars, files)
	fset, fv := newFlagSet("run", "", env, runFlags()...)
	if err := fset.Parse(args); err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	return fv.build(time.Date(2021, 12, 2, 10, 0, 0, 0, time.UTC), "es-url", "original", "source", "environment")
}

var validArgs = []string{"--es-url", "https://es.internal:9200", "--original", "documents", "--source", "snapshot:backups/before-loss", "--environment", "prod"}

func TestConfigDefaultsAndEnv(t *testing.T) {
	c, err := buildConfig(t, map[string]string{"ESRESTORE_WORKERS": "8", "ESRESTORE_IGNORE": "/modified,/tags/*/id"}, nil, validArgs...)
	if err != nil {
		t.Fatal(err)
	}
	if c.Target != "documents_restored_20211202" {
		t.Errorf("default target = %q", c.Target)
	}
	if c.Workers != 8 || c.BatchBytes != 5<<20 || c.BatchSize != 1000 || c.Mode != "merge" || c.Prefer != "original" {
		t.Errorf("got %+v", c)
	}
	if strings.Join(c.Ignore, " ") != "/modified /tags/*/id" {
		t.Errorf("ignore = %v", c.Ignore)
	}
	if strings.Join(c.FailOn, ",") != "failed,removed,overwritten,not-recovered,source-excludes" || c.Progress != 30*time.Second {
		t.Errorf("fail-on %v progress %v", c.FailOn, c.Progress)
	}
	if !runIDRE.MatchString(c.RunID) || !strings.HasPrefix(c.RunID, "20211202T100000Z-") {
		t.Errorf("run id = %q", c.RunID)
	}
	// The command line wins over the environment.
	c, err = buildConfig(t, map[string]string{"ESRESTORE_WORKERS": "8"}, nil, append(validArgs, "--workers", "2")...)
	if err != nil || c.Workers != 2 {
		t.Errorf("flag over env: workers %d, %v", c.Workers, err)
	}
}

func TestConfigEveryBadFieldAtOnce(t *testing.T) {
	vars := map[string]string{
		"ESRESTORE_WORKERS":     "O",
		"ESRESTORE_BATCH_BYTES": "lots",
		"ESRESTORE_MODE":        "mirror",
	}
	_, err := buildConfig(t, vars, nil,
		"--es-url", "ftp://x", "--original", "Documents", "--source", "tape:1", "--target", "Documents",
		"--environment", "prod env", "--fail-on", "everything", "--ignore", "modified", "--log-format", "xml",
		"--progress", "soon", "--s3-sse", "rot13", "--s3-kms-key-id", "k", "--run-id", "../x", "--retry-for", "0", "--batch-size", "-1")
	if err == nil {
		t.Fatal("no error")
	}
	if exitCode(err) != exitUsage {
		t.Errorf("exit code %d, want %d", exitCode(err), exitUsage)
	}
	for _, want := range []string{
		`ESRESTORE_WORKERS: must be 1..256 (got "O")`,
		`ESRESTORE_BATCH_BYTES: must be a size between 64KiB and 512MiB, e.g. 5MiB (got "lots")`,
		`ESRESTORE_MODE: must be one of merge, source (got "mirror")`,
		`--es-url: must be an http(s)://host:port URL (got "ftp://x")`,
		`--original: must be lowercase (got "Documents")`,
		`--source: must be snapshot:REPO/SNAP[/INDEX]`,
		`--target: must be lowercase (got "Documents")`,
		`--environment: must be letters, digits, - or _ (at most 32) (got "prod env")`,
		`--fail-on: must list failed, removed, overwritten, not-recovered, mappings, live-writes, incomplete, source-excludes, source-index, watched, or be none (got "everything")`,
		`--ignore: bad JSON Pointer "modified": must start with "/" (got "modified")`,
		`--log-format: must be one of auto, text, json (got "xml")`,
		`--progress: must be a duration`,
		`--s3-sse: must be AES256 or aws:kms (got "rot13")`,
		`--s3-kms-key-id: needs --s3-sse aws:kms (got "k")`,
		`--run-id: must be letters, digits, ., _ or - (at most 64) (got "../x")`,
		`--retry-for: must be a duration between 1s and 24h0m0s, e.g. 5m (got "0")`,
		`--batch-size: must be 1..100000 (got "-1")`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

func TestConfigRequired(t *testing.T) {
	_, err := buildConfig(t, nil, nil)
	for _, want := range []string{"--es-url: is required (env ESRESTORE_ES_URL)", "--original: is required", "--source: is required", "--environment: is required"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
}

func TestConfigSecrets(t *testing.T) {
	files := map[string]string{"/run/secrets/es-password": "s3cr3t-pw\n", "/run/secrets/api": "QVBJS0VZ"}
	c, err := buildConfig(t, map[string]string{"ESRESTORE_ES_PASSWORD_FILE": "/run/secrets/es-password", "ESRESTORE_ES_USERNAME": "restorer"}, files, validArgs...)
	if err != nil {
		t.Fatal(err)
	}
	if c.ES.Password != "s3cr3t-pw" || c.ES.Username != "restorer" {
		t.Errorf("password from file: %q/%q", c.ES.Username, c.ES.Password)
	}
	// Credentials inside the URL move out of it.
	args := append([]string{}, validArgs...)
	args[1] = "https://elastic:hunter2@es.internal:9200"
	c, err = buildConfig(t, nil, nil, args...)
	if err != nil {
		t.Fatal(err)
	}
	if c.ES.URLs[0] != "https://es.internal:9200" || c.ES.Username != "elastic" || c.ES.Password != "hunter2" {
		t.Errorf("url credentials: %v %q %q", c.ES.URLs, c.ES.Username, c.ES.Password)
	}
	for _, s := range c.Settings {
		if strings.Contains(s.Value, "hunter2") {
			t.Errorf("%s shows the password: %q", s.Name, s.Value)
		}
		if s.Name == "es-password" && s.Value != "set (--es-url, 7 bytes)" {
			t.Errorf("the password of --es-url shows as %q", s.Value)
		}
	}
	// Errors never show a secret value.
	_, err = buildConfig(t, map[string]string{"ESRESTORE_ES_API_KEY_FILE": "/missing", "ESRESTORE_ES_BEARER_TOKEN": "tok-123"}, files, validArgs...)
	if err == nil || !strings.Contains(err.Error(), `ESRESTORE_ES_API_KEY_FILE: cannot read secret file (got "/missing")`) {
		t.Errorf("missing secret file: %v", err)
	}
	_, err = buildConfig(t, map[string]string{"ESRESTORE_ES_API_KEY_FILE": "/run/secrets/api", "ESRESTORE_ES_BEARER_TOKEN": "tok-123"}, files, validArgs...)
	if err == nil || strings.Contains(err.Error(), "tok-123") || strings.Contains(err.Error(), "QVBJS0VZ") {
		t.Errorf("two auth methods: %v", err)
	}
	_, err = buildConfig(t, map[string]string{"ESRESTORE_ES_PASSWORD": "a", "ESRESTORE_ES_PASSWORD_FILE": "/run/secrets/es-password"}, files, validArgs...)
	if err == nil || !strings.Contains(err.Error(), "ESRESTORE_ES_PASSWORD and ESRESTORE_ES_PASSWORD_FILE: set only one") {
		t.Errorf("both secret and file: %v", err)
	}
}

func TestExitCodes(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want int
	}{
		{nil, 0}, {errors.New("x"), 1}, {usageError(errors.New("x")), 2}, {&exitErr{code: exitFailOn, err: errors.New("x")}, 3},
	} {
		if got := exitCode(tt.err); got != tt.want {
			t.Errorf("exitCode(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

func TestDefaultTargetFollowsRunID(t *testing.T) {
	c, err := buildConfig(t, map[string]string{"ESRESTORE_RUN_ID": "20211201T235900Z-a1b2c3"}, nil, validArgs...)
	if err != nil {
		t.Fatal(err)
	}
	// buildConfig runs on 2021-12-02: a pod restarted after midnight keeps
	// the run's target.
	if c.Target != "documents_restored_20211201" {
		t.Errorf("target %q, want the run id's date", c.Target)
	}
}

// TestS3ErrorsNameFlags: s3out's errors name its options; the operator
// reads the flags that set them.
func TestS3ErrorsNameFlags(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_PROFILE", "")
	empty := filepath.Join(t.TempDir(), "empty")
	os.WriteFile(empty, nil, 0o600)
	t.Setenv("AWS_CONFIG_FILE", empty)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", empty)
	c := newCLI(t)
	c.vars["ESRESTORE_LOG_FORMAT"] = "text"
	code := c.run(t.Context(), "check", "--es-url", "http://127.0.0.1:1", "--original", "documents", "--source", "index:backup",
		"--environment", "prod", "--output", "s3://bucket/prefix")
	want := `--output: --s3-region: required for s3 without an endpoint: set AWS_REGION, a profile's region or --s3-region (got "")`
	if code != exitUsage || !strings.Contains(c.stderr.String(), want) {
		t.Errorf("exit %d, stderr:\n%s\nwant %q", code, c.stderr.String(), want)
	}
}
