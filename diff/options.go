package diff

import (
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/esrestore/esrestore/internal/fielderr"
	"github.com/esrestore/esrestore/internal/retry"
)

// Overlay says how a virtual target is built from the original and a
// source, for a diff of what a restore would produce without writing it
// (esrestore's dry run).
type Overlay string

const (
	// OverlayNone is a plain diff: the restored side is the restored
	// document set itself.
	OverlayNone Overlay = ""
	// OverlayPreferOriginal treats the restored side as a source merged
	// onto the original, the original winning on ids in both: ids only in
	// the original and ids in both are unchanged (the target would keep
	// them), ids only in the source are added.
	OverlayPreferOriginal Overlay = "prefer-original"
	// OverlayPreferSource treats the restored side as a source merged onto
	// the original, the source winning on ids in both: ids only in the
	// original are unchanged, ids in both are compared with the source's
	// document, ids only in the source are added.
	OverlayPreferSource Overlay = "prefer-source"
	// OverlaySource makes the target the source alone (restore's source
	// mode): ids only in the original are removed.
	OverlaySource Overlay = "source"
	// OverlayFill treats the restored side as a source merged onto the
	// original field by field (restore's --prefer fill): on ids in both,
	// the original's document with every path it lacks filled from the
	// source's (internal/jsonmerge, the function the restore uses); ids
	// only in the original are unchanged, ids only in the source added.
	OverlayFill Overlay = "fill"
)

// Defaults of Options.
const (
	DefaultWorkers      = 4
	DefaultPageSize     = 1000
	DefaultMemoryBudget = 64 << 20
	// MaxPageSize is Elasticsearch's default index.max_result_window: the
	// most hits one search returns, and so the largest page.
	MaxPageSize = 10000
)

// ErrBadOptions is wrapped by Options.Validate errors.
var ErrBadOptions = errors.New("bad diff options")

// Options tune a diff. The zero value of each field means its default.
type Options struct {
	// Workers is the number of slices an index is scanned with, and of
	// comparisons run at once. Default 4.
	Workers int
	// PageSize is the number of documents of a scan page and of an _mget.
	// Default 1000, at most MaxPageSize.
	PageSize int
	// Ignore lists JSON Pointers removed from both documents before they
	// are compared; "*" matches one segment: "/modified", "/tags/*/id".
	// They are listed in Counts.Ignored.
	Ignore []string
	// MemoryBudget is how many bytes of report lines are held in memory
	// before a sorted run is spilled to TempDir. When a side is a dump, the
	// documents of each side are sorted with the same budget. Default 64 MiB.
	MemoryBudget int64
	// TempDir holds the spilled runs, removed when Run returns. Default
	// os.TempDir().
	TempDir string
	// Overlay makes the restored side a source merged onto the original;
	// see Overlay. Default OverlayNone, a plain diff.
	Overlay Overlay
	// NullIsMissing makes OverlayFill fill a null of the original from
	// the source, as the restore's Options.NullIsMissing does; see
	// jsonmerge.Options. Default false: a null is a live value.
	NullIsMissing bool
	// MaxFieldEntries bounds the distinct (path pattern, class) rows
	// each worker counts in Counts.Fields. Default
	// DefaultMaxFieldEntries.
	MaxFieldEntries int
	// Retry bounds, by time, the retries of an Elasticsearch request that
	// fails with 429, 502-504, a transport error or failed shards. Zero
	// fields are internal/retry's defaults (a 5m budget).
	Retry retry.Policy
	// Logger receives progress at Info and per-document events at Debug.
	// Default slog.Default().
	Logger *slog.Logger
	// SkipIDs are ids left out of every side, counted in Counts.Skipped:
	// ids an index holds under several routings, which the restore
	// records as failures and does not copy (restore.DuplicateID).
	SkipIDs []string

	// Watch lists the watched paths (Counts.Watched).
	Watch []Watch
	// Profile lists the keyword-like JSON Pointers whose values profile
	// the loss (Loss.Profile); ProfileDate is a date path counted by
	// ProfileUnit ("day" or "month") in Loss.ProfileDate.
	Profile     []string
	ProfileDate string
	ProfileUnit string
	// Scope, when set, says which backup documents may come back (the
	// restore's --skip-ids and --only-query): the others are left out of
	// the backup side (neither lost nor not recovered; with an Overlay,
	// the would-be target does not take them), counted in
	// Outcome.Skipped, each with a ChangeSkipped line, when the original
	// lacks them, in Loss.SkippedInOriginal when it holds them. It is
	// called from several goroutines. Unlike SkipIDs, it never touches
	// the original or the target.
	Scope func(id string) bool

	// skip is SkipIDs as a set, made by defaults.
	skip map[string]bool
}

// NewOptions returns the default options.
func NewOptions() Options {
	o := Options{}
	o.defaults()
	return o
}

// defaults fills in the zero fields; it is the one place defaults are set.
func (o *Options) defaults() {
	if o.Workers <= 0 {
		o.Workers = DefaultWorkers
	}
	if o.PageSize <= 0 {
		o.PageSize = DefaultPageSize
	}
	if o.MemoryBudget <= 0 {
		o.MemoryBudget = DefaultMemoryBudget
	}
	if o.TempDir == "" {
		o.TempDir = os.TempDir()
	}
	if o.MaxFieldEntries <= 0 {
		o.MaxFieldEntries = DefaultMaxFieldEntries
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if len(o.SkipIDs) > 0 && o.skip == nil {
		o.skip = make(map[string]bool, len(o.SkipIDs))
		for _, id := range o.SkipIDs {
			o.skip[id] = true
		}
	}
}

// Validate reports every bad field at once, each naming the value seen.
// Zero values are valid: they mean the default.
func (o Options) Validate() error {
	var errs []error
	bad := func(field, reason string, v any) {
		errs = append(errs, fmt.Errorf("%w: %w", ErrBadOptions, fielderr.New(nil, field, reason, fmt.Sprint(v))))
	}
	if o.Workers < 0 {
		bad("workers", "must be at least 1", o.Workers)
	}
	if o.PageSize < 0 || o.PageSize > MaxPageSize {
		bad("page size", fmt.Sprintf("must be between 1 and %d", MaxPageSize), o.PageSize)
	}
	if o.MemoryBudget < 0 {
		bad("memory budget", "must be positive", o.MemoryBudget)
	}
	if err := o.Retry.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("%w: %w", ErrBadOptions, fielderr.New(err, "retry", err.Error(), "")))
	}
	switch o.Overlay {
	case OverlayNone, OverlayPreferOriginal, OverlayPreferSource, OverlaySource, OverlayFill:
	default:
		bad("overlay", fmt.Sprintf("must be %q, %q, %q, %q or empty", OverlayPreferOriginal, OverlayPreferSource, OverlaySource, OverlayFill), o.Overlay)
	}
	if _, err := ParsePointers(o.Ignore); err != nil {
		errs = append(errs, fmt.Errorf("%w: %w", ErrBadOptions, fielderr.New(err, "ignore", err.Error(), "")))
	}
	errs = append(errs, validateWatches(o.Watch)...)
	errs = append(errs, o.validateProfile()...)
	return errors.Join(errs...)
}
