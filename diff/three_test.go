package diff

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/esrestore/esrestore/internal/retry"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/esrestore/esrestore/fixtures"
	"github.com/esrestore/esrestore/fixtures/estest"
)

// threeDocs is a small three-sided case with every class in it:
//
//	a  on all three, equal                     unchanged
//	b  stripped of /x, back in the target       stripped; recovered
//	c  stripped of /x, not in the target's copy stripped; not recovered
//	d  edited live, the target has the backup's edited; overwritten
//	e  only in the backup and the target        lost; added
//	f  only in the backup                        lost; not recovered (whole)
//	g  only in the original and the target      new since backup
//	h  only in the original                     new since backup; removed
//	i  array: the backup has one more element   stripped; recovered (one add)
func threeDocs() (orig, backup, target []fixtures.Doc) {
	d := func(id, src string) fixtures.Doc { return fixtures.Doc{ID: id, Source: []byte(src)} }
	orig = []fixtures.Doc{
		d("a", `{"v":1,"x":1}`), d("b", `{"v":1}`), d("c", `{"v":1}`), d("d", `{"v":2,"x":1}`),
		d("g", `{"v":1}`), d("h", `{"v":1}`), d("i", `{"t":[1,3]}`),
	}
	backup = []fixtures.Doc{
		d("a", `{"v":1,"x":1}`), d("b", `{"v":1,"x":1}`), d("c", `{"v":1,"x":1}`), d("d", `{"v":1,"x":1}`),
		d("e", `{"v":1}`), d("f", `{"v":1}`), d("i", `{"t":[1,2,3]}`),
	}
	target = []fixtures.Doc{
		d("a", `{"x":1,"v":1}`), d("b", `{"v":1,"x":1}`), d("c", `{"v":1}`), d("d", `{"v":1,"x":1}`),
		d("e", `{"v":1}`), d("g", `{"v":1}`), d("i", `{"t":[1,2,3]}`),
	}
	return orig, backup, target
}

func TestThreeSided(t *testing.T) {
	orig, backup, target := threeDocs()
	want := Counts{
		Outcome: Outcome{Original: 7, Target: 7, Unchanged: 3, Recovered: 2, Overwritten: 1, Added: 1, Removed: 1},
		Loss: &Loss{Backup: 7, Lost: 2, Stripped: 3, EditedSinceBackup: 1, NewSinceBackup: 2,
			NotRecovered: 2, NotRecoveredLost: 1, Note: LostNote},
	}
	wantLines := []string{
		`{"_id":"b","change":"recovered","patch":[{"op":"add","path":"/x","value":1}]}`,
		`{"_id":"c","change":"not_recovered","patch":[{"op":"add","path":"/x","value":1}]}`,
		`{"_id":"d","change":"overwritten","patch":[{"op":"test","path":"/v","value":2},{"op":"replace","path":"/v","value":1}]}`,
		`{"_id":"e","change":"added","restored":{"v":1}}`,
		`{"_id":"f","change":"not_recovered","patch":[{"op":"add","path":"","value":{"v":1}}]}`,
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
		{"dump backup", Sides{Original: IndexSide(cl, "o3"), Backup: dumpOf("b3", backup), Target: IndexSide(cl, "t3")}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, workers := range []int{1, 3} {
				var out bytes.Buffer
				d := New(Options{Workers: workers, PageSize: 2, Logger: slog.New(slog.DiscardHandler)})
				c, err := d.RunSides(t.Context(), tt.sides, &out)
				if err != nil {
					t.Fatal(err)
				}
				if c.Outcome != want.Outcome || !reflect.DeepEqual(*c.Loss, *want.Loss) {
					t.Errorf("workers %d: counts %+v %+v\nwant %+v %+v", workers, c.Outcome, *c.Loss, want.Outcome, *want.Loss)
				}
				if got := strings.Split(strings.TrimSpace(out.String()), "\n"); strings.Join(got, "\n") != strings.Join(wantLines, "\n") {
					t.Errorf("workers %d: report\n%s\nwant\n%s", workers, out.String(), strings.Join(wantLines, "\n"))
				}
				rows := map[string]FieldStat{}
				for _, r := range c.Fields.Paths {
					rows[r.Class+" "+r.Path] = r
				}
				for key, docs := range map[string]int64{
					"stripped /x": 2, "stripped /t/*": 1, "recovered /x": 1, "recovered /t/*": 1,
					"overwritten /v": 1, "edited_since_backup /v": 1, "not_recovered /x": 1,
				} {
					if rows[key].Documents != docs {
						t.Errorf("workers %d: field %s: %d documents, want %d (rows %v)", workers, key, rows[key].Documents, docs, rows)
					}
				}
				if s := rows["overwritten /v"].Samples; len(s) != 1 || string(s[0].Before) != "2" || string(s[0].After) != "1" {
					t.Errorf("sample of /v: %+v", s)
				}
			}
		})
	}
}

// TestThreeSidedBackupPassSkipped checks that the backup's ids are read
// only when its _count shows documents neither other side met.
func TestThreeSidedBackupPassSkipped(t *testing.T) {
	orig, backup, target := threeDocs()
	target = append(target, fixtures.Doc{ID: "f", Source: []byte(`{"v":1}`)})
	es := estest.New(t)
	for name, docs := range map[string][]fixtures.Doc{"o3": orig, "b3": backup, "t3": target} {
		es.LoadDocs(t, name, docs, 2)
	}
	var log bytes.Buffer
	d := New(Options{PageSize: 2, Logger: slog.New(slog.NewJSONHandler(&log, nil))})
	c, err := d.RunSides(t.Context(), Sides{Original: IndexSide(es.Client(), "o3"), Backup: IndexSide(es.Client(), "b3"),
		Target: IndexSide(es.Client(), "t3")}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Loss.Lost != 2 || c.Loss.NotRecoveredLost != 0 || c.Outcome.Added != 2 {
		t.Errorf("counts %+v %+v", c.Outcome, *c.Loss)
	}
	if !strings.Contains(log.String(), `"msg":"diff pass skipped","pass":3`) {
		t.Errorf("the backup pass ran though every backup document was met:\n%s", log.String())
	}
}

// TestVirtualTarget checks the dry run's overlays against real targets
// built the same way.
func TestVirtualTarget(t *testing.T) {
	orig, backup, _ := threeDocs()
	es := estest.New(t)
	for name, docs := range map[string][]fixtures.Doc{"o3": orig, "b3": backup} {
		es.LoadDocs(t, name, docs, 2)
	}
	byID := func(docs []fixtures.Doc) map[string]fixtures.Doc {
		m := map[string]fixtures.Doc{}
		for _, d := range docs {
			m[d.ID] = d
		}
		return m
	}
	om, bm := byID(orig), byID(backup)
	for _, tt := range []struct {
		overlay Overlay
		build   func() []fixtures.Doc
	}{
		{OverlayPreferOriginal, func() []fixtures.Doc {
			out := append([]fixtures.Doc(nil), orig...)
			for _, d := range backup {
				if _, ok := om[d.ID]; !ok {
					out = append(out, d)
				}
			}
			return out
		}},
		{OverlayPreferSource, func() []fixtures.Doc {
			out := append([]fixtures.Doc(nil), backup...)
			for _, d := range orig {
				if _, ok := bm[d.ID]; !ok {
					out = append(out, d)
				}
			}
			return out
		}},
		{OverlaySource, func() []fixtures.Doc { return backup }},
		{OverlayFill, func() []fixtures.Doc {
			out := []fixtures.Doc{}
			for _, d := range orig {
				if b, ok := bm[d.ID]; ok {
					d.Source = fillByMaps(t, d.Source, b.Source)
				}
				out = append(out, d)
			}
			for _, d := range backup {
				if _, ok := om[d.ID]; !ok {
					out = append(out, d)
				}
			}
			return out
		}},
	} {
		t.Run(string(tt.overlay), func(t *testing.T) {
			name := "t_" + strings.ReplaceAll(string(tt.overlay), "-", "_")
			es.LoadDocs(t, name, tt.build(), 2)
			var real, virt bytes.Buffer
			cr, err := New(Options{Logger: slog.New(slog.DiscardHandler)}).RunSides(t.Context(),
				Sides{Original: IndexSide(es.Client(), "o3"), Backup: IndexSide(es.Client(), "b3"), Target: IndexSide(es.Client(), name)}, &real)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range []Sides{
				{Original: IndexSide(es.Client(), "o3"), Backup: IndexSide(es.Client(), "b3")},
				{Original: dumpOf("o3", orig), Backup: dumpOf("b3", backup)},
			} {
				virt.Reset()
				cv, err := New(Options{Overlay: tt.overlay, Logger: slog.New(slog.DiscardHandler)}).RunSides(t.Context(), s, &virt)
				if err != nil {
					t.Fatal(err)
				}
				if cv.Outcome != cr.Outcome || !reflect.DeepEqual(*cv.Loss, *cr.Loss) || virt.String() != real.String() {
					t.Errorf("virtual %+v %+v\n%s\nreal %+v %+v\n%s", cv.Outcome, *cv.Loss, virt.String(), cr.Outcome, *cr.Loss, real.String())
				}
			}
		})
	}
}

// fillByMaps is --prefer fill written the slow, obvious way, so the
// overlay is checked against a merge it does not share code with.
func fillByMaps(t *testing.T, live, backup []byte) []byte {
	t.Helper()
	var l, b map[string]any
	if err := json.Unmarshal(live, &l); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(backup, &b); err != nil {
		t.Fatal(err)
	}
	var fill func(l, b map[string]any)
	fill = func(l, b map[string]any) {
		for k, bv := range b {
			lv, ok := l[k]
			if !ok {
				l[k] = bv
				continue
			}
			lo, lok := lv.(map[string]any)
			bo, bok := bv.(map[string]any)
			if lok && bok {
				fill(lo, bo)
			}
		}
	}
	fill(l, b)
	out, err := json.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestOverlayFill: on threeDocs, fill brings the stripped /x of b and c
// back and keeps d's live /v: nothing is overwritten, the lost e and f are
// added, and i keeps its live array whole (arrays are values).
func TestOverlayFill(t *testing.T) {
	orig, backup, _ := threeDocs()
	var out bytes.Buffer
	c, err := New(Options{Overlay: OverlayFill, Logger: slog.New(slog.DiscardHandler)}).RunSides(t.Context(),
		Sides{Original: dumpOf("o3", orig), Backup: dumpOf("b3", backup)}, &out)
	if err != nil {
		t.Fatal(err)
	}
	want := Outcome{Original: 7, Target: 9, Unchanged: 5, Recovered: 2, Added: 2}
	if c.Outcome != want {
		t.Errorf("outcome %+v, want %+v\n%s", c.Outcome, want, out.String())
	}
	if c.Loss.NotRecovered != 0 || c.Loss.Stripped != 3 || c.Loss.EditedSinceBackup != 1 {
		t.Errorf("loss %+v", *c.Loss)
	}
	if !strings.Contains(out.String(), `{"_id":"c","change":"recovered","patch":[{"op":"add","path":"/x","value":1}]}`) {
		t.Errorf("c's /x is not recovered:\n%s", out.String())
	}
}

// TestLiveOriginal: the original takes writes while the diff reads it. The
// scan reads its point in time, and is checked against what that holds,
// not against a _count that moved on.
func TestLiveOriginal(t *testing.T) {
	es := estest.Fake(t)
	docs := fixtures.Commons(400, 4)
	for _, name := range []string{"live_o", "live_t"} {
		es.LoadDocs(t, name, docs, 2)
	}
	es.Fake.SetFaults(fixtures.Faults{Latency: 20 * time.Millisecond, Endpoints: []string{"mget"}})
	// The writes start once pass 1 is under way: its first _mget was sent.
	mget := make(chan struct{})
	var once sync.Once
	started := func() { once.Do(func() { close(mget) }) }
	client := proxied(t, es.URL, roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if strings.HasSuffix(r.URL.Path, "/_mget") {
			started()
		}
		return http.DefaultTransport.RoundTrip(r)
	}))
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-mget
		for i := range 3 {
			estest.MustDo(t, es.Client(), esapi.IndexRequest{Index: "live_o", DocumentID: fmt.Sprintf("live-%d", i),
				Body: strings.NewReader(`{"v":1}`), Refresh: "true"})
		}
	}()
	c, err := New(Options{PageSize: 20, Workers: 2, Logger: slog.New(slog.DiscardHandler)}).RunSides(t.Context(),
		Sides{Original: IndexSide(client, "live_o"), Target: IndexSide(client, "live_t")}, &bytes.Buffer{})
	select {
	case <-mget:
	default:
		t.Error("the diff sent no _mget")
		started()
	}
	<-done
	es.Fake.SetFaults(fixtures.Faults{})
	if err != nil {
		t.Fatalf("diff of a live original: %v", err)
	}
	if c.Outcome.Original != 400 || c.Outcome.Unchanged != 400 {
		t.Errorf("outcome %+v, want the 400 documents of the point in time, unchanged", c.Outcome)
	}
	if n, _ := IndexSide(es.Client(), "live_o").(*indexSide).count(t.Context(), retry.Policy{}); n != 403 {
		t.Errorf("the original has %d documents, want 403: the writes did not happen", n)
	}
}
