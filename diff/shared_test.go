package diff

import (
	"bytes"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/esrestore/esrestore/fixtures"
	"github.com/esrestore/esrestore/fixtures/estest"
)

// restoredTwice puts threeDocs on a cluster as a restore from a snapshot
// leaves them: the backup's documents snapshotted, restored as "bk" (the
// backup, never written) and as "tg", then tg written until it holds the
// target's documents.
func restoredTwice(t *testing.T) *elasticsearch.Client {
	t.Helper()
	orig, backup, target := threeDocs()
	es := estest.New(t)
	es.LoadDocs(t, "o3", orig, 2)
	es.LoadDocs(t, "before", backup, 2)
	c := es.Client()
	wait := true
	estest.MustDo(t, c, esapi.SnapshotCreateRepositoryRequest{Repository: "r", Body: strings.NewReader(`{"type":"fs","settings":{"location":"r"}}`)})
	estest.MustDo(t, c, esapi.SnapshotCreateRequest{Repository: "r", Snapshot: "s", WaitForCompletion: &wait,
		Body: strings.NewReader(`{"indices":"before"}`)})
	for _, name := range []string{"bk", "tg"} {
		estest.MustDo(t, c, esapi.SnapshotRestoreRequest{Repository: "r", Snapshot: "s", WaitForCompletion: &wait,
			Body: strings.NewReader(`{"indices":"before","rename_pattern":"before","rename_replacement":"` + name + `"}`)})
	}
	inBackup := map[string]string{}
	for _, d := range backup {
		inBackup[d.ID] = string(d.Source)
	}
	inTarget := map[string]bool{}
	for _, d := range target {
		inTarget[d.ID] = true
		if inBackup[d.ID] != string(d.Source) {
			estest.MustDo(t, c, esapi.IndexRequest{Index: "tg", DocumentID: d.ID, Body: bytes.NewReader(d.Source)})
		}
	}
	for _, d := range backup {
		if !inTarget[d.ID] {
			estest.MustDo(t, c, esapi.DeleteRequest{Index: "tg", DocumentID: d.ID})
		}
	}
	estest.MustDo(t, c, esapi.IndicesRefreshRequest{Index: []string{"tg"}})
	return c
}

// TestSharedHistory checks that a diff which takes the backup's copies
// from the target by sequence number reports exactly what one that fetches
// every copy does, and that it did take some.
func TestSharedHistory(t *testing.T) {
	c := restoredTwice(t)
	sides := Sides{Original: IndexSide(c, "o3"), Backup: IndexSide(c, "bk"), Target: IndexSide(c, "tg")}
	for _, workers := range []int{1, 3} {
		run := func(shared bool) (Counts, string) {
			t.Helper()
			s := sides
			s.SharedHistory = shared
			var out bytes.Buffer
			cnt, err := New(Options{Workers: workers, PageSize: 2, Logger: slog.New(slog.DiscardHandler)}).RunSides(t.Context(), s, &out)
			if err != nil {
				t.Fatal(err)
			}
			return cnt, out.String()
		}
		whole, wholeOut := run(false)
		bySeq, bySeqOut := run(true)
		if whole.Loss.BackupBySeqNo != 0 {
			t.Errorf("workers %d: without a shared history %d backup copies were taken from the target", workers, whole.Loss.BackupBySeqNo)
		}
		// b, d and i are the snapshot's copies in the target; each
		// worker's first page fetches its copies whole.
		if n := bySeq.Loss.BackupBySeqNo; n > 3 || (workers == 1 && n == 0) {
			t.Errorf("workers %d: %d backup copies taken from the target, want 1 to 3", workers, n)
		}
		bySeq.Loss.BackupBySeqNo = 0
		if whole.Outcome != bySeq.Outcome || !reflect.DeepEqual(*whole.Loss, *bySeq.Loss) {
			t.Errorf("workers %d: by sequence number %+v %+v\nwhole %+v %+v", workers, bySeq.Outcome, *bySeq.Loss, whole.Outcome, *whole.Loss)
		}
		if wholeOut != bySeqOut {
			t.Errorf("workers %d: report by sequence number\n%s\nwhole\n%s", workers, bySeqOut, wholeOut)
		}
	}
}

// TestSharedHistoryRefuted checks that a wrong claim of a shared history
// is caught: two indexes bulk-loaded in the same order have the same
// sequence numbers but not the same documents, and the diff must say what
// fetching every copy says.
func TestSharedHistoryRefuted(t *testing.T) {
	orig, backup, target := threeDocs()
	es := estest.New(t)
	for name, docs := range map[string][]fixtures.Doc{"o3": orig, "b3": backup, "t3": target} {
		es.LoadDocs(t, name, docs, 2)
	}
	c := es.Client()
	var logs bytes.Buffer
	s := Sides{Original: IndexSide(c, "o3"), Backup: IndexSide(c, "b3"), Target: IndexSide(c, "t3"), SharedHistory: true}
	got, err := New(Options{Workers: 1, Logger: slog.New(slog.NewJSONHandler(&logs, nil))}).RunSides(t.Context(), s, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	s.SharedHistory = false
	want, err := New(Options{Workers: 1, Logger: slog.New(slog.DiscardHandler)}).RunSides(t.Context(), s, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Outcome != want.Outcome || !reflect.DeepEqual(*got.Loss, *want.Loss) {
		t.Errorf("claimed shared history: %+v %+v\nwant %+v %+v", got.Outcome, *got.Loss, want.Outcome, *want.Loss)
	}
	if !strings.Contains(logs.String(), `"msg":"diff reads every backup copy"`) {
		t.Errorf("no warning that the shared history was refuted; logs:\n%s", logs.String())
	}
}
