package s3out_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/esrestore/esrestore/s3out"
)

// BenchmarkUpload streams a generated diff to versitygw, as raw bytes
// through an ObjectWriter and gzip-compressed through Report.Diff, and
// reports the peak heap next to the bound of (Concurrency+1) parts: it must
// follow the part size, not the object size.
//
// ESRESTORE_TEST_BENCH_UPLOAD_MB lists the sizes in MB (default "256,1024").
func BenchmarkUpload(b *testing.B) {
	sizes := benchSizes(b, "ESRESTORE_TEST_BENCH_UPLOAD_MB", "MB", 256, 1024)
	tg := s3Target(b)
	const partSize = 16 << 20
	opt := tg.opt
	opt.PartSize = partSize
	opt.MaxObjectSize = partSize * s3out.MaxParts
	opt.Concurrency = 4
	d, err := s3out.Open(b.Context(), tg.url, opt)
	if err != nil {
		b.Fatal(err)
	}
	bound := float64(int64(opt.Concurrency+1)*opt.EffectivePartSize()) / 1e6

	for _, path := range []string{"writer", "report"} {
		for _, mb := range sizes {
			size := mb * 1e6
			b.Run(fmt.Sprintf("%s/size=%dMB", path, mb), func(b *testing.B) {
				open := func(ctx context.Context) (io.WriteCloser, error) {
					if path == "writer" {
						return d.Create(ctx, "bench/diff.ndjson", s3out.GzipNDJSON)
					}
					return s3out.NewReport(ctx, d, "bench", "run").Diff()
				}
				gen := newDiffStream()
				b.SetBytes(size)
				b.ReportAllocs()
				peak := watchHeap(b)
				for b.Loop() {
					w, err := open(b.Context())
					if err != nil {
						b.Fatal(err)
					}
					if err := gen.writeTo(w, size); err != nil {
						b.Fatal(err)
					}
					if err := w.Close(); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(peak())/1e6, "peak-heap-MB")
				b.ReportMetric(bound, "bound-MB")
			})
		}
	}
}

// benchSizes reads the sizes a benchmark runs from the comma-separated
// variable env, in unit; def when it is unset.
func benchSizes(b *testing.B, env, unit string, def ...int64) []int64 {
	v := os.Getenv(env)
	if v == "" {
		return def
	}
	var sizes []int64
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
		if err != nil || n <= 0 {
			b.Fatalf("%s: %q is not a positive number of %s", env, f, unit)
		}
		sizes = append(sizes, n)
	}
	return sizes
}

// diffStream produces NDJSON diff lines from a small set of random
// payloads, cycled with fresh ids: cheap to generate, and the set spans
// more than gzip's 32 KiB window so it compresses like real text does.
type diffStream struct {
	lines []string // formats taking the id
}

func newDiffStream() *diffStream {
	r := rand.NewChaCha8([32]byte{7})
	raw := make([]byte, 3<<10)
	s := &diffStream{}
	for i := range 64 {
		_, _ = r.Read(raw)
		s.lines = append(s.lines, fmt.Sprintf(`{"_id":"doc-%%09d","change":"added","restored":{"n":%d,"content":%q}}`+"\n", i, base64.StdEncoding.EncodeToString(raw)))
	}
	return s
}

// writeTo writes size bytes of lines to w in 32 KiB writes.
func (s *diffStream) writeTo(w io.Writer, size int64) error {
	buf := make([]byte, 0, 64<<10)
	for i, n := 0, int64(0); n < size; i++ {
		buf = fmt.Appendf(buf, s.lines[i%len(s.lines)], i)
		if len(buf) >= 32<<10 || n+int64(len(buf)) >= size {
			k := min(int64(len(buf)), size-n)
			if _, err := w.Write(buf[:k]); err != nil {
				return err
			}
			n += k
			buf = buf[:0]
		}
	}
	return nil
}

// watchHeap samples the heap's live and not yet swept objects every
// millisecond until the benchmark ends; the returned func gives the peak.
func watchHeap(b *testing.B) func() uint64 {
	var peak atomic.Uint64
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	b.Cleanup(func() { close(done); <-stopped })
	return func() uint64 { return peak.Load() }
}

// BenchmarkUploadManager compares the writer of s3.go with the SDK's
// upload manager (feature/s3/manager) on the same data, server, part size
// and concurrency: a small object (one PUT) and one of several parts. The
// manager reads an io.Reader, so the data reaches it through an io.Pipe
// written as the writer is.
//
// ESRESTORE_TEST_BENCH_MANAGER_KB lists the sizes in KB (default "256,65536").
func BenchmarkUploadManager(b *testing.B) {
	sizes := benchSizes(b, "ESRESTORE_TEST_BENCH_MANAGER_KB", "KB", 256, 64<<10)
	tg := s3Target(b)
	const partSize, concurrency = 16 << 20, 4
	opt := tg.opt
	opt.PartSize = partSize
	opt.MaxObjectSize = partSize * s3out.MaxParts
	opt.Concurrency = concurrency
	d, err := s3out.Open(b.Context(), tg.url, opt)
	if err != nil {
		b.Fatal(err)
	}
	up := manager.NewUploader(tg.srv.Client(), func(u *manager.Uploader) {
		u.PartSize, u.Concurrency = partSize, concurrency
	})
	ndjson := s3out.ContentInfo{ContentType: "application/x-ndjson"}
	upload := map[string]func(ctx context.Context, gen *diffStream, size int64) error{
		"own": func(ctx context.Context, gen *diffStream, size int64) error {
			w, err := d.Create(ctx, "bench/own.ndjson", ndjson)
			if err != nil {
				return err
			}
			if err := gen.writeTo(w, size); err != nil {
				return errors.Join(err, w.Abort())
			}
			return w.Close()
		},
		"manager": func(ctx context.Context, gen *diffStream, size int64) error {
			pr, pw := io.Pipe()
			go func() { pw.CloseWithError(gen.writeTo(pw, size)) }()
			_, err := up.Upload(ctx, &s3.PutObjectInput{
				Bucket: aws.String(tg.bucket), Key: aws.String("reports/bench/manager.ndjson"),
				Body: pr, ContentType: aws.String(ndjson.ContentType),
			})
			pr.CloseWithError(err) // unblocks the writer when the upload failed
			return err
		},
	}
	for _, kb := range sizes {
		for _, name := range []string{"own", "manager"} {
			size := kb << 10
			b.Run(fmt.Sprintf("size=%dKiB/%s", kb, name), func(b *testing.B) {
				gen := newDiffStream()
				b.SetBytes(size)
				b.ReportAllocs()
				runtime.GC()
				peak := watchHeap(b)
				for b.Loop() {
					if err := upload[name](b.Context(), gen, size); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(peak())/1e6, "peak-heap-MB")
			})
		}
	}
}
