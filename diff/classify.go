package diff

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/wI2L/jsondiff"

	"github.com/esrestore/esrestore/internal/jsonmerge"
	"github.com/esrestore/esrestore/internal/jsonscan"
)

// ref is one side's copy of a document.
type ref struct {
	routing string
	src     []byte
	line    int // in a dump, 0 for an index
	// seqNo and term are the copy's _seq_no and _primary_term when an
	// _mget gave them (term 0: not known).
	seqNo, term int64
}

// sameCopy reports whether two copies of one document in indexes restored
// from one snapshot are the snapshot's one copy: the same sequence number
// and primary term (see Sides.SharedHistory).
func sameCopy(a, b *ref) bool {
	return a != nil && b != nil && a.term > 0 && a.term == b.term && a.seqNo == b.seqNo
}

// triple is one _id on every side; a nil ref is a side that lacks it.
type triple struct {
	id      string
	o, b, t *ref
}

// virtualTarget is what Options.Overlay makes of a document from the
// original's and the backup's copies.
func (d *Differ) virtualTarget(o, b *ref) *ref { return d.overlayTarget(d.opt.Overlay, o, b) }

// overlayTarget is what overlay makes of a document from the original's
// and the backup's copies.
func (d *Differ) overlayTarget(overlay Overlay, o, b *ref) *ref {
	switch overlay {
	case OverlayPreferOriginal:
		if o != nil {
			return o
		}
		return b
	case OverlayPreferSource:
		if b != nil {
			return b
		}
		return o
	case OverlaySource:
		return b
	case OverlayFill:
		if o == nil || b == nil {
			return cmpOr(o, b)
		}
		src, filled, err := jsonmerge.Fill(o.src, b.src, jsonmerge.Options{NullIsMissing: d.opt.NullIsMissing})
		if err != nil || !filled {
			// Not two objects: the restore keeps the original then too.
			return o
		}
		return &ref{routing: o.routing, src: src}
	}
	return nil
}

// cmpOr returns the first ref that is not nil.
func cmpOr(a, b *ref) *ref {
	if a != nil {
		return a
	}
	return b
}

// classify counts one document in its outcome and loss classes, tallies
// its patch operations by field, and adds its report line when it is not
// unchanged. The refs' bytes must stay unchanged while it runs.
func (d *Differ) classify(w *worker, rep *sorter, tr *triple) error {
	o, b, t := tr.o, tr.b, tr.t
	// A backup copy out of the scope is left out of the backup side: it
	// may not come back, and is neither lost nor not recovered.
	var skipped *ref
	if b != nil && d.opt.Scope != nil && !d.opt.Scope(tr.id) {
		skipped, b = b, nil
		if o == nil {
			d.live.skipped.Add(1)
		} else {
			d.live.skippedHeld.Add(1)
		}
	}
	if d.virtual {
		t = d.virtualTarget(o, b)
	}
	tally := w.fields
	tally.startDoc(tr.id)
	w.trans.startDoc()
	watched, err := d.watch.match(&w.watch, tr.id, o, t)
	if err != nil {
		return err
	}

	// Loss: original vs backup, and what of the backup the target lacks.
	var missing jsondiff.Patch
	lostMissing := false
	if d.three.Load() {
		var loss jsondiff.Patch
		equal, stripped := false, false
		switch {
		case b != nil && o == nil:
			d.live.lost.Add(1)
			lostMissing = t == nil
		case b != nil:
			d.live.shared.Add(1)
			var err error
			loss, equal, err = w.cmpLoss.compare(o.src, b.src)
			if err != nil {
				return fmt.Errorf("compare document %q with its backup: %w", tr.id, err)
			}
			if !equal {
				edited := false
				for i, op := range loss {
					switch op.Type {
					case jsondiff.OperationAdd:
						stripped = true
						tally.op(FieldStripped, op, nil)
						if t != nil && !hasPointer(t.src, op.Path) {
							missing = append(missing, op)
						}
					case jsondiff.OperationReplace:
						edited = true
						tally.op(FieldEditedSinceBackup, op, oldValue(loss, i))
					}
				}
				if stripped {
					d.live.stripped.Add(1)
				}
				if edited {
					d.live.edited.Add(1)
				}
			}
		case skipped != nil:
			// Out of the scope: not lost, and, held by the original,
			// not new since the backup either.
		default:
			d.live.newSince.Add(1)
		}
		if err := d.backupDoc(w, tr.id, o, b, loss, equal, stripped); err != nil {
			return err
		}
	}
	if len(missing) > 0 || lostMissing {
		d.live.notRec.Add(1)
		if lostMissing {
			d.live.notRecLost.Add(1)
		}
		for _, op := range missing {
			tally.op(FieldNotRecovered, op, nil)
		}
	}

	// Outcome: original → target.
	w.buf = w.buf[:0]
	switch {
	case o != nil && t != nil:
		patch, equal, cerr := w.cmp.compare(o.src, t.src)
		if cerr != nil {
			return fmt.Errorf("compare document %q: %w", tr.id, cerr)
		}
		routed := o.routing != t.routing
		if equal && !routed {
			d.live.unchanged.Add(1)
			if len(missing) > 0 {
				w.buf = appendPatchLine(w.buf, tr.id, ChangeNotRecovered, "", "", missing, nil)
			}
			break
		}
		change := ChangeRecovered
		if routed || overwrites(patch) {
			change = ChangeOverwritten
			d.live.overwritten.Add(1)
		} else {
			d.live.recovered.Add(1)
		}
		if routed {
			d.live.routingChanged.Add(1)
		}
		for i, op := range patch {
			switch op.Type {
			case jsondiff.OperationAdd:
				tally.op(FieldRecovered, op, nil)
			case jsondiff.OperationReplace, jsondiff.OperationRemove:
				tally.op(FieldOverwritten, op, oldValue(patch, i))
				if op.Type == jsondiff.OperationReplace {
					w.trans.replace(op.Path, oldValue(patch, i), op.Value)
				}
			}
		}
		w.buf = appendPatchLine(w.buf, tr.id, change, o.routing, t.routing, patch, missing)
		d.debug("document "+change, tr.id, len(patch))
	case o != nil:
		d.live.removed.Add(1)
		w.buf, err = appendOnlyLine(w.buf, tr.id, ChangeRemoved, "original", o.routing, o.src)
		d.debug("document removed", tr.id, 0)
	case t != nil:
		d.live.added.Add(1)
		w.buf, err = appendOnlyLine(w.buf, tr.id, ChangeAdded, "restored", t.routing, t.src)
		d.debug("document added", tr.id, 0)
	case lostMissing:
		w.buf, err = appendLostLine(w.buf, tr.id, b.routing, b.src)
		d.debug("document not recovered", tr.id, 0)
	}
	if err != nil {
		return err
	}
	if skipped != nil && o == nil && len(w.buf) == 0 {
		// Its own line, unless its outcome has one; one the original
		// holds keeps the original's copy, and is counted only.
		src := skipped.src
		if len(src) == 0 {
			src = []byte("null") // only its presence was looked up
		}
		w.buf, err = appendOnlyLine(w.buf, tr.id, ChangeSkipped, "backup", skipped.routing, src)
		if err != nil {
			return err
		}
		d.debug("document skipped", tr.id, 0)
	}
	if len(w.buf) == 0 {
		return nil
	}
	w.buf = appendWatched(w.buf, watched)
	return rep.add([]byte(tr.id), w.buf)
}

func (d *Differ) debug(msg, id string, ops int) {
	if l := d.opt.Logger; l.Enabled(context.Background(), slog.LevelDebug) {
		l.Debug(msg, "id", id, "ops", ops)
	}
}

// overwrites reports whether a patch replaces or removes a value.
func overwrites(p jsondiff.Patch) bool {
	for _, op := range p {
		if op.Type == jsondiff.OperationReplace || op.Type == jsondiff.OperationRemove {
			return true
		}
	}
	return false
}

// oldValue returns the value the test operation before p[i] holds: the
// value p[i] replaces or removes (patches are invertible).
func oldValue(p jsondiff.Patch, i int) any {
	if i > 0 && p[i-1].Type == jsondiff.OperationTest && p[i-1].Path == p[i].Path {
		return p[i-1].Value
	}
	return p[i].OldValue
}

// hasPointer reports whether the JSON document src holds a value at the
// JSON Pointer ptr.
func hasPointer(src []byte, ptr string) bool {
	if ptr == "" {
		return true
	}
	if ptr[0] != '/' {
		return false
	}
	v := trimSpace(src)
	for _, seg := range strings.Split(ptr[1:], "/") {
		seg = strings.ReplaceAll(strings.ReplaceAll(seg, "~1", "/"), "~0", "~")
		next, ok := child(v, seg)
		if !ok {
			return false
		}
		v = next
	}
	return true
}

// errFound ends a walk that found what it looked for.
var errFound = errors.New("found")

// child returns the member seg of an object, or the element seg of an
// array.
func child(v []byte, seg string) ([]byte, bool) {
	if len(v) == 0 {
		return nil, false
	}
	var out []byte
	found := false
	stop := errFound
	switch v[0] {
	case '{':
		_, err := jsonscan.MembersTrusted(v, 0, func(key, value []byte) error {
			k := string(key)
			if strings.IndexByte(k, '\\') >= 0 {
				k, _ = jsonscan.String(append(append([]byte{'"'}, key...), '"'))
			}
			if k == seg {
				out, found = value, true
				return stop
			}
			return nil
		})
		_ = err
	case '[':
		n, ok := arrayIndex(seg)
		if !ok {
			return nil, false
		}
		i := 0
		jsonscan.ElementsTrusted(v, 0, func(value []byte) error { //nolint:errcheck // stop ends the walk
			if i == n {
				out, found = value, true
				return stop
			}
			i++
			return nil
		})
	}
	return out, found
}

// arrayIndex reads an array index segment of a JSON Pointer.
func arrayIndex(seg string) (int, bool) {
	if seg == "" || len(seg) > 9 || (len(seg) > 1 && seg[0] == '0') {
		return 0, false
	}
	n := 0
	for _, c := range []byte(seg) {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}
