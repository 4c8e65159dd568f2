package diff

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/big"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/esrestore/esrestore/fixtures"
)

// transitionDocs is a random original and target: /vis takes three
// strings, /n three numbers written in several ways (1, 1.0, 10e-1), /b
// booleans and null, /free more distinct values than a transition path
// may have, /mixed small values but once an object. Some ids are on one
// side only.
func transitionDocs(seed uint64, n int) (orig, target []fixtures.Doc) {
	r := rand.New(rand.NewPCG(seed, 1))
	vis := []string{`"INTERNAL"`, `"PUBLIC"`, `"PRIVATE"`}
	nums := [][]string{{`1`, `1.0`, `10e-1`}, {`2`, `2.00`}, {`3`, `3e0`}}
	bs := []string{`true`, `false`, `null`}
	pick := func(xs []string) string { return xs[r.IntN(len(xs))] }
	num := func() string { return pick(nums[r.IntN(len(nums))]) }
	doc := func(free int, mixed string) string {
		return fmt.Sprintf(`{"vis":%s,"n":%s,"b":%s,"free":"v%d","mixed":%s,"keep":1}`, pick(vis), num(), pick(bs), free, mixed)
	}
	for i := range n {
		id := fmt.Sprintf("d%03d", i)
		mixedO, mixedT := `"x"`, `"y"`
		if i == 7 {
			mixedT = `{"k":"y"}`
		}
		o := fixtures.Doc{ID: id, Source: []byte(doc(r.IntN(40), mixedO))}
		t := fixtures.Doc{ID: id, Source: []byte(doc(r.IntN(40), mixedT))}
		switch {
		case i%17 == 0:
			orig = append(orig, o)
		case i%19 == 0:
			target = append(target, t)
		case i%5 == 0:
			orig, target = append(orig, o), append(target, o)
		default:
			orig, target = append(orig, o), append(target, t)
		}
	}
	return orig, target
}

// canonScalar is the canonical JSON of a decoded scalar, computed apart
// from diff: integers as big.Rat writes them.
func canonScalar(t *testing.T, v any) (string, bool) {
	switch v := v.(type) {
	case nil:
		return "null", true
	case bool:
		return fmt.Sprint(v), true
	case string:
		b, _ := json.Marshal(v)
		return string(b), true
	case json.Number:
		r, ok := new(big.Rat).SetString(string(v))
		if !ok || !r.IsInt() {
			t.Fatalf("number %s: the recount handles integers only", v)
		}
		return r.RatString(), true
	}
	return "", false
}

func decodeNumbers(t *testing.T, src []byte) map[string]any {
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

// recountTransitions recounts the transitions of top-level members
// replaced between the documents on both sides, independently of the
// diff's patch.
func recountTransitions(t *testing.T, orig, target []fixtures.Doc) []Transition {
	tg := map[string]map[string]any{}
	for _, d := range target {
		tg[d.ID] = decodeNumbers(t, d.Source)
	}
	type key struct{ path, from, to string }
	counts := map[key]int64{}
	values := map[string]map[string]bool{}
	dropped := map[string]bool{}
	for _, d := range orig {
		od, td := decodeNumbers(t, d.Source), tg[d.ID]
		if td == nil {
			continue
		}
		for k, ov := range od {
			tv, ok := td[k]
			if !ok {
				continue
			}
			p := "/" + k
			from, okF := canonScalar(t, ov)
			to, okT := canonScalar(t, tv)
			if !okF || !okT {
				dropped[p] = true
				continue
			}
			if from == to {
				continue
			}
			if values[p] == nil {
				values[p] = map[string]bool{}
			}
			values[p][from], values[p][to] = true, true
			counts[key{p, from, to}]++
		}
	}
	out := []Transition{}
	for k, n := range counts {
		if dropped[k.path] || len(values[k.path]) > MaxTransitionValues {
			continue
		}
		out = append(out, Transition{Path: k.path, From: json.RawMessage(k.from), To: json.RawMessage(k.to), Documents: n})
	}
	slices.SortFunc(out, func(a, b Transition) int {
		if a.Documents != b.Documents {
			return int(b.Documents - a.Documents)
		}
		return strings.Compare(a.Path+string(a.From)+string(a.To), b.Path+string(b.From)+string(b.To))
	})
	return out
}

func TestTransitions(t *testing.T) {
	orig, target := transitionDocs(3, 300)
	want := recountTransitions(t, orig, target)
	paths := map[string]bool{}
	for _, tr := range want {
		paths[tr.Path] = true
	}
	// The case covers what it means to: three small paths kept, the
	// free-text and the once-an-object paths left out.
	if !paths["/vis"] || !paths["/n"] || !paths["/b"] || paths["/free"] || paths["/mixed"] {
		t.Fatalf("the recount's paths %v: the case does not cover what it should", paths)
	}
	for _, workers := range []int{1, 4} {
		d := New(Options{Workers: workers, PageSize: 7, Logger: slog.New(slog.DiscardHandler)})
		c, err := d.RunSides(t.Context(), Sides{Original: dumpOf("o", orig), Target: dumpOf("t", target)}, &bytes.Buffer{})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(c.Fields.Transitions, want) {
			t.Errorf("workers %d: transitions\n got %s\nwant %s", workers, transJSON(c.Fields.Transitions), transJSON(want))
		}
	}
}

func transJSON(ts []Transition) string {
	b, _ := json.Marshal(ts)
	return string(b)
}

// TestTransitionsBounded checks that a path is dropped once it shows more
// than MaxTransitionValues values, however the values split between
// workers, and that the values tracked stop growing.
func TestTransitionsBounded(t *testing.T) {
	s := newTransSet(DefaultMaxFieldEntries)
	a, b := s.tally(), s.tally()
	// Each worker sees 12 values of /v: 24 together.
	for i := range 6 {
		a.startDoc()
		a.replace("/v", fmt.Sprintf("a%d", i), fmt.Sprintf("a%d", i+6))
		b.startDoc()
		b.replace("/v", fmt.Sprintf("b%d", i), fmt.Sprintf("b%d", i+6))
		a.replace("/w", "x", "y")
	}
	if got := s.result(); len(got) != 1 || got[0].Path != "/w" || got[0].Documents != 6 {
		t.Errorf("24 values over two workers: %s, want only /w in 6 documents", transJSON(got))
	}
	for i := range 30 {
		a.startDoc()
		a.replace("/u", fmt.Sprint(i), "z")
	}
	if p := a.paths["/u"]; !p.dropped || p.values != nil || p.pairs != nil {
		t.Errorf("a dropped path still holds values: %+v", p)
	}
	// A worker out of room may have missed /late: it is left out.
	full := newTransSet(1)
	x, y := full.tally(), full.tally()
	x.startDoc()
	x.replace("/first", "a", "b")
	x.replace("/late", "a", "b")
	y.startDoc()
	y.replace("/late", "a", "b")
	if got := full.result(); len(got) != 1 || got[0].Path != "/first" {
		t.Errorf("with a full worker: %s, want /first only", transJSON(got))
	}
}

func TestWatch(t *testing.T) {
	orig, target := transitionDocs(5, 200)
	watches := []Watch{
		{Path: "/vis"},
		{Path: "/vis", Value: json.RawMessage(`"PUBLIC"`)},
		{Path: "/n", Value: json.RawMessage(`2.0`)},
		{Path: "/keep"},
	}
	// The recount: by id, the values on each side, compared canonically.
	values := func(docs []fixtures.Doc) map[string]map[string]any {
		out := map[string]map[string]any{}
		for _, d := range docs {
			out[d.ID] = decodeNumbers(t, d.Source)
		}
		return out
	}
	om, tm := values(orig), values(target)
	ids := map[string]bool{}
	for id := range om {
		ids[id] = true
	}
	for id := range tm {
		ids[id] = true
	}
	wantCounts := make([]int64, len(watches))
	wantLines := map[string][]string{}
	var union int64
	for id := range ids {
		var hit []string
		for i, w := range watches {
			ov, inO := om[id][w.Path[1:]]
			tv, inT := tm[id][w.Path[1:]]
			var oc, tc string
			if inO {
				oc, _ = canonScalar(t, ov)
			}
			if inT {
				tc, _ = canonScalar(t, tv)
			}
			var match bool
			if w.Value == nil {
				match = inO != inT || oc != tc
			} else {
				var v any
				if err := json.Unmarshal(w.Value, &v); err != nil {
					t.Fatal(err)
				}
				if f, ok := v.(float64); ok {
					v = json.Number(fmt.Sprint(f))
				}
				wc, _ := canonScalar(t, v)
				match = inT && tc == wc && !(inO && oc == wc)
			}
			if match {
				wantCounts[i]++
				hit = append(hit, w.Path)
			}
		}
		if len(hit) > 0 {
			union++
			wantLines[id] = hit
		}
	}
	if wantCounts[0] == 0 || wantCounts[1] == 0 || wantCounts[2] == 0 || wantCounts[3] == 0 {
		t.Fatalf("the case does not exercise every watch: %v", wantCounts)
	}
	for _, workers := range []int{1, 3} {
		var out bytes.Buffer
		d := New(Options{Workers: workers, PageSize: 7, Watch: watches, Logger: slog.New(slog.DiscardHandler)})
		c, err := d.RunSides(t.Context(), Sides{Original: dumpOf("o", orig), Target: dumpOf("t", target)}, &out)
		if err != nil {
			t.Fatal(err)
		}
		for i, w := range c.Watched {
			if !reflect.DeepEqual(w.Watch, watches[i]) || w.Documents != wantCounts[i] {
				t.Errorf("workers %d: watch %d: %+v, want %+v in %d documents", workers, i, w, watches[i], wantCounts[i])
			}
		}
		if len(c.Watched) != len(watches) || c.WatchedDocuments != union {
			t.Errorf("workers %d: %d watches, %d documents; want %d, %d", workers, len(c.Watched), c.WatchedDocuments, len(watches), union)
		}
		// Every report line names the watches its document matched.
		seen := 0
		for line := range strings.SplitSeq(strings.TrimSpace(out.String()), "\n") {
			var l struct {
				ID      string   `json:"_id"`
				Watched []string `json:"watched"`
			}
			if err := json.Unmarshal([]byte(line), &l); err != nil {
				t.Fatalf("line %s: %v", line, err)
			}
			if !slices.Equal(l.Watched, wantLines[l.ID]) {
				t.Errorf("workers %d: %s watched %q, want %q", workers, l.ID, l.Watched, wantLines[l.ID])
			}
			if len(l.Watched) > 0 {
				seen++
			}
		}
		if seen != len(wantLines) {
			t.Errorf("workers %d: %d lines watched, want %d", workers, seen, len(wantLines))
		}
	}
}

func TestWatchOptions(t *testing.T) {
	for _, w := range []Watch{{Path: "vis"}, {Path: "/a/*"}, {Path: "/a~2"}, {Path: "/v", Value: json.RawMessage(`{`)}} {
		if err := (Options{Watch: []Watch{w}}).Validate(); err == nil {
			t.Errorf("watch %+v: no error", w)
		}
	}
	if err := (Options{Watch: []Watch{{Path: "/a/0/b~1c", Value: json.RawMessage(`1.50`)}}}).Validate(); err != nil {
		t.Error(err)
	}
}
