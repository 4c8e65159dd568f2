package s3out

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
)

// fileDest writes under a directory. Content info is not stored: the file
// names (.json, .ndjson.gz) say what they hold.
type fileDest struct {
	loc Location
}

var _ Destination = (*fileDest)(nil)

func newFileDest(loc Location) *fileDest { return &fileDest{loc: loc} }

func (d *fileDest) path(key string) string {
	return filepath.Join(d.loc.Path, filepath.FromSlash(key))
}

// URL implements Destination: a file:// URL or a path, as the destination
// was given.
func (d *fileDest) URL(key string) string {
	return Location{Scheme: SchemeFile, Path: d.path(key), fileURL: d.loc.fileURL}.String()
}

// Preflight implements Destination: create dir, write and remove a
// marker, and remove the directories it created, so that a check (or a
// failed one) leaves nothing behind; the report's objects create them
// again.
func (d *fileDest) Preflight(ctx context.Context, dir string) (err error) {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("preflight %s: %w", d.URL(dir), err)
	}
	p := d.path(dir)
	var created []string // deepest first
	for q := filepath.Clean(p); ; q = filepath.Dir(q) {
		if _, serr := os.Lstat(q); serr == nil || filepath.Dir(q) == q {
			break
		}
		created = append(created, q)
	}
	defer func() {
		for _, c := range created {
			// Only an empty directory goes: one another writer filled
			// meanwhile stays.
			if rerr := os.Remove(c); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) && err == nil {
				var pe *fs.PathError
				if errors.As(rerr, &pe) && errors.Is(pe.Err, syscall.ENOTEMPTY) {
					continue
				}
				err = fmt.Errorf("preflight: %w", rerr)
			}
		}
	}()
	f, err := createIn(p, ".esrestore-preflight-*")
	if err != nil {
		return fmt.Errorf("preflight: %w", err) // "mkdir PATH: not a directory"
	}
	_, err = f.WriteString("esrestore preflight\n")
	err = errors.Join(err, f.Close(), os.Remove(f.Name()))
	if err != nil {
		return fmt.Errorf("preflight: %w", err)
	}
	return nil
}

// Create implements Destination: the object is written to a temporary file
// beside its final name and renamed on Close, so a reader sees it whole or
// not at all.
func (d *fileDest) Create(ctx context.Context, key string, _ ContentInfo) (ObjectWriter, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("create %s: %w", d.URL(key), err)
	}
	p := d.path(key)
	f, err := createIn(filepath.Dir(p), "."+filepath.Base(p)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", d.URL(key), err)
	}
	return &fileWriter{ctx: ctx, f: f, bw: bufio.NewWriterSize(f, 256<<10), path: p, url: d.URL(key)}, nil
}

// fileWriter is an ObjectWriter on a temporary file.
type fileWriter struct {
	ctx  context.Context
	path string // final name
	url  string

	mu        sync.Mutex
	committed atomic.Bool
	f         *os.File // nil once closed and renamed or removed
	bw        *bufio.Writer
	err       error // why the writer ended, if not committed
}

var _ ObjectWriter = (*fileWriter)(nil)

// Write implements io.Writer. It fails once ctx is done, as S3 uploads do.
func (w *fileWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return 0, w.doneErr()
	}
	if w.ctx.Err() != nil {
		return 0, w.fail(fmt.Errorf("write %s: %w", w.url, ctxErr(w.ctx)))
	}
	n, err := w.bw.Write(p)
	if err != nil {
		return n, w.fail(fmt.Errorf("write %s: %w", w.url, err))
	}
	return n, nil
}

// Close implements ObjectWriter: flush, sync, rename into place.
func (w *fileWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		if w.committed.Load() {
			return nil
		}
		return w.doneErr()
	}
	if w.ctx.Err() != nil {
		return w.fail(fmt.Errorf("write %s: %w", w.url, ctxErr(w.ctx)))
	}
	name := w.f.Name()
	err := w.bw.Flush()
	if err == nil {
		err = w.f.Chmod(0o644) // CreateTemp makes 0600; a report is for reviewers
	}
	if err == nil {
		err = w.f.Sync()
	}
	if closeErr := w.f.Close(); err == nil {
		err = closeErr
	}
	if err == nil {
		err = os.Rename(name, w.path)
	}
	w.f, w.bw = nil, nil
	if err != nil {
		_ = os.Remove(name)
		w.err = fmt.Errorf("write %s: %w", w.url, err)
		return w.err
	}
	w.committed.Store(true)
	return nil
}

// Abort implements ObjectWriter: remove the temporary file.
func (w *fileWriter) Abort() error {
	if w.committed.Load() {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.cleanup()
	w.err = fmt.Errorf("write %s: %w", w.url, errAborted)
	return err
}

// fail removes the temporary file and records err.
func (w *fileWriter) fail(err error) error {
	if cleanErr := w.cleanup(); cleanErr != nil {
		err = errors.Join(err, cleanErr)
	}
	w.err = err
	return err
}

// cleanup closes and removes the temporary file.
func (w *fileWriter) cleanup() error {
	name := w.f.Name()
	err := errors.Join(w.f.Close(), os.Remove(name))
	w.f, w.bw = nil, nil
	if err != nil {
		return fmt.Errorf("remove temporary file %s: %w", name, err)
	}
	return nil
}

func (w *fileWriter) doneErr() error {
	if w.err != nil {
		return w.err
	}
	return fmt.Errorf("write %s: %w", w.url, errWriterDone)
}

// openFile opens the file at loc for OpenReader.
func openFile(ctx context.Context, loc Location) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("open %s: %w", loc, err)
	}
	return os.Open(loc.Path) // a *PathError names the path and matches fs.ErrNotExist
}

// createIn creates dir and a temporary file in it. Another process's
// preflight of the same report directory removes the directories it made
// once they are empty again: one that went between the two steps is made
// again.
func createIn(dir, pattern string) (*os.File, error) {
	for try := 0; ; try++ {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		f, err := os.CreateTemp(dir, pattern)
		if err == nil || !errors.Is(err, fs.ErrNotExist) || try == 4 {
			return f, err
		}
	}
}
