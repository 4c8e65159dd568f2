package job

import (
	"testing"

	"github.com/esrestore/esrestore/report"
	"github.com/esrestore/esrestore/restore"
)

// TestEarlierAttempts: what a later attempt makes of the summary it finds.
func TestEarlierAttempts(t *testing.T) {
	// An attempt that recorded its start, then died: killed.
	got := earlierAttempts([]byte(`{"complete":false,"started":"2026-12-06T10:00:00Z","attempts":[
		{"number":1,"started":"2026-12-06T09:00:00Z","finished":"2026-12-06T09:10:00Z","ended":"interrupted","restore":{"indexed":500}},
		{"number":2,"started":"2026-12-06T10:00:00Z","ended":"running"}]}`))
	if len(got) != 2 || got[0].Ended != report.AttemptInterrupted || got[1].Ended != report.AttemptKilled || got[1].Finished != nil || got[1].Error == "" {
		t.Errorf("attempts %+v, want interrupted then killed-unknown", got)
	}
	// A summary without the list: one attempt, its end read from it.
	for _, tt := range []struct{ summary, ended string }{
		{`{"complete":true,"started":"2026-12-06T10:00:00Z","finished":"2026-12-06T10:01:00Z"}`, report.AttemptComplete},
		{`{"complete":false,"started":"2026-12-06T10:00:00Z","error":"restore: context canceled"}`, report.AttemptInterrupted},
		{`{"complete":false,"started":"2026-12-06T10:00:00Z","error":"bulk: transient failure outlasted the retry budget"}`, report.AttemptFailed},
	} {
		if got := earlierAttempts([]byte(tt.summary)); len(got) != 1 || got[0].Ended != tt.ended || got[0].Number != 1 {
			t.Errorf("%s: %+v, want one attempt, %s", tt.summary, got, tt.ended)
		}
	}
	if got := earlierAttempts([]byte(`not json`)); got != nil {
		t.Errorf("unreadable summary: %+v", got)
	}
}

// TestWholeRun: the last attempt's kept documents that earlier attempts
// wrote are the run's indexed ones.
func TestWholeRun(t *testing.T) {
	own := &report.Restore{Read: 1000, Indexed: 400, Kept: 600, Retried: 7, ExistingBefore: 600, Load: restore.LoadBulk}
	counted := []report.Attempt{{Number: 1, Ended: report.AttemptInterrupted, Restore: &report.AttemptRestore{Indexed: 600, Retried: 5}}}
	killed := []report.Attempt{{Number: 1, Ended: report.AttemptKilled}}
	for _, tt := range []struct {
		name                   string
		own                    *report.Restore
		earlier                []report.Attempt
		indexed, kept, retried int64
	}{
		{"first attempt", own, nil, 400, 600, 7},
		{"after an interrupted attempt", own, counted, 1000, 0, 12},
		// Killed before it recorded counts: what the target held.
		{"after a killed attempt", own, killed, 1000, 0, 7},
		// A snapshot restored as the target holds the snapshot: what a
		// killed attempt wrote into it is unknown.
		{"after a killed attempt, snapshot", &report.Restore{Read: 1000, Indexed: 10, Kept: 990, ExistingBefore: 1000,
			Load: restore.LoadSnapshot}, killed, 10, 990, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := wholeRun(tt.own, tt.earlier)
			if r.Indexed != tt.indexed || r.Kept != tt.kept || r.Retried != tt.retried || r.Read != r.Indexed+r.Kept+r.Failed+r.Pending {
				t.Errorf("got %+v, want indexed %d kept %d retried %d", r, tt.indexed, tt.kept, tt.retried)
			}
		})
	}
	if own.Indexed != 400 {
		t.Error("wholeRun changed the attempt's own counts")
	}
}
