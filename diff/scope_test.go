package diff

import (
	"bytes"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/esrestore/esrestore/fixtures"
	"github.com/esrestore/esrestore/fixtures/estest"
)

// TestScope leaves b (held by the original), e (lost, in the target) and f
// (lost, not in the target) of threeDocs out of the backup side: none is
// lost or not recovered; e and f count in Outcome.Skipped, f with its own
// line carrying the backup's copy (e is added: its line is that), b in
// Loss.SkippedInOriginal, and every identity of Counts.check holds, on
// every join.
func TestScope(t *testing.T) {
	orig, backup, target := threeDocs()
	out := map[string]bool{"b": true, "e": true, "f": true}
	scope := func(id string) bool { return !out[id] }
	want := Counts{
		Outcome: Outcome{Original: 7, Target: 7, Unchanged: 3, Recovered: 2, Overwritten: 1, Added: 1, Removed: 1, Skipped: 2},
		Loss: &Loss{Backup: 4, Lost: 0, Stripped: 2, EditedSinceBackup: 1, NewSinceBackup: 2,
			NotRecovered: 1, NotRecoveredLost: 0, SkippedInOriginal: 1},
	}
	wantLines := []string{
		`{"_id":"b","change":"recovered","patch":[{"op":"add","path":"/x","value":1}]}`,
		`{"_id":"c","change":"not_recovered","patch":[{"op":"add","path":"/x","value":1}]}`,
		`{"_id":"d","change":"overwritten","patch":[{"op":"test","path":"/v","value":2},{"op":"replace","path":"/v","value":1}]}`,
		`{"_id":"e","change":"added","restored":{"v":1}}`,
		`{"_id":"f","change":"skipped","backup":{"v":1}}`,
		`{"_id":"h","change":"removed","original":{"v":1}}`,
		`{"_id":"i","change":"recovered","patch":[{"op":"add","path":"/t/1","value":2}]}`,
	}
	es := estest.New(t)
	for name, docs := range map[string][]fixtures.Doc{"o3": orig, "b3": backup, "t3": target} {
		es.LoadDocs(t, name, docs, 2)
	}
	cl := es.Client()
	for _, tt := range []struct {
		name  string
		sides Sides
	}{
		{"indexes", Sides{Original: IndexSide(cl, "o3"), Backup: IndexSide(cl, "b3"), Target: IndexSide(cl, "t3")}},
		{"dumps", Sides{Original: dumpOf("o3", orig), Backup: dumpOf("b3", backup), Target: dumpOf("t3", target)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, workers := range []int{1, 3} {
				var buf bytes.Buffer
				d := New(Options{Workers: workers, PageSize: 2, Logger: slog.New(slog.DiscardHandler), Scope: scope})
				c, err := d.RunSides(t.Context(), tt.sides, &buf)
				if err != nil {
					t.Fatal(err)
				}
				if c.Outcome != want.Outcome || !reflect.DeepEqual(*c.Loss, *want.Loss) {
					t.Errorf("workers %d: counts %+v %+v\nwant %+v %+v", workers, c.Outcome, *c.Loss, want.Outcome, *want.Loss)
				}
				if got := strings.TrimSpace(buf.String()); got != strings.Join(wantLines, "\n") {
					t.Errorf("workers %d: report\n%s\nwant\n%s", workers, got, strings.Join(wantLines, "\n"))
				}
			}
		})
	}

	// A dry run (the target built from the original and the backup in
	// scope, --prefer fill): b keeps the original's copy, e and f do not
	// come back and each has its skipped line.
	for _, tt := range []struct {
		name             string
		original, backup Side
	}{
		{"virtual indexes", IndexSide(cl, "o3"), IndexSide(cl, "b3")},
		{"virtual dumps", dumpOf("o3", orig), dumpOf("b3", backup)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			d := New(Options{PageSize: 2, Logger: slog.New(slog.DiscardHandler), Scope: scope, Overlay: OverlayFill})
			c, err := d.RunSides(t.Context(), Sides{Original: tt.original, Backup: tt.backup}, &buf)
			if err != nil {
				t.Fatal(err)
			}
			if c.Outcome.Skipped != 2 || c.Loss.SkippedInOriginal != 1 || c.Loss.Lost != 0 || c.Loss.NotRecoveredLost != 0 ||
				c.Outcome.Added != 0 || c.Outcome.Target != 7 {
				t.Errorf("counts %+v %+v", c.Outcome, *c.Loss)
			}
			report := buf.String()
			for _, l := range []string{`{"_id":"e","change":"skipped","backup":{"v":1}}`, `{"_id":"f","change":"skipped","backup":{"v":1}}`} {
				if !strings.Contains(report, l+"\n") {
					t.Errorf("report lacks %s:\n%s", l, report)
				}
			}
			if strings.Contains(report, `"_id":"b"`) {
				t.Errorf("b is out of scope and held by the original: no line\n%s", report)
			}
		})
	}
}
