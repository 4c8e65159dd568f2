package shell_test

import (
	"testing"

	"github.com/esrestore/esrestore/internal/shell"
)

func TestQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "''"},
		{"index:backup", "index:backup"},
		{"s3://bucket/a,b@c+d%e=f", "s3://bucket/a,b@c+d%e=f"},
		{"two words", "'two words'"},
		{"it's", `'it'\''s'`},
		{`{"term":{"site":"x"}}`, `'{"term":{"site":"x"}}'`},
		{"$HOME", "'$HOME'"},
	}
	for _, tt := range tests {
		if got := shell.Quote(tt.in); got != tt.want {
			t.Errorf("Quote(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
