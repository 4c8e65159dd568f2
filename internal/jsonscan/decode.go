package jsonscan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// Decoder decodes JSON into the generic tree encoding/json decodes into
// with UseNumber: map[string]any, []any, string, json.Number, bool and nil.
//
// It exists because comparing documents means decoding every one that is
// not byte-equal to its counterpart, and encoding/json's reflective
// decoder is the slowest part of that. Two things differ from
// encoding/json:
//   - numbers are json.Number in canonical form (see CanonicalNumber), so
//     numbers equal in value decode the same and large integers stay exact;
//   - members and elements an Ignore path matches are left out while
//     decoding.
//
// Strings decode as encoding/json decodes them: invalid UTF-8 and unpaired
// surrogates become U+FFFD. A Decoder reuses scratch space from call to
// call, so it is not safe for concurrent use.
type Decoder struct {
	// Borrow makes strings without escapes (values and keys) point into
	// the input instead of being copied: a tree must then not outlive the
	// bytes it was decoded from.
	Borrow bool
	// Ignore lists the paths to leave out, at most 64, each a list of
	// segments: an object member's name, or an array element's index in
	// decimal without leading zeros; a segment "*" matches any one member
	// or element.
	Ignore [][]string

	num []byte // scratch for canonical numbers
	str []byte // scratch for unescaped strings
}

// Mask is a set of a Decoder's Ignore paths, bit i standing for
// Ignore[i]: those that still match at a point of the walk.
type Mask uint64

// All returns the mask of every Ignore path, the mask at the top of a
// document.
func (d *Decoder) All() Mask {
	if n := len(d.Ignore); n > 0 {
		return 1<<n - 1
	}
	return 0
}

// Member narrows m to the paths that also match the object member named
// key at depth (0 for the members of the top-level object), and reports
// whether one of them ends there, meaning the member is ignored.
func (d *Decoder) Member(m Mask, depth int, key string) (Mask, bool) {
	return d.narrow(m, depth, key, -1)
}

// Element is Member for the array element at index idx.
func (d *Decoder) Element(m Mask, depth, idx int) (Mask, bool) {
	return d.narrow(m, depth, "", idx)
}

func (d *Decoder) narrow(m Mask, depth int, key string, idx int) (Mask, bool) {
	var out Mask
	for rest := m; rest != 0; rest &= rest - 1 {
		i := trailingZeros(rest)
		path := d.Ignore[i]
		if depth >= len(path) {
			continue
		}
		s := path[depth]
		if s != "*" {
			if idx >= 0 {
				if !isIndex(s, idx) {
					continue
				}
			} else if s != key {
				continue
			}
		}
		if depth+1 == len(path) {
			return 0, true
		}
		out |= 1 << i
	}
	return out, false
}

func trailingZeros(m Mask) int {
	n := 0
	for m&1 == 0 {
		m >>= 1
		n++
	}
	return n
}

// isIndex reports whether the path segment s names array index idx.
func isIndex(s string, idx int) bool {
	if s == "" || (len(s) > 1 && s[0] == '0') {
		return false
	}
	n, err := strconv.Atoi(s)
	return err == nil && n == idx
}

// Decode decodes the one JSON value data holds (spaces around it allowed),
// leaving out what the Ignore paths match.
func (d *Decoder) Decode(data []byte) (any, error) {
	return d.DecodeAt(data, d.All(), 0)
}

// DecodeAt decodes the one JSON value data holds (spaces around it
// allowed), found at depth in its document (0 for a whole document),
// leaving out what the paths of m match.
func (d *Decoder) DecodeAt(data []byte, m Mask, depth int) (any, error) {
	v, end, err := d.value(data, Space(data, 0), m, depth)
	if err != nil {
		return nil, err
	}
	if end = Space(data, end); end != len(data) {
		return nil, trailing(data, end)
	}
	return v, nil
}

func trailing(b []byte, i int) error {
	return syntaxErr(b, i, fmt.Sprintf("unexpected %q after value", b[i]))
}

// value decodes the value at b[i] and returns the index just past it.
func (d *Decoder) value(b []byte, i int, m Mask, depth int) (any, int, error) {
	if i >= len(b) {
		return nil, i, syntaxErr(b, i, "unexpected end")
	}
	switch b[i] {
	case '{':
		return d.object(b, i, m, depth)
	case '[':
		return d.array(b, i, m, depth)
	case '"':
		end, err := skipString(b, i)
		if err != nil {
			return nil, end, err
		}
		return d.text(b[i+1 : end-1]), end, nil
	case 't':
		end, err := literal(b, i, "true")
		return true, end, err
	case 'f':
		end, err := literal(b, i, "false")
		return false, end, err
	case 'n':
		end, err := literal(b, i, "null")
		return nil, end, err
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return d.number(b, i)
	}
	return nil, i, syntaxErr(b, i, fmt.Sprintf("unexpected %q", b[i]))
}

// object decodes the object at b[i], at depth, as encoding/json does: a
// repeated member's last value wins.
func (d *Decoder) object(b []byte, i int, m Mask, depth int) (any, int, error) {
	if depth >= maxDepth {
		return nil, i, syntaxErr(b, i, "too deep")
	}
	obj := make(map[string]any)
	end, err := walkObject(b, i, false, func(k []byte, vi int) (int, error) {
		key := d.text(k)
		sub, ignored := Mask(0), false
		if m != 0 {
			sub, ignored = d.narrow(m, depth, key, -1)
		}
		v, end, err := d.value(b, vi, sub, depth+1)
		if err == nil && !ignored {
			obj[key] = v
		}
		return end, err
	})
	if err != nil {
		return nil, end, err
	}
	return obj, end, nil
}

func (d *Decoder) array(b []byte, i int, m Mask, depth int) (any, int, error) {
	if depth >= maxDepth {
		return nil, i, syntaxErr(b, i, "too deep")
	}
	a := make([]any, 0, 4)
	idx := 0
	end, err := walkArray(b, i, func(vi int) (int, error) {
		sub, ignored := Mask(0), false
		if m != 0 {
			sub, ignored = d.narrow(m, depth, "", idx)
		}
		idx++
		v, end, err := d.value(b, vi, sub, depth+1)
		if err == nil && !ignored {
			a = append(a, v)
		}
		return end, err
	})
	if err != nil {
		return nil, end, err
	}
	return a, end, nil
}

// number decodes the number at b[i] as a canonical json.Number.
func (d *Decoder) number(b []byte, i int) (any, int, error) {
	end, integer, err := number(b, i)
	if err != nil {
		return nil, end, err
	}
	tok := b[i:end]
	if integer && string(tok) != "-0" { // already canonical
		if d.Borrow {
			return json.Number(unsafe.String(unsafe.SliceData(tok), len(tok))), end, nil
		}
		return json.Number(tok), end, nil
	}
	d.num = CanonicalNumber(d.num[:0], tok)
	return json.Number(d.num), end, nil
}

// text returns the string whose content, validated, stands between the
// quotes as raw; borrowed from the input when Borrow is set and raw needs
// no decoding.
func (d *Decoder) text(raw []byte) string {
	if bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		if d.Borrow {
			return unsafe.String(unsafe.SliceData(raw), len(raw))
		}
		return string(raw)
	}
	d.str = unquote(d.str[:0], raw)
	return string(d.str)
}

// Text returns the content of the JSON string v (exactly one string, no
// spaces around it), decoded as Decode decodes strings. The bytes are v's
// own when it needs no decoding, else scratch valid until the Decoder's
// next call.
func (d *Decoder) Text(v []byte) ([]byte, error) {
	if len(v) == 0 || v[0] != '"' {
		return nil, syntaxErr(v, 0, "not a string")
	}
	end, err := skipString(v, 0)
	if err != nil {
		return nil, err
	}
	if end != len(v) {
		return nil, trailing(v, end)
	}
	raw := v[1 : end-1]
	if bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		return raw, nil
	}
	d.str = unquote(d.str[:0], raw)
	return d.str, nil
}

// Number returns the canonical form (see CanonicalNumber) of the JSON
// number v (exactly one number, no spaces around it), in scratch valid
// until the Decoder's next call.
func (d *Decoder) Number(v []byte) ([]byte, error) {
	if len(v) == 0 || (v[0] != '-' && v[0]-'0' >= 10) {
		return nil, syntaxErr(v, 0, "not a number")
	}
	end, _, err := number(v, 0)
	if err != nil {
		return nil, err
	}
	if end != len(v) {
		return nil, trailing(v, end)
	}
	d.num = CanonicalNumber(d.num[:0], v)
	return d.num, nil
}

// Span is an object member, its name decoded, or an array element (Key
// empty): the bytes [Start:End] of its value.
type Span struct {
	Key        string
	Start, End int
}

// Spans appends to dst the members of the object or the elements of the
// array v (exactly one value, no spaces around it), found at depth in its
// document: member names decoded as Decode decodes them (Key empty for an
// element), values validated but not decoded.
func (d *Decoder) Spans(dst []Span, v []byte, depth int) ([]Span, error) {
	if depth >= maxDepth {
		return nil, syntaxErr(v, 0, "too deep")
	}
	var end int
	var err error
	switch {
	case len(v) > 0 && v[0] == '{':
		end, err = walkObject(v, 0, false, func(k []byte, vi int) (int, error) {
			end, err := Skip(v, vi)
			dst = append(dst, Span{Key: d.text(k), Start: vi, End: end})
			return end, err
		})
	case len(v) > 0 && v[0] == '[':
		end, err = walkArray(v, 0, func(vi int) (int, error) {
			end, err := Skip(v, vi)
			dst = append(dst, Span{Start: vi, End: end})
			return end, err
		})
	default:
		return nil, syntaxErr(v, 0, "not an object or an array")
	}
	if err == nil && end != len(v) {
		err = trailing(v, end)
	}
	if err != nil {
		return nil, err
	}
	return dst, nil
}

// unquote is the one unescaper: it appends the text of the string whose
// content stands between the quotes as raw, already validated, decoded as
// encoding/json decodes it: invalid UTF-8 and unpaired surrogates become
// U+FFFD.
func unquote(dst, raw []byte) []byte {
	for i := 0; i < len(raw); {
		if raw[i] != '\\' {
			n := bytes.IndexByte(raw[i:], '\\')
			if n < 0 {
				n = len(raw) - i
			}
			// An escape decodes to whole runes, so each run of plain
			// bytes is valid or not on its own.
			if run := raw[i : i+n]; utf8.Valid(run) {
				dst = append(dst, run...)
			} else {
				dst = appendValidUTF8(dst, run)
			}
			i += n
			continue
		}
		switch c := raw[i+1]; c {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := hex4(raw[i+2:])
			if utf16.IsSurrogate(r) {
				// Paired only with a \u escape right after it that makes a
				// valid pair; else it alone becomes U+FFFD.
				next := raw[i+6:]
				if len(next) >= 6 && next[0] == '\\' && next[1] == 'u' {
					if dec := utf16.DecodeRune(r, hex4(next[2:])); dec != utf8.RuneError {
						dst = utf8.AppendRune(dst, dec)
						i += 12
						continue
					}
				}
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
			i += 6
			continue
		default: // '"', '\\', '/'
			dst = append(dst, c)
		}
		i += 2
	}
	return dst
}

// hex4 reads the four hex digits, already validated, that start h.
func hex4(h []byte) rune {
	var r rune
	for _, c := range h[:4] {
		switch {
		case c <= '9':
			c -= '0'
		case c >= 'a':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// appendValidUTF8 appends s with each invalid byte replaced by U+FFFD.
func appendValidUTF8(dst, s []byte) []byte {
	for len(s) > 0 {
		r, n := utf8.DecodeRune(s)
		if r == utf8.RuneError && n == 1 {
			dst = append(dst, "\uFFFD"...)
		} else {
			dst = append(dst, s[:n]...)
		}
		s = s[n:]
	}
	return dst
}
