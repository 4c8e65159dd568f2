package dump

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func readAll(t *testing.T, r *Reader) ([]Doc, []*LineError) {
	t.Helper()
	var docs []Doc
	var bad []*LineError
	for {
		d, err := r.Next()
		if err == io.EOF {
			return docs, bad
		}
		var le *LineError
		if errors.As(err, &le) {
			bad = append(bad, le)
			continue
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		docs = append(docs, d)
	}
}

func TestReaderGoodAndBadLines(t *testing.T) {
	in := strings.Join([]string{
		`{"_index":"documents","_id":"a","_source":{"x":1}}`,
		``,
		`{"_id":"b","_routing":"r1","_source":{"y":"é"}}`,
		`{"_id":"c","_source":`,
		`[1,2]`,
		`{"_source":{"x":1}}`,
		`{"_id":"d"}`,
		`{"_id":"e","_source":"text"}`,
		`{"_id":7,"_source":{}}`,
		`not json`,
	}, "\n")
	r, err := NewReader(strings.NewReader(in), "dump.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	docs, bad := readAll(t, r)
	if len(docs) != 3 {
		t.Fatalf("got %d docs, want 3: %+v", len(docs), docs)
	}
	if docs[0].ID != "a" || docs[0].Index != "documents" || string(docs[0].Source) != `{"x":1}` || docs[0].Line != 1 {
		t.Errorf("doc a: %+v", docs[0])
	}
	if docs[1].Routing != "r1" || docs[1].Line != 3 {
		t.Errorf("doc b: %+v", docs[1])
	}
	if docs[2].ID != "7" || docs[2].Line != 9 {
		t.Errorf("numeric id: %+v", docs[2])
	}
	want := []struct {
		line int
		err  error
		text string
	}{
		{4, ErrMalformed, "dump.ndjson:4: malformed JSON"},
		{5, ErrNotObject, "dump.ndjson:5: line is not a JSON object"},
		{6, ErrMissingID, "dump.ndjson:6: missing _id"},
		{7, ErrMissingSource, `dump.ndjson:7: document "d": missing _source`},
		{8, ErrSourceType, `dump.ndjson:8: document "e": _source is not an object`},
		{10, ErrMalformed, "dump.ndjson:10: malformed JSON"},
	}
	if len(bad) != len(want) {
		t.Fatalf("got %d bad lines, want %d: %v", len(bad), len(want), bad)
	}
	for i, w := range want {
		if bad[i].Line != w.line || !errors.Is(bad[i], w.err) || !strings.HasPrefix(bad[i].Error(), w.text) {
			t.Errorf("bad line %d: got %q (line %d), want %q", i, bad[i].Error(), bad[i].Line, w.text)
		}
	}
}

func TestReaderGzipAndRoundTrip(t *testing.T) {
	docs := []Doc{{Index: "i", ID: "1", Source: []byte(`{"a":"<b>&"}`)}, {ID: "2", Routing: "x", Source: []byte(`{}`)}}
	var raw []byte
	for _, d := range docs {
		raw = AppendLine(raw, d)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw)
	zw.Close()
	for name, in := range map[string][]byte{"plain": raw, "gzip": gz.Bytes()} {
		r, err := NewReader(bytes.NewReader(in), name)
		if err != nil {
			t.Fatal(err)
		}
		got, bad := readAll(t, r)
		if len(bad) != 0 || len(got) != 2 {
			t.Fatalf("%s: got %d docs, %v", name, len(got), bad)
		}
		for i := range docs {
			if got[i].ID != docs[i].ID || got[i].Index != docs[i].Index || got[i].Routing != docs[i].Routing || string(got[i].Source) != string(docs[i].Source) {
				t.Errorf("%s: doc %d: got %+v, want %+v", name, i, got[i], docs[i])
			}
		}
	}
}

func TestReaderLongLine(t *testing.T) {
	long := `{"_id":"big","_source":{"x":"` + strings.Repeat("a", MaxLine) + `"}}`
	r, _ := NewReader(strings.NewReader(long+"\n"+`{"_id":"ok","_source":{}}`+"\n"), "big.ndjson")
	docs, bad := readAll(t, r)
	if len(bad) != 1 || !errors.Is(bad[0], ErrLineTooLong) || bad[0].Line != 1 {
		t.Fatalf("bad lines: %v", bad)
	}
	if len(docs) != 1 || docs[0].ID != "ok" || docs[0].Line != 2 {
		t.Fatalf("docs after long line: %+v", docs)
	}
}

func BenchmarkReader(b *testing.B) {
	var raw []byte
	n := 0
	for i := range 2000 {
		src := []byte(`{"id":"` + strings.Repeat("x", 20) + `","title":"Démocratie \"et\" liberté","content":{"html":"<p>` + strings.Repeat("lorem ipsum ", 120) + `</p>"},"tags":[{"id":"a","name":"b"}],"size":` + strings.Repeat("1", i%9+1) + `}`)
		raw = AppendLine(raw, Doc{Index: "documents", ID: strings.Repeat("i", 19) + string(rune('a'+i%26)), Source: src})
		n++
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		r, _ := NewReader(bytes.NewReader(raw), "bench")
		for {
			if _, err := r.Next(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "docs/s")
}

// TestCorruptCompressedDump: a .gz cut short, or with damaged data, is
// ErrCorrupt at the line where it breaks; a source cut mid-stream by its
// connection (no clean end) is not the file's fault and is not.
func TestCorruptCompressedDump(t *testing.T) {
	var raw bytes.Buffer
	zw := gzip.NewWriter(&raw)
	for i := range 2000 {
		fmt.Fprintf(zw, `{"_id":"d%d","_source":{"n":%d,"text":"some words to compress %d"}}`+"\n", i, i, i*7919)
	}
	zw.Close()
	whole := raw.Bytes()
	readAll := func(r io.Reader) error {
		d, err := NewReader(r, "dump.ndjson.gz")
		if err != nil {
			return err
		}
		for {
			if _, err := d.Next(); err != nil {
				if errors.Is(err, io.EOF) {
					return nil
				}
				return err
			}
		}
	}
	if err := readAll(bytes.NewReader(whole)); err != nil {
		t.Fatalf("the whole dump: %v", err)
	}
	damaged := bytes.Clone(whole)
	damaged[len(damaged)-6] ^= 0xff // the trailer's checksum
	for name, r := range map[string]io.Reader{
		"cut short": bytes.NewReader(whole[:len(whole)/2]),
		"damaged":   bytes.NewReader(damaged),
	} {
		if err := readAll(r); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "dump.ndjson.gz:") {
			t.Errorf("%s: %v, want ErrCorrupt naming the dump and line", name, err)
		}
	}
	cut := io.MultiReader(bytes.NewReader(whole[:len(whole)/2]), iotest.ErrReader(io.ErrUnexpectedEOF))
	if err := readAll(cut); err == nil || errors.Is(err, ErrCorrupt) {
		t.Errorf("a connection cut mid-body: %v, want an error that is not ErrCorrupt", err)
	}
}

// TestReaderRepeatedID: a line repeating the _id of an earlier line is a
// bad line (ErrDuplicateID) naming both lines and carrying its document;
// the first line wins, however often the dump is read.
func TestReaderRepeatedID(t *testing.T) {
	in := `{"_id":"a","_source":{"v":1}}` + "\n" + `{"_id":"b","_source":{}}` + "\n" + `{"_id":"a","_routing":"r","_source":{"v":2}}` + "\n"
	for range 2 {
		r, err := NewReader(strings.NewReader(in), "d.ndjson")
		if err != nil {
			t.Fatal(err)
		}
		docs, bad := readAll(t, r)
		if len(docs) != 2 || docs[0].ID != "a" || string(docs[0].Source) != `{"v":1}` || docs[1].ID != "b" {
			t.Fatalf("docs %+v", docs)
		}
		if len(bad) != 1 || !errors.Is(bad[0], ErrDuplicateID) || bad[0].Line != 3 || bad[0].Doc.Routing != "r" ||
			bad[0].Error() != `d.ndjson:3: document "a": duplicate _id: line 3 has the _id of line 1, which wins` {
			t.Errorf("bad lines %v", bad)
		}
	}
}
