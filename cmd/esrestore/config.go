package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/esrestore/esrestore/internal/fielderr"
	"github.com/esrestore/esrestore/internal/redact"
	"github.com/esrestore/esrestore/job"
	"github.com/esrestore/esrestore/restore"
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
	// repeat lets the flag be given several times: the values are kept,
	// one a line.
	repeat bool
	// check says why a value given is refused, "" when it is good; nil
	// takes any value. Boolean flags are checked without one.
	check func(string) string
}

// checker is the flag's check; a boolean flag's is boolean.
func (d flagDef) checker() func(string) string {
	if d.isBool {
		return boolean
	}
	return d.check
}

// Flag groups; each command registers the groups it uses. A flag is one
// line: its check validates a value from the command line or the
// environment alike, and the record and config_sha256 take every flag
// (see settings.go).
var (
	esFlags = []flagDef{
		{name: "es-url", usage: "Elasticsearch URL(s), comma-separated; may carry user:password (redacted in every output)", check: httpURLs},
		{name: "es-username", usage: "basic auth user"},
		{name: "es-password", usage: "basic auth password", secret: true},
		{name: "es-api-key", usage: "API key (base64 id:key as Elasticsearch returns it)", secret: true},
		{name: "es-bearer-token", usage: "bearer token (service account token)", secret: true},
		{name: "es-ca-cert", usage: "PEM file of the CA that signed Elasticsearch's certificate"},
		{name: "es-tls-server-name", usage: "TLS server name to verify, when it differs from the URL host"},
	}
	restoreFlags = []flagDef{
		{name: "original", usage: "the live index that lost documents (never written)", check: indexOrDump},
		{name: "source", usage: "backup: snapshot:REPO/SNAP[/INDEX], index:NAME, https://host:9200/NAME, file:///dump.ndjson[.gz], s3://bucket/dump.ndjson[.gz]", check: sourceForm},
		{name: "target", usage: "the new index to restore into (default ORIGINAL_restored_YYYYMMDD)", check: optional(restore.CheckIndexName)},
		{name: "mode", def: "merge", usage: "merge (target = original + source) or source (target = source only)", check: oneOf("merge", "source")},
		{name: "prefer", def: "original", usage: "in merge mode, what the target holds on an id present in both: original, source, or fill (the original with every field it lacks filled from the source)", check: oneOf("original", "source", "fill")},
		{name: "strategy", def: "reconcile", usage: "how a merge builds the target: reconcile (start from the backup, a snapshot restored as the target when its mapping allows, and write only what differs) or passes (write both sides whole)", check: oneOf("reconcile", "passes")},
		{name: "fill-null", def: "false", usage: "with --prefer fill, fill a null of the original from the source as a missing field (by default a null is a live value and stays)", isBool: true},
		{name: "workers", def: "4", usage: "concurrent _bulk requests, and scan slices (1..256)", check: intIn(1, 256)},
		{name: "batch-size", def: "1000", usage: "documents per _bulk request (1..100000)", check: intIn(1, 100000)},
		{name: "batch-bytes", def: "5MiB", usage: "bytes per _bulk request (64KiB..512MiB)", check: sizeIn(64<<10, 512<<20)},
		{name: "retry-for", def: "5m", usage: "how long a request failing with 429, 5xx, a cut connection or a timeout is retried (1s..24h)", check: durationIn(time.Second, 24*time.Hour)},
		{name: "bulk-timeout", def: "2m", usage: "timeout of one _bulk request; one that times out is retried (1s..1h)", check: durationIn(time.Second, time.Hour)},
		{name: "drain-timeout", def: "60s", usage: "after SIGTERM/SIGINT, how long in-flight requests may finish before failures and summary are written (0s..10m)", check: durationIn(0, 10*time.Minute)},
		{name: "source-index", usage: "with a snapshot source, the snapshot's index to restore when it is not the original's, named on purpose: it must repeat the INDEX of snapshot:REPO/SNAP/INDEX; the verdict then says so (without it such a source is refused)", check: optional(restore.CheckIndexName)},
		{name: "allow-empty-source", def: "false", usage: "restore a source that holds no document (refused by default: usually a wrong path)", isBool: true},
		{name: "keep-staging", def: "false", usage: "keep the staging index a snapshot source is restored into", isBool: true},
		{name: "skip-ids", usage: "a list of ids of the backup that must not come back, one a line: a local path or s3://bucket/key (its sha256 is in the fingerprint); they are counted skipped, never lost", check: optional(skipIDsFile)},
		{name: "only-query", usage: `a query over the backup, one JSON object ({"term":{"site":"example"}}): only the documents it matches may come back, the others are counted skipped; not with a dump source`, check: optional(jsonObject)},
		{name: "max-docs-per-second", def: "0", usage: "documents per second the restore may write, across all workers (0 = no limit); requests in flight also halve on 429s and slow bulks, and recover slowly", check: rate},
	}
	diffFlags = []flagDef{
		{name: "ignore", usage: "JSON Pointers the diff ignores, comma-separated; * matches one segment (/modified,/tags/*/id)", check: ignoreList},
		{name: "watch", usage: watchUsage, check: watchList, repeat: true},
		{name: "profile", usage: "JSON Pointers of keyword-like fields whose values profile the lost and stripped documents against the backup, comma-separated, or none (default: the original's keyword, constant_keyword and boolean fields, at most 20)", check: profileList},
		{name: "profile-date", usage: "JSON Pointer of a date field counting the lost documents by day or month against the backup, or none (default: the original's first date field in path order)", check: optional(profileDatePath)},
	}
	outputFlags = []flagDef{
		{name: "output", usage: "where the report goes: s3://bucket/prefix or file://dir (default file://./esrestore-report)"},
		{name: "s3-endpoint", usage: "S3-compatible endpoint URL (path-style addressing)", check: optional(httpURL)},
		{name: "s3-region", usage: "S3 region (default: from the AWS environment)"},
		{name: "s3-sse", usage: "server-side encryption: AES256 or aws:kms", check: optional(sse)},
		{name: "s3-kms-key-id", usage: "KMS key id for --s3-sse aws:kms"},
	}
	jobFlags = []flagDef{
		{name: "environment", usage: "environment name shown in logs and the summary, e.g. prod (required)", check: optional(matches(environmentRE, "must be letters, digits, - or _ (at most 32)"))},
		{name: "run-id", usage: "run id; a rerun with the same id resumes into the same target (default: UTC time + random suffix)", check: optional(matches(runIDRE, "must be letters, digits, ., _ or - (at most 64)"))},
		{name: "dry-run", def: "false", usage: "write nothing to Elasticsearch: diff the original against what the target would be, report locally", isBool: true},
		{name: "notify", usage: "Slack-compatible incoming-webhook URL posted when the run starts and ends (a secret: never logged)", secret: true, check: optional(webhook)},
		{name: "fail-on", def: "failed,removed,overwritten,not-recovered,source-excludes", usage: "exit 3 when the verdict has any of these reasons: failed, removed, overwritten, not-recovered, mappings, live-writes, incomplete, source-excludes, source-index, watched (comma-separated, or none); with --watch the default adds watched", check: failOnList},
		{name: "rerun", def: "false", usage: "run again a run id whose report is complete, writing a new report beside the old one", isBool: true},
		{name: "expect-config", usage: "the config_sha256 'esrestore check' printed for this configuration, as a second person compared it: a run whose fingerprint differs exits 2 before any write", check: optional(matches(sha256RE, "must be the 64 hex digits of a config_sha256"))},
		{name: "lease-ttl", def: "60s", usage: "how long the run id's lease in Elasticsearch (index esrestore-leases) outlives its runner's last renewal, renewed every quarter of it; a runner killed with SIGKILL is taken over after it (2s..10m)", check: durationIn(2*time.Second, 10*time.Minute)},
	}
	logFlags = []flagDef{
		{name: "log-format", def: "auto", usage: "auto (text on a terminal, JSON otherwise), text or json", check: oneOf("auto", "text", "json")},
		{name: "log-level", def: "info", usage: "debug, info, warn or error", check: oneOf("debug", "info", "warn", "error")},
		{name: "progress", def: "30s", usage: "interval of progress reports (0 = off)", check: interval},
	}
)

// runFlags are the flags of the job's configuration: what run reads, and
// what check, restore and diff validate whole so each fails where run
// would.
func runFlags() [][]flagDef {
	return [][]flagDef{esFlags, restoreFlags, diffFlags, outputFlags, jobFlags, logFlags}
}

// rawValue is a flag or environment value as given, with where it came
// from, so validation can name it the way the operator wrote it.
type rawValue struct {
	value  string
	origin string // "--workers", "ESRESTORE_WORKERS" or "ESRESTORE_ES_PASSWORD_FILE"
	set    bool
	// shadowed is the variable's value a flag overrode: still checked,
	// and the override is a warning.
	shadowed *rawValue
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
	repeat bool
}

func (s *stringValue) String() string {
	if s.rv == nil {
		return ""
	}
	return s.rv.value
}

func (s *stringValue) Set(v string) error {
	if s.rv.origin == "--"+s.name && s.repeat {
		s.rv.value += "\n" + v
		return nil
	}
	if s.rv.origin == "--"+s.name {
		// Which one was meant is not for esrestore to guess.
		return fmt.Errorf("--%s given twice (%q, then %q): give it once", s.name, s.rv.value, v)
	}
	if s.rv.set {
		s.rv.shadowed = &rawValue{value: s.rv.value, origin: s.rv.origin, set: true}
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
			fs.Var(&stringValue{rv: rv, name: d.name, isBool: d.isBool, repeat: d.repeat}, d.name, d.usage)
		}
	}
	fv.checkRunVariables(env)
	fs.Usage = func() { printUsage(env, fs, name, summary, fv) }
	return fs, fv
}

// checkRunVariables validates the variables of run's flags that this
// command does not take: the Job's environment is run's configuration,
// and a wrong value in it fails every command, not only run.
func (fv *flagValues) checkRunVariables(env *Env) {
	for _, g := range runFlags() {
		for _, d := range g {
			if _, ok := fv.defs[d.name]; ok || env.Getenv == nil {
				continue
			}
			v, check := strings.TrimSpace(env.Getenv(envName(d.name))), d.checker()
			if v == "" || check == nil {
				continue
			}
			if why := check(v); why != "" {
				fv.errs = append(fv.errs, badValue(envName(d.name), why+"; esrestore run reads it", v, d.secret))
			}
		}
	}
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
type Config = job.Config

// esConfig is how to reach Elasticsearch.
type esConfig = job.ESConfig

var (
	runIDRE       = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	environmentRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$`)
	sha256RE      = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)
)

// bad formats a validation problem as "origin: reason (got "value")".
func (fv *flagValues) bad(name, reason string) error {
	return badValue(fv.origin(name), reason, fv.get(name).value, fv.defs[name].secret)
}

func badValue(origin, reason, v string, secret bool) error {
	if secret {
		v = redact.Marker
	} else {
		v = redact.URLs(v)
	}
	return fmt.Errorf("%s: %s (got %q)", origin, reason, v)
}

// Typed readers of values validate has passed.

func (fv *flagValues) int(name string) int {
	n, _ := strconv.Atoi(fv.str(name))
	return n
}

func (fv *flagValues) duration(name string) time.Duration {
	d, _ := parseDuration(fv.str(name))
	return d
}

func (fv *flagValues) flag(name string) bool {
	b, _ := strconv.ParseBool(fv.str(name))
	return b
}

func (fv *flagValues) size(name string) int {
	n, _ := parseSize(fv.str(name))
	return n
}

func (fv *flagValues) float(name string) float64 {
	n, _ := strconv.ParseFloat(fv.str(name), 64)
	return n
}

// parseSize reads sizes such as 5MiB, 512KiB, 1048576.
func parseSize(s string) (int, error) {
	for _, u := range sizeUnits {
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

var sizeUnits = []struct {
	suffix string
	mult   int
}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1000 * 1000 * 1000}, {"MB", 1000 * 1000}, {"KB", 1000}, {"B", 1}}

// formatSize writes n bytes in the largest binary unit that divides it:
// 5MiB, 64KiB, 1000B.
func formatSize(n int) string {
	for _, u := range sizeUnits[:3] {
		if n != 0 && n%u.mult == 0 {
			return strconv.Itoa(n/u.mult) + u.suffix
		}
	}
	return strconv.Itoa(n) + "B"
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

// esURLs reads --es-url (checked): one or more URLs, credentials moved out
// of them into es.
func esURLs(raw string, es *esConfig) {
	for _, part := range splitList(raw) {
		u, err := url.Parse(part)
		if err != nil {
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

// sortedErrors orders validation errors for a stable report.
func sortedErrors(errs []error) error {
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return errors.Join(errs...)
}

// parseSource reads --source (restore.ParseSourceSpec); the reason says
// what forms are accepted.
func parseSource(raw string) (restore.SourceSpec, string) {
	s, err := restore.ParseSourceSpec(raw)
	if err != nil {
		var fe *fielderr.Error
		if errors.As(err, &fe) {
			return restore.SourceSpec{}, fe.Reason
		}
		return restore.SourceSpec{}, err.Error()
	}
	return s, ""
}

// build validates every registered flag and returns the configuration, or
// one error listing every problem. required names flags that must be set.
// Flags a command does not register read as empty.
func (fv *flagValues) build(now time.Time, required ...string) (Config, error) {
	errs := append(append([]error(nil), fv.errs...), fv.validate()...)
	for _, n := range required {
		if fv.str(n) == "" {
			errs = append(errs, fmt.Errorf("%s: is required (env %s)", fv.origin(n), envName(n)))
		}
	}
	has := func(n string) bool { _, ok := fv.defs[n]; return ok }
	c := Config{
		ES: esConfig{Username: fv.str("es-username"), Password: fv.get("es-password").value, APIKey: fv.get("es-api-key").value,
			BearerToken: fv.get("es-bearer-token").value, CACert: fv.str("es-ca-cert"), TLSServerName: fv.str("es-tls-server-name")},
		Original: fv.str("original"), Source: fv.str("source"), SourceIndex: fv.str("source-index"), Target: fv.str("target"),
		Mode: fv.str("mode"), Prefer: fv.str("prefer"), Strategy: fv.str("strategy"), FillNull: fv.flag("fill-null"),
		Workers: fv.int("workers"), BatchSize: fv.int("batch-size"), BatchBytes: fv.size("batch-bytes"),
		RetryFor: fv.duration("retry-for"), BulkTimeout: fv.duration("bulk-timeout"), Drain: fv.duration("drain-timeout"),
		AllowEmpty: fv.flag("allow-empty-source"), KeepStaging: fv.flag("keep-staging"), MaxDocsPerSecond: fv.float("max-docs-per-second"),
		Ignore: splitList(fv.str("ignore")), Output: fv.str("output"), S3Endpoint: fv.str("s3-endpoint"), S3Region: fv.str("s3-region"),
		S3SSE: fv.str("s3-sse"), S3KMSKeyID: fv.str("s3-kms-key-id"), Environment: fv.str("environment"), RunID: fv.str("run-id"),
		DryRun: fv.flag("dry-run"), LeaseTTL: fv.duration("lease-ttl"), Notify: fv.get("notify").value, Rerun: fv.flag("rerun"), ExpectConfig: strings.ToLower(fv.str("expect-config")),
		LogFormat: fv.str("log-format"), LogLevel: fv.str("log-level"), Progress: fv.duration("progress"),
		SkipIDs: fv.str("skip-ids"), OnlyQuery: restore.CompactQuery(json.RawMessage(fv.str("only-query"))),
	}
	src, _ := parseSource(c.Source)
	if p := fv.str("profile"); p == job.ProfileNone {
		c.Profile = []string{}
	} else if p != "" {
		c.Profile = splitList(p)
	}
	c.ProfileDate = fv.str("profile-date")
	esURLs(fv.str("es-url"), &c.ES)
	for _, f := range splitList(fv.str("fail-on")) {
		if f != "none" {
			c.FailOn = append(c.FailOn, f)
		}
	}
	if c.Watch = parseWatches(fv.get("watch").value); len(c.Watch) > 0 && has("fail-on") && !fv.get("fail-on").set {
		c.FailOn, c.FailOnWatched = watchFailOn(c.FailOn), true
	}
	errs = append(errs, fv.watchConflicts(c)...)
	if has("run-id") && c.RunID == "" {
		c.RunID = restore.NewRunID(now)
	}
	if has("target") && c.Target == "" && c.Original != "" {
		c.Target = job.ReportName(c.Original) + "_restored_" + targetDate(fv.str("run-id"), now)
	}

	// What no single value says: the values together.
	secrets := 0
	for _, s := range []string{c.ES.Password, c.ES.APIKey, c.ES.BearerToken} {
		if s != "" {
			secrets++
		}
	}
	if c.ES.APIKey != "" && c.ES.BearerToken != "" || c.ES.Password != "" && secrets > 1 {
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
	if src.Kind == restore.SourceIndex && src.Index == c.Original && c.Original != "" {
		errs = append(errs, fv.bad("source", "is the original: a backup must be another index"))
	}
	if why := restore.CheckIndexName(c.Target); c.Target != "" && why != "" && !fv.get("target").set {
		errs = append(errs, fv.bad("original", "makes the default --target "+c.Target+", which "+why))
	}
	if c.Target != "" && c.Target == c.Original {
		errs = append(errs, fv.bad("target", "must differ from --original: esrestore never writes to the original"))
	}
	if c.Mode == "source" && fv.get("prefer").set {
		errs = append(errs, fv.bad("prefer", "only applies to --mode merge"))
	}
	if c.Strategy == "passes" && c.Prefer == "fill" {
		errs = append(errs, fv.bad("strategy", "passes cannot merge fields: --prefer fill needs reconcile"))
	}
	if c.FillNull && c.Prefer != "fill" {
		errs = append(errs, fv.bad("fill-null", "only applies to --prefer fill"))
	}
	if c.OnlyQuery != nil && src.Kind == restore.SourceDump {
		errs = append(errs, fv.bad("only-query", "a dump source cannot be queried: list the ids to leave out with --skip-ids"))
	}
	if c.S3KMSKeyID != "" && c.S3SSE != "aws:kms" {
		errs = append(errs, fv.bad("s3-kms-key-id", "needs --s3-sse aws:kms"))
	}
	if len(errs) > 0 {
		return c, usageError(fmt.Errorf("invalid configuration:\n%w", sortedErrors(errs)))
	}
	c.Settings, c.Overrides = fv.settings(c)
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
