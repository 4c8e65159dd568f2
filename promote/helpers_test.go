package promote_test

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/esrestore/esrestore/internal/retry"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/esrestore/esrestore/diff"
	"github.com/esrestore/esrestore/fixtures"
	"github.com/esrestore/esrestore/fixtures/estest"
	"github.com/esrestore/esrestore/internal/elastic"
	"github.com/esrestore/esrestore/promote"
	"github.com/esrestore/esrestore/report"
	"github.com/esrestore/esrestore/restore"
	"github.com/esrestore/esrestore/s3out"
)

// reviewed is a cluster after a restore run r1 of "documents" (write alias
// "docs") into "documents_restored", and its report in dir.
type reviewed struct {
	es  *estest.Cluster
	dir string
	sc  fixtures.Scenario
}

// newReviewed builds what esrestore run leaves: a loss scenario restored
// from a backup index with --prefer source, the three-sided diff and the
// summary, written through s3out as the job writes them.
func newReviewed(t *testing.T, n int) *reviewed {
	t.Helper()
	return newReviewedOn(t, estest.New(t), n)
}

// newReviewedOn is newReviewed on the cluster es.
func newReviewedOn(t *testing.T, es *estest.Cluster, n int) *reviewed {
	t.Helper()
	ctx := t.Context()
	sc := fixtures.NewScenario(n, 0.1, 5)
	es.LoadScenario(t, "documents", "backups", "before-loss", sc, 2)
	es.LoadDocs(t, "backup", sc.Complete, 2)
	do(t, es, esapi.IndicesUpdateAliasesRequest{Body: strings.NewReader(
		`{"actions":[{"add":{"index":"documents","alias":"docs","is_write_index":true}}]}`)})
	cl := es.Client()
	start := time.Now()
	sum := report.Summary{Command: "run", Environment: "TEST", RunID: "r1", Original: "documents", Target: "documents_restored",
		Source: "index:backup", Mode: "merge", Prefer: "source", Started: start.UTC(), Objects: map[string]report.Object{},
		Ignored: []string{}, FailOn: []string{}, Attention: []string{}}
	c, err := elastic.GetCluster(ctx, cl, retry.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	sum.Integrity.Cluster = &report.Cluster{Name: c.Name, UUID: c.UUID, Version: c.Version}
	sum.Integrity.Original = indexState(t, es, "documents")

	dest, err := s3out.Open(ctx, t.TempDir(), s3out.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rep := s3out.NewReport(ctx, dest, "documents", "r1")
	failures, err := rep.Failures()
	if err != nil {
		t.Fatal(err)
	}
	r, err := restore.New(cl, restore.Options{Original: "documents", Target: "documents_restored", Mode: restore.ModeMerge,
		Prefer: restore.PreferSource, RunID: "r1", Started: start, Failures: failures})
	if err != nil {
		t.Fatal(err)
	}
	st, err := r.Run(ctx, restore.IndexSource(cl, "backup", 2))
	if err != nil || st.Failed != 0 {
		t.Fatalf("restore: %v (%+v)", err, st)
	}
	if err := failures.Close(); err != nil {
		t.Fatal(err)
	}
	sum.Restore = &report.Restore{Read: st.Read, Indexed: st.Indexed, Kept: st.Kept, TargetCount: st.Count}
	w, err := rep.Diff()
	if err != nil {
		t.Fatal(err)
	}
	counts, err := diff.New(diff.Options{}).RunSides(ctx, diff.Sides{Original: diff.IndexSide(cl, "documents"),
		Backup: diff.IndexSide(cl, "backup"), Target: diff.IndexSide(cl, "documents_restored")}, w)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	sum.Outcome, sum.Loss, sum.Fields = &counts.Outcome, counts.Loss, counts.Fields
	sum.Integrity.Target = indexState(t, es, "documents_restored")
	sum.Complete = true
	sum.Finished = time.Now().UTC()
	sum.Verdict = report.Judge(&sum)
	for name, o := range rep.Objects() {
		key := map[string]string{s3out.DiffName: "diff", s3out.FailuresName: "failures"}[name]
		sum.Objects[key] = report.Object{Key: o.Key, URL: o.URL, ContentType: o.ContentType, Bytes: o.Bytes, Lines: o.Lines, SHA256: o.SHA256}
	}
	if err := rep.WriteSummary(ctx, sum); err != nil {
		t.Fatal(err)
	}
	if sum.Verdict.Status != report.StatusOK {
		t.Fatalf("verdict %+v, want ok for a prefer-source restore", sum.Verdict)
	}
	return &reviewed{es: es, dir: strings.TrimSuffix(rep.URL(""), "/"), sc: sc}
}

func indexState(t *testing.T, es *estest.Cluster, name string) *report.IndexState {
	t.Helper()
	ix, err := elastic.GetIndex(t.Context(), es.Client(), name, retry.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	n, err := elastic.Count(t.Context(), es.Client(), name, retry.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	return &report.IndexState{Name: ix.Name, UUID: ix.UUID, Aliases: ix.Aliases, CountStart: n, CountEnd: n}
}

// promoter returns a Promoter of the reviewed report.
func (rv *reviewed) promoter(t *testing.T, opt promote.Options) *promote.Promoter {
	t.Helper()
	st, err := promote.ReportStore(t.Context(), rv.dir, s3out.Options{})
	if err != nil {
		t.Fatal(err)
	}
	opt.TempDir = t.TempDir()
	p, err := promote.New(rv.es.Client(), st, opt)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (rv *reviewed) record(t *testing.T) *promote.Record {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(rv.dir, promote.RecordName))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var r promote.Record
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

// aliasIndexes lists the indexes alias points at.
func aliasIndexes(t *testing.T, es *estest.Cluster, alias string) []string {
	t.Helper()
	res, err := esapi.IndicesGetAliasRequest{Name: []string{alias}}.Do(context.Background(), es.Client())
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode == 404 {
		return nil
	}
	var m map[string]any
	if err := json.NewDecoder(res.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// do sends req and fails the test on an error answer.
func do(t *testing.T, es *estest.Cluster, req esapi.Request) []byte {
	t.Helper()
	code, b := status(t, es, req)
	if code >= 300 {
		t.Fatalf("%T: %d %s", req, code, b)
	}
	return b
}

// status sends req and returns its status and body.
func status(t *testing.T, es *estest.Cluster, req esapi.Request) (int, []byte) {
	t.Helper()
	res, err := req.Do(context.Background(), es.Client())
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func putDoc(t *testing.T, es *estest.Cluster, index, id, src string) {
	t.Helper()
	do(t, es, esapi.IndexRequest{Index: index, DocumentID: id, Body: strings.NewReader(src), Refresh: "true"})
}

// source is a document's _source in index, "" when absent.
func source(t *testing.T, es *estest.Cluster, index, id string) string {
	t.Helper()
	code, b := status(t, es, esapi.GetSourceRequest{Index: index, DocumentID: id})
	if code == 404 {
		return ""
	}
	return string(bytes.TrimSpace(b))
}
