package esscan

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/esrestore/esrestore/internal/elastic"
	"github.com/esrestore/esrestore/internal/retry"
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

func TestCheckMget(t *testing.T) {
	ids := []string{"a", "b"}
	id := func(i int) string { return ids[i] }
	ok := []MgetDoc{{ID: "a", Found: true, Source: []byte(`{}`)}, {ID: "b"}}
	if err := CheckMget(ok, id, true); err != nil {
		t.Errorf("a good answer: %v", err)
	}
	for _, tt := range []struct {
		name   string
		got    []MgetDoc
		source bool
		is     error
		says   string
	}{
		{"missing index", []MgetDoc{{ID: "a", Error: []byte(`{"type":"index_not_found_exception","reason":"no such index [x]"}`)}, {ID: "b"}}, false, elastic.ErrIndexNotFound, `document "a"`},
		{"shard error", []MgetDoc{{ID: "a"}, {ID: "b", Error: []byte(`{"type":"no_shard_available_action_exception","reason":"r"}`)}}, false, nil, "no_shard_available_action_exception: r"},
		{"other id", []MgetDoc{{ID: "a"}, {ID: "c"}}, false, nil, `answer 1 is for "c", asked for "b"`},
		{"no source", []MgetDoc{{ID: "a", Found: true}, {ID: "b"}}, true, ErrNoSource, `document "a"`},
	} {
		err := CheckMget(tt.got, id, tt.source)
		if err == nil || (tt.is != nil && !errors.Is(err, tt.is)) || !strings.Contains(err.Error(), tt.says) {
			t.Errorf("%s: %v, want an error saying %q", tt.name, err, tt.says)
		}
	}
	if err := CheckMget([]MgetDoc{{ID: "a", Found: true}, {ID: "b"}}, id, false); err != nil {
		t.Errorf("a found document without a source, none asked for: %v", err)
	}
}

// An _mget entry's error is transient when a retry may clear it: a real
// 8.19.21 node restarted on its data answers 200 with
// no_shard_available_action_exception entries until its shards recover.
func TestDocErrorTransient(t *testing.T) {
	for _, tt := range []struct {
		raw       string
		transient bool
		notFound  bool
	}{
		{`{"type":"no_shard_available_action_exception","reason":"No shard available for [org.elasticsearch.action.get.MultiGetShardRequest/unset]"}`, true, false},
		{`{"type":"es_rejected_execution_exception","reason":"rejected execution"}`, true, false},
		{`{"type":"index_not_found_exception","reason":"no such index [x]"}`, false, true},
		{`{"type":"routing_missing_exception","reason":"routing is required for [d]/[1]"}`, false, false},
	} {
		err := DocError(json.RawMessage(tt.raw))
		if got := retry.IsTransient(err); got != tt.transient {
			t.Errorf("%s: transient %v, want %v", tt.raw, got, tt.transient)
		}
		if got := errors.Is(err, elastic.ErrIndexNotFound); got != tt.notFound {
			t.Errorf("%s: index not found %v, want %v", tt.raw, got, tt.notFound)
		}
	}
}
