package promote

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/esrestore/esrestore/internal/fielderr"
	"github.com/esrestore/esrestore/internal/retry"
	"github.com/esrestore/esrestore/report"
)

// Defaults of Options.
const (
	DefaultWorkers   = 4
	DefaultBatchDocs = 500
	// Rounds of the catch-up (see Options).
	DefaultMaxRounds  = 5
	DefaultRoundsTime = 10 * time.Minute
	DefaultSwitchAt   = 100
	DefaultSettle     = 2 * time.Second
	// MaxBatchDocs is the most ids one lookup asks for: Elasticsearch's
	// default index.max_result_window.
	MaxBatchDocs = 10000
)

// ErrBadOptions is wrapped by Options.Validate errors.
var ErrBadOptions = errors.New("bad promote options")

// AcceptableKinds are the verdict reasons Options.Accept may name. An
// incomplete run is never acceptable: its diff does not describe the
// indexes.
var AcceptableKinds = []string{report.ReasonFailed, report.ReasonRemoved, report.ReasonOverwritten,
	report.ReasonNotRecovered, report.ReasonMappings, report.ReasonLiveWrites}

// Options configure a Promoter. The zero value of each field means the
// default written in its comment.
type Options struct {
	// Aliases are the aliases to move. Default: the original's aliases as
	// the summary recorded them when the run read it.
	Aliases []string
	// Accept lists the verdict reasons (AcceptableKinds) the operator has
	// read and accepts. A verdict "review" promotes only when every one of
	// its reasons is accepted.
	Accept []string
	// BlockWrites write-blocks the original (PUT /{index}/_block/write,
	// which waits for the writes in flight, and sets index.blocks.write)
	// for the final catch-up round and the switch only, and removes the
	// block afterwards, also on failure: the application's writes fail
	// meanwhile (promote.json times it). It is the one change promote
	// makes to the original's settings. Default false: the original takes
	// writes throughout; the final round, after the switch, brings across
	// what reached it since the last round, without overwriting what the
	// application wrote to the target since the switch.
	BlockWrites bool
	// MaxRounds bounds the catch-up rounds before the switch. Default 5.
	MaxRounds int
	// RoundsTime bounds the time of the rounds before the switch: once it
	// is spent, the switch comes after the current round. Default 10m.
	RoundsTime time.Duration
	// SwitchAt is the difference small enough to switch: once a round
	// finds at most this many documents, the next step is the switch.
	// Default 100.
	SwitchAt int
	// Settle is how long the final round waits after the switch for writes
	// already on their way to the original to land. Default 2s.
	Settle time.Duration
	// DryRun writes nothing anywhere: the checks and the catch-up's diff
	// run, and the result holds the _aliases body and the catch-up counts.
	DryRun bool
	// Environment is where promote runs; when set it must equal the
	// summary's (case aside). Default: the summary's.
	Environment string
	// Operator says who runs promote beyond what Elasticsearch reports,
	// e.g. "alice@bastion-1" or a pod name. Recorded as given; never a
	// secret.
	Operator string
	// Workers is the number of scan slices and comparisons of the
	// catch-up's diff. Default 4.
	Workers int
	// BatchDocs is the number of documents per lookup and per catch-up
	// _bulk. Default 500, at most MaxBatchDocs.
	BatchDocs int
	// TempDir holds the catch-up's fresh diff while it is compared.
	// Default os.TempDir().
	TempDir string
	// ToolVersion is recorded in promote.json.
	ToolVersion string
	// Retry bounds, by time, the retries of a catch-up _bulk that fails
	// with 429, 502-504 or a cut connection, and of the items a node
	// rejects with 429. Zero fields are internal/retry's defaults (a 5m
	// budget).
	Retry retry.Policy
	// Logger receives progress at Info. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock of the record's times. Default time.Now.
	Now func() time.Time
	// Notify, when set, is called with the final record once promote.json
	// is written (promoted or rolled back). It is where a --notify webhook
	// plugs in; its error is logged, and does not undo the switch.
	Notify func(ctx context.Context, r Record) error
}

// NewOptions returns the default options.
func NewOptions() Options {
	var o Options
	o.defaults()
	return o
}

// defaults fills in the zero fields; it is the one place defaults are set.
func (o *Options) defaults() {
	if o.Workers <= 0 {
		o.Workers = DefaultWorkers
	}
	if o.BatchDocs <= 0 {
		o.BatchDocs = DefaultBatchDocs
	}
	if o.MaxRounds <= 0 {
		o.MaxRounds = DefaultMaxRounds
	}
	if o.RoundsTime <= 0 {
		o.RoundsTime = DefaultRoundsTime
	}
	if o.SwitchAt <= 0 {
		o.SwitchAt = DefaultSwitchAt
	}
	if o.Settle <= 0 {
		o.Settle = DefaultSettle
	}
	if o.TempDir == "" {
		o.TempDir = os.TempDir()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Validate reports every bad field at once, each naming the value seen.
func (o Options) Validate() error {
	var errs []error
	bad := func(field, reason string, v any) {
		errs = append(errs, fmt.Errorf("%w: %w", ErrBadOptions, fielderr.New(nil, field, reason, fmt.Sprint(v))))
	}
	for _, a := range o.Accept {
		if !slices.Contains(AcceptableKinds, a) {
			bad("accept", "must list "+strings.Join(AcceptableKinds, ", "), a)
		}
	}
	for _, a := range o.Aliases {
		if a == "" || strings.ContainsAny(a, `*,/\ "`) || strings.HasPrefix(a, "_") || a != strings.ToLower(a) {
			bad("alias", "must be an alias name: lowercase, no wildcard, comma, slash or space, not starting with _", fmt.Sprintf("%q", a))
		}
	}
	if o.Workers < 0 {
		bad("workers", "must be at least 1", o.Workers)
	}
	if o.MaxRounds < 0 || o.MaxRounds > 100 {
		bad("max rounds", "must be 1..100", o.MaxRounds)
	}
	if o.RoundsTime < 0 || o.SwitchAt < 0 || o.Settle < 0 {
		bad("rounds", "rounds time, switch-at and settle must not be negative", fmt.Sprintf("%s, %d, %s", o.RoundsTime, o.SwitchAt, o.Settle))
	}
	if o.BatchDocs < 0 || o.BatchDocs > MaxBatchDocs {
		bad("batch docs", fmt.Sprintf("must be 1..%d", MaxBatchDocs), o.BatchDocs)
	}
	if err := o.Retry.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("%w: %w", ErrBadOptions, fielderr.New(err, "retry", err.Error(), "")))
	}
	return errors.Join(errs...)
}
