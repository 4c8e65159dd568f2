package diff

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/esrestore/esrestore/fixtures"
	"github.com/esrestore/esrestore/fixtures/estest"
)

// profileDocs are a backup of n documents and an original that lost every
// tenth (most of them from one site) and has every thirteenth stripped of
// /extra; the target is the original with the lost documents back.
func profileDocs(n int) (orig, backup, target []fixtures.Doc) {
	sites := []string{"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu"}
	base := time.Date(2021, 6, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		doc := map[string]any{"free": fmt.Sprintf("text %d", i), "flag": i%2 == 0, "extra": "e"}
		lost := i%10 == 0
		switch {
		case lost && i%30 != 0:
			doc["site"] = "incident"
		case i%19 != 0:
			doc["site"] = sites[i%len(sites)]
		}
		if i%11 != 0 {
			doc["labels"] = []string{sites[i%3], sites[(i+1)%3]}
		}
		doc["nested"] = []map[string]any{{"k": sites[i%4]}}
		day := base.AddDate(0, 0, i%200)
		switch i % 5 {
		case 0:
			doc["modified"] = day.Format("2006-01-02")
		case 1:
			// 23:30 two hours behind UTC: the next day in UTC.
			doc["modified"] = time.Date(day.Year(), day.Month(), day.Day(), 23, 30, 0, 0, time.FixedZone("", -2*3600)).Format(time.RFC3339)
		case 2:
			doc["modified"] = day.Add(time.Hour).UnixMilli()
		case 3:
			doc["modified"] = strconv.FormatInt(day.Add(2*time.Hour).UnixMilli(), 10)
		}
		if i%17 == 0 {
			delete(doc, "modified")
		}
		src, _ := json.Marshal(doc)
		id := fmt.Sprintf("d%04d", i)
		backup = append(backup, fixtures.Doc{ID: id, Source: src})
		if lost {
			target = append(target, fixtures.Doc{ID: id, Source: src})
			continue
		}
		if i%13 == 1 {
			delete(doc, "extra")
			src, _ = json.Marshal(doc)
		}
		orig = append(orig, fixtures.Doc{ID: id, Source: src})
		target = append(target, fixtures.Doc{ID: id, Source: src})
	}
	for i := range 5 {
		d := fixtures.Doc{ID: fmt.Sprintf("new%d", i), Source: []byte(`{"site":"new"}`)}
		orig = append(orig, d)
		target = append(target, d)
	}
	return orig, backup, target
}

// recountProfile counts the backup's documents by the values at each path
// and the days of the date path, on decoded documents.
func recountProfile(t *testing.T, orig, backup []fixtures.Doc, paths []string, datePath, unit string) ([]ProfileField, *ProfileDate) {
	t.Helper()
	dec := func(b []byte) map[string]any {
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	inO := map[string]map[string]any{}
	for _, d := range orig {
		inO[d.ID] = dec(d.Source)
	}
	// at returns the values at a path of one segment or two (through
	// arrays, which stand for each element).
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
	type counts = ProfileCounts
	byPath := make([]map[string]*counts, len(paths))
	for i := range byPath {
		byPath[i] = map[string]*counts{}
	}
	byDay := map[string]*counts{}
	bump := func(m map[string]*counts, k string, lost, stripped bool) {
		if m[k] == nil {
			m[k] = &counts{}
		}
		m[k].Backup++
		if lost {
			m[k].Lost++
		}
		if stripped {
			m[k].Stripped++
		}
	}
	var minDay, maxDay time.Time
	for _, d := range backup {
		b := dec(d.Source)
		o, inOrig := inO[d.ID]
		lost := !inOrig
		stripped := false
		for k := range b {
			if _, ok := o[k]; inOrig && !ok {
				stripped = true
			}
		}
		for i, p := range paths {
			keys := map[string]bool{}
			for _, v := range at(b, strings.Split(p[1:], "/")) {
				enc, _ := json.Marshal(v)
				keys[string(enc)] = true
			}
			if len(keys) == 0 {
				keys["null"] = true
			}
			for k := range keys {
				bump(byPath[i], k, lost, stripped)
			}
		}
		if datePath != "" {
			var day time.Time
			ok := false
			switch v := b[datePath[1:]].(type) {
			case string:
				for _, l := range []string{time.RFC3339, "2006-01-02"} {
					if tm, err := time.Parse(l, v); err == nil {
						day, ok = tm.UTC(), true
						break
					}
				}
				if ms, err := strconv.ParseInt(v, 10, 64); !ok && err == nil {
					day, ok = time.UnixMilli(ms).UTC(), true
				}
			case float64:
				day, ok = time.UnixMilli(int64(v)).UTC(), true
			}
			if !ok {
				bump(byDay, "null", lost, stripped)
				continue
			}
			day = day.Truncate(24 * time.Hour)
			if minDay.IsZero() || day.Before(minDay) {
				minDay = day
			}
			if day.After(maxDay) {
				maxDay = day
			}
			bump(byDay, day.Format("2006-01-02"), lost, stripped)
		}
	}
	var fields []ProfileField
	for i, p := range paths {
		if len(byPath[i]) > MaxProfileValues {
			continue
		}
		var vals []ProfileValue
		for k, c := range byPath[i] {
			vals = append(vals, ProfileValue{Value: json.RawMessage(k), ProfileCounts: *c})
		}
		slices.SortFunc(vals, func(a, b ProfileValue) int {
			return cmp.Or(cmp.Compare(b.Lost+b.Stripped, a.Lost+a.Stripped), cmp.Compare(b.Backup, a.Backup), strings.Compare(string(a.Value), string(b.Value)))
		})
		f := ProfileField{Path: p, Values: vals}
		if len(vals) > 10 {
			f.Values, f.Other = vals[:10], &ProfileCounts{}
			for _, v := range vals[10:] {
				f.Other.Lost += v.Lost
				f.Other.Stripped += v.Stripped
				f.Other.Backup += v.Backup
			}
		}
		fields = append(fields, f)
	}
	if datePath == "" {
		return fields, nil
	}
	month := unit == "month" || (unit == "" && maxDay.Sub(minDay) > 90*24*time.Hour)
	keyed := map[string]*counts{}
	var null *counts
	for k, c := range byDay {
		if k == "null" {
			null = c
			continue
		}
		if month {
			k = k[:7]
		}
		if keyed[k] == nil {
			keyed[k] = &counts{}
		}
		keyed[k].Lost += c.Lost
		keyed[k].Stripped += c.Stripped
		keyed[k].Backup += c.Backup
	}
	pd := &ProfileDate{Path: datePath, Unit: map[bool]string{true: "month", false: "day"}[month], Buckets: []DateBucket{}}
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range keyed {
			if !yield(k) {
				return
			}
		}
	}) {
		pd.Buckets = append(pd.Buckets, DateBucket{Key: k, ProfileCounts: *keyed[k]})
	}
	if null != nil {
		pd.Buckets = append(pd.Buckets, DateBucket{Key: "null", ProfileCounts: *null})
	}
	return fields, pd
}

// TestProfile checks the loss profile against a recount on decoded
// documents, on every join, with the unit chosen and given; /free has a
// value per document and is left out.
func TestProfile(t *testing.T) {
	orig, backup, target := profileDocs(1500)
	paths := []string{"/site", "/labels", "/flag", "/nested/k", "/free", "/absent"}
	es := estest.New(t)
	for name, docs := range map[string][]fixtures.Doc{"po": orig, "pb": backup, "pt": target} {
		es.LoadDocs(t, name, docs, 2)
	}
	cl := es.Client()
	for _, unit := range []string{"", "day", "month"} {
		wantF, wantD := recountProfile(t, orig, backup, paths, "/modified", unit)
		if unit == "" && wantD.Unit != "month" {
			t.Fatalf("the scenario's dates span less than 90 days: %+v", wantD)
		}
		for _, tt := range []struct {
			name  string
			sides Sides
			opt   Options
		}{
			{"indexes", Sides{Original: IndexSide(cl, "po"), Backup: IndexSide(cl, "pb"), Target: IndexSide(cl, "pt")}, Options{}},
			{"dumps", Sides{Original: dumpOf("po", orig), Backup: dumpOf("pb", backup), Target: dumpOf("pt", target)}, Options{}},
			{"virtual", Sides{Original: IndexSide(cl, "po"), Backup: IndexSide(cl, "pb")}, Options{Overlay: OverlayFill}},
		} {
			for _, workers := range []int{1, 3} {
				opt := tt.opt
				opt.Workers, opt.PageSize, opt.Logger = workers, 100, slog.New(slog.DiscardHandler)
				opt.Profile, opt.ProfileDate, opt.ProfileUnit = paths, "/modified", unit
				c, err := New(opt).RunSides(t.Context(), tt.sides, io.Discard)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(c.Loss.Profile, wantF) {
					got, _ := json.Marshal(c.Loss.Profile)
					want, _ := json.Marshal(wantF)
					t.Errorf("unit %q %s workers %d: profile\n got %s\nwant %s", unit, tt.name, workers, got, want)
				}
				if !reflect.DeepEqual(c.Loss.ProfileDate, wantD) {
					got, _ := json.Marshal(c.Loss.ProfileDate)
					want, _ := json.Marshal(wantD)
					t.Errorf("unit %q %s workers %d: profile date\n got %s\nwant %s", unit, tt.name, workers, got, want)
				}
			}
		}
	}
	// The path with a value a document is left out, and the log says so.
	var logs strings.Builder
	opt := Options{Workers: 2, Profile: paths, Logger: slog.New(slog.NewJSONHandler(&logs, nil))}
	if _, err := New(opt).RunSides(t.Context(), Sides{Original: dumpOf("po", orig), Backup: dumpOf("pb", backup), Target: dumpOf("pt", target)}, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), `"msg":"diff profile leaves a path out","path":"/free"`) {
		t.Errorf("no log line leaves /free out:\n%s", logs.String())
	}
	// The incident stands out: most lost documents share one site.
	wantF, _ := recountProfile(t, orig, backup, paths, "", "")
	if v := wantF[0].Values[0]; string(v.Value) != `"incident"` || v.Lost != 100 || v.Backup != 100 {
		t.Errorf("the recount's first /site value is %s (%+v), want the incident's 100 lost", v.Value, v.ProfileCounts)
	}
}

// TestDateDay reads the forms of Elasticsearch's default date format.
func TestDateDay(t *testing.T) {
	day := func(s string) int64 {
		tm, _ := time.Parse("2006-01-02", s)
		return tm.Unix() / 86400
	}
	for _, tt := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{`"2021-11-05"`, day("2021-11-05"), true},
		{`"2021-11"`, day("2021-11-01"), true},
		{`"2021"`, day("2021-01-01"), true},
		{`"2021-11-05T10:00:00Z"`, day("2021-11-05"), true},
		{`"2021-11-05T10:00:00.123Z"`, day("2021-11-05"), true},
		{`"2021-11-05T23:30:00-02:00"`, day("2021-11-06"), true},
		{`"2021-11-05T01:30:00+02:00"`, day("2021-11-04"), true},
		{`"2021-11-05T10:00"`, day("2021-11-05"), true},
		{`1636070400000`, day("2021-11-05"), true},
		{`"1636070400000"`, day("2021-11-05"), true},
		{`-86400000`, day("1969-12-31"), true},
		{`"yesterday"`, 0, false},
		{`true`, 0, false},
		{`{"a":1}`, 0, false},
	} {
		got, ok := dateDay([]byte(tt.in))
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("dateDay(%s) = %d %v, want %d %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// TestProfileOptions: bad paths and units are refused.
func TestProfileOptions(t *testing.T) {
	for _, opt := range []Options{{Profile: []string{"site"}}, {ProfileDate: "modified"}, {ProfileUnit: "week"}} {
		if err := opt.Validate(); err == nil {
			t.Errorf("%+v: no error", opt)
		}
	}
}
