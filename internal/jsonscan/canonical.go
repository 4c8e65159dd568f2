package jsonscan

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
)

// CanonicalNumber appends the canonical form of the valid JSON number tok:
// the shortest exact decimal, so that two numbers equal in value have the
// same form (1, 1.0, 1e0 and 10e-1 are all "1"; -0 is "0"; 1.50 is "1.5").
// The layout follows ECMAScript's Number::toString on the exact digits:
// plain notation for exponents that JavaScript prints plainly, scientific
// notation (1.5e+25, 1e-7) beyond. No precision is lost, unlike a float64
// round trip: 12345678901234567890.0 stays 12345678901234567890.
func CanonicalNumber(dst, tok []byte) []byte {
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

// AppendCanonical appends the canonical JSON of a tree value (one a
// Decoder makes, or a float64): compact, object keys sorted by bytes,
// numbers as they are held, so the same value always encodes the same way. Strings are
// written as UTF-8 with only the escapes JSON requires: a reviewer reads
// "<p>é</p>", not "\u003cp\u003e\u00e9".
func AppendCanonical(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		if v {
			return append(b, "true"...)
		}
		return append(b, "false"...)
	case string:
		return AppendString(b, v)
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
			b = AppendCanonical(b, e)
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
			b = AppendString(b, k)
			b = append(b, ':')
			b = AppendCanonical(b, v[k])
		}
		return append(b, '}')
	default:
		// A Decoder makes no other type; fail loudly in tests rather than
		// write a wrong report.
		panic(fmt.Sprintf("jsonscan: unexpected value type %T", v))
	}
}
