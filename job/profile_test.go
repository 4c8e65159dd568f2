package job

import (
	"encoding/json"
	"slices"
	"testing"
)

// TestMappingFields reads the fields to profile from a mapping as an
// 8.19 node answers GET /INDEX: objects without a type, nested fields
// with one, multi-fields left out (they are not in _source).
func TestMappingFields(t *testing.T) {
	m := `{"properties": {"a": {"type": "keyword"}, "n": {"type": "nested", "properties": {"k": {"type": "keyword"}}},` +
		` "o": {"properties": {"b": {"type": "boolean"}, "d": {"type": "date_nanos"}, "c": {"type": "date"}}},` +
		` "t": {"type": "text", "fields": {"kw": {"type": "keyword"}}}, "x/y": {"type": "constant_keyword", "value": "v"}}}`
	kw, dates, err := mappingFields(json.RawMessage(m))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"/a", "/n/k", "/o/b", "/x~1y"}; !slices.Equal(kw, want) {
		t.Errorf("keyword fields %q, want %q", kw, want)
	}
	if want := []string{"/o/c", "/o/d"}; !slices.Equal(dates, want) {
		t.Errorf("date fields %q, want %q", dates, want)
	}
	if kw, dates, err := mappingFields(json.RawMessage(`{}`)); err != nil || kw != nil || dates != nil {
		t.Errorf("empty mapping: %q %q %v", kw, dates, err)
	}
}
