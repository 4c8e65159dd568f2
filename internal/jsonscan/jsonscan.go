// Package jsonscan is esrestore's one JSON walker. It walks JSON text
// without decoding it: it finds the members of objects and the elements of
// arrays as slices of the input, validating what it passes over. Readers
// of large answers (dump lines, search pages) use it to pick a few fields
// and keep the rest, such as a document's _source, as the bytes they
// arrived as.
//
// On the same walk a Decoder decodes what must be compared into the tree
// encoding/json would make, numbers in a canonical form (CanonicalNumber)
// and ignored paths left out, and AppendCanonical writes such a tree back
// as canonical JSON. One string check and unescaper and one number check
// serve them all.
package jsonscan

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"unicode/utf8"
)

// ErrSyntax is wrapped by every error about malformed JSON.
var ErrSyntax = errors.New("invalid JSON")

// maxDepth bounds nesting, as encoding/json does.
const maxDepth = 10000

func syntaxErr(b []byte, i int, what string) error {
	return fmt.Errorf("%w: %s at offset %d", ErrSyntax, what, i)
}

// Space returns the index of the first non-space byte at or after i.
func Space(b []byte, i int) int {
	// Small enough to inline: most values follow their ',' or ':'
	// without a space between.
	if i < len(b) && b[i] > ' ' {
		return i
	}
	return space(b, i)
}

func space(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// Skip validates the value starting at b[i] (after spaces) and returns the
// index just past it.
func Skip(b []byte, i int) (int, error) { return skip(b, Space(b, i), 0, false) }

// skip passes over one value; trusted values were validated before, so
// their strings are only searched for their closing quote.
func skip(b []byte, i, depth int, trusted bool) (int, error) {
	if i >= len(b) {
		return i, syntaxErr(b, i, "unexpected end")
	}
	switch b[i] {
	case '"':
		if trusted {
			return skipTrustedString(b, i)
		}
		return skipString(b, i)
	case '{':
		if depth > maxDepth {
			return i, syntaxErr(b, i, "too deep")
		}
		return skipObject(b, i, depth, trusted)
	case '[':
		if depth > maxDepth {
			return i, syntaxErr(b, i, "too deep")
		}
		return skipArray(b, i, depth, trusted)
	case 't':
		return literal(b, i, "true")
	case 'f':
		return literal(b, i, "false")
	case 'n':
		return literal(b, i, "null")
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return skipNumber(b, i)
	}
	return i, syntaxErr(b, i, fmt.Sprintf("unexpected %q", b[i]))
}

// skipObject is walkObject with skip in place of a callback: nested
// values, the bulk of a document, are passed over without a call through
// a closure for each member.
func skipObject(b []byte, i, depth int, trusted bool) (int, error) {
	i = Space(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return i, syntaxErr(b, i, "expected a key")
		}
		var err error
		if trusted {
			i, err = skipTrustedString(b, i)
		} else {
			i, err = skipString(b, i)
		}
		if err != nil {
			return i, err
		}
		i = Space(b, i)
		if i >= len(b) || b[i] != ':' {
			return i, syntaxErr(b, i, "expected ':'")
		}
		if i, err = skip(b, Space(b, i+1), depth+1, trusted); err != nil {
			return i, err
		}
		i = Space(b, i)
		if i >= len(b) {
			return i, syntaxErr(b, i, "unterminated object")
		}
		switch b[i] {
		case ',':
			i = Space(b, i+1)
		case '}':
			return i + 1, nil
		default:
			return i, syntaxErr(b, i, "expected ',' or '}'")
		}
	}
}

// skipArray is walkArray with skip in place of a callback.
func skipArray(b []byte, i, depth int, trusted bool) (int, error) {
	i = Space(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1, nil
	}
	for {
		var err error
		if i, err = skip(b, i, depth+1, trusted); err != nil {
			return i, err
		}
		i = Space(b, i)
		if i >= len(b) {
			return i, syntaxErr(b, i, "unterminated array")
		}
		switch b[i] {
		case ',':
			i = Space(b, i+1)
		case ']':
			return i + 1, nil
		default:
			return i, syntaxErr(b, i, "expected ',' or ']'")
		}
	}
}

func literal(b []byte, i int, lit string) (int, error) {
	if len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit {
		return i + len(lit), nil
	}
	return i, syntaxErr(b, i, "bad literal")
}

func skipNumber(b []byte, i int) (int, error) {
	end, _, err := number(b, i)
	return end, err
}

// number is the one number check: it validates the number at b[i] (a '-'
// or a digit) and returns the index just past it, and whether it is an
// integer (no fraction, no exponent).
func number(b []byte, i int) (end int, integer bool, err error) {
	start := i
	if b[i] == '-' {
		i++
	}
	if i < len(b) && b[i] == '0' {
		i++
	} else if j := digits(b, i); j > i {
		i = j
	} else {
		return start, false, syntaxErr(b, start, "bad number")
	}
	integer = true
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return start, false, syntaxErr(b, start, "bad number")
		}
		i, integer = j, false
	}
	if i < len(b) && b[i]|0x20 == 'e' { // 'e' or 'E'
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return start, false, syntaxErr(b, start, "bad number")
		}
		i, integer = j, false
	}
	return i, integer, nil
}

// digits returns the index of the first byte at or after i that is not a
// decimal digit.
func digits(b []byte, i int) int {
	for i < len(b) && b[i]-'0' < 10 {
		i++
	}
	return i
}

// Word-at-a-time helpers. Each marks, in the high bit of a byte of the
// result, the bytes of x that match; a borrow can also mark bytes above a
// match, so only the lowest mark is exact, and the callers use only that
// one (bytes are loaded little-endian: the lowest is the first).
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// stringSpecials marks the bytes that stop a plain run in a string: a
// quote, a backslash, or a control character. x^0x02 turns a quote into
// 0x20 and keeps the control characters below 0x20, so one less-than test
// covers both. The xors leave each byte's high bit as it was in x, so one
// &^ x drops the bytes from 0x80 up for both tests.
func stringSpecials(x uint64) uint64 {
	q := x ^ (ones * 0x02) // a quote becomes 0x20
	s := x ^ (ones * '\\') // a backslash becomes 0
	return ((q - ones*0x21) | (s - ones)) &^ x & highs
}

// quoteOrBackslash marks the quotes and backslashes in x, as
// stringSpecials does.
func quoteOrBackslash(x uint64) uint64 {
	q := x ^ (ones * '"')
	s := x ^ (ones * '\\')
	return ((q - ones) | (s - ones)) &^ x & highs
}

func skipString(b []byte, i int) (int, error) {
	start := i
	i++
	for {
		// Jump to the first special byte, 8 bytes at a time, then byte by
		// byte in the input's last few (i >= 0 lets the compiler drop the
		// bounds checks).
		if i >= 0 && i <= len(b)-8 {
			m := stringSpecials(binary.LittleEndian.Uint64(b[i:]))
			if m == 0 {
				i += 8
				continue
			}
			i += bits.TrailingZeros64(m) >> 3
		} else {
			for i < len(b) && b[i] >= 0x20 && b[i] != '"' && b[i] != '\\' {
				i++
			}
			if i >= len(b) {
				return start, syntaxErr(b, start, "unterminated string")
			}
		}
		// Invalid UTF-8 passes, as with encoding/json; Elasticsearch
		// judges the bytes it is sent.
		switch b[i] {
		case '"':
			return i + 1, nil
		case '\\':
			if i+1 >= len(b) {
				return start, syntaxErr(b, start, "unterminated string")
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) || !isHex(b[i+5]) {
					return start, syntaxErr(b, i, "bad escape")
				}
				i += 6
			default:
				return start, syntaxErr(b, i, "bad escape")
			}
		default:
			return start, syntaxErr(b, i, "control character in string")
		}
	}
}

func isHex(c byte) bool {
	return c-'0' < 10 || (c|0x20)-'a' < 6
}

// skipTrustedString passes over a string known to be valid: the next
// quote not escaped ends it.
func skipTrustedString(b []byte, i int) (int, error) {
	j := i + 1
	for {
		if j >= 0 && j <= len(b)-8 {
			m := quoteOrBackslash(binary.LittleEndian.Uint64(b[j:]))
			if m == 0 {
				j += 8
				continue
			}
			j += bits.TrailingZeros64(m) >> 3
		} else {
			for j < len(b) && b[j] != '"' && b[j] != '\\' {
				j++
			}
			if j >= len(b) {
				return i, syntaxErr(b, i, "unterminated string")
			}
		}
		if b[j] == '"' {
			return j + 1, nil
		}
		// A backslash: what follows it cannot end the string (the hex
		// digits of a \u escape are neither quotes nor backslashes).
		j += 2
	}
}

// MemberFunc receives a member of an object: its key as it appears between
// the quotes (escapes left as they are) and its value's bytes.
type MemberFunc func(key, value []byte) error

// Members walks the object at b[i] (after spaces), calling fn for each
// member, and returns the index just past the object.
func Members(b []byte, i int, fn MemberFunc) (int, error) {
	i = Space(b, i)
	if i >= len(b) || b[i] != '{' {
		return i, syntaxErr(b, i, "not an object")
	}
	return members(b, i, 0, false, fn)
}

// MembersTrusted is Members for a value a validating walk already passed
// over (a value handed to a MemberFunc or an Elements callback): it does
// not check the JSON again, so nested walks cost little.
func MembersTrusted(b []byte, i int, fn MemberFunc) (int, error) {
	i = Space(b, i)
	if i >= len(b) || b[i] != '{' {
		return i, syntaxErr(b, i, "not an object")
	}
	return members(b, i, 0, true, fn)
}

func members(b []byte, i, depth int, trusted bool, fn MemberFunc) (int, error) {
	return walkObject(b, i, trusted, func(key []byte, vi int) (int, error) {
		vend, err := skip(b, vi, depth+1, trusted)
		if err != nil || fn == nil {
			return vend, err
		}
		return vend, fn(key, b[vi:vend])
	})
}

// Elements walks the array at b[i] (after spaces), calling fn for each
// element, and returns the index just past the array.
func Elements(b []byte, i int, fn func(value []byte) error) (int, error) {
	i = Space(b, i)
	if i >= len(b) || b[i] != '[' {
		return i, syntaxErr(b, i, "not an array")
	}
	return elements(b, i, 0, false, fn)
}

// ElementsTrusted is Elements for a value already validated; see
// MembersTrusted.
func ElementsTrusted(b []byte, i int, fn func(value []byte) error) (int, error) {
	i = Space(b, i)
	if i >= len(b) || b[i] != '[' {
		return i, syntaxErr(b, i, "not an array")
	}
	return elements(b, i, 0, true, fn)
}

func elements(b []byte, i, depth int, trusted bool, fn func([]byte) error) (int, error) {
	return walkArray(b, i, func(vi int) (int, error) {
		vend, err := skip(b, vi, depth+1, trusted)
		if err != nil || fn == nil {
			return vend, err
		}
		return vend, fn(b[vi:vend])
	})
}

// String returns the text of a JSON string value, or ok false when v is
// not a string.
func String(v []byte) (string, bool) {
	if len(v) < 2 || v[0] != '"' {
		return "", false
	}
	inner := v[1 : len(v)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner), true
	}
	end, err := skipString(v, 0)
	if err != nil || Space(v, end) != len(v) {
		return "", false
	}
	return string(unquote(nil, v[1:end-1])), true
}

// Scalar returns a string's text or a number's digits, as ids and routing
// values may be either.
func Scalar(v []byte) (string, bool) {
	if s, ok := String(v); ok {
		return s, true
	}
	if len(v) > 0 && (v[0] == '-' || v[0] >= '0' && v[0] <= '9') {
		if _, err := strconv.ParseFloat(string(v), 64); err == nil {
			return string(v), true
		}
	}
	return "", false
}

// Int reads a JSON integer.
func Int(v []byte) (int64, bool) {
	n, err := strconv.ParseInt(string(v), 10, 64)
	return n, err == nil
}

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string, escaped as encoding/json
// escapes it but for HTML characters, which stay as they are; invalid
// UTF-8 becomes U+FFFD.
func AppendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				b = append(b, s[start:i]...)
				b = append(b, `\ufffd`...)
				i++
				start = i
				continue
			}
			i += n
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// Object walks the object at b[i] (after spaces) in one pass: for each
// member, fn gets the key (as between the quotes) and the index where its
// value starts, and returns the index just past the value, having read it
// (with Skip, Object, Array or its own reading). It returns the index just
// past the object.
func Object(b []byte, i int, fn func(key []byte, vi int) (int, error)) (int, error) {
	i = Space(b, i)
	if i >= len(b) || b[i] != '{' {
		return i, syntaxErr(b, i, "not an object")
	}
	return walkObject(b, i, false, fn)
}

// Array walks the array at b[i] (after spaces) in one pass: fn gets the
// index where each element starts and returns the index just past it.
func Array(b []byte, i int, fn func(vi int) (int, error)) (int, error) {
	i = Space(b, i)
	if i >= len(b) || b[i] != '[' {
		return i, syntaxErr(b, i, "not an array")
	}
	return walkArray(b, i, fn)
}

// walkObject is the one object loop: b[i] is '{'; fn reads each value.
func walkObject(b []byte, i int, trusted bool, fn func(key []byte, vi int) (int, error)) (int, error) {
	i = Space(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return i, syntaxErr(b, i, "expected a key")
		}
		var end int
		var err error
		if trusted {
			end, err = skipTrustedString(b, i)
		} else {
			end, err = skipString(b, i)
		}
		if err != nil {
			return end, err
		}
		key := b[i+1 : end-1]
		i = Space(b, end)
		if i >= len(b) || b[i] != ':' {
			return i, syntaxErr(b, i, "expected ':'")
		}
		if i, err = fn(key, Space(b, i+1)); err != nil {
			return i, err
		}
		i = Space(b, i)
		if i >= len(b) {
			return i, syntaxErr(b, i, "unterminated object")
		}
		switch b[i] {
		case ',':
			i = Space(b, i+1)
		case '}':
			return i + 1, nil
		default:
			return i, syntaxErr(b, i, "expected ',' or '}'")
		}
	}
}

// walkArray is the one array loop: b[i] is '['; fn reads each element.
func walkArray(b []byte, i int, fn func(vi int) (int, error)) (int, error) {
	i = Space(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1, nil
	}
	for {
		var err error
		if i, err = fn(i); err != nil {
			return i, err
		}
		i = Space(b, i)
		if i >= len(b) {
			return i, syntaxErr(b, i, "unterminated array")
		}
		switch b[i] {
		case ',':
			i = Space(b, i+1)
		case ']':
			return i + 1, nil
		default:
			return i, syntaxErr(b, i, "expected ',' or ']'")
		}
	}
}
