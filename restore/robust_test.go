package restore_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/esrestore/esrestore/fixtures/estest"
	"github.com/esrestore/esrestore/internal/retry"
	"github.com/esrestore/esrestore/restore"
)

// TestDuplicateIDsFirstLineWins: a dump repeating ids restores the first
// line of each, on any number of workers, and fails every later copy
// naming both lines.
func TestDuplicateIDsFirstLineWins(t *testing.T) {
	var in strings.Builder
	for i := range 60 {
		fmt.Fprintf(&in, `{"_id":"d%d","_source":{"title":"first %d"}}`+"\n", i%20, i)
	}
	for _, workers := range []int{1, 4} {
		t.Run(fmt.Sprint("workers=", workers), func(t *testing.T) {
			es, _ := loss(t, 20, 1)
			var fails bytes.Buffer
			opt := options("dups")
			opt.Mode, opt.Workers, opt.BatchDocs, opt.Failures = restore.ModeSource, workers, 7, &fails
			r, err := restore.New(es.Client(), opt)
			if err != nil {
				t.Fatal(err)
			}
			st, err := r.Run(t.Context(), restore.NDJSONSource(strings.NewReader(in.String()), "dups.ndjson"))
			if err != nil {
				t.Fatal(err)
			}
			invariant(t, es.Client(), st)
			if st.Indexed != 20 || st.Failed != 40 || st.Duplicates != 40 {
				t.Errorf("indexed %d failed %d duplicates %d, want 20 40 40", st.Indexed, st.Failed, st.Duplicates)
			}
			for id, src := range docsOf(t, es.Client(), target) {
				var n int
				fmt.Sscanf(id, "d%d", &n)
				if want := fmt.Sprintf(`{"title":"first %d"}`, n); src != want {
					t.Errorf("%s = %s, want the first line's %s", id, src, want)
				}
			}
			got := failures(t, fails.Bytes())
			if len(got) != 40 {
				t.Fatalf("%d failure lines, want 40", len(got))
			}
			for _, f := range got {
				var n int
				fmt.Sscanf(f.ID, "d%d", &n)
				first := fmt.Sprintf("line %d", n+1)
				if errorTypeOf(f.Error) != "duplicate_id" || !bytes.Contains(f.Error, []byte(first)) ||
					!bytes.Contains(f.Error, []byte(fmt.Sprintf("line %d", f.Line))) || len(f.Document) == 0 {
					t.Errorf("failure %+v: want duplicate_id naming line %d and %s, with the document", f, f.Line, first)
				}
			}
		})
	}
}

// TestInvalidUTF8Line: a line with a byte that is not UTF-8 fails with
// file:line and the raw line in base64; the failures stay valid UTF-8.
func TestInvalidUTF8Line(t *testing.T) {
	es, _ := loss(t, 20, 1)
	bad := "{\"_id\":\"latin1\",\"_source\":{\"title\":\"caf\xe9\"}}"
	in := `{"_id":"ok","_source":{"title":"fine"}}` + "\n" + bad + "\n"
	var fails bytes.Buffer
	opt := options("utf8")
	opt.Mode, opt.Failures = restore.ModeSource, &fails
	r, err := restore.New(es.Client(), opt)
	if err != nil {
		t.Fatal(err)
	}
	st, err := r.Run(t.Context(), restore.NDJSONSource(strings.NewReader(in), "latin1.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Indexed != 1 || st.Failed != 1 {
		t.Errorf("indexed %d failed %d, want 1 1", st.Indexed, st.Failed)
	}
	if !utf8.Valid(fails.Bytes()) {
		t.Errorf("failures are not valid UTF-8: %q", fails.String())
	}
	got := failures(t, fails.Bytes())
	if len(got) != 1 {
		t.Fatalf("failures %s", fails.String())
	}
	if !bytes.Contains(fails.Bytes(), []byte(base64.StdEncoding.EncodeToString([]byte(bad)))) {
		t.Errorf("failure %s does not hold the line in base64", fails.String())
	}
	f, dec := got[0], got[0].Raw
	if f.Line != 2 || f.Source != "latin1.ndjson" || errorTypeOf(f.Error) != "invalid_utf8" || string(dec) != bad {
		t.Errorf("failure %+v raw %q: want latin1.ndjson:2, invalid_utf8, the raw line", f, dec)
	}
	if _, ok := docsOf(t, es.Client(), target)["latin1"]; ok {
		t.Error("the invalid line was restored")
	}
}

// TestEmptySource: an empty dump or index is refused before the target
// is made, unless allowed.
func TestEmptySource(t *testing.T) {
	es, _ := loss(t, 20, 1)
	estest.MustDo(t, es.Client(), esapiCreate("empty"))
	for _, tt := range []struct {
		name string
		src  func() restore.Source
	}{
		{"dump", func() restore.Source { return restore.NDJSONSource(strings.NewReader(""), "empty.ndjson") }},
		{"index", func() restore.Source { return restore.IndexSource(es.Client(), "empty", 1) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			opt := options("empty-" + tt.name)
			opt.Mode = restore.ModeSource
			r, err := restore.New(es.Client(), opt)
			if err != nil {
				t.Fatal(err)
			}
			_, err = r.Run(t.Context(), tt.src())
			if !errors.Is(err, restore.ErrSourceEmpty) || !strings.Contains(err.Error(), "empty") {
				t.Fatalf("got %v, want ErrSourceEmpty naming the source", err)
			}
			if exists(t, es.Client(), target) {
				t.Fatal("the target was created for an empty source")
			}
			opt.AllowEmptySource = true
			r, _ = restore.New(es.Client(), opt)
			if st, err := r.Run(t.Context(), tt.src()); err != nil || st.Read != 0 {
				t.Fatalf("allowed: %+v, %v", st, err)
			}
			estest.MustDo(t, es.Client(), esapiDelete(target))
		})
	}
}

// TestResumeChecksConfiguration: a resume with another mode, prefer,
// source or ignore patterns is refused, naming each difference.
func TestResumeChecksConfiguration(t *testing.T) {
	es, sc := loss(t, 50, 3)
	src := func() restore.Source { return restore.SnapshotSource(es.Client(), repo, snap, "", false, "") }
	opt := options("mix1")
	opt.Ignore = []string{"/modified"}
	r, _ := restore.New(es.Client(), opt)
	if _, err := r.Run(t.Context(), src()); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		edit func(*restore.Options)
		src  func() restore.Source
		want []string
	}{
		{"mode", func(o *restore.Options) { o.Mode = restore.ModeSource }, src, []string{`--mode: target has "merge", this run has "source"`, `--prefer: target has "original", this run has ""`}},
		{"prefer", func(o *restore.Options) { o.Prefer = restore.PreferSource }, src, []string{`--prefer: target has "original", this run has "source"`}},
		{"ignore", func(o *restore.Options) { o.Ignore = nil }, src, []string{`--ignore: target has "/modified", this run has ""`}},
		{"source", func(*restore.Options) {}, func() restore.Source {
			return restore.NDJSONSource(bytes.NewReader(ndjson(t, sc.Complete, false)), "dump.ndjson")
		}, []string{`--source: target has "snapshot:backups/before-loss/documents", this run has "dump.ndjson"`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := options("mix1")
			o.Ignore = []string{"/modified"}
			tt.edit(&o)
			r, err := restore.New(es.Client(), o)
			if err != nil {
				t.Fatal(err)
			}
			_, err = r.Run(t.Context(), tt.src())
			if !errors.Is(err, restore.ErrResumeMismatch) {
				t.Fatalf("got %v, want ErrResumeMismatch", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %s", err, w)
				}
			}
		})
	}
	// The same configuration resumes.
	r, _ = restore.New(es.Client(), opt)
	if _, err := r.Run(t.Context(), src()); err != nil {
		t.Fatalf("resume with the same configuration: %v", err)
	}
}

// TestOutageDuringLoad: the cluster going away for a while in the middle
// of the load costs time, not documents.
func TestOutageDuringLoad(t *testing.T) {
	es, sc := loss(t, 400, 9)
	var outage time.Duration
	sp := &spy{onBulk: func(n int) {
		if n == 3 {
			if err := es.Stop(true); err != nil {
				t.Error(err)
			}
			start := time.Now()
			time.AfterFunc(1500*time.Millisecond, func() {
				if err := es.Start(); err != nil {
					t.Error(err)
				}
				outage = time.Since(start)
			})
		}
	}}
	opt := options("outage")
	opt.Strategy = restore.StrategyPasses // many _bulk requests: the outage falls among them
	opt.Retry = retry.Policy{Budget: 20 * time.Second, Base: 10 * time.Millisecond, Cap: 200 * time.Millisecond}
	if es.Real() {
		// A real node takes about 10 s to start and then recovers its
		// shards, answering 503 meanwhile.
		opt.Retry.Budget = 2 * time.Minute
	}
	r, _ := restore.New(client(t, es.URL, sp), opt)
	st, err := r.Run(t.Context(), restore.SnapshotSource(client(t, es.URL, sp), repo, snap, "", false, ""))
	if err != nil {
		t.Fatalf("Run across a %s outage: %v", outage, err)
	}
	c := es.Client()
	sameDocs(t, docsOf(t, c, target), expected(sc, restore.ModeMerge, restore.PreferOriginal))
	invariant(t, c, st)
	if st.Retried == 0 || outage == 0 {
		t.Errorf("retried %d, outage %s: the outage did not happen during the load", st.Retried, outage)
	}
}

func errorTypeOf(raw json.RawMessage) string {
	var e struct {
		Type string `json:"type"`
	}
	json.Unmarshal(raw, &e) //nolint:errcheck // "" then
	return e.Type
}

func esapiCreate(index string) esapi.Request { return esapi.IndicesCreateRequest{Index: index} }

func esapiDelete(index string) esapi.Request {
	return esapi.IndicesDeleteRequest{Index: []string{index}}
}
