package diff

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/esrestore/esrestore/internal/jsonscan"
)

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
			d := decoder(ptrs, false)
			got, err := d.Decode([]byte(tt.doc))
			if err != nil {
				t.Fatal(err)
			}
			if s := string(jsonscan.AppendCanonical(nil, got)); s != tt.want {
				t.Errorf("got %s, want %s", s, tt.want)
			}
		})
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
