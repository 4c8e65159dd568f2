package s3out_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/esrestore/esrestore/internal/retry"
	"github.com/esrestore/esrestore/s3out"
)

// Each misconfiguration a preflight can meet fails with an error that names
// it, and never with the secret.
func TestPreflightErrors(t *testing.T) {
	tg := s3Target(t)
	srv := tg.srv
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	unreachable := "http://" + closed.Addr().String()
	closed.Close()

	tests := []struct {
		name    string
		url     string
		opt     func(*s3out.Options)
		env     map[string]string
		want    error
		msg     []string
		secrets []string
	}{
		{name: "ok", url: tg.url},
		{
			name: "no such bucket", url: "s3://esrestore-missing/reports",
			want: s3out.ErrNoSuchBucket, msg: []string{`no such bucket "esrestore-missing"`, "put s3://esrestore-missing/reports/run/.esrestore-preflight-"},
		},
		{
			name: "wrong secret key", url: tg.url,
			env:  map[string]string{"AWS_SECRET_ACCESS_KEY": "wrong-" + srv.SecretKey[:8]},
			want: s3out.ErrSignatureMismatch, msg: []string{"signature mismatch"},
			secrets: []string{srv.SecretKey, "wrong-" + srv.SecretKey[:8]},
		},
		{
			// versitygw answers XAdminUserNotFound where AWS answers
			// InvalidAccessKeyId; both are recognised.
			name: "unknown access key", url: tg.url,
			env:  map[string]string{"AWS_ACCESS_KEY_ID": "AKIAUNKNOWN"},
			want: s3out.ErrInvalidAccessKey, msg: []string{"invalid access key id"},
			secrets: []string{srv.SecretKey},
		},
		{
			name: "no credentials", url: tg.url,
			env:  map[string]string{"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""},
			want: s3out.ErrNoCredentials, msg: []string{"no aws credentials"},
		},
		{
			name: "endpoint unreachable", url: tg.url,
			opt:  func(o *s3out.Options) { o.Endpoint = unreachable },
			want: s3out.ErrUnreachable, msg: []string{"endpoint unreachable", closed.Addr().String()},
		},
		{
			name: "region mismatch", url: tg.url,
			opt:  func(o *s3out.Options) { o.Region = "eu-west-1" },
			want: s3out.ErrRegionMismatch, msg: []string{`is in "us-east-1", requests signed for "eu-west-1"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			opt := tg.opt
			if tt.opt != nil {
				tt.opt(&opt)
			}
			d, err := s3out.Open(t.Context(), tt.url, opt)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			err = d.Preflight(t.Context(), "run")
			if tt.want == nil {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				tg.assertObjects(t) // the marker is gone
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want an error matching %q", err, tt.want)
			}
			for _, m := range tt.msg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("got %q, want it to contain %q", err, m)
				}
			}
			for _, s := range tt.secrets {
				if strings.Contains(err.Error(), s) {
					t.Errorf("got %q, which leaks the secret %q", err, s)
				}
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("preflight took %v, want a quick failure", d)
			}
		})
	}
}

// versitygw grants its root user everything, so the access-denied path is
// checked on the error S3 returns.
func TestAccessDeniedNamesAction(t *testing.T) {
	tg := s3Target(t)
	opt := s3out.WithClientOptions(tg.opt, func(o *s3.Options) {
		o.APIOptions = append(o.APIOptions, denyOperation("DeleteObject"))
	})
	d := tg.open(t, t.Context(), opt)
	err := d.Preflight(t.Context(), "run")
	if !errors.Is(err, s3out.ErrAccessDenied) {
		t.Fatalf("got %v, want ErrAccessDenied", err)
	}
	if want := "access denied for s3:DeleteObject"; !strings.Contains(err.Error(), want) {
		t.Errorf("got %q, want it to contain %q", err, want)
	}
}

// Server-side encryption reaches S3 on every request that creates an
// object. versitygw accepts the headers but does not store them (HeadObject
// returns no ServerSideEncryption), so the requests are checked as signed.
func TestSSEHeaders(t *testing.T) {
	tg := s3Target(t)
	tests := []struct {
		name, sse, kms string
	}{
		{"none", "", ""},
		{"AES256", s3out.SSEAES256, ""},
		{"aws:kms default key", s3out.SSEKMS, ""},
		{"aws:kms with key", s3out.SSEKMS, "arn:aws:kms:us-east-1:111122223333:key/abcd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rec recorder
			opt := s3out.WithClientOptions(tg.opt, rec.option)
			opt.SSE, opt.KMSKeyID = tt.sse, tt.kms
			opt.MaxObjectSize = s3out.MinPartSize * s3out.MaxParts
			d := tg.open(t, t.Context(), opt)
			if err := d.Preflight(t.Context(), "sse"); err != nil {
				t.Fatal(err)
			}
			for _, size := range []int{10, int(s3out.MinPartSize) + 10} { // single PUT, multipart
				w, err := d.Create(t.Context(), "sse/object", s3out.GzipNDJSON)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := w.Write(bytes.Repeat([]byte("x"), size)); err != nil {
					t.Fatal(err)
				}
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
			}
			var checked int
			for _, op := range []string{"PutObject", "CreateMultipartUpload"} {
				for _, req := range rec.ops(op) {
					checked++
					if got := req.header.Get("X-Amz-Server-Side-Encryption"); got != tt.sse {
						t.Errorf("%s: got x-amz-server-side-encryption %q, want %q", op, got, tt.sse)
					}
					if got := req.header.Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id"); got != tt.kms {
						t.Errorf("%s: got kms key id %q, want %q", op, got, tt.kms)
					}
				}
			}
			if checked != 4 { // preflight's PUT and multipart upload, then ours
				t.Errorf("got %d requests creating objects, want 4", checked)
			}
		})
	}
}

// A cancelled upload leaves no object and no multipart upload behind,
// whether Write or Close sees the cancellation, and an Abort from another
// goroutine unblocks a Write waiting for a free part.
func TestCancelMidUpload(t *testing.T) {
	tg := s3Target(t)
	part := int(s3out.MinPartSize)
	data := diffLines(3, 4*part)
	tests := []struct {
		name string
		// stop interrupts the upload; it runs when part 2 is about to be sent.
		stop func(cancel context.CancelFunc, w s3out.ObjectWriter)
	}{
		{"context cancelled", func(cancel context.CancelFunc, _ s3out.ObjectWriter) { cancel() }},
		{"abort from another goroutine", func(_ context.CancelFunc, w s3out.ObjectWriter) {
			go func() { _ = w.Abort() }()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var (
				mu      sync.Mutex
				w       s3out.ObjectWriter
				stopped = make(chan struct{})
				once    sync.Once
			)
			opt := s3out.WithClientOptions(tg.opt, onUploadPart(2, func() {
				once.Do(func() {
					mu.Lock()
					defer mu.Unlock()
					tt.stop(cancel, w)
					close(stopped)
				})
			}))
			opt.MaxObjectSize = s3out.MinPartSize * s3out.MaxParts
			opt.Concurrency = 1
			d := tg.open(t, ctx, opt)
			mu.Lock()
			w, err := d.Create(ctx, "cancel/diff.ndjson", s3out.GzipNDJSON)
			mu.Unlock()
			if err != nil {
				t.Fatal(err)
			}
			var werr error
			for chunk := range slicesChunk(data, 64<<10) {
				if _, werr = w.Write(chunk); werr != nil {
					break
				}
			}
			<-stopped
			if werr == nil {
				werr = w.Close()
			} else if err := w.Close(); err == nil {
				t.Errorf("close after a failed write: got nil, want an error")
			}
			if werr == nil {
				t.Fatal("got a committed upload, want an error")
			}
			if !errors.Is(werr, context.Canceled) && !strings.Contains(werr.Error(), "aborted") {
				t.Errorf("got %v, want cancellation or abort", werr)
			}
			_ = w.Abort()
			tg.assertObjects(t) // no object, no multipart upload
		})
	}
}

// A writer whose part fails aborts the multipart upload by itself.
func TestFailedPartAborts(t *testing.T) {
	tg := s3Target(t)
	opt := s3out.WithClientOptions(tg.opt, func(o *s3.Options) {
		o.APIOptions = append(o.APIOptions, denyOperation("UploadPart"))
	})
	opt.MaxObjectSize = s3out.MinPartSize * s3out.MaxParts
	d := tg.open(t, t.Context(), opt)
	w, err := d.Create(t.Context(), "denied", s3out.GzipNDJSON)
	if err != nil {
		t.Fatal(err)
	}
	var werr error
	for chunk := range slicesChunk(diffLines(4, 3*int(s3out.MinPartSize)), 64<<10) {
		if _, werr = w.Write(chunk); werr != nil {
			break
		}
	}
	if werr == nil {
		werr = w.Close()
	}
	if !errors.Is(werr, s3out.ErrAccessDenied) || !strings.Contains(werr.Error(), " of "+d.URL("denied")+": access denied for s3:PutObject") {
		t.Errorf("got %v, want access denied on a part, naming the object", werr)
	}
	tg.assertObjects(t)
}

// denyOperation answers op with S3's AccessDenied without sending it.
func denyOperation(op string) func(*middleware.Stack) error {
	return failOperation(op, "AccessDenied", "Access Denied")
}

// failOperation answers op with an S3 error code without sending it.
func failOperation(op, code, msg string) func(*middleware.Stack) error {
	return func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("esrestoreFail",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				if middleware.GetOperationName(ctx) == op {
					return middleware.InitializeOutput{}, middleware.Metadata{}, &smithy.GenericAPIError{Code: code, Message: msg}
				}
				return next.HandleInitialize(ctx, in)
			}), middleware.Before)
	}
}

// AWS error codes that versitygw does not produce map to the same errors.
func TestAWSErrorCodes(t *testing.T) {
	tg := s3Target(t)
	tests := []struct {
		code, msg string
		want      error
		text      string
	}{
		{"InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.", s3out.ErrInvalidAccessKey, "invalid access key id"},
		{"AllAccessDisabled", "All access to this object has been disabled", s3out.ErrAccessDenied, "access denied for s3:PutObject"},
		{"PermanentRedirect", "The bucket you are attempting to access must be addressed using the specified endpoint.", s3out.ErrRegionMismatch, "region mismatch"},
		{"AuthorizationHeaderMalformed", "The authorization header is malformed; the region 'us-east-1' is wrong; expecting 'eu-central-1'", s3out.ErrRegionMismatch, `is in "eu-central-1", requests signed for "us-east-1"`},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			opt := s3out.WithClientOptions(tg.opt, func(o *s3.Options) {
				o.APIOptions = append(o.APIOptions, failOperation("PutObject", tt.code, tt.msg))
			})
			d := tg.open(t, t.Context(), opt)
			err := d.Preflight(t.Context(), "codes")
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.text) {
				t.Errorf("got %v, want %q containing %q", err, tt.want, tt.text)
			}
		})
	}
}

func TestFilePreflight(t *testing.T) {
	root := t.TempDir()
	d, err := s3out.Open(t.Context(), filepath.Join(root, "out"), s3out.NewOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Preflight(t.Context(), "docs/run1"); err != nil {
		t.Fatalf("preflight: %v", err)
	}
	// The marker is gone, and so are the directories made for it: a
	// check leaves nothing behind.
	if entries, err := os.ReadDir(root); err != nil || len(entries) != 0 {
		t.Errorf("after preflight %s holds %v (%v), want nothing", root, entries, err)
	}
	// A directory that was there stays.
	if err := os.MkdirAll(filepath.Join(root, "out", "docs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := d.Preflight(t.Context(), "docs/run1"); err != nil {
		t.Fatalf("preflight: %v", err)
	}
	if entries, err := os.ReadDir(filepath.Join(root, "out", "docs")); err != nil || len(entries) != 0 {
		t.Errorf("after preflight docs/ holds %v (%v), want it empty and present", entries, err)
	}
	// The output is valid at Open but a file takes the report's place.
	if err := os.WriteFile(filepath.Join(root, "out", "other"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err = d.Preflight(t.Context(), "other/run1")
	if want := "mkdir " + filepath.Join(root, "out", "other") + ": not a directory"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v, want an error containing %q", err, want)
	}
}

// Open does no I/O: a wrong bucket or a dead endpoint shows up at
// Preflight, not before.
func TestOpenDoesNoIO(t *testing.T) {
	isolateAWS(t)
	opt := s3out.NewOptions()
	opt.Endpoint = "http://127.0.0.1:1"
	d, err := s3out.Open(t.Context(), "s3://esrestore-any/prefix", opt)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	if got, want := d.URL("a/b.json"), "s3://esrestore-any/prefix/a/b.json"; got != want {
		t.Errorf("got URL %q, want %q", got, want)
	}
}

// Throttling is retried by the SDK, part bodies included: the object
// arrives whole.
func TestRetriesThrottling(t *testing.T) {
	tg := s3Target(t)
	var slow slowDownOnce
	opt := s3out.WithClientOptions(tg.opt, func(o *s3.Options) {
		slow.next = o.HTTPClient
		o.HTTPClient = &slow
	})
	opt.MaxObjectSize = s3out.MinPartSize * s3out.MaxParts
	d := tg.open(t, t.Context(), opt)
	data := diffLines(5, 2*int(s3out.MinPartSize)+1000)
	// The SDK's retries are counted and told as the job's own are.
	var counter retry.Counter
	var logs bytes.Buffer
	ctx := retry.WithLogger(retry.WithCounter(t.Context(), &counter), slog.New(slog.NewJSONHandler(&logs, nil)))
	writeAll(t, data)(d.Create(ctx, "retried.ndjson", s3out.GzipNDJSON))
	if got := readAll(t, d.URL("retried.ndjson"), opt); !bytes.Equal(got, data) {
		t.Errorf("got %d bytes back, want the %d written", len(got), len(data))
	}
	if got := slow.throttled.Load(); got != 1 {
		t.Errorf("got %d throttled requests, want 1", got)
	}
	if n := counter.Counts(); n.Retries != 1 || n.Backoffs != 1 {
		t.Errorf("counted %+v, want the one retry", n)
	}
	if !strings.Contains(logs.String(), `"msg":"retrying a request of another client","request":"s3 UploadPart","error":`) {
		t.Errorf("no warning for the retried part:\n%s", logs.String())
	}
	tg.assertObjects(t, "retried.ndjson")
}

// slowDownOnce answers the first request for part 2 with S3's 503 SlowDown.
type slowDownOnce struct {
	next      s3.HTTPClient
	throttled atomic.Int32
}

func (s *slowDownOnce) Do(req *http.Request) (*http.Response, error) {
	if req.URL.Query().Get("partNumber") == "2" && s.throttled.CompareAndSwap(0, 1) {
		if req.Body != nil {
			_, _ = io.Copy(io.Discard, req.Body)
			_ = req.Body.Close()
		}
		body := `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`
		return &http.Response{
			StatusCode: http.StatusServiceUnavailable,
			Status:     "503 Slow Down",
			Header:     http.Header{"Content-Type": {"application/xml"}},
			Body:       io.NopCloser(strings.NewReader(body)),
			Request:    req,
		}, nil
	}
	return s.next.Do(req)
}

// Concurrency bounds the parts in flight, and with them the memory.
func TestConcurrencyBoundsPartsInFlight(t *testing.T) {
	tg := s3Target(t)
	data := bytes.Repeat([]byte("0123456789abcdef"), 5*int(s3out.MinPartSize)/16) // 5 parts
	for _, conc := range []int{1, 3} {
		t.Run(fmt.Sprint("concurrency=", conc), func(t *testing.T) {
			var inFlight, peak atomic.Int32
			opt := s3out.WithClientOptions(tg.opt, func(o *s3.Options) {
				o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
					return st.Initialize.Add(middleware.InitializeMiddlewareFunc("esrestoreInFlight",
						func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
							if middleware.GetOperationName(ctx) != "UploadPart" {
								return next.HandleInitialize(ctx, in)
							}
							n := inFlight.Add(1)
							defer inFlight.Add(-1)
							for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
							}
							// Held in flight on the real clock: the window in
							// which a part beyond the bound would show.
							time.Sleep(250 * time.Millisecond)
							return next.HandleInitialize(ctx, in)
						}), middleware.Before)
				})
			})
			opt.MaxObjectSize = s3out.MinPartSize * s3out.MaxParts
			opt.Concurrency = conc
			d := tg.open(t, t.Context(), opt)
			writeAll(t, data)(d.Create(t.Context(), "parallel", s3out.GzipNDJSON))
			if got := peak.Load(); got != int32(conc) {
				t.Errorf("got at most %d parts in flight, want %d", got, conc)
			}
		})
	}
}
