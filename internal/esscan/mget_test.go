package esscan

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzDecodeMget: whatever the bytes, decodeMget answers without a panic,
// and accepts only valid JSON.
func FuzzDecodeMget(f *testing.F) {
	f.Add(`{"docs":[{"_id":"a","_seq_no":3,"_primary_term":1,"found":true,"_source":{"x":[1,"\u00e9"]}}]}`)
	f.Add(`{"docs":[{"_id":"b","found":false},{"_id":"c","error":{"type":"t"}}]}`)
	f.Add(`{"docs":`)
	f.Fuzz(func(t *testing.T, body string) {
		if _, err := DecodeMget([]byte(body), 1); err == nil && !json.Valid([]byte(body)) {
			t.Errorf("decodeMget accepted invalid JSON %q", body)
		}
	})
}

func TestDecodeMget(t *testing.T) {
	body := `{"docs":[{"_index":"i","_id":"a\u00e9","_version":1,"_seq_no":0,"_primary_term":1,"_routing":"r","found":true,"_source":{"x": [1, {"y":"}"}]}},` +
		`{"_index":"i","_id":"b","found":false},` +
		`{"_index":"nope","_id":"c","error":{"type":"index_not_found_exception","reason":"no such index [nope]"}}]}`
	got, err := DecodeMget([]byte(body), 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("got %d entries, want 3", len(got))
	}
	if got[0].ID != "aé" || got[0].Routing != "r" || !got[0].Found || string(got[0].Source) != `{"x": [1, {"y":"}"}]}` ||
		got[0].SeqNo != 0 || got[0].PrimaryTerm != 1 {
		t.Errorf("entry 0: %+v", got[0])
	}
	if got[1].ID != "b" || got[1].Found || got[1].Source != nil {
		t.Errorf("entry 1: %+v", got[1])
	}
	if got[2].ID != "c" || !strings.Contains(string(got[2].Error), "no such index [nope]") {
		t.Errorf("entry 2: %+v", got[2])
	}
	for _, bad := range []string{``, `[]`, `{"docs":{}}`, `{"docs":[1]}`, `{"docs":[{"_id":1}]}`, `{"docs":[{"_id":"a","_source":{]}`, body[:len(body)-2],
		`{"docs":`, `{"docs":[`, `{"docs":[{"_id":"a","_seq_no":"1"}]}`, `{"docs":[{"_id":"a","_primary_term":1.5}]}`, `{"docs":[]} x`} {
		if _, err := DecodeMget([]byte(bad), 1); err == nil {
			t.Errorf("DecodeMget(%.60q): got no error", bad)
		}
	}
}
