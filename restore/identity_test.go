package restore_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/esrestore/esrestore/fixtures/estest"
	"github.com/esrestore/esrestore/fixtures/faultproxy"
	"github.com/esrestore/esrestore/fixtures/faultproxy/fptest"
	"github.com/esrestore/esrestore/restore"
)

// TestResumeChecksIdentity: the target's _meta records where its run ran
// (the cluster's and the original's uuids from the checks, the
// environment and snapshot uuid from Options.Identity); a resume that
// differs is refused, naming each difference, and one that matches goes
// on.
func TestResumeChecksIdentity(t *testing.T) {
	es, _ := loss(t, 50, 3)
	src := func() restore.Source { return restore.SnapshotSource(es.Client(), repo, snap, "", false, "") }
	opt := options("where1")
	opt.Identity = restore.Identity{Environment: "PROD", SnapshotUUID: "snap-a"}
	r, _ := restore.New(es.Client(), opt)
	if _, err := r.Run(t.Context(), src()); err != nil {
		t.Fatal(err)
	}
	res := estest.MustDo(t, es.Client(), esapi.IndicesGetMappingRequest{Index: []string{target}})
	for _, w := range []string{`"environment":"PROD"`, `"snapshot_uuid":"snap-a"`, `"cluster_uuid":"`, `"original_uuid":"`} {
		if !strings.Contains(string(res), w) {
			t.Errorf("target's _meta lacks %s: %s", w, res)
		}
	}
	o := options("where1")
	o.Identity = restore.Identity{Environment: "STAGING", SnapshotUUID: "snap-b"}
	r, _ = restore.New(es.Client(), o)
	_, err := r.Run(t.Context(), src())
	if !errors.Is(err, restore.ErrResumeMismatch) {
		t.Fatalf("got %v, want ErrResumeMismatch", err)
	}
	for _, w := range []string{`environment: was "PROD", now "STAGING"`, `snapshot uuid: was "snap-a", now "snap-b"`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %s", err, w)
		}
	}
	r, _ = restore.New(es.Client(), opt)
	if _, err := r.Run(t.Context(), src()); err != nil {
		t.Fatalf("resume where it began: %v", err)
	}
}

// TestWritesThroughWriterAlias: the target carries the writer alias the
// restore writes through (a target deleted mid-run is
// cmd/esrestore's TestTargetDeletedMidRun), and a target too long for it
// is refused.
func TestWritesThroughWriterAlias(t *testing.T) {
	if got := restore.WriterAlias("documents-restored"); got != "documents-restored.esrestore-writer" {
		t.Errorf("WriterAlias = %q", got)
	}
	es, _ := loss(t, 50, 3)
	r, _ := restore.New(es.Client(), options("alias1"))
	if _, err := r.Run(t.Context(), restore.SnapshotSource(es.Client(), repo, snap, "", false, "")); err != nil {
		t.Fatal(err)
	}
	res := estest.MustDo(t, es.Client(), esapi.IndicesGetAliasRequest{Index: []string{target}})
	if !strings.Contains(string(res), `"`+restore.WriterAlias(target)+`"`) {
		t.Errorf("target's aliases %s lack the writer alias", res)
	}
	// A target name too long for its alias is refused before any call.
	o := options("alias2")
	o.Target = strings.Repeat("t", 250)
	if _, err := restore.New(es.Client(), o); !errors.Is(err, restore.ErrInvalidOptions) || !strings.Contains(err.Error(), ".esrestore-writer") {
		t.Errorf("250-byte target: %v", err)
	}
}

// TestSnapshotRestoreRefusedBeforeStarting: a _restore answered 503 "no
// master" (a cluster block, checked before anything starts) is sent
// again, and the target is still the snapshot restored as the target.
func TestSnapshotRestoreRefusedBeforeStarting(t *testing.T) {
	es, sc := loss(t, 50, 3)
	p := fptest.New(t, es.URL, faultproxy.Options{Rules: []faultproxy.Rule{
		{Method: "POST", Path: "/_restore$", BodyContains: `"rename_replacement":"` + target + `"`, First: 1, Action: faultproxy.Status, Code: 503}}})
	r, _ := restore.New(client(t, p.URL(), nil), options("block1"))
	st, err := r.Run(t.Context(), restore.SnapshotSource(client(t, p.URL(), nil), repo, snap, "", false, ""))
	if err != nil {
		t.Fatal(err)
	}
	if st.Load != restore.LoadSnapshot || st.Restored != int64(len(sc.Complete)) {
		t.Errorf("load %q, restored %d, want the snapshot restored as the target (%d)", st.Load, st.Restored, len(sc.Complete))
	}
	if st := p.Stats(); st.Fired["rule0"] != 1 || st.Matched["rule0"] < 2 {
		t.Errorf("the _restore was refused %d times and sent %d, want it sent again after the 503", st.Fired["rule0"], st.Matched["rule0"])
	}
}
