package jsonscan

// The reference the walks are checked against: encoding/json decides
// where a value ends, whether it is valid and what its members and
// elements are; a table written by hand says which error each kind of
// malformed input gets, and where.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// refEnd is where encoding/json ends the first value of b[i:] (after
// spaces), or ok false when it finds none.
func refEnd(b []byte, i int) (end int, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(b[i:]))
	var raw json.RawMessage
	if dec.Decode(&raw) != nil {
		return 0, false
	}
	return i + int(dec.InputOffset()), true
}

// refRecord is what encoding/json sees in the valid value b, as record
// writes it for a walk of the given kind ('{' members, '[' elements):
// each member's name, decoded, and its value's bytes; then the end.
func refRecord(t *testing.T, b []byte, kind byte) string {
	t.Helper()
	i := Space(b, 0)
	if b[i] != kind {
		return fmt.Sprintf("end %d, %v: %s at offset %d", i, ErrSyntax, map[byte]string{'{': "not an object", '[': "not an array"}[kind], i)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil {
		t.Fatalf("%q: %v", b, err)
	}
	var sb strings.Builder
	for dec.More() {
		var key []byte
		if kind == '{' {
			k, err := dec.Token()
			if err != nil {
				t.Fatalf("%q: %v", b, err)
			}
			key = []byte(k.(string))
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			t.Fatalf("%q: %v", b, err)
		}
		fmt.Fprintf(&sb, "%q: %q\n", key, []byte(raw))
	}
	if _, err := dec.Token(); err != nil {
		t.Fatalf("%q: %v", b, err)
	}
	fmt.Fprintf(&sb, "end %d, <nil>", dec.InputOffset())
	return sb.String()
}

// refErrors is, for each kind of malformed input, the error the walks
// give and the index they stop at, from the start of b and, for an object,
// from Members.
var refErrors = []struct {
	in            string
	end           int
	err           string
	membersEnd    int
	membersErrMsg string // "" when Members gives err, at end
}{
	{``, 0, "unexpected end at offset 0", 0, "not an object at offset 0"},
	{` `, 1, "unexpected end at offset 1", 1, "not an object at offset 1"},
	{`@`, 0, "unexpected '@' at offset 0", 0, "not an object at offset 0"},
	{`{`, 1, "expected a key at offset 1", 1, ""},
	{`{"a"`, 4, "expected ':' at offset 4", 4, ""},
	{`{"a" 1}`, 5, "expected ':' at offset 5", 5, ""},
	{`{"a":}`, 5, "unexpected '}' at offset 5", 5, ""},
	{`{"a":1,}`, 7, "expected a key at offset 7", 7, ""},
	{`{"a":1 "b":2}`, 7, "expected ',' or '}' at offset 7", 7, ""},
	{`{"a":1`, 6, "unterminated object at offset 6", 6, ""},
	{`{1:2}`, 1, "expected a key at offset 1", 1, ""},
	{`{"a\x":1}`, 1, "bad escape at offset 3", 1, ""},
	{`[1,]`, 3, "unexpected ']' at offset 3", 0, "not an object at offset 0"},
	{`[1 2]`, 3, "expected ',' or ']' at offset 3", 0, "not an object at offset 0"},
	{`[1`, 2, "unterminated array at offset 2", 0, "not an object at offset 0"},
	{`[`, 1, "unexpected end at offset 1", 0, "not an object at offset 0"},
	{`tru`, 0, "bad literal at offset 0", 0, "not an object at offset 0"},
	{`-`, 0, "bad number at offset 0", 0, "not an object at offset 0"},
	{`1.`, 0, "bad number at offset 0", 0, "not an object at offset 0"},
	{`1e+`, 0, "bad number at offset 0", 0, "not an object at offset 0"},
	{`"abc`, 0, "unterminated string at offset 0", 0, "not an object at offset 0"},
	{`"\`, 0, "unterminated string at offset 0", 0, "not an object at offset 0"},
	{`"a\x"`, 0, "bad escape at offset 2", 0, "not an object at offset 0"},
	{`"\u12G4"`, 0, "bad escape at offset 1", 0, "not an object at offset 0"},
	{"\"a\x01\"", 0, "control character in string at offset 2", 0, "not an object at offset 0"},
}

func TestErrorsAsWritten(t *testing.T) {
	for _, tt := range refErrors {
		b := []byte(tt.in)
		want := fmt.Sprintf("%d invalid JSON: %s", tt.end, tt.err)
		if end, err := Skip(b, 0); fmt.Sprint(end, " ", err) != want {
			t.Errorf("Skip(%q) = %d %v, want %s", b, end, err, want)
		}
		if json.Valid(b) {
			t.Errorf("%q is valid JSON", b)
		}
		msg := tt.membersErrMsg
		if msg == "" {
			msg = tt.err
		}
		want = fmt.Sprintf("%d invalid JSON: %s", tt.membersEnd, msg)
		if end, err := Members(b, 0, nil); fmt.Sprint(end, " ", err) != want {
			t.Errorf("Members(%q) = %d %v, want %s", b, end, err, want)
		}
	}
}
