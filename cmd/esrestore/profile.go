package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/esrestore/esrestore/diff"
	"github.com/esrestore/esrestore/job"
	"github.com/esrestore/esrestore/report"
)

// profileList checks --profile: JSON Pointers, or none alone.
func profileList(v string) string {
	items, why := listItems(v)
	if why != "" {
		return why
	}
	if slices.Contains(items, job.ProfileNone) {
		if len(items) > 1 {
			return "none turns the profile off: give it alone"
		}
		return ""
	}
	for _, p := range items {
		if _, err := diff.ParsePointer(p); err != nil {
			return err.Error()
		}
	}
	if len(items) > job.MaxProfilePaths {
		return fmt.Sprintf("at most %d pointers, not %d", job.MaxProfilePaths, len(items))
	}
	return ""
}

// profileDatePath checks --profile-date: a JSON Pointer, or none.
func profileDatePath(v string) string {
	if v == job.ProfileNone {
		return ""
	}
	if _, err := diff.ParsePointer(v); err != nil {
		return err.Error()
	}
	return ""
}

// alternativesLine is the prefer alternatives in one line, for the text
// summary: "original review (0 overwritten, 0 recovered, 50 not
// recovered, 410 added), source review (…), fill ok (…)".
func alternativesLine(pa *report.PreferAlternatives) string {
	var parts []string
	for _, r := range []struct {
		name string
		row  report.Alternative
	}{{"original", pa.Original}, {"source", pa.Source}, {"fill", pa.Fill}} {
		part := fmt.Sprintf("%s %s (%d overwritten, %d recovered, %d not recovered, %d added)", r.name, r.row.Status,
			r.row.Overwritten, r.row.Recovered, r.row.NotRecovered, r.row.Added)
		parts = append(parts, part)
	}
	return strings.Join(parts, ", ")
}
