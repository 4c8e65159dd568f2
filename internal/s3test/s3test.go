// Package s3test runs a real S3 server for tests: versitygw, pinned in
// tools/go.mod, serving a temporary directory on 127.0.0.1. It checks
// signatures and answers errors as AWS does, so the real SDK is exercised.
//
// Set ESRESTORE_TEST_S3_ENDPOINT (with AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and optionally AWS_REGION) to run the same tests
// against another S3 server instead; buckets are then created there.
package s3test

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Module is the main module's path, found by RepoRoot.
const Module = "github.com/esrestore/esrestore"

// Package is versitygw's main package, a tool of tools/go.mod.
const Package = "github.com/versity/versitygw/cmd/versitygw"

// EnvEndpoint names an S3 endpoint to test against instead of versitygw.
const EnvEndpoint = "ESRESTORE_TEST_S3_ENDPOINT"

// Server is a running S3 server.
type Server struct {
	// Endpoint is the server's URL, e.g. http://127.0.0.1:43123.
	Endpoint string
	// AccessKey and SecretKey are the root user's credentials.
	AccessKey, SecretKey string
	// Region is the region the server signs for.
	Region string
	// Dir is versitygw's data directory: one subdirectory per bucket.
	// Empty for an external server.
	Dir string
}

// Start returns a running server for tb: versitygw on a free port with a
// temporary data directory, killed when tb ends. The binary is built once
// (cached per tools/go.sum and Go version, so only the first run on a
// machine takes minutes). With ESRESTORE_TEST_S3_ENDPOINT set it returns
// that server instead.
func Start(tb testing.TB) *Server {
	tb.Helper()
	if ep := os.Getenv(EnvEndpoint); ep != "" {
		return external(tb, ep)
	}
	bin := Binary(tb)
	s := &Server{
		AccessKey: "esrestore" + randHex(4),
		SecretKey: randHex(20),
		Region:    "us-east-1",
		Dir:       tb.TempDir(),
	}
	var lastErr error
	for range 3 { // the free port may be taken before versitygw binds it
		port, err := freePort()
		if err != nil {
			tb.Fatalf("s3test: find a free port: %v", err)
		}
		s.Endpoint = "http://" + port
		if lastErr = s.run(tb, bin, port); lastErr == nil {
			return s
		}
	}
	tb.Fatalf("s3test: start versitygw: %v", lastErr)
	return nil
}

func external(tb testing.TB, ep string) *Server {
	tb.Helper()
	s := &Server{
		Endpoint:  ep,
		AccessKey: os.Getenv("AWS_ACCESS_KEY_ID"),
		SecretKey: os.Getenv("AWS_SECRET_ACCESS_KEY"),
		Region:    cmp.Or(os.Getenv("AWS_REGION"), "us-east-1"),
	}
	if s.AccessKey == "" || s.SecretKey == "" {
		tb.Fatalf("s3test: %s is set, so AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be too", EnvEndpoint)
	}
	return s
}

// run starts versitygw on port and waits until it answers.
func (s *Server) run(tb testing.TB, bin, port string) error {
	tb.Helper()
	out := &syncBuffer{}
	cmd := exec.Command(bin, "--port", port, "--region", s.Region, "--quiet", "posix", s.Dir)
	cmd.Env = append(filterEnv(os.Environ(), "ROOT_", "VGW_"),
		"ROOT_ACCESS_KEY="+s.AccessKey, "ROOT_SECRET_KEY="+s.SecretKey)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}

	deadline := time.After(30 * time.Second)
	client := &http.Client{Timeout: time.Second}
	for {
		select {
		case err := <-exited:
			return fmt.Errorf("versitygw exited (%v): %s", err, out.String())
		case <-deadline:
			stop()
			return fmt.Errorf("versitygw did not answer on %s within 30s: %s", port, out.String())
		case <-time.After(20 * time.Millisecond):
		}
		resp, err := client.Get(s.Endpoint + "/")
		if err != nil {
			continue
		}
		_ = resp.Body.Close()
		if resp.Header.Get("Server") != "VERSITYGW" {
			stop()
			return fmt.Errorf("%s answers, but not as versitygw (Server: %q)", port, resp.Header.Get("Server"))
		}
		tb.Cleanup(stop)
		return nil
	}
}

// SetEnv points the AWS SDK's default chain at the server through the
// environment, as a deployment would: credentials, region, and no shared
// config or instance metadata from the machine. It uses tb.Setenv, so the
// test must not be parallel.
func (s *Server) SetEnv(tb testing.TB) {
	tb.Helper()
	none := filepath.Join(tb.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":           s.AccessKey,
		"AWS_SECRET_ACCESS_KEY":       s.SecretKey,
		"AWS_SESSION_TOKEN":           "",
		"AWS_REGION":                  s.Region,
		"AWS_DEFAULT_REGION":          "",
		"AWS_PROFILE":                 "",
		"AWS_CONFIG_FILE":             none,
		"AWS_SHARED_CREDENTIALS_FILE": none,
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_ENDPOINT_URL":            "",
		"AWS_ENDPOINT_URL_S3":         "",
	} {
		tb.Setenv(k, v)
	}
}

// Config is an aws.Config for the server with static credentials, for
// tests that inspect what the code under test wrote.
func (s *Server) Config() aws.Config {
	return aws.Config{
		Region:      s.Region,
		Credentials: credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
	}
}

// Client is an S3 client for the server (path-style addressing).
func (s *Server) Client() *s3.Client {
	return s3.NewFromConfig(s.Config(), func(o *s3.Options) {
		o.BaseEndpoint = aws.String(s.Endpoint)
		o.UsePathStyle = true
	})
}

// CreateBucket creates a bucket on the server.
func (s *Server) CreateBucket(tb testing.TB, name string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		tb.Fatalf("s3test: create bucket %q: %v", name, err)
	}
}

// NewBucket creates a bucket with a unique name starting with prefix and
// returns its name.
func (s *Server) NewBucket(tb testing.TB, prefix string) string {
	tb.Helper()
	name := strings.ToLower(prefix) + "-" + randHex(6)
	s.CreateBucket(tb, name)
	return name
}

// Keys lists the keys under prefix in bucket.
func (s *Server) Keys(tb testing.TB, bucket, prefix string) []string {
	tb.Helper()
	var keys []string
	p := s3.NewListObjectsV2Paginator(s.Client(), &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: &prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			tb.Fatalf("s3test: list s3://%s/%s: %v", bucket, prefix, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys
}

// Uploads lists the multipart uploads in progress in bucket.
func (s *Server) Uploads(tb testing.TB, bucket string) []types.MultipartUpload {
	tb.Helper()
	out, err := s.Client().ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: &bucket})
	if err != nil {
		tb.Fatalf("s3test: list multipart uploads of %q: %v", bucket, err)
	}
	return out.Uploads
}

var build struct {
	once sync.Once
	path string
	err  error
}

// Binary returns the path of the versitygw binary, building it on first
// use. It is cached under the user cache directory by a hash of
// tools/go.mod, tools/go.sum and the Go version, so test processes share
// one build.
func Binary(tb testing.TB) string {
	tb.Helper()
	build.once.Do(func() { build.path, build.err = buildBinary(tb) })
	if build.err != nil {
		tb.Fatalf("s3test: %v", build.err)
	}
	return build.path
}

func buildBinary(tb testing.TB) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	tools := filepath.Join(root, "tools")
	h := sha256.New()
	for _, f := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(tools, f))
		if err != nil {
			return "", err
		}
		h.Write(b)
	}
	fmt.Fprint(h, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "esrestore-s3test")
	bin := filepath.Join(dir, "versitygw-"+hex.EncodeToString(h.Sum(nil))[:16])
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	// go test runs packages in parallel processes: one builds, the others
	// wait and find the binary.
	unlock, err := lockFile(filepath.Join(dir, "build.lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	// Build beside the final name and rename, so a binary at bin is whole.
	tmp := fmt.Sprintf("%s.tmp-%d", bin, os.Getpid())
	tb.Logf("s3test: building versitygw into %s (minutes on a first run)", bin)
	start := time.Now()
	cmd := exec.Command("go", "build", "-o", tmp, Package)
	cmd.Dir = tools
	cmd.Env = append(os.Environ(), "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("go build %s in %s: %v\n%s", Package, tools, err, out)
	}
	if err := os.Rename(tmp, bin); err != nil {
		return "", err
	}
	tb.Logf("s3test: built versitygw in %v", time.Since(start).Round(time.Second))
	return bin, nil
}

// RepoRoot walks up from the working directory to the directory whose
// go.mod declares Module.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		f, err := os.Open(filepath.Join(dir, "go.mod"))
		if err == nil {
			sc := bufio.NewScanner(f)
			found := sc.Scan() && strings.TrimSpace(sc.Text()) == "module "+Module
			_ = f.Close()
			if found {
				return dir, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod of module " + Module + " above the working directory")
		}
		dir = parent
	}
}

// freePort returns a 127.0.0.1 address with a port that was free.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func filterEnv(env []string, prefixes ...string) []string {
	var out []string
next:
	for _, kv := range env {
		for _, p := range prefixes {
			if strings.HasPrefix(kv, p) {
				continue next
			}
		}
		out = append(out, kv)
	}
	return out
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// syncBuffer collects a process's output for error messages.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() > 64<<10 {
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
