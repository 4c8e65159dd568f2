package diff

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/wI2L/jsondiff"

	"github.com/esrestore/esrestore/internal/jsonscan"
)

// Compare compares two JSON documents, a the original and b the restored
// one, after removing the members and elements the ignore patterns match
// from both. It returns the RFC 6902 patch that turns a into b, with a test
// operation holding the old value before every replace and remove
// (jsondiff.Invertible), and whether the documents are equal.
//
// Equal documents give an empty patch: byte-equal ones without being
// decoded, others after a semantic comparison in which object key order
// does not count and numbers equal in value are equal (1, 1.0 and 1e0).
// Numbers in the patch are written in canonical form (see the package
// documentation). The returned patch does not reference a or b.
func Compare(a, b []byte, ignore []Pointer) (jsondiff.Patch, bool, error) {
	c := newComparer(ignore, false)
	patch, equal, err := c.compare(a, b)
	if err != nil || equal {
		return nil, equal, err
	}
	return append(jsondiff.Patch(nil), patch...), false, nil
}

// comparer holds the reusable state of one compare worker: two decoders, a
// jsondiff.Differ and scratch lists, so that a steady stream of
// comparisons allocates little beyond what differs.
type comparer struct {
	pa, pb jsonscan.Decoder
	d      jsondiff.Differ
	// Per nesting depth, the member or element spans of each side and
	// which of b's spans were matched.
	sa, sb [][]jsonscan.Span
	used   [][]bool
	keys   []string
}

// newComparer returns a comparer. With borrow set, decoded strings point
// into the compared bytes, so the patch is only valid while they are.
func newComparer(ignore []Pointer, borrow bool) *comparer {
	c := &comparer{
		pa: decoder(ignore, borrow),
		pb: decoder(ignore, borrow),
	}
	// LCS: an element inserted into an array reads as one add, not as a
	// replace of every element after it.
	c.d.WithOpts(jsondiff.Invertible(), jsondiff.LCS())
	return c
}

// compare returns the patch from a to b, valid until the next call, and
// whether they are equal.
//
// The documents are not decoded whole. Both are scanned (and validated)
// together, and only the values that differ in bytes are decoded: members
// equal in both are left out of both trees, and equal array elements
// become the same placeholder, since jsondiff makes no operation for equal
// values. The trees it then compares hold just the differences and what
// locates them, so the patch is the one the whole documents would give.
func (c *comparer) compare(a, b []byte) (jsondiff.Patch, bool, error) {
	if bytes.Equal(a, b) {
		return nil, true, nil
	}
	a, b = trimSpace(a), trimSpace(b)
	ta, tb, equal, err := c.pair(a, b, c.pa.All(), 0)
	if err != nil || equal {
		return nil, equal, err
	}
	c.d.Reset()
	c.d.Compare(ta, tb)
	patch := c.d.Patch()
	return patch, len(patch) == 0, nil
}

// trimSpace trims JSON whitespace.
func trimSpace(b []byte) []byte {
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// sideErr names the side of a parse error.
func sideErr(side string, err error) error {
	return fmt.Errorf("%s document: %w", side, err)
}

// pair decodes the values a and b (each exactly one JSON value), found at
// nesting depth, leaving out what is equal in both; equal reports that the
// values are equal, and then nothing is decoded.
func (c *comparer) pair(a, b []byte, mask jsonscan.Mask, depth int) (va, vb any, equal bool, err error) {
	if len(a) > 0 && len(b) > 0 && a[0] == b[0] {
		switch a[0] {
		case '{':
			return c.pairObjects(a, b, mask, depth)
		case '[':
			return c.pairArrays(a, b, mask, depth)
		case '"':
			// Strings differ in bytes but may not in content ("é" and
			// "\u00e9"): compare the decoded bytes before making strings.
			if eq, err := c.equalStrings(a, b); err != nil || eq {
				return nil, nil, eq, err
			}
		}
	}
	if isNumberStart(a) && isNumberStart(b) {
		if eq, err := c.equalNumbers(a, b); err != nil || eq {
			return nil, nil, eq, err
		}
	}
	va, vb, err = c.pairWhole(a, b, mask, depth)
	return va, vb, false, err
}

func isNumberStart(b []byte) bool {
	return len(b) > 0 && (b[0] == '-' || (b[0] >= '0' && b[0] <= '9'))
}

// equalStrings compares two JSON strings by content.
func (c *comparer) equalStrings(a, b []byte) (bool, error) {
	sa, err := c.pa.Text(a)
	if err != nil {
		return false, sideErr("original", err)
	}
	sb, err := c.pb.Text(b)
	if err != nil {
		return false, sideErr("restored", err)
	}
	return bytes.Equal(sa, sb), nil
}

// equalNumbers compares two JSON numbers by value.
func (c *comparer) equalNumbers(a, b []byte) (bool, error) {
	na, err := c.pa.Number(a)
	if err != nil {
		return false, sideErr("original", err)
	}
	nb, err := c.pb.Number(b)
	if err != nil {
		return false, sideErr("restored", err)
	}
	return bytes.Equal(na, nb), nil
}

// scratch returns the span lists of depth, emptied.
func (c *comparer) scratch(depth int) ([]jsonscan.Span, []jsonscan.Span) {
	for len(c.sa) <= depth {
		c.sa, c.sb, c.used = append(c.sa, nil), append(c.sb, nil), append(c.used, nil)
	}
	return c.sa[depth][:0], c.sb[depth][:0]
}

// scanSpans lists the members or elements of both values and checks that
// each value ends where its bytes do.
func (c *comparer) scanSpans(a, b []byte, depth int) ([]jsonscan.Span, []jsonscan.Span, error) {
	sa, sb := c.scratch(depth)
	var err error
	for _, side := range []struct {
		d    *jsonscan.Decoder
		data []byte
		dst  *[]jsonscan.Span
		name string
	}{{&c.pa, a, &sa, "original"}, {&c.pb, b, &sb, "restored"}} {
		if *side.dst, err = side.d.Spans(*side.dst, side.data, depth); err != nil {
			return nil, nil, sideErr(side.name, err)
		}
	}
	c.sa[depth], c.sb[depth] = sa, sb
	return sa, sb, nil
}

// hasDuplicateKey reports whether an object repeats a member name; such
// objects are decoded whole, the last member winning as in encoding/json
// (Elasticsearch itself refuses them).
func (c *comparer) hasDuplicateKey(s []jsonscan.Span) bool {
	if len(s) < 2 {
		return false
	}
	c.keys = c.keys[:0]
	for _, m := range s {
		c.keys = append(c.keys, m.Key)
	}
	slices.Sort(c.keys)
	for i := 1; i < len(c.keys); i++ {
		if c.keys[i] == c.keys[i-1] {
			return true
		}
	}
	return false
}

func (c *comparer) pairObjects(a, b []byte, mask jsonscan.Mask, depth int) (any, any, bool, error) {
	sa, sb, err := c.scanSpans(a, b, depth)
	if err != nil {
		return nil, nil, false, err
	}
	if c.hasDuplicateKey(sa) || c.hasDuplicateKey(sb) {
		va, vb, err := c.pairWhole(a, b, mask, depth)
		return va, vb, false, err
	}
	used := c.used[depth][:0]
	for range sb {
		used = append(used, false)
	}
	c.used[depth] = used
	var ta, tb map[string]any // made when a difference shows
	differ := func() {
		if ta == nil {
			ta, tb = map[string]any{}, map[string]any{}
		}
	}
	for i, m := range sa {
		// The same member usually sits at the same place on both sides.
		j := -1
		if i < len(sb) && sb[i].Key == m.Key {
			j = i
		} else {
			for k := range sb {
				if sb[k].Key == m.Key {
					j = k
					break
				}
			}
		}
		if j >= 0 {
			used[j] = true
		}
		sub, ignored := jsonscan.Mask(0), false
		if mask != 0 {
			if sub, ignored = c.pa.Member(mask, depth, m.Key); ignored {
				continue
			}
		}
		ra := a[m.Start:m.End]
		if j < 0 {
			v, err := c.pa.DecodeAt(ra, sub, depth+1)
			if err != nil {
				return nil, nil, false, sideErr("original", err)
			}
			differ()
			ta[m.Key] = v
			continue
		}
		rb := b[sb[j].Start:sb[j].End]
		if bytes.Equal(ra, rb) {
			continue
		}
		va, vb, eq, err := c.pair(ra, rb, sub, depth+1)
		if err != nil {
			return nil, nil, false, err
		}
		if eq {
			continue
		}
		differ()
		ta[m.Key], tb[m.Key] = va, vb
	}
	for j, m := range sb {
		if used[j] {
			continue
		}
		sub, ignored := jsonscan.Mask(0), false
		if mask != 0 {
			if sub, ignored = c.pb.Member(mask, depth, m.Key); ignored {
				continue
			}
		}
		v, err := c.pb.DecodeAt(b[m.Start:m.End], sub, depth+1)
		if err != nil {
			return nil, nil, false, sideErr("restored", err)
		}
		differ()
		tb[m.Key] = v
	}
	if ta == nil {
		return nil, nil, true, nil
	}
	return ta, tb, false, nil
}

// pairArrays compares two arrays element by element. Arrays that differ
// are decoded whole, so that jsondiff's LCS can align them: an element
// inserted reads as one add. (Equal elements are not stood in for by a
// placeholder here, as equal members are: the LCS would pair a placeholder
// with any equal-looking value, a real null among them.)
func (c *comparer) pairArrays(a, b []byte, mask jsonscan.Mask, depth int) (any, any, bool, error) {
	sa, sb, err := c.scanSpans(a, b, depth)
	if err != nil {
		return nil, nil, false, err
	}
	// Ignored elements leave both arrays before elements are paired by
	// position; a pattern's index refers to the element's original place.
	type elem struct {
		raw []byte
		sub jsonscan.Mask
	}
	keep := func(d *jsonscan.Decoder, data []byte, s []jsonscan.Span) []elem {
		out := make([]elem, 0, len(s))
		for i, e := range s {
			sub, ignored := jsonscan.Mask(0), false
			if mask != 0 {
				if sub, ignored = d.Element(mask, depth, i); ignored {
					continue
				}
			}
			out = append(out, elem{data[e.Start:e.End], sub})
		}
		return out
	}
	ea, eb := keep(&c.pa, a, sa), keep(&c.pb, b, sb)
	if len(ea) == len(eb) {
		equal := true
		for i := range ea {
			if bytes.Equal(ea[i].raw, eb[i].raw) {
				continue
			}
			if ea[i].sub != eb[i].sub {
				equal = false
				break
			}
			_, _, eq, err := c.pair(ea[i].raw, eb[i].raw, ea[i].sub, depth+1)
			if err != nil {
				return nil, nil, false, err
			}
			if !eq {
				equal = false
				break
			}
		}
		if equal {
			return nil, nil, true, nil
		}
	}
	ta, tb := make([]any, len(ea)), make([]any, len(eb))
	for i, e := range ea {
		if ta[i], err = c.pa.DecodeAt(e.raw, e.sub, depth+1); err != nil {
			return nil, nil, false, sideErr("original", err)
		}
	}
	for i, e := range eb {
		if tb[i], err = c.pb.DecodeAt(e.raw, e.sub, depth+1); err != nil {
			return nil, nil, false, sideErr("restored", err)
		}
	}
	return ta, tb, false, nil
}

// pairWhole decodes both values whole.
func (c *comparer) pairWhole(a, b []byte, mask jsonscan.Mask, depth int) (any, any, error) {
	va, err := c.pa.DecodeAt(a, mask, depth)
	if err != nil {
		return nil, nil, sideErr("original", err)
	}
	vb, err := c.pb.DecodeAt(b, mask, depth)
	if err != nil {
		return nil, nil, sideErr("restored", err)
	}
	return va, vb, nil
}

// appendPatch appends patch as a JSON array of operations, each with its
// members in the order op, from, path, value.
func appendPatch(b []byte, patch jsondiff.Patch) []byte {
	b = append(b, '[')
	for i, op := range patch {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"op":`...)
		b = jsonscan.AppendString(b, op.Type)
		if op.Type == jsondiff.OperationMove || op.Type == jsondiff.OperationCopy {
			b = append(b, `,"from":`...)
			b = jsonscan.AppendString(b, op.From)
		}
		b = append(b, `,"path":`...)
		b = jsonscan.AppendString(b, op.Path)
		switch op.Type {
		case jsondiff.OperationAdd, jsondiff.OperationReplace, jsondiff.OperationTest:
			b = append(b, `,"value":`...)
			b = jsonscan.AppendCanonical(b, op.Value)
		}
		b = append(b, '}')
	}
	return append(b, ']')
}
