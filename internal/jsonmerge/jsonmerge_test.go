package jsonmerge

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestFill(t *testing.T) {
	tests := []struct {
		name, live, backup string
		opt                Options
		want               string
		filled             bool
	}{
		{name: "nothing lacking", live: `{"a":1,"b":{"c":2}}`, backup: `{"a":9,"b":{"c":8}}`, want: `{"a":1,"b":{"c":2}}`},
		{name: "stripped top-level field", live: `{"a":1}`, backup: `{"a":0,"tags":[{"id":"x"}]}`,
			want: `{"a":1,"tags":[{"id":"x"}]}`, filled: true},
		{name: "nested object merged", live: `{"language":{"name":"English"}}`, backup: `{"language":{"name":"old","locale":"en-us"}}`,
			want: `{"language":{"name":"English","locale":"en-us"}}`, filled: true},
		{name: "arrays taken whole", live: `{"tags":[{"id":"a"}]}`, backup: `{"tags":[{"id":"a","name":"A"},{"id":"b"}]}`,
			want: `{"tags":[{"id":"a"}]}`},
		{name: "object facing scalar stays", live: `{"x":{"y":1}}`, backup: `{"x":"flat","z":2}`,
			want: `{"x":{"y":1},"z":2}`, filled: true},
		{name: "scalar facing object stays", live: `{"x":"flat"}`, backup: `{"x":{"y":1}}`, want: `{"x":"flat"}`},
		{name: "null is a value by default", live: `{"excerpt":null}`, backup: `{"excerpt":"text"}`, want: `{"excerpt":null}`},
		{name: "null is missing when asked", live: `{"excerpt":null}`, backup: `{"excerpt":"text"}`, opt: Options{NullIsMissing: true},
			want: `{"excerpt":"text"}`, filled: true},
		{name: "null in backup never fills a null", live: `{"e":null}`, backup: `{"e":null}`, opt: Options{NullIsMissing: true},
			want: `{"e":null}`},
		{name: "escaped keys match", live: `{"a\u0062":1}`, backup: `{"ab":2,"c":3}`, want: `{"a\u0062":1,"c":3}`, filled: true},
		{name: "live edits kept, deep fill", live: `{"title":"new","content":{"html":"<p>"}}`,
			backup: `{"title":"old","content":{"html":"<b>","rawText":"t"},"excerpt":"e"}`,
			want:   `{"title":"new","content":{"html":"<p>","rawText":"t"},"excerpt":"e"}`, filled: true},
		{name: "spaces", live: ` { "a" : 1 } `, backup: `{"b": [1, 2]}`, want: `{"a":1,"b":[1, 2]}`, filled: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, filled, err := Fill([]byte(tt.live), []byte(tt.backup), tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			if filled != tt.filled {
				t.Errorf("filled = %v, want %v", filled, tt.filled)
			}
			if !filled && string(got) != tt.live {
				t.Errorf("unfilled result %s is not the live bytes %s", got, tt.live)
			}
			if !jsonEqual(t, got, []byte(tt.want)) {
				t.Errorf("got %s, want %s", got, tt.want)
			}
			if !json.Valid(got) {
				t.Errorf("result is not valid JSON: %s", got)
			}
		})
	}
}

// TestFillIdempotent: a resumed run fills a document already filled; the
// result must be the same document, reported as nothing to add.
func TestFillIdempotent(t *testing.T) {
	live := []byte(`{"title":"new","content":{"html":"<p>"}}`)
	backup := []byte(`{"title":"old","content":{"html":"<b>","rawText":"t"},"excerpt":"e"}`)
	once, _, err := Fill(live, backup, Options{})
	if err != nil {
		t.Fatal(err)
	}
	twice, _, err := Fill(live, once, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !jsonEqual(t, once, twice) {
		t.Errorf("fill of a filled document changed it: %s then %s", once, twice)
	}
	again, filled2, err := Fill(once, backup, Options{})
	if err != nil || filled2 || string(again) != string(once) {
		t.Errorf("filling the result again = %s, %v, %v; want it unchanged", again, filled2, err)
	}
}

func TestFillErrors(t *testing.T) {
	for _, c := range [][2]string{{`[1]`, `{}`}, {`{}`, `"x"`}, {`{"a":`, `{}`}, {`{}`, `{"a":}`}, {``, `{}`}} {
		if _, _, err := Fill([]byte(c[0]), []byte(c[1]), Options{}); err == nil {
			t.Errorf("Fill(%q, %q): no error", c[0], c[1])
		}
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return reflect.DeepEqual(x, y)
}
