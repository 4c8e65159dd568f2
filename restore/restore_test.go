package restore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/esrestore/esrestore/fixtures"
	"github.com/esrestore/esrestore/fixtures/estest"
	"github.com/esrestore/esrestore/internal/dump"
	"github.com/esrestore/esrestore/internal/esscan"
	"github.com/esrestore/esrestore/restore"
)

// sources builds each kind of source over the complete documents of a
// scenario.
var sources = []struct {
	name string
	make func(t *testing.T, es *estest.Cluster, sc fixtures.Scenario) restore.Source
}{
	{"snapshot", func(t *testing.T, es *estest.Cluster, sc fixtures.Scenario) restore.Source {
		return restore.SnapshotSource(es.Client(), repo, snap, "", false, "")
	}},
	{"index", func(t *testing.T, es *estest.Cluster, sc fixtures.Scenario) restore.Source {
		if !exists(t, es.Client(), "documents-backup") {
			es.LoadDocs(t, "documents-backup", sc.Complete, 2)
		}
		return restore.IndexSource(es.Client(), "documents-backup", 2)
	}},
	{"other-cluster", func(t *testing.T, es *estest.Cluster, sc fixtures.Scenario) restore.Source {
		if es.Real() {
			// One real node per test binary: the other cluster is the
			// same node reached through a client of its own.
			es.LoadDocs(t, "backup-cluster-"+original, sc.Complete, 1)
			return restore.Named(restore.IndexSource(es.Client(), "backup-cluster-"+original, 3), "backup-cluster/"+original)
		}
		other := estest.New(t)
		other.LoadDocs(t, original, sc.Complete, 1)
		return restore.Named(restore.IndexSource(other.Client(), original, 3), "backup-cluster/"+original)
	}},
	{"ndjson", func(t *testing.T, es *estest.Cluster, sc fixtures.Scenario) restore.Source {
		return restore.NDJSONSource(bytes.NewReader(ndjson(t, sc.Complete, false)), "dump.ndjson")
	}},
	{"ndjson-gzip", func(t *testing.T, es *estest.Cluster, sc fixtures.Scenario) restore.Source {
		return restore.NDJSONSource(bytes.NewReader(ndjson(t, sc.Complete, true)), "dump.ndjson.gz")
	}},
}

func TestModes(t *testing.T) {
	modes := []struct {
		mode     restore.Mode
		prefer   restore.Prefer
		strategy restore.Strategy
	}{
		{restore.ModeMerge, restore.PreferOriginal, restore.StrategyReconcile},
		{restore.ModeMerge, restore.PreferSource, restore.StrategyReconcile},
		{restore.ModeMerge, restore.PreferFill, restore.StrategyReconcile},
		{restore.ModeSource, restore.PreferOriginal, restore.StrategyReconcile},
		{restore.ModeMerge, restore.PreferOriginal, restore.StrategyPasses},
		{restore.ModeMerge, restore.PreferSource, restore.StrategyPasses},
	}
	for _, m := range modes {
		for _, s := range sources {
			t.Run(fmt.Sprintf("%s-%s-%s/%s", m.mode, m.prefer, m.strategy, s.name), func(t *testing.T) {
				es, sc := loss(t, 300, 7)
				untouched(t, es, original)
				src := s.make(t, es, sc)
				opt := options("run-1")
				opt.Mode, opt.Prefer, opt.Strategy = m.mode, m.prefer, m.strategy
				var fails bytes.Buffer
				opt.Failures = &fails
				r, err := restore.New(es.Client(), opt)
				if err != nil {
					t.Fatal(err)
				}
				st, err := r.Run(t.Context(), src)
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
				c := es.Client()
				sameDocs(t, docsOf(t, c, target), expected(sc, m.mode, m.prefer))
				invariant(t, c, st)

				nO, nC, nLost, nStripped := int64(len(sc.Original)), int64(len(sc.Complete)), int64(len(sc.Lost)), int64(len(sc.Stripped))
				want := restore.Stats{Read: nC, Indexed: nC, Created: nC}
				switch {
				case m.mode != restore.ModeMerge:
				case m.strategy == restore.StrategyPasses:
					want.Read, want.Kept = nO+nC, nO
					if m.prefer == restore.PreferOriginal {
						want.Indexed, want.Created = nO+nLost, nO+nLost
					}
				default:
					// The backup is loaded whole; of the original, only what
					// differs from it is written: with prefer original the
					// stripped documents (fill finds them already right).
					want.Read, want.Kept = nO+nC, nO
					if m.prefer == restore.PreferOriginal {
						want.Indexed, want.Kept = nC+nStripped, nO-nStripped
					}
				}
				if s.name == "snapshot" && m.strategy == restore.StrategyReconcile {
					// Elasticsearch restored the snapshot as the target: its
					// documents are read and kept, not written, and only what
					// the original changes is indexed.
					written := want.Indexed - nC
					want = restore.Stats{Read: want.Read, Indexed: written, Kept: want.Read - written, Existing: nC, Restored: nC}
					if st.Load != restore.LoadSnapshot || st.Restored != nC {
						t.Errorf("load %q (%s), restored %d: want the snapshot restored as the target with %d documents", st.Load, st.LoadReason, st.Restored, nC)
					}
				} else if st.Load == restore.LoadSnapshot || st.Restored != 0 {
					t.Errorf("load %q, restored %d: want the backup written", st.Load, st.Restored)
				}
				if st.Read != want.Read || st.Indexed != want.Indexed || st.Kept != want.Kept || st.Failed != 0 {
					t.Errorf("got read %d indexed %d kept %d failed %d, want %d %d %d 0",
						st.Read, st.Indexed, st.Kept, st.Failed, want.Read, want.Indexed, want.Kept)
				}
				if st.Created != want.Created || st.Existing != want.Existing || st.Count != want.Existing+want.Created {
					t.Errorf("got created %d existing %d count %d, want %d %d %d", st.Created, st.Existing, st.Count,
						want.Created, want.Existing, want.Existing+want.Created)
				}
				if fails.Len() != 0 {
					t.Errorf("failures written: %s", fails.String())
				}

				meta := metaOf(t, c, target)
				if meta["run_id"] != "run-1" || meta["original"] != original || meta["source"] != src.Name() || meta["mode"] != string(m.mode) {
					t.Errorf("target _meta.esrestore = %v", meta)
				}
				ts, os := settingsOf(t, c, target), settingsOf(t, c, original)
				for _, k := range []string{"index.number_of_shards", "index.number_of_replicas", "index.refresh_interval"} {
					if ts[k] != os[k] {
						t.Errorf("target setting %s = %v, original has %v", k, ts[k], os[k])
					}
				}
				if ts["index.uuid"] == os["index.uuid"] {
					t.Errorf("target has the original's uuid %v", ts["index.uuid"])
				}
				if exists(t, c, "esrestore-staging-run-1") {
					t.Errorf("staging index left behind")
				}
			})
		}
	}
}

func TestKeepStaging(t *testing.T) {
	es, sc := loss(t, 200, 3)
	untouched(t, es, original)
	opt := options("Run:2021-12-02")
	opt.KeepStaging = true
	r, err := restore.New(es.Client(), opt)
	if err != nil {
		t.Fatal(err)
	}
	// A wrapper that embeds the source, as a caller closing a stream would.
	src := &cleanups{Source: restore.SnapshotSource(es.Client(), repo, snap, "", false, "")}
	st, err := r.Run(t.Context(), src)
	if err != nil {
		t.Fatal(err)
	}
	invariant(t, es.Client(), st)
	if src.n != 1 {
		t.Errorf("Cleanup called %d times, want 1", src.n)
	}
	staging := "esrestore-staging-run-2021-12-02"
	if got := docsOf(t, es.Client(), staging); len(got) != len(sc.Complete) {
		t.Errorf("kept staging index %q has %d documents, want %d", staging, len(got), len(sc.Complete))
	}
}

// cleanups counts the calls to Cleanup of the source it wraps.
type cleanups struct {
	restore.Source
	n int
}

func (c *cleanups) Cleanup(ctx context.Context) error {
	c.n++
	return c.Source.Cleanup(ctx)
}

// TestResume interrupts a run half way, by cancellation or by the cluster
// going away, and runs it again with the same run id: the target ends the
// same, and a third run changes nothing.
func TestResume(t *testing.T) {
	for _, how := range []string{"cancel", "stop"} {
		for _, s := range sources {
			if s.name == "ndjson-gzip" || s.name == "other-cluster" {
				continue
			}
			t.Run(how+"/"+s.name, func(t *testing.T) {
				n := 500
				if s.name == "snapshot" {
					// Past a page: a fresh reconciliation would keep
					// documents by sequence number.
					n = 2500
				}
				es, sc := loss(t, n, 11)
				untouched(t, es, original)
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				var once sync.Once
				sp := &spy{onBulk: func(n int) {
					if n == 8 { // of about 10 per side
						once.Do(func() {
							if how == "cancel" {
								cancel()
							} else if err := es.Stop(true); err != nil {
								t.Error(err)
							}
						})
					}
				}}
				opt := options("resume-1")
				if s.name == "snapshot" {
					// The snapshot is restored as the target: only the
					// stripped documents are written, in small batches so
					// the run is cut while reconciling.
					opt.BatchDocs = 2
				}
				// A node that stays down outlasts a short budget.
				opt.Retry.Budget = 300 * time.Millisecond
				r, err := restore.New(client(t, es.URL, sp), opt)
				if err != nil {
					t.Fatal(err)
				}
				st, err := r.Run(ctx, s.make(t, es, sc))
				if err == nil {
					t.Fatalf("interrupted run succeeded: %+v", st)
				}
				if how == "cancel" && !errors.Is(err, context.Canceled) {
					t.Errorf("got %v, want context.Canceled", err)
				}
				if st.Pending() < 0 || st.Read == 0 || st.Indexed == 0 {
					t.Errorf("interrupted stats %+v", st)
				}
				if err := es.Start(); err != nil {
					t.Fatal(err)
				}
				es.WaitPrimaries(t)
				c := es.Client()
				if how == "cancel" {
					// Loading settings were put back despite the cancellation.
					if got := settingsOf(t, c, target)["index.refresh_interval"]; got != nil {
						t.Errorf("refresh_interval after a cancelled run = %v, want the original's default", got)
					}
				}
				want := expected(sc, restore.ModeMerge, restore.PreferOriginal)
				for run := 2; run <= 3; run++ {
					r, err := restore.New(c, opt)
					if err != nil {
						t.Fatal(err)
					}
					st, err := r.Run(t.Context(), s.make(t, es, sc))
					if err != nil {
						t.Fatalf("run %d: %v", run, err)
					}
					sameDocs(t, docsOf(t, c, target), want)
					invariant(t, c, st)
					if st.Existing == 0 || st.Failed != 0 {
						t.Errorf("run %d: existing %d failed %d, want a resumed target and no failures", run, st.Existing, st.Failed)
					}
					if s.name == "snapshot" && (st.Load != restore.LoadSnapshot || st.Restored != 0) {
						t.Errorf("run %d: load %q, restored %d: want the restored target resumed, not restored again", run, st.Load, st.Restored)
					}
					// A resumed target holds copies the earlier attempt
					// wrote: their sequence numbers prove nothing.
					if st.KeptBySeqNo != 0 {
						t.Errorf("run %d: %d kept by sequence number on a resumed target, want every copy read", run, st.KeptBySeqNo)
					}
					if run == 3 && (st.Created != 0 || st.Count != st.Existing) {
						t.Errorf("run 3 created %d (count %d, existing %d), want nothing new", st.Created, st.Count, st.Existing)
					}
				}
				if got := settingsOf(t, c, target)["index.number_of_replicas"]; got != "1" {
					t.Errorf("number_of_replicas = %v, want the original's 1", got)
				}
			})
		}
	}
}

// TestFaults: rejected items, unavailable answers and dropped connections
// on _bulk lose nothing.
func TestFaults(t *testing.T) {
	for _, tt := range []struct {
		name   string
		faults fixtures.Faults
	}{
		{"429-items-and-503", fixtures.Faults{Seed: 1, BulkItemReject: 0.2, Unavailable503: 0.1, Endpoints: []string{"bulk"}}},
		{"429-requests", fixtures.Faults{Seed: 2, Reject429: 0.3, Endpoints: []string{"bulk"}}},
		{"dropped-connections", fixtures.Faults{Seed: 3, DropConnection: 0.2, BulkItemReject: 0.1, Endpoints: []string{"bulk"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			es, sc := lossFake(t, 600, 5)
			untouched(t, es, original)
			es.SetFaults(tt.faults)
			opt := options("faults")
			// Both sides written whole: many _bulk requests for the faults
			// to hit (a snapshot restored as the target writes few).
			opt.Strategy = restore.StrategyPasses
			var fails bytes.Buffer
			opt.Failures = &fails
			r, err := restore.New(es.Client(), opt)
			if err != nil {
				t.Fatal(err)
			}
			// Stats is read while Run works (the race detector watches).
			done := make(chan struct{})
			var polls atomic.Int64
			go func() {
				var last int64
				for {
					select {
					case <-done:
						return
					case <-time.After(time.Millisecond):
					}
					s := r.Stats()
					if s.Read < last {
						t.Errorf("read went back from %d to %d", last, s.Read)
					}
					last = s.Read
					polls.Add(1)
				}
			}()
			st, err := r.Run(t.Context(), restore.SnapshotSource(es.Client(), repo, snap, "", false, ""))
			close(done)
			if err != nil {
				t.Fatalf("Run: %v (injected %v)", err, es.Injected())
			}
			es.SetFaults(fixtures.Faults{})
			t.Logf("stats %+v, injected %v", st, es.Injected())
			c := es.Client()
			sameDocs(t, docsOf(t, c, target), expected(sc, restore.ModeMerge, restore.PreferOriginal))
			invariant(t, c, st)
			if st.Failed != 0 || fails.Len() != 0 {
				t.Errorf("failed %d: %.500s", st.Failed, fails.String())
			}
			inj := es.Injected()
			if inj["bulk_item_429"]+inj["503"]+inj["429"]+inj["drop"] == 0 || st.Retried == 0 {
				t.Errorf("injected %v, retried %d: the test injected nothing", inj, st.Retried)
			}
			if st.Elapsed <= 0 || polls.Load() == 0 {
				t.Errorf("elapsed %v after %d polls", st.Elapsed, polls.Load())
			}
		})
	}
}

// TestMappingRejections: documents the mapping refuses end in the failures
// writer with Elasticsearch's error, and the others are restored.
func TestMappingRejections(t *testing.T) {
	es, sc := loss(t, 100, 2)
	untouched(t, es, original)
	bad := map[string]string{
		"bad-size":      `{"title":"x","size":"huge"}`,
		"bad-date":      `{"title":"y","published":"yesterday"}`,
		"bad-language":  `{"title":"z","language":"en"}`,
		"bad-metafield": `{"title":"w","_id":"other"}`,
	}
	docs := append([]fixtures.Doc(nil), sc.Complete[:20]...)
	for _, id := range []string{"bad-size", "bad-date", "bad-language", "bad-metafield"} {
		docs = append(docs, fixtures.Doc{ID: id, Source: []byte(bad[id])})
	}
	docs = append(docs, sc.Complete[20:40]...)
	var fails bytes.Buffer
	opt := options("mapping")
	opt.Mode = restore.ModeSource
	opt.Failures = &fails
	r, err := restore.New(es.Client(), opt)
	if err != nil {
		t.Fatal(err)
	}
	st, err := r.Run(t.Context(), restore.NDJSONSource(bytes.NewReader(ndjson(t, docs, false)), "mixed.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	invariant(t, es.Client(), st)
	if st.Failed != int64(len(bad)) || st.Indexed != 40 {
		t.Errorf("got failed %d indexed %d, want %d 40", st.Failed, st.Indexed, len(bad))
	}
	got := failures(t, fails.Bytes())
	if len(got) != len(bad) {
		t.Fatalf("got %d failure lines, want %d: %s", len(got), len(bad), fails.String())
	}
	lines := map[string]int{"bad-size": 21, "bad-date": 22, "bad-language": 23, "bad-metafield": 24}
	for _, f := range got {
		line := lines[f.ID]
		if string(f.Document) != bad[f.ID] || f.Status != 400 || f.Line != line || f.Source != "mixed.ndjson" || f.OpType != "index" {
			t.Errorf("failure %+v: want document %s, status 400, line %d", f, bad[f.ID], line)
		}
		if !bytes.Contains(f.Error, []byte(`"type":"document_parsing_exception"`)) {
			t.Errorf("failure %s: error %s, want document_parsing_exception", f.ID, f.Error)
		}
	}
}

// TestBadDumpLines: lines that are not documents are reported with file
// and line, counted failed, and the run goes on.
func TestBadDumpLines(t *testing.T) {
	es, sc := loss(t, 50, 4)
	untouched(t, es, original)
	good := ndjson(t, sc.Complete[:10], false)
	lines := strings.Split(strings.TrimSuffix(string(good), "\n"), "\n")
	in := strings.Join([]string{
		lines[0],
		`{"_id":"a","_source":{"x":`, // line 2: malformed
		lines[1],
		`["not","an","object"]`,         // line 4
		`{"_source":{"title":"no id"}}`, // line 5
		lines[2],
		`{"_id":"no-source"}`,                  // line 7
		`{"_id":"text-source","_source":"hi"}`, // line 8
		strings.Join(lines[3:], "\n"),
	}, "\n")
	var fails bytes.Buffer
	opt := options("dump")
	opt.Mode = restore.ModeSource
	opt.Failures = &fails
	r, err := restore.New(es.Client(), opt)
	if err != nil {
		t.Fatal(err)
	}
	st, err := r.Run(t.Context(), restore.NDJSONSource(strings.NewReader(in), "/dumps/lost.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	invariant(t, es.Client(), st)
	if st.Read != 15 || st.Failed != 5 || st.Indexed != 10 {
		t.Errorf("got read %d failed %d indexed %d, want 15 5 10", st.Read, st.Failed, st.Indexed)
	}
	want := []struct {
		line   int
		id     string
		reason string
	}{
		{2, "", "/dumps/lost.ndjson:2: malformed JSON"},
		{4, "", "/dumps/lost.ndjson:4: line is not a JSON object"},
		{5, "", "/dumps/lost.ndjson:5: missing _id"},
		{7, "no-source", `/dumps/lost.ndjson:7: document "no-source": missing _source`},
		{8, "text-source", `/dumps/lost.ndjson:8: document "text-source": _source is not an object`},
	}
	got := failures(t, fails.Bytes())
	if len(got) != len(want) {
		t.Fatalf("got %d failure lines, want %d: %s", len(got), len(want), fails.String())
	}
	for i, w := range want {
		f := got[i]
		var e struct{ Type, Reason string }
		json.Unmarshal(f.Error, &e)
		if f.Line != w.line || f.ID != w.id || f.Source != "/dumps/lost.ndjson" || e.Type != "bad_dump_line" || !strings.HasPrefix(e.Reason, w.reason) {
			t.Errorf("failure %d = %+v (error %s), want line %d id %q reason %q", i, f, f.Error, w.line, w.id, w.reason)
		}
	}
}

// TestOversizedDocument: a document the cluster refuses with 413 (larger
// than http.max_content_length) fails alone; the rest of its batch is
// restored.
func TestOversizedDocument(t *testing.T) {
	es, sc := loss(t, 100, 6)
	untouched(t, es, original)
	const limit = 64 << 10
	sp := &spy{base: tooLarge{limit: limit}}
	big := fixtures.Doc{ID: "big", Source: []byte(`{"title":"big","excerpt":"` + strings.Repeat("a", limit) + `"}`)}
	docs := append(append(append([]fixtures.Doc(nil), sc.Complete[:30]...), big), sc.Complete[30:60]...)
	var fails bytes.Buffer
	opt := options("big")
	opt.Mode = restore.ModeSource
	opt.Failures = &fails
	opt.BatchDocs = 20
	r, err := restore.New(client(t, es.URL, sp), opt)
	if err != nil {
		t.Fatal(err)
	}
	st, err := r.Run(t.Context(), restore.NDJSONSource(bytes.NewReader(ndjson(t, docs, false)), "big.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	invariant(t, es.Client(), st)
	if st.Failed != 1 || st.Indexed != 60 {
		t.Errorf("got failed %d indexed %d, want 1 60", st.Failed, st.Indexed)
	}
	got := failures(t, fails.Bytes())
	if len(got) != 1 || got[0].ID != "big" || got[0].Status != 413 || got[0].Line != 31 {
		t.Errorf("failures %+v, want big at line 31 with 413", got)
	}
	sameDocs(t, docsOf(t, es.Client(), target), toMap(append(append([]fixtures.Doc(nil), docs[:30]...), docs[31:]...)))
}

// tooLarge answers 413 with an empty body to requests larger than limit,
// as Elasticsearch does past http.max_content_length.
type tooLarge struct{ limit int64 }

func (tl tooLarge) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.ContentLength > tl.limit {
		if req.Body != nil {
			req.Body.Close()
		}
		return &http.Response{StatusCode: 413, Status: "413 Request Entity Too Large", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{"Content-Length": {"0"}}, Body: http.NoBody, Request: req}, nil
	}
	return http.DefaultTransport.RoundTrip(req)
}

// TestOptionsHaveEffect: Workers bounds the requests in flight, BatchDocs
// and BatchBytes the requests.
func TestOptionsHaveEffect(t *testing.T) {
	for _, tt := range []struct {
		name            string
		workers, docs   int
		bytes           int
		wantMaxInflight int
	}{
		{"one-worker", 1, 25, 1 << 20, 1},
		{"three-workers", 3, 25, 1 << 20, 3},
		{"small-bytes", 2, 1000, 16 << 10, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			es, sc := lossFake(t, 200, 8)
			untouched(t, es, original)
			es.SetFaults(fixtures.Faults{Latency: 20 * time.Millisecond, Endpoints: []string{"bulk"}})
			sp := &spy{limit: int64(tt.bytes)}
			opt := options("effect")
			opt.Mode = restore.ModeSource
			opt.Workers, opt.BatchDocs, opt.BatchBytes = tt.workers, tt.docs, tt.bytes
			r, err := restore.New(client(t, es.URL, sp), opt)
			if err != nil {
				t.Fatal(err)
			}
			st, err := r.Run(t.Context(), restore.NDJSONSource(bytes.NewReader(ndjson(t, sc.Complete, false)), "d.ndjson"))
			if err != nil {
				t.Fatal(err)
			}
			invariant(t, es.Client(), st)
			if sp.maxInflight != tt.wantMaxInflight {
				t.Errorf("max _bulk in flight %d, want %d", sp.maxInflight, tt.wantMaxInflight)
			}
			if tt.docs < len(sc.Complete) && sp.bulks != (len(sc.Complete)+tt.docs-1)/tt.docs {
				t.Errorf("%d _bulk requests, want %d of %d documents", sp.bulks, (len(sc.Complete)+tt.docs-1)/tt.docs, tt.docs)
			}
			if sp.oversized > 0 {
				t.Errorf("%d _bulk bodies of several documents over %d bytes (largest %d)", sp.oversized, tt.bytes, sp.maxBody)
			}
			if tt.bytes < 1<<20 && sp.bulks < 10 {
				t.Errorf("%d _bulk requests for %d bytes of documents in %d-byte batches", sp.bulks, st.Bytes, tt.bytes)
			}
		})
	}
}

// TestOriginalSettings: the target gets the original's settings except
// the blocks and lifecycle ones, and loading works even though the
// original is write-blocked.
func TestOriginalSettings(t *testing.T) {
	es, sc := loss(t, 100, 9)
	c := es.Client()
	put := func(body string) {
		estest.MustDo(t, c, esapiPutSettings(original, body))
	}
	if es.Real() {
		// The real node has no index lifecycle management (an x-pack
		// module, not in the server jar): it refuses the setting.
		put(`{"index.blocks.write":true,"index.refresh_interval":"30s","index.max_result_window":20000}`)
	} else {
		put(`{"index.blocks.write":true,"index.lifecycle.name":"documents-policy","index.refresh_interval":"30s","index.max_result_window":20000}`)
	}
	untouched(t, es, original)
	r, err := restore.New(c, options("settings"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := r.Run(t.Context(), restore.SnapshotSource(c, repo, snap, "", false, ""))
	if err != nil {
		t.Fatal(err)
	}
	invariant(t, c, st)
	sameDocs(t, docsOf(t, c, target), expected(sc, restore.ModeMerge, restore.PreferOriginal))
	s := settingsOf(t, c, target)
	for k, want := range map[string]any{
		"index.blocks.write": nil, "index.lifecycle.name": nil,
		"index.refresh_interval": "30s", "index.max_result_window": "20000", "index.number_of_replicas": "1",
	} {
		if s[k] != want {
			t.Errorf("target %s = %v, want %v", k, s[k], want)
		}
	}
}

// TestOriginalByAlias: the original may be named by an alias; the target
// may be neither.
func TestOriginalByAlias(t *testing.T) {
	es, sc := loss(t, 100, 10)
	c := es.Client()
	estest.MustDo(t, c, esapiPutAlias(original, "docs"))
	untouched(t, es, original)
	opt := options("alias")
	opt.Original = "docs"
	r, err := restore.New(c, opt)
	if err != nil {
		t.Fatal(err)
	}
	st, err := r.Run(t.Context(), restore.SnapshotSource(c, repo, snap, "", false, ""))
	if err != nil {
		t.Fatal(err)
	}
	invariant(t, c, st)
	sameDocs(t, docsOf(t, c, target), expected(sc, restore.ModeMerge, restore.PreferOriginal))
}

// TestRouting: custom routing travels from both sides to the target.
func TestRouting(t *testing.T) {
	es := estest.New(t)
	all := fixtures.Commons(120, 12)
	for i := range all {
		if i%3 == 0 {
			all[i].Routing = fmt.Sprintf("site-%d", i%7)
		}
	}
	es.LoadDocs(t, original, all[:80], 3)
	untouched(t, es, original)
	r, err := restore.New(es.Client(), options("routing"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := r.Run(t.Context(), restore.NDJSONSource(bytes.NewReader(ndjson(t, all, false)), "routed.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	invariant(t, es.Client(), st)
	want := map[string]string{}
	for _, d := range all {
		want[d.ID] = d.Routing
	}
	got := map[string]string{}
	err = esscan.Scan(t.Context(), es.Client(), target, esscan.Options{}, func(_ context.Context, _ int, page []dump.Doc) error {
		for _, d := range page {
			got[d.ID] = d.Routing
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got, want) {
		t.Errorf("target routing differs: got %d docs, want %d", len(got), len(want))
		for id, r := range want {
			if got[id] != r {
				t.Errorf("document %q: routing %q, want %q", id, got[id], r)
			}
		}
	}
}
