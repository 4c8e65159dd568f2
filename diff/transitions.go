package diff

import (
	"cmp"
	"encoding/json"
	"slices"
	"strings"

	"github.com/esrestore/esrestore/internal/jsonscan"
)

// transPair is one transition of a path: the canonical JSON of the value
// replaced and of the value replacing it.
type transPair struct {
	from, to string
}

// transAcc counts one transition.
type transAcc struct {
	docs    int64
	lastDoc uint64 // the document that last counted here
}

// transPath is what one worker saw of one path pattern's replaces.
type transPath struct {
	// dropped is set once the path's values leave the small set: more
	// than MaxTransitionValues distinct values, or one that is not a
	// scalar. Its values and counts are then let go.
	dropped bool
	values  map[string]struct{}
	pairs   map[transPair]*transAcc
}

// transTally counts the transitions one worker sees. It is not safe for
// concurrent use.
type transTally struct {
	max     int
	paths   map[string]*transPath
	full    bool   // a path was not tracked for want of room
	doc     uint64 // sequence number of the current document
	scratch []byte
}

// startDoc begins the operations of the next document.
func (t *transTally) startDoc() { t.doc++ }

// replace counts one replace of the outcome patch: old → value at path.
func (t *transTally) replace(path string, old, value any) {
	pat := pathPattern(path)
	p := t.paths[pat]
	if p == nil {
		if len(t.paths) >= t.max {
			t.full = true
			return
		}
		p = &transPath{values: map[string]struct{}{}, pairs: map[transPair]*transAcc{}}
		t.paths[pat] = p
	}
	if p.dropped {
		return
	}
	from, okFrom := t.scalar(old)
	to, okTo := t.scalar(value)
	if !okFrom || !okTo {
		p.drop()
		return
	}
	for _, v := range [2]string{from, to} {
		if _, ok := p.values[v]; !ok {
			if len(p.values) == MaxTransitionValues {
				p.drop()
				return
			}
			p.values[v] = struct{}{}
		}
	}
	k := transPair{from: from, to: to}
	a := p.pairs[k]
	if a == nil {
		a = &transAcc{}
		p.pairs[k] = a
	}
	if a.lastDoc != t.doc {
		a.lastDoc = t.doc
		a.docs++
	}
}

func (p *transPath) drop() {
	p.dropped, p.values, p.pairs = true, nil, nil
}

// scalar is the canonical JSON of a string, number, boolean or null.
func (t *transTally) scalar(v any) (string, bool) {
	switch v.(type) {
	case nil, bool, string, json.Number, float64:
		t.scratch = jsonscan.AppendCanonical(t.scratch[:0], v)
		return string(t.scratch), true
	}
	return "", false
}

// transSet gathers the workers' transition tallies.
type transSet struct {
	max int
	tallies[transTally]
}

func newTransSet(max int) *transSet { return &transSet{max: max} }

// tally returns a new tally that result will include.
func (s *transSet) tally() *transTally {
	return s.add(&transTally{max: s.max, paths: map[string]*transPath{}})
}

// result merges the tallies: the transitions of every path whose values,
// over all workers, stay within MaxTransitionValues, busiest first. A
// worker that ran out of room may have missed any path it does not hold,
// so only the paths every such worker holds are reported.
func (s *transSet) result() []Transition {
	type merged struct {
		dropped bool
		values  map[string]struct{}
		pairs   map[transPair]int64
	}
	paths := map[string]*merged{}
	for _, t := range s.list() {
		for pat, p := range t.paths {
			m := paths[pat]
			if m == nil {
				m = &merged{values: map[string]struct{}{}, pairs: map[transPair]int64{}}
				paths[pat] = m
			}
			if m.dropped {
				continue
			}
			if p.dropped {
				m.dropped = true
				continue
			}
			for v := range p.values {
				m.values[v] = struct{}{}
			}
			if len(m.values) > MaxTransitionValues {
				m.dropped = true
				continue
			}
			for k, a := range p.pairs {
				m.pairs[k] += a.docs
			}
		}
	}
	out := []Transition{}
	for pat, m := range paths {
		if m.dropped || !s.heldByFull(pat) {
			continue
		}
		for k, n := range m.pairs {
			out = append(out, Transition{Path: pat, From: json.RawMessage(k.from), To: json.RawMessage(k.to), Documents: n})
		}
	}
	slices.SortFunc(out, func(a, b Transition) int {
		if c := cmp.Compare(b.Documents, a.Documents); c != 0 {
			return c
		}
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		if c := strings.Compare(string(a.From), string(b.From)); c != 0 {
			return c
		}
		return strings.Compare(string(a.To), string(b.To))
	})
	return out
}

// heldByFull reports whether every tally that ran out of room holds the
// path pattern, so that none of them missed its replaces.
func (s *transSet) heldByFull(pat string) bool {
	for _, t := range s.list() {
		if _, ok := t.paths[pat]; t.full && !ok {
			return false
		}
	}
	return true
}
