package page

import (
	"testing"

	"github.com/esrestore/esrestore/diff"
	"github.com/esrestore/esrestore/report"
)

// The table of prefers marks the chosen row and names the best one only
// when it is not the chosen one.
func TestAlternatives(t *testing.T) {
	alt := func(status string, over, rec, notRec, added int64) report.Alternative {
		return report.Alternative{Status: status, Alternative: diff.Alternative{Overwritten: over, Recovered: rec, NotRecovered: notRec, Added: added}}
	}
	// The live-writes run: source overwrites 60, original leaves 50
	// unrecovered, fill does neither.
	live := &report.PreferAlternatives{
		Original: alt("review", 0, 0, 50, 100),
		Source:   alt("review", 60, 50, 0, 100),
		Fill:     alt("ok", 0, 50, 0, 100),
	}
	same := &report.PreferAlternatives{Original: alt("ok", 0, 5, 0, 1), Source: alt("ok", 0, 5, 0, 1), Fill: alt("ok", 0, 5, 0, 1)}
	for _, tt := range []struct {
		name, prefer string
		alts         *report.PreferAlternatives
		best         string // named, "" when the chosen one is the best
		bestRow      string
	}{
		{"source chosen, fill better", "source", live, "fill", "fill"},
		{"fill chosen", "fill", live, "", "fill"},
		{"original chosen, fill better", "original", live, "fill", "fill"},
		{"a tie keeps the chosen one", "source", same, "", "source"},
		{"no prefer (mode source)", "", live, "fill", "fill"},
	} {
		v := &view{}
		v.alternatives(&report.Summary{Prefer: tt.prefer, PreferAlternatives: tt.alts})
		if v.Alternatives.Best != tt.best {
			t.Errorf("%s: best named %q, want %q", tt.name, v.Alternatives.Best, tt.best)
		}
		var chosen, best []string
		for _, r := range v.Alternatives.Rows {
			if r.Chosen {
				chosen = append(chosen, r.Prefer)
			}
			if r.Best {
				best = append(best, r.Prefer)
			}
		}
		if len(best) != 1 || best[0] != tt.bestRow {
			t.Errorf("%s: best rows %q, want %q", tt.name, best, tt.bestRow)
		}
		if (tt.prefer == "" && len(chosen) != 0) || (tt.prefer != "" && (len(chosen) != 1 || chosen[0] != tt.prefer)) {
			t.Errorf("%s: chosen rows %q, want %q", tt.name, chosen, tt.prefer)
		}
	}
	v := &view{}
	v.alternatives(&report.Summary{})
	if v.Alternatives != nil {
		t.Errorf("a summary without alternatives got a table: %+v", v.Alternatives)
	}
}

func TestPercent(t *testing.T) {
	for f, want := range map[float64]string{0: "0%", 0.004: "<1%", 0.31: "31%", 400.0 / 410: "98%", 1: "100%"} {
		if got := percent(f); got != want {
			t.Errorf("percent(%v) = %q, want %q", f, got, want)
		}
	}
}
