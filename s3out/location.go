package s3out

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/esrestore/esrestore/internal/fielderr"
)

// Schemes of a Location.
const (
	SchemeS3   = "s3"
	SchemeFile = "file"
)

// Location is a parsed destination or object URL.
type Location struct {
	// Scheme is SchemeS3 or SchemeFile.
	Scheme string
	// Bucket is the S3 bucket; "" for files.
	Bucket string
	// Path is the S3 key or key prefix, without leading or trailing
	// slashes, or the filesystem path (cleaned).
	Path string
	// fileURL records that a file location was written as file://, so
	// URLs are printed back the way the user wrote them.
	fileURL bool
}

// String is the location as a URL (s3://bucket/path, file://path) or a
// plain path.
func (l Location) String() string {
	switch {
	case l.Scheme == SchemeS3:
		return "s3://" + joinKey(l.Bucket, l.Path)
	case l.fileURL:
		return "file://" + l.Path
	default:
		return l.Path
	}
}

// schemeRE matches a URL scheme; one letter is left to paths (C:).
var schemeRE = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]+):`)

// ParseURL parses s3://bucket/prefix, file://dir or a plain path, without
// any I/O. Bucket names are checked against the AWS naming rules. Every
// error matches ErrInvalid and names the value.
func ParseURL(raw string) (Location, error) {
	if raw == "" {
		return Location{}, invalid("url", "must not be empty", `""`)
	}
	m := schemeRE.FindStringSubmatch(raw)
	if m == nil {
		return Location{Scheme: SchemeFile, Path: filepath.Clean(raw)}, nil
	}
	scheme := strings.ToLower(m[1])
	if scheme != SchemeS3 && scheme != SchemeFile {
		return Location{}, invalid("url", fmt.Sprintf("unknown scheme %q, want s3://bucket/prefix, file://dir or a path", scheme), quoteRedacted(raw))
	}
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the raw URL, user info and all
		}
		return Location{}, invalid("url", "cannot parse: "+err.Error(), quoteRedacted(raw))
	}
	switch {
	case u.Opaque != "" || !strings.HasPrefix(raw[len(scheme)+1:], "//"):
		return Location{}, invalid("url", fmt.Sprintf("want %s://…", scheme), quoteRedacted(raw))
	case u.User != nil:
		return Location{}, invalid("url", "must not carry credentials; they come from the AWS default chain", quoteRedacted(raw))
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return Location{}, invalid("url", "must not have a query or a fragment", quoteRedacted(raw))
	}
	if scheme == SchemeFile {
		// file://dir is a relative directory, file:///dir an absolute one.
		p := u.Host + u.Path
		if p == "" {
			return Location{}, invalid("url", "file url names no directory", quoteRedacted(raw))
		}
		return Location{Scheme: SchemeFile, Path: filepath.Clean(p), fileURL: true}, nil
	}
	if err := checkBucket(u.Host); err != nil {
		return Location{}, err
	}
	return Location{Scheme: SchemeS3, Bucket: u.Host, Path: strings.Trim(u.Path, "/")}, nil
}

var (
	bucketCharsRE = regexp.MustCompile(`^[a-z0-9.-]+$`)
	ipv4RE        = regexp.MustCompile(`^\d+\.\d+\.\d+\.\d+$`)
)

// checkBucket applies the general purpose bucket naming rules:
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
func checkBucket(b string) error {
	bad := func(reason string) error {
		return invalid("s3 bucket", reason, fmt.Sprintf("%q", b))
	}
	switch {
	case b == "":
		return bad("missing: want s3://bucket/prefix")
	case len(b) < 3 || len(b) > 63:
		return bad("must be 3 to 63 characters long")
	case !bucketCharsRE.MatchString(b):
		return bad("may hold only lowercase letters, digits, dots and hyphens")
	case !isAlnum(b[0]) || !isAlnum(b[len(b)-1]):
		return bad("must begin and end with a letter or a digit")
	case strings.Contains(b, ".."):
		return bad("must not have two adjacent dots")
	case ipv4RE.MatchString(b) || net.ParseIP(b) != nil:
		return bad("must not look like an IP address")
	}
	for _, p := range []string{"xn--", "sthree-", "amzn-s3-demo-"} {
		if strings.HasPrefix(b, p) {
			return bad(fmt.Sprintf("must not begin with %q", p))
		}
	}
	for _, s := range []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"} {
		if strings.HasSuffix(b, s) {
			return bad(fmt.Sprintf("must not end with %q", s))
		}
	}
	return nil
}

func isAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

var regionRE = regexp.MustCompile(`^[a-z0-9-]+$`)

// Validate reports every problem of o for loc at once (errors.Join), each
// as "field: reason (got value)" matching ErrInvalid. For S3 it reads the
// SDK's configuration (environment and shared config files, no network) to
// find the region; for a directory it checks that the path could be
// created, without creating anything.
func (o Options) Validate(loc Location) error {
	return o.validate(loc, true)
}

// validate is Validate; output says whether loc is to be written to.
func (o Options) validate(loc Location, output bool) error {
	var errs []error
	add := func(field, reason, got string) { errs = append(errs, invalid(field, reason, got)) }

	if o.PartSize != 0 && (o.PartSize < MinPartSize || o.PartSize > MaxPartSize) {
		add("part size", fmt.Sprintf("must be between %d (5 MiB) and %d (5 GiB) bytes", MinPartSize, MaxPartSize), fmt.Sprint(o.PartSize))
	}
	if o.MaxObjectSize < 0 || o.MaxObjectSize > MaxS3ObjectSize {
		add("max object size", fmt.Sprintf("must be between 0 (default) and %d (5 TiB) bytes", MaxS3ObjectSize), fmt.Sprint(o.MaxObjectSize))
	}
	if o.Concurrency < 0 {
		add("concurrency", "must be 0 (default) or more", fmt.Sprint(o.Concurrency))
	}
	switch o.SSE {
	case SSENone, SSEAES256, SSEKMS:
	default:
		add("sse", fmt.Sprintf("must be %q or %q or empty", SSEAES256, SSEKMS), fmt.Sprintf("%q", o.SSE))
	}
	if o.KMSKeyID != "" && o.SSE != SSEKMS {
		errs = append(errs, &fielderr.Error{Field: "kms key id", Reason: "needs %s " + strconv.Quote(SSEKMS),
			Mentions: []fielderr.Mention{{Field: "sse", Text: "sse"}}, Value: fmt.Sprintf("sse %q", o.SSE), Err: ErrInvalid})
	}
	if o.Region != "" && !regionRE.MatchString(o.Region) {
		add("region", "is not a region name such as eu-west-1", fmt.Sprintf("%q", o.Region))
	}
	if o.Endpoint != "" {
		if u, err := url.Parse(o.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("endpoint", "must be an http:// or https:// url", quoteRedacted(o.Endpoint))
		} else if u.User != nil {
			add("endpoint", "must not carry credentials; they come from the AWS default chain", quoteRedacted(o.Endpoint))
		}
	}

	switch loc.Scheme {
	case SchemeS3:
		if o.Region == "" && o.Endpoint == "" {
			region, err := defaultRegion()
			switch {
			case err != nil:
				add("aws config", err.Error(), "the default chain's files")
			case region == "":
				errs = append(errs, &fielderr.Error{Field: "region", Reason: "required for s3 without an endpoint: set AWS_REGION, a profile's region or %s",
					Mentions: []fielderr.Mention{{Field: "region", Text: "the region option"}}, Value: `""`, Err: ErrInvalid})
			}
		}
	case SchemeFile:
		if output {
			if err := checkDirCreatable(loc.Path); err != nil {
				errs = append(errs, err)
			}
		}
	default:
		add("url", "unknown scheme", fmt.Sprintf("%q", loc.Scheme))
	}
	return errors.Join(errs...)
}

// defaultRegion is the region the SDK's default chain finds.
func defaultRegion() (string, error) {
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		return "", err
	}
	return cfg.Region, nil
}

// checkDirCreatable finds the nearest existing ancestor of dir and checks
// that it is a directory (MkdirAll would fail under a regular file).
func checkDirCreatable(dir string) error {
	for p := dir; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		switch {
		case err == nil && fi.IsDir():
			return nil
		case err == nil:
			return invalid("output dir", fmt.Sprintf("cannot be created: %q is not a directory", p), fmt.Sprintf("%q", dir))
		case !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR):
			return invalid("output dir", fmt.Sprintf("cannot be created: %v", err), fmt.Sprintf("%q", dir))
		}
		if parent := filepath.Dir(p); parent == p {
			return nil
		}
	}
}
