package promote

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/esrestore/esrestore/internal/elastic"
)

// Rollback moves the aliases promote.json records back from the target to
// the original, each with the definition it had there, in one _aliases
// call. The result's Rollback.LeftBehind counts the writes the target took
// since the switch: the original does not have them, and the rollback
// leaves them behind in the target. With Options.DryRun nothing is written.
func (p *Promoter) Rollback(ctx context.Context) (*Record, error) {
	sum, _, err := p.readSummary(ctx)
	if err != nil {
		return nil, err
	}
	if p.opt.Environment != "" && !strings.EqualFold(p.opt.Environment, sum.Environment) {
		return nil, fmt.Errorf("%w: environment %s: the report was made in %s", ErrCheck, strings.ToUpper(p.opt.Environment), sum.Environment)
	}
	prev, err := readRecord(ctx, p.store)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrCheck, err)
	case prev == nil:
		return nil, fmt.Errorf("%w: no %s at %s: this report was never promoted", ErrCheck, RecordName, p.store.URL(RecordName))
	case prev.RunID != sum.RunID || prev.Target != sum.Target:
		return nil, fmt.Errorf("%w: %s is for run %s, the summary for run %s", ErrCheck, RecordName, prev.RunID, sum.RunID)
	case !slices.Contains([]string{StateSwitching, StatePromoted, StateRollingBack, StateRolledBack}, prev.State):
		return nil, fmt.Errorf("%w: %s says %s: the aliases were never switched, there is nothing to roll back", ErrCheck, RecordName, prev.State)
	}
	s := &state{sum: sum, prev: prev}
	var errs []error
	places := map[aliasPlace][]string{}
	for _, m := range prev.Aliases {
		members, err := aliasMembers(ctx, p.es, m.Name)
		if err != nil {
			return nil, err
		}
		place := placeOf(members, prev.Original, prev.Target)
		places[place] = append(places[place], m.Name)
		if place == aliasMissing || place == aliasElsewhere {
			errs = append(errs, fmt.Errorf("%w: alias %q points at %v: want the target %q alone", ErrCheck, m.Name, memberNames(members), prev.Target))
		}
	}
	onOrig, onTgt := places[aliasOnOriginal], places[aliasOnTarget]
	switch {
	case len(errs) > 0:
		return nil, errors.Join(errs...)
	case len(onOrig) > 0 && len(onTgt) > 0:
		return nil, fmt.Errorf("%w: aliases %v point at the original and %v at the target: someone else moved some", ErrCheck, onOrig, onTgt)
	case len(onOrig) > 0 && (prev.State == StateRollingBack || prev.State == StateRolledBack):
		if prev.State == StateRolledBack || p.opt.DryRun {
			p.log.Info("already rolled back", "aliases", onOrig, "original", prev.Original)
			return prev, nil
		}
		return p.finishRollback(ctx, prev)
	case len(onOrig) > 0 && prev.State == StateSwitching:
		return nil, fmt.Errorf("%w: the aliases are still on the original: the promote stopped before its switch; nothing to roll back", ErrCheck)
	case len(onOrig) > 0:
		return nil, fmt.Errorf("%w: %s says promoted, but aliases %v point at the original again: moved back by hand?", ErrCheck, RecordName, onOrig)
	}

	back := make([]AliasMove, len(prev.Aliases))
	for i, m := range prev.Aliases {
		back[i] = AliasMove{Name: m.Name, From: prev.Target, To: prev.Original, Definition: m.Definition}
	}
	body, err := aliasesBody(back, prev.Target, prev.Original)
	if err != nil {
		return nil, err
	}
	rb := &Rollback{Started: p.opt.Now().UTC(), Who: p.who(ctx, sum.Environment), Actions: body}
	// The target takes the application's writes: both sides are read at
	// an instant each, the target's after a refresh so that every write
	// it acknowledged is counted.
	if err := refresh(ctx, p.es, prev.Target); err != nil {
		return nil, err
	}
	orig, tgt := p.instant(prev.Original), p.instant(prev.Target)
	defer orig.Close()
	defer tgt.Close()
	pl, err := p.makePlan(ctx, s, orig, tgt)
	if err != nil {
		return nil, err
	}
	rb.LeftBehind = leftBehind(pl)
	if prev.CatchUp != nil {
		rb.LeftBehind.TargetCountAtSwitch = prev.CatchUp.TargetCount
	}
	if rb.LeftBehind.TargetCount, err = elastic.Count(ctx, p.es, prev.Target, p.opt.Retry); err != nil {
		return nil, err
	}
	rec := *prev
	rec.Rollback = rb
	if p.opt.DryRun {
		rec.State = StateDryRun
		return &rec, nil
	}
	lb := rb.LeftBehind
	if lb.New+lb.Changed+lb.Deleted > 0 {
		p.log.Warn("the target took writes since the switch; the rollback leaves them behind in it",
			"new", lb.New, "changed", lb.Changed, "deleted", lb.Deleted, "target", prev.Target)
	}
	rec.State = StateRollingBack
	if err := p.put(ctx, &rec); err != nil {
		return &rec, err
	}
	if err := switchAliases(ctx, p.es, body); err != nil {
		return &rec, err
	}
	return p.finishRollback(ctx, &rec)
}

// finishRollback checks the aliases are on the original and records it.
func (p *Promoter) finishRollback(ctx context.Context, rec *Record) (*Record, error) {
	back := make([]AliasMove, len(rec.Aliases))
	copy(back, rec.Aliases)
	if err := verifyAliases(ctx, p.es, back, rec.Original); err != nil {
		return rec, err
	}
	rec.State = StateRolledBack
	if rec.Rollback != nil {
		now := p.opt.Now().UTC()
		rec.Rollback.Finished = &now
	}
	if err := p.put(ctx, rec); err != nil {
		return rec, err
	}
	p.log.Info("rolled back", "aliases", aliasNames(rec.Aliases), "from", rec.Target, "to", rec.Original, "record", p.store.URL(RecordName))
	p.notify(ctx, rec)
	return rec, nil
}

// leftBehind reads a catch-up plan made after the switch the other way
// round: the differences the reviewed diff does not explain are the
// target's writes since (a document only the target has is one it
// received, unless promote kept it as recovered).
func leftBehind(pl *plan) LeftBehind {
	lb := LeftBehind{Samples: map[string][]string{}}
	add := func(class, id string, n *int64) {
		*n++
		if len(lb.Samples[class]) < MaxSamples {
			lb.Samples[class] = append(lb.Samples[class], id)
		}
	}
	for _, e := range pl.entries {
		switch e.kind {
		case kindDeleted:
			if !e.protected() {
				add("new", e.id, &lb.New)
			}
		case kindNew:
			add("deleted", e.id, &lb.Deleted)
		default:
			add("changed", e.id, &lb.Changed)
		}
	}
	return lb
}
