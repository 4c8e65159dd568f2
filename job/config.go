package job

import (
	"encoding/json"
	"net/url"
	"strings"
	"time"

	"github.com/esrestore/esrestore/diff"
)

// Config is a job's configuration, validated by the command that runs it.
type Config struct {
	ES       ESConfig
	Original string
	Source   string
	// Src is Source parsed, once.
	Src         SourceSpec
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
	// SourceIndex is the snapshot's index named on purpose when it is not
	// the original's, "" for none.
	SourceIndex string
	Rerun       bool
	KeepStaging bool
	// SkipIDs is --skip-ids, the list's path or URL, "" for none; the job
	// reads it (loadScope).
	SkipIDs string
	// OnlyQuery is --only-query, compacted, nil for none.
	OnlyQuery json.RawMessage
	// MaxDocsPerSecond limits the restore's writes, 0 for no limit.
	MaxDocsPerSecond float64
	// Notify is the webhook URL (a secret), "" for none.
	Notify string
	Ignore []string
	// Profile are the paths the loss is profiled by: nil until read from
	// the original's mapping, empty for none. ProfileDate is the date
	// path, "" until read from the mapping, "none" for none.
	Profile     []string
	ProfileDate string
	Output      string
	S3Endpoint  string
	S3Region    string
	S3SSE       string
	S3KMSKeyID  string
	Environment string
	RunID       string
	// LeaseTTL is how long the run id's lease lasts without renewal.
	LeaseTTL time.Duration
	DryRun   bool
	FailOn   []string
	// ExpectConfig is the config_sha256 the run must have, "" for any.
	ExpectConfig string
	LogFormat    string
	LogLevel     string
	Progress     time.Duration

	// Watch lists the watched paths (--watch); FailOnWatched says
	// watched was added to the default --fail-on for them.
	Watch         []diff.Watch
	FailOnWatched bool

	// Settings are every flag's effective value and origin, in the
	// command's flag order: the record, the summary's options and
	// config_sha256 are made of them.
	Settings []Setting
	// Overrides are the variables a flag overrode.
	Overrides []Override
}

// SourceSpec is a parsed --source.
type SourceSpec struct {
	Kind  string // "snapshot", "index", "remote", "dump"
	Repo  string
	Snap  string
	Index string // snapshot index, index name, or remote index
	URL   string // remote cluster base URL (credentials removed), or dump URL
	User  string // remote cluster credentials from the URL
	Pass  string
}

// ESConfig is how to reach Elasticsearch.
type ESConfig struct {
	URLs          []string // without credentials
	Username      string
	Password      string
	APIKey        string
	BearerToken   string
	CACert        string
	TLSServerName string
}

// RedactURL hides the user information of a URL.
func RedactURL(raw string) string {
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

// IsDumpURL reports whether raw names an NDJSON dump rather than an index.
func IsDumpURL(raw string) bool {
	if strings.HasPrefix(raw, "file://") || strings.HasPrefix(raw, "s3://") {
		return true
	}
	// A bare path is a dump only by its name: "a/b" or "../documents"
	// is a mistyped index name, refused as one, never sent as a path.
	return strings.HasSuffix(raw, ".ndjson") || strings.HasSuffix(raw, ".ndjson.gz")
}
