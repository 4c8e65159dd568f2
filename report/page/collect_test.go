package page

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestShrink(t *testing.T) {
	long := strings.Repeat("é", 300) // 600 bytes
	for _, tt := range []struct {
		name, in          string
		maxString, budget int
		want              string
		cut               bool
	}{
		{"small", `{"a":[1,2.5e3,true,null,"x"],"b":{}}`, 100, 1000, `{"a":[1,2.5e3,true,null,"x"],"b":{}}`, false},
		{"whitespace", "{ \"a\" :\t[ 1 , 2 ] }", 100, 1000, `{"a":[1,2]}`, false},
		{"string cut on a rune", `{"k":{"s":"` + long + `"}}`, 11, 1000, `{"k":{"s":"ééééé… [590 more bytes]"}}`, true},
		{"escape kept whole", `{"k":{"s":"abcd\u00e9fgh"}}`, 6, 1000, `{"k":{"s":"abcd… [9 more bytes]"}}`, true},
		{"top-level id not cut", `{"_id":"` + strings.Repeat("i", 500) + `"}`, 10, 10000, `{"_id":"` + strings.Repeat("i", 500) + `"}`, false},
		{"members past budget", `{"k":{"a":1,"b":2,"c":3,"d":4}}`, 100, 12, `{"k":{"a":1,"b":2,"…":"… 2 more members"}}`, true},
		{"elements past budget", `{"k":[1,2,3,4,5]}`, 100, 9, `{"k":[1,2,"… 3 more"]}`, true},
		{"markup costs its escapes", `{"k":["<<","x","y"]}`, 100, 20, `{"k":["<<","… 2 more"]}`, true},
		{"head of a cut line", `{"_id":"a","patch":[{"op":"add","value":"abc`, 100, 1000, `{"_id":"a","patch":[{"op":"add","value":"abc"}]}`, true},
		{"cut after a key", `{"_id":"a","k"`, 100, 1000, `{"_id":"a","k":null}`, true},
		{"cut in a number", `{"_id":"a","n":12`, 100, 1000, `{"_id":"a","n":null}`, true},
		{"cut in an escape", `{"_id":"a","s":["x\u00`, 100, 1000, `{"_id":"a","s":["x"]}`, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, cut, ok := shrink(nil, []byte(tt.in), tt.maxString, tt.budget)
			if !ok {
				t.Fatalf("shrink(%s): not ok", tt.in)
			}
			if string(got) != tt.want || cut != tt.cut {
				t.Errorf("shrink(%s)\n got %s cut=%v\nwant %s cut=%v", tt.in, got, cut, tt.want, tt.cut)
			}
			if !json.Valid(got) {
				t.Errorf("shrink(%s) = %s: not JSON", tt.in, got)
			}
		})
	}
	for _, bad := range []string{`{"a":}`, `{"a" 1}`, `[1 2]`, `{"a":1}}`, `{a:1}`} {
		if _, _, ok := shrink(nil, []byte(bad), 100, 1000); ok {
			t.Errorf("shrink(%s): ok, want a syntax error", bad)
		}
	}
}

// FuzzShrink: whatever JSON comes in, and any head of it, what comes out
// is JSON, within budget plus the bounded overshoot of open members.
func FuzzShrink(f *testing.F) {
	f.Add([]byte(`{"_id":"x","change":"added","restored":{"a":[1,{"b":"`+strings.Repeat("<&>", 50)+`"}],"c":null}}`), 10, 40, 7)
	f.Add([]byte(`{"k":"\u00e9\ud83d\ude00\\\"","l":[[[[[[]]]]]]}`), 3, 5, 13)
	f.Add([]byte(`[1,-2.5E+3,true,false,null,"",{}]`), 1, 1, 3)
	f.Fuzz(func(t *testing.T, in []byte, maxString, budget, cutAt int) {
		if !json.Valid(in) || maxString < 1 || maxString > 1000 || budget < 1 || budget > 10000 {
			return
		}
		for _, b := range [][]byte{in, in[:max(0, min(cutAt, len(in)))]} {
			out, _, ok := shrink(nil, b, maxString, budget)
			if len(bytes.TrimSpace(b)) == 0 {
				continue
			}
			if !ok {
				t.Fatalf("shrink(%q): not ok", b)
			}
			if !json.Valid(out) {
				t.Fatalf("shrink(%q) = %q: not JSON", b, out)
			}
			if !utf8.Valid(out) && utf8.Valid(b) {
				t.Fatalf("shrink(%q) = %q: split a rune", b, out)
			}
		}
	})
}

// The collector keeps the same lines however the stream is chunked.
func TestCollectorChunking(t *testing.T) {
	sc := newScenario(t, 400)
	var all []byte
	for _, l := range sc.lines {
		all = append(all, l...)
	}
	opt := Options{PerClass: 7}
	whole := NewCollector(opt)
	whole.Write(all)
	r := rand.New(rand.NewPCG(1, 2))
	for range 5 {
		c := NewCollector(opt)
		for rest := all; len(rest) > 0; {
			n := min(len(rest), 1+r.IntN(300))
			c.Write(rest[:n])
			rest = rest[n:]
		}
		if got, want := fmt.Sprint(c.Classes()), fmt.Sprint(whole.Classes()); got != want {
			t.Fatalf("chunked: got classes %s, want %s", got, want)
		}
		if got, want := c.Entries(), whole.Entries(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("chunked: got %d entries, want the %d of one write", len(got), len(want))
		}
	}
}

func TestCollectorCounts(t *testing.T) {
	sc := newScenario(t, 400)
	c := sc.collect(Options{PerClass: 7})
	total := 0
	for _, cc := range c.Classes() {
		if got, want := cc.Total, int64(sc.classes[cc.Class]); got != want {
			t.Errorf("%s: got %d lines, want %d", cc.Class, got, want)
		}
		if want := min(7, sc.classes[cc.Class]); cc.Kept != want {
			t.Errorf("%s: kept %d, want %d", cc.Class, cc.Kept, want)
		}
		total += int(cc.Total)
	}
	if total != len(sc.lines) {
		t.Errorf("got %d lines counted, want %d", total, len(sc.lines))
	}
	// The kept lines are the first of each class, in stream order.
	seen := map[string]int{}
	var firsts []string
	for _, l := range sc.lines {
		var h struct{ ID, Change string }
		h.ID, h.Change, _ = head(l)
		if seen[h.Change]++; seen[h.Change] <= 7 {
			firsts = append(firsts, h.Change+" "+h.ID)
		}
	}
	var got []string
	for _, e := range c.Entries() {
		got = append(got, e.Class+" "+e.ID)
		if !json.Valid(e.Line) {
			t.Errorf("%s: kept line is not JSON: %s", e.ID, e.Line)
		}
	}
	if strings.Join(got, "\n") != strings.Join(firsts, "\n") {
		t.Errorf("got entries\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(firsts, "\n"))
	}
	if fc := c.FailureCount(); fc.Total != int64(len(sc.failures)) || fc.Kept != len(sc.failures) {
		t.Errorf("got failures %+v, want %d counted and kept", fc, len(sc.failures))
	}
}

// A huge line is kept from its head, shrunk to the line budget, and the
// lines after it are still counted and kept.
func TestCollectorHugeLine(t *testing.T) {
	big := `{"_id":"big","change":"added","restored":{"content":"` + strings.Repeat("x", 3<<20) +
		`","tags":[` + strings.Repeat(`{"id":"t","name":"n"},`, 1000) + `{}]}}` + "\n"
	next := `{"_id":"next","change":"added","restored":{"a":1}}` + "\n"
	unclassed := `{"x":1}` + "\n" + "\n" + "not json\n"
	opt := Options{MaxLineBytes: 2 << 10}
	c := NewCollector(opt)
	for s := big + next + unclassed; len(s) > 0; {
		n := min(len(s), 64<<10)
		c.Write([]byte(s[:n]))
		s = s[n:]
	}
	es := c.Entries()
	if len(es) != 4 {
		t.Fatalf("got %d entries, want 4: %v", len(es), es)
	}
	if es[0].ID != "big" || !es[0].Cut || len(es[0].Line) > 3<<10 || !json.Valid(es[0].Line) {
		t.Errorf("big line kept as %d bytes (cut %v, id %q), want at most 3 KiB of JSON, cut", len(es[0].Line), es[0].Cut, es[0].ID)
	}
	if es[1].ID != "next" || es[1].Cut || string(es[1].Line) != strings.TrimSpace(next) {
		t.Errorf("got %+v, want the next line whole", es[1])
	}
	if es[3].Class != "" || !strings.Contains(string(es[3].Line), "not json") {
		t.Errorf("got %+v, want the invalid line as text", es[3])
	}
	if got := fmt.Sprint(c.Classes()); got != "[{added 2 2} { 2 2}]" {
		t.Errorf("got classes %s", got)
	}
}

// Past maxClasses, lines are counted under "other" and not kept.
func TestCollectorManyClasses(t *testing.T) {
	c := NewCollector(Options{})
	for i := range 20 {
		fmt.Fprintf(c, `{"_id":"%d","change":"c%02d"}`+"\n", i, i)
	}
	cs := c.Classes()
	if len(cs) != maxClasses+1 || cs[maxClasses].Class != "other" || cs[maxClasses].Total != 20-maxClasses {
		t.Errorf("got %v, want %d classes and other with %d", cs, maxClasses, 20-maxClasses)
	}
	if n := len(c.Entries()); n != maxClasses {
		t.Errorf("got %d entries, want %d", n, maxClasses)
	}
}

// The bytes kept per class stop at MaxClassBytes, and what is kept stays
// a prefix of the stream.
func TestCollectorClassBytes(t *testing.T) {
	c := NewCollector(Options{MaxClassBytes: 10 << 10, PerClass: 1000})
	doc := strings.Repeat(`"<p>",`, 100)
	for i := range 500 {
		fmt.Fprintf(c, `{"_id":"%04d","change":"added","restored":{"a":[%s1]}}`+"\n", i, doc)
	}
	es := c.Entries()
	cost := 0
	for i, e := range es {
		if e.ID != fmt.Sprintf("%04d", i) {
			t.Fatalf("entry %d is %q, want a prefix of the stream", i, e.ID)
		}
		cost += len(e.Line) + 5*strings.Count(string(e.Line), "<") + 5*strings.Count(string(e.Line), ">")
	}
	if cost > 10<<10 || len(es) == 0 {
		t.Errorf("kept %d lines costing %d bytes, want some and at most 10 KiB", len(es), cost)
	}
	if cs := c.Classes(); cs[0].Total != 500 {
		t.Errorf("got %v, want 500 counted", cs)
	}
}
