package report

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/esrestore/esrestore/diff"
)

// topTransitions is how many transitions of one path a reason names.
const topTransitions = 3

// watchedReason is the reason of the documents the watches matched:
// "17 documents would become /visibility = PUBLIC"; with several watches
// matching, "20 documents match a watch: 17 would become /visibility =
// PUBLIC, 5 would change /owner".
func watchedReason(s *Summary) (Reason, bool) {
	n := s.WatchedDocuments
	if n == 0 {
		return Reason{}, false
	}
	var hit []diff.WatchCount
	for _, w := range s.Watched {
		if w.Documents > 0 {
			hit = append(hit, w)
		}
	}
	text := fmt.Sprintf("%s match a watch", docs(n))
	switch {
	case len(hit) == 1 && hit[0].Documents == n:
		text = fmt.Sprintf("%s would %s%s", docs(n), watchText(hit[0]), lostText(hit[0]))
	case len(hit) > 0:
		parts := make([]string, len(hit))
		for i, w := range hit {
			parts[i] = fmt.Sprintf("%d would %s%s", w.Documents, watchText(w), lostText(w))
		}
		text += ": " + strings.Join(parts, ", ")
	}
	return Reason{Kind: ReasonWatched, Count: n, Text: text}, true
}

// lostText says how many of a watch's documents the original lacks:
// documents coming back, not live ones changing.
func lostText(w diff.WatchCount) string {
	switch {
	case w.Lost == 0:
		return ""
	case w.Lost == w.Documents:
		return ", all of them lost documents coming back"
	}
	return fmt.Sprintf(", %d of them lost documents coming back", w.Lost)
}

// watchText says what a watch looks for: "become /visibility = PUBLIC"
// or "change /owner".
func watchText(w diff.WatchCount) string {
	if w.Value == nil {
		return "change " + w.Path
	}
	return fmt.Sprintf("become %s = %s", w.Path, plainValue(w.Value))
}

// plainValue writes a JSON value for a person: a string as its text,
// anything else as JSON.
func plainValue(v json.RawMessage) string {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	return string(v)
}

// transitionsOf names the transitions of path: ": INTERNAL → PUBLIC 17,
// PUBLIC → INTERNAL 3", "" when it has none.
func transitionsOf(f *diff.Fields, path string) string {
	if f == nil {
		return ""
	}
	var parts []string
	more := 0
	for _, t := range f.Transitions { // busiest first
		if t.Path != path {
			continue
		}
		if len(parts) == topTransitions {
			more++
			continue
		}
		parts = append(parts, fmt.Sprintf("%s → %s %d", plainValue(t.From), plainValue(t.To), t.Documents))
	}
	if len(parts) == 0 {
		return ""
	}
	if more > 0 {
		parts = append(parts, fmt.Sprintf("and %d more", more))
	}
	return ": " + strings.Join(parts, ", ")
}
