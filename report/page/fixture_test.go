package page

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/esrestore/esrestore/diff"
	"github.com/esrestore/esrestore/fixtures"
	"github.com/esrestore/esrestore/report"
)

// Hostile values: each would run script or load something if the page
// put it into markup instead of text. They set window.__pwned.
var hostile = []string{
	`</script><script>window.__pwned=1</script>`,
	`<img src=x onerror="window.__pwned=2">`,
	`"><svg onload=window.__pwned=3>`,
	`<!-- </SCRIPT --><script>window.__pwned=4</script>`,
	"line\u2028separator\u2029and <b>bold</b> & 'quotes' `backticks` ${x}",
}

// hostileID is a document id holding markup: Elasticsearch accepts any
// string up to 512 bytes.
const hostileID = `!hostile-<img src=x onerror="window.__pwned=5">`

// secret is put where a careless page would show it.
const secret = "hunter2-very-secret"

// scenario is a report's inputs: the diff lines and a summary that
// agrees with them.
type scenario struct {
	lines    [][]byte
	failures [][]byte
	summary  *report.Summary
	// classes counts the lines by class.
	classes map[string]int
	hostile bool
}

// line is one diff.ndjson.gz line before encoding.
type line struct {
	ID           string           `json:"_id"`
	Change       string           `json:"change"`
	Routing      map[string]any   `json:"routing,omitempty"`
	Patch        []map[string]any `json:"patch,omitempty"`
	NotRecovered []map[string]any `json:"not_recovered,omitempty"`
	Restored     json.RawMessage  `json:"restored,omitempty"`
	Original     json.RawMessage  `json:"original,omitempty"`
	Backup       json.RawMessage  `json:"backup,omitempty"`
	Watched      []string         `json:"watched,omitempty"`
}

// Values that test the page's layout: a right-to-left title, a long id
// without a break and a long sample.
var (
	rtlTitle    = "تقرير الميزانية السنوي 2021"
	rtlNewTitle = "דוח התקציב השנתי 2022"
	longID      = "!long-" + strings.Repeat("0123456789abcdef", 20)
	longValue   = strings.Repeat("averylongwordwithoutanyspace", 25)
)

func op(kind, path string, v any) map[string]any {
	m := map[string]any{"op": kind, "path": path}
	if kind != "remove" {
		m["value"] = v
	}
	return m
}

// newScenario builds n documents' worth of report: per 20 documents,
// one recovered, one overwritten (every other one watched), one added,
// one removed, one not recovered, one skipped; hostile values among
// them, a right-to-left title, and a long id with a long value.
func newScenario(t testing.TB, n int) *scenario { return newScenarioOf(t, n, true) }

// newScenarioOf is newScenario, with or without the hostile values.
func newScenarioOf(t testing.TB, n int, withHostile bool) *scenario {
	t.Helper()
	const seed = 7
	var ls []line
	for i := 0; i < n; i++ {
		d := fixtures.CommonsDoc(i, seed)
		var src map[string]any
		if err := json.Unmarshal(d.Source, &src); err != nil {
			t.Fatal(err)
		}
		switch i % 20 {
		case 0:
			ls = append(ls, line{ID: d.ID, Change: diff.ChangeRecovered, Patch: []map[string]any{
				op("add", "/tags", src["tags"]), op("add", "/excerpt", src["excerpt"]),
			}})
		case 1:
			old, title := "old title of "+d.ID, src["title"]
			if i%60 == 1 {
				old, title = rtlTitle, rtlNewTitle
			}
			p := []map[string]any{
				op("test", "/title", old), op("replace", "/title", title),
				op("test", "/visibility", "internal"), op("remove", "/visibility", nil),
			}
			l := line{ID: d.ID, Change: diff.ChangeOverwritten, Patch: p,
				NotRecovered: []map[string]any{op("add", "/bureaus", []string{"Bureau of the Backup"})}}
			if i%40 == 1 {
				l.Routing = map[string]any{"original": "r1", "restored": nil}
				l.Watched = []string{"/visibility"}
			}
			ls = append(ls, l)
		case 2:
			ls = append(ls, line{ID: d.ID, Change: diff.ChangeAdded, Restored: d.Source})
		case 3:
			ls = append(ls, line{ID: d.ID, Change: diff.ChangeRemoved, Original: d.Source, Routing: map[string]any{"original": "r7"}})
		case 4:
			if i%40 == 4 {
				ls = append(ls, line{ID: d.ID, Change: diff.ChangeNotRecovered, Patch: []map[string]any{op("add", "", src)}})
			} else {
				ls = append(ls, line{ID: d.ID, Change: diff.ChangeNotRecovered, Patch: []map[string]any{op("add", "/countries", src["countries"])}})
			}
		case 5:
			ls = append(ls, line{ID: d.ID, Change: diff.ChangeSkipped, Backup: d.Source})
		}
	}
	ls = append(ls, line{ID: longID, Change: diff.ChangeRecovered, Patch: []map[string]any{op("add", "/content/rawText", longValue)}})
	if withHostile {
		ls = append(ls, hostileLines()...)
	}
	sort.Slice(ls, func(a, b int) bool { return ls[a].ID < ls[b].ID })

	sc := &scenario{classes: map[string]int{}, hostile: withHostile}
	for _, l := range ls {
		b, err := json.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		sc.lines = append(sc.lines, append(b, '\n'))
		sc.classes[l.Change]++
	}
	reason, published := "[1:42] failed to parse field [published]", "not a date"
	if withHostile {
		reason, published = reason+" "+hostile[1], hostile[0]
	}
	for i := range 3 {
		f, _ := json.Marshal(map[string]any{
			"_id": fmt.Sprintf("failed-%d", i), "_index": "documents", "source": "snapshot:backups/before-loss",
			"op_type": "create", "status": 400, "attempts": 1,
			"error":    map[string]any{"type": "document_parsing_exception", "reason": reason},
			"document": map[string]any{"published": published},
		})
		sc.failures = append(sc.failures, append(f, '\n'))
	}
	sc.summary = sc.summarize(ls)
	return sc
}

// hostileLines are documents in every shape a value can take, holding
// the hostile values.
func hostileLines() []line {
	doc, _ := json.Marshal(map[string]any{
		"title": hostile[0], "excerpt": hostile[1], hostile[2]: "a key with markup",
		"content": map[string]any{"html": strings.Repeat(hostile[3], 40), "rawText": hostile[4]},
	})
	return []line{
		{ID: hostileID, Change: diff.ChangeAdded, Restored: doc},
		{ID: "!hostile-overwritten", Change: diff.ChangeOverwritten, Patch: []map[string]any{
			op("test", "/title", hostile[1]), op("replace", "/title", hostile[0]),
			op("add", "/x"+hostile[2], hostile[3]),
		}},
		{ID: "!hostile-removed", Change: diff.ChangeRemoved, Original: doc},
	}
}

// markup is a hostile value to append to text, when the scenario has them.
func (sc *scenario) markup() string {
	if sc.hostile {
		return " " + hostile[1]
	}
	return ""
}

// digits are array indices in a JSON Pointer.
var digits = regexp.MustCompile(`/[0-9]+(/|$)`)

// summarize is the summary the diff would write for ls: counts by class
// and per-field counts from the patches.
func (sc *scenario) summarize(ls []line) *report.Summary {
	start := time.Date(2026, 11, 25, 18, 21, 41, 0, time.UTC)
	const unchanged = 1850
	c := sc.classes
	o := &diff.Outcome{
		Unchanged: unchanged, Recovered: int64(c[diff.ChangeRecovered]), Overwritten: int64(c[diff.ChangeOverwritten]),
		Added: int64(c[diff.ChangeAdded]), Removed: int64(c[diff.ChangeRemoved]),
	}
	o.Original = o.Unchanged + o.Recovered + o.Overwritten + o.Removed
	o.Target = o.Unchanged + o.Recovered + o.Overwritten + o.Added
	o.Skipped = int64(c[diff.ChangeSkipped])
	var watched int64
	for _, l := range ls {
		if l.Routing != nil && l.Change == diff.ChangeOverwritten {
			o.RoutingChanged++
		}
		if len(l.Watched) > 0 {
			watched++
		}
	}
	loss := &diff.Loss{Backup: o.Target + 40, Lost: o.Added + 7, Stripped: o.Recovered, EditedSinceBackup: o.Overwritten,
		NewSinceBackup: 12, NotRecovered: int64(c[diff.ChangeNotRecovered]) + o.Overwritten, NotRecoveredLost: 9}
	// The shape of the loss: one site took nearly all of it.
	pv := func(v any, lost, stripped, backup int64) diff.ProfileValue {
		return diff.ProfileValue{Value: mustJSON(v), ProfileCounts: diff.ProfileCounts{Lost: lost, Stripped: stripped, Backup: backup}}
	}
	loss.Profile = []diff.ProfileField{
		{Path: "/site", Values: []diff.ProfileValue{
			pv("share.america.gov", loss.Lost-3, o.Recovered/2, loss.Backup*31/100),
			pv("موقع-الأخبار", 2, 1, loss.Backup*40/100),
			pv(nil, 1, 0, 5),
		}, Other: &diff.ProfileCounts{Lost: 0, Stripped: 2, Backup: loss.Backup - loss.Backup*31/100 - loss.Backup*40/100 - 5}},
		{Path: "/visibility", Values: []diff.ProfileValue{pv("PUBLIC", loss.Lost/2, 0, loss.Backup/2), pv("INTERNAL", loss.Lost-loss.Lost/2, 0, loss.Backup-loss.Backup/2)}},
	}
	loss.ProfileDate = &diff.ProfileDate{Path: "/modified", Unit: "month", Buckets: []diff.DateBucket{
		{Key: "2021-09", ProfileCounts: diff.ProfileCounts{Lost: 1, Backup: loss.Backup / 3}},
		{Key: "2021-10", ProfileCounts: diff.ProfileCounts{Lost: 2, Backup: loss.Backup / 3}},
		{Key: "2021-11", ProfileCounts: diff.ProfileCounts{Lost: loss.Lost - 3, Backup: loss.Backup - 2*(loss.Backup/3)}},
	}}

	type key struct{ path, class string }
	stats := map[key]*diff.FieldStat{}
	var keys []key
	for _, l := range ls {
		if l.Change != diff.ChangeRecovered && l.Change != diff.ChangeOverwritten {
			continue
		}
		old := map[string]any{}
		for _, p := range l.Patch {
			path := p["path"].(string)
			if p["op"] == "test" {
				old[path] = p["value"]
				continue
			}
			k := key{digits.ReplaceAllString(path, "/*$1"), l.Change}
			st := stats[k]
			if st == nil {
				st = &diff.FieldStat{Path: k.path, Class: k.class}
				stats[k] = st
				keys = append(keys, k)
			}
			st.Documents++
			s := diff.Sample{ID: l.ID}
			switch p["op"] {
			case "add":
				st.Add++
				s.After = sampleJSON(p["value"])
			case "replace":
				st.Replace++
				s.Before, s.After = sampleJSON(old[path]), sampleJSON(p["value"])
			case "remove":
				st.Remove++
				s.Before = sampleJSON(old[path])
			}
			if len(st.Samples) < diff.MaxFieldSamples {
				st.Samples = append(st.Samples, s)
			}
		}
	}
	fields := &diff.Fields{Other: diff.FieldOther{Paths: 3, Add: 5, Replace: 1, Documents: 4}, Transitions: []diff.Transition{
		{Path: "/visibility", From: mustJSON("INTERNAL"), To: mustJSON("PUBLIC"), Documents: 17},
		{Path: "/visibility", From: mustJSON("PUBLIC"), To: mustJSON("INTERNAL"), Documents: 3},
		{Path: "/site", From: mustJSON("موقع-الأخبار"), To: mustJSON("share.america.gov"), Documents: 2},
	}}
	if sc.hostile {
		fields.Transitions = append(fields.Transitions, diff.Transition{Path: "/x" + hostile[2], From: mustJSON(hostile[0]), To: mustJSON(hostile[1]), Documents: 1})
		loss.Profile[0].Values = append(loss.Profile[0].Values, pv(hostile[3], 0, 0, 1))
	}
	// A loss row of each class, so the page has both tables.
	fields.Paths = append(fields.Paths,
		diff.FieldStat{Path: "/countries", Class: diff.FieldStripped, Add: o.Recovered, Documents: o.Recovered,
			Samples: []diff.Sample{{ID: "stripped-1", After: mustJSON([]string{"France"})}}},
		diff.FieldStat{Path: "/visibility", Class: diff.FieldEditedSinceBackup, Replace: 20, Documents: 20,
			Samples: []diff.Sample{{ID: "edited-1", Before: mustJSON("PUBLIC"), After: mustJSON("INTERNAL")}}})
	for _, k := range keys {
		fields.Paths = append(fields.Paths, *stats[k])
	}
	slices.SortStableFunc(fields.Paths, func(a, b diff.FieldStat) int { return int(b.Documents - a.Documents) })

	nfail := int64(len(sc.failures))
	read := o.Added + o.Recovered + 400 + nfail
	s := &report.Summary{
		Complete: true,
		Verdict: report.Verdict{Status: report.StatusReview, Reasons: []report.Reason{
			{Kind: report.ReasonWatched, Count: watched, Text: fmt.Sprintf("%d documents would become /visibility = PUBLIC", watched)},
			{Kind: report.ReasonFailed, Count: nfail, Text: fmt.Sprintf("%d documents failed to restore", nfail)},
			{Kind: report.ReasonOverwritten, Count: o.Overwritten, Text: fmt.Sprintf("%d documents: live values would be overwritten (/title %d, /visibility %d)", o.Overwritten, o.Overwritten, o.Overwritten-1)},
			{Kind: report.ReasonRemoved, Count: o.Removed, Text: fmt.Sprintf("%d documents of the original are not in the target", o.Removed)},
			{Kind: report.ReasonNotRecovered, Count: loss.NotRecovered, Text: fmt.Sprintf("%d documents: backup values the target lacks too (/bureaus %d)%s", loss.NotRecovered, o.Overwritten, sc.markup())},
		}},
		Command: "run", Environment: "prod", RunID: "20261125T182141Z-c9128b",
		Original: "documents", Target: "documents_restored_20261125", Source: "snapshot:backups/before-loss",
		Mode: "merge", Prefer: "original", ToolVersion: "v0.3.0-test",
		Options: map[string]any{
			"es_url": "https://elastic:" + secret + "@es.internal:9200", "es_password": secret,
			"es_api_key": secret, "workers": 4, "ignore": []string{"/modified"},
		},
		Started: start, Finished: start.Add(4*time.Minute + 12*time.Second),
		Restore: &report.Restore{Read: read + o.Skipped, Indexed: o.Added + o.Recovered, Kept: 400, Skipped: o.Skipped, Failed: nfail, TargetCount: o.Target},
		Watched: []diff.WatchCount{{Watch: diff.Watch{Path: "/visibility", Value: mustJSON("PUBLIC")}, Documents: watched}},
		PreferAlternatives: &report.PreferAlternatives{
			Original: report.Alternative{Status: report.StatusReview, Alternative: diff.Alternative{Overwritten: o.Overwritten, Recovered: o.Recovered, NotRecovered: loss.NotRecovered, Added: o.Added}},
			Source:   report.Alternative{Status: report.StatusReview, Alternative: diff.Alternative{Overwritten: o.Overwritten + 20, Recovered: o.Recovered + 20, NotRecovered: 0, Added: o.Added}},
			Fill:     report.Alternative{Status: report.StatusOK, Alternative: diff.Alternative{Overwritten: 0, Recovered: o.Recovered + 20, NotRecovered: 0, Added: o.Added}},
		},
		Scope: &report.Scope{SkipIDs: "s3://review-bucket/scope/deleted-on-purpose.txt", SkipIDsSHA256: strings.Repeat("ef", 32), SkipIDsCount: o.Skipped,
			OnlyQuery: json.RawMessage(`{"term":{"site":"share.america.gov"}}`)},
		Outcome: o, Loss: loss, Fields: fields, Ignored: []string{"/modified"},
		Indexes: &report.IndexDiff{
			Mappings: []report.PatchOp{{Type: "add", Path: "/properties/extra", Value: mustJSON(map[string]any{"type": "keyword", "meta": map[string]any{"note": "added after the snapshot" + sc.markup()}})}},
			Settings: []report.PatchOp{},
		},
		Integrity: report.Integrity{
			ToolVersion: "v0.3.0-test",
			Cluster:     &report.Cluster{Name: "prod-es", UUID: "Xq8vA0nYQ7-2oHVz3P6W1g", Version: "8.19.7"},
			Original:    &report.IndexState{Name: "documents", UUID: "o-uuid-1", Aliases: []string{"documents_live"}, CountStart: o.Original, CountEnd: o.Original},
			Target:      &report.IndexState{Name: "documents_restored_20261125", UUID: "t-uuid-2", CountStart: 0, CountEnd: o.Target},
			Snapshot:    &report.Snapshot{Repository: "backups", Name: "before-loss", UUID: "s-uuid-3", Index: "documents", State: "SUCCESS", StartTime: start.Add(-72 * time.Hour)},
		},
		Location: "s3://review-bucket/es-restore/documents/20261125T182141Z-c9128b",
		Objects: map[string]report.Object{
			"diff": {Key: "es-restore/documents/20261125T182141Z-c9128b/diff.ndjson.gz", URL: "s3://review-bucket/es-restore/documents/20261125T182141Z-c9128b/diff.ndjson.gz",
				ContentType: "application/x-ndjson", Bytes: 123456, Lines: int64(len(sc.lines)), SHA256: strings.Repeat("ab", 32)},
			"failures": {Key: "es-restore/documents/20261125T182141Z-c9128b/failures.ndjson.gz", URL: "s3://review-bucket/es-restore/documents/20261125T182141Z-c9128b/failures.ndjson.gz",
				ContentType: "application/x-ndjson", Bytes: 321, Lines: nfail, SHA256: strings.Repeat("cd", 32)},
		},
		FailOn: []string{"failed", "removed", "overwritten", "not-recovered"},
	}
	return s
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// sampleJSON is a sample value as diff keeps it: cut past MaxSampleBytes.
func sampleJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	if len(b) > diff.MaxSampleBytes {
		b, _ = json.Marshal(string(b[:diff.MaxSampleBytes]))
	}
	return b
}

// collect feeds the scenario's lines to a new Collector.
func (sc *scenario) collect(opt Options) *Collector {
	c := NewCollector(opt)
	for _, l := range sc.lines {
		c.Write(l)
	}
	for _, f := range sc.failures {
		c.Failures().Write(f)
	}
	return c
}
