package main

import (
	"fmt"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/esrestore/esrestore/diff"
	"github.com/esrestore/esrestore/report"
	"github.com/esrestore/esrestore/restore"
)

// Checks of one value, for flagDef.check: each returns why a value is
// refused, or "".

func intIn(lo, hi int) func(string) string {
	return func(v string) string {
		if n, err := strconv.Atoi(v); err != nil || n < lo || n > hi {
			return fmt.Sprintf("must be %d..%d", lo, hi)
		}
		return ""
	}
}

// parseDuration reads a duration such as 90s or 5m; "0" is none.
func parseDuration(v string) (time.Duration, error) {
	if v == "0" {
		return 0, nil
	}
	return time.ParseDuration(v)
}

func durationIn(lo, hi time.Duration) func(string) string {
	return func(v string) string {
		if d, err := parseDuration(v); err != nil || d < lo || d > hi {
			return fmt.Sprintf("must be a duration between %s and %s, e.g. 5m", lo, hi)
		}
		return ""
	}
}

func sizeIn(lo, hi int) func(string) string {
	return func(v string) string {
		if n, err := parseSize(v); err != nil || n < lo || n > hi {
			return fmt.Sprintf("must be a size between %s and %s, e.g. 5MiB", formatSize(lo), formatSize(hi))
		}
		return ""
	}
}

func oneOf(allowed ...string) func(string) string {
	return func(v string) string {
		if !slices.Contains(allowed, v) {
			return "must be one of " + strings.Join(allowed, ", ")
		}
		return ""
	}
}

func matches(re *regexp.Regexp, why string) func(string) string {
	return func(v string) string {
		if !re.MatchString(v) {
			return why
		}
		return ""
	}
}

// optional lets a given but empty value mean "not set".
func optional(check func(string) string) func(string) string {
	return func(v string) string {
		if v == "" {
			return ""
		}
		return check(v)
	}
}

func sse(v string) string {
	if v != "AES256" && v != "aws:kms" {
		return "must be AES256 or aws:kms"
	}
	return ""
}

func boolean(v string) string {
	if _, err := strconv.ParseBool(v); err != nil {
		return "must be true or false"
	}
	return ""
}

func rate(v string) string {
	if n, err := strconv.ParseFloat(v, 64); err != nil || n < 0 || n > 10_000_000 || math.IsNaN(n) {
		return "must be a number of documents per second, 0..10000000 (0 = no limit)"
	}
	return ""
}

func interval(v string) string {
	if d, err := parseDuration(v); err != nil || d < 0 {
		return "must be a duration such as 30s, or 0 to turn progress off"
	}
	return ""
}

func httpURL(v string) string {
	if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "must be an http(s) URL"
	}
	return ""
}

func webhook(v string) string {
	if httpURL(v) != "" {
		return "must be an http(s) webhook URL"
	}
	return ""
}

func httpURLs(v string) string {
	for _, part := range splitList(v) {
		if httpURL(part) != "" {
			return "must be an http(s)://host:port URL"
		}
	}
	return ""
}

func indexOrDump(v string) string {
	if v == "" || restore.IsDumpURL(v) {
		return ""
	}
	return restore.CheckIndexName(v)
}

func sourceForm(v string) string {
	if v == "" {
		return ""
	}
	_, why := parseSource(v)
	return why
}

// listItems is a comma-separated value's items. A value given (by flag or
// variable) that is blank or has a blank item is refused: an empty list
// must never turn a gate off by accident (--fail-on has none for that).
func listItems(v string) ([]string, string) {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p == "" {
			return nil, "a blank list or a blank item: list the values, comma-separated"
		}
		out = append(out, p)
	}
	return out, ""
}

func anyList(v string) string {
	_, why := listItems(v)
	return why
}

func failOnList(v string) string {
	items, why := listItems(v)
	if why != "" {
		return why
	}
	for _, f := range items {
		switch {
		case slices.Contains(report.FailOnKinds, f):
		case f == "none" && len(items) > 1:
			return "none turns every gate off: give it alone"
		case f != "none":
			return "must list " + strings.Join(report.FailOnKinds, ", ") + ", or be none"
		}
	}
	return ""
}

func ignoreList(v string) string {
	items, why := listItems(v)
	if why != "" {
		return why
	}
	for _, p := range items {
		if _, err := diff.ParsePointer(p); err != nil {
			return err.Error()
		}
	}
	if len(items) > diff.MaxIgnore {
		return fmt.Sprintf("at most %d pointers, not %d", diff.MaxIgnore, len(items))
	}
	return ""
}

// validate checks every value given, by flag or variable, and every
// variable a flag overrode, returning a problem per bad value.
func (fv *flagValues) validate() []error {
	var errs []error
	for _, n := range fv.order {
		d, rv := fv.defs[n], fv.values[n]
		check := d.checker()
		if check == nil {
			continue
		}
		if rv.set {
			if why := check(strings.TrimSpace(rv.value)); why != "" {
				errs = append(errs, fv.bad(n, why))
			}
		}
		if sh := rv.shadowed; sh != nil {
			if why := check(strings.TrimSpace(sh.value)); why != "" {
				errs = append(errs, badValue(sh.origin, why+"; --"+n+" overrides it, but the variable is wrong all the same: fix or unset it", sh.value, d.secret))
			}
		}
	}
	return errs
}
