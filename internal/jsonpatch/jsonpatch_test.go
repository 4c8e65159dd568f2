package jsonpatch

import "testing"

func TestApply(t *testing.T) {
	for _, tt := range []struct {
		name, doc, patch, want string
		fails                  bool
	}{
		{"add member", `{"a":1}`, `[{"op":"add","path":"/b","value":[1]}]`, `{"a":1,"b":[1]}`, false},
		{"insert element", `{"a":[1,3]}`, `[{"op":"add","path":"/a/1","value":2}]`, `{"a":[1,2,3]}`, false},
		{"replace after test", `{"a":1.0}`, `[{"op":"test","path":"/a","value":1},{"op":"replace","path":"/a","value":"x"}]`, `{"a":"x"}`, false},
		{"remove", `{"a":{"b":1,"c":2}}`, `[{"op":"remove","path":"/a/b"}]`, `{"a":{"c":2}}`, false},
		{"whole document", `{}`, `[{"op":"add","path":"","value":{"x":1}}]`, `{"x":1}`, false},
		{"escaped pointer", `{}`, `[{"op":"add","path":"/a~1b~0","value":1}]`, `{"a/b~":1}`, false},
		{"failed test", `{"a":1}`, `[{"op":"test","path":"/a","value":2}]`, ``, true},
		{"missing parent", `{}`, `[{"op":"add","path":"/a/b","value":1}]`, ``, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			doc, _ := Decode([]byte(tt.doc))
			got, err := Apply(doc, []byte(tt.patch))
			if tt.fails {
				if err == nil {
					t.Fatalf("applied, want an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want, _ := Decode([]byte(tt.want))
			if !Equal(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}
