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

	"github.com/esrestore/esrestore/internal/elastic"
	"github.com/esrestore/esrestore/internal/esscan"
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
	// keptSeen are the protected deletions counted by an earlier round.
	keptSeen map[string]bool
	// lastInstant is the last round's instant of the original, open.
	lastInstant *esscan.Instant

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
	return &Promoter{es: es, store: store, opt: opt, log: opt.Logger, keptSeen: map[string]bool{}}, nil
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
	if s.place == aliasOnTarget && s.prev.State == StatePromoted && !ownsBlock(s.prev.Block) {
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
			orig := p.instant(s.sum.Original)
			defer orig.Close()
			pl, err := p.makePlan(ctx, s, orig, nil)
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
		if ownsBlock(rec.Block) {
			err = errors.Join(err, p.unfreeze(ctx, s, rec))
			err = errors.Join(err, p.put(ctx, rec))
		}
	}()
	if s.place == aliasOnOriginal {
		if err := p.catchUpAndSwitch(ctx, s, rec); err != nil {
			return rec, err
		}
	} else if needsFinalRound(rec.CatchUp) {
		if err := p.resumeFinalRound(ctx, s, rec); err != nil {
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

// instant is an unopened instant of index under the promote's retries.
func (p *Promoter) instant(index string) *esscan.Instant {
	return esscan.NewInstant(p.es, index, esscan.InstantOptions{Retry: p.opt.Retry, Logger: p.log})
}

// catchUpAndSwitch is the writing part of a promote: record the start,
// catch up in rounds while the application writes, then the switch and
// the final round (under a write block with BlockWrites, after the switch
// otherwise).
func (p *Promoter) catchUpAndSwitch(ctx context.Context, s *state, rec *Record) error {
	rec.State = StateCatchingUp
	if err := p.put(ctx, rec); err != nil {
		return err
	}
	if err := p.step(ctx, stepChecked); err != nil {
		return err
	}
	start := time.Now()
	defer func() {
		if p.lastInstant != nil {
			p.lastInstant.Close()
		}
	}()
	total := &CatchUp{Method: "diff", Samples: map[string][]string{}, Rounds: []Round{}}
	p.mu.Lock()
	p.cur = &plan{stats: *total}
	p.mu.Unlock()
	for n := 1; ; n++ {
		r, err := p.round(ctx, s, rec, total, n, false, nil)
		if err != nil {
			return err
		}
		found := r.moved()
		if found <= int64(p.opt.SwitchAt) || n >= p.opt.MaxRounds || time.Since(start) >= p.opt.RoundsTime {
			p.log.Info("catch-up ready to switch", "rounds", n, "last_round_found", found, "switch_at", p.opt.SwitchAt,
				"seconds", time.Since(start).Seconds())
			break
		}
	}
	if err := p.step(ctx, stepCaughtUp); err != nil {
		return err
	}
	if p.opt.BlockWrites {
		if err := p.freeze(ctx, s, rec); err != nil {
			return err
		}
		if err := p.step(ctx, stepFrozen); err != nil {
			return err
		}
		// Nothing reaches the original now: one round makes the target
		// whole, and the switch follows.
		if _, err := p.round(ctx, s, rec, total, len(total.Rounds)+1, true, nil); err != nil {
			return err
		}
		total.LagAtSwitch = lastFound(total)
		if err := p.switchNow(ctx, s, rec, total); err != nil {
			return err
		}
		return p.step(ctx, stepSwitched)
	}
	// The target as it is at the switch: the final round's writes are
	// conditional on it, so that the application's writes to the target
	// after the switch stand.
	if err := refresh(ctx, p.es, s.sum.Target); err != nil {
		return err
	}
	guard := esscan.NewInstant(p.es, s.sum.Target, p.guardOptions())
	// Until the final round is done, the guard outlives this process: a
	// rerun adopts it.
	done := false
	defer func() {
		if done {
			guard.Close()
		} else {
			guard.Release()
		}
	}()
	if err := guard.Open(ctx); err != nil {
		return err
	}
	total.Guard = &Guard{Index: s.sum.Target, PIT: guard.ID(), At: guard.At()}
	if err := p.switchNow(ctx, s, rec, total); err != nil {
		return err
	}
	if err := p.step(ctx, stepSwitched); err != nil {
		return err
	}
	err := p.finalRound(ctx, s, rec, total, guard, start)
	done = err == nil
	return err
}

// guardOptions are those of the target's instant at the switch: long
// lived, and never reopened (another moment would not tell the
// application's writes from the promote's).
func (p *Promoter) guardOptions() esscan.InstantOptions {
	return esscan.InstantOptions{KeepAlive: GuardKeepAlive, NoReopen: true, Retry: p.opt.Retry, Logger: p.log}
}

// GuardKeepAlive is how long the target's point in time at the switch
// lives without a reader: the time a rerun has to finish an interrupted
// final round.
const GuardKeepAlive = 30 * time.Minute

// finalRound brings across what the original took between the last round
// and the switch, conditionally on the target's copies at the switch
// (guard), then checks that nothing reached the original after it.
func (p *Promoter) finalRound(ctx context.Context, s *state, rec *Record, total *CatchUp, guard *esscan.Instant, start time.Time) error {
	// Writes on their way to the original when the aliases moved land
	// within Settle; a refresh makes them visible to the final round.
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(p.opt.Settle):
	}
	if err := refresh(ctx, p.es, s.sum.Original); err != nil {
		return err
	}
	final, err := p.round(ctx, s, rec, total, len(total.Rounds)+1, true, guard)
	if err != nil {
		return err
	}
	total.LagAtSwitch = final.moved()
	// Nothing should reach the original after the switch: a write that
	// did came from a client that writes to the index, not the alias, and
	// is not in the target. It is counted and named, never silent.
	if err := refresh(ctx, p.es, s.sum.Original); err != nil {
		return err
	}
	late, err := p.lastInstant.Since(ctx, p.opt.Workers, p.opt.BatchDocs)
	if err != nil {
		return err
	}
	total.LateWrites = late.Total()
	rec.CatchUp = p.finishTotal(total, start)
	if err := p.put(ctx, rec); err != nil {
		return err
	}
	if n := late.Total(); n > 0 {
		return fmt.Errorf("%w: the original %q took %d writes after the final round (%d new, %d changed, %d deleted): a client writes to the index, not the alias; they are not in the target %q",
			ErrLateWrites, s.sum.Original, n, late.New, late.Changed, late.Deleted, s.sum.Target)
	}
	return nil
}

// ErrLateWrites means the original took writes after the final round.
var ErrLateWrites = errors.New("writes reached the original after the switch")

// needsFinalRound reports whether a promote switched without its final
// round: interrupted in between.
func needsFinalRound(c *CatchUp) bool {
	if c == nil || c.Guard == nil {
		return false
	}
	for _, r := range c.Rounds {
		if r.Final {
			return false
		}
	}
	return true
}

// resumeFinalRound runs the final round of a promote interrupted after
// its switch, on the target's point in time at the switch, which the
// record names. Without it the round cannot tell the application's writes
// to the target since the switch from copies to replace: it is not run,
// and the error says what to compare.
func (p *Promoter) resumeFinalRound(ctx context.Context, s *state, rec *Record) error {
	total := rec.CatchUp
	g := total.Guard
	guard := esscan.AdoptInstant(p.es, g.Index, g.PIT, g.At, p.guardOptions())
	done := false
	defer func() {
		if done {
			guard.Close()
		} else {
			guard.Release()
		}
	}()
	if _, err := guard.Count(ctx); err != nil {
		return fmt.Errorf("%w: the promote stopped after the switch, before its final round, and the target's point in time at the switch (%s) is gone: %w; "+
			"what the original %q took between the last round (%s) and the switch is not in the target, and cannot be written without risking the application's writes since: compare them with esrestore diff",
			ErrFinalRound, g.At.Format(time.RFC3339), err, s.sum.Original, total.Rounds[len(total.Rounds)-1].Instant.Format(time.RFC3339))
	}
	p.log.Info("resuming the final round", "target", g.Index, "switched_at", g.At, "rounds_before", len(total.Rounds))
	defer func() {
		if p.lastInstant != nil {
			p.lastInstant.Close()
		}
	}()
	err := p.finalRound(ctx, s, rec, total, guard, rec.Started)
	done = err == nil
	return err
}

// ErrFinalRound means a promote interrupted after its switch cannot run
// its final round.
var ErrFinalRound = errors.New("final round impossible")

// lastFound is what the last round brought across.
func lastFound(c *CatchUp) int64 { return c.Rounds[len(c.Rounds)-1].moved() }

// moved counts the documents the round brought across, or tried to: the
// writes the original took since the previous round. Documents the
// report recovered and the original no longer has differ in every round
// and are not counted.
func (r Round) moved() int64 { return r.Indexed + r.Removed + r.KeptApplication + r.Failed }

// round runs one catch-up round: the original read at a new instant,
// diffed against the target (at guard when set) and the difference
// written, conditionally on guard's copies when set. Its counts go into
// total and the record, which is written.
func (p *Promoter) round(ctx context.Context, s *state, rec *Record, total *CatchUp, n int, final bool, guard *esscan.Instant) (Round, error) {
	start := time.Now()
	// The round's instant stays open until the next round's, or the end
	// of the promote: the final one is compared with the original after it.
	orig := p.instant(s.sum.Original)
	if p.lastInstant != nil {
		p.lastInstant.Close()
	}
	p.lastInstant = orig
	pl, err := p.makePlan(ctx, s, orig, guard)
	if err != nil {
		return Round{}, err
	}
	// A document the report recovered and the original deleted differs
	// in every round; it is counted in the first only.
	for _, e := range pl.entries {
		if e.kind == kindDeleted && e.protected() {
			if p.keptSeen[e.id] {
				pl.stats.Deleted--
				pl.stats.KeptRecovered--
			}
			p.keptSeen[e.id] = true
		}
	}
	p.mu.Lock()
	pl.stats.Rounds = total.Rounds
	p.cur = pl
	p.mu.Unlock()
	p.log.Info("catch-up round planned", "round", n, "final", final, "instant", orig.At(), "new", pl.stats.New,
		"changed", pl.stats.Changed, "deleted", pl.stats.Deleted, "superseded", pl.stats.Superseded,
		"reviewed_lines", pl.stats.Reviewed, "fresh_lines", pl.stats.Fresh)
	err = p.apply(ctx, s, pl, orig, guard)
	st := p.statsCopy(pl)
	r := Round{N: n, Final: final, Instant: orig.At(), New: st.New, Changed: st.Changed, Deleted: st.Deleted,
		Indexed: st.Indexed, Removed: st.Removed, KeptApplication: st.KeptApplication, Failed: st.Failed,
		Seconds: time.Since(start).Seconds()}
	total.add(st, r)
	if n == 1 {
		total.OriginalCount = st.OriginalCount
	}
	total.OriginalCountAtSwitch = st.OriginalCount
	rec.CatchUp = p.finishTotal(total, time.Time{})
	p.log.Info("catch-up round done", "round", n, "final", final, "indexed", r.Indexed, "removed", r.Removed,
		"kept_application", r.KeptApplication, "failed", r.Failed, "seconds", r.Seconds)
	if perr := p.put(ctx, rec); err == nil {
		err = perr
	}
	return r, err
}

// add counts one round's plan into the total.
func (c *CatchUp) add(st *CatchUp, r Round) {
	c.Rounds = append(c.Rounds, r)
	c.Reviewed, c.Fresh = st.Reviewed, st.Fresh
	c.New += st.New
	c.Changed += st.Changed
	c.Deleted += st.Deleted
	c.KeptRecovered += st.KeptRecovered
	c.Superseded += st.Superseded
	c.Indexed += st.Indexed
	c.Removed += st.Removed
	c.Failed += st.Failed
	c.KeptApplication += st.KeptApplication
	for class, ids := range st.Samples {
		for _, id := range ids {
			c.sample(class, id)
		}
	}
}

// finishTotal is a copy of the total for the record, with its time.
func (p *Promoter) finishTotal(total *CatchUp, start time.Time) *CatchUp {
	c := *total
	c.Rounds = append([]Round{}, total.Rounds...)
	if !start.IsZero() {
		c.Seconds = time.Since(start).Seconds()
	}
	return &c
}

// switchNow records the switch about to happen, switches the aliases and
// checks them.
func (p *Promoter) switchNow(ctx context.Context, s *state, rec *Record, total *CatchUp) error {
	var err error
	if total.TargetCount, err = elastic.Count(ctx, p.es, s.sum.Target, p.opt.Retry); err != nil {
		return err
	}
	rec.State = StateSwitching
	rec.CatchUp = p.finishTotal(total, time.Time{})
	if err := p.put(ctx, rec); err != nil {
		return err
	}
	if err := switchAliases(ctx, p.es, rec.Actions); err != nil {
		return err
	}
	now := p.opt.Now().UTC()
	rec.Switched = &now
	p.log.Info("aliases switched", "aliases", aliasNames(s.moves), "from", s.sum.Original, "to", s.sum.Target,
		"rounds_before", len(total.Rounds))
	if err := p.unfreeze(ctx, s, rec); err != nil {
		return err
	}
	if err := verifyAliases(ctx, p.es, s.moves, s.sum.Target); err != nil {
		return err
	}
	return p.put(ctx, rec)
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
		if ownsBlock(prev.Block) {
			f := *prev.Block
			rec.Block = &f
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
func ownsBlock(f *Block) bool { return f != nil && f.Set && !f.Removed }

// freeze write-blocks the original (addWriteBlock), recording first that it
// is this promote's, so a rerun after a crash knows to remove it.
func (p *Promoter) freeze(ctx context.Context, s *state, rec *Record) error {
	if ownsBlock(rec.Block) {
		// A previous attempt set it; set it again in case someone
		// removed it meanwhile.
		return p.setBlock(ctx, s.sum.Original)
	}
	rec.Block = &Block{}
	if s.origBlocked {
		rec.Block.AlreadyBlocked = true
		p.log.Info("the original is write-blocked already: the block is left as it is", "original", s.sum.Original)
		return p.put(ctx, rec)
	}
	rec.Block.Set = true
	now := p.opt.Now().UTC()
	rec.Block.SetAt = &now
	if err := p.put(ctx, rec); err != nil {
		return err
	}
	return p.setBlock(ctx, s.sum.Original)
}

func (p *Promoter) setBlock(ctx context.Context, index string) error {
	if err := addWriteBlock(ctx, p.es, index); err != nil {
		return err
	}
	p.log.Info("original write-blocked", "original", index, "setting", "index.blocks.write")
	// Every write acknowledged before the block is applied (addWriteBlock
	// waited for those in flight), and the refresh makes them visible to
	// the catch-up's diff.
	return refresh(ctx, p.es, index)
}

// unfreeze removes the write block this promote set, on a fresh context
// when ctx is done.
func (p *Promoter) unfreeze(ctx context.Context, s *state, rec *Record) error {
	if !ownsBlock(rec.Block) {
		return nil
	}
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
	}
	if err := removeWriteBlock(ctx, p.es, s.sum.Original); err != nil {
		rec.Block.Error = err.Error()
		return fmt.Errorf("%w; remove it by hand: PUT %s/_settings {\"index.blocks.write\": null}", err, s.sum.Original)
	}
	rec.Block.Removed, rec.Block.Error = true, ""
	now := p.opt.Now().UTC()
	rec.Block.RemovedAt = &now
	if rec.Block.SetAt != nil {
		rec.Block.Seconds = now.Sub(*rec.Block.SetAt).Seconds()
	}
	p.log.Info("original write block removed", "original", s.sum.Original)
	return nil
}
