// Package jsonpatch applies RFC 6902 patches to trees decoded by
// encoding/json (numbers as json.Number). It is the tests' check on the
// patches the diff writes: code that shares nothing with the code that
// made them, so that a patch that does not apply, or whose test operations
// fail, is caught.
package jsonpatch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// op is one operation of a patch.
type op struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	From  string          `json:"from"`
	Value json.RawMessage `json:"value"`
}

// Decode decodes one JSON value with numbers as json.Number.
func Decode(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// Apply applies the patch (a JSON array of operations) to doc, which it
// may change, and returns the result. A test operation whose value differs
// from the document's is an error.
func Apply(doc any, patch []byte) (any, error) {
	var ops []op
	if err := json.Unmarshal(patch, &ops); err != nil {
		return nil, fmt.Errorf("decode patch: %w", err)
	}
	for i, op := range ops {
		var val any
		if op.Value != nil {
			var err error
			if val, err = Decode(op.Value); err != nil {
				return nil, fmt.Errorf("op %d: decode value: %w", i, err)
			}
		}
		var err error
		switch op.Op {
		case "add":
			doc, err = ptrAdd(doc, op.Path, val)
		case "remove":
			doc, _, err = ptrRemove(doc, op.Path)
		case "replace":
			if doc, _, err = ptrRemove(doc, op.Path); err == nil {
				doc, err = ptrAdd(doc, op.Path, val)
			}
		case "test":
			var got any
			if got, err = Get(doc, op.Path); err == nil && !Equal(got, val) {
				err = fmt.Errorf("test failed: %s is %v, want %v", op.Path, got, val)
			}
		case "move", "copy":
			var v any
			if op.Op == "move" {
				doc, v, err = ptrRemove(doc, op.From)
			} else {
				v, err = Get(doc, op.From)
			}
			if err == nil {
				doc, err = ptrAdd(doc, op.Path, v)
			}
		default:
			err = fmt.Errorf("unknown op %q", op.Op)
		}
		if err != nil {
			return nil, fmt.Errorf("op %d (%s %s): %w", i, op.Op, op.Path, err)
		}
	}
	return doc, nil
}

// Equal compares two decoded values: object member order does not count,
// numbers compare by value.
func Equal(a, b any) bool {
	switch a := a.(type) {
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, v := range a {
			w, ok := b[k]
			if !ok || !Equal(v, w) {
				return false
			}
		}
		return true
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !Equal(a[i], b[i]) {
				return false
			}
		}
		return true
	case json.Number:
		b, ok := b.(json.Number)
		if !ok {
			return false
		}
		x, okx := new(big.Rat).SetString(string(a))
		y, oky := new(big.Rat).SetString(string(b))
		return okx && oky && x.Cmp(y) == 0
	default:
		return a == b
	}
}

func splitPtr(p string) ([]string, error) {
	if p == "" {
		return nil, nil
	}
	if p[0] != '/' {
		return nil, fmt.Errorf("bad pointer %q", p)
	}
	segs := strings.Split(p[1:], "/")
	for i, s := range segs {
		segs[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
	}
	return segs, nil
}

// Get returns the value at the JSON Pointer p.
func Get(doc any, p string) (any, error) {
	segs, err := splitPtr(p)
	if err != nil {
		return nil, err
	}
	for _, s := range segs {
		switch c := doc.(type) {
		case map[string]any:
			v, ok := c[s]
			if !ok {
				return nil, fmt.Errorf("no member %q", s)
			}
			doc = v
		case []any:
			i, err := strconv.Atoi(s)
			if err != nil || i < 0 || i >= len(c) {
				return nil, fmt.Errorf("bad index %q", s)
			}
			doc = c[i]
		default:
			return nil, fmt.Errorf("cannot descend into %T", doc)
		}
	}
	return doc, nil
}

// ptrEdit applies fn to the container holding the last segment of p and
// returns the new document.
func ptrEdit(doc any, segs []string, fn func(parent any, last string) (any, error)) (any, error) {
	if len(segs) == 1 {
		return fn(doc, segs[0])
	}
	switch c := doc.(type) {
	case map[string]any:
		v, ok := c[segs[0]]
		if !ok {
			return nil, fmt.Errorf("no member %q", segs[0])
		}
		nv, err := ptrEdit(v, segs[1:], fn)
		if err != nil {
			return nil, err
		}
		c[segs[0]] = nv
		return c, nil
	case []any:
		i, err := strconv.Atoi(segs[0])
		if err != nil || i < 0 || i >= len(c) {
			return nil, fmt.Errorf("bad index %q", segs[0])
		}
		nv, err := ptrEdit(c[i], segs[1:], fn)
		if err != nil {
			return nil, err
		}
		c[i] = nv
		return c, nil
	default:
		return nil, fmt.Errorf("cannot descend into %T", doc)
	}
}

func ptrAdd(doc any, p string, val any) (any, error) {
	segs, err := splitPtr(p)
	if err != nil {
		return nil, err
	}
	if len(segs) == 0 {
		return val, nil
	}
	return ptrEdit(doc, segs, func(parent any, last string) (any, error) {
		switch c := parent.(type) {
		case map[string]any:
			c[last] = val
			return c, nil
		case []any:
			i := len(c)
			if last != "-" {
				if i, err = strconv.Atoi(last); err != nil || i < 0 || i > len(c) {
					return nil, fmt.Errorf("bad index %q", last)
				}
			}
			c = append(c, nil)
			copy(c[i+1:], c[i:])
			c[i] = val
			return c, nil
		default:
			return nil, fmt.Errorf("cannot add into %T", parent)
		}
	})
}

func ptrRemove(doc any, p string) (any, any, error) {
	segs, err := splitPtr(p)
	if err != nil {
		return nil, nil, err
	}
	if len(segs) == 0 {
		return nil, doc, nil
	}
	var removed any
	doc, err = ptrEdit(doc, segs, func(parent any, last string) (any, error) {
		switch c := parent.(type) {
		case map[string]any:
			v, ok := c[last]
			if !ok {
				return nil, fmt.Errorf("no member %q", last)
			}
			removed = v
			delete(c, last)
			return c, nil
		case []any:
			i, err := strconv.Atoi(last)
			if err != nil || i < 0 || i >= len(c) {
				return nil, fmt.Errorf("bad index %q", last)
			}
			removed = c[i]
			return append(c[:i:i], c[i+1:]...), nil
		default:
			return nil, fmt.Errorf("cannot remove from %T", parent)
		}
	})
	return doc, removed, err
}
