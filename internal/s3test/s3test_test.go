package s3test_test

import (
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/esrestore/esrestore/internal/s3test"
)

func TestServerRoundTrip(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.NewBucket(t, "roundtrip")
	ctx := t.Context()
	c := srv.Client()

	if _, err := c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &bucket, Key: aws.String("a/b.txt"), Body: strings.NewReader("hello"),
	}); err != nil {
		t.Fatalf("put: %v", err)
	}
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: aws.String("a/b.txt")})
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	body, err := io.ReadAll(out.Body)
	_ = out.Body.Close()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if got, want := string(body), "hello"; got != want {
		t.Errorf("got body %q, want %q", got, want)
	}
	if got, want := srv.Keys(t, bucket, "a/"), []string{"a/b.txt"}; len(got) != 1 || got[0] != want[0] {
		t.Errorf("got keys %q, want %q", got, want)
	}
	if got := srv.Uploads(t, bucket); len(got) != 0 {
		t.Errorf("got %d multipart uploads, want 0", len(got))
	}
}

// The server must check signatures, or tests of wrong credentials prove
// nothing.
func TestServerChecksSignatures(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.NewBucket(t, "signatures")
	cfg := srv.Config()
	cfg.Credentials = credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey+"x", "")
	c := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(srv.Endpoint)
		o.UsePathStyle = true
	})
	_, err := c.PutObject(t.Context(), &s3.PutObjectInput{
		Bucket: &bucket, Key: aws.String("k"), Body: strings.NewReader("x"),
	})
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("got error %v, want an S3 API error", err)
	}
	if got, want := ae.ErrorCode(), "SignatureDoesNotMatch"; got != want {
		t.Errorf("got code %q, want %q", got, want)
	}
}

func TestServerStopsWithTest(t *testing.T) {
	if os.Getenv(s3test.EnvEndpoint) != "" {
		t.Skip("external S3 server: nothing is started")
	}
	var endpoint string
	t.Run("start", func(t *testing.T) {
		endpoint = s3test.Start(t).Endpoint
	})
	addr := strings.TrimPrefix(endpoint, "http://")
	deadline := time.Now().Add(5 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return // refused: the server is gone
		}
		_ = conn.Close()
		if time.Now().After(deadline) {
			t.Fatalf("got a server still listening on %s after its test ended, want none", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestRepoRoot(t *testing.T) {
	root, err := s3test.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "tools", "go.mod")); err != nil {
		t.Errorf("got root %q without tools/go.mod: %v", root, err)
	}
}
