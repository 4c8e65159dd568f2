package diff

import (
	"cmp"
	"encoding/json"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/wI2L/jsondiff"

	"github.com/esrestore/esrestore/internal/jsonscan"
)

// DefaultMaxFieldEntries bounds the distinct (path pattern, class) pairs
// one worker counts; beyond it operations are summed without a path, so
// documents with unbounded key sets cannot exhaust memory.
const DefaultMaxFieldEntries = 10_000

// fieldKey is one row of the field table.
type fieldKey struct {
	class, path string
}

// fieldAcc accumulates one row.
type fieldAcc struct {
	add, replace, remove, docs int64
	lastDoc                    uint64 // the document that last counted here
	samples                    []Sample
}

// fieldTally counts the operations one worker sees. It is not safe for
// concurrent use.
type fieldTally struct {
	max     int
	rows    map[fieldKey]*fieldAcc
	other   FieldOther
	doc     uint64 // sequence number of the current document
	id      string
	scratch []byte
}

func newFieldTally() *fieldTally {
	return &fieldTally{max: DefaultMaxFieldEntries, rows: map[fieldKey]*fieldAcc{}}
}

// startDoc begins the operations of document id.
func (f *fieldTally) startDoc(id string) {
	f.doc++
	f.id = id
}

// op counts one operation of the current document in class; old is the
// value a replace or remove takes away.
func (f *fieldTally) op(class string, op jsondiff.Operation, old any) {
	k := fieldKey{class: class, path: pathPattern(op.Path)}
	a := f.rows[k]
	if a == nil {
		if len(f.rows) >= f.max {
			f.other.Paths = -1 // unknown: marked so the result says "at least"
			switch op.Type {
			case jsondiff.OperationAdd:
				f.other.Add++
			case jsondiff.OperationReplace:
				f.other.Replace++
			case jsondiff.OperationRemove:
				f.other.Remove++
			}
			return
		}
		a = &fieldAcc{}
		f.rows[k] = a
	}
	switch op.Type {
	case jsondiff.OperationAdd:
		a.add++
	case jsondiff.OperationReplace:
		a.replace++
	case jsondiff.OperationRemove:
		a.remove++
	}
	if a.lastDoc == f.doc {
		return
	}
	a.lastDoc = f.doc
	a.docs++
	// Keep the smallest ids, so the samples do not depend on the order
	// workers met the documents in.
	if len(a.samples) == MaxFieldSamples && f.id >= a.samples[len(a.samples)-1].ID {
		return
	}
	s := Sample{ID: f.id}
	switch op.Type {
	case jsondiff.OperationAdd:
		s.After, s.Cut = f.sampleValue(op.Value, s.Cut)
	case jsondiff.OperationReplace:
		s.Before, s.Cut = f.sampleValue(old, s.Cut)
		s.After, s.Cut = f.sampleValue(op.Value, s.Cut)
	case jsondiff.OperationRemove:
		s.Before, s.Cut = f.sampleValue(old, s.Cut)
	}
	a.samples = insertSample(a.samples, s)
}

// insertSample adds s to samples sorted by id, keeping MaxFieldSamples.
func insertSample(samples []Sample, s Sample) []Sample {
	i, _ := slices.BinarySearchFunc(samples, s.ID, func(e Sample, id string) int { return strings.Compare(e.ID, id) })
	samples = slices.Insert(samples, i, s)
	if len(samples) > MaxFieldSamples {
		samples = samples[:MaxFieldSamples]
	}
	return samples
}

// sampleValue encodes v for a sample, cut to MaxSampleBytes: a cut value
// becomes a JSON string of its encoding's first bytes and an ellipsis.
func (f *fieldTally) sampleValue(v any, cut bool) (json.RawMessage, bool) {
	f.scratch = jsonscan.AppendCanonical(f.scratch[:0], v)
	if len(f.scratch) <= MaxSampleBytes {
		return json.RawMessage(append([]byte(nil), f.scratch...)), cut
	}
	n := MaxSampleBytes
	for n > 0 && !utf8.RuneStart(f.scratch[n]) {
		n--
	}
	return json.RawMessage(jsonscan.AppendString(nil, string(f.scratch[:n])+"…")), true
}

// pathPattern turns a JSON Pointer into its pattern: array indices (and
// the append index "-") become "*".
func pathPattern(p string) string {
	if p == "" {
		return p
	}
	segs := strings.Split(p[1:], "/")
	changed := false
	for i, s := range segs {
		if _, ok := arrayIndex(s); ok || s == "-" {
			segs[i] = "*"
			changed = true
		}
	}
	if !changed {
		return p
	}
	return "/" + strings.Join(segs, "/")
}

// fieldSet gathers the workers' tallies.
type fieldSet struct {
	max int
	tallies[fieldTally]
}

func newFieldSet(max int) *fieldSet { return &fieldSet{max: max} }

// tally returns a new tally that result will include.
func (s *fieldSet) tally() *fieldTally {
	t := newFieldTally()
	t.max = s.max
	return s.add(t)
}

// result merges the tallies: the MaxFieldPaths busiest rows (by documents,
// then operations), the rest summed into Other.
func (s *fieldSet) result() *Fields {
	rows := map[fieldKey]*FieldStat{}
	var other FieldOther
	unknown := false
	for _, t := range s.list() {
		if t.other.Paths < 0 {
			unknown = true
		}
		other.Add += t.other.Add
		other.Replace += t.other.Replace
		other.Remove += t.other.Remove
		for k, a := range t.rows {
			r := rows[k]
			if r == nil {
				r = &FieldStat{Path: k.path, Class: k.class, Samples: []Sample{}}
				rows[k] = r
			}
			r.Add += a.add
			r.Replace += a.replace
			r.Remove += a.remove
			r.Documents += a.docs
			for _, sm := range a.samples {
				r.Samples = insertSample(r.Samples, sm)
			}
		}
	}
	all := make([]FieldStat, 0, len(rows))
	for _, r := range rows {
		all = append(all, *r)
	}
	slices.SortFunc(all, func(a, b FieldStat) int {
		if c := cmp.Compare(b.Documents, a.Documents); c != 0 {
			return c
		}
		if c := cmp.Compare(b.Add+b.Replace+b.Remove, a.Add+a.Replace+a.Remove); c != 0 {
			return c
		}
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return strings.Compare(a.Class, b.Class)
	})
	out := &Fields{Paths: all, Transitions: []Transition{}}
	if len(all) > MaxFieldPaths {
		for _, r := range all[MaxFieldPaths:] {
			other.Paths++
			other.Add += r.Add
			other.Replace += r.Replace
			other.Remove += r.Remove
			other.Documents += r.Documents
		}
		out.Paths = all[:MaxFieldPaths]
	}
	if unknown {
		other.Truncated = true
	}
	out.Other = other
	return out
}
