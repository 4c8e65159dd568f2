package main

import (
	"bytes"
	"cmp"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/esrestore/esrestore/diff"
	"github.com/esrestore/esrestore/job"
	"github.com/esrestore/esrestore/report"
)

// commonsProfile are the keyword and boolean paths of
// fixtures.CommonsMapping in path order: what a run profiles the loss by
// when --profile is not given. Its first date path is /modified.
var commonsProfile = []string{"/bureaus", "/countries", "/filename", "/filetype", "/id", "/language/displayName",
	"/language/languageCode", "/language/locale", "/language/nativeName", "/language/textDirection", "/owner",
	"/site", "/tags/id", "/type", "/url", "/visibility"}

// TestPreferAlternativesOnLiveWrites runs the live-writes scenario once
// per --prefer and checks that every run's prefer_alternatives give, for
// each prefer, the outcome and verdict of the run made with it; and that
// the loss profile, read from the mapping, is what a recount of the
// original and the backup gives.
func TestPreferAlternativesOnLiveWrites(t *testing.T) {
	es, sc, ch := liveCluster(t, 2000)
	out := t.TempDir()
	runs := map[string]report.Summary{}
	for _, prefer := range []string{"original", "source", "fill"} {
		c := newCLI(t)
		id := "alt-" + prefer
		if code := c.run(t.Context(), append(runArgs(es, out, id, "--target", "documents_alt_"+prefer, "--fail-on", "none"),
			"--prefer", prefer)...); code != exitOK {
			t.Fatalf("--prefer %s: exit %d\n%s", prefer, code, c.stderr.String())
		}
		runs[prefer] = readSummary(t, out, "documents", id)
		// The effective configuration names the paths and where they
		// came from.
		rec := effectiveSettings(t, c.stderr.Bytes())
		if got := rec["profile"]; got.Value != strings.Join(commonsProfile, ",") || got.Origin != job.OriginMapping {
			t.Errorf("--prefer %s: profile %+v, want the mapping's keyword paths", prefer, got)
		}
		if got := rec["profile_date"]; got.Value != "/modified" || got.Origin != job.OriginMapping {
			t.Errorf("--prefer %s: profile_date %+v, want /modified from the mapping", prefer, got)
		}
		if !strings.Contains(c.stderr.String(), "may have been lost, or deleted on purpose since the backup") {
			t.Errorf("--prefer %s: the summary does not say a lost document may have been deleted on purpose", prefer)
		}
	}

	row := func(s report.Summary) report.Alternative {
		return report.Alternative{Status: s.Verdict.Status, Alternative: diff.Alternative{Overwritten: s.Outcome.Overwritten,
			Recovered: s.Outcome.Recovered, NotRecovered: s.Loss.NotRecovered, Added: s.Outcome.Added}}
	}
	want := report.PreferAlternatives{Original: row(runs["original"]), Source: row(runs["source"]), Fill: row(runs["fill"])}
	if want.Fill.Status != report.StatusOK || want.Source.Status != report.StatusReview || want.Fill.Overwritten != 0 ||
		want.Source.Overwritten == 0 || want.Original.NotRecovered == 0 {
		t.Errorf("the scenario's runs are not the choice the test is about: %+v", want)
	}
	for prefer, s := range runs {
		if s.PreferAlternatives == nil || *s.PreferAlternatives != want {
			t.Errorf("--prefer %s: prefer_alternatives %+v, want the three runs' %+v", prefer, s.PreferAlternatives, want)
		}
	}

	// The profile, recounted from the original and the backup.
	orig, backup := decodeDocs(t, sc.Original), decodeDocs(t, sc.Complete)
	wantF, wantD := recountLossProfile(t, orig, backup, commonsProfile, "/modified")
	for prefer, s := range runs {
		if got, want := mustJSON(t, s.Loss.Profile), mustJSON(t, wantF); got != want {
			t.Errorf("--prefer %s: loss.profile\n got %s\nwant %s", prefer, got, want)
		}
		if got, want := mustJSON(t, s.Loss.ProfileDate), mustJSON(t, wantD); got != want {
			t.Errorf("--prefer %s: loss.profile_date\n got %s\nwant %s", prefer, got, want)
		}
		if s.Loss.Note != diff.LostNote {
			t.Errorf("--prefer %s: loss.note %q", prefer, s.Loss.Note)
		}
	}
	// The ten documents deleted on purpose count among the lost: /site
	// holds one value a document.
	var lost int64
	site := wantF[slices.IndexFunc(wantF, func(f diff.ProfileField) bool { return f.Path == "/site" })]
	for _, v := range site.Values {
		lost += v.Lost
	}
	if site.Other != nil {
		lost += site.Other.Lost
	}
	if lost != int64(len(sc.Lost)+len(ch.Deleted)) {
		t.Errorf("the recount has %d lost, the scenario lost %d and deleted %d", lost, len(sc.Lost), len(ch.Deleted))
	}

	// --profile and --profile-date replace what the mapping gives, and
	// none turns the date profile off.
	c := newCLI(t)
	c.vars["ESRESTORE_PROFILE_DATE"] = "none"
	if code := c.run(t.Context(), append(runArgs(es, out, "alt-flags", "--target", "documents_alt_flags", "--fail-on", "none"),
		"--prefer", "fill", "--profile", "/visibility,/site")...); code != exitOK {
		t.Fatalf("--profile: exit %d\n%s", code, c.stderr.String())
	}
	rec := effectiveSettings(t, c.stderr.Bytes())
	if got := rec["profile"]; got.Value != "/visibility,/site" || got.Origin != "flag" {
		t.Errorf("--profile: record %+v", got)
	}
	if got := rec["profile_date"]; got.Value != "none" || got.Origin != "ESRESTORE_PROFILE_DATE" {
		t.Errorf("ESRESTORE_PROFILE_DATE=none: record %+v", got)
	}
	s := readSummary(t, out, "documents", "alt-flags")
	wantF, _ = recountLossProfile(t, orig, backup, []string{"/visibility", "/site"}, "/modified")
	if got, want := mustJSON(t, s.Loss.Profile), mustJSON(t, wantF); got != want || s.Loss.ProfileDate != nil {
		t.Errorf("--profile /visibility,/site --profile-date none: profile\n got %s (date %+v)\nwant %s", got, s.Loss.ProfileDate, want)
	}
}

// effectiveSettings reads the settings of the effective configuration
// record in JSON logs, by key.
func effectiveSettings(t *testing.T, logs []byte) map[string]struct{ Value, Origin string } {
	t.Helper()
	for _, line := range bytes.Split(logs, []byte("\n")) {
		var rec struct {
			Msg      string                                    `json:"msg"`
			Settings map[string]struct{ Value, Origin string } `json:"settings"`
		}
		if json.Unmarshal(line, &rec) == nil && rec.Msg == "effective configuration" {
			return rec.Settings
		}
	}
	t.Fatalf("no effective configuration record in\n%s", logs)
	return nil
}

// recountLossProfile counts the backup's documents by their values at
// each path (an array standing for each element, no value for null) and
// by the month or day of the date path, lost ones being those the
// original lacks and stripped ones those whose original lacks a path the
// backup has.
func recountLossProfile(t *testing.T, orig, backup docSet, paths []string, datePath string) ([]diff.ProfileField, *diff.ProfileDate) {
	t.Helper()
	var at func(v any, segs []string) []any
	at = func(v any, segs []string) []any {
		if a, ok := v.([]any); ok {
			var out []any
			for _, e := range a {
				out = append(out, at(e, segs)...)
			}
			return out
		}
		if len(segs) == 0 {
			return []any{v}
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		x, ok := m[segs[0]]
		if !ok {
			return nil
		}
		return at(x, segs[1:])
	}
	enc := func(v any) string {
		var b bytes.Buffer
		e := json.NewEncoder(&b)
		e.SetEscapeHTML(false)
		if err := e.Encode(v); err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(b.String())
	}
	byPath := make([]map[string]*diff.ProfileCounts, len(paths))
	for i := range byPath {
		byPath[i] = map[string]*diff.ProfileCounts{}
	}
	byDay := map[string]*diff.ProfileCounts{}
	bump := func(m map[string]*diff.ProfileCounts, k string, lost, stripped bool) {
		if m[k] == nil {
			m[k] = &diff.ProfileCounts{}
		}
		m[k].Backup++
		if lost {
			m[k].Lost++
		}
		if stripped {
			m[k].Stripped++
		}
	}
	var first, last time.Time
	for id, b := range backup {
		o, inO := orig[id]
		stripped := false
		if inO {
			stripped = slices.ContainsFunc(naiveDiff(o, b, "", nil), func(x naiveOp) bool { return x.op == "add" })
		}
		for i, p := range paths {
			keys := map[string]bool{}
			for _, v := range at(b, strings.Split(p[1:], "/")) {
				keys[enc(v)] = true
			}
			if len(keys) == 0 {
				keys["null"] = true
			}
			for k := range keys {
				bump(byPath[i], k, !inO, stripped)
			}
		}
		vals := at(b, strings.Split(datePath[1:], "/"))
		var day time.Time
		if len(vals) > 0 {
			if s, ok := vals[0].(string); ok {
				tm, err := time.Parse(time.RFC3339, s)
				if err != nil {
					t.Fatalf("%s: date %q: %v", id, s, err)
				}
				day = tm.UTC().Truncate(24 * time.Hour)
			}
		}
		if day.IsZero() {
			bump(byDay, "null", !inO, stripped)
			continue
		}
		if first.IsZero() || day.Before(first) {
			first = day
		}
		if day.After(last) {
			last = day
		}
		bump(byDay, day.Format("2006-01-02"), !inO, stripped)
	}
	var fields []diff.ProfileField
	for i, p := range paths {
		if len(byPath[i]) > 1000 {
			continue // not keyword-like
		}
		var vals []diff.ProfileValue
		for k, c := range byPath[i] {
			vals = append(vals, diff.ProfileValue{Value: json.RawMessage(k), ProfileCounts: *c})
		}
		slices.SortFunc(vals, func(a, b diff.ProfileValue) int {
			return cmp.Or(cmp.Compare(b.Lost+b.Stripped, a.Lost+a.Stripped), cmp.Compare(b.Backup, a.Backup),
				strings.Compare(string(a.Value), string(b.Value)))
		})
		f := diff.ProfileField{Path: p, Values: vals}
		if len(vals) > 10 {
			f.Values, f.Other = vals[:10], &diff.ProfileCounts{}
			for _, v := range vals[10:] {
				f.Other.Lost += v.Lost
				f.Other.Stripped += v.Stripped
				f.Other.Backup += v.Backup
			}
		}
		fields = append(fields, f)
	}
	month := last.Sub(first) > 90*24*time.Hour
	keyed := map[string]*diff.ProfileCounts{}
	for k, c := range byDay {
		if month && k != "null" {
			k = k[:7]
		}
		if keyed[k] == nil {
			keyed[k] = &diff.ProfileCounts{}
		}
		keyed[k].Lost += c.Lost
		keyed[k].Stripped += c.Stripped
		keyed[k].Backup += c.Backup
	}
	pd := &diff.ProfileDate{Path: datePath, Unit: "day", Buckets: []diff.DateBucket{}}
	if month {
		pd.Unit = "month"
	}
	keys := make([]string, 0, len(keyed))
	for k := range keyed {
		if k != "null" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	if keyed["null"] != nil {
		keys = append(keys, "null")
	}
	for _, k := range keys {
		pd.Buckets = append(pd.Buckets, diff.DateBucket{Key: k, ProfileCounts: *keyed[k]})
	}
	return fields, pd
}
