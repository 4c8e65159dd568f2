package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/esrestore/esrestore/promote"
)

type rollbackCmd struct{}

func (rollbackCmd) Name() string { return "rollback" }

func (rollbackCmd) Summary() string {
	return "move a promoted alias back to the original, saying what writes the target took since"
}

const rollbackHelp = `Moves the aliases promote.json records back from the target to the original,
each with the definition it had there, in one atomic POST /_aliases, and
records it in promote.json. It first counts the documents the target received,
changed or deleted since the switch: the original does not have them, and the
rollback leaves them behind in the target. --dry-run prints the _aliases body
and those counts and writes nothing.`

func (rollbackCmd) Run(ctx context.Context, env *Env, args []string) error {
	ar, err := parseAfterReview(env, "rollback", rollbackHelp, args)
	if err != nil {
		return err
	}
	opt := ar.options(env)
	p, err := ar.promoter(ctx, env, opt)
	if err != nil {
		return err
	}
	rec, err := p.Rollback(ctx)
	return ar.end(ctx, env, rec, err, printRollback)
}

// printRollback writes the human summary of a rollback to stderr.
func printRollback(env *Env, rec *promote.Record, st promote.Store) {
	var b strings.Builder
	fmt.Fprintf(&b, "\nesrestore rollback · %s · run %s · %s\n", rec.Environment, rec.RunID, rec.State)
	for _, m := range rec.Aliases {
		fmt.Fprintf(&b, "  alias     %s: %s → %s\n", m.Name, m.To, m.From)
	}
	if r := rec.Rollback; r != nil {
		lb := r.LeftBehind
		fmt.Fprintf(&b, "  left      the target took %d new, %d changed and %d deleted documents since the switch (_count %d then, %d now): the original lacks them, the rollback leaves them in %s\n",
			lb.New, lb.Changed, lb.Deleted, lb.TargetCountAtSwitch, lb.TargetCount, rec.Target)
	}
	if rec.State != promote.StateDryRun {
		fmt.Fprintf(&b, "  record    %s\n", st.URL(promote.RecordName))
	}
	fmt.Fprint(env.Stderr, b.String())
}
