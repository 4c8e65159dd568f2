package s3out

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/esrestore/esrestore/internal/fielderr"
	"github.com/esrestore/esrestore/internal/redact"
)

// Errors returned (wrapped) by this package; check them with errors.Is.
var (
	// ErrInvalid marks a configuration error: a bad URL or option, found
	// before any I/O.
	ErrInvalid = errors.New("invalid configuration")
	// ErrNoSuchBucket: the bucket does not exist.
	ErrNoSuchBucket = errors.New("no such bucket")
	// ErrAccessDenied: the credentials lack a permission; the message names
	// the action (s3:PutObject, …).
	ErrAccessDenied = errors.New("access denied")
	// ErrSignatureMismatch: the server computed another request signature,
	// usually a wrong secret access key.
	ErrSignatureMismatch = errors.New("signature mismatch (wrong secret access key?)")
	// ErrInvalidAccessKey: the server does not know the access key id.
	ErrInvalidAccessKey = errors.New("invalid access key id")
	// ErrNoCredentials: the default chain found no credentials.
	ErrNoCredentials = errors.New("no aws credentials (default chain: env, shared config, web identity, instance role)")
	// ErrUnreachable: no connection to the endpoint.
	ErrUnreachable = errors.New("endpoint unreachable")
	// ErrRegionMismatch: the bucket lives in another region than the one
	// requests are signed for.
	ErrRegionMismatch = errors.New("region mismatch")
)

// invalid returns a configuration error naming the option field; got is
// printed as is, so quote it.
func invalid(field, reason, got string) error {
	return fielderr.New(ErrInvalid, field, reason, got)
}

// quoteRedacted quotes a URL-like value for an error, its user info
// hidden, so that a password typed into a URL never reaches an error or a
// log.
func quoteRedacted(raw string) string { return strconv.Quote(redact.URLs(raw)) }

// s3Error is a failed S3 request: the kind of failure, then the SDK's error.
type s3Error struct {
	kind   error  // one of the sentinels above
	detail string // what the kind is about, e.g. the bucket or the action
	err    error  // the SDK error
}

func (e *s3Error) Error() string {
	msg := e.kind.Error()
	if e.detail != "" {
		msg += " " + e.detail
	}
	return msg + ": " + e.err.Error()
}

func (e *s3Error) Unwrap() []error { return []error{e.kind, e.err} }

// classify names the failure of an S3 request for action (an IAM action
// such as "s3:PutObject") on bucket, so that a misconfiguration reads as
// one. Errors it cannot name are returned as they are.
func classify(err error, action, bucket, region string) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err // the caller's doing, not the endpoint's
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchKey", "NotFound":
			return &s3Error{kind: errNoSuchKey, err: err}
		case "NoSuchBucket":
			return &s3Error{kind: ErrNoSuchBucket, detail: fmt.Sprintf("%q", bucket), err: err}
		case "AccessDenied", "AllAccessDisabled", "Forbidden", "AccountProblem":
			return &s3Error{kind: ErrAccessDenied, detail: "for " + action, err: err}
		case "SignatureDoesNotMatch":
			return &s3Error{kind: ErrSignatureMismatch, err: err}
		case "InvalidAccessKeyId", "XAdminUserNotFound": // AWS, versitygw
			return &s3Error{kind: ErrInvalidAccessKey, err: err}
		case "PermanentRedirect", "IllegalLocationConstraintException":
			return &s3Error{kind: ErrRegionMismatch, detail: regionDetail(err, bucket, region), err: err}
		case "AuthorizationHeaderMalformed":
			if strings.Contains(ae.ErrorMessage(), "region") {
				return &s3Error{kind: ErrRegionMismatch, detail: regionDetail(err, bucket, region), err: err}
			}
		}
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() == 301 {
		return &s3Error{kind: ErrRegionMismatch, detail: regionDetail(err, bucket, region), err: err}
	}
	var ne net.Error
	var oe *net.OpError
	var de *net.DNSError
	if errors.As(err, &de) || (errors.As(err, &oe) && oe.Op == "dial") || (errors.As(err, &ne) && ne.Timeout()) {
		return &s3Error{kind: ErrUnreachable, err: err}
	}
	if isNoCredentials(err) {
		return &s3Error{kind: ErrNoCredentials, err: err}
	}
	return err
}

// expectingRE finds the region in "the region 'us-east-1' is wrong;
// expecting 'eu-west-1'".
var expectingRE = regexp.MustCompile(`expecting ['"]([a-z0-9-]+)['"]`)

// regionDetail says where the bucket is when the response told us.
func regionDetail(err error, bucket, region string) string {
	var got string
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		got = re.Response.Header.Get("X-Amz-Bucket-Region")
	}
	if m := expectingRE.FindStringSubmatch(err.Error()); got == "" && m != nil {
		got = m[1]
	}
	if got != "" && got != region {
		return fmt.Sprintf("(bucket %q is in %q, requests signed for %q)", bucket, got, region)
	}
	return fmt.Sprintf("(bucket %q, requests signed for %q)", bucket, region)
}

// isNoCredentials reports whether the SDK failed to find credentials.
func isNoCredentials(err error) bool {
	// The SDK wraps a failed credential retrieval in an unexported type
	// whose message is stable across versions.
	return strings.Contains(err.Error(), "failed to retrieve credentials") ||
		strings.Contains(err.Error(), "failed to refresh cached credentials")
}
