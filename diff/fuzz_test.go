package diff

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/wI2L/jsondiff"

	"github.com/esrestore/esrestore/fixtures"
	"github.com/esrestore/esrestore/internal/jsonscan"
)

// hugeExponent matches exponents the test's big.Rat arithmetic would take
// too long over; the code under test handles them, the oracle does not.
var hugeExponent = regexp.MustCompile(`[eE][+-]?0*[0-9]{4,}`)

func FuzzDiff(f *testing.F) {
	sc := fixtures.NewScenario(40, 0.2, 1)
	for _, d := range sc.Original {
		if _, ok := sc.Stripped[d.ID]; ok {
			for _, c := range sc.Complete {
				if c.ID == d.ID {
					f.Add(string(d.Source), string(c.Source))
				}
			}
		}
	}
	// Every pair of the golden cases.
	dirs, _ := filepath.Glob("testdata/cases/*")
	for _, dir := range dirs {
		orig := readDumpSources(f, filepath.Join(dir, "original.ndjson"))
		rest := readDumpSources(f, filepath.Join(dir, "restored.ndjson"))
		for id, src := range orig {
			if other, ok := rest[id]; ok {
				f.Add(string(src), string(other))
			}
		}
	}
	for _, s := range [][2]string{
		{`{"a":1}`, `{"a":1.0}`},
		{`{"a":1}`, `{"a":1.5}`},
		{`{"n":9007199254740993}`, `{"n":9007199254740992}`},
		{`{"a":[1,2,3,4]}`, `{"a":[1]}`},
		{`{"a":[1]}`, `{"a":[1,2,3,4]}`},
		{`{"m":[[1,2],[3]]}`, `{"m":[[3],[1,2],[]]}`},
		{`{"tags":[{"id":"1","name":"a"}]}`, `{"tags":{"id":"1"}}`},
		{`{}`, `{"x":{"y":[null,true,"é",-0.0]}}`},
		{`{"a/b":{"~":1,"":2}}`, `{"a/b":{"~":2}}`},
		{`{"s":"caf\u00e9 <b>"}`, `{"s":"café <b>"}`},
		{`{"k":"v","l":[{"a":[{"b":1}]}]}`, `{"l":[{"a":[{"b":2},{"c":3}]}],"k":"v"}`},
		{`{"a":null}`, `{}`},
		{`{"a":{"b":{}}}`, `{"a":{"b":[]}}`},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		// Documents reach the diff as valid UTF-8: the dump reader refuses
		// a line that is not (a bad line, counted), and Elasticsearch
		// refuses such a document when it is indexed. json.Valid does not
		// check UTF-8.
		for _, s := range []string{a, b} {
			if !json.Valid([]byte(s)) || !utf8.ValidString(s) || !strings.HasPrefix(strings.TrimLeft(s, " \t\r\n"), "{") || hugeExponent.MatchString(s) {
				return
			}
		}
		ab, ba := []byte(a), []byte(b)

		// diff(x,x) is empty, also against x re-encoded by encoding/json
		// (other key order, other escapes, other spacing).
		for _, x := range [][]byte{ab, ba} {
			if p, eq, err := Compare(x, x, nil); err != nil || !eq || len(p) != 0 {
				t.Fatalf("Compare(x, x) = %v, %v, %v for %s", p, eq, err, x)
			}
			re, err := json.Marshal(decodeJSON(t, x))
			if err != nil {
				t.Fatal(err)
			}
			if p, eq, err := Compare(x, re, nil); err != nil || !eq {
				t.Fatalf("Compare(x, reencoded x) = %s, %v, %v\nx  = %s\nre = %s", appendPatch(nil, p), eq, err, x, re)
			}
		}

		pab, eqab, err := Compare(ab, ba, nil)
		if err != nil {
			t.Fatal(err)
		}
		pba, eqba, err := Compare(ba, ab, nil)
		if err != nil {
			t.Fatal(err)
		}
		if eqab != eqba {
			t.Fatalf("diff(a,b) equal=%v but diff(b,a) equal=%v", eqab, eqba)
		}
		// The patch is jsondiff.CompareJSON's on the whole documents: the
		// pruned trees change nothing but the work.
		checkSameAsJSONDiff(t, ab, ba, pab)
		checkSameAsJSONDiff(t, ba, ab, pba)
		if eqab != semanticEqual(decodeJSON(t, ab), decodeJSON(t, ba)) {
			t.Fatalf("Compare says equal=%v, the oracle disagrees\na=%s\nb=%s", eqab, a, b)
		}
		// Applying the written patch of diff(a,b) to a gives b, and back.
		for _, c := range []struct {
			from, to []byte
			patch    []byte
		}{{ab, ba, appendPatch(nil, pab)}, {ba, ab, appendPatch(nil, pba)}} {
			got, err := applyPatch(t, decodeJSON(t, c.from), c.patch)
			if err != nil {
				t.Fatalf("apply %s: %v\nfrom %s", c.patch, err, c.from)
			}
			if !semanticEqual(got, decodeJSON(t, c.to)) {
				t.Fatalf("patch %s\nfrom %s\ngives %v\nwant %s", c.patch, c.from, got, c.to)
			}
		}

		// Through Run: classes mirror when the sides swap.
		var ca, cb bytes.Buffer
		json.Compact(&ca, ab)
		json.Compact(&cb, ba)
		sideA := `{"_id":"x","_source":` + ca.String() + "}\n" + `{"_id":"y","_source":` + ca.String() + "}\n"
		sideB := `{"_id":"x","_source":` + cb.String() + "}\n" + `{"_id":"z","_source":` + cb.String() + "}\n"
		fwd, cf := runDiff(t, stringSide("a", sideA), stringSide("b", sideB), Options{Workers: 2})
		bwd, cr := runDiff(t, stringSide("b", sideB), stringSide("a", sideA), Options{Workers: 2})
		//
		// Added and removed swap. A changed document is recovered when its
		// patch only adds: then the document grew, and the way back only
		// removes, so it is overwritten, by removes alone. Both ways
		// recovered cannot be (each side would hold more than the other);
		// both ways overwritten is an edit (replaces, or adds and removes).
		fo, ro := cf.Outcome, cr.Outcome
		if fo.Added != ro.Removed || fo.Removed != ro.Added || fo.Unchanged != ro.Unchanged ||
			fo.Recovered+fo.Overwritten != ro.Recovered+ro.Overwritten || fo.Recovered+ro.Recovered > 1 {
			t.Fatalf("counts do not mirror: %+v and %+v", fo, ro)
		}
		changed := int64(0)
		if !eqab {
			changed = 1
		}
		if fo.Recovered+fo.Overwritten != changed {
			t.Fatalf("equal=%v but %d recovered and %d overwritten", eqab, fo.Recovered, fo.Overwritten)
		}
		lines := map[string]map[string]reportLine{"forward": {}, "backward": {}}
		for dir, report := range map[string]string{"forward": fwd, "backward": bwd} {
			for _, l := range parseReport(t, report) {
				lines[dir][l.ID] = l
			}
		}
		for dir, want := range map[string]map[string]string{
			"forward":  {"y": ChangeRemoved, "z": ChangeAdded},
			"backward": {"y": ChangeAdded, "z": ChangeRemoved},
		} {
			if !eqab {
				x, ok := lines[dir]["x"]
				if !ok {
					t.Fatalf("%s: x differs but has no report line", dir)
				}
				want["x"] = wantChange(t, x.Patch, false)
			}
			got := map[string]string{}
			for id, l := range lines[dir] {
				got[id] = l.Change
			}
			if len(got) != len(want) || got["x"] != want["x"] || got["y"] != want["y"] || got["z"] != want["z"] {
				t.Fatalf("%s: got classes %v, want %v", dir, got, want)
			}
		}
		if !eqab {
			fx, bx := lines["forward"]["x"], lines["backward"]["x"]
			for _, p := range []struct{ grew, back reportLine }{{fx, bx}, {bx, fx}} {
				if p.grew.Change != ChangeRecovered {
					continue
				}
				ops := patchOps(t, p.back.Patch)
				if p.back.Change != ChangeOverwritten || ops["remove"] == 0 || ops["add"]+ops["replace"]+ops["move"]+ops["copy"] != 0 {
					t.Fatalf("recovered by %s, but the way back is %s by %s, want overwritten by removes only\na=%s\nb=%s",
						p.grew.Patch, p.back.Change, p.back.Patch, a, b)
				}
			}
		}
	})
}

// checkSameAsJSONDiff checks that got is the patch jsondiff.CompareJSON
// makes (with the LCS option, as the package does) from the whole documents decoded with canonical numbers, and,
// when the documents hold no number, with encoding/json itself.
func checkSameAsJSONDiff(t *testing.T, a, b []byte, got jsondiff.Patch) {
	t.Helper()
	canonical := jsondiff.UnmarshalFunc(func(data []byte, v any) error {
		var d jsonscan.Decoder
		tree, err := d.Decode(data)
		*(v.(*any)) = tree
		return err
	})
	want, err := jsondiff.CompareJSON(a, b, jsondiff.Invertible(), jsondiff.LCS(), canonical)
	if err != nil {
		t.Fatal(err)
	}
	if g, w := appendPatch(nil, got), appendPatch(nil, want); !bytes.Equal(g, w) {
		t.Fatalf("patch differs from jsondiff.CompareJSON's:\ngot  %s\nwant %s\na=%s\nb=%s", g, w, a, b)
	}
	if bytes.ContainsAny(a, "0123456789") || bytes.ContainsAny(b, "0123456789") {
		return
	}
	plain, err := jsondiff.CompareJSON(a, b, jsondiff.Invertible(), jsondiff.LCS())
	if err != nil {
		t.Fatal(err)
	}
	if g, w := appendPatch(nil, got), appendPatch(nil, plain); !bytes.Equal(g, w) {
		t.Fatalf("patch differs from plain jsondiff.CompareJSON's:\ngot  %s\nwant %s", g, w)
	}
}
