package diff

import (
	"encoding/json"
	"io"
	"log/slog"
	"testing"

	"github.com/esrestore/esrestore/fixtures"
)

// altDocs are an original and a backup with one document per case the
// prefers tell apart.
//
//	a  equal                                  every prefer: unchanged
//	b  stripped of /x                         original: not recovered; source, fill: recovered
//	c  edited live                            source: overwritten
//	d  edited and stripped                    original: not recovered; source: overwritten; fill: recovered
//	e  lost                                   every prefer: added
//	g  only in the original                   unchanged
//	m  stripped of a nested member            as b
//	n  null live, a value in the backup       source: overwritten; fill: as null is (NullIsMissing)
//	r  same source, another routing           source: overwritten (routing)
//	k  stripped of a member named like an index original: not recovered; source, fill: recovered
//	t  an array element more in the backup    source: recovered; original, fill keep the array
//	z  stripped of a null                     original: not recovered; source, fill: recovered
func altDocs() (orig, backup []fixtures.Doc) {
	d := func(id, routing, src string) fixtures.Doc {
		return fixtures.Doc{ID: id, Routing: routing, Source: []byte(src)}
	}
	orig = []fixtures.Doc{
		d("a", "", `{"v":1}`), d("b", "", `{"v":1}`), d("c", "", `{"v":2}`), d("d", "", `{"v":2}`),
		d("g", "", `{"v":1}`), d("m", "", `{"o":{"a":1}}`), d("n", "", `{"v":null}`), d("r", "r1", `{"v":1}`),
		d("k", "", `{"c":{"2021":1}}`), d("t", "", `{"t":[1,3]}`), d("z", "", `{"v":1}`),
	}
	backup = []fixtures.Doc{
		d("a", "", `{"v":1}`), d("b", "", `{"v":1,"x":1}`), d("c", "", `{"v":1}`), d("d", "", `{"v":1,"x":[1,2]}`),
		d("e", "", `{"v":1}`), d("m", "", `{"o":{"a":1,"b":{"c":2}}}`), d("n", "", `{"v":1}`), d("r", "r2", `{"v":1}`),
		d("k", "", `{"c":{"2021":1,"2022":{"x":2}}}`), d("t", "", `{"t":[1,2,3]}`), d("z", "", `{"v":1,"w":null}`),
	}
	return orig, backup
}

// naiveFill is --prefer fill written out on decoded documents: every
// member only the backup holds is added, objects on both sides merged.
func naiveFill(o, b map[string]any, nullIsMissing bool) map[string]any {
	out := map[string]any{}
	for k, v := range o {
		out[k] = v
	}
	for k, bv := range b {
		ov, ok := o[k]
		switch {
		case !ok || (ov == nil && nullIsMissing):
			out[k] = bv
		default:
			om, ook := ov.(map[string]any)
			bm, bok := bv.(map[string]any)
			if ook && bok {
				out[k] = naiveFill(om, bm, nullIsMissing)
			}
		}
	}
	return out
}

// naiveTarget builds the would-be target of a prefer from decoded sides.
func naiveTarget(t *testing.T, prefer string, orig, backup []fixtures.Doc, nullIsMissing bool) []fixtures.Doc {
	t.Helper()
	dec := func(b []byte) map[string]any {
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	inB := map[string]fixtures.Doc{}
	for _, d := range backup {
		inB[d.ID] = d
	}
	inO := map[string]bool{}
	var out []fixtures.Doc
	for _, o := range orig {
		inO[o.ID] = true
		b, ok := inB[o.ID]
		switch {
		case !ok || prefer == "original":
			out = append(out, o)
		case prefer == "source":
			out = append(out, b)
		default:
			src, err := json.Marshal(naiveFill(dec(o.Source), dec(b.Source), nullIsMissing))
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, fixtures.Doc{ID: o.ID, Routing: o.Routing, Source: src})
		}
	}
	for _, b := range backup {
		if !inO[b.ID] {
			out = append(out, b)
		}
	}
	return out
}

// TestAlternatives builds each prefer's target outside the diff, diffs
// the three sides with it as a real target, and checks that every run's
// Alternatives give, for each prefer, what the run with that prefer's
// target counted: the choice not made equals the choice made.
func TestAlternatives(t *testing.T) {
	orig, backup := altDocs()
	// Each prefer's watched count is the real run's with those watches.
	watches := []Watch{{Path: "/v", Value: json.RawMessage(`1`)}, {Path: "/x"}}
	for _, nullIsMissing := range []bool{false, true} {
		runs := map[string]Counts{}
		for _, prefer := range []string{"original", "source", "fill"} {
			target := naiveTarget(t, prefer, orig, backup, nullIsMissing)
			for _, workers := range []int{1, 3} {
				d := New(Options{Workers: workers, PageSize: 2, NullIsMissing: nullIsMissing, Watch: watches, Logger: slog.New(slog.DiscardHandler)})
				c, err := d.RunSides(t.Context(), Sides{Original: dumpOf("o", orig), Backup: dumpOf("b", backup), Target: dumpOf("t", target)}, io.Discard)
				if err != nil {
					t.Fatal(err)
				}
				runs[prefer] = c
			}
		}
		for _, overlay := range []Overlay{OverlayPreferOriginal, OverlayPreferSource, OverlayFill} {
			d := New(Options{Workers: 2, PageSize: 2, Overlay: overlay, NullIsMissing: nullIsMissing, Watch: watches, Logger: slog.New(slog.DiscardHandler)})
			c, err := d.RunSides(t.Context(), Sides{Original: dumpOf("o", orig), Backup: dumpOf("b", backup)}, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			runs[string(overlay)] = c
		}
		outcome := func(c Counts) Alternative {
			return Alternative{Overwritten: c.Outcome.Overwritten, Recovered: c.Outcome.Recovered,
				NotRecovered: c.Loss.NotRecovered, Added: c.Outcome.Added, Watched: c.WatchedDocuments}
		}
		want := Alternatives{Original: outcome(runs["original"]), Source: outcome(runs["source"]), Fill: outcome(runs["fill"])}
		// The cases above, counted by hand.
		// Watched: e comes back with v 1 under every prefer; source also
		// sets v 1 on c, d and n and adds x to b and d; fill adds x to b
		// and d, and, a null being missing, fills n's v with 1.
		byHand := Alternatives{
			Original: Alternative{NotRecovered: 5, Added: 1, Watched: 1},
			Source:   Alternative{Overwritten: 4, Recovered: 5, Added: 1, Watched: 5},
			Fill:     Alternative{Recovered: 5, Added: 1, Watched: 3},
		}
		if nullIsMissing {
			byHand.Fill = Alternative{Recovered: 5, Overwritten: 1, Added: 1, Watched: 4}
		}
		if want != byHand {
			t.Errorf("null is missing %v: the real runs give %+v, by hand %+v", nullIsMissing, want, byHand)
		}
		for name, c := range runs {
			if c.Alternatives == nil || *c.Alternatives != want {
				t.Errorf("null is missing %v: run %s: alternatives %+v, want %+v", nullIsMissing, name, c.Alternatives, want)
			}
		}
	}
}

// TestAlternativesTwoSided: without a backup there is nothing to choose.
func TestAlternativesTwoSided(t *testing.T) {
	orig, backup := altDocs()
	c, err := New(Options{Logger: slog.New(slog.DiscardHandler)}).RunSides(t.Context(), Sides{Original: dumpOf("o", orig), Target: dumpOf("t", backup)}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Alternatives != nil {
		t.Errorf("two-sided diff: alternatives %+v", *c.Alternatives)
	}
}
