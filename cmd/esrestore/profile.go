package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/esrestore/esrestore/diff"
	"github.com/esrestore/esrestore/internal/elastic"
	"github.com/esrestore/esrestore/report"
)

// maxProfilePaths is the most paths --profile takes, and the most the
// mapping gives when it is not set.
const maxProfilePaths = 20

// profileNone turns the profile (or the date profile) off.
const profileNone = "none"

// originMapping is the origin of a setting read from the original's
// mapping.
const originMapping = "mapping"

// profileList checks --profile: JSON Pointers, or none alone.
func profileList(v string) string {
	items, why := listItems(v)
	if why != "" {
		return why
	}
	if slices.Contains(items, profileNone) {
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
	if len(items) > maxProfilePaths {
		return fmt.Sprintf("at most %d pointers, not %d", maxProfilePaths, len(items))
	}
	return ""
}

// profileDatePath checks --profile-date: a JSON Pointer, or none.
func profileDatePath(v string) string {
	if v == profileNone {
		return ""
	}
	if _, err := diff.ParsePointer(v); err != nil {
		return err.Error()
	}
	return ""
}

// profileSetting is --profile as the record shows it.
func profileSetting(c Config) string {
	if c.Profile != nil && len(c.Profile) == 0 {
		return profileNone
	}
	return strings.Join(c.Profile, ",")
}

// profileOptions are the diff's profile paths and date path: none gives
// none.
func (c Config) profileOptions() ([]string, string) {
	date := c.ProfileDate
	if date == profileNone {
		date = ""
	}
	return c.Profile, date
}

// detectProfile reads, when --profile or --profile-date is not given, the
// paths to profile the loss by from the original's mapping: its keyword,
// constant_keyword and boolean fields (the first maxProfilePaths in path
// order), and its first date or date_nanos field in path order. The
// effective configuration shows what it chose, with the origin
// "mapping".
func (j *job) detectProfile(ctx context.Context) error {
	autoPaths, autoDate := j.cfg.Profile == nil, j.cfg.ProfileDate == ""
	if !j.hasSetting("profile") || (!autoPaths && !autoDate) || j.es == nil || isDumpURL(j.cfg.Original) {
		return nil
	}
	ix, err := elastic.GetIndex(ctx, j.es, j.cfg.Original, j.retryPolicy())
	if errors.Is(err, elastic.ErrNotFound) {
		return nil // the checks say so
	}
	if err != nil {
		return fmt.Errorf("read the original's mapping for the loss profile: %w", err)
	}
	keywords, dates, err := mappingFields(ix.Mappings)
	if err != nil {
		return fmt.Errorf("read the original's mapping for the loss profile: %w", err)
	}
	var left []string
	if len(keywords) > maxProfilePaths {
		keywords, left = keywords[:maxProfilePaths], keywords[maxProfilePaths:]
	}
	if autoPaths {
		j.cfg.Profile = keywords
		if j.cfg.Profile == nil {
			j.cfg.Profile = []string{}
		}
		j.setSetting("profile", profileSetting(j.cfg), originMapping)
	}
	if autoDate {
		j.cfg.ProfileDate = profileNone
		if len(dates) > 0 {
			j.cfg.ProfileDate = dates[0]
		}
		j.setSetting("profile-date", j.cfg.ProfileDate, originMapping)
	}
	j.summary.Options = j.cfg.options()
	p, d := j.cfg.profileOptions()
	j.log.Info("loss profile read from the original's mapping", "original", redactURL(j.cfg.Original),
		"paths", nonNil(p), "paths_left_out", nonNil(left), "date", d, "date_fields", nonNil(dates))
	return nil
}

// hasSetting reports whether the command has the flag name.
func (j *job) hasSetting(name string) bool {
	return slices.ContainsFunc(j.cfg.settings, func(s setting) bool { return s.name == name })
}

// setSetting sets a setting's value and origin.
func (j *job) setSetting(name, value, origin string) {
	for i := range j.cfg.settings {
		if j.cfg.settings[i].name == name {
			j.cfg.settings[i].value, j.cfg.settings[i].origin = value, origin
		}
	}
}

// mappingFields lists, sorted, the JSON Pointers of a mapping's keyword,
// constant_keyword and boolean fields, and of its date and date_nanos
// fields; objects and nested fields are walked, multi-fields (which are
// not in _source) are not.
func mappingFields(mappings json.RawMessage) (keywords, dates []string, err error) {
	if len(mappings) == 0 {
		return nil, nil, nil
	}
	type field struct {
		Type       string                     `json:"type"`
		Properties map[string]json.RawMessage `json:"properties"`
	}
	var walk func(prefix string, props map[string]json.RawMessage) error
	walk = func(prefix string, props map[string]json.RawMessage) error {
		for name, raw := range props {
			var f field
			if err := json.Unmarshal(raw, &f); err != nil {
				return fmt.Errorf("field %q: %w", name, err)
			}
			path := prefix + "/" + strings.NewReplacer("~", "~0", "/", "~1").Replace(name)
			switch f.Type {
			case "keyword", "constant_keyword", "boolean":
				keywords = append(keywords, path)
			case "date", "date_nanos":
				dates = append(dates, path)
			}
			if f.Properties != nil {
				if err := walk(path, f.Properties); err != nil {
					return err
				}
			}
		}
		return nil
	}
	var top field
	if err := json.Unmarshal(mappings, &top); err != nil {
		return nil, nil, err
	}
	if err := walk("", top.Properties); err != nil {
		return nil, nil, err
	}
	slices.Sort(keywords)
	slices.Sort(dates)
	return keywords, dates, nil
}

// judgeAlternatives judges the prefer alternatives again on the summary
// as it now stands (report.Alternatives): after the verdict, so that
// each row weighs the run's other reasons.
func (j *job) judgeAlternatives() {
	if pa := j.summary.PreferAlternatives; pa != nil {
		j.summary.PreferAlternatives = report.Alternatives(&j.summary, pa.Counts())
	}
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
