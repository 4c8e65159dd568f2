package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/esrestore/esrestore/diff"
	"github.com/esrestore/esrestore/internal/jsonpatch"
	"github.com/esrestore/esrestore/report"
)

// plainJSON encodes a decoded scalar as the summary writes it, "" for
// an object or an array.
func plainJSON(t *testing.T, v any) string {
	t.Helper()
	switch v.(type) {
	case map[string]any, []any:
		return ""
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(b.String())
}

// recountTransitions counts, independently of diff/, the documents whose
// value at a replaced path goes from → to between the original and the
// target, for the paths whose replaced values are all scalars and at most
// diff.MaxTransitionValues distinct; busiest first.
func recountTransitions(t *testing.T, o, tg docSet) []diff.Transition {
	t.Helper()
	type key struct{ path, from, to string }
	counts := map[key]int64{}
	values := map[string]map[string]bool{}
	dropped := map[string]bool{}
	for id, od := range o {
		td, ok := tg[id]
		if !ok {
			continue
		}
		for _, op := range naiveDiff(od, td, "", nil) {
			if op.op != "replace" {
				continue
			}
			fv, err1 := jsonpatch.Get(od, op.path)
			tv, err2 := jsonpatch.Get(td, op.path)
			if err1 != nil || err2 != nil {
				t.Fatalf("%s %s: %v %v", id, op.path, err1, err2)
			}
			from, to := plainJSON(t, fv), plainJSON(t, tv)
			if from == "" || to == "" {
				dropped[op.path] = true
				continue
			}
			if values[op.path] == nil {
				values[op.path] = map[string]bool{}
			}
			values[op.path][from], values[op.path][to] = true, true
			counts[key{op.path, from, to}]++
		}
	}
	out := []diff.Transition{}
	for k, n := range counts {
		if !dropped[k.path] && len(values[k.path]) <= diff.MaxTransitionValues {
			out = append(out, diff.Transition{Path: k.path, From: json.RawMessage(k.from), To: json.RawMessage(k.to), Documents: n})
		}
	}
	slices.SortFunc(out, func(a, b diff.Transition) int {
		if a.Documents != b.Documents {
			return int(b.Documents - a.Documents)
		}
		return strings.Compare(a.Path+string(a.From)+string(a.To), b.Path+string(b.From)+string(b.To))
	})
	return out
}

// compactTransitions writes transitions with compact values, to compare
// those read back from summary.json with a recount.
func compactTransitions(t *testing.T, ts []diff.Transition) string {
	t.Helper()
	b, err := json.Marshal(ts)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// visibility is a document's /visibility, "" when it has none.
func visibility(d any) string {
	m, _ := d.(map[string]any)
	s, _ := m["visibility"].(string)
	return s
}

// becomePublic lists, independently of diff/, the ids whose /visibility
// would be PUBLIC in the target and is not in the original (a document
// only in the target counts: the original has no value).
func becomePublic(o, tg docSet) []string {
	var ids []string
	for id, td := range tg {
		if visibility(td) == "PUBLIC" && visibility(o[id]) != "PUBLIC" {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// watchedLines are the ids of the diff lines marked watched, each with
// the paths it names.
func watchedLines(t *testing.T, out, runID string) map[string][]string {
	t.Helper()
	got := map[string][]string{}
	for _, l := range readDiffLines(t, filepath.Join(out, "documents", runID, "diff.ndjson.gz")) {
		if len(l.Watched) > 0 {
			got[l.ID] = l.Watched
		}
	}
	return got
}

func TestTransitionsAndWatchOnLiveWrites(t *testing.T) {
	es, sc, ch := liveCluster(t, 2000)
	orig, backup := decodeDocs(t, sc.Original), decodeDocs(t, sc.Complete)
	watchPublic := []string{"--watch", "/visibility=PUBLIC"}
	defaultWithWatch := append(slices.Clone(report.DefaultFailOn), report.ReasonWatched)

	// check runs esrestore and reads back its summary and target.
	check := func(t *testing.T, runID string, wantCode int, args ...string) (report.Summary, docSet, string) {
		t.Helper()
		out := t.TempDir()
		c := newCLI(t)
		target := "documents_" + strings.ReplaceAll(runID, "-", "_")
		if code := c.run(t.Context(), append(runArgs(es, out, runID, "--target", target), args...)...); code != wantCode {
			t.Fatalf("exit %d, want %d\n%s", code, wantCode, c.stderr.String())
		}
		s := readSummary(t, out, "documents", runID)
		if s.DryRun {
			return s, nil, out
		}
		return s, readIndex(t, es, target), out
	}

	var sourcePublic []string // the prefer-source run's recount
	t.Run("prefer-source", func(t *testing.T) {
		s, tgt, out := check(t, "watch-source", exitFailOn, append([]string{"--prefer", "source"}, watchPublic...)...)

		// Transitions: a recount from the original and the target read
		// back, which the backup confirms: every flip, and only they.
		want := recountTransitions(t, orig, tgt)
		if g, w := compactTransitions(t, s.Fields.Transitions), compactTransitions(t, want); g != w {
			t.Errorf("transitions\n got %s\nwant %s", g, w)
		}
		var flips int64
		for _, tr := range want {
			if tr.Path != "/visibility" {
				t.Errorf("transition of %s: the scenario changes only /visibility among small-valued paths", tr.Path)
			}
			flips += tr.Documents
		}
		var flipped int
		for id, od := range orig {
			if bd, ok := backup[id]; ok && visibility(bd) != visibility(od) {
				flipped++
			}
		}
		if flips != int64(len(ch.Flipped)) || flipped != len(ch.Flipped) || len(want) != 2 {
			t.Errorf("%d transitions (%d kinds), %d documents the backup shows flipped; the scenario flipped %d",
				flips, len(want), flipped, len(ch.Flipped))
		}

		// The watch: its count, its reason first, its lines.
		ids := becomePublic(orig, tgt)
		sourcePublic = ids
		n := int64(len(ids))
		var toPublic int64
		for _, tr := range want {
			if string(tr.To) == `"PUBLIC"` {
				toPublic += tr.Documents
			}
		}
		t.Logf("transitions %s; %d documents would become PUBLIC, %d of them by a flip", compactTransitions(t, s.Fields.Transitions), n, toPublic)
		if n <= toPublic {
			t.Errorf("%d documents become PUBLIC, %d by a flip: the lost ones that come back PUBLIC are missing", n, toPublic)
		}
		var lost int64 // of them, documents the original lacks, coming back
		for _, id := range ids {
			if _, ok := orig[id]; !ok {
				lost++
			}
		}
		wantWatched := []diff.WatchCount{{Watch: diff.Watch{Path: "/visibility", Value: json.RawMessage(`"PUBLIC"`)}, Documents: n, Lost: lost}}
		if g, w := fmt.Sprint(s.Watched), fmt.Sprint(wantWatched); g != w || s.WatchedDocuments != n {
			t.Errorf("watched %s (%d documents), want %s", g, s.WatchedDocuments, w)
		}
		wantText := fmt.Sprintf("%d documents would become /visibility = PUBLIC, %d of them lost documents coming back", n, lost)
		rs := s.Verdict.Reasons
		if len(rs) != 2 || rs[0] != (report.Reason{Kind: report.ReasonWatched, Count: n, Text: wantText}) || rs[1].Kind != report.ReasonOverwritten {
			t.Errorf("reasons %+v, want watched (%q) then overwritten", rs, wantText)
		}
		if !strings.Contains(rs[len(rs)-1].Text, "/visibility 20: INTERNAL → PUBLIC") {
			t.Errorf("the overwritten reason lacks the transitions: %q", rs[len(rs)-1].Text)
		}
		if len(s.Attention) == 0 || s.Attention[0] != wantText {
			t.Errorf("attention %q, want %q first", s.Attention, wantText)
		}
		if !slices.Equal(s.FailOn, defaultWithWatch) {
			t.Errorf("fail_on %q, want the default and watched %q", s.FailOn, defaultWithWatch)
		}
		lines := watchedLines(t, out, "watch-source")
		if got := slices.Sorted(maps.Keys(lines)); !slices.Equal(got, ids) {
			t.Errorf("%d lines marked watched, want %d: %v", len(got), len(ids), got)
		}
		for id, paths := range lines {
			if !slices.Equal(paths, []string{"/visibility"}) {
				t.Errorf("%s: watched %q", id, paths)
			}
		}
	})

	// The dry run watches the target it would build: the same count.
	t.Run("dry-run", func(t *testing.T) {
		s, _, out := check(t, "watch-dry", exitFailOn, append([]string{"--prefer", "source", "--dry-run"}, watchPublic...)...)
		if n := int64(len(sourcePublic)); s.WatchedDocuments != n || len(s.Watched) != 1 || s.Watched[0].Documents != n {
			t.Errorf("dry run: watched %+v (%d documents), want %d as the run", s.Watched, s.WatchedDocuments, n)
		}
		if len(s.Verdict.Reasons) == 0 || s.Verdict.Reasons[0].Kind != report.ReasonWatched {
			t.Errorf("dry run: reasons %+v, want watched first", s.Verdict.Reasons)
		}
		if got := slices.Sorted(maps.Keys(watchedLines(t, out, "watch-dry"))); !slices.Equal(got, sourcePublic) {
			t.Errorf("dry run: %d lines watched, want %d", len(got), len(sourcePublic))
		}
	})

	// Fill keeps every live value: only the documents that come back
	// (lost, or deleted on purpose since the backup) would become PUBLIC.
	t.Run("prefer-fill", func(t *testing.T) {
		s, tgt, out := check(t, "watch-fill", exitFailOn, append([]string{"--prefer", "fill"}, watchPublic...)...)
		ids := becomePublic(orig, tgt)
		n := int64(len(ids))
		if n == 0 {
			t.Fatal("no lost document is PUBLIC: the case shows nothing")
		}
		for _, id := range ids {
			if _, live := orig[id]; live {
				t.Errorf("%s: a live document would become PUBLIC with fill", id)
			}
		}
		t.Logf("fill: %d documents would become PUBLIC, every one coming back", n)
		rs := s.Verdict.Reasons
		if len(rs) != 1 || rs[0].Kind != report.ReasonWatched || rs[0].Count != n || s.Verdict.Status != report.StatusReview {
			t.Errorf("fill: verdict %s %+v, want review with watched %d alone", s.Verdict.Status, rs, n)
		}
		if len(s.Fields.Transitions) != 0 {
			t.Errorf("fill overwrites nothing, yet transitions %s", compactTransitions(t, s.Fields.Transitions))
		}
		if got := slices.Sorted(maps.Keys(watchedLines(t, out, "watch-fill"))); !slices.Equal(got, ids) {
			t.Errorf("fill: %d lines watched, want %d", len(got), len(ids))
		}
	})

	// A watch nothing matches: ok and exit 0, the gate on all the same.
	t.Run("prefer-fill-nothing-watched", func(t *testing.T) {
		s, tgt, _ := check(t, "watch-fill-none", exitOK, "--prefer", "fill", "--watch", "/visibility=PRIVATE", "--watch", "/owner=nobody@example.com")
		for id, td := range tgt {
			if visibility(td) == "PRIVATE" {
				t.Fatalf("%s is PRIVATE: the case is not what it claims", id)
			}
		}
		if s.Verdict.Status != report.StatusOK || s.WatchedDocuments != 0 || len(s.Watched) != 2 || s.Watched[0].Documents != 0 || s.Watched[1].Documents != 0 {
			t.Errorf("verdict %s %+v, watched %+v", s.Verdict.Status, s.Verdict.Reasons, s.Watched)
		}
		if string(s.Watched[1].Value) != `"nobody@example.com"` || !slices.Equal(s.FailOn, defaultWithWatch) {
			t.Errorf("watched %+v, fail_on %q", s.Watched, s.FailOn)
		}
	})

	// An explicit --fail-on is respected as given: the watched reason is
	// in the verdict, not a gate.
	t.Run("explicit-fail-on", func(t *testing.T) {
		s, _, _ := check(t, "watch-fail-on", exitOK, append([]string{"--prefer", "fill", "--fail-on", "overwritten"}, watchPublic...)...)
		if !slices.Equal(s.FailOn, []string{report.ReasonOverwritten}) || len(s.Verdict.Reasons) != 1 ||
			s.Verdict.Reasons[0].Kind != report.ReasonWatched || len(s.Attention) != 0 {
			t.Errorf("fail_on %q, reasons %+v, attention %q", s.FailOn, s.Verdict.Reasons, s.Attention)
		}
	})
}

func TestWatchConfig(t *testing.T) {
	base := []string{"run", "--es-url", "http://127.0.0.1:1", "--original", "documents", "--source", "index:backup",
		"--target", "restored", "--output", "file:///tmp/x", "--environment", "test"}
	for _, tc := range []struct {
		name string
		args []string
		vars map[string]string
		want string
	}{
		{"no slash", []string{"--watch", "visibility=PUBLIC"}, nil, `--watch: bad JSON Pointer "visibility": must start with "/" (got "visibility=PUBLIC")`},
		{"blank", []string{"--watch", " "}, nil, `--watch: a blank list or a blank item: give PATH or PATH=VALUE (got " ")`},
		{"blank value", []string{"--watch", "/visibility="}, nil, `--watch: a blank VALUE after /visibility=: write "" for the empty string (got "/visibility=")`},
		{"wildcard", []string{"--watch", "/tags/*/id"}, nil, `--watch: a watch names one value: no * segment in /tags/*/id (got "/tags/*/id")`},
		{"bad escape", []string{"--watch", "/a~2"}, nil, `--watch: bad JSON Pointer "/a~2"`},
		{"second flag bad", []string{"--watch", "/visibility", "--watch", "owner"}, nil, "--watch: bad JSON Pointer \"owner\": must start with \"/\" (got \"/visibility\\nowner\")"},
		{"blank variable item", nil, map[string]string{"ESRESTORE_WATCH": "/visibility,,/owner"}, `ESRESTORE_WATCH: a blank list or a blank item: give PATH or PATH=VALUE (got "/visibility,,/owner")`},
		{"blank variable", nil, map[string]string{"ESRESTORE_WATCH": " "}, `ESRESTORE_WATCH: a blank list or a blank item`},
		{"ignored", []string{"--watch", "/tags/0/id=x", "--ignore", "/modified,/tags/*/id"}, nil, `--watch: /tags/0/id is left out of the comparison by --ignore /tags/*/id: watch it, or ignore it (got "/tags/0/id=x")`},
		{"ignored parent", []string{"--watch", "/a/b"}, map[string]string{"ESRESTORE_IGNORE": "/a"}, `--watch: /a/b is left out of the comparison by ESRESTORE_IGNORE /a: watch it, or ignore it`},
		{"fail-on names watched", []string{"--fail-on", "watched,bogus"}, nil, `--fail-on: must list failed, removed, overwritten, not-recovered, mappings, live-writes, incomplete, source-excludes, source-index, watched, or be none`},
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

	// Good values: repeated flags, a list in the variable, VALUE as JSON
	// or as a string; the record shows them and fail_on's origin.
	for _, tc := range []struct {
		name       string
		vars       map[string]string
		args       []string
		want       []diff.Watch
		record     string
		failOn     string
		failOrigin string
	}{
		{"flags", nil, []string{"--watch", "/visibility=PUBLIC", "--watch", "/rank=2.50", "--watch", "/owner"},
			[]diff.Watch{{Path: "/visibility", Value: json.RawMessage(`"PUBLIC"`)}, {Path: "/rank", Value: json.RawMessage(`2.50`)}, {Path: "/owner"}},
			`/visibility="PUBLIC",/rank=2.50,/owner`, "failed,removed,overwritten,not-recovered,source-excludes,watched", "default with --watch"},
		{"variable", map[string]string{"ESRESTORE_WATCH": `/visibility="PUBLIC", /title=a,b , /flag=true,/x~1y=null`}, nil,
			[]diff.Watch{{Path: "/visibility", Value: json.RawMessage(`"PUBLIC"`)}, {Path: "/title", Value: json.RawMessage(`"a,b"`)},
				{Path: "/flag", Value: json.RawMessage(`true`)}, {Path: "/x~1y", Value: json.RawMessage(`null`)}},
			`/visibility="PUBLIC",/title="a,b",/flag=true,/x~1y=null`, "failed,removed,overwritten,not-recovered,source-excludes,watched", "default with ESRESTORE_WATCH"},
		{"explicit fail-on", nil, []string{"--watch", "/visibility", "--fail-on", "removed"},
			[]diff.Watch{{Path: "/visibility"}}, "/visibility", "removed", "flag"},
		{"no watch", nil, nil, nil, "", "failed,removed,overwritten,not-recovered,source-excludes", "default"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec, c := recordOf(t, tc.vars, append(slices.Clone(validArgs), tc.args...)...)
			if g, w := fmt.Sprint(c.Watch), fmt.Sprint(tc.want); g != w {
				t.Errorf("watches %s, want %s", g, w)
			}
			if rec["watch"].Value != tc.record || rec["fail_on"].Value != tc.failOn || rec["fail_on"].Origin != tc.failOrigin {
				t.Errorf("record watch %+v, fail_on %+v; want %q, %q from %q", rec["watch"], rec["fail_on"], tc.record, tc.failOn, tc.failOrigin)
			}
		})
	}
}

// TestWatchDiffCommand: esrestore diff takes --watch too, and its own
// default --fail-on then adds watched.
func TestWatchDiffCommand(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--watch", "/visibility=PUBLIC"}, []string{report.ReasonRemoved, report.ReasonOverwritten, report.ReasonWatched}},
		{nil, []string{report.ReasonRemoved, report.ReasonOverwritten}},
	} {
		env, _, _ := testEnv(nil, nil)
		fs, fv := newFlagSet("diff", "", env, diffCmdFlags()...)
		if err := parseFlags(fs, append([]string{"--es-url", "http://127.0.0.1:1", "--original", "a", "--restored", "b"}, tc.args...)); err != nil {
			t.Fatal(err)
		}
		c, err := fv.build(time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(c.FailOn, tc.want) || len(c.Watch) != len(tc.args)/2 {
			t.Errorf("diff %q: fail-on %q, watches %+v; want %q", tc.args, c.FailOn, c.Watch, tc.want)
		}
	}
}
