package report

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/esrestore/esrestore/diff"
)

func TestJudgeWatchedAndTransitions(t *testing.T) {
	tr := func(path, from, to string, n int64) diff.Transition {
		return diff.Transition{Path: path, From: json.RawMessage(from), To: json.RawMessage(to), Documents: n}
	}
	fields := &diff.Fields{
		Paths: []diff.FieldStat{
			{Path: "/modified", Class: diff.FieldOverwritten, Documents: 40},
			{Path: "/title", Class: diff.FieldOverwritten, Documents: 40},
			{Path: "/visibility", Class: diff.FieldOverwritten, Documents: 20},
			{Path: "/visibility", Class: diff.FieldEditedSinceBackup, Documents: 20},
		},
		Transitions: []diff.Transition{tr("/visibility", `"INTERNAL"`, `"PUBLIC"`, 17), tr("/visibility", `"PUBLIC"`, `"INTERNAL"`, 3)},
	}
	public := diff.Watch{Path: "/visibility", Value: json.RawMessage(`"PUBLIC"`)}
	for _, tt := range []struct {
		name    string
		watched []diff.WatchCount
		union   int64
		want    []string
	}{
		{"no watch", nil, 0, []string{
			"60 documents: live values would be overwritten (/modified 40, /title 40, /visibility 20: INTERNAL → PUBLIC 17, PUBLIC → INTERNAL 3)"}},
		{"watch matched nothing", []diff.WatchCount{{Watch: public}}, 0, []string{
			"60 documents: live values would be overwritten (/modified 40, /title 40, /visibility 20: INTERNAL → PUBLIC 17, PUBLIC → INTERNAL 3)"}},
		{"one watch", []diff.WatchCount{{Watch: public, Documents: 17}}, 17, []string{
			"17 documents would become /visibility = PUBLIC",
			"60 documents: live values would be overwritten (/modified 40, /title 40, /visibility 20: INTERNAL → PUBLIC 17, PUBLIC → INTERNAL 3)"}},
		{"lost documents coming back", []diff.WatchCount{{Watch: public, Documents: 373, Lost: 359}}, 373, []string{
			"373 documents would become /visibility = PUBLIC, 359 of them lost documents coming back",
			"60 documents: live values would be overwritten (/modified 40, /title 40, /visibility 20: INTERNAL → PUBLIC 17, PUBLIC → INTERNAL 3)"}},
		{"only lost documents", []diff.WatchCount{{Watch: public, Documents: 5, Lost: 5}}, 5, []string{
			"5 documents would become /visibility = PUBLIC, all of them lost documents coming back",
			"60 documents: live values would be overwritten (/modified 40, /title 40, /visibility 20: INTERNAL → PUBLIC 17, PUBLIC → INTERNAL 3)"}},
		{"two watches", []diff.WatchCount{{Watch: public, Documents: 17}, {Watch: diff.Watch{Path: "/rank", Value: json.RawMessage(`2`)}},
			{Watch: diff.Watch{Path: "/visibility"}, Documents: 20}}, 20, []string{
			"20 documents match a watch: 17 would become /visibility = PUBLIC, 20 would change /visibility",
			"60 documents: live values would be overwritten (/modified 40, /title 40, /visibility 20: INTERNAL → PUBLIC 17, PUBLIC → INTERNAL 3)"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := &Summary{Complete: true, Outcome: &diff.Outcome{Overwritten: 60}, Fields: fields, Watched: tt.watched, WatchedDocuments: tt.union}
			v := Judge(s)
			var texts []string
			for _, r := range v.Reasons {
				texts = append(texts, r.Text)
			}
			if !slices.Equal(texts, tt.want) {
				t.Errorf("reasons\n got %q\nwant %q", texts, tt.want)
			}
			if tt.union > 0 && (v.Reasons[0].Kind != ReasonWatched || v.Reasons[0].Count != tt.union) {
				t.Errorf("first reason %+v, want watched with %d", v.Reasons[0], tt.union)
			}
		})
	}
	if !slices.Contains(FailOnKinds, ReasonWatched) {
		t.Error("--fail-on cannot name watched")
	}
}
