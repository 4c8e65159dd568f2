package s3out_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/esrestore/esrestore/s3out"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		raw                  string
		scheme, bucket, path string
		str                  string // Location.String()
	}{
		{"s3://bucket/prefix", "s3", "bucket", "prefix", "s3://bucket/prefix"},
		{"s3://bucket", "s3", "bucket", "", "s3://bucket"},
		{"s3://bucket/", "s3", "bucket", "", "s3://bucket"},
		{"s3://my.bucket-1/a/b/", "s3", "my.bucket-1", "a/b", "s3://my.bucket-1/a/b"},
		{"S3://bucket/Key With Space", "s3", "bucket", "Key With Space", "s3://bucket/Key With Space"},
		{"s3://bucket/a%20b", "s3", "bucket", "a b", "s3://bucket/a b"},
		{"file:///var/reports", "file", "", "/var/reports", "file:///var/reports"},
		{"file://reports", "file", "", "reports", "file://reports"},
		{"file://reports/sub/", "file", "", "reports/sub", "file://reports/sub"},
		{"/var/reports/", "file", "", "/var/reports", "/var/reports"},
		{"esrestore-demo", "file", "", "esrestore-demo", "esrestore-demo"},
		{"./out/100%", "file", "", "out/100%", "out/100%"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			loc, err := s3out.ParseURL(tt.raw)
			if err != nil {
				t.Fatalf("ParseURL(%q): %v", tt.raw, err)
			}
			if loc.Scheme != tt.scheme || loc.Bucket != tt.bucket || loc.Path != tt.path {
				t.Errorf("got scheme %q bucket %q path %q, want %q %q %q", loc.Scheme, loc.Bucket, loc.Path, tt.scheme, tt.bucket, tt.path)
			}
			if got := loc.String(); got != tt.str {
				t.Errorf("got String() %q, want %q", got, tt.str)
			}
		})
	}
}

func TestParseURLInvalid(t *testing.T) {
	tests := []struct {
		name, raw string
		want      []string // in the message
		secret    string   // never in the message
	}{
		{"empty", "", []string{"url", "empty"}, ""},
		{"unknown scheme", "http://bucket/x", []string{"unknown scheme", `"http"`, "http://bucket/x"}, ""},
		{"unknown scheme gs", "gs://bucket", []string{`"gs"`}, ""},
		{"no slashes", "s3:bucket/x", []string{"want s3://", "s3:bucket/x"}, ""},
		{"unparseable", "s3://bucket/%zz", []string{"cannot parse", "%zz"}, ""},
		{"unparseable host", "s3://[bucket/x", []string{"cannot parse", "[bucket"}, ""},
		{"credentials", "s3://AKIAXXX:hunter2@bucket/x", []string{"credentials", "[redacted]"}, "hunter2"},
		{"query", "s3://bucket/x?versionId=1", []string{"query", "versionId"}, ""},
		{"no bucket", "s3:///prefix", []string{"s3 bucket", "missing"}, ""},
		{"uppercase", "s3://MyBucket/x", []string{"s3 bucket", "lowercase", `"MyBucket"`}, ""},
		{"underscore", "s3://my_bucket/x", []string{"s3 bucket", `"my_bucket"`}, ""},
		{"too short", "s3://ab/x", []string{"s3 bucket", "3 to 63", `"ab"`}, ""},
		{"too long", "s3://" + strings.Repeat("a", 64), []string{"s3 bucket", "3 to 63"}, ""},
		{"ip address", "s3://192.168.5.4/x", []string{"s3 bucket", "IP address", `"192.168.5.4"`}, ""},
		{"leading hyphen", "s3://-bucket/x", []string{"s3 bucket", "begin and end", `"-bucket"`}, ""},
		{"trailing dot", "s3://bucket./x", []string{"s3 bucket", "begin and end"}, ""},
		{"adjacent dots", "s3://my..bucket/x", []string{"s3 bucket", "adjacent dots"}, ""},
		{"reserved prefix", "s3://xn--bucket/x", []string{"s3 bucket", `"xn--"`}, ""},
		{"reserved suffix", "s3://bucket-s3alias/x", []string{"s3 bucket", `"-s3alias"`}, ""},
		{"port", "s3://bucket:9000/x", []string{"s3 bucket", `"bucket:9000"`}, ""},
		{"empty file url", "file://", []string{"names no directory"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loc, err := s3out.ParseURL(tt.raw)
			if err == nil {
				t.Fatalf("ParseURL(%q) = %+v, want an error", tt.raw, loc)
			}
			if !errors.Is(err, s3out.ErrInvalid) {
				t.Errorf("got %v, want it to match ErrInvalid", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got %q, want it to contain %q", err, w)
				}
			}
			if tt.secret != "" && strings.Contains(err.Error(), tt.secret) {
				t.Errorf("got %q, which leaks %q", err, tt.secret)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	isolateAWS(t)
	file := filepath.Join(t.TempDir(), "regular-file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	s3 := "s3://bucket/prefix"
	tests := []struct {
		name string
		url  string
		opt  func(*s3out.Options)
		env  map[string]string
		want []string // one entry per expected problem; nil = valid
	}{
		{name: "defaults with region", url: s3, opt: func(o *s3out.Options) { o.Region = "eu-west-1" }},
		{name: "region from env", url: s3, env: map[string]string{"AWS_REGION": "eu-west-1"}},
		{name: "endpoint without region", url: s3, opt: func(o *s3out.Options) { o.Endpoint = "http://127.0.0.1:9000" }},
		{name: "kms with key", url: s3, opt: func(o *s3out.Options) { o.Region = "eu-west-1"; o.SSE = s3out.SSEKMS; o.KMSKeyID = "alias/reports" }},
		{name: "file", url: t.TempDir() + "/new/dir"},
		{name: "file ignores s3 options", url: t.TempDir(), opt: func(o *s3out.Options) { o.SSE = s3out.SSEAES256 }},
		{
			name: "no region no endpoint", url: s3,
			want: []string{`region: required for s3 without an endpoint: set AWS_REGION, a profile's region or the region option (got "")`},
		},
		{
			name: "bad sse", url: s3, opt: func(o *s3out.Options) { o.Region = "eu-west-1"; o.SSE = "aes256" },
			want: []string{`sse: must be "AES256" or "aws:kms" or empty (got "aes256")`},
		},
		{
			name: "kms key without kms", url: s3, opt: func(o *s3out.Options) { o.Region = "eu-west-1"; o.SSE = s3out.SSEAES256; o.KMSKeyID = "k" },
			want: []string{`kms key id: needs sse "aws:kms" (got sse "AES256")`},
		},
		{
			name: "everything wrong at once", url: s3,
			opt: func(o *s3out.Options) {
				o.SSE = "kms"
				o.PartSize = 1 << 20
				o.MaxObjectSize = -1
				o.Concurrency = -2
				o.Endpoint = "ftp://host"
				o.Region = "EU West"
			},
			want: []string{
				"part size: must be between 5242880 (5 MiB) and 5368709120 (5 GiB) bytes (got 1048576)",
				"max object size: must be between 0 (default) and 5497558138880 (5 TiB) bytes (got -1)",
				"concurrency: must be 0 (default) or more (got -2)",
				`sse: must be "AES256" or "aws:kms" or empty (got "kms")`,
				`region: is not a region name such as eu-west-1 (got "EU West")`,
				`endpoint: must be an http:// or https:// url (got "ftp://host")`,
			},
		},
		{
			name: "endpoint with credentials", url: s3, opt: func(o *s3out.Options) { o.Endpoint = "https://user:hunter2@minio:9000" },
			want: []string{`endpoint: must not carry credentials; they come from the AWS default chain (got "https://[redacted]@minio:9000")`},
		},
		{
			name: "dir under a regular file", url: "file://" + file + "/reports",
			want: []string{`output dir: cannot be created: "` + file + `" is not a directory (got "` + file + `/reports")`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			loc, err := s3out.ParseURL(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			opt := s3out.NewOptions()
			if tt.opt != nil {
				tt.opt(&opt)
			}
			err = opt.Validate(loc)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
				return
			}
			if !errors.Is(err, s3out.ErrInvalid) {
				t.Fatalf("got %v, want an error matching ErrInvalid", err)
			}
			got := strings.Split(err.Error(), "\n")
			if len(got) != len(tt.want) {
				t.Errorf("got %d problems, want %d:\n%s", len(got), len(tt.want), err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got\n%s\nwant a line %q", err, w)
				}
			}
			// Open refuses the same configuration before any I/O.
			if _, err := s3out.Open(t.Context(), tt.url, opt); !errors.Is(err, s3out.ErrInvalid) {
				t.Errorf("Open: got %v, want an error matching ErrInvalid", err)
			}
		})
	}
}

func TestEffectivePartSize(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name              string
		partSize, maxSize int64
		want              int64
	}{
		{"defaults: 1 TiB in 10,000 parts", 0, 0, 105 * mib},
		{"small objects keep the minimum", 0, 10 << 30, 5 * mib},
		{"a larger part size is kept", 64 * mib, 10 << 30, 64 * mib},
		{"grown past a small part size", 5 * mib, 1 << 40, 105 * mib},
		{"5 TiB", 0, 5 << 40, 525 * mib},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := s3out.Options{PartSize: tt.partSize, MaxObjectSize: tt.maxSize}
			got := o.EffectivePartSize()
			if got != tt.want {
				t.Errorf("got %d MiB, want %d MiB", got/mib, tt.want/mib)
			}
			maxSize := tt.maxSize
			if maxSize == 0 {
				maxSize = s3out.DefaultMaxObjectSize
			}
			if got*s3out.MaxParts < maxSize {
				t.Errorf("%d parts of %d bytes cover %d bytes, want at least %d", s3out.MaxParts, got, got*s3out.MaxParts, maxSize)
			}
		})
	}
}

func TestNewReportRejectsBadNames(t *testing.T) {
	d, err := s3out.Open(t.Context(), t.TempDir(), s3out.NewOptions())
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ original, runID, want string }{
		{"", "run", `original: must be a non-empty name without "/" (got "")`},
		{"docs", "a/b", `run id: must be a non-empty name without "/" (got "a/b")`},
		{"..", "run", `original: must be a non-empty name without "/" (got "..")`},
	} {
		r := s3out.NewReport(t.Context(), d, tt.original, tt.runID)
		_, diffErr := r.Diff()
		sumErr := r.WriteSummary(t.Context(), map[string]bool{"complete": false})
		for _, err := range []error{diffErr, sumErr, r.Preflight(t.Context())} {
			if !errors.Is(err, s3out.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want %q matching ErrInvalid", err, tt.want)
			}
		}
	}
}
