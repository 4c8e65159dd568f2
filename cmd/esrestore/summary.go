package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/esrestore/esrestore/diff"
	"github.com/esrestore/esrestore/job"
	"github.com/esrestore/esrestore/report"
)

// teller tells the operator how a job ended.
type teller struct {
	cmd  string
	env  *Env
	log  *slog.Logger
	json bool // stderr carries JSON records only
}

// tell prints the human summary, the error if any, and the verdict as
// the last stderr line (in JSON mode, as records in the same order).
func (t *teller) tell(j *job.Job, err error) error {
	t.printSummary(j)
	if err != nil {
		reportError(t.env, nil, t.cmd, err)
		err = reported(err)
	}
	t.printVerdict(j)
	return err
}

// reported marks err as told to the operator already, keeping its exit
// code, so Main does not print it again after the verdict.
func reported(err error) error {
	return &exitErr{code: exitCode(err), err: err, reported: true}
}

// printSummary tells the operator what the run did and where the report
// is: a block of text on a terminal, one "summary" record in JSON mode
// (never plain text between JSON records).
func (t *teller) printSummary(j *job.Job) {
	s := *j.Summary()
	target := s.Target
	if target == "" {
		target = s.Restored
	}
	location := j.ReportURL("")
	if t.json {
		// Absent parts are empty objects, not missing keys or nulls: one
		// message, one schema.
		obj := func(v any, present bool) json.RawMessage {
			if !present {
				return json.RawMessage("{}")
			}
			b, err := json.Marshal(v)
			if err != nil {
				return json.RawMessage("{}")
			}
			return b
		}
		staging := ""
		if s.Staging != nil {
			staging = s.Staging.Index
		}
		// The loss without its profile, which stays in summary.json,
		// so the record stays one short line a log shipper keeps whole.
		var loss *diff.Loss
		if s.Loss != nil {
			l := *s.Loss
			l.Profile, l.ProfileDate = nil, nil
			loss = &l
		}
		t.log.Info("summary", "command", t.cmd, "original", s.Original, "source", s.Source, "mode", s.Mode,
			"prefer", s.Prefer, "target", target, "staging", staging, "dry_run", s.DryRun, "complete", s.Complete,
			"restore", obj(s.Restore, s.Restore != nil), "outcome", obj(s.Outcome, s.Outcome != nil),
			"loss", obj(loss, loss != nil), "throttle", obj(s.Throttle, s.Throttle != nil),
			"live", obj(s.Live, s.Live != nil), "retries", obj(s.Retries, s.Retries != nil), "attempts", len(s.Attempts),
			"ignored", nonNil(s.Ignored), "attention", nonNil(s.Attention), "report", location)
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\nesrestore %s · %s · run %s\n", t.cmd, s.Environment, s.RunID)
	fmt.Fprintf(&b, "  original  %s\n", s.Original)
	if s.Source != "" {
		fmt.Fprintf(&b, "  source    %s (mode %s", s.Source, s.Mode)
		if s.Mode == "merge" {
			fmt.Fprintf(&b, ", prefer %s", s.Prefer)
		}
		b.WriteString(")\n")
	}
	if s.Staging != nil {
		state := "kept"
		if s.Staging.Deleted {
			state = "deleted"
		}
		fmt.Fprintf(&b, "  staging   %s (%s)\n", s.Staging.Index, state)
	}
	if target != "" {
		fmt.Fprintf(&b, "  restored  %s\n", target)
	}
	if len(s.Attempts) > 1 {
		var parts []string
		for _, a := range s.Attempts {
			parts = append(parts, fmt.Sprintf("%d %s", a.Number, a.Ended))
		}
		fmt.Fprintf(&b, "  attempts  %d of this run id: %s; the counts cover them all\n", len(s.Attempts), strings.Join(parts, ", "))
	}
	if r := s.Restore; r != nil {
		fmt.Fprintf(&b, "  restore   %d read: %d indexed, %d kept, %d failed (%d retried) in %.1fs\n",
			r.Read, r.Indexed, r.Kept, r.Failed, r.Retried, r.Seconds)
		if r.Skipped > 0 {
			fmt.Fprintf(&b, "            of the read, %d skipped: out of the scope, never written\n", r.Skipped)
		}
		if r.WrittenByEarlierAttempts > 0 {
			fmt.Fprintf(&b, "            of the indexed, %d by earlier attempts\n", r.WrittenByEarlierAttempts)
		}
	}
	if phases := report.RetryPhases(s.Retries); len(phases) > 0 {
		var parts []string
		hit := false
		for _, p := range phases {
			r := s.Retries[p]
			part := fmt.Sprintf("%s %d", p, r.Retries)
			if r.Retries > 0 {
				part += fmt.Sprintf(" (%.1fs of backoff)", r.BackoffSeconds)
			}
			if r.GaveUp > 0 {
				part += fmt.Sprintf(", %d gave up", r.GaveUp)
			}
			hit = hit || r.Backoffs > 0 || r.GaveUp > 0
			parts = append(parts, part)
		}
		if hit {
			fmt.Fprintf(&b, "  retries   %s\n", strings.Join(parts, ", "))
		}
	}
	if t := s.Throttle; t != nil {
		limit := "no limit"
		if t.MaxDocsPerSecond > 0 {
			limit = fmt.Sprintf("limit %.0f docs/s", t.MaxDocsPerSecond)
		}
		fmt.Fprintf(&b, "  throttle  %s: %.0f docs/s effective, %d to %d requests in flight, %d back-offs\n",
			limit, t.DocsPerSecond, t.MinInFlight, t.MaxInFlight, t.Backoffs)
	}
	if l := s.Live; l != nil {
		fmt.Fprintf(&b, "  instant   the original as of %s; after it, until %s: %d new, %d changed, %d deleted (the promote brings them across)\n",
			l.At.UTC().Format(time.RFC3339), l.Until.UTC().Format(time.RFC3339), l.New, l.Changed, l.Deleted)
	}
	if o := s.Outcome; o != nil {
		fmt.Fprintf(&b, "  outcome   a switch from %d to %d documents: %d recovered, %d overwritten, %d added, %d removed, %d unchanged\n",
			o.Original, o.Target, o.Recovered, o.Overwritten, o.Added, o.Removed, o.Unchanged)
	}
	if l := s.Loss; l != nil {
		fmt.Fprintf(&b, "  loss      the backup's %d documents: %d lost, %d stripped, %d edited since, %d not recovered\n",
			l.Backup, l.Lost, l.Stripped, l.EditedSinceBackup, l.NotRecovered)
		if l.Lost > 0 {
			fmt.Fprintf(&b, "            the %d lost may have been lost, or deleted on purpose since the backup: the diff cannot tell which (the report profiles them)\n", l.Lost)
		}
	}
	if pa := s.PreferAlternatives; pa != nil {
		fmt.Fprintf(&b, "  prefer    %s\n", alternativesLine(pa))
	}
	if sc := s.Scope; sc != nil {
		var parts []string
		if sc.SkipIDsCount > 0 {
			parts = append(parts, fmt.Sprintf("%d ids of %s left out", sc.SkipIDsCount, sc.SkipIDs))
		}
		if sc.OnlyQuery != nil {
			parts = append(parts, "only what "+string(sc.OnlyQuery)+" matches")
		}
		var skipped, held int64
		if s.Outcome != nil {
			skipped = s.Outcome.Skipped
		}
		if s.Loss != nil {
			held = s.Loss.SkippedInOriginal
		}
		fmt.Fprintf(&b, "  scope     %s: %d of the backup's documents skipped (not lost, not coming back), %d more the original holds as they are\n",
			strings.Join(parts, "; "), skipped, held)
	}
	if len(s.Ignored) > 0 {
		fmt.Fprintf(&b, "  ignoring  %s\n", strings.Join(s.Ignored, ", "))
	}
	if location != "" {
		fmt.Fprintf(&b, "  report    %s\n", location)
	}
	if sha := j.SummarySHA256(); sha != "" {
		fmt.Fprintf(&b, "  summary   sha256 %s (sha256sum summary.json)\n", sha)
	}
	for _, a := range s.Attention {
		fmt.Fprintf(&b, "  ATTENTION %s\n", a)
	}
	fmt.Fprint(t.env.Stderr, b.String())
}

// printVerdict ends the job's stderr with the verdict: the last line on
// a terminal, the last record in JSON mode, which also carries the
// summary's own sha256 ("" when no summary was written).
func (t *teller) printVerdict(j *job.Job) {
	s := j.Summary()
	v := s.Verdict
	if !t.json {
		fmt.Fprintln(t.env.Stderr, v.Line())
		return
	}
	kinds := make([]string, 0, len(v.Reasons))
	texts := make([]string, 0, len(v.Reasons))
	for _, r := range v.Reasons {
		kinds = append(kinds, r.Kind)
		texts = append(texts, r.Text)
	}
	t.log.Info("verdict", "status", v.Status, "reasons", kinds, "texts", texts, "line", v.Line(),
		"complete", s.Complete, "report", s.Location, "summary_sha256", j.SummarySHA256())
}

// nonNil keeps an empty list a JSON array, not null.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
