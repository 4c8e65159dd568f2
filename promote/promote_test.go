package promote_test

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/esrestore/esrestore/fixtures"
	"github.com/esrestore/esrestore/fixtures/estest"
	"github.com/esrestore/esrestore/internal/retry"
	"github.com/esrestore/esrestore/promote"
)

// TestPromoteRightAfterTheRunCatchesUpNothing: with no write since the
// run, the fresh two-sided diff agrees line by line with the reviewed
// three-sided one, so the catch-up has nothing to do.
func TestPromoteRightAfterTheRunCatchesUpNothing(t *testing.T) {
	rv := newReviewed(t, 150)
	rec, err := rv.promoter(t, promote.Options{DryRun: true}).Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	c := rec.CatchUp
	if rec.State != promote.StateDryRun || c == nil || c.New+c.Changed+c.Deleted+c.Superseded+c.KeptRecovered != 0 {
		t.Fatalf("dry run: state %s, catch-up %+v, want nothing to catch up", rec.State, c)
	}
	if c.Reviewed == 0 || c.Fresh == 0 {
		t.Fatalf("catch-up compared %d reviewed and %d fresh lines: the loss scenario has differences", c.Reviewed, c.Fresh)
	}
	if rv.record(t) != nil {
		t.Fatal("a dry run wrote promote.json")
	}
}

// liveWrites writes to the original after the run: two new documents
// through the alias, one edit, one deletion. It returns the ids.
func liveWrites(t *testing.T, rv *reviewed) (added []string, edited, deleted string) {
	t.Helper()
	var keep []string
	for _, d := range rv.sc.Original {
		if _, stripped := rv.sc.Stripped[d.ID]; !stripped {
			keep = append(keep, d.ID)
		}
	}
	added = []string{"live-a", "live-b"}
	for _, id := range added {
		putDoc(t, rv.es, "docs", id, `{"title":"`+id+`"}`)
	}
	edited, deleted = keep[0], keep[1]
	putDoc(t, rv.es, "documents", edited, `{"title":"edited live"}`)
	do(t, rv.es, esapi.DeleteRequest{Index: "documents", DocumentID: deleted, Refresh: "true"})
	return added, edited, deleted
}

// TestPromoteInterruptedAtEachStep: an interruption at each step leaves
// the alias on exactly one index and the original unblocked, and a rerun
// finishes the job.
func TestPromoteInterruptedAtEachStep(t *testing.T) {
	// The write block covers the final round and the switch only: the
	// rounds before it (catch-up-batch, caught-up) run unblocked.
	for _, step := range []string{"checked", "catch-up-batch", "caught-up", "frozen", "switched"} {
		t.Run(step, func(t *testing.T) {
			rv := newReviewed(t, 100)
			added, edited, deleted := liveWrites(t, rv)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			opt := promote.Options{BlockWrites: true, BatchDocs: 2, Operator: "tester"}
			p := rv.promoter(t, opt)
			reached := false
			promote.SetStepHook(p, func(s string) {
				if s == step {
					reached = true
					cancel()
				}
			})
			_, err := p.Run(ctx)
			if !reached {
				t.Fatalf("step %s never reached (error %v)", step, err)
			}
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("interrupted run: %v, want context.Canceled", err)
			}
			if got := aliasIndexes(t, rv.es, "docs"); len(got) != 1 {
				t.Fatalf("after an interruption at %s the alias points at %v, want one index", step, got)
			}
			if code, b := status(t, rv.es, esapi.IndexRequest{Index: "documents", DocumentID: "probe", Body: strings.NewReader(`{}`)}); code >= 300 {
				t.Fatalf("after an interruption at %s the original refuses writes: %d %s", step, code, b)
			}
			do(t, rv.es, esapi.DeleteRequest{Index: "documents", DocumentID: "probe", Refresh: "true"})
			rec := rv.record(t)
			switch {
			case rec == nil || rec.State == promote.StatePromoted:
				t.Fatalf("record after the interruption: %+v", rec)
			case (step == "frozen" || step == "switched") != (rec.Block != nil):
				t.Fatalf("interrupted at %s, the record says block %+v", step, rec.Block)
			case rec.Block != nil && (!rec.Block.Set || !rec.Block.Removed || rec.Block.SetAt == nil || rec.Block.RemovedAt == nil):
				t.Fatalf("interrupted at %s, the record says freeze %+v, want set and removed", step, rec.Block)
			}

			rec, err = rv.promoter(t, opt).Run(t.Context())
			if err != nil {
				t.Fatalf("rerun: %v", err)
			}
			if got := aliasIndexes(t, rv.es, "docs"); !slices.Equal(got, []string{"documents_restored"}) {
				t.Fatalf("after the rerun the alias points at %v", got)
			}
			for _, id := range append(added, edited) {
				if got, want := source(t, rv.es, "documents_restored", id), source(t, rv.es, "documents", id); got != want || got == "" {
					t.Errorf("target %s = %q, want the live %q", id, got, want)
				}
			}
			if got := source(t, rv.es, "documents_restored", deleted); got != "" {
				t.Errorf("target still has %s, deleted live", deleted)
			}
			if rec.State != promote.StatePromoted || rec.Attempts != 2 || rec.Who.Operator != "tester" || rec.Switched == nil {
				t.Errorf("record: state %s, attempts %d, who %+v, switched %v", rec.State, rec.Attempts, rec.Who, rec.Switched)
			}
			if step == "switched" && rec.CatchUp == nil {
				t.Error("the record lost the catch-up counts of the attempt that switched")
			}
		})
	}
}

// TestPromoteFreezeBlocksOriginalWrites: with BlockWrites the original
// takes writes during the rounds, refuses them for the final round and
// the switch, and takes them again afterwards; the record times the
// block.
func TestPromoteFreezeBlocksOriginalWrites(t *testing.T) {
	rv := newReviewed(t, 80)
	liveWrites(t, rv)
	p := rv.promoter(t, promote.Options{BlockWrites: true})
	var during, rounds int
	var body []byte
	promote.SetStepHook(p, func(s string) {
		switch s {
		case "caught-up":
			rounds, _ = status(t, rv.es, esapi.IndexRequest{Index: "documents", DocumentID: "in-rounds", Body: strings.NewReader(`{}`)})
		case "frozen":
			during, body = status(t, rv.es, esapi.IndexRequest{Index: "documents", DocumentID: "during", Body: strings.NewReader(`{}`)})
		}
	})
	rec, err := p.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if rounds >= 300 {
		t.Fatalf("a write to the original between the rounds answered %d, want it taken", rounds)
	}
	if got := source(t, rv.es, "documents_restored", "in-rounds"); got != "{}" {
		t.Errorf("the write made before the block is not in the target: %q", got)
	}
	if during != 403 || !strings.Contains(string(body), "cluster_block_exception") {
		t.Fatalf("a write to the frozen original answered %d %s, want 403 cluster_block_exception", during, body)
	}
	if code, b := status(t, rv.es, esapi.IndexRequest{Index: "documents", DocumentID: "after", Body: strings.NewReader(`{}`)}); code >= 300 {
		t.Fatalf("after promote the original refuses writes: %d %s", code, b)
	}
	if f := rec.Block; f == nil || !f.Set || !f.Removed || f.AlreadyBlocked || f.SetAt == nil || f.RemovedAt == nil ||
		f.RemovedAt.Before(*f.SetAt) || f.Seconds != f.RemovedAt.Sub(*f.SetAt).Seconds() {
		t.Fatalf("freeze record: %+v", f)
	}

	// Without Freeze nothing touches the original's settings.
	rv = newReviewed(t, 60)
	p = rv.promoter(t, promote.Options{})
	promote.SetStepHook(p, func(s string) {
		if s == "caught-up" {
			during, body = status(t, rv.es, esapi.IndexRequest{Index: "documents", DocumentID: "during", Body: strings.NewReader(`{}`)})
		}
	})
	if rec, err = p.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if during >= 300 || rec.Block != nil {
		t.Fatalf("without freeze: write answered %d %s, freeze record %+v", during, body, rec.Block)
	}
}

// TestPromoteBlockWaitsForAWriteInFlight: a write to the original that
// passed its block check before promote added the block, and is
// acknowledged after it, is in the target: the block waited for the write
// and the final round took it. (Set through _settings, the block did not
// wait: the write reached the original after the final round read it, and
// was lost.) The stand-in holds the write in flight; on a real node
// TestLiveIndex meets the same race at random.
func TestPromoteBlockWaitsForAWriteInFlight(t *testing.T) {
	es := estest.Fake(t)
	rv := newReviewedOn(t, es, 60)
	p := rv.promoter(t, promote.Options{BlockWrites: true})
	type answer struct {
		code int
		body string
		err  error
	}
	answered := make(chan answer, 1)
	promote.SetStepHook(p, func(s string) {
		if s != "caught-up" {
			return
		}
		es.Fake.SetFaults(fixtures.Faults{HoldWrites: time.Second, HoldWritesTo: "documents"})
		go func() {
			res, err := esapi.IndexRequest{Index: "documents", DocumentID: "in-flight", Body: strings.NewReader(`{"title":"in flight"}`)}.Do(context.Background(), es.Client())
			if err != nil {
				answered <- answer{err: err}
				return
			}
			defer res.Body.Close()
			b, err := io.ReadAll(res.Body)
			answered <- answer{res.StatusCode, string(b), err}
		}()
		for deadline := time.Now().Add(10 * time.Second); es.Fake.Injected()["write_hold"] == 0; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Error("the write never reached the original")
				return
			}
		}
	})
	rec, err := p.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	a := <-answered
	es.Fake.SetFaults(fixtures.Faults{})
	if a.err != nil || a.code != 201 {
		t.Fatalf("the write in flight answered %d %s (%v), want 201", a.code, a.body, a.err)
	}
	if got := source(t, rv.es, "documents_restored", "in-flight"); got != `{"title":"in flight"}` {
		t.Errorf("the write acknowledged while the block was added is not in the target: %q", got)
	}
	if f := rec.Block; f == nil || !f.Set || !f.Removed {
		t.Errorf("block record %+v", f)
	}
}

// TestRollbackDryRunWritesNothing: a dry rollback counts the target's
// writes since the switch and moves nothing; the real one moves the alias
// back, and a second one finds nothing to do.
func TestRollbackDryRunWritesNothing(t *testing.T) {
	rv := newReviewed(t, 60)
	if _, err := rv.promoter(t, promote.Options{}).Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	putDoc(t, rv.es, "docs", "after", `{"title":"through the alias"}`)
	rec, err := rv.promoter(t, promote.Options{DryRun: true}).Rollback(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if rec.State != promote.StateDryRun || rec.Rollback == nil || rec.Rollback.LeftBehind.New != 1 {
		t.Fatalf("dry rollback: %+v", rec.Rollback)
	}
	if got := aliasIndexes(t, rv.es, "docs"); !slices.Equal(got, []string{"documents_restored"}) {
		t.Fatalf("a dry rollback moved the alias: %v", got)
	}
	if r := rv.record(t); r.State != promote.StatePromoted {
		t.Fatalf("a dry rollback rewrote promote.json: %s", r.State)
	}
	if rec, err = rv.promoter(t, promote.Options{}).Rollback(t.Context()); err != nil || rec.State != promote.StateRolledBack {
		t.Fatalf("rollback: %v (%v)", err, rec)
	}
	if got := aliasIndexes(t, rv.es, "docs"); !slices.Equal(got, []string{"documents"}) {
		t.Fatalf("after rollback the alias points at %v", got)
	}
	// Again: nothing left to do.
	if rec, err = rv.promoter(t, promote.Options{}).Rollback(t.Context()); err != nil || rec.State != promote.StateRolledBack {
		t.Fatalf("second rollback: %v (%v)", err, rec)
	}
}

func TestOptionsValidate(t *testing.T) {
	err := promote.Options{Accept: []string{"incomplete", "overwritten"}, Aliases: []string{"Docs", "a*"}, BatchDocs: 20000}.Validate()
	for _, want := range []string{"accept: must list", "(got incomplete)", `(got "Docs")`, `(got "a*")`, "batch docs"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate: %v, want %q", err, want)
		}
	}
	if err := promote.NewOptions().Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
}

// TestPromoteCatchUpUnderLoad: a node that sheds catch-up writes with 429
// items and 503 answers delays the catch-up, it does not fail it: every
// operation lands, none is counted failed.
func TestPromoteCatchUpUnderLoad(t *testing.T) {
	rv := newReviewedOn(t, estest.Fake(t), 100)
	added, edited, deleted := liveWrites(t, rv)
	rv.es.Fake.SetFaults(fixtures.Faults{Seed: 3, BulkItemReject: 0.5, Unavailable503: 0.3, Endpoints: []string{"bulk"}})
	rec, err := rv.promoter(t, promote.Options{BatchDocs: 2, Retry: retry.Policy{Base: time.Millisecond, Cap: 5 * time.Millisecond}}).Run(t.Context())
	rv.es.Fake.SetFaults(fixtures.Faults{})
	if err != nil {
		t.Fatal(err)
	}
	if c := rec.CatchUp; rec.State != promote.StatePromoted || c == nil || c.Failed != 0 || c.Indexed != int64(len(added)+1) || c.Removed != 1 {
		t.Fatalf("record: state %s, catch-up %+v, want %d indexed, 1 removed, none failed", rec.State, rec.CatchUp, len(added)+1)
	}
	for _, id := range append(added, edited) {
		if got, want := source(t, rv.es, "documents_restored", id), source(t, rv.es, "documents", id); got != want || got == "" {
			t.Errorf("target %s = %q, want the live %q", id, got, want)
		}
	}
	if got := source(t, rv.es, "documents_restored", deleted); got != "" {
		t.Errorf("target still has %s, deleted live", deleted)
	}
}

// TestPromoteFinalRound: what reaches the original between the last
// round and the switch (written directly to the index, as a request
// already on its way when the alias moved) is brought across after the
// switch, conditionally: a document the application wrote to the target
// after the switch keeps the application's version, one it deleted stays
// deleted. Interrupted between the switch and the final round, a rerun
// runs the final round on the target's point in time at the switch.
func TestPromoteFinalRound(t *testing.T) {
	for _, tc := range []struct {
		name             string
		interrupt, close bool
	}{{"straight", false, false}, {"interrupted after the switch", true, false}, {"interrupted, the target's point in time lost", true, true}} {
		interrupt := tc.interrupt
		t.Run(tc.name, func(t *testing.T) {
			rv := newReviewed(t, 100)
			var keep []string
			for _, d := range rv.sc.Original {
				if _, stripped := rv.sc.Stripped[d.ID]; !stripped {
					keep = append(keep, d.ID)
				}
			}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			p := rv.promoter(t, promote.Options{Settle: time.Millisecond})
			promote.SetStepHook(p, func(s string) {
				switch s {
				case "caught-up":
					// On their way to the original as the alias moves.
					putDoc(t, rv.es, "documents", "late-new", `{"title":"late"}`)
					putDoc(t, rv.es, "documents", keep[0], `{"title":"late edit"}`)
					putDoc(t, rv.es, "documents", keep[1], `{"title":"late edit, then the application's"}`)
					putDoc(t, rv.es, "documents", keep[2], `{"title":"late edit, then deleted by the application"}`)
					do(t, rv.es, esapi.DeleteRequest{Index: "documents", DocumentID: keep[3], Refresh: "true"})
				case "switched":
					// The application, now on the target.
					putDoc(t, rv.es, "docs", keep[1], `{"title":"the application's"}`)
					do(t, rv.es, esapi.DeleteRequest{Index: "docs", DocumentID: keep[2], Refresh: "true"})
					if interrupt {
						cancel()
					}
				}
			})
			rec, err := p.Run(ctx)
			if interrupt {
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("interrupted promote: %v", err)
				}
				if got := source(t, rv.es, "documents_restored", "late-new"); got != "" {
					t.Fatalf("the final round ran before the interruption: %s", got)
				}
				if tc.close {
					g := rv.record(t).CatchUp.Guard
					do(t, rv.es, esapi.ClosePointInTimeRequest{Body: strings.NewReader(`{"id":"` + g.PIT + `"}`)})
					_, err := rv.promoter(t, promote.Options{Settle: time.Millisecond}).Run(t.Context())
					if !errors.Is(err, promote.ErrFinalRound) || !strings.Contains(err.Error(), "is not in the target") {
						t.Fatalf("rerun without the target's point in time: %v, want ErrFinalRound", err)
					}
					if got := source(t, rv.es, "documents_restored", "late-new"); got != "" {
						t.Fatalf("a final round ran without its guard: %s", got)
					}
					return
				}
				rec, err = rv.promoter(t, promote.Options{Settle: time.Millisecond}).Run(t.Context())
			}
			if err != nil {
				t.Fatal(err)
			}
			for id, want := range map[string]string{
				"late-new": `{"title":"late"}`, keep[0]: `{"title":"late edit"}`,
				keep[1]: `{"title":"the application's"}`, keep[2]: "", keep[3]: "",
			} {
				if got := source(t, rv.es, "documents_restored", id); got != want {
					t.Errorf("target %s = %q, want %q", id, got, want)
				}
			}
			c := rec.CatchUp
			if rec.State != promote.StatePromoted || c == nil || c.Guard == nil || c.LateWrites != 0 {
				t.Fatalf("record: state %s, catch-up %+v", rec.State, c)
			}
			final := c.Rounds[len(c.Rounds)-1]
			// late-new, keep[0] and keep[3] brought across; keep[1] and
			// keep[2] left as the application wrote them.
			if !final.Final || final.Indexed != 2 || final.Removed != 1 || final.KeptApplication != 2 || c.LagAtSwitch != 5 {
				t.Errorf("final round %+v, lag at switch %d; want 2 indexed, 1 removed, 2 kept, lag 5", final, c.LagAtSwitch)
			}
			if interrupt != (rec.Attempts == 2) {
				t.Errorf("attempts %d", rec.Attempts)
			}
		})
	}
}
