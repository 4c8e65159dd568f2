package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/esrestore/esrestore/fixtures"
	"github.com/esrestore/esrestore/fixtures/estest"
	"github.com/esrestore/esrestore/fixtures/faultproxy"
	"github.com/esrestore/esrestore/fixtures/faultproxy/fptest"
	"github.com/esrestore/esrestore/restore"
)

// esCall sends one request to the cluster and fails the test on an error
// answer.
func esCall(t *testing.T, es *estest.Cluster, req esapi.Request) {
	t.Helper()
	res, err := req.Do(t.Context(), es.Client())
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.IsError() {
		t.Fatalf("%T: %s", req, res)
	}
}

// interruptedRun leaves what a first attempt that failed mid-restore
// leaves: the target with its _meta, and an incomplete summary. Its
// _bulk requests go through a fault proxy answering 503, on the stand-in
// and on a real node alike.
func interruptedRun(t *testing.T, es *estest.Cluster, out string) {
	t.Helper()
	p := fptest.New(t, es.URL, faultproxy.Options{Rules: []faultproxy.Rule{{Path: "_bulk", Action: faultproxy.Status, Code: 503}}})
	via := *es
	via.URL = p.URL()
	c := newCLI(t)
	if code := c.run(t.Context(), runArgs(&via, out, "r1", "--retry-for", "1s", "--strategy", "passes")...); code != exitError {
		t.Fatalf("first attempt: exit %d, want 1\n%s", code, c.stderr.String())
	}
	if s := readSummary(t, out, "documents", "r1"); s.Complete || s.Integrity.Cluster == nil {
		t.Fatalf("first attempt's summary: complete %v, cluster %v", s.Complete, s.Integrity.Cluster)
	}
}

// TestResumeElsewhereRefused: a later attempt of a run id that differs
// from the first in where it runs exits 2 naming each difference, and
// leaves the first attempt's record as it was. On a real node too
// (ESRESTORE_TEST_ES_URL); "another cluster" is then a stand-in.
func TestResumeElsewhereRefused(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, es *estest.Cluster, out string) (*estest.Cluster, []string)
		want  []string
	}{
		{"another cluster", func(t *testing.T, es *estest.Cluster, out string) (*estest.Cluster, []string) {
			// The same data on another cluster, where the target does not
			// exist: only the summary knows.
			other, _ := fakeLossCluster(t, 200)
			return other, nil
		}, []string{`cluster uuid: was "`, `now "`}},
		{"another target", func(t *testing.T, es *estest.Cluster, out string) (*estest.Cluster, []string) {
			return es, []string{"--target", "documents_other"}
		}, []string{`target: was "documents_restored", now "documents_other"`}},
		{"another environment", func(t *testing.T, es *estest.Cluster, out string) (*estest.Cluster, []string) {
			return es, []string{"--environment", "prod"}
		}, []string{`environment: was "TEST", now "PROD"`}},
		{"another snapshot of the same name", func(t *testing.T, es *estest.Cluster, out string) (*estest.Cluster, []string) {
			esCall(t, es, esapi.SnapshotDeleteRequest{Repository: "backups", Snapshot: []string{"before-loss"}})
			wait := true
			esCall(t, es, esapi.SnapshotCreateRequest{Repository: "backups", Snapshot: "before-loss", WaitForCompletion: &wait,
				Body: strings.NewReader(`{"indices":"documents"}`)})
			return es, nil
		}, []string{`snapshot uuid: was "`}},
		{"another original of the same name", func(t *testing.T, es *estest.Cluster, out string) (*estest.Cluster, []string) {
			esCall(t, es, esapi.IndicesDeleteRequest{Index: []string{"documents"}})
			esCall(t, es, esapi.IndicesCreateRequest{Index: "documents"})
			return es, nil
		}, []string{`original uuid: was "`}},
		{"several at once", func(t *testing.T, es *estest.Cluster, out string) (*estest.Cluster, []string) {
			other, _ := fakeLossCluster(t, 200)
			return other, []string{"--environment", "prod", "--target", "documents_other"}
		}, []string{`cluster uuid: was "`, `environment: was "TEST", now "PROD"`, `target: was "documents_restored", now "documents_other"`}},
		{"target's _meta alone", func(t *testing.T, es *estest.Cluster, out string) (*estest.Cluster, []string) {
			// An attempt whose summary is gone: the target's _meta still
			// records where it ran.
			if err := os.Remove(filepath.Join(out, "documents", "r1", "summary.json")); err != nil {
				t.Fatal(err)
			}
			return es, []string{"--environment", "prod"}
		}, []string{`environment: was "TEST", now "PROD"`, `target "documents_restored" was made by run "r1" elsewhere`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es, _ := lossCluster(t, 200)
			out := t.TempDir()
			interruptedRun(t, es, out)
			targetBefore := indexState(t, es, "documents_restored")
			at, extra := tt.setup(t, es, out)
			before, _ := os.ReadFile(filepath.Join(out, "documents", "r1", "summary.json"))
			c := newCLI(t)
			code := c.run(t.Context(), runArgs(at, out, "r1", extra...)...)
			if code != exitUsage {
				t.Fatalf("exit %d, want 2\n%s", code, c.stderr.String())
			}
			stderr := strings.ReplaceAll(c.stderr.String(), `\"`, `"`)
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, c.stderr.String())
				}
			}
			after, _ := os.ReadFile(filepath.Join(out, "documents", "r1", "summary.json"))
			if !bytes.Equal(before, after) {
				t.Error("the refused attempt rewrote the first attempt's summary")
			}
			if got := indexState(t, es, "documents_restored"); got != targetBefore {
				t.Error("the refused attempt changed the first attempt's target")
			}
			if at != es {
				if st := headIndex(t, at, "documents_restored"); st != 404 {
					t.Errorf("target on the other cluster: HEAD %d, want 404", st)
				}
			}
		})
	}
	// The same run id where it began resumes.
	t.Run("same place resumes", func(t *testing.T) {
		es, _ := lossCluster(t, 200)
		out := t.TempDir()
		interruptedRun(t, es, out)
		c := newCLI(t)
		if code := c.run(t.Context(), runArgs(es, out, "r1", "--strategy", "passes", "--fail-on", "none")...); code != exitOK {
			t.Fatalf("resume: exit %d\n%s", code, c.stderr.String())
		}
	})
}

func headIndex(t *testing.T, es *estest.Cluster, index string) int {
	t.Helper()
	res, err := esapi.IndicesExistsRequest{Index: []string{index}}.Do(t.Context(), es.Client())
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// TestTargetDeletedMidRun: the target deleted while the restore writes
// makes the writes fail (exit 1, naming it) instead of auto-creating an
// index of that name.
func TestTargetDeletedMidRun(t *testing.T) {
	es, sc := lossCluster(t, 600)
	// Slow bulks, on the stand-in and on a real node alike.
	p := fptest.New(t, es.URL, faultproxy.Options{Rules: []faultproxy.Rule{{Path: "_bulk", Action: faultproxy.Delay, Delay: 20 * time.Millisecond}}})
	via := *es
	via.URL = p.URL()
	var ids []string
	for _, d := range sc.Original {
		ids = append(ids, d.ID)
	}
	body, _ := json.Marshal(map[string][]string{"ids": ids})
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	// Once the target holds documents (a realtime _mget: the target is
	// not refreshed while loading), delete it.
	deleted := onceTargetHolds(ctx, es, body, func() {
		res, err := esapi.IndicesDeleteRequest{Index: []string{"documents_restored"}}.Do(ctx, es.Client())
		if err == nil {
			res.Body.Close()
		}
	})
	c := newCLI(t)
	code := c.run(ctx, runArgs(&via, out, "gone", "--strategy", "passes", "--batch-size", "10", "--workers", "1", "--retry-for", "2s")...)
	deleted.Wait()
	if code != exitError {
		t.Fatalf("exit %d, want 1\n%s", code, c.stderr.String())
	}
	for _, w := range []string{restore.ErrTargetGone.Error(), "documents_restored.esrestore-writer"} {
		if !strings.Contains(c.stderr.String(), w) {
			t.Errorf("stderr lacks %q:\n%s", w, c.stderr.String())
		}
	}
	for _, ix := range []string{"documents_restored", "documents_restored.esrestore-writer"} {
		if st := headIndex(t, es, ix); st != 404 {
			t.Errorf("%s after the target was deleted: HEAD %d, want 404 (auto-created)", ix, st)
		}
	}
	// The next attempt creates the target again, as the checks want it.
	if code := c.run(t.Context(), runArgs(es, out, "gone", "--strategy", "passes", "--fail-on", "none")...); code != exitOK {
		t.Fatalf("rerun: exit %d\n%s", code, c.stderr.String())
	}
}

// raceRuns is how many times TestTwoRunnersRace races: 20 by default,
// ESRESTORE_TEST_RACE_RUNS otherwise (fewer on a slow real node).
func raceRuns(t *testing.T) int {
	n := 20
	if v := os.Getenv("ESRESTORE_TEST_RACE_RUNS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			t.Fatalf("ESRESTORE_TEST_RACE_RUNS=%q: want a positive count", v)
		}
	}
	return n
}

// TestTwoRunnersRace starts two processes with one run id against one
// cluster at the same moment, over and over: exactly one finishes, the
// other exits 1 naming the holder of the lease and deletes nothing, and
// the target and the report equal those of an uninterrupted run.
func TestTwoRunnersRace(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "esrestore")
	if b, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, b)
	}
	es, sc := lossCluster(t, 600)
	if es.Fake != nil {
		// A run that takes a moment, as on a real node.
		es.Fake.SetFaults(fixtures.Faults{Latency: 3 * time.Millisecond})
	}
	args := func(out, runID, target string) []string {
		return []string{"run", "--es-url", es.URL, "--original", "documents", "--source", "snapshot:backups/before-loss",
			"--target", target, "--output", "file://" + out, "--environment", "race", "--run-id", runID,
			"--progress", "0", "--batch-size", "50", "--workers", "2", "--fail-on", "none", "--log-level", "warn",
			"--lease-ttl", "4s"}
	}
	out := t.TempDir()
	if b, err := exec.Command(bin, args(out, "whole", "documents_whole")...).CombinedOutput(); err != nil {
		t.Fatalf("uninterrupted run: %v\n%s", err, b)
	}
	wantDocs := fmt.Sprint(indexDocs(t, es, "documents_whole"))
	wantDiff := gunzipFile(t, filepath.Join(out, "documents", "whole", "diff.ndjson.gz"))
	if n := len(indexDocs(t, es, "documents_whole")); n != len(sc.Complete) {
		t.Fatalf("uninterrupted run restored %d documents, want %d", n, len(sc.Complete))
	}
	runs := raceRuns(t)
	outcomes := map[string]int{}
	for i := range runs {
		runID := fmt.Sprintf("race%d", i)
		target := "documents_" + runID
		type result struct {
			code   int
			stderr string
		}
		res := make([]result, 2)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for k := range res {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cmd := exec.Command(bin, args(out, runID, target)...)
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				<-start
				err := cmd.Run()
				res[k] = result{code: 0, stderr: stderr.String()}
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					res[k].code = ee.ExitCode()
				} else if err != nil {
					res[k].code = -1
				}
			}()
		}
		close(start)
		wg.Wait()
		codes := fmt.Sprintf("%d,%d", min(res[0].code, res[1].code), max(res[0].code, res[1].code))
		outcomes["exit "+codes]++
		if codes != "0,1" {
			t.Errorf("race %d: exits %s, want one 0 and one 1\nfirst:\n%s\nsecond:\n%s", i, codes, res[0].stderr, res[1].stderr)
			continue
		}
		loser := res[0]
		if loser.code != 1 {
			loser = res[1]
		}
		stderr := strings.ReplaceAll(loser.stderr, `\"`, `"`)
		for _, w := range []string{fmt.Sprintf("run %q ", runID), " held by ", "expire", "deleted nothing"} {
			if !strings.Contains(stderr, w) {
				t.Errorf("race %d: the loser's stderr lacks %q:\n%s", i, w, loser.stderr)
			}
		}
		if i == 0 {
			t.Logf("the loser said: %s", lastLine(stderr))
		}
		if got := fmt.Sprint(indexDocs(t, es, target)); got != wantDocs {
			t.Errorf("race %d: target differs from the uninterrupted run's", i)
		}
		if got := gunzipFile(t, filepath.Join(out, "documents", runID, "diff.ndjson.gz")); !bytes.Equal(got, wantDiff) {
			t.Errorf("race %d: diff.ndjson.gz differs from the uninterrupted run's", i)
		}
		s := readSummary(t, out, "documents", runID)
		if r := s.Restore; !s.Complete || r == nil || r.Failed != 0 || r.Pending != 0 {
			t.Errorf("race %d: summary complete %v restore %+v", i, s.Complete, r)
		}
		if s.Staging == nil || !s.Staging.Deleted {
			t.Errorf("race %d: staging %+v, want deleted by the winner", i, s.Staging)
		}
		ents, _ := os.ReadDir(filepath.Join(out, "documents", runID))
		for _, e := range ents {
			if e.Name()[0] == '.' {
				t.Errorf("race %d: temporary file %s left in the report", i, e.Name())
			}
		}
	}
	t.Logf("%d races on %s: %v", runs, map[bool]string{true: "a real node", false: "the stand-in"}[es.Real()], outcomes)
}

// decodeBody decodes and closes an answer's body.
func decodeBody(res *esapi.Response, v any) {
	defer res.Body.Close()
	json.NewDecoder(res.Body).Decode(v) //nolint:errcheck // zero then
}

// onceTargetHolds polls documents_restored with a realtime _mget of the
// ids in body until one is found, then calls then, once; its WaitGroup
// is done after then (or when ctx ends first).
func onceTargetHolds(ctx context.Context, es *estest.Cluster, body []byte, then func()) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			res, err := esapi.MgetRequest{Index: "documents_restored", Body: bytes.NewReader(body), Source: []string{"false"}}.Do(ctx, es.Client())
			if err == nil {
				var n struct{ Docs []struct{ Found bool } }
				decodeBody(res, &n)
				if slices.ContainsFunc(n.Docs, func(d struct{ Found bool }) bool { return d.Found }) {
					then()
					return
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return &wg
}

// TestLeaseLostStopsTheRun: a runner whose lease another process took
// stops writing at once and exits 1 naming the new holder, without
// cleaning up (the staging index stays) or writing its summary (both are
// the new runner's).
func TestLeaseLostStopsTheRun(t *testing.T) {
	es, sc := lossCluster(t, 600)
	// Slow bulks, on the stand-in and on a real node alike.
	p := fptest.New(t, es.URL, faultproxy.Options{Rules: []faultproxy.Rule{{Path: "_bulk", Action: faultproxy.Delay, Delay: 20 * time.Millisecond}}})
	via := *es
	via.URL = p.URL()
	out := t.TempDir()
	var ids []string
	for _, d := range sc.Original {
		ids = append(ids, d.ID)
	}
	body, _ := json.Marshal(map[string][]string{"ids": ids})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	took := onceTargetHolds(ctx, es, body, func() {
		// Another process takes the lease (as one would after an expiry
		// it saw).
		res, err := esapi.IndexRequest{Index: "esrestore-leases", DocumentID: "lost",
			Body: strings.NewReader(`{"run_id":"lost","holder":"pod-b/7","token":"b"}`)}.Do(ctx, es.Client())
		if err == nil {
			res.Body.Close()
		}
	})
	c := newCLI(t)
	start := time.Now()
	code := c.run(ctx, runArgs(&via, out, "lost", "--strategy", "passes", "--batch-size", "10", "--workers", "1", "--lease-ttl", "2s")...)
	took.Wait()
	if code != exitError {
		t.Fatalf("exit %d, want 1\n%s", code, c.stderr.String())
	}
	stderr := strings.ReplaceAll(c.stderr.String(), `\"`, `"`)
	for _, w := range []string{"lease lost", "pod-b/7", "stopped without cleaning up"} {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, stderr)
		}
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the run went on %s", d)
	}
	if st := headIndex(t, es, restore.StagingIndex("lost")); st != 200 {
		t.Errorf("staging index: HEAD %d, want 200: it is the new runner's to delete", st)
	}
	// The summary is the attempt's record from its start, not an end.
	if s := readSummary(t, out, "documents", "lost"); s.Complete || !s.Finished.IsZero() || s.Restore != nil {
		t.Errorf("summary rewritten by the runner that lost its lease: complete %v finished %v restore %+v", s.Complete, s.Finished, s.Restore)
	}
	// The new holder's lease is left alone.
	res, err := esapi.GetRequest{Index: "esrestore-leases", DocumentID: "lost"}.Do(t.Context(), es.Client())
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Source struct{ Holder string } `json:"_source"`
	}
	decodeBody(res, &got)
	if got.Source.Holder != "pod-b/7" {
		t.Errorf("lease holder after the loss %q, want pod-b/7", got.Source.Holder)
	}
}
