package restore

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/esrestore/esrestore/internal/esscan"
	"github.com/esrestore/esrestore/internal/fielderr"
	"github.com/esrestore/esrestore/internal/retry"
)

// Mode says what the target holds at the end.
type Mode string

const (
	// ModeMerge makes the target the union of the original and the source;
	// Prefer decides which side wins on an id present in both.
	ModeMerge Mode = "merge"
	// ModeSource makes the target a copy of the source alone.
	ModeSource Mode = "source"
)

// Prefer says which side wins, in merge mode, on an id both sides hold.
type Prefer string

const (
	// PreferOriginal keeps the live document.
	PreferOriginal Prefer = "original"
	// PreferSource takes the document from the source (the backup).
	PreferSource Prefer = "source"
	// PreferFill takes the live document with every path it lacks filled
	// from the source's copy (internal/jsonmerge): lost fields come back,
	// newer live values stay. It needs StrategyReconcile.
	PreferFill Prefer = "fill"
)

// Strategy says how a merge-mode target is built.
type Strategy string

const (
	// StrategyReconcile starts the target from the backup (a snapshot
	// restored by Elasticsearch as the target, or the source bulk-loaded),
	// then scans the original and writes only the documents whose chosen
	// version differs from the target's copy.
	StrategyReconcile Strategy = "reconcile"
	// StrategyPasses loads both sides whole: the preferred one with
	// op_type index, then the other with create (409s kept). It writes
	// every document of both sides; kept to compare the two on the same
	// data.
	StrategyPasses Strategy = "passes"
)

// Options configure a Restorer. The zero value of every field means its
// default, noted on the field and filled in by New (and NewOptions).
type Options struct {
	// Original is the live index that lost documents. It is read (its
	// mappings and settings, and its documents in merge mode) and never
	// written, nor are its aliases. Required.
	Original string
	// Instant, when set, is the moment the original's documents are read
	// at: the reconciliation's scan and its lookups by id go through it,
	// as the diff's reads do, so that a document the application changes
	// afterwards is the promote's to bring across, never written twice.
	// It must be an instant of Original. Nil: each pass over the original
	// reads it at a moment of its own.
	Instant *esscan.Instant
	// Target is the index the job creates and fills. It must not be the
	// original or one of its aliases, and must not exist unless its
	// mappings._meta.esrestore.run_id is RunID (a resumed run). Required.
	Target string

	// Mode is ModeMerge (default) or ModeSource.
	Mode Mode
	// Prefer is PreferOriginal (default), PreferSource or PreferFill;
	// merge mode only.
	Prefer Prefer
	// NullIsMissing makes PreferFill fill a null of the original from the
	// source, as an absent member is (see jsonmerge.Options). Default
	// false: a null is a live value and stays.
	NullIsMissing bool
	// Strategy is StrategyReconcile (default) or StrategyPasses.
	Strategy Strategy

	// Workers is the number of _bulk requests in flight. Default 4.
	Workers int
	// Throttle, when set, rate-limits the _bulk requests of every worker
	// and lowers the requests in flight below Workers while Elasticsearch
	// pushes back (see NewThrottle). Nil: no limit but Workers.
	Throttle *Throttle
	// BatchBytes bounds the body of one _bulk request. A document larger
	// than that goes alone in its request. Default 5 MiB.
	BatchBytes int
	// BatchDocs bounds the documents of one _bulk request. Default 1000.
	BatchDocs int
	// Slices is the number of slices the original is read with in merge
	// mode. Default 1.
	Slices int

	// Retry bounds, by time, the retries of every idempotent request: bulk
	// items rejected with 429 or es_rejected_execution_exception, _bulk
	// requests failing as a whole (transport errors, 429, 502-504, cluster
	// blocks that lift), and the reads and settings calls around them. A
	// request-level failure does not spend the budget of the items it
	// carries. Zero fields are internal/retry's defaults (5m budget, 30s
	// cap).
	Retry retry.Policy
	// Timeout bounds one _bulk request; one that times out is retried.
	// Default 2m.
	Timeout time.Duration
	// Drain bounds how long the requests in flight may take to finish
	// after Run's context is cancelled (SIGTERM), so that the failures and
	// the summary are written within the pod's grace period. Default 60s.
	Drain time.Duration

	// Ignore are the diff's ignored JSON Pointers, recorded in the
	// target's _meta so that a resume with other patterns is refused.
	Ignore []string
	// Scope, when set, says which of the source's documents may come back
	// (see Scope); nil: all of them.
	Scope *Scope
	// Duplicates are ids an index of the run holds under several routings
	// (see FindDuplicateIDs): no copy of them is written, each copy read
	// (from the original or the source) is a failure naming the routings.
	Duplicates []DuplicateID
	// SourceIndex names, on purpose, the index of a snapshot source when it
	// is not the original's (another name than the original's, as given
	// or concrete): without it Check refuses such a source with
	// ErrSourceIndex, since restoring another index adds documents that
	// never belonged to the original. It must be the index the source
	// reads; "" when the source reads the original's own index.
	SourceIndex string
	// AllowEmptySource lets a source without any document restore: by
	// default Check fails with ErrSourceEmpty, since an empty dump or index
	// is far more often a wrong path than an intended restore.
	AllowEmptySource bool

	// RunID identifies the run in the target's mappings._meta.esrestore;
	// a target carrying the same run id is resumed. Default: NewRunID of
	// Started, which no later run can resume.
	RunID string
	// ToolVersion is recorded in the target's _meta. Default: the main
	// module's version from the build info.
	ToolVersion string
	// Started is recorded in the target's _meta. Default: when New ran.
	Started time.Time

	// Identity is where the run runs, recorded in the target's _meta and
	// compared when a run id is resumed (see Identity). The cluster's and
	// the original's uuids are read by the checks; Environment and
	// SnapshotUUID come from here.
	Identity Identity

	// KeepStaging keeps the staging index a snapshot source restores into
	// (SnapshotSource has its own keep argument; either keeps it).
	KeepStaging bool

	// Failures receives one NDJSON line per document that could not be
	// restored (see Failure). The caller compresses and closes it. Nil: the
	// failures are counted and logged at Warn level only.
	Failures io.Writer
	// Logger receives progress at Info and per-document events at Debug.
	// Default: discard.
	Logger *slog.Logger
}

// Identity is where a run runs: the attempts of one run id must share it.
// Empty fields are not recorded, and not compared.
type Identity struct {
	Environment  string `json:"environment,omitempty"`
	ClusterUUID  string `json:"cluster_uuid,omitempty"`
	OriginalUUID string `json:"original_uuid,omitempty"`
	SnapshotUUID string `json:"snapshot_uuid,omitempty"`
}

// Differences names each field of was that now has otherwise, as
// "cluster uuid: was "A", now "B"".
func (was Identity) Differences(now Identity) []string {
	var out []string
	for _, f := range []struct{ name, was, now string }{
		{"cluster uuid", was.ClusterUUID, now.ClusterUUID},
		{"original uuid", was.OriginalUUID, now.OriginalUUID},
		{"environment", was.Environment, now.Environment},
		{"snapshot uuid", was.SnapshotUUID, now.SnapshotUUID},
	} {
		if f.was != "" && f.was != f.now {
			out = append(out, fmt.Sprintf("%s: was %q, now %q", f.name, f.was, f.now))
		}
	}
	return out
}

// Defaults of Options.
const (
	DefaultWorkers    = 4
	DefaultBatchBytes = 5 << 20
	DefaultBatchDocs  = 1000
	DefaultSlices     = 1
	DefaultTimeout    = 2 * time.Minute
	DefaultDrain      = time.Minute
)

// NewOptions returns Options with every static default filled in. RunID,
// Started and ToolVersion stay empty: New fills them when it runs.
func NewOptions() Options {
	var o Options
	o.fillStatic()
	return o
}

// fillStatic fills the defaults that do not depend on when New runs. It is
// the one place zero values become defaults; negative values are left for
// validate to report.
func (o *Options) fillStatic() {
	if o.Mode == "" {
		o.Mode = ModeMerge
	}
	if o.Prefer == "" {
		o.Prefer = PreferOriginal
	}
	if o.Strategy == "" {
		o.Strategy = StrategyReconcile
	}
	setInt := func(p *int, def int) {
		if *p == 0 {
			*p = def
		}
	}
	setInt(&o.Workers, DefaultWorkers)
	setInt(&o.BatchBytes, DefaultBatchBytes)
	setInt(&o.BatchDocs, DefaultBatchDocs)
	setInt(&o.Slices, DefaultSlices)
	setDur := func(p *time.Duration, def time.Duration) {
		if *p == 0 {
			*p = def
		}
	}
	setDur(&o.Timeout, DefaultTimeout)
	setDur(&o.Drain, DefaultDrain)
	o.Retry = o.Retry.WithDefaults()
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// fill fills every default, the time-dependent ones from now.
func (o *Options) fill(now time.Time) {
	o.fillStatic()
	if o.Started.IsZero() {
		o.Started = now
	}
	if o.RunID == "" {
		o.RunID = NewRunID(o.Started)
	}
	if o.ToolVersion == "" {
		o.ToolVersion = "(devel)"
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
			o.ToolVersion = bi.Main.Version
		}
	}
}

// validate reports every bad field at once, each a *fielderr.Error
// ("field: reason (got v)") matching ErrInvalidOptions.
func (o *Options) validate() error {
	var errs []error
	// bad records a problem of field; got is the value as printed, "" for
	// none.
	bad := func(field, reason, got string) {
		errs = append(errs, fmt.Errorf("%w: %w", ErrInvalidOptions, fielderr.New(nil, field, reason, got)))
	}
	if o.Original == "" {
		bad("original", "required", "")
	}
	if o.Target == "" {
		bad("target", "required", "")
	} else if why := CheckIndexName(o.Target); why != "" {
		bad("target", why, strconv.Quote(o.Target))
	} else if n := len(WriterAlias(o.Target)); n > 255 {
		bad("target", fmt.Sprintf("must be at most %d bytes, its writer alias %q adds %d", 255-len(writerSuffix), writerSuffix, len(writerSuffix)), strconv.Itoa(len(o.Target)))
	}
	if o.Target != "" && o.Target == o.Original {
		errs = append(errs, fmt.Errorf("target %q: %w", o.Target, ErrTargetIsOriginal))
	}
	if o.Instant != nil && o.Instant.Index() != o.Original {
		bad("instant", fmt.Sprintf("must be an instant of the original %q", o.Original), "one of "+strconv.Quote(o.Instant.Index()))
	}
	switch o.Mode {
	case ModeMerge, ModeSource:
	default:
		bad("mode", fmt.Sprintf("must be %q or %q", ModeMerge, ModeSource), strconv.Quote(string(o.Mode)))
	}
	switch o.Prefer {
	case PreferOriginal, PreferSource, PreferFill:
	default:
		bad("prefer", fmt.Sprintf("must be %q, %q or %q", PreferOriginal, PreferSource, PreferFill), strconv.Quote(string(o.Prefer)))
	}
	switch o.Strategy {
	case StrategyReconcile:
	case StrategyPasses:
		if o.Prefer == PreferFill && o.Mode == ModeMerge {
			bad("strategy", fmt.Sprintf("%q cannot merge fields, --prefer %s needs %q", StrategyPasses, PreferFill, StrategyReconcile), "")
		}
	default:
		bad("strategy", fmt.Sprintf("must be %q or %q", StrategyReconcile, StrategyPasses), strconv.Quote(string(o.Strategy)))
	}
	positive := func(field string, v int) {
		if v < 1 {
			bad(field, "must be at least 1", strconv.Itoa(v))
		}
	}
	// Workers < 1 would make errgroup.SetLimit(0) block forever.
	positive("workers", o.Workers)
	positive("batch-bytes", o.BatchBytes)
	positive("batch-docs", o.BatchDocs)
	positive("slices", o.Slices)
	if err := o.Retry.Validate(); err != nil {
		bad("retry", err.Error(), "")
	}
	if o.Timeout < 0 {
		bad("timeout", "must not be negative", o.Timeout.String())
	}
	if o.Drain < 0 {
		bad("drain", "must not be negative", o.Drain.String())
	}
	return errors.Join(errs...)
}

// CheckIndexName says why Elasticsearch would refuse name for a new index,
// "" when it would accept it, so that a bad name is a configuration error,
// not a failed request.
func CheckIndexName(name string) string {
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

// NewRunID returns a run id for a run started at t: its UTC time and six
// random hex digits, e.g. 20211202T101500Z-3f9a1c.
func NewRunID(t time.Time) string {
	var b [3]byte
	rand.Read(b[:]) //nolint:errcheck // never fails
	return t.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}
