package job

import (
	"encoding/json"
	"time"

	"github.com/esrestore/esrestore/diff"
)

// Config is a job's configuration, validated by the command that runs it.
type Config struct {
	ES          ESConfig
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
