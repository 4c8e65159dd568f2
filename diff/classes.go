package diff

import "encoding/json"

// The classes of diff.ndjson.gz lines. A document is on one line at most; unchanged
// documents are counted, not listed.
const (
	// ChangeRecovered: the patch original → target only adds (values the
	// original lacks come back).
	ChangeRecovered = "recovered"
	// ChangeOverwritten: the patch replaces or removes a value the live
	// document holds (or its _routing changes).
	ChangeOverwritten = "overwritten"
	// ChangeAdded: only in the target.
	ChangeAdded = "added"
	// ChangeRemoved: only in the original; an alias switch loses it.
	ChangeRemoved = "removed"
	// ChangeNotRecovered: the outcome is unchanged, but the backup holds
	// values (or the whole document) that neither the original nor the
	// target has; the line's patch carries them, original → backup.
	ChangeNotRecovered = "not_recovered"
)

// Outcome counts original → target, what an alias switch does. Original =
// Unchanged + Recovered + Overwritten + Removed and Target = Unchanged +
// Recovered + Overwritten + Added.
type Outcome struct {
	Original    int64 `json:"original"`
	Target      int64 `json:"target"`
	Unchanged   int64 `json:"unchanged"`
	Recovered   int64 `json:"recovered"`
	Overwritten int64 `json:"overwritten"`
	Added       int64 `json:"added"`
	Removed     int64 `json:"removed"`
	// RoutingChanged counts the overwritten documents whose _routing
	// differs (their patch may be empty).
	RoutingChanged int64 `json:"routing_changed"`
	// Skipped counts the backup's documents the scope left out
	// (Options.Scope) that the original lacks: they would come back
	// without the scope. They are neither lost nor not recovered, and
	// each has a ChangeSkipped line (unless the target holds it: then it
	// is added). The backup's documents out of the scope that the
	// original holds are Loss.SkippedInOriginal; neither is in
	// Loss.Backup: the backup holds Loss.Backup + Skipped +
	// Loss.SkippedInOriginal documents, and a restore that read it with
	// the same scope skipped Skipped + Loss.SkippedInOriginal.
	Skipped int64 `json:"skipped"`
}

// Loss counts original vs backup: what the incident took and whether the
// target has it back. Backup = Lost + the backup's documents the original
// also holds; Stripped and EditedSinceBackup count among the latter (a
// document may be both).
type Loss struct {
	Backup int64 `json:"backup"`
	// Lost: documents only in the backup.
	Lost int64 `json:"lost"`
	// Stripped: documents whose backup copy has paths the original lacks.
	Stripped int64 `json:"stripped"`
	// EditedSinceBackup: documents where both hold a path with different
	// values (live edits, or damage).
	EditedSinceBackup int64 `json:"edited_since_backup"`
	// NewSinceBackup: documents only in the original.
	NewSinceBackup int64 `json:"new_since_backup"`
	// SkippedInOriginal: documents of the original whose backup copy the
	// scope left out: the original's copy stays (nothing of the backup's
	// comes back), and is not compared with the backup's. Original =
	// NewSinceBackup + SkippedInOriginal + the original's documents the
	// backup in scope also holds.
	SkippedInOriginal int64 `json:"skipped_in_original,omitempty"`
	// NotRecovered: lost documents, or documents with backup-only paths,
	// that the target lacks too; NotRecoveredLost of them are whole lost
	// documents.
	NotRecovered     int64 `json:"not_recovered"`
	NotRecoveredLost int64 `json:"not_recovered_lost"`
	// BackupBySeqNo counts the backup copies not fetched because the
	// target's copy has the same _seq_no and _primary_term, both indexes
	// being restored from one snapshot (Sides.SharedHistory): they were
	// compared as the target's bytes.
	BackupBySeqNo int64 `json:"backup_by_seq_no,omitempty"`
	// Profile and ProfileDate give the shape of the loss (see
	// Options.Profile): an incident stands out against the backup.
	Profile     []ProfileField `json:"profile,omitempty"`
	ProfileDate *ProfileDate   `json:"profile_date,omitempty"`
	// Note, when documents are lost, says what the diff cannot tell
	// about them (LostNote).
	Note string `json:"note,omitempty"`
}

// Field classes: the outcome classes of a patch and the loss classes of
// the original → backup patch.
const (
	FieldRecovered         = "recovered"
	FieldOverwritten       = "overwritten"
	FieldStripped          = "stripped"
	FieldEditedSinceBackup = "edited_since_backup"
	FieldNotRecovered      = "not_recovered"
)

// Fields counts patch operations per JSON Pointer pattern (array indices
// as "*") and class: the busiest MaxFieldPaths, the rest summed in Other.
type Fields struct {
	Paths []FieldStat `json:"paths"`
	Other FieldOther  `json:"other"`
	// Transitions are the value changes of small-valued paths, original →
	// target, busiest first.
	Transitions []Transition `json:"transitions"`
}

// FieldStat is one path pattern in one class.
type FieldStat struct {
	Path      string `json:"path"`
	Class     string `json:"class"`
	Add       int64  `json:"add"`
	Replace   int64  `json:"replace"`
	Remove    int64  `json:"remove"`
	Documents int64  `json:"documents"`
	// Samples are up to MaxFieldSamples documents, the smallest ids seen.
	Samples []Sample `json:"samples"`
}

// FieldOther sums the path patterns beyond the busiest. Documents is
// summed over those rows (a document may count in several).
type FieldOther struct {
	Paths     int64 `json:"paths"`
	Add       int64 `json:"add"`
	Replace   int64 `json:"replace"`
	Remove    int64 `json:"remove"`
	Documents int64 `json:"documents"`
	// Truncated is set when more distinct paths showed than are counted
	// by path: their operations are in Add, Replace and Remove only.
	Truncated bool `json:"truncated,omitempty"`
}

// Sample is one document's value at a path before and after (absent on
// the side that lacks it). Values longer than MaxSampleBytes are cut: the
// field then holds a JSON string of the value's first bytes, and Cut is set.
type Sample struct {
	ID     string          `json:"_id"`
	Before json.RawMessage `json:"before,omitempty"`
	After  json.RawMessage `json:"after,omitempty"`
	Cut    bool            `json:"cut,omitempty"`
}

// Limits of Fields.
const (
	MaxFieldPaths   = 100
	MaxFieldSamples = 5
	MaxSampleBytes  = 200
)

// ChangeSkipped: the backup's copy was left out by the restore's scope
// (Options.Scope): it may not come back, and is not counted as not
// recovered. The line carries the backup's copy.
const ChangeSkipped = "skipped"

// Transition counts the documents whose value at Path goes From → To,
// original → target, in the outcome classes. Only paths whose replaced
// values (both sides, across the run) come from a small set are counted
// (MaxTransitionValues): values that decide who sees what, not free text.
type Transition struct {
	Path      string          `json:"path"`
	From      json.RawMessage `json:"from"`
	To        json.RawMessage `json:"to"`
	Documents int64           `json:"documents"`
}

// MaxTransitionValues is the most distinct values a path's replaces may
// show, on both sides together, for its transitions to be counted.
const MaxTransitionValues = 20

// Watch is a path the operator watches (--watch PATH[=VALUE]): a document
// whose value at Path would change when the alias moves, or with Value
// set would become Value, is counted and marked on its report line.
type Watch struct {
	Path string `json:"path"`
	// Value is the JSON value watched for; nil watches any change.
	Value json.RawMessage `json:"value,omitempty"`
}

// WatchCount is how many documents a watch matched.
type WatchCount struct {
	Watch
	Documents int64 `json:"documents"`
	// Lost counts, of Documents, those the original lacks: lost (or
	// deleted on purpose) documents the switch would bring back.
	Lost int64 `json:"lost"`
}

// ProfileField is the shape of the loss at one keyword-like path: for its
// top values, how many lost documents, stripped documents and backup
// documents hold each.
type ProfileField struct {
	Path   string         `json:"path"`
	Values []ProfileValue `json:"values"`
	// Other sums the values beyond the top ones.
	Other *ProfileCounts `json:"other,omitempty"`
}

// ProfileCounts are the documents of one value (or bucket).
type ProfileCounts struct {
	Lost     int64 `json:"lost"`
	Stripped int64 `json:"stripped"`
	Backup   int64 `json:"backup"`
}

// ProfileValue is one value of a profiled path; Value is JSON, null for
// documents without one.
type ProfileValue struct {
	Value json.RawMessage `json:"value"`
	ProfileCounts
}

// ProfileDate counts the lost and the backup's documents by the day or
// month of a date path.
type ProfileDate struct {
	Path    string       `json:"path"`
	Unit    string       `json:"unit"` // "day" or "month"
	Buckets []DateBucket `json:"buckets"`
}

// DateBucket is one day ("2021-11-05") or month ("2021-11").
type DateBucket struct {
	Key string `json:"key"`
	ProfileCounts
}

// Alternative is what one --prefer would give on the same three sides,
// computed from the copies the diff holds, without writing.
type Alternative struct {
	Overwritten  int64 `json:"overwritten"`
	Recovered    int64 `json:"recovered"`
	NotRecovered int64 `json:"not_recovered"`
	Added        int64 `json:"added"`
	// Watched counts the documents a watch (Options.Watch) would match.
	Watched int64 `json:"watched,omitempty"`
}

// Alternatives are the three prefers' outcomes.
type Alternatives struct {
	Original Alternative `json:"original"`
	Source   Alternative `json:"source"`
	Fill     Alternative `json:"fill"`
}
