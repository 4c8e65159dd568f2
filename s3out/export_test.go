package s3out

import "github.com/aws/aws-sdk-go-v2/service/s3"

// WithClientOptions returns o with fns applied to its S3 clients, so that
// tests can watch or steer requests.
func WithClientOptions(o Options, fns ...func(*s3.Options)) Options {
	o.clientOptions = append(o.clientOptions, fns...)
	return o
}
