package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/esrestore/esrestore/diff"
	"github.com/esrestore/esrestore/report"
)

// envPrefix starts the environment variable of every flag.
const envPrefix = "ESRESTORE_"

// flagDef describes one flag: its name, help, default, and whether it holds
// a secret (also read from ESRESTORE_<FLAG>_FILE, never logged).
type flagDef struct {
	name   string
	def    string
	usage  string
	secret bool
	isBool bool
}

// Flag groups; each command registers the groups it uses.
var (
	esFlags = []flagDef{
		{name: "es-url", usage: "Elasticsearch URL(s), comma-separated; may carry user:password (redacted in every output)"},
		{name: "es-username", usage: "basic auth user"},
		{name: "es-password", usage: "basic auth password", secret: true},
		{name: "es-api-key", usage: "API key (base64 id:key as Elasticsearch returns it)", secret: true},
		{name: "es-bearer-token", usage: "bearer token (service account token)", secret: true},
		{name: "es-ca-cert", usage: "PEM file of the CA that signed Elasticsearch's certificate"},
		{name: "es-tls-server-name", usage: "TLS server name to verify, when it differs from the URL host"},
	}
	restoreFlags = []flagDef{
		{name: "original", usage: "the live index that lost documents (never written)"},
		{name: "source", usage: "backup: snapshot:REPO/SNAP[/INDEX], index:NAME, https://host:9200/NAME, file:///dump.ndjson[.gz], s3://bucket/dump.ndjson[.gz]"},
		{name: "target", usage: "the new index to restore into (default ORIGINAL_restored_YYYYMMDD)"},
		{name: "mode", def: "merge", usage: "merge (target = original + source) or source (target = source only)"},
		{name: "prefer", def: "original", usage: "in merge mode, what the target holds on an id present in both: original, source, or fill (the original with every field it lacks filled from the source)"},
		{name: "strategy", def: "reconcile", usage: "how a merge builds the target: reconcile (start from the backup, a snapshot restored as the target when its mapping allows, and write only what differs) or passes (write both sides whole)"},
		{name: "fill-null", def: "false", usage: "with --prefer fill, fill a null of the original from the source as a missing field (by default a null is a live value and stays)", isBool: true},
		{name: "workers", def: "4", usage: "concurrent _bulk requests, and scan slices (1..256)"},
		{name: "batch-size", def: "1000", usage: "documents per _bulk request (1..100000)"},
		{name: "batch-bytes", def: "5MiB", usage: "bytes per _bulk request (64KiB..512MiB)"},
		{name: "retry-for", def: "5m", usage: "how long a request failing with 429, 5xx, a cut connection or a timeout is retried (1s..24h)"},
		{name: "bulk-timeout", def: "2m", usage: "timeout of one _bulk request; one that times out is retried (1s..1h)"},
		{name: "drain-timeout", def: "60s", usage: "after SIGTERM/SIGINT, how long in-flight requests may finish before failures and summary are written (0s..10m)"},
		{name: "allow-empty-source", def: "false", usage: "restore a source that holds no document (refused by default: usually a wrong path)", isBool: true},
		{name: "keep-staging", def: "false", usage: "keep the staging index a snapshot source is restored into", isBool: true},
		{name: "max-docs-per-second", def: "0", usage: "documents per second the restore may write, across all workers (0 = no limit); requests in flight also halve on 429s and slow bulks, and recover slowly"},
	}
	diffFlags = []flagDef{
		{name: "ignore", usage: "JSON Pointers the diff ignores, comma-separated; * matches one segment (/modified,/tags/*/id)"},
	}
	outputFlags = []flagDef{
		{name: "output", usage: "where the report goes: s3://bucket/prefix or file://dir (default file://./esrestore-report)"},
		{name: "s3-endpoint", usage: "S3-compatible endpoint URL (path-style addressing)"},
		{name: "s3-region", usage: "S3 region (default: from the AWS environment)"},
		{name: "s3-sse", usage: "server-side encryption: AES256 or aws:kms"},
		{name: "s3-kms-key-id", usage: "KMS key id for --s3-sse aws:kms"},
	}
	jobFlags = []flagDef{
		{name: "environment", usage: "environment name shown in logs and the summary, e.g. prod (required)"},
		{name: "run-id", usage: "run id; a rerun with the same id resumes into the same target (default: UTC time + random suffix)"},
		{name: "dry-run", def: "false", usage: "write nothing to Elasticsearch: diff the original against what the target would be, report locally", isBool: true},
		{name: "notify", usage: "Slack-compatible incoming-webhook URL posted when the run starts and ends (a secret: never logged)", secret: true},
		{name: "fail-on", def: "failed,removed,overwritten,not-recovered", usage: "exit 3 when the verdict has any of these reasons: failed, removed, overwritten, not-recovered, mappings, live-writes, incomplete (comma-separated, or none)"},
		{name: "rerun", def: "false", usage: "run again a run id whose report is complete, writing a new report beside the old one", isBool: true},
		{name: "lease-ttl", def: "60s", usage: "how long the run id's lease in Elasticsearch (index esrestore-leases) outlives its runner's last renewal, renewed every quarter of it; a runner killed with SIGKILL is taken over after it (2s..10m)"},
	}
	logFlags = []flagDef{
		{name: "log-format", def: "auto", usage: "auto (text on a terminal, JSON otherwise), text or json"},
		{name: "log-level", def: "info", usage: "debug, info, warn or error"},
		{name: "progress", def: "30s", usage: "interval of progress reports (0 = off)"},
	}
)

// rawValue is a flag or environment value as given, with where it came
// from, so validation can name it the way the operator wrote it.
type rawValue struct {
	value  string
	origin string // "--workers", "ESRESTORE_WORKERS" or "ESRESTORE_ES_PASSWORD_FILE"
	set    bool
}

// flagValues collects the raw values of a command's flags.
type flagValues struct {
	readFileFn func(string) ([]byte, error)
	defs       map[string]flagDef
	order      []string
	values     map[string]*rawValue
	errs       []error
}

// stringValue records a flag given on the command line.
type stringValue struct {
	rv     *rawValue
	name   string
	isBool bool
}

func (s *stringValue) String() string {
	if s.rv == nil {
		return ""
	}
	return s.rv.value
}

func (s *stringValue) Set(v string) error {
	if s.rv.origin == "--"+s.name {
		// Which one was meant is not for esrestore to guess.
		return fmt.Errorf("--%s given twice (%q, then %q): give it once", s.name, s.rv.value, v)
	}
	s.rv.value, s.rv.origin, s.rv.set = v, "--"+s.name, true
	return nil
}

func (s *stringValue) IsBoolFlag() bool { return s.isBool }

// newFlagSet builds the flag set of a command from groups, its values
// defaulting to the environment.
func newFlagSet(name, summary string, env *Env, groups ...[]flagDef) (*flag.FlagSet, *flagValues) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fv := &flagValues{readFileFn: env.ReadFile, defs: map[string]flagDef{}, values: map[string]*rawValue{}}
	for _, g := range groups {
		for _, d := range g {
			rv := &rawValue{value: d.def}
			fv.defs[d.name] = d
			fv.order = append(fv.order, d.name)
			fv.values[d.name] = rv
			fv.fromEnv(env, d, rv)
			fs.Var(&stringValue{rv: rv, name: d.name, isBool: d.isBool}, d.name, d.usage)
		}
	}
	fs.Usage = func() { printUsage(env, fs, name, summary, fv) }
	return fs, fv
}

// envName is the environment variable of a flag.
func envName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func (fv *flagValues) fromEnv(env *Env, d flagDef, rv *rawValue) {
	name := envName(d.name)
	if v := env.Getenv(name); v != "" {
		rv.value, rv.origin, rv.set = v, name, true
	}
	if !d.secret {
		return
	}
	file := env.Getenv(name + "_FILE")
	if file == "" {
		return
	}
	if rv.set {
		fv.errs = append(fv.errs, fmt.Errorf("%s and %s_FILE: set only one", name, name))
		return
	}
	b, err := env.ReadFile(file)
	if err != nil {
		fv.errs = append(fv.errs, fmt.Errorf("%s_FILE: cannot read secret file (got %q): %w", name, file, errors.Unwrap(err)))
		return
	}
	rv.value, rv.origin, rv.set = strings.TrimRight(string(b), "\r\n"), name+"_FILE", true
}

func (fv *flagValues) get(name string) *rawValue {
	if rv, ok := fv.values[name]; ok {
		return rv
	}
	return &rawValue{}
}

func (fv *flagValues) str(name string) string { return strings.TrimSpace(fv.get(name).value) }

// origin names a flag the way the operator set it, or as a flag when unset.
func (fv *flagValues) origin(name string) string {
	if rv := fv.get(name); rv.origin != "" {
		return rv.origin
	}
	return "--" + name
}

func printUsage(env *Env, fs *flag.FlagSet, name, summary string, fv *flagValues) {
	w := env.Stdout
	fmt.Fprintf(w, "Usage: esrestore %s [flags]\n\n%s\n\nFlags (each also from its environment variable; the command line wins):\n", name, summary)
	for _, n := range fv.order {
		d := fv.defs[n]
		kind := " value"
		if d.isBool {
			kind = ""
		}
		fmt.Fprintf(w, "  --%s%s\n      %s\n      env %s", n, kind, d.usage, envName(n))
		if d.secret {
			fmt.Fprintf(w, " or %s_FILE (a file holding it)", envName(n))
		}
		if d.def != "" {
			fmt.Fprintf(w, "; default %s", d.def)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "\n%s", exitCodesHelp)
}

// Config is a command's validated configuration.
type Config struct {
	ES          esConfig
	Original    string
	Source      string
	Target      string
	Mode        string
	Prefer      string
	FillNull    bool
	Strategy    string
	Workers     int
	BatchSize   int
	BatchBytes  int
	RetryFor    time.Duration
	BulkTimeout time.Duration
	Drain       time.Duration
	AllowEmpty  bool
	Rerun       bool
	KeepStaging bool
	// MaxDocsPerSecond limits the restore's writes, 0 for no limit.
	MaxDocsPerSecond float64
	// Notify is the webhook URL (a secret), "" for none.
	Notify      string
	Ignore      []string
	Output      string
	S3Endpoint  string
	S3Region    string
	S3SSE       string
	S3KMSKeyID  string
	Environment string
	RunID       string
	// LeaseTTL is how long the run id's lease lasts without renewal.
	LeaseTTL  time.Duration
	DryRun    bool
	FailOn    []string
	LogFormat string
	LogLevel  string
	Progress  time.Duration
}

// esConfig is how to reach Elasticsearch.
type esConfig struct {
	URLs          []string // without credentials
	Username      string
	Password      string
	APIKey        string
	BearerToken   string
	CACert        string
	TLSServerName string
}

var (
	runIDRE       = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	environmentRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$`)
)

// bad formats a validation problem as "origin: reason (got "value")".
func (fv *flagValues) bad(name, reason string) error {
	rv := fv.get(name)
	v := rv.value
	if fv.defs[name].secret {
		v = "[redacted]"
	}
	return fmt.Errorf("%s: %s (got %q)", fv.origin(name), reason, v)
}

func (fv *flagValues) intIn(name string, lo, hi int, errs *[]error) int {
	n, err := strconv.Atoi(fv.str(name))
	if err != nil || n < lo || n > hi {
		*errs = append(*errs, fv.bad(name, fmt.Sprintf("must be %d..%d", lo, hi)))
		return 0
	}
	return n
}

// durationIn reads a duration such as 90s or 5m between lo and hi.
func (fv *flagValues) durationIn(name string, lo, hi time.Duration, errs *[]error) time.Duration {
	v := fv.str(name)
	d, err := time.ParseDuration(v)
	if v == "0" {
		d, err = 0, nil
	}
	if err != nil || d < lo || d > hi {
		*errs = append(*errs, fv.bad(name, fmt.Sprintf("must be a duration between %s and %s, e.g. 5m", lo, hi)))
		return 0
	}
	return d
}

func (fv *flagValues) boolean(name string, errs *[]error) bool {
	v := fv.str(name)
	if v == "" {
		return false
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		*errs = append(*errs, fv.bad(name, "must be true or false"))
	}
	return b
}

func (fv *flagValues) oneOf(name string, allowed []string, errs *[]error) string {
	v := fv.str(name)
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	*errs = append(*errs, fv.bad(name, "must be one of "+strings.Join(allowed, ", ")))
	return v
}

// parseSize reads sizes such as 5MiB, 512KiB, 1048576.
func parseSize(s string) (int, error) {
	units := []struct {
		suffix string
		mult   int
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000}, {"B", 1}}
	for _, u := range units {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.Atoi(strings.TrimSpace(n))
			if err != nil {
				return 0, err
			}
			return v * u.mult, nil
		}
	}
	return strconv.Atoi(s)
}

// list is a comma-separated flag's items. A value given (by flag or
// variable) that is blank or has a blank item is an error: an empty list
// must never turn a gate off by accident (--fail-on has none for that).
func (fv *flagValues) list(name string, errs *[]error) []string {
	rv := fv.get(name)
	if !rv.set {
		return splitList(rv.value)
	}
	var out []string
	for _, p := range strings.Split(rv.value, ",") {
		if p = strings.TrimSpace(p); p == "" {
			*errs = append(*errs, fv.bad(name, "a blank list or a blank item: list the values, comma-separated"))
			return nil
		}
		out = append(out, p)
	}
	return out
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// validIndexName applies Elasticsearch's rules for a new index name.
func validIndexName(name string) string {
	switch {
	case name == "":
		return "is required"
	case name != strings.ToLower(name):
		return "must be lowercase"
	case strings.HasPrefix(name, "_") || strings.HasPrefix(name, "-") || strings.HasPrefix(name, "+"):
		return "must not start with _, - or +"
	case strings.ContainsAny(name, `\/*?"<>| ,#:`):
		return `must not contain \ / * ? " < > | space , # :`
	case name == "." || name == "..":
		return "must not be . or .."
	case len(name) > 255:
		return "must be at most 255 bytes"
	}
	return ""
}

// parseESURLs reads --es-url: one or more http(s) URLs, credentials moved
// out of the URL into es.
func (fv *flagValues) parseESURLs(name string, es *esConfig, errs *[]error) {
	raw := fv.str(name)
	for _, part := range splitList(raw) {
		u, err := url.Parse(part)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			*errs = append(*errs, fmt.Errorf("%s: must be an http(s)://host:port URL (got %q)", fv.origin(name), redactURL(part)))
			continue
		}
		if u.User != nil {
			if es.Username == "" {
				es.Username = u.User.Username()
			}
			if p, ok := u.User.Password(); ok && es.Password == "" {
				es.Password = p
			}
			u.User = nil
		}
		u.Path = strings.TrimRight(u.Path, "/")
		es.URLs = append(es.URLs, u.String())
	}
}

// redactURL hides the user information of a URL.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if i := strings.Index(raw, "@"); i >= 0 {
			if j := strings.Index(raw, "://"); j >= 0 && j < i {
				return raw[:j+3] + "[redacted]" + raw[i:]
			}
			return "[redacted]" + raw[i:]
		}
		return raw
	}
	if u.User != nil {
		return strings.Replace(u.String(), u.User.String()+"@", "[redacted]@", 1)
	}
	return raw
}

// newRunID returns a UTC timestamp plus a short random suffix.
func newRunID(now time.Time) string {
	var b [3]byte
	rand.Read(b[:]) //nolint:errcheck // never fails
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// sortedErrors orders validation errors for a stable report.
func sortedErrors(errs []error) error {
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return errors.Join(errs...)
}

// sourceSpec is a parsed --source.
type sourceSpec struct {
	kind  string // "snapshot", "index", "remote", "dump"
	repo  string
	snap  string
	index string // snapshot index, index name, or remote index
	url   string // remote cluster base URL (credentials removed), or dump URL
	user  string // remote cluster credentials from the URL
	pass  string
}

// isDumpURL reports whether raw names an NDJSON dump rather than an index.
func isDumpURL(raw string) bool {
	if strings.HasPrefix(raw, "file://") || strings.HasPrefix(raw, "s3://") {
		return true
	}
	// A bare path is a dump only by its name: "a/b" or "../documents"
	// is a mistyped index name, refused as one, never sent as a path.
	return strings.HasSuffix(raw, ".ndjson") || strings.HasSuffix(raw, ".ndjson.gz")
}

// parseSource reads --source; the error says what forms are accepted.
func parseSource(raw string) (sourceSpec, string) {
	const forms = "must be snapshot:REPO/SNAP[/INDEX], index:NAME, https://host:9200/NAME, file:///path.ndjson[.gz] or s3://bucket/key.ndjson[.gz]"
	switch {
	case raw == "":
		return sourceSpec{}, "is required"
	case strings.HasPrefix(raw, "snapshot:"):
		parts := strings.Split(strings.TrimPrefix(raw, "snapshot:"), "/")
		if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" || (len(parts) == 3 && parts[2] == "") {
			return sourceSpec{}, forms
		}
		s := sourceSpec{kind: "snapshot", repo: parts[0], snap: parts[1]}
		if len(parts) == 3 {
			s.index = parts[2]
		}
		return s, ""
	case strings.HasPrefix(raw, "index:"):
		name := strings.TrimPrefix(raw, "index:")
		if why := validIndexName(name); why != "" {
			return sourceSpec{}, "index " + why
		}
		return sourceSpec{kind: "index", index: name}, ""
	case strings.HasPrefix(raw, "http://") || strings.HasPrefix(raw, "https://"):
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			return sourceSpec{}, forms
		}
		name := strings.Trim(u.Path, "/")
		if name == "" || strings.Contains(name, "/") {
			return sourceSpec{}, "a cluster URL must end with the index name: https://host:9200/NAME"
		}
		s := sourceSpec{kind: "remote", index: name}
		if u.User != nil {
			s.user = u.User.Username()
			s.pass, _ = u.User.Password()
			u.User = nil
		}
		u.Path = ""
		s.url = u.String()
		return s, ""
	case strings.HasPrefix(raw, "file://") || strings.HasPrefix(raw, "s3://") || strings.HasSuffix(raw, ".ndjson") || strings.HasSuffix(raw, ".ndjson.gz"):
		if !strings.HasSuffix(raw, ".ndjson") && !strings.HasSuffix(raw, ".ndjson.gz") {
			return sourceSpec{}, "an NDJSON dump must end in .ndjson or .ndjson.gz"
		}
		return sourceSpec{kind: "dump", url: raw}, ""
	}
	return sourceSpec{}, forms
}

// build validates every registered flag and returns the configuration, or
// one error listing every problem. required names flags that must be set.
func (fv *flagValues) build(now time.Time, required ...string) (Config, error) {
	errs := append([]error(nil), fv.errs...)
	var c Config
	has := func(n string) bool { _, ok := fv.defs[n]; return ok }
	for _, n := range required {
		if fv.str(n) == "" {
			errs = append(errs, fmt.Errorf("%s: is required (env %s)", fv.origin(n), envName(n)))
		}
	}
	if has("es-url") {
		c.ES.Username = fv.str("es-username")
		c.ES.Password = fv.get("es-password").value
		c.ES.APIKey = fv.get("es-api-key").value
		c.ES.BearerToken = fv.get("es-bearer-token").value
		c.ES.CACert = fv.str("es-ca-cert")
		c.ES.TLSServerName = fv.str("es-tls-server-name")
		fv.parseESURLs("es-url", &c.ES, &errs)
		n := 0
		for _, s := range []string{c.ES.Password, c.ES.APIKey, c.ES.BearerToken} {
			if s != "" {
				n++
			}
		}
		if c.ES.APIKey != "" && c.ES.BearerToken != "" || c.ES.Password != "" && n > 1 {
			errs = append(errs, fmt.Errorf("%s, %s, %s: set only one way to authenticate", fv.origin("es-password"), fv.origin("es-api-key"), fv.origin("es-bearer-token")))
		}
		if c.ES.Password != "" && c.ES.Username == "" {
			errs = append(errs, fmt.Errorf("%s: a password needs %s", fv.origin("es-password"), fv.origin("es-username")))
		}
		if c.ES.CACert != "" {
			if _, err := fv.readFile(c.ES.CACert); err != nil {
				errs = append(errs, fv.bad("es-ca-cert", "cannot read the CA file: "+err.Error()))
			}
		}
	}
	if has("original") {
		c.Original = fv.str("original")
		if why := validIndexName(c.Original); why != "" && c.Original != "" && !isDumpURL(c.Original) {
			errs = append(errs, fv.bad("original", why))
		}
	}
	if has("source") {
		c.Source = fv.str("source")
		if spec, why := parseSource(c.Source); why != "" && c.Source != "" {
			errs = append(errs, fv.bad("source", why))
		} else if spec.kind == "index" && spec.index == c.Original && c.Original != "" {
			errs = append(errs, fv.bad("source", "is the original: a backup must be another index"))
		}
	}
	if has("target") {
		c.Target = fv.str("target")
		if c.Target == "" && c.Original != "" {
			c.Target = reportName(c.Original) + "_restored_" + targetDate(fv.str("run-id"), now)
		}
		if why := validIndexName(c.Target); why != "" && c.Target != "" {
			errs = append(errs, fv.bad("target", why))
		}
		if c.Target != "" && c.Target == c.Original {
			errs = append(errs, fv.bad("target", "must differ from --original: esrestore never writes to the original"))
		}
	}
	if has("mode") {
		c.Mode = fv.oneOf("mode", []string{"merge", "source"}, &errs)
		c.Prefer = fv.oneOf("prefer", []string{"original", "source", "fill"}, &errs)
		if c.Mode == "source" && fv.get("prefer").set {
			errs = append(errs, fv.bad("prefer", "only applies to --mode merge"))
		}
		// check takes --prefer but not how the load goes.
		if has("strategy") {
			c.Strategy = fv.oneOf("strategy", []string{"reconcile", "passes"}, &errs)
			if c.Strategy == "passes" && c.Prefer == "fill" {
				errs = append(errs, fv.bad("strategy", "passes cannot merge fields: --prefer fill needs reconcile"))
			}
		}
		if has("fill-null") {
			c.FillNull = fv.boolean("fill-null", &errs)
			if c.FillNull && c.Prefer != "fill" {
				errs = append(errs, fv.bad("fill-null", "only applies to --prefer fill"))
			}
		}
	}
	// check reads these, but no load tuning: its help lists only what it
	// reads.
	if has("retry-for") {
		c.RetryFor = fv.durationIn("retry-for", time.Second, 24*time.Hour, &errs)
	}
	if has("allow-empty-source") {
		c.AllowEmpty = fv.boolean("allow-empty-source", &errs)
	}
	if has("batch-size") {
		c.Workers = fv.intIn("workers", 1, 256, &errs)
		c.BatchSize = fv.intIn("batch-size", 1, 100000, &errs)
		c.BulkTimeout = fv.durationIn("bulk-timeout", time.Second, time.Hour, &errs)
		c.Drain = fv.durationIn("drain-timeout", 0, 10*time.Minute, &errs)
		if n, err := parseSize(fv.str("batch-bytes")); err != nil || n < 64<<10 || n > 512<<20 {
			errs = append(errs, fv.bad("batch-bytes", "must be a size between 64KiB and 512MiB, e.g. 5MiB"))
		} else {
			c.BatchBytes = n
		}
		c.KeepStaging = fv.boolean("keep-staging", &errs)
		if has("max-docs-per-second") {
			n, err := strconv.ParseFloat(fv.str("max-docs-per-second"), 64)
			if err != nil || n < 0 || n > 10_000_000 || math.IsNaN(n) {
				errs = append(errs, fv.bad("max-docs-per-second", "must be a number of documents per second, 0..10000000 (0 = no limit)"))
			} else {
				c.MaxDocsPerSecond = n
			}
		}
	} else if has("workers") {
		c.Workers = fv.intIn("workers", 1, 256, &errs)
	}
	if has("ignore") {
		c.Ignore = fv.list("ignore", &errs)
		for _, p := range c.Ignore {
			if _, err := diff.ParsePointer(p); err != nil {
				errs = append(errs, fmt.Errorf("%s: %v (got %q)", fv.origin("ignore"), err, fv.str("ignore")))
			}
		}
		if len(c.Ignore) > diff.MaxIgnore {
			errs = append(errs, fmt.Errorf("%s: at most %d pointers (got %d)", fv.origin("ignore"), diff.MaxIgnore, len(c.Ignore)))
		}
	}
	if has("output") {
		c.Output = fv.str("output")
		c.S3Endpoint = fv.str("s3-endpoint")
		c.S3Region = fv.str("s3-region")
		c.S3SSE = fv.str("s3-sse")
		c.S3KMSKeyID = fv.str("s3-kms-key-id")
		if c.S3Endpoint != "" {
			if u, err := url.Parse(c.S3Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				errs = append(errs, fv.bad("s3-endpoint", "must be an http(s) URL"))
			}
		}
		if c.S3SSE != "" && c.S3SSE != "AES256" && c.S3SSE != "aws:kms" {
			errs = append(errs, fv.bad("s3-sse", "must be AES256 or aws:kms"))
		}
		if c.S3KMSKeyID != "" && c.S3SSE != "aws:kms" {
			errs = append(errs, fv.bad("s3-kms-key-id", "needs --s3-sse aws:kms"))
		}
	}
	if has("environment") {
		c.Environment = fv.str("environment")
		if c.Environment != "" && !environmentRE.MatchString(c.Environment) {
			errs = append(errs, fv.bad("environment", "must be letters, digits, - or _ (at most 32)"))
		}
		c.RunID = fv.str("run-id")
		if c.RunID == "" {
			c.RunID = newRunID(now)
		} else if !runIDRE.MatchString(c.RunID) {
			errs = append(errs, fv.bad("run-id", "must be letters, digits, ., _ or - (at most 64)"))
		}
		c.DryRun = fv.boolean("dry-run", &errs)
		if has("lease-ttl") {
			c.LeaseTTL = fv.durationIn("lease-ttl", 2*time.Second, 10*time.Minute, &errs)
		}
		if has("notify") {
			c.Notify = fv.get("notify").value
			if c.Notify != "" {
				if u, err := url.Parse(strings.TrimSpace(c.Notify)); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					errs = append(errs, fv.bad("notify", "must be an http(s) webhook URL"))
				}
			}
		}
		c.Rerun = fv.boolean("rerun", &errs)
		failOn := fv.list("fail-on", &errs)
		for _, f := range failOn {
			switch {
			case slices.Contains(report.FailOnKinds, f):
				c.FailOn = append(c.FailOn, f)
			case f == "none" && len(failOn) > 1:
				errs = append(errs, fv.bad("fail-on", "none turns every gate off: give it alone"))
			case f == "none":
			default:
				errs = append(errs, fv.bad("fail-on", "must list "+strings.Join(report.FailOnKinds, ", ")+", or be none"))
			}
		}
	}
	if has("log-format") {
		c.LogFormat = fv.oneOf("log-format", []string{"auto", "text", "json"}, &errs)
		c.LogLevel = fv.oneOf("log-level", []string{"debug", "info", "warn", "error"}, &errs)
		if has("progress") {
			d, err := time.ParseDuration(fv.str("progress"))
			if fv.str("progress") == "0" {
				d, err = 0, nil
			}
			if err != nil || d < 0 {
				errs = append(errs, fv.bad("progress", "must be a duration such as 30s, or 0 to turn progress off"))
			}
			c.Progress = d
		}
	}
	if len(errs) > 0 {
		return c, usageError(fmt.Errorf("invalid configuration:\n%w", sortedErrors(errs)))
	}
	return c, nil
}

func (fv *flagValues) readFile(path string) ([]byte, error) {
	if fv.readFileFn == nil {
		return nil, errors.New("no file access")
	}
	b, err := fv.readFileFn(path)
	if err != nil {
		var pe interface{ Unwrap() error }
		if errors.As(err, &pe) {
			return nil, pe.Unwrap()
		}
	}
	return b, err
}

// targetDate is the date in the default target name: the date of a given
// run id that starts with one, so a pod restarted after midnight with the
// same run id resumes into the same target, else today's.
func targetDate(runID string, now time.Time) string {
	if len(runID) >= 8 {
		if t, err := time.Parse("20060102", runID[:8]); err == nil {
			return t.Format("20060102")
		}
	}
	return now.UTC().Format("20060102")
}
