package job

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/esrestore/esrestore/internal/elastic"
	"github.com/esrestore/esrestore/internal/redact"
	"github.com/esrestore/esrestore/report"
	"github.com/esrestore/esrestore/restore"
)

// MaxProfilePaths is the most paths --profile takes, and the most the
// mapping gives when it is not set.
const MaxProfilePaths = 20

// ProfileNone turns the profile (or the date profile) off.
const ProfileNone = "none"

// OriginMapping is the origin of a setting read from the original's
// mapping.
const OriginMapping = "mapping"

// ProfileSetting is --profile as the record shows it.
func ProfileSetting(c Config) string {
	if c.Profile != nil && len(c.Profile) == 0 {
		return ProfileNone
	}
	return strings.Join(c.Profile, ",")
}

// profileOptions are the diff's profile paths and date path: none gives
// none.
func (c Config) profileOptions() ([]string, string) {
	date := c.ProfileDate
	if date == ProfileNone {
		date = ""
	}
	return c.Profile, date
}

// detectProfile reads, when --profile or --profile-date is not given, the
// paths to profile the loss by from the original's mapping: its keyword,
// constant_keyword and boolean fields (the first MaxProfilePaths in path
// order), and its first date or date_nanos field in path order. The
// effective configuration shows what it chose, with the origin
// "mapping".
func (j *Job) detectProfile(ctx context.Context) error {
	autoPaths, autoDate := j.cfg.Profile == nil, j.cfg.ProfileDate == ""
	if !j.hasSetting("profile") || (!autoPaths && !autoDate) || j.es == nil || restore.IsDumpURL(j.cfg.Original) {
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
	if len(keywords) > MaxProfilePaths {
		keywords, left = keywords[:MaxProfilePaths], keywords[MaxProfilePaths:]
	}
	if autoPaths {
		j.cfg.Profile = keywords
		if j.cfg.Profile == nil {
			j.cfg.Profile = []string{}
		}
		j.setSetting("profile", ProfileSetting(j.cfg), OriginMapping)
	}
	if autoDate {
		j.cfg.ProfileDate = ProfileNone
		if len(dates) > 0 {
			j.cfg.ProfileDate = dates[0]
		}
		j.setSetting("profile-date", j.cfg.ProfileDate, OriginMapping)
	}
	j.summary.Options = j.cfg.options()
	p, d := j.cfg.profileOptions()
	j.log.Info("loss profile read from the original's mapping", "original", redact.URLs(j.cfg.Original),
		"paths", nonNil(p), "paths_left_out", nonNil(left), "date", d, "date_fields", nonNil(dates))
	return nil
}

// hasSetting reports whether the command has the flag name.
func (j *Job) hasSetting(name string) bool {
	return slices.ContainsFunc(j.cfg.Settings, func(s Setting) bool { return s.Name == name })
}

// setSetting sets a setting's value and origin.
func (j *Job) setSetting(name, value, origin string) {
	for i := range j.cfg.Settings {
		if j.cfg.Settings[i].Name == name {
			j.cfg.Settings[i].Value, j.cfg.Settings[i].Origin = value, origin
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
func (j *Job) judgeAlternatives() {
	if pa := j.summary.PreferAlternatives; pa != nil {
		j.summary.PreferAlternatives = report.Alternatives(&j.summary, pa.Counts())
	}
}

// nonNil keeps an empty list a JSON array, not null.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
