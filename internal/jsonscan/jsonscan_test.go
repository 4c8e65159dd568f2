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
	for _, s := range []string{
		`{"a":[1,{"b":"c"}]}`, `"x"`, `[1e5,-2.5]`, `{"_id":"1","_source":{}}`,
		`{"k\"ey":"caf\u00e9 \\ \/ \ud83d\ude00","n":[0,-0.5E+3,true,false,null],"e":{}}`,
		`["0123456789abcdef\"","0123456\\","01234567\u00e9x"]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		end, err := Skip(b, 0)
		ok := err == nil && Space(b, end) == len(b)
		if ok != json.Valid(b) {
			t.Errorf("%q: Skip ok=%v, json.Valid=%v", b, ok, json.Valid(b))
		}
		sameAsReference(t, b, len(b) <= 64) // every offset costs len(b) walks
		if ok {
			trustedAgrees(t, b)
		}
	})
}

func TestSameAsReference(t *testing.T) {
	cases := []string{
		``, ` `, `{`, `}`, `[`, `]`, `{]`, `[}`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{,}`, `[,]`, `[1,,2]`, `{"a":1 "b":2}`,
		`{1:2}`, `{"a":1}}`, `[[]]]`, `[1 2]`, `{"a":[1,{"b":}]}`, `{"a" :  [ 1 , 2 ] , "b" : { } }`, "{\t\"a\"\r\n:\n1}",
		`nul`, `nulll`, `truex`, `fals`, `-`, `--1`, `-01`, `01`, `1.`, `1.e5`, `.5`, `1e`, `1e+`, `1E-5`, `-0.0e0`,
		`0x10`, `1.5.5`, `123456789012345678901234567890`, `{"a":-}`, `[-1,-]`, `"\u00"`, `{"\u00e9":1}`,
		`{"a\"b":1}`, `{"a\\":"\\"}`, `{"a":"\\\""}`, "{\"a\x01\":1}", `@`, `[@]`, `{"a":@}`,
	}
	for _, c := range cases {
		sameAsReference(t, []byte(c), true)
	}
	// encoding/json takes maxDepth levels; the walks take one more, and
	// fail past that.
	for _, open := range []string{"[", `{"a":`} {
		close := map[string]string{"[": "]", `{"a":`: "}"}[open]
		nested := func(depth int) []byte {
			return []byte(strings.Repeat(open, depth) + "1" + strings.Repeat(close, depth))
		}
		sameAsReference(t, nested(maxDepth), false)
		b := nested(maxDepth + 1)
		if end, err := Skip(b, 0); err != nil || end != len(b) {
			t.Errorf("%d levels of %s: Skip = %d %v, want %d", maxDepth+1, open, end, err, len(b))
		}
		b = nested(maxDepth + 2)
		wantAt := (maxDepth + 1) * len(open)
		if end, err := Skip(b, 0); err == nil || err.Error() != fmt.Sprintf("invalid JSON: too deep at offset %d", wantAt) {
			t.Errorf("%d levels of %s: Skip = %d %v, want too deep at offset %d", maxDepth+2, open, end, err, wantAt)
		}
	}
}

// sameAsReference checks the walks against encoding/json (see
// reference_test.go): the validating and trusted skips end a value where
// encoding/json ends it, the validating one fails where encoding/json
// finds no value, and on a valid object or array the walks see the
// members and elements encoding/json sees; with everyOffset, for a value
// starting at each byte of b.
func sameAsReference(t *testing.T, b []byte, everyOffset bool) {
	t.Helper()
	offsets := 0
	if everyOffset {
		offsets = len(b)
	}
	for i := 0; i <= offsets; i++ {
		want, ok := refEnd(b, i)
		end, err := skip(b, Space(b, i), 0, false)
		if ok != (err == nil) || ok && end != want {
			t.Fatalf("%q: skip from %d = %d %v; encoding/json: end %d, ok %v", b, i, end, err, want, ok)
		}
		if err != nil && !errors.Is(err, ErrSyntax) {
			t.Fatalf("%q: skip from %d: error %v does not wrap ErrSyntax", b, i, err)
		}
		if ok {
			if end, err := skip(b, Space(b, i), 0, true); err != nil || end != want {
				t.Fatalf("%q: trusted skip from %d = %d %v, want %d", b, i, end, err, want)
			}
		}
	}
	if !json.Valid(b) {
		return
	}
	walks := []struct {
		name string
		kind byte
		walk func([]byte, int, MemberFunc) (int, error)
	}{
		{"Members", '{', Members},
		{"MembersTrusted", '{', MembersTrusted},
		{"Elements", '[', asMembers(Elements)},
		{"ElementsTrusted", '[', asMembers(ElementsTrusted)},
	}
	for _, w := range walks {
		if got, want := record(b, w.walk), refRecord(t, b, w.kind); got != want {
			t.Fatalf("%q: %s:\n%s\nwant\n%s", b, w.name, got, want)
		}
	}
}

// trustedAgrees checks that on valid JSON the trusted walks see what the
// validating ones see.
func trustedAgrees(t *testing.T, b []byte) {
	t.Helper()
	if got, want := record(b, MembersTrusted), record(b, Members); got != want {
		t.Errorf("%q: MembersTrusted:\n%s\nMembers:\n%s", b, got, want)
	}
	if got, want := record(b, asMembers(ElementsTrusted)), record(b, asMembers(Elements)); got != want {
		t.Errorf("%q: ElementsTrusted:\n%s\nElements:\n%s", b, got, want)
	}
}

// asMembers lets an element walk be recorded as a member walk, with empty
// keys.
func asMembers(walk func([]byte, int, func([]byte) error) (int, error)) func([]byte, int, MemberFunc) (int, error) {
	return func(b []byte, i int, fn MemberFunc) (int, error) {
		return walk(b, i, func(v []byte) error { return fn(nil, v) })
	}
}

// record is what a walk over b saw: each member (its name decoded), then
// its end and error.
func record(b []byte, walk func([]byte, int, MemberFunc) (int, error)) string {
	var sb strings.Builder
	end, err := walk(b, 0, func(k, v []byte) error {
		if k != nil {
			k = unquote(nil, k)
		}
		fmt.Fprintf(&sb, "%q: %q\n", k, v)
		return nil
	})
	fmt.Fprintf(&sb, "end %d, %v", end, err)
	return sb.String()
}

// TestStringsAtEveryOffset puts each kind of special byte of a string at
// every offset of a 16-byte window and just past it, with the string
// ending there, just after, or a word later, and cut at each of its bytes,
// alone and inside objects and arrays.
func TestStringsAtEveryOffset(t *testing.T) {
	specials := []string{
		``, `\"`, `\\`, `\/`, `\b\f\n\r\t`, `\u00e9`, `\u00E9`, `\ud83d\ude00`, `\\\"`, `\\\\`,
		`\u12G4`, `\u00`, `\x`, `\'`, `\`, "\x00", "\x1f", "\n", "\t", "\x7f", " ", "\xc3\xa9", "\xff", "日本",
	}
	const plain = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	inputs := 0
	for k := range 18 {
		for _, sp := range specials {
			for _, tail := range []string{"", "z", plain[:9]} {
				s := `"` + plain[:k] + sp + tail + `"`
				forms := []string{s, " " + s + " ", "[" + s + "]", "[" + s + "," + s + "]", "{" + s + ":" + s + "}", `{"k":` + s + `,"l":[1]}`}
				whole := len(forms)
				if tail == "" {
					for n := range len(s) {
						forms = append(forms, s[:n]) // ends inside the string
					}
				}
				for f, in := range forms {
					b := []byte(in)
					end, err := Skip(b, 0)
					ok := err == nil && Space(b, end) == len(b)
					if want := json.Valid(b); ok != want {
						t.Errorf("%q: Skip ok=%v (end %d, %v), json.Valid=%v", b, ok, end, err, want)
					}
					if err != nil && !errors.Is(err, ErrSyntax) {
						t.Errorf("%q: error %v does not wrap ErrSyntax", b, err)
					}
					sameAsReference(t, b, f < whole)
					if ok {
						trustedAgrees(t, b)
					}
					inputs++
				}
			}
		}
	}
	t.Logf("%d inputs", inputs)
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

	// A whole _mget answer, and its first entries and their sources.
	body := mgetAnswer()
	trustedAgrees(t, body)
	sameAsReference(t, body, false)
	entries := 0
	_, err := Members(body, 0, func(k, v []byte) error {
		_, err := Elements(v, 0, func(entry []byte) error {
			if entries++; entries > 100 {
				return nil
			}
			trustedAgrees(t, entry)
			_, err := Members(entry, 0, func(k, v []byte) error {
				if string(k) == "_source" {
					trustedAgrees(t, v)
				}
				return nil
			})
			return err
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
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
