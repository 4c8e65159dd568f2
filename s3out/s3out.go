// Package s3out writes esrestore's report to S3 or to a local directory and
// reads dumps back from either.
//
// A destination is chosen by URL: s3://bucket/prefix for S3 (or any
// S3-compatible server through Options.Endpoint), file://dir or a plain path
// for a directory. Objects are streamed: nothing holds a whole object in
// memory, and an object is visible to readers only once it is complete.
//
// S3 credentials come from the AWS SDK's default chain only (environment,
// shared config, web identity, instance role).
package s3out

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Sizes fixed by S3.
const (
	// MinPartSize is the smallest part S3 accepts, except for the last one.
	MinPartSize int64 = 5 << 20
	// MaxPartSize is the largest part S3 accepts.
	MaxPartSize int64 = 5 << 30
	// MaxParts is the largest number of parts in one multipart upload.
	MaxParts = 10_000
	// MaxS3ObjectSize is the largest object S3 stores.
	MaxS3ObjectSize int64 = 5 << 40
)

// Defaults applied by NewOptions and, for zero fields, by Open.
const (
	// DefaultMaxObjectSize is the object size that MaxParts parts must cover.
	DefaultMaxObjectSize int64 = 1 << 40
	// DefaultConcurrency is the number of parts uploaded at once per object.
	DefaultConcurrency = 4
)

// Server-side encryption modes accepted in Options.SSE.
const (
	SSENone   = ""
	SSEAES256 = "AES256"
	SSEKMS    = "aws:kms"
)

// Options configures a destination. The zero value is usable: every zero
// field takes the default written in its comment.
type Options struct {
	// Region of the bucket. "" = the SDK's default chain (AWS_REGION,
	// AWS_DEFAULT_REGION, the shared config's profile); with an Endpoint and
	// no region anywhere, "us-east-1".
	Region string
	// Endpoint overrides the S3 endpoint (an http or https URL) and turns on
	// path-style addressing, for S3-compatible servers. "" = AWS.
	Endpoint string
	// SSE is the server-side encryption of written objects: "" (the bucket's
	// default), "AES256" or "aws:kms".
	SSE string
	// KMSKeyID is the KMS key for SSE "aws:kms". "" = the account's
	// aws/s3 key.
	KMSKeyID string
	// PartSize is the multipart part size in bytes. 0 = MinPartSize. It is
	// grown, whatever its value, so that MaxParts parts cover MaxObjectSize.
	PartSize int64
	// MaxObjectSize is the largest object a writer must be able to upload.
	// 0 = DefaultMaxObjectSize (1 TiB, so parts of 105 MiB).
	MaxObjectSize int64
	// Concurrency is the number of parts of one object uploaded at once.
	// 0 = DefaultConcurrency. A writer holds at most Concurrency+1 parts in
	// memory.
	Concurrency int

	// clientOptions are applied to the S3 client after ours; tests use
	// them to watch requests.
	clientOptions []func(*s3.Options)
}

// NewOptions returns Options with every default filled in.
func NewOptions() Options {
	return Options{
		PartSize:      MinPartSize,
		MaxObjectSize: DefaultMaxObjectSize,
		Concurrency:   DefaultConcurrency,
	}
}

// withDefaults fills the zero fields: the one place defaults are applied.
func (o Options) withDefaults() Options {
	if o.PartSize == 0 {
		o.PartSize = MinPartSize
	}
	if o.MaxObjectSize == 0 {
		o.MaxObjectSize = DefaultMaxObjectSize
	}
	if o.Concurrency == 0 {
		o.Concurrency = DefaultConcurrency
	}
	return o
}

// EffectivePartSize is the part size writers use: PartSize, raised so that
// MaxParts parts cover MaxObjectSize, rounded up to a whole MiB.
func (o Options) EffectivePartSize() int64 {
	o = o.withDefaults()
	size := max(o.PartSize, MinPartSize, (o.MaxObjectSize+MaxParts-1)/MaxParts)
	const mib = 1 << 20
	return min((size+mib-1)/mib*mib, MaxPartSize)
}

// ContentInfo is the metadata an object is stored with.
type ContentInfo struct {
	// ContentType is the object's Content-Type, e.g. "application/json".
	ContentType string
	// ContentEncoding is the object's Content-Encoding, e.g. "gzip", so
	// that a browser or an HTTP client decodes it.
	ContentEncoding string
}

// Content of the report's objects.
var (
	// JSON is summary.json's content.
	JSON = ContentInfo{ContentType: "application/json"}
	// GzipNDJSON is the content of the .ndjson.gz objects.
	GzipNDJSON = ContentInfo{ContentType: "application/x-ndjson", ContentEncoding: "gzip"}
	// HTML is report.html's content: a page the S3 console opens in the
	// browser rather than downloads.
	HTML = ContentInfo{ContentType: "text/html; charset=utf-8"}
)

// Destination is where objects are written: an S3 bucket and prefix, or a
// directory. Keys are slash-separated and relative to the destination.
type Destination interface {
	// Preflight proves that objects can be written under dir, before any
	// real work: it puts a small marker object, starts and aborts a
	// multipart upload (S3), and deletes the marker. Its error names the
	// problem: ErrNoSuchBucket, ErrAccessDenied with the action,
	// ErrSignatureMismatch, ErrInvalidAccessKey, ErrNoCredentials,
	// ErrUnreachable, ErrRegionMismatch, or for a directory the path that
	// cannot be created.
	Preflight(ctx context.Context, dir string) error
	// Create starts a streamed object at key. Nothing is visible at key
	// until the writer's Close returns nil. ctx governs the whole upload.
	Create(ctx context.Context, key string, ct ContentInfo) (ObjectWriter, error)
	// URL is the address of key, e.g. s3://bucket/prefix/key, for logs and
	// the summary.
	URL(key string) string
}

// ObjectWriter streams one object. It is not safe for concurrent use, except
// that Abort may be called from any goroutine.
type ObjectWriter interface {
	io.Writer
	// Close commits the object: after a nil return it is complete and
	// visible. On error nothing is left behind (Close aborts), and the error
	// is returned again by later calls.
	Close() error
	// Abort discards the object: no object, no temporary file, no
	// multipart parts are left. After a successful Close it does nothing,
	// so `defer w.Abort()` is the usual pattern.
	Abort() error
}

// Open parses raw, validates opt against it and returns its destination.
// It does no I/O beyond reading the SDK's configuration: call Preflight to
// check the destination is writable.
func Open(ctx context.Context, raw string, opt Options) (Destination, error) {
	loc, err := ParseURL(raw)
	if err != nil {
		return nil, err
	}
	if err := opt.Validate(loc); err != nil {
		return nil, err
	}
	opt = opt.withDefaults()
	switch loc.Scheme {
	case SchemeS3:
		return newS3Dest(ctx, loc, opt)
	default:
		return newFileDest(loc), nil
	}
}

// OpenReader opens the object or file at raw (s3://bucket/key, file://path
// or a plain path) as a stream. It does not decompress: callers detect gzip
// themselves. A missing object or file matches fs.ErrNotExist.
func OpenReader(ctx context.Context, raw string, opt Options) (io.ReadCloser, error) {
	loc, err := ParseURL(raw)
	if err != nil {
		return nil, err
	}
	if err := opt.validate(loc, false); err != nil {
		return nil, err
	}
	if loc.Scheme == SchemeS3 && loc.Path == "" {
		return nil, invalid("url", "s3 url names no object key", quoteRedacted(raw))
	}
	switch loc.Scheme {
	case SchemeS3:
		d, err := newS3Dest(ctx, Location{Scheme: SchemeS3, Bucket: loc.Bucket}, opt.withDefaults())
		if err != nil {
			return nil, err
		}
		return d.open(ctx, loc.Path)
	default:
		return openFile(ctx, loc)
	}
}

// joinKey joins slash-separated key parts, skipping empty ones.
func joinKey(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		p = strings.Trim(p, "/")
		if p == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('/')
		}
		b.WriteString(p)
	}
	return b.String()
}

// checkKey rejects keys that would escape the destination or that a
// directory cannot hold.
func checkKey(key string) error {
	if key == "" {
		return invalid("key", "must not be empty", `""`)
	}
	for _, seg := range strings.Split(key, "/") {
		switch seg {
		case "", ".", "..":
			return invalid("key", `must not have empty, "." or ".." segments`, fmt.Sprintf("%q", key))
		}
	}
	return nil
}

// errAborted is returned by Close after Abort.
var errAborted = errors.New("object writer aborted")

// errWriterDone is returned by Write after Close or Abort.
var errWriterDone = errors.New("write to a closed object writer")
