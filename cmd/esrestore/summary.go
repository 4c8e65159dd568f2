package main

import (
	"fmt"
	"strings"
)

// printSummary writes the human summary to stderr: what the run did and
// where the report is.
func (j *job) printSummary() {
	s := j.summary
	var b strings.Builder
	target := s.Target
	if target == "" {
		target = s.Restored
	}
	fmt.Fprintf(&b, "\nesrestore %s · %s · run %s\n", j.cmd, s.Environment, s.RunID)
	fmt.Fprintf(&b, "  original  %s\n", s.Original)
	if s.Source != "" {
		fmt.Fprintf(&b, "  source    %s (mode %s", s.Source, s.Mode)
		if s.Mode == "merge" {
			fmt.Fprintf(&b, ", prefer %s", s.Prefer)
		}
		b.WriteString(")\n")
	}
	if target != "" {
		fmt.Fprintf(&b, "  restored  %s\n", target)
	}
	if r := s.Restore; r != nil {
		fmt.Fprintf(&b, "  restore   %d read: %d indexed, %d kept, %d failed (%d retried) in %.1fs\n",
			r.Read, r.Indexed, r.Kept, r.Failed, r.Retried, r.Seconds)
	}
	if o := s.Outcome; o != nil {
		fmt.Fprintf(&b, "  outcome   a switch from %d to %d documents: %d recovered, %d overwritten, %d added, %d removed, %d unchanged\n",
			o.Original, o.Target, o.Recovered, o.Overwritten, o.Added, o.Removed, o.Unchanged)
	}
	if l := s.Loss; l != nil {
		fmt.Fprintf(&b, "  loss      the backup's %d documents: %d lost, %d stripped, %d edited since, %d not recovered\n",
			l.Backup, l.Lost, l.Stripped, l.EditedSinceBackup, l.NotRecovered)
	}
	if len(s.Ignored) > 0 {
		fmt.Fprintf(&b, "  ignoring  %s\n", strings.Join(s.Ignored, ", "))
	}
	if j.report != nil {
		fmt.Fprintf(&b, "  report    %s\n", j.report.URL(""))
	}
	for _, a := range s.Attention {
		fmt.Fprintf(&b, "  ATTENTION %s\n", a)
	}
	fmt.Fprint(j.env.Stderr, b.String())
}
