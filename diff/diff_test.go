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

// reportLine is a report line decoded for assertions.
type reportLine struct {
	ID       string          `json:"_id"`
	Change   string          `json:"change"`
	Patch    json.RawMessage `json:"patch"`
	Original json.RawMessage `json:"original"`
	Restored json.RawMessage `json:"restored"`
	Routing  *struct {
		Original *string `json:"original"`
		Restored *string `json:"restored"`
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
				if fmt.Sprint(gotCounts) != fmt.Sprint(counts) {
					t.Errorf("workers %d, budget %d: got counts %+v, want %+v", v.workers, v.budget, gotCounts, counts)
				}
			}

			lines := parseReport(t, report)
			if tt.opt.Overlay == OverlayNone && len(tt.opt.Ignore) == 0 {
				checkPatches(t, lines, readDumpSources(t, orig), readDumpSources(t, rest))
			}
			checkGolden(t, tt.name, counts, report)
		})
	}
}

// checkPatches applies every patch to the original's source and expects
// the restored one, and checks added and removed documents are the sides'.
func checkPatches(t *testing.T, lines []reportLine, orig, rest map[string][]byte) {
	t.Helper()
	for _, l := range lines {
		switch l.Change {
		case ChangeChanged:
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
		{"removed", four.String(), one.String(), ChangeRemoved, Counts{Original: 4, Restored: 1, Unchanged: 1, Removed: 3}},
		{"added", one.String(), four.String(), ChangeAdded, Counts{Original: 1, Restored: 4, Unchanged: 1, Added: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, workers := range []int{1, 4} {
				report, c := runDiff(t, stringSide("a.ndjson", tt.orig), stringSide("b.ndjson", tt.rest), Options{Workers: workers})
				got := classes(parseReport(t, report))
				if strings.Join(got[tt.change], ",") != "2,3,4" || len(got) != 1 {
					t.Errorf("workers %d: got %v, want %s 2,3,4 only", workers, got, tt.change)
				}
				tt.want.Ignored = []string{}
				if fmt.Sprint(c) != fmt.Sprint(tt.want) {
					t.Errorf("workers %d: got counts %+v, want %+v", workers, c, tt.want)
				}
			}
		})
	}
}

func TestDumpErrors(t *testing.T) {
	good := `{"_id":"a","_source":{"x":1}}` + "\n"
	tests := []struct {
		name       string
		orig, rest string
		is         error
		contains   []string
	}{
		{
			name: "bad lines name file and line",
			orig: good + "{\"_id\":\"b\",\"_source\":\n" + `{"_id":"c"}` + "\n",
			rest: good,
			is:   ErrBadDump,
			contains: []string{"original.ndjson: bad dump lines: 2 bad lines",
				"original.ndjson:2: malformed JSON", `original.ndjson:3: document "c": missing _source`},
		},
		{
			name:     "bad line in restored",
			orig:     good,
			rest:     good + "[1]\n",
			is:       ErrBadDump,
			contains: []string{"restored.ndjson:2: line is not a JSON object"},
		},
		{
			name:     "duplicate id names both lines",
			orig:     good + `{"_id":"b","_source":{}}` + "\n" + `{"_id":"a","_source":{"x":2}}` + "\n",
			rest:     good,
			is:       ErrDuplicateID,
			contains: []string{`duplicate _id "a": original.ndjson:1 and original.ndjson:3`},
		},
		{
			name:     "invalid JSON inside a source",
			orig:     `{"_id":"a","_source":{"x":1}}` + "\n",
			rest:     `{"_id":"a","_source":{"x":01}}` + "\n",
			is:       ErrBadDump, // the dump reader sees it first
			contains: []string{"restored.ndjson:1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, budget := range []int64{0, 1} {
				var buf bytes.Buffer
				dir := t.TempDir()
				_, err := Run(context.Background(), stringSide("original.ndjson", tt.orig), stringSide("restored.ndjson", tt.rest), &buf,
					Options{Logger: quiet, TempDir: dir, MemoryBudget: budget})
				if left, _ := os.ReadDir(dir); len(left) != 0 {
					t.Errorf("budget %d: a failed diff left %d temporary files", budget, len(left))
				}
				if !errors.Is(err, tt.is) {
					t.Fatalf("budget %d: got error %v, want %v", budget, err, tt.is)
				}
				for _, s := range tt.contains {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("budget %d: error %q does not contain %q", budget, err, s)
					}
				}
				if buf.Len() != 0 {
					t.Errorf("budget %d: report written despite the error: %q", budget, buf.String())
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
		"memory budget: must be positive (got -5)", `overlay: must be "prefer-original", "prefer-source" or empty (got sideways)`,
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
	if c.Removed != 100 || c.Changed != 100 || c.Unchanged != 100 || c.Added != 0 {
		t.Errorf("got %+v, want 100 removed, 100 changed, 100 unchanged", c)
	}
	if got := len(parseReport(t, buf.String())); got != 200 {
		t.Errorf("got %d report lines, want 200", got)
	}
	left, _ := os.ReadDir(dir)
	if len(left) != 0 {
		t.Errorf("temporary files left in %s: %v", dir, left)
	}
	if s := d.Stats(); fmt.Sprint(s) != fmt.Sprint(c) {
		t.Errorf("Stats after Run: got %+v, want %+v", s, c)
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
	for _, s := range []string{`msg="document changed" id=x`, `msg="document removed" id=gone`, `msg="document added" id=new`, `msg="diff done"`} {
		if !strings.Contains(logs.String(), s) {
			t.Errorf("log does not contain %q:\n%s", s, logs.String())
		}
	}
}

func TestCountsJSON(t *testing.T) {
	b, err := json.Marshal(Counts{Original: 1, Restored: 2, Unchanged: 3, Changed: 4, Added: 5, Removed: 6, RoutingChanged: 7, Ignored: []string{"/m"}})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"original":1,"restored":2,"unchanged":3,"changed":4,"added":5,"removed":6,"routing_changed":7,"ignored":["/m"]}`
	if string(b) != want {
		t.Errorf("got %s, want %s", b, want)
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
			if s.Unchanged+s.Changed < last.Unchanged+last.Changed || s.Original < last.Original {
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
	if c.Changed+c.Unchanged != 5000 || last.Original > 5000 {
		t.Errorf("got %+v, last progress %+v", c, last)
	}
	if fmt.Sprint(d.Stats()) != fmt.Sprint(c) {
		t.Errorf("Stats after Run %+v, want %+v", d.Stats(), c)
	}
}
