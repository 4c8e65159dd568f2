package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/esrestore/esrestore/diff"
	"github.com/esrestore/esrestore/fixtures"
	"github.com/esrestore/esrestore/fixtures/estest"
	"github.com/esrestore/esrestore/fixtures/livewriter"
	"github.com/esrestore/esrestore/promote"
)

// liveCycles is how many run-run-promote cycles TestLiveIndex goes
// through; ESRESTORE_TEST_LIVE_CYCLES changes it.
func liveCycles(t *testing.T) int {
	n := 10
	if v := os.Getenv("ESRESTORE_TEST_LIVE_CYCLES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			t.Fatalf("ESRESTORE_TEST_LIVE_CYCLES=%q: want a count", v)
		}
	}
	return n
}

// TestLiveIndex: an application writes through the alias at 150 writes a
// second (a third new documents, a third partial updates, a third
// deletes), with bursts of 1,000 a second, through every run and every
// promote. Each cycle runs twice against the alias's index (two targets)
// and promotes the first, so the next cycle's original is the index the
// last promote switched to. Every run and promote must complete; after
// each promote, with the writer stopped, the writer's own log is the
// reference: every acknowledged write is in the target, no document the
// application deleted is back unless the report recovered it, and every
// document of the original at the switch has all its values in the
// target.
func TestLiveIndex(t *testing.T) {
	es, _ := lossCluster(t, 1000)
	estest.MustDo(t, es.Client(), esapi.IndicesUpdateAliasesRequest{Body: strings.NewReader(
		`{"actions":[{"add":{"index":"documents","alias":"docs","is_write_index":true}}]}`)})
	if es.Fake != nil {
		// The stand-in answers reads in microseconds: with a real
		// cluster's latency the application writes while each run and
		// promote reads, as it does on a real node.
		es.Fake.SetFaults(fixtures.Faults{Latency: 25 * time.Millisecond, Endpoints: []string{"search", "mget", "count"}})
	}
	out := t.TempDir()
	cycles := liveCycles(t)
	original := "documents"
	var acked, lost int
	var rates []float64
	for cycle := 1; cycle <= cycles; cycle++ {
		w, err := livewriter.Start(t.Context(), es.Client(), livewriter.Options{
			Alias: "docs", Rate: 150, Seed: uint64(cycle), IDPrefix: fmt.Sprintf("live-%02d-", cycle),
			Bursts: []livewriter.Burst{{After: 500 * time.Millisecond, Rate: 1000, For: time.Second}},
		})
		if err != nil {
			t.Fatalf("cycle %d: start the writer: %v", cycle, err)
		}
		stopped := false
		stop := func() *livewriter.Log {
			stopped = true
			l, err := w.Stop()
			if err != nil {
				t.Fatalf("cycle %d: stop the writer: %v", cycle, err)
			}
			return l
		}
		defer func() {
			if !stopped {
				stop()
			}
		}()
		var promoted string
		for _, k := range []string{"a", "b"} {
			runID := fmt.Sprintf("c%02d%s", cycle, k)
			target := fmt.Sprintf("live_%02d%s", cycle, k)
			c := newCLI(t)
			code := c.run(t.Context(), "run", "--es-url", es.URL, "--original", original,
				"--source", "snapshot:backups/before-loss/documents", "--target", target,
				"--output", "file://"+out, "--environment", "test", "--run-id", runID, "--progress", "0")
			if code != exitOK && code != exitFailOn {
				t.Fatalf("cycle %d run %s on %s: exit %d\n%s", cycle, k, original, code, c.text())
			}
			s := readSummary(t, out, original, runID)
			if !s.Complete || s.Instant == nil || s.Live == nil {
				t.Fatalf("cycle %d run %s: complete %t, instant %v, live %v", cycle, k, s.Complete, s.Instant, s.Live)
			}
			t.Logf("cycle %d run %s: instant %s, live since %+v, outcome %+v", cycle, k, s.Instant.Format(time.RFC3339Nano), *s.Live, *s.Outcome)
			if k == "a" {
				promoted = target
			}
		}
		runID := fmt.Sprintf("c%02da", cycle)
		sumPath := filepath.Join(out, original, runID, "summary.json")
		s := readSummary(t, out, original, runID)
		var accept []string
		for _, r := range s.Verdict.Reasons {
			if !slices.Contains(accept, r.Kind) {
				accept = append(accept, r.Kind)
			}
		}
		c := newCLI(t)
		args := []string{"promote", "--es-url", es.URL, "--report", "file://" + sumPath, "--progress", "0"}
		if len(accept) > 0 {
			args = append(args, "--accept", strings.Join(accept, ","))
		}
		// The last promote blocks the original's writes, for the final
		// round and the switch only.
		block := cycle == cycles
		if block {
			args = append(args, "--block-writes")
		}
		if code := c.run(t.Context(), args...); code != exitOK {
			t.Fatalf("cycle %d promote %s → %s: exit %d\n%s", cycle, original, promoted, code, c.text())
		}
		log := stop()
		counts := log.Counts()
		if counts.Acked == 0 {
			t.Fatalf("cycle %d: the writer got no write acknowledged: %+v", cycle, counts)
		}
		rec := readPromoteRecord(t, filepath.Join(out, original, runID, promote.RecordName))
		cu := rec.CatchUp
		if rec.State != promote.StatePromoted || cu == nil || len(cu.Rounds) < 2 || !cu.Rounds[len(cu.Rounds)-1].Final || cu.Failed != 0 {
			t.Fatalf("cycle %d: promote.json state %s, catch-up %+v", cycle, rec.State, cu)
		}
		if b := rec.Block; block != (b != nil) || b != nil && (!b.Set || !b.Removed || b.SetAt == nil || b.Seconds <= 0 ||
			!cu.Rounds[len(cu.Rounds)-2].Instant.Before(*b.SetAt) || cu.Rounds[len(cu.Rounds)-1].Instant.Before(*b.SetAt)) {
			t.Errorf("cycle %d: --block-writes %t, block record %+v, rounds %+v", cycle, block, b, cu.Rounds)
		}
		if block {
			blocked := 0
			for _, e := range log.Entries {
				if e.Status == 403 {
					blocked++
				}
			}
			t.Logf("cycle %d: the original refused writes for %.2f s (%d writes refused)", cycle, rec.Block.Seconds, blocked)
		}
		rep, err := livewriter.Verify(t.Context(), es.Client(), log, promoted, livewriter.VerifyOptions{
			Recovered: recoveredIDs(t, filepath.Join(out, original, runID, "diff.ndjson.gz")),
			Original:  original,
		})
		if err != nil {
			t.Fatalf("cycle %d: verify: %v", cycle, err)
		}
		if !rep.OK() {
			t.Errorf("cycle %d: the target %s does not hold what the application wrote: %s\nviolations %v\nsamples %+v", cycle, promoted, rep, rep.Violations, rep.Samples)
		}
		acked += counts.Acked
		lost += rep.Violations[livewriter.LostWrite]
		rates = append(rates, counts.Rate)
		t.Logf("cycle %d: %s → %s; writer %d acked of %d sent at %.0f/s; %d rounds, lag at switch %d, kept application writes %d; verify: %s",
			cycle, original, promoted, counts.Acked, counts.Sent, counts.Rate, len(cu.Rounds), cu.LagAtSwitch, cu.KeptApplication, rep)
		if got := slices.Sorted(maps.Keys(aliasOf(t, es, "docs"))); !slices.Equal(got, []string{promoted}) {
			t.Fatalf("cycle %d: the alias points at %v, want %s", cycle, got, promoted)
		}
		original = promoted
	}
	t.Logf("%d runs and %d promotes complete under writes; %d writes acknowledged, %d lost; writer rates %v",
		2*cycles, cycles, acked, lost, rates)
}

// readPromoteRecord reads a promote.json.
func readPromoteRecord(t *testing.T, path string) promote.Record {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r promote.Record
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return r
}

// recoveredIDs are the documents a report brought back from the backup:
// whole (added) or with fields (recovered).
func recoveredIDs(t *testing.T, path string) []string {
	t.Helper()
	var ids []string
	for _, l := range readDiffLines(t, path) {
		if l.Change == diff.ChangeAdded || l.Change == diff.ChangeRecovered {
			ids = append(ids, l.ID)
		}
	}
	return ids
}
