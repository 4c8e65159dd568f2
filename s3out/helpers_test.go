package s3out_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/esrestore/esrestore/internal/s3test"
	"github.com/esrestore/esrestore/s3out"
)

// target is a destination under test with ways to look at it from outside.
type target struct {
	name string
	url  string
	opt  s3out.Options
	// objects lists every object or file under the destination, relative
	// to it, temporary files included.
	objects func(t testing.TB) []string
	// uploads counts multipart uploads in progress.
	uploads func(t testing.TB) int
	// srv is the S3 server; nil for files.
	srv    *s3test.Server
	bucket string
}

// s3Target starts an S3 server with a fresh bucket and points the SDK's
// default chain at it through the environment.
func s3Target(t testing.TB) target {
	t.Helper()
	srv := s3test.Start(t)
	srv.SetEnv(t)
	bucket := srv.NewBucket(t, "esrestore-test")
	opt := s3out.NewOptions()
	opt.Endpoint = srv.Endpoint
	return target{
		name: "s3",
		url:  "s3://" + bucket + "/reports",
		opt:  opt,
		objects: func(t testing.TB) []string {
			var rel []string
			for _, k := range srv.Keys(t, bucket, "") {
				rel = append(rel, strings.TrimPrefix(k, "reports/"))
			}
			return rel
		},
		uploads: func(t testing.TB) int { return len(srv.Uploads(t, bucket)) },
		srv:     srv,
		bucket:  bucket,
	}
}

// fileTarget is a temporary directory, written as a file:// URL.
func fileTarget(t testing.TB) target {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "out")
	return target{
		name: "file",
		url:  "file://" + dir,
		opt:  s3out.NewOptions(),
		objects: func(t testing.TB) []string {
			t.Helper()
			var rel []string
			err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				r, _ := filepath.Rel(dir, p)
				rel = append(rel, filepath.ToSlash(r))
				return nil
			})
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			return rel
		},
		uploads: func(testing.TB) int { return 0 },
	}
}

func targets() []func(testing.TB) target { return []func(testing.TB) target{s3Target, fileTarget} }

// open opens the target's destination with opt.
func (tg target) open(t *testing.T, ctx context.Context, opt s3out.Options) s3out.Destination {
	t.Helper()
	d, err := s3out.Open(ctx, tg.url, opt)
	if err != nil {
		t.Fatalf("open %s: %v", tg.url, err)
	}
	return d
}

// assertObjects checks the objects under the target, sorted.
func (tg target) assertObjects(t *testing.T, want ...string) {
	t.Helper()
	got := tg.objects(t)
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("got objects %q, want %q", got, want)
	}
	if n := tg.uploads(t); n != 0 {
		t.Errorf("got %d multipart uploads in progress, want 0", n)
	}
}

// diffLines generates about size bytes of NDJSON diff lines whose payload
// is random base64, so that gzip shrinks it only to about 3/4.
func diffLines(seed uint64, size int) []byte {
	var key [32]byte
	key[0] = byte(seed)
	r := rand.NewChaCha8(key)
	var buf bytes.Buffer
	buf.Grow(size + 5<<10)
	raw := make([]byte, 3<<10)
	for i := 0; buf.Len() < size; i++ {
		_, _ = r.Read(raw)
		fmt.Fprintf(&buf, `{"_id":"doc-%07d","change":"added","restored":{"content":%q}}`+"\n", i, base64.StdEncoding.EncodeToString(raw))
	}
	return buf.Bytes()
}

// readAll reads raw through OpenReader.
func readAll(t *testing.T, raw string, opt s3out.Options) []byte {
	t.Helper()
	rc, err := s3out.OpenReader(t.Context(), raw, opt)
	if err != nil {
		t.Fatalf("open reader %s: %v", raw, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", raw, err)
	}
	return b
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	return out
}

// recorder keeps the requests an S3 client sends, headers as signed.
type recorder struct {
	mu   sync.Mutex
	reqs []sent
}

type sent struct {
	op     string
	header http.Header
}

func (r *recorder) option(o *s3.Options) {
	o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
		return st.Finalize.Add(middleware.FinalizeMiddlewareFunc("esrestoreRecord",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				if req, ok := in.Request.(*smithyhttp.Request); ok {
					r.mu.Lock()
					r.reqs = append(r.reqs, sent{op: middleware.GetOperationName(ctx), header: req.Header.Clone()})
					r.mu.Unlock()
				}
				return next.HandleFinalize(ctx, in)
			}), middleware.After)
	})
}

// ops returns the requests of operation op.
func (r *recorder) ops(op string) []sent {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []sent
	for _, s := range r.reqs {
		if s.op == op {
			out = append(out, s)
		}
	}
	return out
}

// onUploadPart calls fn before part n is sent.
func onUploadPart(n int32, fn func()) func(*s3.Options) {
	return func(o *s3.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Initialize.Add(middleware.InitializeMiddlewareFunc("esrestoreOnPart",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					if p, ok := in.Parameters.(*s3.UploadPartInput); ok && p.PartNumber != nil && *p.PartNumber == n {
						fn()
					}
					return next.HandleInitialize(ctx, in)
				}), middleware.Before)
		})
	}
}

// isolateAWS clears the AWS environment and shared config, so that the
// default chain finds only what a test sets.
func isolateAWS(t *testing.T) {
	t.Helper()
	none := filepath.Join(t.TempDir(), "none")
	for _, k := range []string{"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ACCESS_KEY_ID",
		"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", none)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", none)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}
