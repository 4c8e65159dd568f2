package report

import (
	"slices"
	"testing"
)

func TestObjectName(t *testing.T) {
	for file, want := range map[string]string{DiffName: "diff", FailuresName: "failures", PageName: "page", "config.json": "config.json"} {
		if got := ObjectName(file); got != want {
			t.Errorf("ObjectName(%q) = %q, want %q", file, got, want)
		}
	}
}

// TestRetryPhases: the phases a summary counts retries of, in the order
// a job runs them, the others left out.
func TestRetryPhases(t *testing.T) {
	counts := map[string]Retries{PhaseReport: {}, PhaseChecks: {Retries: 1}, PhaseDiff: {}}
	if got, want := RetryPhases(counts), []string{PhaseChecks, PhaseDiff, PhaseReport}; !slices.Equal(got, want) {
		t.Errorf("RetryPhases = %q, want %q", got, want)
	}
	if got := RetryPhases(nil); got != nil {
		t.Errorf("RetryPhases(nil) = %q, want none", got)
	}
}
