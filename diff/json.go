package diff

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/esrestore/esrestore/internal/jsonscan"
)

// errSyntax is wrapped by every parse error; it is the one internal/jsonscan
// wraps, which the parser uses to pass over values it does not decode.
var errSyntax = jsonscan.ErrSyntax

// maxDepth bounds nesting, as encoding/json does, so a hostile document
// cannot exhaust the stack.
const maxDepth = 10000

// parser decodes a JSON document into the generic tree jsondiff compares:
// map[string]any, []any, string, json.Number, bool and nil.
//
// It exists because the compare step decodes every document that is not
// byte-equal to its counterpart, and encoding/json's reflective decoder is
// the slowest part of that. Two differences matter to the diff:
//   - numbers are json.Number in canonical form (see canonicalNumber), so
//     numbers equal in value compare equal and large integers stay exact;
//   - members and elements matched by an ignore pattern are skipped while
//     parsing, so they take part in neither the comparison nor the patch.
//
// With borrow set, strings without escapes point into the input instead of
// being copied; the tree must then not outlive the input bytes.
type parser struct {
	data   []byte
	pos    int
	depth  int
	borrow bool
	ign    []Pointer
	num    []byte // scratch for canonical numbers
	str    []byte // scratch for unescaped strings
}

// parse decodes one JSON value that must fill data (surrounding whitespace
// allowed).
func (p *parser) parse(data []byte) (any, error) {
	return p.parseAt(data, p.allIgnored(), 0)
}

// allIgnored is the mask of every ignore pattern.
func (p *parser) allIgnored() uint64 {
	if n := len(p.ign); n > 0 {
		return 1<<n - 1
	}
	return 0
}

// parseAt decodes the value filling data, found at nesting depth, with the
// ignore patterns of mask.
func (p *parser) parseAt(data []byte, mask uint64, depth int) (any, error) {
	p.data, p.pos, p.depth = data, 0, depth
	v, err := p.value(mask, depth)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos != len(p.data) {
		return nil, p.errorf("unexpected %q after value", p.data[p.pos])
	}
	return v, nil
}

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w at offset %d: %s", errSyntax, p.pos, fmt.Sprintf(format, args...))
}

func (p *parser) skipSpace() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// narrow returns the ignore patterns of mask that also match the segment
// at depth, an object member named key or (idx >= 0) array element idx, and
// whether one of them ends there, meaning the value is ignored.
func narrow(ign []Pointer, mask uint64, depth int, key string, idx int) (uint64, bool) {
	var out uint64
	for m := mask; m != 0; m &= m - 1 {
		i := trailingZeros(m)
		ptr := ign[i]
		if depth >= len(ptr.segs) {
			continue
		}
		s := ptr.segs[depth]
		if s != "*" {
			if idx >= 0 {
				if !isIndex(s, idx) {
					continue
				}
			} else if s != key {
				continue
			}
		}
		if depth+1 == len(ptr.segs) {
			return 0, true
		}
		out |= 1 << i
	}
	return out, false
}

func trailingZeros(m uint64) int {
	n := 0
	for m&1 == 0 {
		m >>= 1
		n++
	}
	return n
}

// isIndex reports whether the pointer segment s names array index idx.
func isIndex(s string, idx int) bool {
	if s == "" || (len(s) > 1 && s[0] == '0') {
		return false
	}
	n, err := strconv.Atoi(s)
	return err == nil && n == idx
}

func (p *parser) value(mask uint64, depth int) (any, error) {
	p.skipSpace()
	if p.pos >= len(p.data) {
		return nil, p.errorf("unexpected end of input")
	}
	switch c := p.data[p.pos]; {
	case c == '{':
		return p.object(mask, depth)
	case c == '[':
		return p.array(mask, depth)
	case c == '"':
		s, err := p.stringValue()
		return s, err
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	default:
		return nil, p.errorf("unexpected %q", c)
	}
}

func (p *parser) literal(lit string) error {
	if len(p.data)-p.pos < len(lit) || string(p.data[p.pos:p.pos+len(lit)]) != lit {
		return p.errorf("invalid literal")
	}
	p.pos += len(lit)
	return nil
}

func (p *parser) object(mask uint64, depth int) (any, error) {
	if p.depth++; p.depth > maxDepth {
		return nil, p.errorf("nested too deeply")
	}
	m := make(map[string]any)
	end, err := jsonscan.Object(p.data, p.pos, func(k []byte, vi int) (int, error) {
		key := p.key(k)
		sub, skip := uint64(0), false
		if mask != 0 {
			sub, skip = narrow(p.ign, mask, depth, key, -1)
		}
		p.pos = vi
		v, err := p.value(sub, depth+1)
		if err == nil && !skip {
			m[key] = v
		}
		return p.pos, err
	})
	p.pos = end
	if err != nil {
		return nil, err
	}
	p.depth--
	return m, nil
}

func (p *parser) array(mask uint64, depth int) (any, error) {
	if p.depth++; p.depth > maxDepth {
		return nil, p.errorf("nested too deeply")
	}
	a := make([]any, 0, 4)
	i := 0
	end, err := jsonscan.Array(p.data, p.pos, func(vi int) (int, error) {
		sub, skip := uint64(0), false
		if mask != 0 {
			sub, skip = narrow(p.ign, mask, depth, "", i)
		}
		i++
		p.pos = vi
		v, err := p.value(sub, depth+1)
		if err == nil && !skip {
			a = append(a, v)
		}
		return p.pos, err
	})
	p.pos = end
	if err != nil {
		return nil, err
	}
	p.depth--
	return a, nil
}

// stringValue reads a JSON string at p.pos; keys and values alike are
// borrowed from the input when p.borrow is set and the string has no escape.
func (p *parser) stringValue() (string, error) {
	b, inInput, err := p.stringBytes()
	if err != nil {
		return "", err
	}
	if inInput && p.borrow {
		return unsafe.String(unsafe.SliceData(b), len(b)), nil
	}
	return string(b), nil
}

// stringBytes reads the JSON string at p.pos and returns its content,
// invalid UTF-8 replaced by U+FFFD as encoding/json does. When inInput is
// set the bytes are part of the input, else they are scratch valid until
// the next call.
func (p *parser) stringBytes() (b []byte, inInput bool, err error) {
	start := p.pos + 1
	i := start
	for i < len(p.data) {
		c := p.data[i]
		switch {
		case c == '"':
			p.pos = i + 1
			raw := p.data[start:i]
			if !utf8.Valid(raw) {
				p.str = toValidUTF8(p.str[:0], raw)
				return p.str, false, nil
			}
			return raw, true, nil
		case c == '\\':
			b, err := p.escapedString(start, i)
			return b, false, err
		case c < 0x20:
			p.pos = i
			return nil, false, p.errorf("control character in string")
		}
		i++
	}
	p.pos = i
	return nil, false, p.errorf("unterminated string")
}

// escapedString decodes a string holding escapes; the bytes before the
// first backslash are data[start:i].
func (p *parser) escapedString(start, i int) ([]byte, error) {
	b := append(p.str[:0], p.data[start:i]...)
	for i < len(p.data) {
		c := p.data[i]
		switch {
		case c == '"':
			p.pos = i + 1
			if !utf8.Valid(b) {
				b = toValidUTF8(nil, b)
			}
			p.str = b
			return b, nil
		case c < 0x20:
			p.pos = i
			return nil, p.errorf("control character in string")
		case c != '\\':
			b = append(b, c)
			i++
			continue
		}
		if i+1 >= len(p.data) {
			break
		}
		i++
		switch p.data[i] {
		case '"', '\\', '/':
			b = append(b, p.data[i])
			i++
		case 'b':
			b, i = append(b, '\b'), i+1
		case 'f':
			b, i = append(b, '\f'), i+1
		case 'n':
			b, i = append(b, '\n'), i+1
		case 'r':
			b, i = append(b, '\r'), i+1
		case 't':
			b, i = append(b, '\t'), i+1
		case 'u':
			r, ok := hex4(p.data, i+1)
			if !ok {
				p.pos = i
				return nil, p.errorf("invalid \\u escape")
			}
			i += 5
			if utf16.IsSurrogate(r) {
				r2, ok2 := rune(-1), false
				if i+1 < len(p.data) && p.data[i] == '\\' && p.data[i+1] == 'u' {
					r2, ok2 = hex4(p.data, i+2)
				}
				if dec := utf16.DecodeRune(r, r2); ok2 && dec != utf8.RuneError {
					r = dec
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			b = utf8.AppendRune(b, r)
		default:
			p.pos = i
			return nil, p.errorf("invalid escape %q", p.data[i])
		}
	}
	p.pos = i
	return nil, p.errorf("unterminated string")
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// toValidUTF8 replaces invalid bytes with U+FFFD, as encoding/json does.
func toValidUTF8(dst, s []byte) []byte {
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

// scanNumber validates the JSON number at p.pos and moves past it. simple
// reports an integer other than -0, which is already in canonical form.
func (p *parser) scanNumber() (tok []byte, simple bool, err error) {
	start := p.pos
	i := p.pos
	d := p.data
	if d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	default:
		p.pos = i
		return nil, false, p.errorf("invalid number")
	}
	simple = true
	if i < len(d) && d[i] == '.' {
		simple = false
		i++
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			p.pos = i
			return nil, false, p.errorf("invalid number")
		}
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		simple = false
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			p.pos = i
			return nil, false, p.errorf("invalid number")
		}
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	}
	p.pos = i
	tok = d[start:i]
	return tok, simple && string(tok) != "-0", nil
}

// number reads a JSON number and returns it as a canonical json.Number.
func (p *parser) number() (any, error) {
	tok, simple, err := p.scanNumber()
	if err != nil {
		return nil, err
	}
	if simple {
		if p.borrow {
			return json.Number(unsafe.String(unsafe.SliceData(tok), len(tok))), nil
		}
		return json.Number(tok), nil
	}
	p.num = canonicalNumber(p.num[:0], tok)
	return json.Number(p.num), nil
}

// skip validates the value at p.pos and moves past it without building
// anything.
func (p *parser) skip() error {
	end, err := jsonscan.Skip(p.data, p.pos)
	if err != nil {
		p.pos = end
		return err
	}
	p.pos = end
	return nil
}

// span is an object member (with its decoded key) or an array element:
// the bytes data[start:end] of its value.
type span struct {
	key        string
	start, end int
}

// members reads the object at p.pos into dst: decoded keys and the spans
// of their values, validated but not decoded.
func (p *parser) members(dst []span) ([]span, error) {
	if p.depth+1 > maxDepth {
		return nil, p.errorf("nested too deeply")
	}
	end, err := jsonscan.Object(p.data, p.pos, func(k []byte, vi int) (int, error) {
		end, err := jsonscan.Skip(p.data, vi)
		dst = append(dst, span{key: p.key(k), start: vi, end: end})
		return end, err
	})
	p.pos = end
	if err != nil {
		return nil, err
	}
	return dst, nil
}

// key decodes an object key as it stands between its quotes, borrowing
// the input's bytes when they need no decoding.
func (p *parser) key(k []byte) string {
	if bytes.IndexByte(k, '\\') < 0 && utf8.Valid(k) {
		if p.borrow {
			return unsafe.String(unsafe.SliceData(k), len(k))
		}
		return string(k)
	}
	var s string
	q := make([]byte, 0, len(k)+2)
	q = append(append(append(q, '"'), k...), '"')
	json.Unmarshal(q, &s) //nolint:errcheck // validated by the walk
	return s
}

// elements reads the array at p.pos into dst: the spans of its elements,
// validated but not decoded.
func (p *parser) elements(dst []span) ([]span, error) {
	if p.depth+1 > maxDepth {
		return nil, p.errorf("nested too deeply")
	}
	end, err := jsonscan.Array(p.data, p.pos, func(vi int) (int, error) {
		end, err := jsonscan.Skip(p.data, vi)
		dst = append(dst, span{start: vi, end: end})
		return end, err
	})
	p.pos = end
	if err != nil {
		return nil, err
	}
	return dst, nil
}

// canonicalNumber appends the canonical form of the valid JSON number tok:
// the shortest exact decimal, so that two numbers equal in value have the
// same form (1, 1.0, 1e0 and 10e-1 are all "1"; -0 is "0"; 1.50 is "1.5").
// The layout follows ECMAScript's Number::toString on the exact digits:
// plain notation for exponents that JavaScript prints plainly, scientific
// notation (1.5e+25, 1e-7) beyond. No precision is lost, unlike a float64
// round trip: 12345678901234567890.0 stays 12345678901234567890.
func canonicalNumber(dst, tok []byte) []byte {
	neg := tok[0] == '-'
	if neg {
		tok = tok[1:]
	}
	// Split into digits (integer and fraction run together) and exponent.
	var digits [64]byte
	ds := digits[:0]
	point := 0 // digits before the decimal point
	i := 0
	for i < len(tok) && tok[i] >= '0' && tok[i] <= '9' {
		ds = append(ds, tok[i])
		i++
	}
	point = len(ds)
	if i < len(tok) && tok[i] == '.' {
		i++
		for i < len(tok) && tok[i] >= '0' && tok[i] <= '9' {
			ds = append(ds, tok[i])
			i++
		}
	}
	exp := 0
	if i < len(tok) && (tok[i] == 'e' || tok[i] == 'E') {
		i++
		eneg := false
		if tok[i] == '+' || tok[i] == '-' {
			eneg = tok[i] == '-'
			i++
		}
		for ; i < len(tok); i++ {
			if exp < 1e9 { // beyond, the value is 0 or out of any range anyway
				exp = exp*10 + int(tok[i]-'0')
			}
		}
		if eneg {
			exp = -exp
		}
	}
	// Strip leading zeros (moving the point) and trailing zeros.
	lead := 0
	for lead < len(ds) && ds[lead] == '0' {
		lead++
	}
	ds = ds[lead:]
	point -= lead
	for len(ds) > 0 && ds[len(ds)-1] == '0' {
		ds = ds[:len(ds)-1]
	}
	if len(ds) == 0 {
		return append(dst, '0')
	}
	// The value is 0.ds × 10^k.
	k := point + exp
	n := len(ds)
	if neg {
		dst = append(dst, '-')
	}
	switch {
	case n <= k && k <= 21:
		dst = append(dst, ds...)
		for range k - n {
			dst = append(dst, '0')
		}
	case 0 < k && k <= 21:
		dst = append(dst, ds[:k]...)
		dst = append(dst, '.')
		dst = append(dst, ds[k:]...)
	case -6 < k && k <= 0:
		dst = append(dst, '0', '.')
		for range -k {
			dst = append(dst, '0')
		}
		dst = append(dst, ds...)
	default:
		dst = append(dst, ds[0])
		if n > 1 {
			dst = append(dst, '.')
			dst = append(dst, ds[1:]...)
		}
		dst = append(dst, 'e')
		if k-1 >= 0 {
			dst = append(dst, '+')
		}
		dst = strconv.AppendInt(dst, int64(k-1), 10)
	}
	return dst
}

// appendValue encodes a tree value as compact JSON with object keys sorted
// by bytes, so the same value always encodes the same way. Strings are
// written as UTF-8 with only the escapes JSON requires: a reviewer reads
// "<p>é</p>", not "\u003cp\u003e\u00e9".
func appendValue(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		if v {
			return append(b, "true"...)
		}
		return append(b, "false"...)
	case string:
		return jsonscan.AppendString(b, v)
	case json.Number:
		return append(b, v...)
	case float64:
		return strconv.AppendFloat(b, v, 'g', -1, 64)
	case []any:
		b = append(b, '[')
		for i, e := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendValue(b, e)
		}
		return append(b, ']')
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonscan.AppendString(b, k)
			b = append(b, ':')
			b = appendValue(b, v[k])
		}
		return append(b, '}')
	default:
		// The parser produces no other type; fail loudly in tests rather
		// than write a wrong report.
		panic(fmt.Sprintf("diff: unexpected value type %T", v))
	}
}
