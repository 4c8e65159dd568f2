package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"
)

// setting is one line of the effective configuration: a flag's value as
// the job uses it (defaults resolved) and where it came from.
type setting struct {
	name string
	// value is canonical ("5MiB", "5m0s", "true"); a secret's is
	// "set (ORIGIN, N bytes)" or "", never the secret.
	value string
	// origin is "flag", the variable (ESRESTORE_X, ESRESTORE_X_FILE) or
	// "default".
	origin string
	secret bool
}

// key is the setting's name in records and JSON: batch_bytes.
func (s setting) key() string { return strings.ReplaceAll(s.name, "-", "_") }

// override is a variable a flag overrode.
type override struct{ flag, variable string }

// effective writes the settings whose value the job computes or
// normalizes; any other flag shows its value as given, trimmed.
var effective = map[string]func(Config) string{
	"es-url":              func(c Config) string { return strings.Join(c.ES.URLs, ",") },
	"es-username":         func(c Config) string { return c.ES.Username },
	"original":            func(c Config) string { return redactURL(c.Original) },
	"source":              func(c Config) string { return redactURL(c.Source) },
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
	"profile":             profileSetting,
	"output": func(c Config) string {
		if c.Output == "" {
			return defaultOutput
		}
		return redactURL(c.Output)
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

// notFingerprinted are the settings config_sha256 leaves out, each with
// why: they change how the job tells what it does, not what it does.
// Every other setting is in the fingerprint.
var notFingerprinted = map[string]string{
	"log-format":    "how records are written, not what the job does",
	"log-level":     "which records are written, not what the job does",
	"progress":      "how often progress is logged, not what the job does",
	"expect-config": "the fingerprint the run is compared with cannot be part of it",
}

// settings lists every registered flag's effective value and origin, and
// the variables a flag overrode.
func (fv *flagValues) settings(c Config) ([]setting, []override) {
	var out []setting
	var ov []override
	for _, n := range fv.order {
		d, rv := fv.defs[n], fv.values[n]
		s := setting{name: n, origin: fv.settingOrigin(n), secret: d.secret}
		where := fv.origin(n)
		if sh := rv.shadowed; sh != nil {
			ov = append(ov, override{flag: "--" + n, variable: sh.origin})
		}
		switch {
		case d.secret:
			v := rv.value
			if f := secretOf[n]; f != nil {
				v = f(c)
			}
			if v != "" && !rv.set {
				// From --es-url's user information.
				s.origin, where = fv.settingOrigin("es-url"), fv.origin("es-url")
			}
			if v != "" {
				s.value = fmt.Sprintf("set (%s, %d bytes)", where, len(v))
			}
		case effective[n] != nil:
			s.value = effective[n](c)
			if n == "fail-on" && c.failOnWatched {
				s.origin = "default with " + fv.origin("watch")
			}
			if n == "es-username" && s.value != "" && !rv.set {
				s.origin = fv.settingOrigin("es-url")
			}
		case d.isBool:
			s.value = strconv.FormatBool(fv.flag(n))
		default:
			s.value = fv.str(n)
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

// identities are what config_sha256 binds the configuration to: the
// cluster, the original and, for a snapshot source, the snapshot.
type identities struct {
	Cluster  string `json:"cluster_uuid"`
	Original string `json:"original_uuid"`
	Snapshot string `json:"snapshot_uuid"`
}

// fingerprinted is the canonical form config_sha256 is taken over: each
// fingerprinted setting by key, a secret as "set (ORIGIN)" (never its
// value or length), and the identities.
func fingerprinted(sets []setting) map[string]string {
	out := map[string]string{}
	for _, s := range sets {
		if _, skip := notFingerprinted[s.name]; skip {
			continue
		}
		v := s.value
		if s.secret && v != "" {
			v = "set (" + s.origin + ")"
		}
		out[s.key()] = v
	}
	return out
}

// configSHA256 is the fingerprint a second person compares: sha256 over
// the canonical JSON of the fingerprinted settings and the identities
// (encoding/json writes map keys sorted).
func configSHA256(sets []setting, id identities) string {
	b, err := json.Marshal(struct {
		Settings map[string]string `json:"settings"`
		identities
	}{fingerprinted(sets), id})
	if err != nil {
		panic(err) // strings only: cannot fail
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// configRecord is config.json, what check leaves in the report directory
// of the run id it checked: the fingerprint and what it was taken over,
// so that a run whose fingerprint differs names the settings that do.
type configRecord struct {
	ConfigSHA256 string            `json:"config_sha256"`
	Settings     map[string]string `json:"settings"`
	identities
}

// differences names what differs between the record check left and this
// run's configuration: "workers: 8, check had 4".
func (r configRecord) differences(now configRecord) []string {
	var out []string
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range r.Settings {
			if !yield(k) {
				return
			}
		}
		for k := range now.Settings {
			if _, ok := r.Settings[k]; !ok && !yield(k) {
				return
			}
		}
	})
	for _, k := range keys {
		if a, b := r.Settings[k], now.Settings[k]; a != b {
			out = append(out, fmt.Sprintf("%s: %q, check had %q", k, b, a))
		}
	}
	for _, f := range []struct{ name, was, is string }{
		{"cluster_uuid", r.Cluster, now.Cluster}, {"original_uuid", r.Original, now.Original}, {"snapshot_uuid", r.Snapshot, now.Snapshot},
	} {
		if f.was != f.is {
			out = append(out, fmt.Sprintf("%s: %q, check had %q", f.name, f.is, f.was))
		}
	}
	return out
}

// logConfig logs the effective configuration once: every setting with
// its value and origin, secrets as "set (where, length)", and the
// fingerprint with what it binds. One schema whatever the command: the
// settings are one object, each {"value", "origin"} in JSON, and
// "value (origin)" in text, for a person.
func logConfig(log *slog.Logger, cmd string, c Config, sha string, id identities, asJSON bool) {
	group := make([]any, 0, len(c.settings))
	for _, s := range c.settings {
		if asJSON {
			group = append(group, slog.Group(s.key(), "value", s.value, "origin", s.origin))
		} else {
			group = append(group, slog.String(s.key(), strings.TrimSpace(s.value+" ("+s.origin+")")))
		}
	}
	log.Info("effective configuration", "command", cmd, "config_sha256", sha, "cluster_uuid", id.Cluster,
		"original_uuid", id.Original, "snapshot_uuid", id.Snapshot, slog.Group("settings", group...))
}

// logOverrides warns of each variable a flag overrode.
func logOverrides(log *slog.Logger, c Config) {
	for _, o := range c.overrides {
		log.Warn("a flag overrides a variable", "flag", o.flag, "variable", o.variable)
	}
}

// options are the settings for the summary: each set value by key.
func (c Config) options() map[string]any {
	out := map[string]any{}
	for _, s := range c.settings {
		if s.value != "" {
			out[s.key()] = s.value
		}
	}
	return out
}
