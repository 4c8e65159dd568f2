package report

import "github.com/esrestore/esrestore/diff"

// Alternatives returns the prefer alternatives a (diff.Counts.Alternatives)
// with each row's verdict status, judged on s.
//
// A row's status is Judge's on a copy of s whose outcome and loss hold
// that prefer's counts: overwritten, recovered and added in the outcome,
// not recovered in the loss (of which no more lost whole than the run
// had), and the documents the watches would match. Every other reason stays the run's own: failures, documents only
// in the original, mappings, live writes, fields left out of _source, an
// incomplete run. So a row reads "ok" only when that prefer would
// overwrite nothing, recover every backup value, and the run has no other
// reason against the switch.
func Alternatives(s *Summary, a diff.Alternatives) *PreferAlternatives {
	row := func(alt diff.Alternative) Alternative {
		c := *s
		c.PreferAlternatives = nil
		o := diff.Outcome{}
		if s.Outcome != nil {
			o = *s.Outcome
		}
		o.Overwritten, o.Recovered, o.Added = alt.Overwritten, alt.Recovered, alt.Added
		if alt.Overwritten == 0 {
			o.RoutingChanged = 0
		}
		c.Outcome = &o
		l := diff.Loss{}
		if s.Loss != nil {
			l = *s.Loss
		}
		l.NotRecovered = alt.NotRecovered
		l.NotRecoveredLost = min(l.NotRecoveredLost, alt.NotRecovered)
		c.Loss = &l
		// The watches are judged on that prefer's target too.
		c.Watched, c.WatchedDocuments = nil, alt.Watched
		return Alternative{Status: Judge(&c).Status, Alternative: alt}
	}
	return &PreferAlternatives{Original: row(a.Original), Source: row(a.Source), Fill: row(a.Fill)}
}

// Counts returns the rows' counts, without their statuses: what
// Alternatives takes to judge them again.
func (p *PreferAlternatives) Counts() diff.Alternatives {
	return diff.Alternatives{Original: p.Original.Alternative, Source: p.Source.Alternative, Fill: p.Fill.Alternative}
}
