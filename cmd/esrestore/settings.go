package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/esrestore/esrestore/internal/redact"
	"github.com/esrestore/esrestore/job"
)

// effective writes the settings whose value the job computes or
// normalizes; any other flag shows its value as given, trimmed.
var effective = map[string]func(Config) string{
	"es-url":              func(c Config) string { return strings.Join(c.ES.URLs, ",") },
	"es-username":         func(c Config) string { return c.ES.Username },
	"original":            func(c Config) string { return redact.URLs(c.Original) },
	"source":              func(c Config) string { return redact.URLs(c.Source) },
	"target":              func(c Config) string { return c.Target },
	"workers":             func(c Config) string { return strconv.Itoa(c.Workers) },
	"batch-size":          func(c Config) string { return strconv.Itoa(c.BatchSize) },
	"batch-bytes":         func(c Config) string { return formatSize(c.BatchBytes) },
	"retry-for":           func(c Config) string { return formatDuration(c.RetryFor) },
	"bulk-timeout":        func(c Config) string { return formatDuration(c.BulkTimeout) },
	"drain-timeout":       func(c Config) string { return formatDuration(c.Drain) },
	"max-docs-per-second": func(c Config) string { return strconv.FormatFloat(c.MaxDocsPerSecond, 'f', -1, 64) },
	"ignore":              func(c Config) string { return strings.Join(c.Ignore, ",") },
	"watch":               func(c Config) string { return formatWatches(c.Watch) },
	"only-query":          func(c Config) string { return string(c.OnlyQuery) },
	"profile":             job.ProfileSetting,
	"output": func(c Config) string {
		if c.Output == "" {
			return job.DefaultOutput
		}
		return redact.URLs(c.Output)
	},
	"run-id": func(c Config) string { return c.RunID },
	"fail-on": func(c Config) string {
		if len(c.FailOn) == 0 {
			return "none"
		}
		return strings.Join(c.FailOn, ",")
	},
	"expect-config": func(c Config) string { return c.ExpectConfig },
	"progress":      func(c Config) string { return formatDuration(c.Progress) },
}

// formatDuration writes a duration as an operator would: 5m, 1h, 90s
// reads 1m30s.
func formatDuration(d time.Duration) string {
	s := d.String()
	if t, ok := strings.CutSuffix(s, "m0s"); ok {
		s = t + "m"
	}
	if t, ok := strings.CutSuffix(s, "h0m"); ok {
		s = t + "h"
	}
	return s
}

// secretOf is a secret's value as the job uses it: the password may come
// from --es-url's user:password.
var secretOf = map[string]func(Config) string{
	"es-password": func(c Config) string { return c.ES.Password },
}

// settings lists every registered flag's effective value and origin, and
// the variables a flag overrode.
func (fv *flagValues) settings(c Config) ([]job.Setting, []job.Override) {
	var out []job.Setting
	var ov []job.Override
	for _, n := range fv.order {
		d, rv := fv.defs[n], fv.values[n]
		s := job.Setting{Name: n, Origin: fv.settingOrigin(n), Secret: d.secret}
		where := fv.origin(n)
		if sh := rv.shadowed; sh != nil {
			ov = append(ov, job.Override{Flag: "--" + n, Variable: sh.origin})
		}
		switch {
		case d.secret:
			v := rv.value
			if f := secretOf[n]; f != nil {
				v = f(c)
			}
			if v != "" && !rv.set {
				// From --es-url's user information.
				s.Origin, where = fv.settingOrigin("es-url"), fv.origin("es-url")
			}
			if v != "" {
				s.Value = fmt.Sprintf("set (%s, %d bytes)", where, len(v))
			}
		case effective[n] != nil:
			s.Value = effective[n](c)
			if n == "fail-on" && c.FailOnWatched {
				s.Origin = "default with " + fv.origin("watch")
			}
			if n == "es-username" && s.Value != "" && !rv.set {
				s.Origin = fv.settingOrigin("es-url")
			}
		case d.isBool:
			s.Value = strconv.FormatBool(fv.flag(n))
		default:
			s.Value = fv.str(n)
		}
		out = append(out, s)
	}
	return out, ov
}

// settingOrigin is a flag's origin as the record names it.
func (fv *flagValues) settingOrigin(name string) string {
	rv := fv.get(name)
	switch {
	case !rv.set:
		return "default"
	case strings.HasPrefix(rv.origin, "--"):
		return "flag"
	}
	return rv.origin
}
