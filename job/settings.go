package job

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
)

// Setting is one line of the effective configuration: a flag's value as
// the job uses it (defaults resolved) and where it came from.
type Setting struct {
	Name string
	// Value is canonical ("5MiB", "5m0s", "true"); a secret's is
	// "set (ORIGIN, N bytes)" or "", never the secret.
	Value string
	// Origin is "flag", the variable (ESRESTORE_X, ESRESTORE_X_FILE) or
	// "default".
	Origin string
	Secret bool
}

// Key is the setting's name in records and JSON: batch_bytes.
func (s Setting) Key() string { return strings.ReplaceAll(s.Name, "-", "_") }

// Override is a variable a flag overrode.
type Override struct{ Flag, Variable string }

// NotFingerprinted are the settings config_sha256 leaves out, each with
// why: they change how the job tells what it does, not what it does.
// Every other setting is in the fingerprint.
var NotFingerprinted = map[string]string{
	"log-format":    "how records are written, not what the job does",
	"log-level":     "which records are written, not what the job does",
	"progress":      "how often progress is logged, not what the job does",
	"expect-config": "the fingerprint the run is compared with cannot be part of it",
}

// Identities are what config_sha256 binds the configuration to: the
// cluster, the original and, for a snapshot source, the snapshot.
type Identities struct {
	Cluster  string `json:"cluster_uuid"`
	Original string `json:"original_uuid"`
	Snapshot string `json:"snapshot_uuid"`
}

// fingerprinted is the canonical form config_sha256 is taken over: each
// fingerprinted setting by key, a secret as "set (ORIGIN)" (never its
// value or length), and the identities.
func fingerprinted(sets []Setting) map[string]string {
	out := map[string]string{}
	for _, s := range sets {
		if _, skip := NotFingerprinted[s.Name]; skip {
			continue
		}
		v := s.Value
		if s.Secret && v != "" {
			v = "set (" + s.Origin + ")"
		}
		out[s.Key()] = v
	}
	return out
}

// ConfigSHA256 is the fingerprint a second person compares: sha256 over
// the canonical JSON of the fingerprinted settings and the identities
// (encoding/json writes map keys sorted).
func ConfigSHA256(sets []Setting, id Identities) string {
	b, err := json.Marshal(struct {
		Settings map[string]string `json:"settings"`
		Identities
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
	Identities
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

// LogConfig logs the effective configuration once: every setting with
// its value and origin, secrets as "set (where, length)", and the
// fingerprint with what it binds. One schema whatever the command: the
// settings are one object, each {"value", "origin"} in JSON, and
// "value (origin)" in text, for a person.
func LogConfig(log *slog.Logger, cmd string, c Config, sha string, id Identities, asJSON bool) {
	group := make([]any, 0, len(c.Settings))
	for _, s := range c.Settings {
		if asJSON {
			group = append(group, slog.Group(s.Key(), "value", s.Value, "origin", s.Origin))
		} else {
			group = append(group, slog.String(s.Key(), strings.TrimSpace(s.Value+" ("+s.Origin+")")))
		}
	}
	log.Info("effective configuration", "command", cmd, "config_sha256", sha, "cluster_uuid", id.Cluster,
		"original_uuid", id.Original, "snapshot_uuid", id.Snapshot, slog.Group("settings", group...))
}

// LogOverrides warns of each variable a flag overrode.
func LogOverrides(log *slog.Logger, c Config) {
	for _, o := range c.Overrides {
		log.Warn("a flag overrides a variable", "flag", o.Flag, "variable", o.Variable)
	}
}

// options are the settings for the summary: each set value by key.
func (c Config) options() map[string]any {
	out := map[string]any{}
	for _, s := range c.Settings {
		if s.Value != "" {
			out[s.Key()] = s.Value
		}
	}
	return out
}
