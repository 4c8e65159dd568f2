package page

import (
	"bytes"
	"encoding/json"
	"io"
	"sync"
)

// Collector keeps what the page shows of diff.ndjson.gz and
// failures.ndjson.gz while they are written: every line is counted by
// class, the first PerClass lines of each class are kept, shrunk to a
// bounded size. Its memory is bounded whatever the size of the streams:
// one line buffer of maxRead bytes per stream plus what it keeps.
//
// Write takes the diff stream (tee it beside the gzip writer); Failures
// returns the writer for the failures stream. Both accept any chunking
// of the lines. A Collector is safe for concurrent use.
type Collector struct {
	opt      Options
	diff     lineStream
	failures lineStream
}

// Entry is one kept line.
type Entry struct {
	// Class is the line's "change" (diff lines) or "failure".
	Class string
	// ID is the line's _id.
	ID string
	// Line is the line, shrunk, as valid JSON; Cut says the shrinking
	// left something out (the full line is in the object).
	Line json.RawMessage
	Cut  bool
	// Watched are the watched paths (--watch) the line names in its
	// "watched" member, read before shrinking so a cut cannot lose them.
	Watched []string
}

// ClassCount is the number of lines of one class and how many were kept.
type ClassCount struct {
	Class string
	Total int64
	Kept  int
}

// maxRead bounds the bytes of one line read for the page; a longer line
// is shown from its head.
const maxRead = 1 << 20

// maxClasses bounds the distinct classes kept; lines of further
// classes are counted only.
const maxClasses = 8

// failureClass is the class of every failures line.
const failureClass = "failure"

// NewCollector returns a Collector keeping what opt allows.
func NewCollector(opt Options) *Collector {
	opt = opt.withDefaults()
	c := &Collector{opt: opt}
	c.diff = lineStream{
		perClass: opt.PerClass, classBytes: opt.MaxClassBytes,
		maxLine: opt.MaxLineBytes, maxString: opt.MaxStringBytes,
	}
	c.failures = lineStream{
		perClass: opt.MaxFailures, classBytes: opt.MaxClassBytes,
		maxLine: opt.MaxLineBytes, maxString: opt.MaxStringBytes, fixed: failureClass,
	}
	return c
}

// Write takes diff.ndjson.gz lines, uncompressed, in any chunks. It never
// fails, so a tee into it cannot stop the diff.
func (c *Collector) Write(p []byte) (int, error) {
	c.diff.write(p)
	return len(p), nil
}

// Failures returns the writer for failures.ndjson.gz lines, uncompressed.
func (c *Collector) Failures() io.Writer { return failuresWriter{c} }

type failuresWriter struct{ c *Collector }

func (w failuresWriter) Write(p []byte) (int, error) {
	w.c.failures.write(p)
	return len(p), nil
}

// Classes returns the diff lines' classes in the order they were first
// seen, with their counts.
func (c *Collector) Classes() []ClassCount { return c.diff.counts() }

// Entries returns the kept diff lines in the order they were written.
func (c *Collector) Entries() []Entry { return c.diff.entries() }

// FailureCount returns the number of failures lines and how many were kept.
func (c *Collector) FailureCount() ClassCount {
	for _, cc := range c.failures.counts() {
		return cc
	}
	return ClassCount{Class: failureClass}
}

// FailureEntries returns the kept failures lines.
func (c *Collector) FailureEntries() []Entry { return c.failures.entries() }

// lineStream splits one stream into lines and keeps a bounded sample.
type lineStream struct {
	perClass, classBytes, maxLine, maxString int
	// fixed is the class of every line, for streams without "change".
	fixed string

	mu      sync.Mutex
	buf     []byte // the current line's head, up to maxRead bytes
	n       int    // bytes of the current line so far
	over    bool   // the current line is longer than maxRead
	decided bool   // the current line's class is known
	discard bool   // the current line is counted and not kept
	class   string
	id      string
	classes []*classState
	kept    []Entry
	scratch []byte
}

type classState struct {
	name  string
	total int64
	kept  int
	bytes int
	full  bool
}

func (l *lineStream) write(p []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		chunk := p
		if i >= 0 {
			chunk = p[:i]
		}
		l.n += len(chunk)
		if !l.discard {
			room := maxRead - len(l.buf)
			if len(chunk) > room {
				l.buf = append(l.buf, chunk[:room]...)
				l.over = true
			} else {
				l.buf = append(l.buf, chunk...)
			}
			if !l.decided {
				l.decide(i >= 0)
			}
		}
		if i < 0 {
			return
		}
		l.endLine()
		p = p[i+1:]
	}
}

// flush ends a last line that had no newline (an interrupted stream).
func (l *lineStream) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n > 0 {
		l.endLine()
	}
}

// decide finds the current line's class from its head as soon as the
// head holds it; a line of a class that keeps no more is then counted
// and its remaining bytes skipped unread.
func (l *lineStream) decide(ended bool) {
	if l.fixed != "" {
		l.class, l.decided = l.fixed, true
	} else {
		id, class, ok := head(l.buf)
		if !ok && !ended && !l.over {
			return // wait for more of the line
		}
		l.id, l.class, l.decided = id, class, true
	}
	cs := l.state(l.class)
	if cs == nil || cs.full {
		l.discard = true
		l.buf = l.buf[:0]
	}
}

// state returns the class's counters, nil past maxClasses.
func (l *lineStream) state(class string) *classState {
	for _, cs := range l.classes {
		if cs.name == class {
			return cs
		}
	}
	if len(l.classes) >= maxClasses {
		return nil
	}
	cs := &classState{name: class}
	l.classes = append(l.classes, cs)
	return cs
}

func (l *lineStream) endLine() {
	defer func() {
		l.buf, l.n, l.over, l.decided, l.discard, l.class, l.id = l.buf[:0], 0, false, false, false, "", ""
	}()
	if l.n == 0 || (!l.discard && len(bytes.TrimSpace(l.buf)) == 0) {
		return // an empty line is no document
	}
	if !l.decided {
		l.decide(true)
	}
	cs := l.state(l.class)
	if cs == nil {
		// Past maxClasses: counted apart rather than under a wrong name.
		l.other().total++
		return
	}
	cs.total++
	if !l.discard {
		l.keep(cs)
	}
}

// other is the bucket of lines whose class is past maxClasses.
func (l *lineStream) other() *classState {
	const name = "other"
	for _, cs := range l.classes {
		if cs.name == name {
			return cs
		}
	}
	cs := &classState{name: name, full: true}
	l.classes = append(l.classes, cs)
	return cs
}

// keep shrinks the current line and keeps it if the class has room.
func (l *lineStream) keep(cs *classState) {
	out, cut, ok := shrink(l.scratch[:0], l.buf, l.maxString, l.maxLine)
	l.scratch = out[:0]
	if !ok || !json.Valid(out) {
		// Not JSON: show the head as text, so the page still says what
		// the line held.
		h := l.buf[:min(len(l.buf), l.maxString)]
		out, _ = json.Marshal(map[string]any{"_id": l.id, "change": l.class, "invalid_line": string(h)})
		cut = true
	}
	cost := len(out) + 5*bytes.Count(out, []byte("<")) + 5*bytes.Count(out, []byte(">")) + 5*bytes.Count(out, []byte("&"))
	if cs.kept >= l.perClass || cs.bytes+cost > l.classBytes {
		// Keep the sample a prefix of the stream: once a line does not
		// fit, none after it is kept.
		cs.full = true
		return
	}
	id := l.id
	if id == "" && l.fixed != "" {
		id, _, _ = head(l.buf)
	}
	cs.kept++
	cs.bytes += cost
	if cs.kept >= l.perClass {
		cs.full = true
	}
	l.kept = append(l.kept, Entry{Class: l.class, ID: id, Line: bytes.Clone(out), Cut: cut || l.over, Watched: watchedOf(l.buf)})
}

// watchedOf is the "watched" member of a diff line: the paths of --watch
// the document matched; nil for none, or for a line cut at the read bound.
func watchedOf(line []byte) []string {
	if !bytes.Contains(line, []byte(`"watched"`)) {
		return nil
	}
	var w struct {
		Watched []string `json:"watched"`
	}
	if json.Unmarshal(line, &w) != nil {
		return nil
	}
	return w.Watched
}

func (l *lineStream) counts() []ClassCount {
	l.flush()
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]ClassCount, 0, len(l.classes))
	for _, cs := range l.classes {
		out = append(out, ClassCount{Class: cs.name, Total: cs.total, Kept: cs.kept})
	}
	return out
}

func (l *lineStream) entries() []Entry {
	l.flush()
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Entry(nil), l.kept...)
}

// head reads a line's _id and change from its start, as diff's writers
// put them: {"_id":…,"change":…. Other members before them are passed
// over. ok is false while the head is incomplete.
func head(b []byte) (id, change string, ok bool) {
	r := headReader{b: b}
	r.ws()
	if !r.byte('{') {
		return "", "", r.eof()
	}
	var haveID, haveChange bool
	for i := 0; ; i++ {
		r.ws()
		if i > 0 {
			if r.eof() {
				return id, change, false
			}
			if !r.byte(',') {
				return id, change, true // the object ended, or garbage
			}
			r.ws()
		}
		key, complete := r.str()
		if !complete {
			return id, change, false
		}
		r.ws()
		if !r.byte(':') {
			return id, change, !r.eof()
		}
		r.ws()
		switch key {
		case "_id", "change":
			v, complete := r.str()
			if !complete {
				return id, change, false
			}
			if key == "_id" {
				id, haveID = v, true
			} else {
				change, haveChange = v, true
			}
			if haveID && haveChange {
				return id, change, true
			}
		default:
			s := shrinker{in: r.b, pos: r.pos}
			s.skipValue()
			if s.bad || s.eof() {
				return id, change, s.bad
			}
			r.pos = s.pos
		}
	}
}

type headReader struct {
	b   []byte
	pos int
}

func (r *headReader) eof() bool { return r.pos >= len(r.b) }

func (r *headReader) ws() {
	for r.pos < len(r.b) && (r.b[r.pos] == ' ' || r.b[r.pos] == '\t' || r.b[r.pos] == '\r') {
		r.pos++
	}
}

func (r *headReader) byte(c byte) bool {
	if r.eof() || r.b[r.pos] != c {
		return false
	}
	r.pos++
	return true
}

// str reads a JSON string; complete is false when the head ends inside
// it. A value that is not a string reads as "".
func (r *headReader) str() (v string, complete bool) {
	if r.eof() {
		return "", false
	}
	if r.b[r.pos] != '"' {
		return "", true
	}
	start := r.pos
	for i := r.pos + 1; i < len(r.b); i++ {
		switch r.b[i] {
		case '\\':
			i++
		case '"':
			r.pos = i + 1
			var s string
			if err := json.Unmarshal(r.b[start:r.pos], &s); err != nil {
				return "", true
			}
			return s, true
		}
	}
	return "", false
}
