package page

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/esrestore/esrestore/diff"
	"github.com/esrestore/esrestore/report"
)

// The parts of the page a reviewer decides with: reasons that lead to
// the documents they count, the field table split into what was lost
// since the backup and what the switch does, the transitions of values
// that decide who sees what, the shape of the loss, the choice of
// --prefer not made, the watched paths and the restore's scope.

// Bounds of what the page shows of the summary's lists, whatever their
// length there: the rest is counted and left to summary.json.
const (
	maxTransitions    = 100
	maxProfilePaths   = 20
	maxProfileValues  = 20
	maxProfileBuckets = 400
	maxWatched        = 50
)

// reasonView is one verdict reason with where it leads: Filter names the
// documents' class filter it applies, Href the place it goes.
type reasonView struct {
	report.Reason
	Href, Filter string
}

// reasonTargets maps a reason kind to the documents' filter it applies
// ("" for none) and its link.
var reasonTargets = map[string]struct{ filter, href string }{
	report.ReasonOverwritten:  {diff.ChangeOverwritten, ""},
	report.ReasonRemoved:      {diff.ChangeRemoved, ""},
	report.ReasonNotRecovered: {diff.ChangeNotRecovered, ""},
	report.ReasonWatched:      {filterWatched, ""},
	diff.ChangeSkipped:        {diff.ChangeSkipped, ""},
	report.ReasonFailed:       {"", "#failures"},
	report.ReasonMappings:     {"", "#indexes"},
	report.ReasonLiveWrites:   {"", "#counts"},
}

// filterWatched is the documents' filter of the lines with a "watched"
// member, whatever their class.
const filterWatched = "watched"

func (v *view) reasons(s *report.Summary) {
	for _, r := range s.Verdict.Reasons {
		rv := reasonView{Reason: r}
		if t, ok := reasonTargets[r.Kind]; ok {
			rv.Filter, rv.Href = t.filter, t.href
			if t.filter != "" {
				rv.Href = "#show-" + t.filter
			}
		}
		v.Reasons = append(v.Reasons, rv)
	}
}

// fieldTable is one of the two field tables.
type fieldTable struct {
	Name, Title, Note, Before, After string
	Rows                             []fieldRow
}

// lossField is a loss class: its samples read backup → live.
func lossField(class string) bool {
	switch class {
	case diff.FieldStripped, diff.FieldEditedSinceBackup, diff.FieldNotRecovered:
		return true
	}
	return false
}

// splitFields puts the loss classes and the outcome classes in tables of
// their own, each with its direction: a loss row's sample is the backup's
// value, then the live one (older → newer); an outcome row's the live
// value, then the target's.
func (v *view) splitFields() {
	loss := fieldTable{Name: "loss", Title: "Lost since the backup",
		Note:   "original vs backup, older → newer: what the incident, or the application, changed since the backup. The restore does not do these; they explain the counts of the loss.",
		Before: "backup", After: "live"}
	outcome := fieldTable{Name: "outcome", Title: "What the switch does",
		Note:   "original → target: what moving the alias to the target changes in each live document.",
		Before: "live", After: "target"}
	for _, f := range v.Fields {
		if lossField(f.Class) {
			// Loss samples are the original → backup patch: Before is
			// live, After the backup's.
			for i, sm := range f.Samples {
				f.Samples[i].Before, f.Samples[i].After = sm.After, sm.Before
			}
			loss.Rows = append(loss.Rows, f)
			continue
		}
		outcome.Rows = append(outcome.Rows, f)
	}
	v.FieldTables = []fieldTable{loss, outcome}
}

// transitionRow is one value change of a small-valued path.
type transitionRow struct {
	Path, From, To string
	Documents      int64
}

func (v *view) transitions(s *report.Summary) {
	if s.Fields == nil {
		return
	}
	for i, t := range s.Fields.Transitions {
		if i == maxTransitions {
			v.TransitionsMore = len(s.Fields.Transitions) - i
			break
		}
		v.Transitions = append(v.Transitions, transitionRow{Path: t.Path, From: valueShown(t.From), To: valueShown(t.To), Documents: t.Documents})
	}
}

// valueShown is a JSON value as the page names it: a string without its
// quotes, anything else as JSON, "(absent)" for none.
func valueShown(m json.RawMessage) string {
	if len(m) == 0 || string(m) == "null" {
		return "(absent)"
	}
	var str string
	if json.Unmarshal(m, &str) == nil {
		return str
	}
	return string(m)
}

// profileView is the shape of the loss beside the backup's.
type profileView struct {
	Lost, Stripped, Backup int64
	Fields                 []profileFieldView
	// More counts the profiled paths past maxProfilePaths.
	More int
	Date *profileDateView
	// Top are the values that set the lost documents apart most.
	Top []profileTop
}

type profileFieldView struct {
	Path  string
	Lines []profileLine
	// More counts the values past maxProfileValues.
	More int
}

// maxProfileTop is how many paths the profile names in the open: those
// whose lost documents differ most from the backup.
const maxProfileTop = 3

// standOut fills Top: for each path, the value whose share of the lost
// documents exceeds its share of the backup the most, the paths ordered
// by that excess, so an incident reads in the first lines and the full
// tables can stay folded.
func (p *profileView) standOut() {
	type cand struct {
		path   string
		line   profileLine
		excess float64
	}
	var cs []cand
	for _, f := range p.Fields {
		best, found := cand{path: f.Path}, false
		for _, l := range f.Lines {
			if l.Other || l.Lost == 0 {
				continue
			}
			if e := l.LostShare - l.BackupShare; !found || e > best.excess {
				best.line, best.excess, found = l, e, true
			}
		}
		if found {
			cs = append(cs, best)
		}
	}
	slices.SortStableFunc(cs, func(a, b cand) int { return cmp.Compare(b.excess, a.excess) })
	for i, c := range cs {
		if i == maxProfileTop {
			break
		}
		p.Top = append(p.Top, profileTop{Path: c.path, profileLine: c.line})
	}
}

// profileTop is one path's most over-represented value among the lost.
type profileTop struct {
	Path string
	profileLine
}

// profileLine is one value of a profiled path, and the sentence that
// says it.
type profileLine struct {
	Value                  string
	Lost, Stripped, Backup int64
	// LostShare and BackupShare are fractions (0..1) for the bars.
	LostShare, BackupShare float64
	Other                  bool
}

type profileDateView struct {
	Path, Unit string
	Buckets    []bucketRow
	// More counts the buckets past maxProfileBuckets.
	More int
}

type bucketRow struct {
	Key                    string
	Lost, Stripped, Backup int64
	LostShare, BackupShare float64
}

func share(n, of int64) float64 {
	if of <= 0 {
		return 0
	}
	return float64(n) / float64(of)
}

func (v *view) profile(s *report.Summary) {
	l := s.Loss
	if l == nil || (len(l.Profile) == 0 && l.ProfileDate == nil) {
		return
	}
	p := &profileView{Lost: l.Lost, Stripped: l.Stripped, Backup: l.Backup}
	defer p.standOut()
	for i, f := range l.Profile {
		if i == maxProfilePaths {
			p.More = len(l.Profile) - i
			break
		}
		fv := profileFieldView{Path: f.Path}
		add := func(value string, c diff.ProfileCounts, other bool) {
			fv.Lines = append(fv.Lines, profileLine{Value: value, Lost: c.Lost, Stripped: c.Stripped, Backup: c.Backup,
				LostShare: share(c.Lost, l.Lost), BackupShare: share(c.Backup, l.Backup), Other: other})
		}
		for j, val := range f.Values {
			if j == maxProfileValues {
				fv.More = len(f.Values) - j
				break
			}
			add(valueShown(val.Value), val.ProfileCounts, false)
		}
		if f.Other != nil {
			add("(other values)", *f.Other, true)
		}
		p.Fields = append(p.Fields, fv)
	}
	if d := l.ProfileDate; d != nil {
		dv := &profileDateView{Path: d.Path, Unit: d.Unit}
		for j, b := range d.Buckets {
			if j == maxProfileBuckets {
				dv.More = len(d.Buckets) - j
				break
			}
			dv.Buckets = append(dv.Buckets, bucketRow{Key: b.Key, Lost: b.Lost, Stripped: b.Stripped, Backup: b.Backup,
				LostShare: share(b.Lost, l.Lost), BackupShare: share(b.Backup, l.Backup)})
		}
		p.Date = dv
	}
	v.Profile = p
}

// percent is a share as the page says it: "31%", "<1%" for a small
// nonzero one.
func percent(f float64) string {
	switch {
	case f <= 0:
		return "0%"
	case f < 0.01:
		return "<1%"
	}
	return fmt.Sprintf("%.0f%%", f*100)
}

// alternativeRow is one --prefer's outcome on the same three sides.
type alternativeRow struct {
	Prefer string
	report.Alternative
	Chosen, Best bool
}

// alternativesView is the table of the three prefers; Best names the
// best one when it is not the chosen one.
type alternativesView struct {
	Rows []alternativeRow
	Best string
	// Watches says the run watched paths: the table shows what each
	// prefer's target would match.
	Watches bool
}

// alternatives builds the table. The best prefer is one whose verdict is
// ok if any is, then the one that overwrites, leaves unrecovered and
// makes the watches match the fewest documents, then recovers the most;
// the chosen one wins a tie.
func (v *view) alternatives(s *report.Summary) {
	a := s.PreferAlternatives
	if a == nil {
		return
	}
	av := &alternativesView{Watches: len(s.Watched) > 0}
	for _, r := range []alternativeRow{{Prefer: "original", Alternative: a.Original}, {Prefer: "source", Alternative: a.Source}, {Prefer: "fill", Alternative: a.Fill}} {
		r.Chosen = r.Prefer == s.Prefer
		av.Rows = append(av.Rows, r)
	}
	worse := func(x, y alternativeRow) bool { // x worse than y
		if x.Status != y.Status {
			return x.Status != report.StatusOK
		}
		if bx, by := x.Overwritten+x.NotRecovered+x.Watched, y.Overwritten+y.NotRecovered+y.Watched; bx != by {
			return bx > by
		}
		if x.Recovered != y.Recovered {
			return x.Recovered < y.Recovered
		}
		return !x.Chosen && y.Chosen
	}
	best := 0
	for i := range av.Rows {
		if worse(av.Rows[best], av.Rows[i]) {
			best = i
		}
	}
	av.Rows[best].Best = true
	if !av.Rows[best].Chosen {
		av.Best = av.Rows[best].Prefer
	}
	v.Alternatives = av
}

// watchRow is one --watch and the documents it matched.
type watchRow struct {
	Path, Value string
	Documents   int64
}

func (v *view) watched(s *report.Summary) {
	for i, w := range s.Watched {
		if i == maxWatched {
			v.WatchedMore = len(s.Watched) - i
			break
		}
		row := watchRow{Path: w.Path, Documents: w.Documents, Value: "any change"}
		if len(w.Value) > 0 {
			row.Value = "becomes " + valueShown(w.Value)
		}
		v.Watched = append(v.Watched, row)
	}
}

// scopeView is what the operator left out of the restore.
type scopeView struct {
	*report.Scope
	OnlyQuery            string
	Skipped, ReadSkipped int64
}

func (v *view) scope(s *report.Summary) {
	sc := s.Scope
	skipped, readSkipped := int64(0), int64(0)
	if s.Outcome != nil {
		skipped = s.Outcome.Skipped
	}
	if s.Restore != nil {
		readSkipped = s.Restore.Skipped
	}
	if sc == nil && skipped == 0 && readSkipped == 0 {
		return
	}
	if sc == nil {
		sc = &report.Scope{}
	}
	sv := &scopeView{Scope: sc, Skipped: skipped, ReadSkipped: readSkipped}
	if len(sc.OnlyQuery) > 0 {
		sv.OnlyQuery = strings.TrimSpace(string(sc.OnlyQuery))
	}
	v.Scope = sv
}
