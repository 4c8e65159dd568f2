package report

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/esrestore/esrestore/diff"
)

// FailOnKinds are the reason kinds --fail-on may name.
var FailOnKinds = []string{ReasonFailed, ReasonRemoved, ReasonOverwritten, ReasonNotRecovered, ReasonMappings,
	ReasonLiveWrites, ReasonIncomplete, ReasonSourceExcludes, ReasonSourceIndex, ReasonWatched}

// DefaultFailOn is what --fail-on defaults to: every reason an alias
// switch would lose data for.
var DefaultFailOn = []string{ReasonFailed, ReasonRemoved, ReasonOverwritten, ReasonNotRecovered, ReasonSourceExcludes}

// topFields is how many busiest fields a reason names.
const topFields = 3

// Judge returns the verdict on s: one reason per condition against
// switching the alias to the target, in a fixed order.
func Judge(s *Summary) Verdict {
	var rs []Reason
	add := func(kind string, n int64, format string, args ...any) {
		rs = append(rs, Reason{Kind: kind, Count: n, Text: fmt.Sprintf(format, args...)})
	}
	if r, ok := watchedReason(s); ok {
		rs = append(rs, r) // named first: the operator asked for it
	}
	if !s.Complete {
		why := "the run did not finish"
		if s.Error != "" {
			why += ": " + s.Error
		}
		add(ReasonIncomplete, 0, "incomplete: %s; do not act on this report", why)
	}
	if n := s.DumpBadLines; n > 0 && s.Restore == nil {
		// A restore records them as failures; without one, the verdict.
		add(ReasonFailed, n, "%d dump lines are not documents or repeat an earlier line's _id: the diff skipped them, a restore fails them", n)
	}
	if n := int64(len(s.DuplicateIDs)); n > 0 && s.Restore == nil {
		// Without a restore (a dry run, a diff) nothing records them as
		// failures: the verdict does.
		add(ReasonFailed, n, "%d ids are held under several routings (%s): no copy of them can be restored, and the diff left them out",
			n, dupList(s.DuplicateIDs))
	}
	if r := s.Restore; r != nil {
		if r.Failed > 0 {
			dup := ""
			if r.Duplicates > 0 {
				dup = fmt.Sprintf("; %d of them repeat the _id of an earlier dump line, whose copy was restored", r.Duplicates)
			}
			if len(s.DuplicateIDs) > 0 {
				dup += fmt.Sprintf("; ids held under several routings, no copy restored: %s", dupList(s.DuplicateIDs))
			}
			add(ReasonFailed, r.Failed, "%s failed to restore (see %s)%s", docs(r.Failed), FailuresName, dup)
		}
		if r.Pending > 0 {
			add(ReasonIncomplete, r.Pending, "%s pending: read but not settled when the run stopped", docs(r.Pending))
		}
	}
	if o := s.Outcome; o != nil {
		if o.Removed > 0 {
			add(ReasonRemoved, o.Removed, "%s: only in the original, a switch would lose them", docs(o.Removed))
		}
		if o.Overwritten > 0 {
			add(ReasonOverwritten, o.Overwritten, "%s: live values would be overwritten%s", docs(o.Overwritten),
				busiest(s.Fields, diff.FieldOverwritten))
		}
	}
	if l := s.Loss; l != nil && l.NotRecovered > 0 {
		text := fmt.Sprintf("%s: backup values not recovered%s", docs(l.NotRecovered), busiest(s.Fields, diff.FieldNotRecovered))
		if l.NotRecoveredLost > 0 {
			text += fmt.Sprintf("; %s of them lost whole", docs(l.NotRecoveredLost))
		}
		rs = append(rs, Reason{Kind: ReasonNotRecovered, Count: l.NotRecovered, Text: text})
	}
	if x := s.Indexes; x != nil {
		for _, d := range []struct {
			what  string
			patch []diffOp
		}{
			{"mappings differ between the original and the target", opsOf(x.Mappings)},
			{"settings differ between the original and the target", opsOf(x.Settings)},
			{"the snapshot's mappings differ from the original's", opsOf(x.SnapshotMappings)},
		} {
			if len(d.patch) > 0 {
				add(ReasonMappings, int64(len(d.patch)), "%s (%s)", d.what, opPaths(d.patch))
			}
		}
	}
	if l := s.Live; l != nil {
		if n := l.Total(); n > 0 {
			add(ReasonLiveWrites, n,
				"%s written in the original after the instant the run compared (%s): %d new, %d changed, %d deleted by %s; the promote's catch-up brings them across",
				docs(n), l.At.UTC().Format(time.RFC3339), l.New, l.Changed, l.Deleted, l.Until.UTC().Format(time.RFC3339))
		}
	} else if o := s.Integrity.Original; o != nil && o.CountEnd != o.CountStart {
		add(ReasonLiveWrites, o.CountEnd-o.CountStart,
			"the original's _count went from %d to %d during the run: it took live writes the report may not show",
			o.CountStart, o.CountEnd)
	}
	if lost := lostHidden(s); len(lost) > 0 {
		parts := make([]string, len(lost))
		var most int64
		for i, h := range lost {
			parts[i] = fmt.Sprintf("%s (%s in the original", h.Path, docs(h.Documents))
			if h.Target != nil {
				parts[i] += fmt.Sprintf(", %d in the target", *h.Target)
			}
			parts[i] += ")"
			most = max(most, h.Documents)
		}
		add(ReasonSourceExcludes, most,
			"the original's mapping leaves fields out of _source (_source.excludes): a copy through _bulk cannot carry them, and the target lacks them: %s",
			strings.Join(parts, ", "))
	}
	if s.SourceIndex != "" {
		add(ReasonSourceIndex, 0, "the source is the snapshot's index %q, not the original's: named on purpose with --source-index",
			s.SourceIndex)
	}
	v := Verdict{Status: StatusOK, Reasons: rs}
	if v.Reasons == nil {
		v.Reasons = []Reason{}
	}
	if len(rs) > 0 {
		v.Status = StatusReview
	}
	return v
}

// FailOn are the texts of the reasons whose kind the --fail-on list
// kinds names, in the verdict's order: a run with any finishes, then
// fails.
func (v Verdict) FailOn(kinds []string) []string {
	var hit []string
	for _, r := range v.Reasons {
		if slices.Contains(kinds, r.Kind) {
			hit = append(hit, r.Text)
		}
	}
	return hit
}

// Line is the verdict in one line, for the end of the job's output.
func (v Verdict) Line() string {
	if v.Status == StatusOK {
		return "verdict ok: switching the alias loses and overwrites nothing"
	}
	texts := make([]string, len(v.Reasons))
	for i, r := range v.Reasons {
		texts[i] = r.Text
	}
	return "verdict review: " + strings.Join(texts, "; ")
}

// docs says "1 document" or "n documents".
func docs(n int64) string {
	if n == 1 {
		return "1 document"
	}
	return fmt.Sprintf("%d documents", n)
}

// busiest names the busiest paths of class: " (/title 40, /modified 40)";
// an overwritten path with transitions names them: "/visibility 20:
// INTERNAL → PUBLIC 17, PUBLIC → INTERNAL 3".
func busiest(f *diff.Fields, class string) string {
	if f == nil {
		return ""
	}
	var rows []diff.FieldStat
	for _, r := range f.Paths {
		if r.Class == class {
			rows = append(rows, r)
		}
	}
	slices.SortStableFunc(rows, func(a, b diff.FieldStat) int { return cmp.Compare(b.Documents, a.Documents) })
	if len(rows) == 0 {
		return ""
	}
	parts := make([]string, 0, topFields+1)
	for i, r := range rows {
		if i == topFields {
			parts = append(parts, fmt.Sprintf("and %d more", len(rows)-topFields))
			break
		}
		part := fmt.Sprintf("%s %d", r.Path, r.Documents)
		if class == diff.FieldOverwritten {
			part += transitionsOf(f, r.Path)
		}
		parts = append(parts, part)
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// diffOp is the part of a patch operation a reason names.
type diffOp struct{ op, path string }

func opsOf(p []PatchOp) []diffOp {
	var out []diffOp
	for _, o := range p {
		if o.Type != "test" {
			out = append(out, diffOp{o.Type, o.Path})
		}
	}
	return out
}

// opPaths lists the first operations of a patch: "add /properties/x".
func opPaths(ops []diffOp) string {
	parts := make([]string, 0, 4)
	for i, o := range ops {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("and %d more", len(ops)-3))
			break
		}
		parts = append(parts, o.op+" "+o.path)
	}
	return strings.Join(parts, ", ")
}

// lostHidden are the fields of the original's _source.excludes the
// target may lack: every one held by a document when the target was not
// restored from the snapshot (the only load that keeps them), or not
// known yet; else those the target holds in fewer documents than the
// original did (the reconciliation rewrote documents from the original's
// _source).
func lostHidden(s *Summary) []HiddenField {
	kept := s.Restore != nil && s.Restore.Load == "snapshot-as-target"
	var out []HiddenField
	for _, h := range s.SourceExcludes {
		switch {
		case h.Documents == 0:
		case !kept || h.Target == nil || *h.Target < h.Documents:
			out = append(out, h)
		}
	}
	return out
}

// dupList names the first ids under several routings: "dup (a, c)".
func dupList(ds []DuplicateID) string {
	parts := make([]string, 0, 4)
	for i, d := range ds {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("and %d more", len(ds)-3))
			break
		}
		rs := make([]string, len(d.Routings))
		for j, r := range d.Routings {
			rs[j] = fmt.Sprintf("%q", r)
		}
		parts = append(parts, fmt.Sprintf("%q under routings %s", d.ID, strings.Join(rs, " and ")))
	}
	return strings.Join(parts, ", ")
}
