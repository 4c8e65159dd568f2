package jsonscan

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSkipAgreesWithEncodingJSON(t *testing.T) {
	cases := []string{
		`{}`, `[]`, `{"a":1}`, `{"a":[1,2,{"b":null}],"c":"x\"y\u00e9"}`, `"\ud83d\ude00"`, `-0.5e+10`, `true`,
		`{"a":1,}`, `[1,]`, `{"a" 1}`, `{"a":01}`, `"\x"`, `"` + "\x01" + `"`, `tru`, `{"a":1`, `[`, `-`, `1.`, `1e`,
		`"\u12G4"`, "\"\xff\"", `{"a":{"b":[true,false,null]}}`, `  {"a" : 1 }  `,
	}
	for _, c := range cases {
		end, err := Skip([]byte(c), 0)
		ok := err == nil && Space([]byte(c), end) == len(c)
		if want := json.Valid([]byte(c)); ok != want {
			t.Errorf("%q: Skip ok=%v (end %d, err %v), json.Valid=%v", c, ok, end, err, want)
		}
		if err != nil && !errors.Is(err, ErrSyntax) {
			t.Errorf("%q: error %v does not wrap ErrSyntax", c, err)
		}
	}
}

func FuzzSkip(f *testing.F) {
	for _, s := range []string{`{"a":[1,{"b":"c"}]}`, `"x"`, `[1e5,-2.5]`, `{"_id":"1","_source":{}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		end, err := Skip(b, 0)
		ok := err == nil && Space(b, end) == len(b)
		if ok != json.Valid(b) {
			t.Errorf("%q: Skip ok=%v, json.Valid=%v", b, ok, json.Valid(b))
		}
	})
}

func TestMembersAndElements(t *testing.T) {
	b := []byte(`{"_id":"a\"b","n":12,"_source":{"x":[1,2]},"arr":[{"k":1},"s"]}`)
	got := map[string]string{}
	end, err := Members(b, 0, func(k, v []byte) error {
		got[string(k)] = string(v)
		return nil
	})
	if err != nil || end != len(b) {
		t.Fatalf("Members: %d %v", end, err)
	}
	if got[`_id`] != `"a\"b"` || got["_source"] != `{"x":[1,2]}` || got["n"] != "12" {
		t.Errorf("members: %v", got)
	}
	if s, ok := String([]byte(got["_id"])); !ok || s != `a"b` {
		t.Errorf("String: %q %v", s, ok)
	}
	if s, ok := Scalar([]byte(got["n"])); !ok || s != "12" {
		t.Errorf("Scalar: %q %v", s, ok)
	}
	var elems []string
	if _, err := Elements([]byte(got["arr"]), 0, func(v []byte) error { elems = append(elems, string(v)); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(elems) != 2 || elems[0] != `{"k":1}` || elems[1] != `"s"` {
		t.Errorf("elements: %q", elems)
	}
	stop := errors.New("stop")
	if _, err := Members(b, 0, func(k, v []byte) error { return stop }); err != stop {
		t.Errorf("callback error: %v", err)
	}
}

func TestTrustedWalksAgree(t *testing.T) {
	b := []byte(`{"a":"x\\\"y\\\\","b":[{"c":"\\\\"},"d\""],"e":{"f":"}"}}`)
	collect := func(walk func([]byte, int, MemberFunc) (int, error)) map[string]string {
		out := map[string]string{}
		if _, err := walk(b, 0, func(k, v []byte) error { out[string(k)] = string(v); return nil }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	a, tr := collect(Members), collect(MembersTrusted)
	if len(a) != 3 || fmt.Sprint(a) != fmt.Sprint(tr) {
		t.Errorf("Members %v, MembersTrusted %v", a, tr)
	}
	var n int
	if _, err := ElementsTrusted([]byte(a["b"]), 0, func([]byte) error { n++; return nil }); err != nil || n != 2 {
		t.Errorf("ElementsTrusted: %d elements, %v", n, err)
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "quo\"te", "back\\slash", "tab\tnl\n", "\x00\x1f", "é日本<&>", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := AppendString(nil, s)
		if !json.Valid(b) {
			t.Fatalf("AppendString(%q) = %s: not JSON", s, b)
		}
		var back string
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if want := strings.ToValidUTF8(s, "\uFFFD"); back != want && utf8.ValidString(s) {
			t.Errorf("round trip of %q gave %q", s, back)
		}
	})
}

func TestObjectAndArrayOnePass(t *testing.T) {
	b := []byte(`{"a":1,"hits":[{"_id":"x","_source":{"k":"v\"}"}},{"_id":"y"}],"z":[true]}`)
	var ids, sources []string
	end, err := Object(b, 0, func(k []byte, vi int) (int, error) {
		if string(k) != "hits" {
			return Skip(b, vi)
		}
		return Array(b, vi, func(ei int) (int, error) {
			return Object(b, ei, func(k []byte, vi int) (int, error) {
				end, err := Skip(b, vi)
				switch string(k) {
				case "_id":
					s, _ := String(b[vi:end])
					ids = append(ids, s)
				case "_source":
					sources = append(sources, string(b[vi:end]))
				}
				return end, err
			})
		})
	})
	if err != nil || end != len(b) {
		t.Fatalf("Object: %d %v", end, err)
	}
	if fmt.Sprint(ids) != "[x y]" || fmt.Sprint(sources) != `[{"k":"v\"}"}]` {
		t.Errorf("ids %v sources %v", ids, sources)
	}
	for _, bad := range []string{`{"a":1,}`, `{"hits":[{"_id":"x"},]}`, `{"a" 1}`, `[1 2]`} {
		_, err := Object([]byte(bad), 0, func(k []byte, vi int) (int, error) {
			if bad[0] == '[' {
				return Skip([]byte(bad), vi)
			}
			return Skip([]byte(bad), vi)
		})
		if err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
