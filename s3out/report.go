package s3out

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
)

// Names of the report's objects under OUTPUT/ORIGINAL/RUN_ID/.
const (
	SummaryName  = "summary.json"
	DiffName     = "diff.ndjson.gz"
	FailuresName = "failures.ndjson.gz"
	PageName     = "report.html"
	// ConfigName is the configuration 'esrestore check' vouched for.
	ConfigName = "config.json"
)

// Report writes one run's report under ORIGINAL/RUN_ID of a destination:
// the diff and failures streams first, the summary last. A reader that
// finds summary.json finds every object it names complete; a stream that
// was aborted leaves no object at all.
type Report struct {
	ctx context.Context
	d   Destination
	dir string
	err error // an unusable original or run id, returned by every method

	mu      sync.Mutex
	writers []ObjectWriter
	objects map[string]ObjectInfo
	// summarySHA is the hex sha256 of the summary.json last written.
	summarySHA string
}

// NewReport returns the report of run runID on index original. ctx governs
// the Diff and Failures streams. An original or run id that cannot be a
// key segment makes every method fail with ErrInvalid.
func NewReport(ctx context.Context, d Destination, original, runID string) *Report {
	var errs []error
	for _, f := range []struct{ field, v string }{{"original", original}, {"run id", runID}} {
		if f.v == "" || f.v == "." || f.v == ".." || strings.ContainsAny(f.v, `/\`) {
			errs = append(errs, invalid(f.field, `must be a non-empty name without "/"`, fmt.Sprintf("%q", f.v)))
		}
	}
	return &Report{ctx: ctx, d: d, dir: joinKey(original, runID), err: errors.Join(errs...)}
}

// Dir is the report's key prefix relative to the destination:
// ORIGINAL/RUN_ID.
func (r *Report) Dir() string { return r.dir }

// URL is the address of the report's object name (SummaryName, …).
func (r *Report) URL(name string) string { return r.d.URL(joinKey(r.dir, name)) }

// Preflight checks that the report's directory is writable; see
// Destination.Preflight.
func (r *Report) Preflight(ctx context.Context) error {
	if r.err != nil {
		return r.err
	}
	return r.d.Preflight(ctx, r.dir)
}

// Diff starts diff.ndjson.gz: what is written is gzip-compressed and
// streamed. Close commits it; Abort (of the report) discards it.
func (r *Report) Diff() (io.WriteCloser, error) { return r.gzipObject(DiffName) }

// Failures starts failures.ndjson.gz, like Diff.
func (r *Report) Failures() (io.WriteCloser, error) { return r.gzipObject(FailuresName) }

// Page starts report.html, stored uncompressed as text/html so that a
// browser opening it from the bucket shows it; like Diff, Close commits
// it and Abort discards it. Write it after the streams and before the
// summary, which names it. ctx governs its upload: as for WriteSummary,
// give an interrupted run a live one, so that its page says it stopped.
func (r *Report) Page(ctx context.Context) (io.WriteCloser, error) {
	w, err := r.object(ctx, PageName, HTML)
	if err != nil {
		return nil, err
	}
	dw := newDigestWriter(w)
	return &plainWriter{w: w, dw: dw, done: func(lines int64) {
		r.record(PageName, HTML, dw, lines)
	}}, nil
}

func (r *Report) gzipObject(name string) (io.WriteCloser, error) {
	w, err := r.object(r.ctx, name, GzipNDJSON)
	if err != nil {
		return nil, err
	}
	dw := newDigestWriter(w)
	return &gzipWriter{zw: gzip.NewWriter(dw), w: w, dw: dw, done: func(lines int64) {
		r.record(name, GzipNDJSON, dw, lines)
	}}, nil
}

// object starts a streamed object that Abort discards until it is closed.
func (r *Report) object(ctx context.Context, name string, ct ContentInfo) (ObjectWriter, error) {
	if r.err != nil {
		return nil, r.err
	}
	w, err := r.d.Create(ctx, joinKey(r.dir, name), ct)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.writers = append(r.writers, w)
	r.mu.Unlock()
	return w, nil
}

// record notes a committed object's digest.
func (r *Report) record(name string, ci ContentInfo, dw *digestWriter, lines int64) {
	key := joinKey(r.dir, name)
	info := ObjectInfo{Key: key, URL: r.d.URL(key), ContentType: ci.ContentType, Bytes: dw.n, Lines: lines, SHA256: dw.sum()}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.objects == nil {
		r.objects = map[string]ObjectInfo{}
	}
	r.objects[name] = info
}

// Objects returns the digests of the objects committed so far, by name
// (DiffName, FailuresName, ...); summary.json, written last, is not among
// them.
func (r *Report) Objects() map[string]ObjectInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]ObjectInfo, len(r.objects))
	for k, v := range r.objects {
		out[k] = v
	}
	return out
}

// WriteSummary writes summary as indented JSON to summary.json in one piece
// (a single PUT, or a rename), so readers see all of it or none. Call it
// last, with a live ctx: after a failure or an interruption, write
// `complete: false` and the error rather than nothing.
func (r *Report) WriteSummary(ctx context.Context, summary any) error {
	return r.WriteJSON(ctx, SummaryName, summary)
}

// SummarySHA256 is the hex sha256 of summary.json as the last successful
// WriteSummary stored it, byte for byte (what sha256sum prints for the
// downloaded object); "" before one. The summary cannot list its own
// digest: the job prints it in its last record and its notification.
func (r *Report) SummarySHA256() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.summarySHA
}

// WriteJSON writes v as indented JSON to the report's object name in one
// piece (a single PUT, or a rename). It is not listed in Objects.
func (r *Report) WriteJSON(ctx context.Context, name string, v any) error {
	if r.err != nil {
		return r.err
	}
	key := joinKey(r.dir, name)
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("write %s: %w", r.d.URL(key), err)
	}
	w, err := r.d.Create(ctx, key, JSON)
	if err != nil {
		return err
	}
	defer w.Abort()
	data = append(data, '\n')
	if _, err := w.Write(data); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	if name == SummaryName {
		sum := sha256.Sum256(data)
		r.mu.Lock()
		r.summarySHA = hex.EncodeToString(sum[:])
		r.mu.Unlock()
	}
	return nil
}

// Abort discards the Diff, Failures and Page objects that are not closed yet,
// leaving no object and no multipart parts. Closed ones stay. It returns
// the clean-ups that failed.
func (r *Report) Abort() error {
	r.mu.Lock()
	writers := r.writers
	r.mu.Unlock()
	var errs []error
	for _, w := range writers {
		errs = append(errs, w.Abort())
	}
	return errors.Join(errs...)
}

// gzipWriter compresses into an object, counting the lines it is given
// and digesting what it stores.
type gzipWriter struct {
	zw    *gzip.Writer
	w     ObjectWriter
	dw    *digestWriter
	lines lineCounter
	done  func(lines int64)
}

func (g *gzipWriter) Write(p []byte) (int, error) {
	n, err := g.zw.Write(p)
	g.lines.count(p[:n])
	return n, err
}

// Close ends the gzip stream and commits the object, or discards it if
// either fails.
func (g *gzipWriter) Close() error {
	if err := g.zw.Close(); err != nil {
		return errors.Join(err, g.w.Abort())
	}
	if err := g.w.Close(); err != nil {
		return err
	}
	g.done(g.lines.total())
	return nil
}

// plainWriter stores what it is given as it is, counting its lines and
// digesting it, like gzipWriter without the compression.
type plainWriter struct {
	w     ObjectWriter
	dw    *digestWriter
	lines lineCounter
	done  func(lines int64)
}

func (p *plainWriter) Write(b []byte) (int, error) {
	n, err := p.dw.Write(b)
	p.lines.count(b[:n])
	return n, err
}

// Close commits the object and records its digest.
func (p *plainWriter) Close() error {
	if err := p.w.Close(); err != nil {
		return err
	}
	p.done(p.lines.total())
	return nil
}
