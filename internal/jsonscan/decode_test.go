package jsonscan

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/big"
	"regexp"
	"strings"
	"testing"

	"github.com/esrestore/esrestore/internal/jsonpatch"
)

func TestCanonicalNumber(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"0", "0"},
		{"-0", "0"},
		{"-0.0e5", "0"},
		{"1", "1"},
		{"1.0", "1"},
		{"1.00", "1"},
		{"1e0", "1"},
		{"10e-1", "1"},
		{"0.1e1", "1"},
		{"100", "100"},
		{"1e2", "100"},
		{"1E+2", "100"},
		{"1.50", "1.5"},
		{"-1.50", "-1.5"},
		{"0.000001", "0.000001"},
		{"0.0000001", "1e-7"},
		{"1e-7", "1e-7"},
		{"123456789012345678901", "123456789012345678901"},
		{"1e21", "1e+21"},
		{"1.5e25", "1.5e+25"},
		{"12345678901234567890.0", "12345678901234567890"},
		{"9007199254740993", "9007199254740993"},
		{"0.30000000000000004", "0.30000000000000004"},
		{"-12.340e-3", "-0.01234"},
		{"007", "7"}, // not valid JSON, but the digits are still read right
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got := string(CanonicalNumber(nil, []byte(tt.in)))
			if got != tt.want {
				t.Errorf("CanonicalNumber(%s) = %s, want %s", tt.in, got, tt.want)
			}
			// The canonical form is the same value.
			a, ok1 := new(big.Rat).SetString(tt.in)
			b, ok2 := new(big.Rat).SetString(got)
			if !ok1 || !ok2 || a.Cmp(b) != 0 {
				t.Errorf("CanonicalNumber(%s) = %s: value changed", tt.in, got)
			}
		})
	}
}

func TestDecodeMatchesEncodingJSON(t *testing.T) {
	docs := []string{
		`{}`,
		`{"a":1,"b":[1,2,{"c":null}],"d":true,"e":false,"f":"x"}`,
		` { "a" : [ ] , "b" : { } } `,
		`{"s":"\u00e9\n\t\"\\\/ \ud83d\ude00 <&>"}`,
		`{"bad surrogate":"\ud800x","lone low":"\udc00"}`,
		"{\"raw\":\"caf\xc3\xa9 \xff\"}",
		`{"dup":1,"dup":2}`,
		`{"n":[0,-0,1.5,-2e3,1E-2,12345678901234567890]}`,
	}
	for _, doc := range docs {
		t.Run(doc, func(t *testing.T) {
			var d Decoder
			got, err := d.Decode([]byte(doc))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			dec := json.NewDecoder(strings.NewReader(doc))
			dec.UseNumber()
			var want any
			if err := dec.Decode(&want); err != nil {
				t.Fatal(err)
			}
			if !jsonpatch.Equal(got, want) {
				t.Errorf("got %#v, want %#v", got, want)
			}
		})
	}
}

func TestDecodeRejectsInvalidJSON(t *testing.T) {
	for _, doc := range []string{
		``, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `[1,]`, `{"a":01}`, `{"a":1.}`, `{"a":1e}`, `{"a":-}`,
		`{"a":tru}`, `{"a":"x}`, "{\"a\":\"\x01\"}", `{"a":"\x"}`, `{"a":"\u12"}`, `{} {}`, `{a:1}`,
		strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1),
	} {
		t.Run(doc, func(t *testing.T) {
			var d Decoder
			_, err := d.Decode([]byte(doc))
			if !errors.Is(err, ErrSyntax) {
				t.Errorf("Decode(%q): got error %v, want ErrSyntax", doc, err)
			}
			if json.Valid([]byte(doc)) {
				t.Errorf("test input %q is valid JSON", doc)
			}
		})
	}
}

func TestAppendCanonical(t *testing.T) {
	var d Decoder
	v, err := d.Decode([]byte(`{"z":1,"a":{"y":[true,null,"<p>é</p>\n\u0001"],"b":1.50},"é":"\"\\"}`))
	if err != nil {
		t.Fatal(err)
	}
	got := string(AppendCanonical(nil, v))
	want := `{"a":{"b":1.5,"y":[true,null,"<p>é</p>\n\u0001"]},"z":1,"é":"\"\\"}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if !json.Valid([]byte(got)) {
		t.Errorf("not valid JSON: %s", got)
	}
	if got := string(AppendString(nil, "a\xffb")); got != `"a\ufffdb"` {
		t.Errorf("invalid UTF-8: got %s", got)
	}
}

// hugeExponent matches exponents jsonpatch.Equal's big.Rat arithmetic
// would take too long over.
var hugeExponent = regexp.MustCompile(`[eE][+-]?0*[0-9]{4,}`)

// FuzzDecode checks Decode and String against encoding/json: the same
// inputs are accepted, they decode to the same tree (numbers compared by
// value), and every string, escaped or not, to the same text.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"a":[1,-0.5e3,{"b":null}],"c":"x\"y\u00e9\/"}`, `"\ud83d\ude00 \ud800x \udc00 \ud800\u0041"`,
		"\"caf\xc3\xa9 \xff\\n\xc3\"", `[true,false,"\b\f\n\r\t"]`, `{"\u00e9":1,"\u00e9":2}`, `12345678901234567890.0`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var d Decoder
		got, err := d.Decode(b)
		if (err == nil) != json.Valid(b) {
			t.Fatalf("%q: Decode error %v, json.Valid %v", b, err, json.Valid(b))
		}
		if err != nil || hugeExponent.Match(b) {
			return
		}
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.UseNumber()
		var want any
		if err := dec.Decode(&want); err != nil {
			t.Fatal(err)
		}
		if !jsonpatch.Equal(got, want) {
			t.Fatalf("%q: Decode = %#v, encoding/json %#v", b, got, want)
		}
		if s, ok := String(b); ok {
			var w string
			if json.Unmarshal(b, &w) == nil && bytes.IndexByte(b, '\\') >= 0 && s != w {
				t.Fatalf("%q: String = %q, encoding/json %q", b, s, w)
			}
		}
	})
}
