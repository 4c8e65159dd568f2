package diff

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/esrestore/esrestore/internal/jsonscan"
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
			got := string(canonicalNumber(nil, []byte(tt.in)))
			if got != tt.want {
				t.Errorf("canonicalNumber(%s) = %s, want %s", tt.in, got, tt.want)
			}
			// The canonical form is the same value.
			a, ok1 := new(big.Rat).SetString(tt.in)
			b, ok2 := new(big.Rat).SetString(got)
			if !ok1 || !ok2 || a.Cmp(b) != 0 {
				t.Errorf("canonicalNumber(%s) = %s: value changed", tt.in, got)
			}
		})
	}
}

func TestParserMatchesEncodingJSON(t *testing.T) {
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
			var p parser
			got, err := p.parse([]byte(doc))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			dec := json.NewDecoder(strings.NewReader(doc))
			dec.UseNumber()
			var want any
			if err := dec.Decode(&want); err != nil {
				t.Fatal(err)
			}
			if !semanticEqual(got, want) {
				t.Errorf("got %#v, want %#v", got, want)
			}
		})
	}
}

func TestParserRejectsInvalidJSON(t *testing.T) {
	for _, doc := range []string{
		``, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `[1,]`, `{"a":01}`, `{"a":1.}`, `{"a":1e}`, `{"a":-}`,
		`{"a":tru}`, `{"a":"x}`, "{\"a\":\"\x01\"}", `{"a":"\x"}`, `{"a":"\u12"}`, `{} {}`, `{a:1}`,
		strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1),
	} {
		t.Run(doc, func(t *testing.T) {
			var p parser
			_, err := p.parse([]byte(doc))
			if !errors.Is(err, errSyntax) {
				t.Errorf("parse(%q): got error %v, want errSyntax", doc, err)
			}
			if json.Valid([]byte(doc)) {
				t.Errorf("test input %q is valid JSON", doc)
			}
		})
	}
}

func TestParserIgnore(t *testing.T) {
	tests := []struct {
		name   string
		ignore []string
		doc    string
		want   string
	}{
		{"member", []string{"/modified"}, `{"id":1,"modified":"x"}`, `{"id":1}`},
		{"nested", []string{"/a/b"}, `{"a":{"b":1,"c":2},"b":3}`, `{"a":{"c":2},"b":3}`},
		{"wildcard member of elements", []string{"/tags/*/id"}, `{"tags":[{"id":1,"n":"a"},{"id":2,"n":"b"}]}`, `{"tags":[{"n":"a"},{"n":"b"}]}`},
		{"wildcard member of object", []string{"/m/*/x"}, `{"m":{"p":{"x":1,"y":2},"q":{"x":3}}}`, `{"m":{"p":{"y":2},"q":{}}}`},
		{"array index", []string{"/a/1"}, `{"a":[0,1,2]}`, `{"a":[0,2]}`},
		{"index does not match a member named 01", []string{"/a/01"}, `{"a":[0,1,2]}`, `{"a":[0,1,2]}`},
		{"numeric member name", []string{"/a/1"}, `{"a":{"1":true,"2":false}}`, `{"a":{"2":false}}`},
		{"escaped names", []string{"/a~1b/c~0d"}, `{"a/b":{"c~d":1,"e":2}}`, `{"a/b":{"e":2}}`},
		{"whole array", []string{"/tags"}, `{"tags":[1,2],"x":1}`, `{"x":1}`},
		{"all elements", []string{"/tags/*"}, `{"tags":[1,2]}`, `{"tags":[]}`},
		{"two patterns", []string{"/a", "/b/*/c"}, `{"a":1,"b":[{"c":1,"d":2}]}`, `{"b":[{"d":2}]}`},
		{"no match", []string{"/zz"}, `{"a":1}`, `{"a":1}`},
		{"key with escape", []string{"/é"}, `{"\u00e9":1,"e":2}`, `{"e":2}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ptrs, err := ParsePointers(tt.ignore)
			if err != nil {
				t.Fatal(err)
			}
			p := parser{ign: ptrs}
			got, err := p.parse([]byte(tt.doc))
			if err != nil {
				t.Fatal(err)
			}
			if s := string(appendValue(nil, got)); s != tt.want {
				t.Errorf("got %s, want %s", s, tt.want)
			}
		})
	}
}

func TestAppendValue(t *testing.T) {
	var p parser
	v, err := p.parse([]byte(`{"z":1,"a":{"y":[true,null,"<p>é</p>\n\u0001"],"b":1.50},"é":"\"\\"}`))
	if err != nil {
		t.Fatal(err)
	}
	got := string(appendValue(nil, v))
	want := `{"a":{"b":1.5,"y":[true,null,"<p>é</p>\n\u0001"]},"z":1,"é":"\"\\"}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if !json.Valid([]byte(got)) {
		t.Errorf("not valid JSON: %s", got)
	}
	if got := string(jsonscan.AppendString(nil, "a\xffb")); got != `"a\ufffdb"` {
		t.Errorf("invalid UTF-8: got %s", got)
	}
}

func TestParsePointer(t *testing.T) {
	tests := []struct {
		in      string
		segs    []string
		wantErr string
	}{
		{in: "/modified", segs: []string{"modified"}},
		{in: "/tags/*/id", segs: []string{"tags", "*", "id"}},
		{in: "/a~1b/c~0d", segs: []string{"a/b", "c~d"}},
		{in: "/", segs: []string{""}},
		{in: "modified", wantErr: `bad JSON Pointer "modified": must start with "/"`},
		{in: "", wantErr: `bad JSON Pointer "": must start with "/"`},
		{in: "/a~2", wantErr: `bad JSON Pointer "/a~2": "~" must be followed by 0 or 1`},
		{in: "/a~", wantErr: `bad JSON Pointer "/a~": "~" must be followed by 0 or 1`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			p, err := ParsePointer(tt.in)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr || !errors.Is(err, ErrBadPointer) {
					t.Fatalf("got error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(p.segs, "|") != strings.Join(tt.segs, "|") || p.String() != tt.in {
				t.Errorf("got %q (%q), want %q", p.segs, p.String(), tt.segs)
			}
		})
	}
	if _, err := ParsePointers([]string{"a", "/ok", "b"}); err == nil || !strings.Contains(err.Error(), `"a"`) || !strings.Contains(err.Error(), `"b"`) {
		t.Errorf("ParsePointers: got %v, want both bad patterns named", err)
	}
}

// decodeJSON decodes with encoding/json, numbers as json.Number.
func decodeJSON(t testing.TB, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}
