package s3out_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/esrestore/esrestore/s3out"
)

// envManifest names a file to which TestReportRoundTrip appends, for each
// S3 object it wrote, "URL<TAB>sha256 of the decoded content", so that
// another client (the AWS CLI in .ci/s3-awscli.sh) can check them.
const envManifest = "ESRESTORE_TEST_S3_MANIFEST"

type summary struct {
	Complete bool     `json:"complete"`
	Error    string   `json:"error,omitempty"`
	Objects  []string `json:"objects"`
}

func TestReportRoundTrip(t *testing.T) {
	for _, newTarget := range targets() {
		tg := newTarget(t)
		t.Run(tg.name, func(t *testing.T) {
			var rec recorder
			opt := s3out.WithClientOptions(tg.opt, rec.option)
			opt.PartSize = s3out.MinPartSize
			opt.MaxObjectSize = s3out.MinPartSize * s3out.MaxParts // 5 MiB parts
			opt.Concurrency = 2
			d := tg.open(t, t.Context(), opt)
			r := s3out.NewReport(t.Context(), d, "documents_20200106", "20211202T101500Z-ab12")
			if err := r.Preflight(t.Context()); err != nil {
				t.Fatalf("preflight: %v", err)
			}

			diff := diffLines(1, 16<<20) // about 12 MiB gzipped: three parts
			failures := []byte(`{"_id":"doc-1","status":400,"error":{"type":"document_parsing_exception"}}` + "\n")
			writeAll(t, diff)(r.Diff())
			writeAll(t, failures)(r.Failures())
			sum := summary{Complete: true, Objects: []string{r.URL(s3out.DiffName), r.URL(s3out.FailuresName)}}
			if err := r.WriteSummary(t.Context(), sum); err != nil {
				t.Fatalf("write summary: %v", err)
			}

			dir := "documents_20200106/20211202T101500Z-ab12/"
			tg.assertObjects(t, dir+"summary.json", dir+"diff.ndjson.gz", dir+"failures.ndjson.gz")

			gotDiff := gunzip(t, readAll(t, r.URL(s3out.DiffName), opt))
			if !bytes.Equal(gotDiff, diff) {
				t.Errorf("got a diff of %d bytes after gunzip, want the %d bytes written", len(gotDiff), len(diff))
			}
			if got := gunzip(t, readAll(t, r.URL(s3out.FailuresName), opt)); !bytes.Equal(got, failures) {
				t.Errorf("got failures %q, want %q", got, failures)
			}
			var gotSum summary
			rawSum := readAll(t, r.URL(s3out.SummaryName), opt)
			if err := json.Unmarshal(rawSum, &gotSum); err != nil {
				t.Fatalf("summary.json: %v\n%s", err, rawSum)
			}
			if !gotSum.Complete || len(gotSum.Objects) != 2 || gotSum.Objects[0] != r.URL(s3out.DiffName) {
				t.Errorf("got summary %+v, want %+v", gotSum, sum)
			}
			// The summary's own digest is of the object as stored.
			if got, want := r.SummarySHA256(), fmt.Sprintf("%x", sha256.Sum256(rawSum)); got != want {
				t.Errorf("SummarySHA256 %q, sha256 of the stored summary.json %q", got, want)
			}

			if tg.srv == nil {
				if got, want := r.URL(s3out.SummaryName), tg.url+"/"+dir+"summary.json"; got != want {
					t.Errorf("got URL %q, want %q", got, want)
				}
				return
			}
			if got, want := r.URL(s3out.SummaryName), tg.url+"/"+dir+"summary.json"; got != want {
				t.Errorf("got URL %q, want %q", got, want)
			}
			if got := len(rec.ops("CreateMultipartUpload")); got != 2 {
				t.Errorf("got %d multipart uploads, want 2 (preflight's and the diff)", got)
			}
			if got := len(rec.ops("UploadPart")); got < 3 {
				t.Errorf("got %d parts, want at least 3", got)
			}
			if got := len(rec.ops("AbortMultipartUpload")); got != 1 {
				t.Errorf("got %d aborted multipart uploads, want 1 (preflight's)", got)
			}
			for _, tt := range []struct{ name, ctype, cenc string }{
				{s3out.SummaryName, "application/json", ""},
				{s3out.DiffName, "application/x-ndjson", "gzip"},
				{s3out.FailuresName, "application/x-ndjson", "gzip"},
			} {
				key := "reports/" + dir + tt.name
				h, err := tg.srv.Client().HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &tg.bucket, Key: &key})
				if err != nil {
					t.Fatalf("head %s: %v", key, err)
				}
				if got := aws.ToString(h.ContentType); got != tt.ctype {
					t.Errorf("%s: got Content-Type %q, want %q", tt.name, got, tt.ctype)
				}
				if got := aws.ToString(h.ContentEncoding); got != tt.cenc {
					t.Errorf("%s: got Content-Encoding %q, want %q", tt.name, got, tt.cenc)
				}
			}
			if path := os.Getenv(envManifest); path != "" {
				writeManifest(t, path, map[string][]byte{
					r.URL(s3out.SummaryName):  rawSum,
					r.URL(s3out.DiffName):     diff,
					r.URL(s3out.FailuresName): failures,
				})
			}
		})
	}
}

func writeManifest(t *testing.T, path string, objects map[string][]byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	for url, data := range objects {
		sum := sha256.Sum256(data)
		fmt.Fprintf(f, "%s\t%s\n", url, hex.EncodeToString(sum[:]))
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// An interrupted job aborts its streams and still writes a summary that
// says so: the reader finds summary.json with complete:false and no diff,
// never half of one.
func TestInterruptedReport(t *testing.T) {
	for _, newTarget := range targets() {
		tg := newTarget(t)
		t.Run(tg.name, func(t *testing.T) {
			ctx, cancel := context.WithCancelCause(t.Context())
			defer cancel(nil)
			interrupted := errors.New("interrupted by SIGTERM")
			opt := s3out.WithClientOptions(tg.opt, onUploadPart(2, func() { cancel(interrupted) }))
			opt.MaxObjectSize = s3out.MinPartSize * s3out.MaxParts // 5 MiB parts
			d := tg.open(t, ctx, opt)
			r := s3out.NewReport(ctx, d, "documents", "run1")

			diff, err := r.Diff()
			if err != nil {
				t.Fatal(err)
			}
			failures, err := r.Failures()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := failures.Write([]byte(`{"_id":"x"}` + "\n")); err != nil {
				t.Fatal(err)
			}
			data := diffLines(2, 24<<20)
			var writeErr error
			i := 0
			for chunk := range slicesChunk(data, 64<<10) {
				if i++; tg.srv == nil && i == 100 {
					cancel(interrupted) // files have no parts: interrupt after 6 MiB
				}
				if _, writeErr = diff.Write(chunk); writeErr != nil {
					break
				}
			}
			if writeErr == nil {
				writeErr = diff.Close()
			}
			if !errors.Is(writeErr, context.Canceled) {
				t.Fatalf("got write error %v, want one matching context.Canceled", writeErr)
			}
			if err := r.Abort(); err != nil {
				t.Errorf("abort: %v", err)
			}
			if err := diff.Close(); err == nil {
				t.Errorf("close after abort: got nil, want an error")
			}

			// The job writes its summary on a fresh context.
			sum := summary{Complete: false, Error: writeErr.Error()}
			if err := r.WriteSummary(context.WithoutCancel(ctx), sum); err != nil {
				t.Fatalf("write summary: %v", err)
			}
			tg.assertObjects(t, "documents/run1/summary.json")
			var got summary
			if err := json.Unmarshal(readAll(t, r.URL(s3out.SummaryName), opt), &got); err != nil {
				t.Fatal(err)
			}
			if got.Complete || !strings.Contains(got.Error, "canceled") {
				t.Errorf("got summary %+v, want complete:false and the error", got)
			}
		})
	}
}

// writeAll returns a function that writes data to a stream in chunks, as
// an encoder would, and closes it: writeAll(t, data)(r.Diff()).
func writeAll(t *testing.T, data []byte) func(io.WriteCloser, error) {
	return func(w io.WriteCloser, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		for chunk := range slicesChunk(data, 32<<10) {
			if _, err := w.Write(chunk); err != nil {
				t.Fatalf("write: %v", err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatalf("close: %v", err)
		}
	}
}

// slicesChunk yields b in chunks of n bytes.
func slicesChunk(b []byte, n int) func(func([]byte) bool) {
	return func(yield func([]byte) bool) {
		for len(b) > 0 {
			k := min(n, len(b))
			if !yield(b[:k]) {
				return
			}
			b = b[k:]
		}
	}
}

func TestOpenReader(t *testing.T) {
	for _, newTarget := range targets() {
		tg := newTarget(t)
		t.Run(tg.name, func(t *testing.T) {
			d := tg.open(t, t.Context(), tg.opt)
			w, err := d.Create(t.Context(), "dumps/docs.ndjson.gz", s3out.GzipNDJSON)
			if err != nil {
				t.Fatal(err)
			}
			gz := []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 1, 0, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0}
			if _, err := w.Write(gz); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			// Read back as stored: gzip is for the caller to detect.
			if got := readAll(t, d.URL("dumps/docs.ndjson.gz"), tg.opt); !bytes.Equal(got, gz) {
				t.Errorf("got % x, want % x", got, gz)
			}
			_, err = s3out.OpenReader(t.Context(), d.URL("dumps/missing.ndjson"), tg.opt)
			if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "dumps/missing.ndjson") {
				t.Errorf("missing: got %v, want an error naming the object and matching fs.ErrNotExist", err)
			}
		})
	}
	t.Run("s3 url without key", func(t *testing.T) {
		_, err := s3out.OpenReader(t.Context(), "s3://bucket", s3out.Options{Region: "eu-west-1"})
		if !errors.Is(err, s3out.ErrInvalid) || !strings.Contains(err.Error(), `"s3://bucket"`) {
			t.Errorf("got %v, want an ErrInvalid naming the url", err)
		}
	})
}

// Writers end once: a second Close is harmless, Abort after Close keeps the
// object, writing after the end fails, Close after Abort fails.
func TestWriterLifecycle(t *testing.T) {
	for _, newTarget := range targets() {
		tg := newTarget(t)
		t.Run(tg.name, func(t *testing.T) {
			d := tg.open(t, t.Context(), tg.opt)
			w, err := d.Create(t.Context(), "kept.json", s3out.JSON)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write([]byte("{}\n")); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatalf("close: %v", err)
			}
			if err := w.Close(); err != nil {
				t.Errorf("second close: got %v, want nil", err)
			}
			if err := w.Abort(); err != nil {
				t.Errorf("abort after close: got %v, want nil", err)
			}
			if _, err := w.Write([]byte("x")); err == nil {
				t.Errorf("write after close: got nil, want an error")
			}

			a, err := d.Create(t.Context(), "dropped.json", s3out.JSON)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := a.Write([]byte("{}\n")); err != nil {
				t.Fatal(err)
			}
			if err := a.Abort(); err != nil {
				t.Errorf("abort: %v", err)
			}
			if err := a.Close(); err == nil {
				t.Errorf("close after abort: got nil, want an error")
			}
			tg.assertObjects(t, "kept.json")

			if _, err := d.Create(t.Context(), "../escape", s3out.JSON); !errors.Is(err, s3out.ErrInvalid) {
				t.Errorf("key ../escape: got %v, want ErrInvalid", err)
			}
		})
	}
}

// report.html is stored as written, uncompressed, with the Content-Type a
// browser renders, beside the other objects; an aborted page leaves none.
func TestReportPage(t *testing.T) {
	for _, newTarget := range targets() {
		tg := newTarget(t)
		t.Run(tg.name, func(t *testing.T) {
			t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
			d := tg.open(t, t.Context(), tg.opt)
			r := s3out.NewReport(t.Context(), d, "documents", "run1")
			page := []byte("<!doctype html>\n<title>report</title>\n" + strings.Repeat("<p>é &amp; ü</p>\n", 20000))
			writeAll(t, page)(r.Page(t.Context()))

			aborted := s3out.NewReport(t.Context(), d, "documents", "run2")
			w, err := aborted.Page(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write(page[:100]); err != nil {
				t.Fatal(err)
			}
			if err := aborted.Abort(); err != nil {
				t.Fatalf("abort: %v", err)
			}

			sum := sha256.Sum256(page)
			want := s3out.ObjectInfo{Key: "documents/run1/report.html", URL: r.URL(s3out.PageName), ContentType: "text/html; charset=utf-8",
				Bytes: int64(len(page)), Lines: int64(bytes.Count(page, []byte("\n"))), SHA256: hex.EncodeToString(sum[:])}
			if got := r.Objects()[s3out.PageName]; got != want {
				t.Errorf("got page object %+v, want %+v", got, want)
			}
			if _, ok := aborted.Objects()[s3out.PageName]; ok {
				t.Errorf("an aborted page has a digest")
			}
			tg.assertObjects(t, "documents/run1/report.html")
			if got, want := r.URL(s3out.PageName), tg.url+"/documents/run1/report.html"; got != want {
				t.Errorf("got URL %q, want %q", got, want)
			}
			if got := readAll(t, r.URL(s3out.PageName), tg.opt); !bytes.Equal(got, page) {
				t.Errorf("read back %d bytes, want the %d written", len(got), len(page))
			}
			if tg.srv == nil {
				return
			}
			key := "reports/documents/run1/report.html"
			h, err := tg.srv.Client().HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &tg.bucket, Key: &key})
			if err != nil {
				t.Fatalf("head %s: %v", key, err)
			}
			if got, want := aws.ToString(h.ContentType), "text/html; charset=utf-8"; got != want {
				t.Errorf("got Content-Type %q, want %q", got, want)
			}
			if got := aws.ToString(h.ContentEncoding); got != "" {
				t.Errorf("got Content-Encoding %q, want none: the page is stored as it is", got)
			}
			if got := aws.ToInt64(h.ContentLength); got != int64(len(page)) {
				t.Errorf("got Content-Length %d, want %d", got, len(page))
			}
		})
	}
}
