package report

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/esrestore/esrestore/diff"
)

// TestJudgeEachReason: each condition against the switch gives its one
// reason, with its kind, count and sentence; a summary with none is ok.
func TestJudgeEachReason(t *testing.T) {
	at := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	four := int64(4)
	one := int64(1)
	for _, tt := range []struct {
		name  string
		edit  func(s *Summary)
		kind  string
		count int64
		text  string
	}{
		{"incomplete", func(s *Summary) { s.Complete, s.Error = false, "boom" },
			ReasonIncomplete, 0, "incomplete: the run did not finish: boom; do not act on this report"},
		{"bad dump lines without a restore", func(s *Summary) { s.DumpBadLines = 3 },
			ReasonFailed, 3, "3 dump lines are not documents or repeat an earlier line's _id: the diff skipped them, a restore fails them"},
		{"ids under several routings without a restore", func(s *Summary) {
			s.DuplicateIDs = []DuplicateID{{Index: "documents", ID: "a", Routings: []string{"1", "2"}}}
		}, ReasonFailed, 1, `1 ids are held under several routings ("a" under routings "1" and "2"): no copy of them can be restored, and the diff left them out`},
		{"failed to restore", func(s *Summary) { s.Restore = &Restore{Read: 10, Indexed: 7, Failed: 3} },
			ReasonFailed, 3, "3 documents failed to restore (see " + FailuresName + ")"},
		{"pending", func(s *Summary) { s.Restore = &Restore{Read: 10, Indexed: 8, Pending: 2} },
			ReasonIncomplete, 2, "2 documents pending: read but not settled when the run stopped"},
		{"removed", func(s *Summary) { s.Outcome.Removed = 2 },
			ReasonRemoved, 2, "2 documents: only in the original, a switch would lose them"},
		{"overwritten", func(s *Summary) { s.Outcome.Overwritten = 1 },
			ReasonOverwritten, 1, "1 document: live values would be overwritten"},
		{"not recovered", func(s *Summary) { s.Loss = &diff.Loss{Backup: 10, NotRecovered: 5, NotRecoveredLost: 2} },
			ReasonNotRecovered, 5, "5 documents: backup values not recovered; 2 documents of them lost whole"},
		{"mappings", func(s *Summary) {
			s.Indexes = &IndexDiff{Mappings: []PatchOp{{Type: "test", Path: "/properties"}, {Type: "add", Path: "/properties/x"}}, Settings: []PatchOp{}}
		}, ReasonMappings, 1, "mappings differ between the original and the target (add /properties/x)"},
		{"settings", func(s *Summary) {
			s.Indexes = &IndexDiff{Mappings: []PatchOp{}, Settings: []PatchOp{{Type: "replace", Path: "/a"}, {Type: "replace", Path: "/b"},
				{Type: "remove", Path: "/c"}, {Type: "add", Path: "/d"}}}
		}, ReasonMappings, 4, "settings differ between the original and the target (replace /a, replace /b, remove /c, and 1 more)"},
		{"snapshot mappings", func(s *Summary) {
			s.Indexes = &IndexDiff{SnapshotMappings: []PatchOp{{Type: "remove", Path: "/properties/_type"}}}
		}, ReasonMappings, 1, "the snapshot's mappings differ from the original's (remove /properties/_type)"},
		{"live writes since the instant", func(s *Summary) {
			s.Live = &Live{At: at, Until: at.Add(time.Hour), New: 1, Changed: 2, Deleted: 3}
		}, ReasonLiveWrites, 6, "6 documents written in the original after the instant the run compared (2026-12-06T10:00:00Z): " +
			"1 new, 2 changed, 3 deleted by 2026-12-06T11:00:00Z; the promote's catch-up brings them across"},
		{"count changed without an instant", func(s *Summary) {
			s.Integrity.Original = &IndexState{Name: "documents", CountStart: 10, CountEnd: 12}
		}, ReasonLiveWrites, 2, "the original's _count went from 10 to 12 during the run: it took live writes the report may not show"},
		{"fields left out of _source, copied through _bulk", func(s *Summary) {
			s.SourceExcludes = []HiddenField{{Path: "/secret", Documents: 4, Target: &one}}
			s.Restore = &Restore{Read: 10, Indexed: 10, Load: "bulk"}
		}, ReasonSourceExcludes, 4, "the original's mapping leaves fields out of _source (_source.excludes): a copy through _bulk cannot " +
			"carry them, and the target lacks them: /secret (4 documents in the original, 1 in the target)"},
		{"source index named on purpose", func(s *Summary) { s.SourceIndex = "other" },
			ReasonSourceIndex, 0, `the source is the snapshot's index "other", not the original's: named on purpose with --source-index`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := clean()
			tt.edit(s)
			v := Judge(s)
			want := []Reason{{Kind: tt.kind, Count: tt.count, Text: tt.text}}
			if !slices.Equal(v.Reasons, want) {
				t.Errorf("reasons\n got %+v\nwant %+v", v.Reasons, want)
			}
			if v.Status != StatusReview {
				t.Errorf("status %q, want %q", v.Status, StatusReview)
			}
			if got, want := v.Line(), "verdict review: "+tt.text; got != want {
				t.Errorf("line %q, want %q", got, want)
			}
		})
	}

	// The same conditions that are not reasons.
	for _, tt := range []struct {
		name string
		edit func(s *Summary)
	}{
		{"bad dump lines a restore failed", func(s *Summary) { s.DumpBadLines, s.Restore = 3, &Restore{Read: 3, Indexed: 3} }},
		{"fields left out of _source a snapshot kept", func(s *Summary) {
			s.SourceExcludes = []HiddenField{{Path: "/secret", Documents: 4, Target: &four}}
			s.Restore = &Restore{Read: 10, Kept: 10, Load: "snapshot-as-target"}
		}},
		{"fields left out of _source no document holds", func(s *Summary) {
			s.SourceExcludes = []HiddenField{{Path: "/secret"}}
		}},
		{"count unchanged", func(s *Summary) { s.Integrity.Original = &IndexState{CountStart: 10, CountEnd: 10} }},
		{"no live writes since the instant", func(s *Summary) {
			s.Live = &Live{At: at, Until: at}
			s.Integrity.Original = &IndexState{CountStart: 10, CountEnd: 12} // the instant's account wins
		}},
		{"indexes alike", func(s *Summary) { s.Indexes = &IndexDiff{Mappings: []PatchOp{}, Settings: []PatchOp{}} }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := clean()
			tt.edit(s)
			if v := Judge(s); v.Status != StatusOK || len(v.Reasons) != 0 {
				t.Errorf("verdict %+v, want ok", v)
			}
		})
	}
}

// clean is a complete run's summary with nothing against the switch.
func clean() *Summary {
	return &Summary{Complete: true,
		Outcome: &diff.Outcome{Original: 100, Target: 110, Unchanged: 90, Recovered: 10, Added: 10},
		Loss:    &diff.Loss{Backup: 110, Lost: 10}}
}

// TestJudgeOrder: the reasons come in a fixed order, whatever the
// summary's fields, each kind one of the --fail-on names.
func TestJudgeOrder(t *testing.T) {
	s := clean()
	s.Complete = false
	s.Restore = &Restore{Read: 10, Indexed: 5, Failed: 3, Pending: 2}
	s.Outcome.Removed, s.Outcome.Overwritten = 1, 1
	s.Loss.NotRecovered = 1
	s.Indexes = &IndexDiff{Mappings: []PatchOp{{Type: "add", Path: "/properties/x"}}}
	s.Integrity.Original = &IndexState{CountStart: 1, CountEnd: 2}
	s.SourceExcludes = []HiddenField{{Path: "/secret", Documents: 1}}
	s.SourceIndex = "other"
	v := Judge(s)
	var kinds []string
	for _, r := range v.Reasons {
		kinds = append(kinds, r.Kind)
		if !slices.Contains(FailOnKinds, r.Kind) {
			t.Errorf("reason kind %q is not one --fail-on may name", r.Kind)
		}
	}
	want := []string{ReasonIncomplete, ReasonFailed, ReasonIncomplete, ReasonRemoved, ReasonOverwritten, ReasonNotRecovered,
		ReasonMappings, ReasonLiveWrites, ReasonSourceExcludes, ReasonSourceIndex}
	if !slices.Equal(kinds, want) {
		t.Errorf("kinds\n got %q\nwant %q", kinds, want)
	}
	for _, k := range DefaultFailOn {
		if !slices.Contains(FailOnKinds, k) {
			t.Errorf("default --fail-on %q is not a reason kind", k)
		}
	}
}

// TestVerdictOKReviewFail: ok has no reason; review has some; a review
// fails (exit 3) when --fail-on names one of its reasons, and the texts
// it fails with are those reasons', in the verdict's order.
func TestVerdictOKReviewFail(t *testing.T) {
	ok := Judge(clean())
	if ok.Status != StatusOK || ok.Reasons == nil || len(ok.Reasons) != 0 {
		t.Errorf("clean run: %+v, want ok with an empty list of reasons", ok)
	}
	if ok.Line() != "verdict ok: switching the alias loses and overwrites nothing" {
		t.Errorf("ok line %q", ok.Line())
	}
	if hit := ok.FailOn(FailOnKinds); hit != nil {
		t.Errorf("ok fails on %q", hit)
	}

	// Live writes alone: a review that the default --fail-on lets pass.
	s := clean()
	s.Integrity.Original = &IndexState{CountStart: 10, CountEnd: 11}
	review := Judge(s)
	if review.Status != StatusReview || len(review.Reasons) != 1 {
		t.Fatalf("live writes: %+v, want review for one reason", review)
	}
	if hit := review.FailOn(DefaultFailOn); hit != nil {
		t.Errorf("live writes fail the default --fail-on: %q", hit)
	}
	if hit := review.FailOn([]string{ReasonLiveWrites}); !slices.Equal(hit, []string{review.Reasons[0].Text}) {
		t.Errorf("--fail-on live-writes: %q, want the live writes' reason", hit)
	}

	// Removed and overwritten documents and live writes: the default
	// fails on the first two, in order, not on the third.
	s.Outcome.Removed, s.Outcome.Overwritten = 2, 1
	fail := Judge(s)
	hit := fail.FailOn(DefaultFailOn)
	want := []string{"2 documents: only in the original, a switch would lose them", "1 document: live values would be overwritten"}
	if !slices.Equal(hit, want) {
		t.Errorf("default --fail-on: %q, want %q", hit, want)
	}
	if hit := fail.FailOn(nil); hit != nil {
		t.Errorf("--fail-on none fails on %q", hit)
	}
	if !strings.HasPrefix(fail.Line(), "verdict review: "+want[0]+"; "+want[1]+"; ") {
		t.Errorf("line %q, want the reasons in order", fail.Line())
	}
}
