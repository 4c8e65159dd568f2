// Package dump reads and writes NDJSON document dumps in the line format
// elasticdump writes: one {"_index","_id","_source",...} object a line,
// optionally gzip-compressed.
package dump

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"unicode/utf8"

	"github.com/esrestore/esrestore/internal/jsonscan"
)

// Doc is one document: a dump line or an index hit.
type Doc struct {
	// Index is the _index the document came from; it may be empty.
	Index string
	// ID is the document _id.
	ID string
	// Routing is the custom routing value, empty when none.
	Routing string
	// Source is the raw _source object.
	Source json.RawMessage
	// Line is the 1-based line of the document in its dump, 0 for index
	// hits.
	Line int
	// SeqNo and PrimaryTerm are the hit's _seq_no and _primary_term when
	// the scan asked for them (esscan.Options.SeqNo); PrimaryTerm 0 means
	// not known.
	SeqNo, PrimaryTerm int64
}

// MaxLine is the longest line a Reader accepts. Longer lines are reported
// as bad lines, not read into memory.
const MaxLine = 64 << 20

// Errors wrapped by LineError.
var (
	ErrMalformed     = errors.New("malformed JSON")
	ErrNotObject     = errors.New("line is not a JSON object")
	ErrMissingID     = errors.New("missing _id")
	ErrMissingSource = errors.New("missing _source")
	ErrSourceType    = errors.New("_source is not an object")
	ErrLineTooLong   = errors.New("line too long")
	// ErrInvalidUTF8 is a line that is not valid UTF-8: JSON must be, and
	// Elasticsearch and every reader of the report would mangle it.
	ErrInvalidUTF8 = errors.New("line is not valid UTF-8")
	// ErrDuplicateID is a line whose _id an earlier line of the same dump
	// has; see Dedup.
	ErrDuplicateID = errors.New("duplicate _id")
)

// LineError is a bad line of a dump. Reader.Next returns it and goes on
// with the next line when called again. Every reader of a dump (the
// restore and the diff) skips the same lines: a bad line is a failure of
// that line, never a reason to stop reading.
type LineError struct {
	Name string // dump name, e.g. the file path
	Line int    // 1-based
	ID   string // _id when the line had one
	Err  error
	// Raw is the line as read (without its newline), for the failure
	// record; nil for a line longer than MaxLine.
	Raw []byte
	// Doc is the document of a well-formed line refused for its place in
	// the dump (ErrDuplicateID); zero otherwise.
	Doc Doc
}

func (e *LineError) Error() string {
	if e.ID != "" {
		return fmt.Sprintf("%s:%d: document %q: %v", e.Name, e.Line, e.ID, e.Err)
	}
	return fmt.Sprintf("%s:%d: %v", e.Name, e.Line, e.Err)
}

func (e *LineError) Unwrap() error { return e.Err }

// Reader reads documents from a dump.
type Reader struct {
	name string
	br   *bufio.Reader
	line int
	buf  []byte
	// src is the compressed input, when the dump is compressed.
	src *eofReader
	// dedup finds the lines that repeat an earlier line's _id.
	dedup *Dedup
}

// ErrCorrupt means a compressed dump cannot be read to its end: it was
// cut short (the file ended inside the compressed stream) or its data is
// damaged. Reading it again gives the same; only another file helps.
var ErrCorrupt = errors.New("corrupt compressed dump")

// eofReader notes whether its reader came to a clean end.
type eofReader struct {
	r   io.Reader
	eof bool
}

func (e *eofReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if errors.Is(err, io.EOF) {
		e.eof = true
	}
	return n, err
}

// NewReader reads the dump r, decompressing it when it starts with the
// gzip magic bytes. name identifies the dump in errors.
func NewReader(r io.Reader, name string) (*Reader, error) {
	src := &eofReader{r: r}
	br := bufio.NewReaderSize(src, 256<<10)
	magic, err := br.Peek(2)
	if err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			if corrupt(err, src) {
				return nil, fmt.Errorf("%s: %w: gzip: %w", name, ErrCorrupt, err)
			}
			return nil, fmt.Errorf("%s: gzip: %w", name, err)
		}
		return &Reader{name: name, br: bufio.NewReaderSize(zr, 256<<10), src: src, dedup: NewDedup()}, nil
	}
	return &Reader{name: name, br: br, dedup: NewDedup()}, nil
}

// Next returns the next document, io.EOF at the end, a *LineError for a bad
// line (call Next again to go on), or another error when reading fails.
// The returned Source is owned by the caller.
//
// A bad line is one longer than MaxLine, not valid UTF-8, not a JSON
// object, without _id or _source, or one whose _id an earlier line has
// (ErrDuplicateID, with LineError.Doc set): the first line of an id wins,
// so every reader of the dump, and every rerun, keeps the same one.
func (r *Reader) Next() (Doc, error) {
	for {
		raw, err := r.readLine()
		if err != nil {
			return Doc{}, err
		}
		r.line++
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 {
			continue
		}
		if len(raw) > MaxLine {
			return Doc{}, &LineError{Name: r.name, Line: r.line, Err: ErrLineTooLong}
		}
		if !utf8.Valid(raw) {
			return Doc{}, &LineError{Name: r.name, Line: r.line, Err: ErrInvalidUTF8, Raw: bytes.Clone(raw)}
		}
		d, err := r.parse(raw)
		if err != nil {
			return d, err
		}
		if first := r.dedup.Seen(d); first != 0 {
			return Doc{}, &LineError{Name: r.name, Line: d.Line, ID: d.ID, Doc: d,
				Err: fmt.Errorf("%w: line %d has the _id of line %d, which wins", ErrDuplicateID, d.Line, first)}
		}
		return d, nil
	}
}

// corrupt reports whether a decompression error is the file's own: the
// stream's data is damaged, or it ended early although its source came to
// a clean end (a connection cut mid-body is not the file's fault).
func corrupt(err error, src *eofReader) bool {
	var fe flate.CorruptInputError
	return errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) || errors.As(err, &fe) ||
		errors.Is(err, io.ErrUnexpectedEOF) && src.eof
}

// readLine reads one line; a line longer than MaxLine is drained and
// returned truncated to MaxLine+1 bytes.
func (r *Reader) readLine() ([]byte, error) {
	r.buf = r.buf[:0]
	for {
		chunk, err := r.br.ReadSlice('\n')
		if len(r.buf) <= MaxLine {
			r.buf = append(r.buf, chunk...)
		}
		switch {
		case err == nil:
			return r.buf, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if len(r.buf) > 0 {
				return r.buf, nil
			}
			return nil, io.EOF
		case r.src != nil && corrupt(err, r.src):
			return nil, fmt.Errorf("%s:%d: %w: %w", r.name, r.line+1, ErrCorrupt, err)
		default:
			return nil, fmt.Errorf("%s:%d: read: %w", r.name, r.line+1, err)
		}
	}
}

func (r *Reader) parse(raw []byte) (Doc, error) {
	bad := func(id string, err error) (Doc, error) {
		return Doc{}, &LineError{Name: r.name, Line: r.line, ID: id, Err: err, Raw: bytes.Clone(raw)}
	}
	if raw[0] != '{' {
		end, err := jsonscan.Skip(raw, 0)
		if err != nil || jsonscan.Space(raw, end) != len(raw) {
			return bad("", ErrMalformed)
		}
		return bad("", ErrNotObject)
	}
	// One pass over the line: the few metadata fields are picked out and
	// _source stays the bytes it was written as.
	var idRaw, srcRaw, indexRaw, routingRaw, routing2Raw []byte
	end, err := jsonscan.Members(raw, 0, func(k, v []byte) error {
		switch string(k) {
		case "_id":
			idRaw = v
		case "_source":
			srcRaw = v
		case "_index":
			indexRaw = v
		case "_routing":
			routingRaw = v
		case "routing":
			routing2Raw = v
		}
		return nil
	})
	if err == nil && jsonscan.Space(raw, end) != len(raw) {
		err = errors.New("data after the object")
	}
	if err != nil {
		return bad("", fmt.Errorf("%w: %v", ErrMalformed, err))
	}
	id, ok := jsonscan.Scalar(idRaw)
	if !ok || id == "" {
		return bad("", ErrMissingID)
	}
	if len(srcRaw) == 0 || string(srcRaw) == "null" {
		return bad(id, ErrMissingSource)
	}
	if srcRaw[0] != '{' {
		return bad(id, ErrSourceType)
	}
	d := Doc{ID: id, Source: bytes.Clone(srcRaw), Line: r.line}
	d.Index, _ = jsonscan.String(indexRaw)
	if d.Routing, _ = jsonscan.Scalar(routingRaw); d.Routing == "" {
		d.Routing, _ = jsonscan.Scalar(routing2Raw)
	}
	return d, nil
}

// AppendLine appends d as one dump line, newline included.
func AppendLine(b []byte, d Doc) []byte {
	b = append(b, '{')
	if d.Index != "" {
		b = append(b, `"_index":`...)
		b = jsonscan.AppendString(b, d.Index)
		b = append(b, ',')
	}
	b = append(b, `"_id":`...)
	b = jsonscan.AppendString(b, d.ID)
	if d.Routing != "" {
		b = append(b, `,"_routing":`...)
		b = jsonscan.AppendString(b, d.Routing)
	}
	b = append(b, `,"_source":`...)
	b = append(b, d.Source...)
	return append(b, '}', '\n')
}

// Dedup finds the lines of a dump that repeat an _id of an earlier line.
// It is fed in line order, so the first line of an id wins however many
// workers load the dump, and a rerun picks the same one.
//
// It keeps a 128-bit hash of each id, 16 bytes a document instead of the
// id itself; two ids share a hash with a probability under 10^-20 for a
// billion documents.
type Dedup struct {
	first map[[16]byte]int // id hash -> first line
}

// NewDedup returns an empty Dedup.
func NewDedup() *Dedup { return &Dedup{first: map[[16]byte]int{}} }

// Seen records d and returns 0 when its id is new, or the line that had
// it first.
func (dd *Dedup) Seen(d Doc) int {
	h := fnv.New128a()
	h.Write([]byte(d.ID)) //nolint:errcheck // never fails
	var k [16]byte
	h.Sum(k[:0])
	if line, ok := dd.first[k]; ok {
		return line
	}
	dd.first[k] = d.Line
	return 0
}
