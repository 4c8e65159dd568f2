package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/esrestore/esrestore/fixtures"
)

// record is one stderr line decoded strictly: its keys in order, each
// value's JSON type.
type record struct {
	line  string
	msg   string
	keys  []string
	types map[string]string
	vals  map[string]any
}

// decodeRecord reads line as exactly one JSON object, refusing duplicate
// keys (encoding/json would keep the last) and anything after the object.
func decodeRecord(line string) (record, error) {
	rec := record{line: line, types: map[string]string{}, vals: map[string]any{}}
	dec := json.NewDecoder(strings.NewReader(line))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return rec, fmt.Errorf("not a JSON object (%v)", err)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return rec, err
		}
		key := tok.(string)
		if slices.Contains(rec.keys, key) {
			return rec, fmt.Errorf("key %q twice", key)
		}
		var v any
		if err := dec.Decode(&v); err != nil {
			return rec, fmt.Errorf("value of %q: %w", key, err)
		}
		rec.keys = append(rec.keys, key)
		rec.vals[key] = v
		switch v.(type) {
		case string:
			rec.types[key] = "string"
		case json.Number:
			rec.types[key] = "number"
		case bool:
			rec.types[key] = "bool"
		case map[string]any:
			rec.types[key] = "object"
		case []any:
			rec.types[key] = "array"
		default:
			rec.types[key] = "null"
		}
	}
	if _, err := dec.Token(); err != nil {
		return rec, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return rec, fmt.Errorf("data after the object")
	}
	rec.msg, _ = rec.vals["msg"].(string)
	return rec, nil
}

// schema is a message's key set and value types.
func (r record) schema() string {
	keys := slices.Clone(r.keys)
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s:%s ", k, r.types[k])
	}
	return b.String()
}

// TestJSONLogsOneSchemaPerMessage runs a whole job, a failed one, an
// interrupted one, a dry run and a configuration error with JSON logs,
// and reads every stderr line strictly: each is one JSON object with no
// key twice, every record names the run and the environment, and one
// message always has the same keys with the same value types (a log
// pipeline maps a field once: a string one day and a number the next is
// a mapping conflict).
func TestJSONLogsOneSchemaPerMessage(t *testing.T) {
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
	}))
	defer hook.Close()
	es, sc := lossCluster(t, 1500)
	out := t.TempDir()
	c := newCLI(t)
	c.vars["ESRESTORE_LOG_FORMAT"] = "json"
	c.vars["ESRESTORE_NOTIFY"] = hook.URL + "/services/T0/B0/hooksecret"

	var all []record
	collect := func(name string, wantCode, code int) []record {
		t.Helper()
		if code != wantCode {
			t.Fatalf("%s: exit %d, want %d\n%s", name, code, wantCode, c.stderr.String())
		}
		var recs []record
		for i, line := range strings.Split(strings.TrimRight(c.stderr.String(), "\n"), "\n") {
			rec, err := decodeRecord(line)
			if err != nil {
				t.Errorf("%s: stderr line %d is not one JSON record: %v\n%q", name, i+1, err, line)
				continue
			}
			for _, k := range []string{"time", "level", "msg", "run_id", "environment"} {
				if _, ok := rec.types[k]; !ok {
					t.Errorf("%s: record %q lacks %q: %s", name, rec.msg, k, line)
				}
			}
			recs = append(recs, rec)
		}
		if len(recs) == 0 {
			t.Fatalf("%s: no records", name)
		}
		all = append(all, recs...)
		return recs
	}
	msgs := func(recs []record) []string {
		var m []string
		for _, r := range recs {
			m = append(m, r.msg)
		}
		return m
	}

	// A whole run, with progress records.
	ok := collect("run", exitOK, c.run(t.Context(), runArgs(es, out, "j1", "--prefer", "source", "--progress", "5ms",
		"--max-docs-per-second", "100000")...))
	if last := ok[len(ok)-1]; last.msg != "verdict" || last.vals["status"] != "ok" {
		t.Errorf("the last record is %q, want the verdict", last.line)
	}
	// The last record carries the summary's own sha256, of the object as
	// stored: what sha256sum prints for it.
	stored, err := os.ReadFile(filepath.Join(out, "documents", "j1", "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ok[len(ok)-1].vals["summary_sha256"], fmt.Sprintf("%x", sha256.Sum256(stored)); got != want {
		t.Errorf("the last record's summary_sha256 is %v, sha256 of summary.json %s", got, want)
	}
	for _, want := range []string{"effective configuration", "guard rails passed", "restore done", "diff compared", "summary", "notification sent", "progress"} {
		if !slices.Contains(msgs(ok), want) {
			t.Errorf("run: no %q record", want)
		}
	}
	for _, r := range ok {
		// One record per event: the restore's own checks log once per
		// Check, and the job checks once before it runs.
		if r.msg == "restore done" {
			// Seconds, not nanoseconds: a 1500 document restore takes
			// less than a minute.
			if e, err := r.vals["elapsed"].(json.Number).Float64(); err != nil || e <= 0 || e > 60 {
				t.Errorf("restore done: elapsed %v, want seconds", r.vals["elapsed"])
			}
		}
		if r.vals["run_id"] != "j1" || r.vals["environment"] != "TEST" {
			t.Errorf("record %q names run %v in %v, want j1 in TEST", r.msg, r.vals["run_id"], r.vals["environment"])
		}
	}
	for _, once := range []string{"restore done", "checks passed", "guard rails passed", "summary", "verdict"} {
		n := 0
		for _, m := range msgs(ok) {
			if m == once {
				n++
			}
		}
		if n != 1 {
			t.Errorf("run: %q logged %d times, want once", once, n)
		}
	}

	// A run that fails in the diff, and one interrupted while slow: faults
	// the stand-in injects.
	fake, _ := fakeLossCluster(t, 1500)
	fake.Fake.SetFaults(fixtures.Faults{ShardFailure: 1, Endpoints: []string{"search"}})
	failed := collect("failed run", exitError, c.run(t.Context(), runArgs(fake, out, "j2", "--target", "documents_j2", "--retry-for", "2s")...))
	fake.Fake.SetFaults(fixtures.Faults{})
	if !slices.Contains(msgs(failed), "esrestore failed") || failed[len(failed)-1].msg != "verdict" {
		t.Errorf("failed run: records %v, want the error, then the verdict last", msgs(failed))
	}

	// An interrupted run: slow writes and lookups, so that the
	// reconciliation is still going when the run is cancelled.
	fake.Fake.SetFaults(fixtures.Faults{Latency: 30 * time.Millisecond, Endpoints: []string{"bulk", "mget"}})
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		// The reconciliation has begun once the target carries the run id.
		for ctx.Err() == nil && targetRunID(fake, "documents_j3") != "j3" {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	intr := collect("interrupted run", exitInterrupted, c.run(ctx, runArgs(fake, out, "j3", "--target", "documents_j3",
		"--batch-size", "50", "--workers", "2", "--progress", "5ms")...))
	cancel()
	fake.Fake.SetFaults(fixtures.Faults{})
	if !slices.Contains(msgs(intr), "esrestore failed") {
		t.Errorf("interrupted run: records %v, want the error", msgs(intr))
	}

	// A dry run between two dumps (the sorted merge join), with progress.
	dir := t.TempDir()
	collect("offline dry run", exitOK, c.run(t.Context(), "run", "--dry-run", "--original", writeDump(t, dir, "documents.ndjson", sc.Original),
		"--source", writeDump(t, dir, "before-loss.ndjson", sc.Complete), "--prefer", "source", "--environment", "test",
		"--output", "file://"+out, "--run-id", "j6", "--progress", "1ms"))

	// check logs the same effective configuration record as a run.
	chk := collect("check", exitOK, c.run(t.Context(), "check", "--es-url", es.URL, "--original", "documents", "--source", "snapshot:backups/before-loss",
		"--target", "documents_chk", "--output", "file://"+out, "--environment", "test", "--run-id", "j7"))
	if !slices.Contains(msgs(chk), "effective configuration") {
		t.Errorf("check: records %v, want the effective configuration", msgs(chk))
	}

	// A dry run of the snapshot, and a configuration error.
	collect("dry run", exitFailOn, c.run(t.Context(), runArgs(es, out, "j4", "--dry-run", "--target", "documents_j4")...))
	c.vars["ESRESTORE_WORKERS"] = "O"
	bad := collect("bad configuration", exitUsage, c.run(t.Context(), runArgs(es, out, "j5")...))
	delete(c.vars, "ESRESTORE_WORKERS")
	if len(bad) != 1 || bad[0].msg != "esrestore failed" || !strings.Contains(bad[0].vals["error"].(string), `ESRESTORE_WORKERS: must be 1..256 (got "O")`) {
		t.Errorf("configuration error: %v", msgs(bad))
	}

	schemas := map[string]record{}
	for _, r := range all {
		first, seen := schemas[r.msg]
		if !seen {
			schemas[r.msg] = r
			continue
		}
		if first.schema() != r.schema() {
			t.Errorf("message %q has two schemas:\n  %s\n  %s\n%s\n%s", r.msg, first.schema(), r.schema(), first.line, r.line)
			schemas[r.msg] = r
		}
	}
	if strings.Contains(strings.Join(func() []string {
		var l []string
		for _, r := range all {
			l = append(l, r.line)
		}
		return l
	}(), "\n"), "hooksecret") {
		t.Error("the webhook URL is in the logs")
	}
	t.Logf("%d records, %d messages", len(all), len(schemas))
}

// TestTextLogsEndWithVerdict: on a terminal the logs stay text and the
// verdict stays the last line, after the summary block.
func TestTextLogsEndWithVerdict(t *testing.T) {
	es, _ := lossCluster(t, 300)
	c := newCLI(t)
	out := t.TempDir()
	code := c.run(t.Context(), runArgs(es, out, "t1", "--prefer", "source", "--log-format", "text")...)
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, c.stderr.String())
	}
	// The summary block names the summary's own sha256.
	stored, err := os.ReadFile(filepath.Join(out, "documents", "t1", "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("\n  summary   sha256 %x (sha256sum summary.json)\n", sha256.Sum256(stored)); !strings.Contains(c.stderr.String(), want) {
		t.Errorf("the summary block lacks %q:\n%s", want, c.stderr.String())
	}
	if v := c.verdictLine(); !strings.HasPrefix(v, "verdict ok") {
		t.Errorf("stderr does not end with the verdict:\n%s", c.stderr.String())
	}
	if bytes.Contains(c.stderr.Bytes(), []byte(`{"time"`)) || !strings.Contains(c.stderr.String(), "\nesrestore run · TEST · run t1\n") {
		t.Errorf("text mode: want text records and the summary block:\n%s", c.stderr.String())
	}
}
