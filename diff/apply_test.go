package diff

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// A minimal RFC 6902 applier for the tests, on trees decoded by
// encoding/json (numbers as json.Number), so that a patch is checked by
// code that shares nothing with the code that made it.

type patchOp struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	From  string          `json:"from"`
	Value json.RawMessage `json:"value"`
}

// applyPatch applies the JSON patch (a JSON array) to doc.
func applyPatch(t testing.TB, doc any, patch []byte) (any, error) {
	t.Helper()
	var ops []patchOp
	if err := json.Unmarshal(patch, &ops); err != nil {
		return nil, fmt.Errorf("decode patch: %w", err)
	}
	for i, op := range ops {
		var val any
		if op.Value != nil {
			val = decodeJSON(t, op.Value)
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
			if got, err = ptrGet(doc, op.Path); err == nil && !semanticEqual(got, val) {
				err = fmt.Errorf("test failed: %s is %v, want %v", op.Path, got, val)
			}
		case "move", "copy":
			var v any
			if op.Op == "move" {
				doc, v, err = ptrRemove(doc, op.From)
			} else {
				v, err = ptrGet(doc, op.From)
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

func ptrGet(doc any, p string) (any, error) {
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
