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
