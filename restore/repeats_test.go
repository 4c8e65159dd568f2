package restore_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/esrestore/esrestore/internal/dump"
	"github.com/esrestore/esrestore/restore"
)

// twice is a source that passes its documents, then the first of them
// again: a source that repeats an _id.
type twice struct {
	docs []dump.Doc
}

func (twice) Name() string                                 { return "twice" }
func (twice) Check(context.Context, restore.RunInfo) error { return nil }
func (twice) Prepare(context.Context) error                { return nil }
func (twice) Cleanup(context.Context) error                { return nil }
func (s twice) Scan(ctx context.Context, fn restore.ScanFunc) error {
	if err := fn(ctx, s.docs, nil); err != nil {
		return err
	}
	return fn(ctx, s.docs[:1], nil)
}

// TestRepeatsWarning: "the source repeats ids" is logged when a source
// does, and not on a merge whose reconciliation overwrites what the
// backup wrote (the original's live edits).
func TestRepeatsWarning(t *testing.T) {
	const warning = "the source repeats ids"
	es, sc := loss(t, 200, 3)
	c := es.Client()

	var logs bytes.Buffer
	opt := options("rep1")
	opt.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	r, err := restore.New(c, opt)
	if err != nil {
		t.Fatal(err)
	}
	st, err := r.Run(t.Context(), restore.SnapshotSource(c, repo, snap, "", false, ""))
	if err != nil {
		t.Fatal(err)
	}
	if st.Indexed == st.Created {
		t.Fatalf("the merge overwrote nothing (%+v): the case does not test the warning", st)
	}
	if strings.Contains(logs.String(), warning) {
		t.Errorf("a merge with live edits logs %q:\n%s", warning, logs.String())
	}

	logs.Reset()
	opt = options("rep2")
	opt.Target = target + "-rep2"
	opt.Mode = restore.ModeSource
	opt.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	r, err = restore.New(c, opt)
	if err != nil {
		t.Fatal(err)
	}
	var docs []dump.Doc
	for _, d := range sc.Complete[:20] {
		docs = append(docs, dump.Doc{ID: d.ID, Source: d.Source})
	}
	if _, err := r.Run(t.Context(), twice{docs: docs}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), warning) || !strings.Contains(logs.String(), "replaced=1") {
		t.Errorf("a source repeating one id does not say so:\n%s", logs.String())
	}
}
