package report

import (
	"testing"

	"github.com/esrestore/esrestore/diff"
)

func TestAlternatives(t *testing.T) {
	alts := diff.Alternatives{
		Original: diff.Alternative{NotRecovered: 50, Added: 410},
		Source:   diff.Alternative{Overwritten: 60, Recovered: 40, Added: 410},
		Fill:     diff.Alternative{Recovered: 50, Added: 410},
	}
	// A --prefer source run: its own verdict is review (overwritten).
	run := func() *Summary {
		return &Summary{Complete: true,
			Outcome: &diff.Outcome{Original: 1000, Target: 1410, Unchanged: 900, Recovered: 40, Overwritten: 60, Added: 410, RoutingChanged: 2},
			Loss:    &diff.Loss{Backup: 1400, Lost: 410}}
	}
	for _, tt := range []struct {
		name  string
		edit  func(s *Summary)
		wantO string
		wantS string
		wantF string
	}{
		{"clean otherwise", func(*Summary) {}, StatusReview, StatusReview, StatusOK},
		{"failures", func(s *Summary) { s.Restore = &Restore{Failed: 1} }, StatusReview, StatusReview, StatusReview},
		{"removed", func(s *Summary) { s.Outcome.Removed = 3 }, StatusReview, StatusReview, StatusReview},
		{"incomplete", func(s *Summary) { s.Complete = false }, StatusReview, StatusReview, StatusReview},
		{"mappings", func(s *Summary) {
			s.Indexes = &IndexDiff{Mappings: []PatchOp{{Type: "add", Path: "/properties/x"}}}
		}, StatusReview, StatusReview, StatusReview},
	} {
		s := run()
		tt.edit(s)
		before := *s.Outcome
		got := Alternatives(s, alts)
		if got.Original.Status != tt.wantO || got.Source.Status != tt.wantS || got.Fill.Status != tt.wantF {
			t.Errorf("%s: statuses original %s source %s fill %s, want %s %s %s", tt.name,
				got.Original.Status, got.Source.Status, got.Fill.Status, tt.wantO, tt.wantS, tt.wantF)
		}
		if got.Counts() != alts {
			t.Errorf("%s: counts %+v, want %+v", tt.name, got.Counts(), alts)
		}
		if *s.Outcome != before {
			t.Errorf("%s: the summary's outcome changed: %+v", tt.name, *s.Outcome)
		}
	}
}
