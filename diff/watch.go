package diff

import (
	"bytes"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/esrestore/esrestore/internal/jsonscan"
)

// watcher is one Options.Watch, parsed.
type watcher struct {
	Watch
	segs  []string // the path's segments, unescaped
	value []byte   // Value's canonical JSON; nil watches any change
	docs  atomic.Int64
	lost  atomic.Int64 // of docs, those the original lacks
}

// watchSet holds the watches of a diff and their counts.
type watchSet struct {
	ws []*watcher
	// any counts the documents at least one watch matched.
	any atomic.Int64
}

// newWatchSet parses the watches; Validate reports the errors.
func newWatchSet(watches []Watch) (*watchSet, error) {
	s := &watchSet{}
	var d jsonscan.Decoder
	for _, w := range watches {
		ptr, err := ParsePointer(w.Path)
		if err != nil {
			return nil, fmt.Errorf("%w: watch: %w", ErrBadOptions, err)
		}
		if slices.Contains(ptr.segs, "*") {
			return nil, fmt.Errorf("%w: watch %q: a watch names one value: no * segment", ErrBadOptions, w.Path)
		}
		x := &watcher{Watch: w, segs: ptr.segs}
		if w.Value != nil {
			if x.value, err = canonicalJSON(nil, &d, w.Value); err != nil {
				return nil, fmt.Errorf("%w: watch %s: value %s: %w", ErrBadOptions, w.Path, w.Value, err)
			}
		}
		s.ws = append(s.ws, x)
	}
	return s, nil
}

// validateWatches reports every bad watch.
func validateWatches(watches []Watch) []error {
	var errs []error
	for _, w := range watches {
		if _, err := newWatchSet([]Watch{w}); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// canonicalJSON appends the canonical JSON of the value v: keys sorted,
// numbers in canonical form (1.0 is 1), strings unescaped where JSON
// allows, so that values equal as the diff compares them encode the same.
func canonicalJSON(dst []byte, d *jsonscan.Decoder, v []byte) ([]byte, error) {
	tree, err := d.Decode(v)
	if err != nil {
		return dst, err
	}
	return jsonscan.AppendCanonical(dst, tree), nil
}

// watchScratch is a worker's reusable state for the watches.
type watchScratch struct {
	d     jsonscan.Decoder
	a, b  []byte
	paths []string
}

// match returns the paths of the watches document o → t matches; o or t
// nil is a side without the document. The slice is valid until the next
// call.
func (s *watchSet) match(ws *watchScratch, id string, o, t *ref) ([]string, error) {
	ws.paths = ws.paths[:0]
	for _, w := range s.ws {
		hit, err := w.hit(ws, id, o, t)
		if err != nil {
			return nil, err
		}
		if hit {
			w.docs.Add(1)
			if o == nil {
				w.lost.Add(1)
			}
			ws.paths = append(ws.paths, w.Path)
		}
	}
	if len(ws.paths) > 0 {
		s.any.Add(1)
	}
	return ws.paths, nil
}

// hit reports whether any watch matches document o → t, counting nothing.
func (s *watchSet) hit(ws *watchScratch, id string, o, t *ref) (bool, error) {
	for _, w := range s.ws {
		if hit, err := w.hit(ws, id, o, t); err != nil || hit {
			return hit, err
		}
	}
	return false, nil
}

// hit reports whether the watch matches document o → t.
func (w *watcher) hit(ws *watchScratch, id string, o, t *ref) (bool, error) {
	ov, inO := lookupSegs(o, w.segs)
	tv, inT := lookupSegs(t, w.segs)
	if !inO && !inT {
		return false, nil
	}
	var err error
	ws.a, ws.b = ws.a[:0], ws.b[:0]
	if inO {
		if ws.a, err = canonicalJSON(ws.a, &ws.d, ov); err != nil {
			return false, fmt.Errorf("document %q: original's %s: %w", id, w.Path, err)
		}
	}
	if inT {
		if ws.b, err = canonicalJSON(ws.b, &ws.d, tv); err != nil {
			return false, fmt.Errorf("document %q: target's %s: %w", id, w.Path, err)
		}
	}
	if w.value == nil {
		return inO != inT || !bytes.Equal(ws.a, ws.b), nil
	}
	return inT && bytes.Equal(ws.b, w.value) && !(inO && bytes.Equal(ws.a, w.value)), nil
}

// counts are the watches' counts, in the order given.
func (s *watchSet) counts() []WatchCount {
	if len(s.ws) == 0 {
		return nil
	}
	out := make([]WatchCount, len(s.ws))
	for i, w := range s.ws {
		out[i] = WatchCount{Watch: w.Watch, Documents: w.docs.Load(), Lost: w.lost.Load()}
	}
	return out
}

// lookupSegs returns the value at the pointer segs in r's source.
func lookupSegs(r *ref, segs []string) ([]byte, bool) {
	if r == nil || len(r.src) == 0 {
		return nil, false
	}
	v := trimSpace(r.src)
	for _, seg := range segs {
		next, ok := child(v, seg)
		if !ok {
			return nil, false
		}
		v = next
	}
	return v, true
}

// appendWatched adds "watched":[paths] to the report line in b, which
// ends with "}\n".
func appendWatched(b []byte, paths []string) []byte {
	if len(paths) == 0 || len(b) < 2 {
		return b
	}
	b = append(b[:len(b)-2], `,"watched":[`...)
	for i, p := range paths {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonscan.AppendString(b, p)
	}
	return append(b, ']', '}', '\n')
}
