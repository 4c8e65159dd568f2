package fielderr_test

import (
	"errors"
	"testing"

	"github.com/esrestore/esrestore/internal/fielderr"
)

var errBad = errors.New("invalid configuration")

func TestNamed(t *testing.T) {
	flags := func(field string) string {
		return map[string]string{"kms key id": "--s3-kms-key-id", "sse": "--s3-sse"}[field]
	}
	e := &fielderr.Error{Field: "kms key id", Reason: `needs %s "aws:kms"`, Mentions: []fielderr.Mention{{Field: "sse", Text: "sse"}},
		Value: `sse "AES256"`, Err: errBad}
	for _, tt := range []struct{ got, want string }{
		{e.Error(), `kms key id: needs sse "aws:kms" (got sse "AES256")`},
		{e.Named(flags), `--s3-kms-key-id: needs --s3-sse "aws:kms" (got sse "AES256")`},
		{e.Named(func(string) string { return "" }), e.Error()},
		{fielderr.New(errBad, "original", "required", "").Error(), "original: required"},
		{fielderr.New(errBad, "ttl", "must be at least 1s", "0s").Named(flags), "ttl: must be at least 1s (got 0s)"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
	var fe *fielderr.Error
	if err := error(e); !errors.Is(err, errBad) || !errors.As(err, &fe) || fe.Field != "kms key id" {
		t.Errorf("errors.Is/As on %v: want the sentinel and the field", err)
	}
}
