package promote

import (
	"context"
	"fmt"
	"io"

	"github.com/esrestore/esrestore/s3out"
)

// Store is one run's report directory: summary.json, the objects it names,
// and promote.json beside them.
type Store interface {
	// Open streams the object name ("summary.json", "diff.ndjson.gz");
	// a missing one matches fs.ErrNotExist.
	Open(ctx context.Context, name string) (io.ReadCloser, error)
	// Put writes the object name in one piece: readers see all of it or
	// the previous version.
	Put(ctx context.Context, name string, data []byte) error
	// URL is the address of name, for logs and the record.
	URL(name string) string
}

var _ Store = (*reportStore)(nil)

// ReportStore is the Store of the report directory dir: s3://bucket/prefix
// (ORIGINAL/RUN_ID included), file://dir or a path, read and written
// through s3out with opt.
func ReportStore(ctx context.Context, dir string, opt s3out.Options) (Store, error) {
	d, err := s3out.Open(ctx, dir, opt)
	if err != nil {
		return nil, err
	}
	return &reportStore{d: d, opt: opt}, nil
}

type reportStore struct {
	d   s3out.Destination
	opt s3out.Options
}

func (s *reportStore) URL(name string) string { return s.d.URL(name) }

func (s *reportStore) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	return s3out.OpenReader(ctx, s.d.URL(name), s.opt)
}

func (s *reportStore) Put(ctx context.Context, name string, data []byte) error {
	w, err := s.d.Create(ctx, name, s3out.JSON)
	if err != nil {
		return fmt.Errorf("write %s: %w", s.d.URL(name), err)
	}
	defer w.Abort() //nolint:errcheck // a no-op after Close
	if _, err := w.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", s.d.URL(name), err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("write %s: %w", s.d.URL(name), err)
	}
	return nil
}
