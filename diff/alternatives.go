package diff

import (
	"fmt"
	"strings"

	"github.com/wI2L/jsondiff"

	"github.com/esrestore/esrestore/internal/jsonmerge"
)

// altTally counts, for one worker, the outcome each prefer would give:
// the target OverlayPreferOriginal, OverlayPreferSource and OverlayFill
// build from the original's and the backup's copies, compared with the
// original as classify compares a target. It is not safe for concurrent
// use.
type altTally struct {
	a Alternatives
	// cmp compares the original with its filled copy; the loss patch
	// classify holds stays valid meanwhile.
	cmp   *comparer
	watch watchScratch
}

// count adds one document of a three-sided diff: o and b are its
// original's and backup's copies (nil when that side lacks it), loss the
// patch original → backup classify computed when both hold it, and
// equal whether they compared equal.
//
// The would-be targets hold the original's documents and the backup's
// lost ones, so a document only in the original is unchanged under every
// prefer, and a lost one added. On one in both:
//   - original keeps the original's copy: unchanged; the backup's paths
//     it lacks are not recovered;
//   - source takes the backup's copy: the loss patch is the outcome's
//     (overwritten when it replaces or removes, or the routing differs;
//     recovered when it only adds);
//   - fill fills the original's copy from the backup's
//     (internal/jsonmerge, as the restore does): only a loss patch that
//     adds (or, with NullIsMissing, replaces a null) can change it.
func (t *altTally) count(d *Differ, o, b *ref, loss jsondiff.Patch, equal bool) error {
	switch {
	case b == nil:
		return nil
	case o == nil:
		t.a.Original.Added++
		t.a.Source.Added++
		t.a.Fill.Added++
		return nil
	case equal:
		if o.routing != b.routing {
			t.a.Source.Overwritten++
		}
		return nil
	}
	// Original: the target is the original's copy.
	if missingIn(loss, o.src) {
		t.a.Original.NotRecovered++
	}
	// Source: the target is the backup's copy.
	switch {
	case o.routing != b.routing || overwrites(loss):
		t.a.Source.Overwritten++
	default:
		t.a.Source.Recovered++
	}
	if missingIn(loss, b.src) {
		t.a.Source.NotRecovered++
	}
	// Fill.
	if !hasAdd(loss) && !d.opt.NullIsMissing {
		return nil // nothing the original lacks: the fill is the original
	}
	if fills, overwrites, ok := fillByPatch(loss, d.opt.NullIsMissing); ok {
		switch {
		case overwrites:
			t.a.Fill.Overwritten++
		case fills:
			t.a.Fill.Recovered++
		}
		return nil
	}
	filled, did, err := jsonmerge.Fill(o.src, b.src, jsonmerge.Options{NullIsMissing: d.opt.NullIsMissing})
	if err != nil || !did {
		filled = o.src
	}
	if did {
		patch, same, err := t.cmp.compare(o.src, filled)
		if err != nil {
			return err
		}
		switch {
		case same:
		case overwrites(patch):
			t.a.Fill.Overwritten++
		default:
			t.a.Fill.Recovered++
		}
	}
	if missingIn(loss, filled) {
		t.a.Fill.NotRecovered++
	}
	return nil
}

// fillByPatch tells the fill's outcome from the loss patch when every
// path it adds (and, with nullIsMissing, every null it replaces) runs
// through object members only: the fill then adds exactly those paths,
// and replaces exactly those nulls, so its patch is theirs and it lacks
// none of them. ok is false when a path holds a segment that may be an
// array index: only the fill itself tells then.
func fillByPatch(loss jsondiff.Patch, nullIsMissing bool) (fills, overwrites, ok bool) {
	for i, op := range loss {
		switch {
		case op.Type == jsondiff.OperationAdd:
			fills = true
		case nullIsMissing && op.Type == jsondiff.OperationReplace && oldValue(loss, i) == nil:
			overwrites = true
		default:
			continue
		}
		for _, seg := range strings.Split(op.Path, "/")[1:] {
			if _, index := arrayIndex(seg); index || seg == "-" {
				return false, false, false
			}
		}
	}
	return fills, overwrites, true
}

// missingIn reports whether target lacks a path the loss patch adds: the
// document is not recovered there (classify's rule).
func missingIn(loss jsondiff.Patch, target []byte) bool {
	for _, op := range loss {
		if op.Type == jsondiff.OperationAdd && !hasPointer(target, op.Path) {
			return true
		}
	}
	return false
}

func hasAdd(p jsondiff.Patch) bool {
	for _, op := range p {
		if op.Type == jsondiff.OperationAdd {
			return true
		}
	}
	return false
}

// altSet gathers the workers' tallies.
type altSet struct {
	tallies[altTally]
}

// tally returns a new tally that result will include.
func (s *altSet) tally(d *Differ) *altTally {
	return s.add(&altTally{cmp: newComparer(d.ignore, true)})
}

// result sums the tallies.
func (s *altSet) result() *Alternatives {
	out := &Alternatives{}
	for _, t := range s.list() {
		for _, p := range []struct{ sum, one *Alternative }{
			{&out.Original, &t.a.Original}, {&out.Source, &t.a.Source}, {&out.Fill, &t.a.Fill},
		} {
			p.sum.Overwritten += p.one.Overwritten
			p.sum.Recovered += p.one.Recovered
			p.sum.NotRecovered += p.one.NotRecovered
			p.sum.Added += p.one.Added
			p.sum.Watched += p.one.Watched
		}
	}
	return out
}

// backupDoc counts one document of a three-sided diff in the loss
// profile (when it is in the backup) and the prefer alternatives: o and
// b are its original's and backup's copies (b nil when the backup lacks
// it or the scope leaves it out); loss, equal and stripped are
// classify's comparison of them.
func (d *Differ) backupDoc(w *worker, id string, o, b *ref, loss jsondiff.Patch, equal, stripped bool) error {
	if w.prof != nil && b != nil {
		w.prof.count(b.src, o == nil, stripped)
	}
	if err := w.alt.count(d, o, b, loss, equal); err != nil {
		return fmt.Errorf("compare document %q with its filled copy: %w", id, err)
	}
	if err := w.alt.watched(d, id, o, b); err != nil {
		return err
	}
	return nil
}

// watched counts the document under each prefer whose would-be target
// a watch matches (Options.Watch): the watched reason each prefer would
// give. Only with watches, since the fill is built for it.
func (t *altTally) watched(d *Differ, id string, o, b *ref) error {
	if len(d.watch.ws) == 0 || b == nil {
		return nil // a document only in the original stays as it is
	}
	for _, p := range []struct {
		overlay Overlay
		n       *int64
	}{
		{OverlayPreferOriginal, &t.a.Original.Watched},
		{OverlayPreferSource, &t.a.Source.Watched},
		{OverlayFill, &t.a.Fill.Watched},
	} {
		hit, err := d.watch.hit(&t.watch, id, o, d.overlayTarget(p.overlay, o, b))
		if err != nil {
			return err
		}
		if hit {
			*p.n++
		}
	}
	return nil
}
