package jsonscan

// The walk as it was before it was made faster, kept to check that the
// faster one decides every input the same way, with the same errors at
// the same offsets.

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

func refSyntaxErr(b []byte, i int, what string) error {
	return fmt.Errorf("%w: %s at offset %d", ErrSyntax, what, i)
}

func refSpace(b []byte, i int) int {
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

func refSkip(b []byte, i int) (int, error) { return refSkipAt(b, refSpace(b, i), 0, false) }

func refSkipAt(b []byte, i, depth int, trusted bool) (int, error) {
	if i >= len(b) {
		return i, refSyntaxErr(b, i, "unexpected end")
	}
	switch c := b[i]; {
	case c == '"':
		if trusted {
			return refSkipTrustedString(b, i)
		}
		return refSkipString(b, i)
	case c == '{':
		if depth > maxDepth {
			return i, refSyntaxErr(b, i, "too deep")
		}
		return refMembersAt(b, i, depth, trusted, nil)
	case c == '[':
		if depth > maxDepth {
			return i, refSyntaxErr(b, i, "too deep")
		}
		return refElementsAt(b, i, depth, trusted, nil)
	case c == 't':
		return refLiteral(b, i, "true")
	case c == 'f':
		return refLiteral(b, i, "false")
	case c == 'n':
		return refLiteral(b, i, "null")
	case c == '-' || c >= '0' && c <= '9':
		return refSkipNumber(b, i)
	}
	return i, refSyntaxErr(b, i, fmt.Sprintf("unexpected %q", b[i]))
}

func refLiteral(b []byte, i int, lit string) (int, error) {
	if len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit {
		return i + len(lit), nil
	}
	return i, refSyntaxErr(b, i, "bad literal")
}

func refSkipNumber(b []byte, i int) (int, error) {
	start := i
	if b[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(b) && b[i] == '0' {
		i++
	} else if digits() == 0 {
		return start, refSyntaxErr(b, start, "bad number")
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return start, refSyntaxErr(b, start, "bad number")
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return start, refSyntaxErr(b, start, "bad number")
		}
	}
	return i, nil
}

func refPlainWord(b []byte, i int) bool {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	x := binary.LittleEndian.Uint64(b[i:])
	hasZero := func(v uint64) uint64 { return (v - ones) &^ v & highs }
	lessThan0x20 := (x - ones*0x20) &^ x & highs
	return lessThan0x20|hasZero(x^(ones*'"'))|hasZero(x^(ones*'\\')) == 0
}

func refSkipString(b []byte, i int) (int, error) {
	start := i
	i++
	for i < len(b) {
		for i+8 <= len(b) && refPlainWord(b, i) {
			i += 8
		}
		if i >= len(b) {
			break
		}
		c := b[i]
		switch {
		case c == '"':
			return i + 1, nil
		case c == '\\':
			if i+1 >= len(b) {
				return start, refSyntaxErr(b, start, "unterminated string")
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) {
					return start, refSyntaxErr(b, i, "bad escape")
				}
				for _, h := range b[i+2 : i+6] {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return start, refSyntaxErr(b, i, "bad escape")
					}
				}
				i += 6
			default:
				return start, refSyntaxErr(b, i, "bad escape")
			}
		case c < 0x20:
			return start, refSyntaxErr(b, i, "control character in string")
		default:
			i++
		}
	}
	return start, refSyntaxErr(b, start, "unterminated string")
}

func refSkipTrustedString(b []byte, i int) (int, error) {
	j := i + 1
	for {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return i, refSyntaxErr(b, i, "unterminated string")
		}
		j += k
		bs := 0
		for p := j - 1; p > i && b[p] == '\\'; p-- {
			bs++
		}
		if bs%2 == 0 {
			return j + 1, nil
		}
		j++
	}
}

func refMembers(b []byte, i int, fn MemberFunc) (int, error) {
	i = refSpace(b, i)
	if i >= len(b) || b[i] != '{' {
		return i, refSyntaxErr(b, i, "not an object")
	}
	return refMembersAt(b, i, 0, false, fn)
}

func refMembersTrusted(b []byte, i int, fn MemberFunc) (int, error) {
	i = refSpace(b, i)
	if i >= len(b) || b[i] != '{' {
		return i, refSyntaxErr(b, i, "not an object")
	}
	return refMembersAt(b, i, 0, true, fn)
}

func refMembersAt(b []byte, i, depth int, trusted bool, fn MemberFunc) (int, error) {
	return refWalkObject(b, i, trusted, func(key []byte, vi int) (int, error) {
		vend, err := refSkipAt(b, vi, depth+1, trusted)
		if err != nil || fn == nil {
			return vend, err
		}
		return vend, fn(key, b[vi:vend])
	})
}

func refElements(b []byte, i int, fn func(value []byte) error) (int, error) {
	i = refSpace(b, i)
	if i >= len(b) || b[i] != '[' {
		return i, refSyntaxErr(b, i, "not an array")
	}
	return refElementsAt(b, i, 0, false, fn)
}

func refElementsTrusted(b []byte, i int, fn func(value []byte) error) (int, error) {
	i = refSpace(b, i)
	if i >= len(b) || b[i] != '[' {
		return i, refSyntaxErr(b, i, "not an array")
	}
	return refElementsAt(b, i, 0, true, fn)
}

func refElementsAt(b []byte, i, depth int, trusted bool, fn func([]byte) error) (int, error) {
	return refWalkArray(b, i, func(vi int) (int, error) {
		vend, err := refSkipAt(b, vi, depth+1, trusted)
		if err != nil || fn == nil {
			return vend, err
		}
		return vend, fn(b[vi:vend])
	})
}

func refWalkObject(b []byte, i int, trusted bool, fn func(key []byte, vi int) (int, error)) (int, error) {
	i = refSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return i, refSyntaxErr(b, i, "expected a key")
		}
		var end int
		var err error
		if trusted {
			end, err = refSkipTrustedString(b, i)
		} else {
			end, err = refSkipString(b, i)
		}
		if err != nil {
			return end, err
		}
		key := b[i+1 : end-1]
		i = refSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return i, refSyntaxErr(b, i, "expected ':'")
		}
		if i, err = fn(key, refSpace(b, i+1)); err != nil {
			return i, err
		}
		i = refSpace(b, i)
		if i >= len(b) {
			return i, refSyntaxErr(b, i, "unterminated object")
		}
		switch b[i] {
		case ',':
			i = refSpace(b, i+1)
		case '}':
			return i + 1, nil
		default:
			return i, refSyntaxErr(b, i, "expected ',' or '}'")
		}
	}
}

func refWalkArray(b []byte, i int, fn func(vi int) (int, error)) (int, error) {
	i = refSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1, nil
	}
	for {
		var err error
		if i, err = fn(i); err != nil {
			return i, err
		}
		i = refSpace(b, i)
		if i >= len(b) {
			return i, refSyntaxErr(b, i, "unterminated array")
		}
		switch b[i] {
		case ',':
			i = refSpace(b, i+1)
		case ']':
			return i + 1, nil
		default:
			return i, refSyntaxErr(b, i, "expected ',' or ']'")
		}
	}
}
