package diff

import (
	"bytes"
	"fmt"

	"github.com/wI2L/jsondiff"
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

// comparer holds the reusable state of one compare worker: two parsers and
// a jsondiff.Differ, so that a steady stream of comparisons allocates only
// the decoded trees.
type comparer struct {
	pa, pb parser
	d      jsondiff.Differ
}

// newComparer returns a comparer. With borrow set, decoded strings point
// into the compared bytes, so the patch is only valid while they are.
func newComparer(ignore []Pointer, borrow bool) *comparer {
	c := &comparer{
		pa: parser{ign: ignore, borrow: borrow},
		pb: parser{ign: ignore, borrow: borrow},
	}
	c.d.WithOpts(jsondiff.Invertible())
	return c
}

// compare returns the patch from a to b, valid until the next call, and
// whether they are equal.
func (c *comparer) compare(a, b []byte) (jsondiff.Patch, bool, error) {
	if bytes.Equal(a, b) {
		return nil, true, nil
	}
	ta, err := c.pa.parse(a)
	if err != nil {
		return nil, false, fmt.Errorf("original document: %w", err)
	}
	tb, err := c.pb.parse(b)
	if err != nil {
		return nil, false, fmt.Errorf("restored document: %w", err)
	}
	c.d.Reset()
	c.d.Compare(ta, tb)
	patch := c.d.Patch()
	return patch, len(patch) == 0, nil
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
		b = appendString(b, op.Type)
		if op.Type == jsondiff.OperationMove || op.Type == jsondiff.OperationCopy {
			b = append(b, `,"from":`...)
			b = appendString(b, op.From)
		}
		b = append(b, `,"path":`...)
		b = appendString(b, op.Path)
		switch op.Type {
		case jsondiff.OperationAdd, jsondiff.OperationReplace, jsondiff.OperationTest:
			b = append(b, `,"value":`...)
			b = appendValue(b, op.Value)
		}
		b = append(b, '}')
	}
	return append(b, ']')
}
