package promote

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/elastic/go-elasticsearch/v8"

	"github.com/esrestore/esrestore/internal/esmeta"
	"github.com/esrestore/esrestore/report"
)

// Steps a promote passes, for the tests' interruptions.
const (
	stepChecked      = "checked"
	stepFrozen       = "frozen"
	stepCatchUpBatch = "catch-up-batch"
	stepCaughtUp     = "caught-up"
	stepSwitched     = "switched"
)

// Stats are the catch-up's counts so far, for progress.
type Stats = CatchUp

// Promoter promotes (or rolls back) one reviewed run. Create it with New;
// Stats may be read from other goroutines while Run works.
type Promoter struct {
	es    *elasticsearch.Client
	store Store
	opt   Options
	log   *slog.Logger

	mu  sync.Mutex
	cur *plan // the catch-up under way

	// onStep, when set (tests), is called as each step is reached.
	onStep func(step string)
}

// New returns a Promoter for the report in store, on the cluster es.
func New(es *elasticsearch.Client, store Store, opt Options) (*Promoter, error) {
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	opt.defaults()
	opt.Accept = slices.Sorted(slices.Values(opt.Accept))
	return &Promoter{es: es, store: store, opt: opt, log: opt.Logger}, nil
}

// Stats returns the catch-up's counts so far.
func (p *Promoter) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur == nil {
		return Stats{}
	}
	return p.cur.stats
}

// step marks a step reached; it fails once ctx is done.
func (p *Promoter) step(ctx context.Context, name string) error {
	if p.onStep != nil {
		p.onStep(name)
	}
	return ctx.Err()
}

// Check runs the checks alone and writes nothing. Every failure wraps
// ErrCheck, joined into one error.
func (p *Promoter) Check(ctx context.Context) error {
	_, err := p.check(ctx)
	return err
}

// Run promotes: the checks, the catch-up, the switch and the record. It
// returns the record, also with an error when it got past the checks.
// After an interruption or a failure a rerun resumes: the catch-up is
// idempotent, and promote.json says whether the switch happened. With
// Options.DryRun it returns a record in StateDryRun with the _aliases body
// and the catch-up counts, having written nothing.
func (p *Promoter) Run(ctx context.Context) (rec *Record, err error) {
	s, err := p.check(ctx)
	if err != nil {
		return nil, err
	}
	if s.place == aliasOnTarget && s.prev.State == StatePromoted && !ownsBlock(s.prev.Freeze) {
		p.log.Info("already promoted", "aliases", aliasNames(s.moves), "target", s.sum.Target, "record", p.store.URL(RecordName))
		return s.prev, nil
	}
	rec, err = p.newRecord(ctx, s)
	if err != nil {
		return nil, err
	}
	p.log.Info("promote checks passed", "original", s.sum.Original, "target", s.sum.Target, "aliases", aliasNames(s.moves),
		"verdict", s.sum.Verdict.Status, "accepted", p.opt.Accept, "resuming", s.resuming(), "aliases_on_target", s.place == aliasOnTarget)
	if p.opt.DryRun {
		rec.State = StateDryRun
		if s.place == aliasOnOriginal {
			pl, err := p.makePlan(ctx, s)
			if err != nil {
				return rec, err
			}
			rec.CatchUp = &pl.stats
		}
		return rec, nil
	}
	// Whatever happens from here, a write block this promote owns is
	// removed and the record says so.
	defer func() {
		if ownsBlock(rec.Freeze) {
			err = errors.Join(err, p.unfreeze(ctx, s, rec))
			err = errors.Join(err, p.put(ctx, rec))
		}
	}()
	if s.place == aliasOnOriginal {
		if err := p.catchUpAndSwitch(ctx, s, rec); err != nil {
			return rec, err
		}
	}
	if err := p.unfreeze(ctx, s, rec); err != nil {
		return rec, err
	}
	rec.State = StatePromoted
	now := p.opt.Now().UTC()
	rec.Finished = &now
	if err := p.put(ctx, rec); err != nil {
		return rec, err
	}
	p.log.Info("promoted", "aliases", aliasNames(s.moves), "from", s.sum.Original, "to", s.sum.Target, "record", p.store.URL(RecordName))
	p.notify(ctx, rec)
	return rec, nil
}

// catchUpAndSwitch is the writing part of a promote: record the start,
// freeze, catch up, record the switch, switch.
func (p *Promoter) catchUpAndSwitch(ctx context.Context, s *state, rec *Record) error {
	rec.State = StateCatchingUp
	if err := p.put(ctx, rec); err != nil {
		return err
	}
	if err := p.step(ctx, stepChecked); err != nil {
		return err
	}
	if p.opt.Freeze {
		if err := p.freeze(ctx, s, rec); err != nil {
			return err
		}
		if err := p.step(ctx, stepFrozen); err != nil {
			return err
		}
	}
	start := time.Now()
	pl, err := p.makePlan(ctx, s)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.cur = pl
	p.mu.Unlock()
	p.log.Info("catch-up planned", "new", pl.stats.New, "changed", pl.stats.Changed, "deleted", pl.stats.Deleted,
		"superseded", pl.stats.Superseded, "reviewed_lines", pl.stats.Reviewed, "fresh_lines", pl.stats.Fresh)
	err = p.apply(ctx, s, pl)
	pl.stats.Seconds = time.Since(start).Seconds()
	rec.CatchUp = p.statsCopy(pl)
	if err != nil {
		return err
	}
	if rec.CatchUp.TargetCount, err = esmeta.Count(ctx, p.es, s.sum.Target); err != nil {
		return err
	}
	p.log.Info("caught up", "indexed", rec.CatchUp.Indexed, "removed", rec.CatchUp.Removed,
		"kept_recovered", rec.CatchUp.KeptRecovered, "target_count", rec.CatchUp.TargetCount, "seconds", rec.CatchUp.Seconds)
	if err := p.step(ctx, stepCaughtUp); err != nil {
		return err
	}
	rec.State = StateSwitching
	if rec.CatchUp.OriginalCountAtSwitch, err = esmeta.Count(ctx, p.es, s.sum.Original); err != nil {
		return err
	}
	if n := rec.CatchUp.OriginalCountAtSwitch; n != rec.CatchUp.OriginalCount {
		p.log.Warn("the original took writes during the catch-up; they may not be in the target (freeze prevents this)",
			"count_at_catch_up", rec.CatchUp.OriginalCount, "count_at_switch", n)
	}
	if err := p.put(ctx, rec); err != nil {
		return err
	}
	if err := switchAliases(ctx, p.es, rec.Actions); err != nil {
		return err
	}
	now := p.opt.Now().UTC()
	rec.Switched = &now
	p.log.Info("aliases switched", "aliases", aliasNames(s.moves), "from", s.sum.Original, "to", s.sum.Target)
	if err := verifyAliases(ctx, p.es, s.moves, s.sum.Target); err != nil {
		return err
	}
	return p.step(ctx, stepSwitched)
}

func (p *Promoter) statsCopy(pl *plan) *CatchUp {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := pl.stats
	return &c
}

// newRecord starts this attempt's record, carrying over what a previous
// attempt of the same promote recorded.
func (p *Promoter) newRecord(ctx context.Context, s *state) (*Record, error) {
	now := p.opt.Now().UTC()
	rec := &Record{
		RunID: s.sum.RunID, Environment: s.sum.Environment,
		Original: s.sum.Original, OriginalUUID: s.orig.UUID, Target: s.sum.Target, TargetUUID: s.tgt.UUID,
		Summary: SummaryRef{URL: p.store.URL(report.SummaryName), SHA256: s.sumSHA, Verdict: s.sum.Verdict.Status,
			Reasons: reasonTexts(s.sum.Verdict)},
		Accepted: append([]string{}, p.opt.Accept...), Who: p.who(ctx, s.sum.Environment),
		Aliases: s.moves, Started: now, Attempts: 1, ToolVersion: p.opt.ToolVersion,
	}
	body, err := aliasesBody(s.moves, s.sum.Original, s.sum.Target)
	if err != nil {
		return nil, err
	}
	rec.Actions = body
	if prev := s.prev; prev != nil && s.resuming() {
		rec.Attempts = prev.Attempts + 1
		rec.Started = prev.Started
		rec.Switched = prev.Switched
		if s.place == aliasOnTarget {
			// The switch happened: what it did is in the record
			// already, only the finish is missing.
			rec.Actions, rec.CatchUp = prev.Actions, prev.CatchUp
		}
		if ownsBlock(prev.Freeze) {
			f := *prev.Freeze
			rec.Freeze = &f
		}
	}
	return rec, nil
}

func reasonTexts(v report.Verdict) []string {
	out := make([]string, len(v.Reasons))
	for i, r := range v.Reasons {
		out[i] = r.Text
	}
	return out
}

func aliasNames(moves []AliasMove) []string {
	out := make([]string, len(moves))
	for i, m := range moves {
		out[i] = m.Name
	}
	return out
}

// who is who runs this promote.
func (p *Promoter) who(ctx context.Context, environment string) Who {
	w := Who{Environment: environment, Operator: p.opt.Operator}
	w.ES, w.ESNote = identity(ctx, p.es)
	return w
}

// put writes the record, on a fresh context when ctx is done so that an
// interrupted promote still says how far it got.
func (p *Promoter) put(ctx context.Context, rec *Record) error {
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
	}
	return writeRecord(ctx, p.store, rec)
}

// notify calls Options.Notify; a failed notification is logged, the
// promote stands.
func (p *Promoter) notify(ctx context.Context, rec *Record) {
	if p.opt.Notify == nil {
		return
	}
	if err := p.opt.Notify(ctx, *rec); err != nil {
		p.log.Warn("notification failed", "error", err)
	}
}

// ownsBlock reports whether a write block on the original is this
// promote's to remove.
func ownsBlock(f *Freeze) bool { return f != nil && f.Set && !f.Removed }

// freeze sets index.blocks.write on the original, recording first that it
// is this promote's, so a rerun after a crash knows to remove it.
func (p *Promoter) freeze(ctx context.Context, s *state, rec *Record) error {
	if ownsBlock(rec.Freeze) {
		// A previous attempt set it; set it again in case someone
		// removed it meanwhile.
		return p.setBlock(ctx, s.sum.Original)
	}
	rec.Freeze = &Freeze{}
	if s.origBlocked {
		rec.Freeze.AlreadyBlocked = true
		p.log.Info("the original is write-blocked already: the block is left as it is", "original", s.sum.Original)
		return p.put(ctx, rec)
	}
	rec.Freeze.Set = true
	if err := p.put(ctx, rec); err != nil {
		return err
	}
	return p.setBlock(ctx, s.sum.Original)
}

func (p *Promoter) setBlock(ctx context.Context, index string) error {
	if err := setWriteBlock(ctx, p.es, index, true); err != nil {
		return err
	}
	p.log.Info("original write-blocked", "original", index, "setting", "index.blocks.write")
	// Every write acknowledged before the block is then visible to the
	// catch-up's diff.
	return refresh(ctx, p.es, index)
}

// unfreeze removes the write block this promote set, on a fresh context
// when ctx is done.
func (p *Promoter) unfreeze(ctx context.Context, s *state, rec *Record) error {
	if !ownsBlock(rec.Freeze) {
		return nil
	}
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
	}
	if err := setWriteBlock(ctx, p.es, s.sum.Original, false); err != nil {
		rec.Freeze.Error = err.Error()
		return fmt.Errorf("%w; remove it by hand: PUT %s/_settings {\"index.blocks.write\": null}", err, s.sum.Original)
	}
	rec.Freeze.Removed, rec.Freeze.Error = true, ""
	p.log.Info("original write block removed", "original", s.sum.Original)
	return nil
}
