// Package jsonmerge is the field-level merge behind --prefer fill: the
// live document with every path it lacks filled from the backup's copy.
// The restore computes the target's documents with it and the diff's dry
// run the virtual target, so both read the same function and cannot drift.
package jsonmerge

import (
	"bytes"
	"errors"

	"github.com/esrestore/esrestore/internal/jsonscan"
)

// Options tune Fill.
type Options struct {
	// NullIsMissing fills a member whose live value is null from the
	// backup, as if the member were absent. Elasticsearch indexes null and
	// absent alike, so a tool that "strips" a field by setting it to null
	// makes the same loss as one that removes it. Default false: a null is
	// a live value (someone cleared the field) and stays.
	NullIsMissing bool
}

// ErrNotObject is returned when a document is not a JSON object.
var ErrNotObject = errors.New("jsonmerge: document is not a JSON object")

// Fill returns live with every path it lacks filled from backup:
//   - a member of live whose value is an object, with an object at the
//     same key in backup, is merged with it recursively;
//   - any other member of live (scalar, array, an object facing a
//     non-object) stays as it is: arrays are values, taken whole, since an
//     element-wise merge would invent lists neither side ever held;
//   - a member only backup has is appended, after live's members, in
//     backup's order;
//   - a null in live counts as a value unless opt.NullIsMissing.
//
// filled reports whether anything was added. When nothing was, out is live
// itself (the same bytes), so a caller can tell "already right" by
// comparing bytes. Both documents must be valid JSON objects (as
// Elasticsearch returns them); keys are compared as they appear between
// the quotes, after unescaping only when they hold a backslash.
func Fill(live, backup []byte, opt Options) (out []byte, filled bool, err error) {
	lv, bv := trim(live), trim(backup)
	if len(lv) == 0 || lv[0] != '{' || len(bv) == 0 || bv[0] != '{' {
		return live, false, ErrNotObject
	}
	// Validate once; the recursive walks trust what was checked here.
	if _, err := jsonscan.Skip(lv, 0); err != nil {
		return live, false, err
	}
	if _, err := jsonscan.Skip(bv, 0); err != nil {
		return live, false, err
	}
	res, filled, err := fillObject(nil, lv, bv, opt)
	if err != nil || !filled {
		return live, false, err
	}
	return res, true, nil
}

// member is one member of an object: its key as written and its value.
type member struct {
	key   []byte // between the quotes, escapes as written
	name  string // unescaped, for comparison
	value []byte
}

func members(v []byte) ([]member, error) {
	var ms []member
	_, err := jsonscan.MembersTrusted(v, 0, func(key, value []byte) error {
		ms = append(ms, member{key: key, name: keyName(key), value: value})
		return nil
	})
	return ms, err
}

// keyName unescapes a key only when it holds an escape.
func keyName(key []byte) string {
	if bytes.IndexByte(key, '\\') < 0 {
		return string(key)
	}
	q := make([]byte, 0, len(key)+2)
	q = append(append(append(q, '"'), key...), '"')
	if s, ok := jsonscan.String(q); ok {
		return s
	}
	return string(key)
}

// fillObject appends to dst the merge of two objects, reporting whether
// anything came from backup. When nothing did, dst's content is not
// meaningful and the caller keeps live's bytes.
func fillObject(dst, live, backup []byte, opt Options) ([]byte, bool, error) {
	lm, err := members(live)
	if err != nil {
		return dst, false, err
	}
	bm, err := members(backup)
	if err != nil {
		return dst, false, err
	}
	byName := make(map[string]int, len(bm))
	for i, m := range bm {
		if _, dup := byName[m.name]; !dup {
			byName[m.name] = i
		}
	}
	used := make([]bool, len(bm))
	start := len(dst)
	dst = append(dst, '{')
	filled := false
	n := 0
	for _, m := range lm {
		val := m.value
		if i, ok := byName[m.name]; ok {
			used[i] = true
			b := bm[i].value
			switch {
			case val[0] == '{' && b[0] == '{':
				sub, subFilled, err := fillObject(nil, val, b, opt)
				if err != nil {
					return dst, false, err
				}
				if subFilled {
					val, filled = sub, true
				}
			case opt.NullIsMissing && isNull(val) && !isNull(b):
				val, filled = b, true
			}
		}
		dst = appendMember(dst, n, m.key, val)
		n++
	}
	for i, m := range bm {
		if used[i] {
			continue
		}
		if _, ok := byName[m.name]; ok && byName[m.name] != i {
			continue // a repeated key: the first one counts, as for live
		}
		dst = appendMember(dst, n, m.key, m.value)
		n++
		filled = true
	}
	dst = append(dst, '}')
	if !filled {
		return dst[:start], false, nil
	}
	return dst, true, nil
}

func appendMember(dst []byte, n int, key, value []byte) []byte {
	if n > 0 {
		dst = append(dst, ',')
	}
	dst = append(dst, '"')
	dst = append(dst, key...)
	dst = append(dst, '"', ':')
	return append(dst, value...)
}

func isNull(v []byte) bool { return string(v) == "null" }

func trim(b []byte) []byte { return bytes.TrimSpace(b) }
