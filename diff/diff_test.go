package diff

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/esrestore/esrestore/internal/dump"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// quiet keeps test output readable; per-document debug lines are exercised
// by TestDebugLog.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func fileSide(path string) Side {
	return DumpSide(func(context.Context) (io.ReadCloser, error) { return os.Open(path) }, path)
}

func stringSide(name, ndjson string) Side {
	return DumpSide(func(context.Context) (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader(ndjson)), nil
	}, name)
}

// runDiff runs a diff and returns the report and counts.
func runDiff(t testing.TB, original, restored Side, opt Options) (string, Counts) {
	t.Helper()
	if opt.Logger == nil {
		opt.Logger = quiet
	}
	if opt.TempDir == "" {
		opt.TempDir = t.TempDir()
	}
	var buf bytes.Buffer
	c, err := Run(context.Background(), original, restored, &buf, opt)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return buf.String(), c
}

// countsJSON is c as summary.json holds it, pointers followed, so that
// counts compare by value (fmt.Sprint would print Loss's and Fields'
// addresses).
func countsJSON(t testing.TB, c Counts) string {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// patchOps counts the operations of a written patch by op.
func patchOps(t testing.TB, patch []byte) map[string]int {
	t.Helper()
	var ops []struct {
		Op string `json:"op"`
	}
	if err := json.Unmarshal(patch, &ops); err != nil {
		t.Fatalf("decode patch %s: %v", patch, err)
	}
	m := map[string]int{}
	for _, op := range ops {
		m[op.Op]++
	}
	return m
}

// wantChange is the class of a document on both sides, from its written
// patch alone: recovered when the patch only adds, overwritten when it
// replaces or removes or the routing changes.
func wantChange(t testing.TB, patch []byte, routed bool) string {
	t.Helper()
	ops := patchOps(t, patch)
	if routed || ops["replace"] > 0 || ops["remove"] > 0 {
		return ChangeOverwritten
	}
	return ChangeRecovered
}

// reportLine is a report line decoded for assertions.
type reportLine struct {
	ID       string          `json:"_id"`
	Change   string          `json:"change"`
	Patch    json.RawMessage `json:"patch"`
	Original json.RawMessage `json:"original"`
	Restored json.RawMessage `json:"restored"`
	// NotRecovered lists, beside an outcome patch, the backup's
	// operations the target lacks.
	NotRecovered json.RawMessage `json:"not_recovered"`
	Routing      *struct {
		Original *string `json:"original"`
		Restored *string `json:"restored"`
		Backup   *string `json:"backup"`
	} `json:"routing"`
}

func parseReport(t testing.TB, report string) []reportLine {
	t.Helper()
	var out []reportLine
	sc := bufio.NewScanner(strings.NewReader(report))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var l reportLine
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			t.Fatalf("report line %q: %v", sc.Text(), err)
		}
		out = append(out, l)
	}
	for i := 1; i < len(out); i++ {
		if out[i-1].ID >= out[i].ID {
			t.Fatalf("report not sorted by _id: %q before %q", out[i-1].ID, out[i].ID)
		}
	}
	return out
}

// classes returns the ids of each change in the report.
func classes(lines []reportLine) map[string][]string {
	m := map[string][]string{}
	for _, l := range lines {
		m[l.Change] = append(m[l.Change], l.ID)
	}
	return m
}

// readDumpSources returns the sources of a dump by id.
func readDumpSources(t testing.TB, path string) map[string][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := dump.NewReader(f, path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for {
		d, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out[d.ID] = d.Source
	}
}

func TestGolden(t *testing.T) {
	tests := []struct {
		name string
		dir  string
		opt  Options
	}{
		{"classes", "classes", Options{}},
		{"classes-prefer-original", "classes", Options{Overlay: OverlayPreferOriginal}},
		{"classes-prefer-source", "classes", Options{Overlay: OverlayPreferSource}},
		{"classes-source", "classes", Options{Overlay: OverlaySource}},
		{"arrays", "arrays", Options{}},
		{"ignore", "ignore", Options{Ignore: []string{"/modified", "/tags/*/id"}}},
		{"ignore-none", "ignore", Options{}},
		{"unicode", "unicode", Options{}},
		{"numbers", "numbers", Options{}},
		{"routing", "routing", Options{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := filepath.Join("testdata", "cases", tt.dir, "original.ndjson")
			rest := filepath.Join("testdata", "cases", tt.dir, "restored.ndjson")
			opt := tt.opt
			opt.Workers = 1
			report, counts := runDiff(t, fileSide(orig), fileSide(rest), opt)

			// The same bytes whatever the workers, and when every line
			// is spilled to its own run.
			for _, v := range []struct {
				workers int
				budget  int64
			}{{4, 0}, {3, 1}} {
				opt := tt.opt
				opt.Workers, opt.MemoryBudget = v.workers, v.budget
				got, gotCounts := runDiff(t, fileSide(orig), fileSide(rest), opt)
				if got != report {
					t.Errorf("workers %d, budget %d: report differs:\n%s\nwant:\n%s", v.workers, v.budget, got, report)
				}
				if g, w := countsJSON(t, gotCounts), countsJSON(t, counts); g != w {
					t.Errorf("workers %d, budget %d: got counts %s, want %s", v.workers, v.budget, g, w)
				}
			}

			lines := parseReport(t, report)
			if len(tt.opt.Ignore) == 0 {
				o := readDumpSources(t, orig)
				checkPatches(t, lines, o, overlayTarget(tt.opt.Overlay, o, readDumpSources(t, rest)))
			}
			checkGolden(t, tt.name, counts, report)
		})
	}
}

// overlayTarget is the target an overlay builds from the original and the
// restored side (the backup), written out independently of the code under
// test; with no overlay the restored side is the target.
func overlayTarget(o Overlay, orig, rest map[string][]byte) map[string][]byte {
	if o == OverlayNone || o == OverlaySource {
		return rest
	}
	t := map[string][]byte{}
	for id, src := range rest {
		t[id] = src
	}
	for id, src := range orig {
		if _, ok := t[id]; !ok || o == OverlayPreferOriginal {
			t[id] = src
		}
	}
	return t
}

// checkPatches applies every patch to the original's source and expects
// the target's (rest), and checks added and removed documents are the
// sides'. A not_recovered line's patch only adds, to a document the target
// holds unchanged.
func checkPatches(t *testing.T, lines []reportLine, orig, rest map[string][]byte) {
	t.Helper()
	for _, l := range lines {
		switch l.Change {
		case ChangeNotRecovered:
			if ops := patchOps(t, l.Patch); ops["add"] == 0 || len(ops) != 1 {
				t.Errorf("%s: not recovered with patch %s, want adds only", l.ID, l.Patch)
			}
			if o, ok := orig[l.ID]; ok {
				if !semanticEqual(decodeJSON(t, o), decodeJSON(t, rest[l.ID])) {
					t.Errorf("%s: not recovered, but the target changes it", l.ID)
				}
				if _, err := applyPatch(t, decodeJSON(t, o), l.Patch); err != nil {
					t.Errorf("%s: apply patch %s: %v", l.ID, l.Patch, err)
				}
			} else if _, ok := rest[l.ID]; ok {
				t.Errorf("%s: a lost document not recovered, but the target holds it", l.ID)
			}
		case ChangeRecovered, ChangeOverwritten:
			routed := l.Routing != nil
			if want := wantChange(t, l.Patch, routed); l.Change != want {
				t.Errorf("%s: %s with patch %s (routing changed: %v), want %s", l.ID, l.Change, l.Patch, routed, want)
			}
			got, err := applyPatch(t, decodeJSON(t, orig[l.ID]), l.Patch)
			if err != nil {
				t.Errorf("%s: apply patch %s: %v", l.ID, l.Patch, err)
				continue
			}
			if want := decodeJSON(t, rest[l.ID]); !semanticEqual(got, want) {
				t.Errorf("%s: patched original is %v, want %v", l.ID, got, want)
			}
		case ChangeAdded:
			if !semanticEqual(decodeJSON(t, l.Restored), decodeJSON(t, rest[l.ID])) {
				t.Errorf("%s: added document %s, restored side has %s", l.ID, l.Restored, rest[l.ID])
			}
		case ChangeRemoved:
			if !semanticEqual(decodeJSON(t, l.Original), decodeJSON(t, orig[l.ID])) {
				t.Errorf("%s: removed document %s, original has %s", l.ID, l.Original, orig[l.ID])
			}
		}
	}
}

// checkGolden compares the counts and report with testdata/<name>.golden.json,
// or rewrites it with -update. The report lines are embedded verbatim (only
// indented), so the file shows exactly what a reviewer reads.
func checkGolden(t *testing.T, name string, c Counts, report string) {
	t.Helper()
	g := struct {
		Counts Counts            `json:"counts"`
		Report []json.RawMessage `json:"report"`
	}{Counts: c, Report: []json.RawMessage{}}
	for _, l := range strings.SplitAfter(report, "\n") {
		if l != "" {
			g.Report = append(g.Report, json.RawMessage(l))
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(g); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", name+".golden.json")
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./diff -update to create it)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("%s differs from the golden file (go test ./diff -update rewrites it):\ngot:\n%s\nwant:\n%s", path, buf.Bytes(), want)
	}
}

// TestDumpSubset is the case peer tools get wrong: every id of the larger
// side that the smaller lacks must be reported, both ways round.
func TestDumpSubset(t *testing.T) {
	var four, one strings.Builder
	for i := 1; i <= 4; i++ {
		line := fmt.Sprintf(`{"_id":"%d","_source":{"n":%d}}`+"\n", i, i)
		four.WriteString(line)
		if i == 1 {
			one.WriteString(line)
		}
	}
	tests := []struct {
		name       string
		orig, rest string
		change     string
		want       Counts
	}{
		{"removed", four.String(), one.String(), ChangeRemoved, Counts{Outcome: Outcome{Original: 4, Target: 1, Unchanged: 1, Removed: 3}}},
		{"added", one.String(), four.String(), ChangeAdded, Counts{Outcome: Outcome{Original: 1, Target: 4, Unchanged: 1, Added: 3}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, workers := range []int{1, 4} {
				report, c := runDiff(t, stringSide("a.ndjson", tt.orig), stringSide("b.ndjson", tt.rest), Options{Workers: workers})
				got := classes(parseReport(t, report))
				if strings.Join(got[tt.change], ",") != "2,3,4" || len(got) != 1 {
					t.Errorf("workers %d: got %v, want %s 2,3,4 only", workers, got, tt.change)
				}
				// Whole documents in one set only make no patch
				// operations to count by field.
				tt.want.Ignored = []string{}
				tt.want.Fields = &Fields{Paths: []FieldStat{}, Transitions: []Transition{}}
				if g, w := countsJSON(t, c), countsJSON(t, tt.want); g != w {
					t.Errorf("workers %d: got counts %s, want %s", workers, g, w)
				}
			}
		})
	}
}

// TestDumpBadLines: the lines the restore records as failures (not JSON,
// no _id or _source, invalid UTF-8, a repeated _id) are skipped by the
// diff the same way, counted in BadLines, and a rerun gives the same.
func TestDumpBadLines(t *testing.T) {
	good := `{"_id":"a","_source":{"x":1}}` + "\n"
	tests := []struct {
		name       string
		orig, rest string
		want       Outcome
		bad        int64
	}{
		{
			name: "not JSON and no _source in the original",
			orig: good + "{\"_id\":\"b\",\"_source\":\n" + `{"_id":"c"}` + "\n",
			rest: good,
			want: Outcome{Original: 1, Target: 1, Unchanged: 1},
			bad:  2,
		},
		{
			name: "not an object, no _id, invalid UTF-8 in the restored",
			orig: good,
			rest: good + "[1]\n" + `{"_source":{}}` + "\n" + "{\"_id\":\"z\",\"_source\":{\"x\":\"\xff\"}}\n",
			want: Outcome{Original: 1, Target: 1, Unchanged: 1},
			bad:  3,
		},
		{
			name: "a repeated _id: the first line wins",
			orig: good + `{"_id":"b","_source":{}}` + "\n" + `{"_id":"a","_source":{"x":2}}` + "\n",
			rest: good,
			want: Outcome{Original: 2, Target: 1, Unchanged: 1, Removed: 1},
			bad:  1,
		},
		{
			name: "invalid JSON inside a source",
			orig: `{"_id":"a","_source":{"x":1}}` + "\n",
			rest: `{"_id":"a","_source":{"x":01}}` + "\n",
			want: Outcome{Original: 1, Target: 0, Removed: 1},
			bad:  1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var first string
			for _, budget := range []int64{0, 1, 0} {
				var buf bytes.Buffer
				c, err := Run(context.Background(), stringSide("original.ndjson", tt.orig), stringSide("restored.ndjson", tt.rest), &buf,
					Options{Logger: quiet, TempDir: t.TempDir(), MemoryBudget: budget})
				if err != nil {
					t.Fatalf("budget %d: %v", budget, err)
				}
				if c.Outcome != tt.want || c.BadLines != tt.bad {
					t.Errorf("budget %d: got %+v, %d bad lines; want %+v, %d", budget, c.Outcome, c.BadLines, tt.want, tt.bad)
				}
				if first == "" {
					first = buf.String()
				} else if buf.String() != first {
					t.Errorf("budget %d: report %q, the first run wrote %q", budget, buf.String(), first)
				}
			}
		})
	}
}

func TestOpenError(t *testing.T) {
	missing := fileSide(filepath.Join(t.TempDir(), "missing.ndjson"))
	_, err := Run(context.Background(), missing, stringSide("b", ""), io.Discard, Options{Logger: quiet})
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "missing.ndjson") {
		t.Errorf("got %v, want a not-exist error naming the dump", err)
	}
}

func TestOptionsValidate(t *testing.T) {
	if err := NewOptions().Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	if err := (Options{}).Validate(); err != nil {
		t.Errorf("zero value: %v", err)
	}
	o := NewOptions()
	if o.Workers != DefaultWorkers || o.PageSize != DefaultPageSize || o.MemoryBudget != DefaultMemoryBudget || o.TempDir == "" || o.Logger == nil {
		t.Errorf("NewOptions: got %+v", o)
	}
	bad := Options{Workers: -1, PageSize: MaxPageSize + 1, MemoryBudget: -5, Overlay: "sideways", Ignore: []string{"/ok", "modified", "/a~"}}
	err := bad.Validate()
	if !errors.Is(err, ErrBadOptions) {
		t.Fatalf("got %v, want ErrBadOptions", err)
	}
	for _, s := range []string{"workers: must be at least 1 (got -1)", "page size: must be between 1 and 10000 (got 10001)",
		"memory budget: must be positive (got -5)", `overlay: must be "prefer-original", "prefer-source", "source", "fill" or empty (got sideways)`,
		`"modified"`, `"/a~"`} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not name %q", err, s)
		}
	}
	_, err = Run(context.Background(), stringSide("a", ""), stringSide("b", ""), io.Discard, Options{Ignore: []string{"tags"}, Logger: quiet})
	if !errors.Is(err, ErrBadPointer) || !strings.Contains(err.Error(), `"tags"`) {
		t.Errorf("Run with a bad pointer: got %v", err)
	}
}

func TestSpillFilesRemoved(t *testing.T) {
	dir := t.TempDir()
	var a, b strings.Builder
	for i := range 300 {
		fmt.Fprintf(&a, `{"_id":"%04d","_source":{"n":%d}}`+"\n", i, i)
		if i%3 != 0 {
			fmt.Fprintf(&b, `{"_id":"%04d","_source":{"n":%d}}`+"\n", i, i+i%2)
		}
	}
	d := New(Options{Logger: quiet, TempDir: dir, MemoryBudget: 200})
	var buf bytes.Buffer
	c, err := d.Run(context.Background(), stringSide("a", a.String()), stringSide("b", b.String()), &buf)
	if err != nil {
		t.Fatal(err)
	}
	// The odd n change value: replaced, so overwritten.
	if o := c.Outcome; o.Removed != 100 || o.Overwritten != 100 || o.Recovered != 0 || o.Unchanged != 100 || o.Added != 0 {
		t.Errorf("got %+v, want 100 removed, 100 overwritten, 100 unchanged", o)
	}
	if got := len(parseReport(t, buf.String())); got != 200 {
		t.Errorf("got %d report lines, want 200", got)
	}
	left, _ := os.ReadDir(dir)
	if len(left) != 0 {
		t.Errorf("temporary files left in %s: %v", dir, left)
	}
	// Stats leaves Fields to Run's result.
	noFields := c
	noFields.Fields = nil
	if s := d.Stats(); countsJSON(t, s) != countsJSON(t, noFields) {
		t.Errorf("Stats after Run: got %s, want %s", countsJSON(t, s), countsJSON(t, noFields))
	}
	if _, err := d.Run(context.Background(), stringSide("a", ""), stringSide("b", ""), io.Discard); err == nil {
		t.Error("second Run on one Differ: got no error")
	}
}

func TestDebugLog(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	_, err := Run(context.Background(),
		stringSide("a", `{"_id":"x","_source":{"n":1}}`+"\n"+`{"_id":"gone","_source":{}}`),
		stringSide("b", `{"_id":"x","_source":{"n":2}}`+"\n"+`{"_id":"new","_source":{}}`),
		io.Discard, Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`msg="document overwritten" id=x`, `msg="document removed" id=gone`, `msg="document added" id=new`, `msg="diff compared"`} {
		if !strings.Contains(logs.String(), s) {
			t.Errorf("log does not contain %q:\n%s", s, logs.String())
		}
	}
}

func TestCountsJSON(t *testing.T) {
	outcome := Outcome{Original: 1, Target: 2, Unchanged: 3, Recovered: 4, Overwritten: 5, Added: 6, Removed: 7, RoutingChanged: 8}
	wantOutcome := `"outcome":{"original":1,"target":2,"unchanged":3,"recovered":4,"overwritten":5,"added":6,"removed":7,"routing_changed":8,"skipped":0}`
	fields := &Fields{
		Paths: []FieldStat{{Path: "/a/*", Class: FieldRecovered, Add: 1, Replace: 2, Remove: 3, Documents: 4,
			Samples: []Sample{{ID: "x", After: json.RawMessage(`1`)}, {ID: "y", Before: json.RawMessage(`"s"`), Cut: true}}}},
		Other:       FieldOther{Paths: 1, Add: 2, Replace: 3, Remove: 4, Documents: 5},
		Transitions: []Transition{{Path: "/v", From: json.RawMessage(`"A"`), To: json.RawMessage(`"B"`), Documents: 2}},
	}
	wantFields := `"fields":{"paths":[{"path":"/a/*","class":"recovered","add":1,"replace":2,"remove":3,"documents":4,` +
		`"samples":[{"_id":"x","after":1},{"_id":"y","before":"s","cut":true}]}],` +
		`"other":{"paths":1,"add":2,"replace":3,"remove":4,"documents":5},` +
		`"transitions":[{"path":"/v","from":"A","to":"B","documents":2}]}`
	tests := []struct {
		name string
		c    Counts
		want string
	}{
		{"two-sided", Counts{Outcome: outcome, Fields: fields, Ignored: []string{"/m"}, Rescans: 9},
			`{` + wantOutcome + `,` + wantFields + `,"ignored":["/m"],"rescans":9}`},
		{"three-sided", Counts{Outcome: outcome, Loss: &Loss{Backup: 11, Lost: 12, Stripped: 13, EditedSinceBackup: 14,
			NewSinceBackup: 15, NotRecovered: 16, NotRecoveredLost: 17}, Fields: &Fields{Paths: []FieldStat{}, Other: FieldOther{Truncated: true}, Transitions: []Transition{}}, Ignored: []string{}},
			`{` + wantOutcome + `,"loss":{"backup":11,"lost":12,"stripped":13,"edited_since_backup":14,"new_since_backup":15,` +
				`"not_recovered":16,"not_recovered_lost":17},"fields":{"paths":[],"other":{"paths":0,"add":0,"replace":0,"remove":0,"documents":0,"truncated":true},"transitions":[]},"ignored":[],"rescans":0}`},
	}
	for _, tt := range tests {
		b, err := json.Marshal(tt.c)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tt.want {
			t.Errorf("%s: got  %s\nwant %s", tt.name, b, tt.want)
		}
	}
}

// TestStatsWhileRunning reads Stats from another goroutine during a diff,
// as the CLI's progress ticker does; run with -race.
func TestStatsWhileRunning(t *testing.T) {
	var a, b strings.Builder
	for i := range 5000 {
		fmt.Fprintf(&a, `{"_id":"%05d","_source":{"n":%d}}`+"\n", i, i)
		fmt.Fprintf(&b, `{"_id":"%05d","_source":{"n":%d}}`+"\n", i, i%7)
	}
	d := New(Options{Logger: quiet, TempDir: t.TempDir(), Workers: 3, PageSize: 50, Ignore: []string{"/x"}})
	stop := make(chan struct{})
	seen := make(chan Counts)
	go func() {
		var last Counts
		for {
			select {
			case <-stop:
				seen <- last
				return
			default:
			}
			s := d.Stats()
			if done, before := s.Outcome.Unchanged+s.Outcome.Recovered+s.Outcome.Overwritten,
				last.Outcome.Unchanged+last.Outcome.Recovered+last.Outcome.Overwritten; done < before || s.Outcome.Original < last.Outcome.Original {
				t.Errorf("Stats went backwards: %+v after %+v", s, last)
			}
			last = s
		}
	}()
	c, err := d.Run(context.Background(), stringSide("a", a.String()), stringSide("b", b.String()), io.Discard)
	close(stop)
	last := <-seen
	if err != nil {
		t.Fatal(err)
	}
	// n becomes n%7: the first 7 are unchanged, the rest replaced.
	if o := c.Outcome; o.Overwritten != 4993 || o.Recovered != 0 || o.Unchanged != 7 || last.Outcome.Original > 5000 {
		t.Errorf("got %+v, last progress %+v", o, last.Outcome)
	}
	noFields := c
	noFields.Fields = nil
	if countsJSON(t, d.Stats()) != countsJSON(t, noFields) {
		t.Errorf("Stats after Run %s, want %s", countsJSON(t, d.Stats()), countsJSON(t, noFields))
	}
}

// TestSkipIDs: the ids of Options.SkipIDs are left out of every side and
// counted in Skipped; the counts of what remains add up.
func TestSkipIDs(t *testing.T) {
	orig := `{"_id":"a","_source":{"x":1}}` + "\n" + `{"_id":"b","_source":{"x":1}}` + "\n" + `{"_id":"c","_source":{"x":1}}` + "\n"
	rest := `{"_id":"a","_source":{"x":1}}` + "\n" + `{"_id":"b","_source":{"x":2}}` + "\n"
	var buf bytes.Buffer
	c, err := Run(context.Background(), stringSide("original.ndjson", orig), stringSide("restored.ndjson", rest), &buf,
		Options{Logger: quiet, SkipIDs: []string{"b"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := (Outcome{Original: 2, Target: 1, Unchanged: 1, Removed: 1}); c.Outcome != want || c.Skipped != 2 {
		t.Errorf("got %+v, %d skipped; want %+v, 2", c.Outcome, c.Skipped, want)
	}
	if strings.Contains(buf.String(), `"b"`) {
		t.Errorf("the report names a skipped id: %s", buf.String())
	}
}
