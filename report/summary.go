// Package report holds summary.json: the record of one esrestore run that
// a reviewer reads first, the page renders and promote checks. It is a
// schema and a few pure functions over it: Decode (strict), Judge (the
// verdict) and Alternatives (the verdict each prefer would get); the
// writing of objects is s3out's, the counting diff's.
package report

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/esrestore/esrestore/diff"
	"github.com/esrestore/esrestore/s3out"
)

// Object names under OUTPUT/ORIGINAL/RUN_ID/: s3out's, which writes them.
const (
	SummaryName  = s3out.SummaryName
	DiffName     = s3out.DiffName
	FailuresName = s3out.FailuresName
	PageName     = s3out.PageName
)

// ObjectName is the name Summary.Objects lists a report object by:
// "diff", "failures" and "page" for theirs, the file's own name for any
// other.
func ObjectName(file string) string {
	switch file {
	case DiffName:
		return "diff"
	case FailuresName:
		return "failures"
	case PageName:
		return "page"
	}
	return file
}

// Summary is summary.json. Every field a reviewer acts on is here; the
// objects beside it hold the detail (one line per document).
type Summary struct {
	// Complete is true only when every phase finished; a summary with
	// Complete false (and Error) describes an interrupted or failed run.
	Complete bool   `json:"complete"`
	Error    string `json:"error,omitempty"`
	// Verdict says whether switching the alias to the target is safe, and
	// if not, why.
	Verdict     Verdict `json:"verdict"`
	Command     string  `json:"command"`
	Environment string  `json:"environment"`
	RunID       string  `json:"run_id"`
	DryRun      bool    `json:"dry_run"`
	Original    string  `json:"original"`
	Target      string  `json:"target,omitempty"`
	// Restored names the compared side when it is not a target this run
	// made (esrestore diff, or a dry run's would-be target).
	Restored    string `json:"restored,omitempty"`
	Source      string `json:"source,omitempty"`
	Mode        string `json:"mode,omitempty"`
	Prefer      string `json:"prefer,omitempty"`
	ToolVersion string `json:"tool_version"`
	// Options are the effective options, secrets redacted.
	Options map[string]any `json:"options"`
	// ConfigSHA256 is the fingerprint of the effective configuration and
	// the cluster, original and snapshot it ran against, as check printed
	// it for a second person to compare.
	ConfigSHA256 string    `json:"config_sha256,omitempty"`
	Started      time.Time `json:"started"`
	Finished     time.Time `json:"finished"`
	// Attempts lists every attempt of this run id, oldest first, this
	// one last: a resumed run says so. Started is this attempt's; the
	// restore counts and Retries cover them all.
	Attempts []Attempt `json:"attempts,omitempty"`
	// Staging is the temporary index a snapshot was restored into, when
	// there was one, and whether it was deleted.
	Staging *Staging `json:"staging,omitempty"`
	Restore *Restore `json:"restore,omitempty"`
	// Throttle is the load the restore put on the cluster: the limit, the
	// effective rate and how often it backed off.
	Throttle *Throttle `json:"throttle,omitempty"`
	// Notify says whether the --notify webhook took the start and end
	// messages (never the URL: it is a secret).
	Notify *Notify `json:"notify,omitempty"`
	// Outcome is original → target: what an alias switch does.
	Outcome *diff.Outcome `json:"outcome,omitempty"`
	// Loss is original vs backup (the source), when there is a backup.
	Loss *diff.Loss `json:"loss,omitempty"`
	// Fields counts the operations by JSON Pointer pattern and class.
	Fields *diff.Fields `json:"fields,omitempty"`
	// Watched counts the documents each --watch matched;
	// WatchedDocuments those any watch matched.
	Watched          []diff.WatchCount `json:"watched,omitempty"`
	WatchedDocuments int64             `json:"watched_documents,omitempty"`
	// PreferAlternatives is what each --prefer would have given on the
	// same three sides, so the reviewer sees the choice not made.
	PreferAlternatives *PreferAlternatives `json:"prefer_alternatives,omitempty"`
	// Scope is what the operator left out of the restore (--skip-ids,
	// --only-query).
	Scope *Scope `json:"scope,omitempty"`
	// Ignored lists the --ignore patterns left out of the comparison.
	Ignored []string `json:"ignored"`
	// Retries counts, per phase of the job (checks, restore, diff, end),
	// the Elasticsearch calls made again after a transient failure, and
	// under report the S3 requests of the report the SDK made again: what
	// an outage cost.
	Retries map[string]Retries `json:"retries,omitempty"`
	// DiffRescans counts the points in time the diff's scans reopened.
	DiffRescans int64 `json:"diff_rescans"`
	// Instant is the moment the original was read at: the restore's
	// reconciliation and the diff read it through one point in time
	// opened then, so the counts describe the original as it was then.
	Instant *time.Time `json:"instant,omitempty"`
	// Live is what the original received after the instant, counted at
	// the end of the run: what the promote's catch-up will bring across.
	Live *Live `json:"live,omitempty"`
	// SourceIndex is the snapshot's index the source read when it is not
	// the original's, named on purpose (--source-index).
	SourceIndex string `json:"source_index,omitempty"`
	// SourceExcludes are the fields the original's mapping leaves out of
	// _source (_source.excludes), with the documents holding each: named
	// before the run, and counted in the target after it.
	SourceExcludes []HiddenField `json:"source_excludes,omitempty"`
	// DumpBadLines counts the dump lines the diff skipped: not documents,
	// or repeating an earlier line's _id (a restore fails them).
	DumpBadLines int64 `json:"dump_bad_lines,omitempty"`
	// DuplicateIDs are the ids an index of the run holds under several
	// routings: the restore failed every copy (see failures.ndjson.gz)
	// and the diff left them out.
	DuplicateIDs []DuplicateID `json:"duplicate_ids,omitempty"`
	// Indexes are the mapping and settings differences.
	Indexes   *IndexDiff `json:"indexes,omitempty"`
	Integrity Integrity  `json:"integrity"`
	// Location is the report's directory URL.
	Location string `json:"location,omitempty"`
	// Objects are the report's objects but summary.json, by name: diff,
	// failures, page.
	Objects map[string]Object `json:"objects"`
	FailOn  []string          `json:"fail_on"`
	// Attention lists the verdict reasons that --fail-on turns into exit 3.
	Attention []string `json:"attention"`
}

// PreferAlternatives are the verdict and counts each prefer would give.
type PreferAlternatives struct {
	Original Alternative `json:"original"`
	Source   Alternative `json:"source"`
	Fill     Alternative `json:"fill"`
}

// Alternative is one prefer's verdict status and counts.
type Alternative struct {
	Status string `json:"status"`
	diff.Alternative
}

// Scope records the restore's scope: the documents of the backup that
// may come back.
type Scope struct {
	// SkipIDs names the --skip-ids list (a path or URL), its sha256 and
	// how many ids it holds.
	SkipIDs       string `json:"skip_ids,omitempty"`
	SkipIDsSHA256 string `json:"skip_ids_sha256,omitempty"`
	SkipIDsCount  int64  `json:"skip_ids_count,omitempty"`
	// OnlyQuery is --only-query, as given.
	OnlyQuery json.RawMessage `json:"only_query,omitempty"`
}

// Live counts the documents the original's writes touched between the
// instant the run read it at and the end of the run.
type Live struct {
	At      time.Time `json:"at"`
	Until   time.Time `json:"until"`
	New     int64     `json:"new"`
	Changed int64     `json:"changed"`
	Deleted int64     `json:"deleted"`
}

// Total is the documents the writes touched.
func (l Live) Total() int64 { return l.New + l.Changed + l.Deleted }

// Verdict statuses.
const (
	StatusOK     = "ok"
	StatusReview = "review"
)

// Verdict is the reviewer's answer in one look: "ok" only when the run
// is complete and nothing would be lost or overwritten by a switch.
type Verdict struct {
	Status  string   `json:"status"`
	Reasons []Reason `json:"reasons"`
}

// Reason kinds, also the --fail-on names.
const (
	ReasonIncomplete   = "incomplete"
	ReasonFailed       = "failed"
	ReasonRemoved      = "removed"
	ReasonOverwritten  = "overwritten"
	ReasonNotRecovered = "not-recovered"
	ReasonMappings     = "mappings"
	ReasonLiveWrites   = "live-writes"
	// ReasonSourceExcludes: fields of the original's _source.excludes
	// that the target lacks.
	ReasonSourceExcludes = "source-excludes"
	// ReasonSourceIndex: the snapshot's index restored is not the
	// original's (--source-index).
	ReasonSourceIndex = "source-index"
	// ReasonWatched: documents whose watched path (--watch) would change
	// when the alias moves; named first.
	ReasonWatched = "watched"
)

// DuplicateID is an _id an index holds under several routings.
type DuplicateID struct {
	Index    string   `json:"index"`
	ID       string   `json:"id"`
	Routings []string `json:"routings"`
}

// HiddenField is a path the original's mapping leaves out of _source and
// how many of its documents hold a value under it.
type HiddenField struct {
	Path string `json:"path"`
	// Documents hold a value under Path in the original, counted before
	// the run.
	Documents int64 `json:"documents"`
	// Target is how many hold one in the target after the run; nil
	// before the restore and in a dry run.
	Target *int64 `json:"target,omitempty"`
}

// Reason is one condition against switching, as a sentence with its count
// and busiest fields: "60 documents: live values would be overwritten
// (/title 40, /modified 40, /visibility 20: INTERNAL → PUBLIC 16, PUBLIC →
// INTERNAL 4)".
type Reason struct {
	Kind  string `json:"kind"`
	Count int64  `json:"count"`
	Text  string `json:"text"`
}

// Throttle is the restore's rate limiting and adaptive back-off.
type Throttle struct {
	// MaxDocsPerSecond is --max-docs-per-second, 0 for no limit.
	MaxDocsPerSecond float64 `json:"max_docs_per_second"`
	// DocsPerSecond is the documents sent per second over the load.
	DocsPerSecond float64 `json:"docs_per_second"`
	// RequestsPerSecond is the _bulk requests per second over the load.
	RequestsPerSecond float64 `json:"requests_per_second"`
	// Workers is the most requests in flight allowed (--workers).
	Workers int `json:"workers"`
	// MinInFlight and MaxInFlight bound the in-flight limit the back-off
	// chose; FinalInFlight is the limit at the end.
	MinInFlight   int `json:"min_in_flight"`
	MaxInFlight   int `json:"max_in_flight"`
	FinalInFlight int `json:"final_in_flight"`
	// Backoffs counts the times the limit was cut: a 429, a rejected item
	// or a slow request.
	Backoffs int64 `json:"backoffs"`
	// WaitedSeconds is the time workers spent waiting for the rate limit.
	WaitedSeconds float64 `json:"waited_seconds"`
}

// Phases of a job whose retries Summary.Retries counts apart.
const (
	PhaseChecks  = "checks"  // reaching Elasticsearch, the guard rails, the identities recorded
	PhaseRestore = "restore" // the restore: reads of the source and the original, _bulk, _mget
	PhaseDiff    = "diff"    // the diff's scans and lookups
	PhaseEnd     = "end"     // the counts at the end, the index comparison, the clean-ups
	PhaseReport  = "report"  // the report's objects: S3 requests the SDK retried
)

// RetryPhases lists the phases of counts (Summary.Retries) in the order a
// job runs them.
func RetryPhases(counts map[string]Retries) []string {
	var out []string
	for _, p := range []string{PhaseChecks, PhaseRestore, PhaseDiff, PhaseEnd, PhaseReport} {
		if _, ok := counts[p]; ok {
			out = append(out, p)
		}
	}
	return out
}

// Retries is what transient failures (429, 5xx, refused or cut
// connections, timeouts) cost one phase.
type Retries struct {
	// Retries counts the calls made again, each after a backoff.
	Retries int64 `json:"retries"`
	// Backoffs counts the backoff waits begun: Retries, plus those an
	// interruption ended.
	Backoffs int64 `json:"backoffs"`
	// BackoffSeconds is the time spent in them.
	BackoffSeconds float64 `json:"backoff_seconds"`
	// GaveUp counts the calls that kept failing past --retry-for.
	GaveUp int64 `json:"gave_up"`
}

// How an attempt ended.
const (
	// AttemptComplete: it finished every phase.
	AttemptComplete = "complete"
	// AttemptInterrupted: a signal (SIGINT, SIGTERM) stopped it.
	AttemptInterrupted = "interrupted"
	// AttemptFailed: an error stopped it.
	AttemptFailed = "failed"
	// AttemptRunning is the state an attempt records as it starts; a
	// later attempt finding it there knows the process died without a
	// word (kill -9, a node lost) and records AttemptKilled.
	AttemptRunning = "running"
	// AttemptKilled: the process died without recording its end; only
	// its start is known.
	AttemptKilled = "killed-unknown"
)

// Attempt is one process that worked on the run id.
type Attempt struct {
	Number  int       `json:"number"`
	Started time.Time `json:"started"`
	// Finished is absent when the attempt did not record its end.
	Finished *time.Time `json:"finished,omitempty"`
	Ended    string     `json:"ended"`
	Error    string     `json:"error,omitempty"`
	// Restore is what this attempt's restore counted, absent when it
	// recorded none.
	Restore *AttemptRestore    `json:"restore,omitempty"`
	Retries map[string]Retries `json:"retries,omitempty"`
}

// AttemptRestore is one attempt's restore counts.
type AttemptRestore struct {
	Read    int64   `json:"read"`
	Indexed int64   `json:"indexed"`
	Kept    int64   `json:"kept"`
	Failed  int64   `json:"failed"`
	Pending int64   `json:"pending"`
	Retried int64   `json:"retried"`
	Seconds float64 `json:"seconds"`
}

// Notify is what became of the --notify messages.
type Notify struct {
	// Started: the webhook answered 2xx to the start message. The end
	// message goes after summary.json, carrying its sha256, so the
	// summary cannot say whether it went: the job's "notification sent"
	// record does.
	Started bool `json:"started"`
	// Error is the last failed post, the URL left out.
	Error string `json:"error,omitempty"`
}

// Staging is a snapshot's temporary index.
type Staging struct {
	Index   string `json:"index"`
	Deleted bool   `json:"deleted"`
}

// Restore is the restore phase's accounting: read == indexed + kept +
// failed + pending.
type Restore struct {
	Read    int64 `json:"read"`
	Indexed int64 `json:"indexed"`
	Kept    int64 `json:"kept"`
	Failed  int64 `json:"failed"`
	// Pending are documents read whose fate is unknown after an
	// interruption; a rerun with the same run id settles them.
	Pending int64 `json:"pending"`
	// Skipped are documents read that the scope (--skip-ids,
	// --only-query) left out: read == indexed + kept + skipped + failed +
	// pending.
	Skipped int64 `json:"skipped"`
	// Ambiguous are documents whose answer was lost in transport and that
	// a later attempt found already written: they may be this run's own.
	Ambiguous int64 `json:"ambiguous"`
	// Duplicates are later copies of an _id a dump already gave (each a
	// failure naming both lines); Rescans count the points in time that
	// expired and were reopened while reading.
	Duplicates     int64   `json:"duplicates"`
	Rescans        int64   `json:"rescans"`
	Retried        int64   `json:"retried"`
	Bytes          int64   `json:"bytes"`
	ExistingBefore int64   `json:"existing_before"`
	TargetCount    int64   `json:"target_count"`
	Seconds        float64 `json:"seconds"`
	DocsPerSecond  float64 `json:"docs_per_second"`
	// Load is how the backup came into the target: "snapshot-as-target"
	// (Elasticsearch restored the snapshot's index as the target, writing
	// nothing; its documents are SnapshotRestored, counted read and kept),
	// "bulk" (written with _bulk) or "passes"; LoadReason says why.
	Load             string `json:"load,omitempty"`
	LoadReason       string `json:"load_reason,omitempty"`
	SnapshotRestored int64  `json:"snapshot_restored,omitempty"`
	// KeptBySeqNo counts the original's documents kept because the
	// target's copy had their _seq_no and _primary_term (part of Kept).
	KeptBySeqNo int64 `json:"kept_by_seq_no,omitempty"`
	// WrittenByEarlierAttempts counts, on a resumed run, the documents
	// the last attempt found already written by an earlier one (its
	// target held them when loading began) and kept: they are counted as
	// indexed, so that the counts cover the whole run. Retried sums every
	// attempt's.
	WrittenByEarlierAttempts int64 `json:"written_by_earlier_attempts,omitempty"`
}

// IndexDiff holds the index-level differences as RFC 6902 patches.
type IndexDiff struct {
	// Mappings and Settings turn the original's into the target's
	// (esrestore's own _meta and the private and load-tuning settings
	// left out).
	Mappings []PatchOp `json:"mappings"`
	Settings []PatchOp `json:"settings"`
	// SnapshotMappings turns the original's mappings into the snapshot
	// index's, for a snapshot source: a _type leftover or a field whose
	// type changed shows here.
	SnapshotMappings []PatchOp `json:"snapshot_mappings,omitempty"`
}

// PatchOp is one RFC 6902 operation. Value is kept as JSON text so that a
// summary read back compares equal to the one written.
type PatchOp struct {
	Type  string          `json:"op"`
	Path  string          `json:"path"`
	Value json.RawMessage `json:"value,omitempty"`
}

// Object is one object of the report, with what a reviewer needs to check
// it: `sha256sum` of the downloaded object equals SHA256.
type Object struct {
	Key         string `json:"key"`
	URL         string `json:"url"`
	ContentType string `json:"content_type"`
	// Bytes and SHA256 are of the object as stored (compressed for
	// .gz); Lines counts its lines once uncompressed.
	Bytes  int64  `json:"bytes"`
	Lines  int64  `json:"lines"`
	SHA256 string `json:"sha256"`
}

// Integrity identifies what the report is about, so a reviewer (and
// promote) can tell it still describes the indexes in front of them.
type Integrity struct {
	ToolVersion string      `json:"tool_version"`
	Cluster     *Cluster    `json:"cluster,omitempty"`
	Original    *IndexState `json:"original,omitempty"`
	Target      *IndexState `json:"target,omitempty"`
	Backup      *IndexState `json:"backup,omitempty"`
	Snapshot    *Snapshot   `json:"snapshot,omitempty"`
}

// Cluster is GET / of the cluster holding the original.
type Cluster struct {
	Name    string `json:"name"`
	UUID    string `json:"uuid"`
	Version string `json:"version"`
}

// IndexState is an index's identity and document count. CountStart and
// CountEnd differ when the index took writes during the run.
type IndexState struct {
	Name       string   `json:"name"`
	UUID       string   `json:"uuid"`
	Aliases    []string `json:"aliases"`
	CountStart int64    `json:"count_start"`
	CountEnd   int64    `json:"count_end"`
}

// Snapshot identifies a snapshot source.
type Snapshot struct {
	Repository string    `json:"repository"`
	Name       string    `json:"name"`
	UUID       string    `json:"uuid"`
	Index      string    `json:"index"`
	State      string    `json:"state"`
	StartTime  time.Time `json:"start_time"`
	EndTime    time.Time `json:"end_time"`
}

// Decode reads a summary strictly: an unknown field is an error, so a
// summary from another version of the tool is noticed.
func Decode(data []byte) (*Summary, error) {
	var s Summary
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, err
	}
	return &s, nil
}
