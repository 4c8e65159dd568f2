package redact_test

import (
	"testing"

	"github.com/esrestore/esrestore/internal/redact"
)

func TestURLs(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"documents", "documents"},
		{"https://es:9200", "https://es:9200"},
		{"https://alice:s3cret@es:9200/idx", "https://[redacted]@es:9200/idx"},
		{"https://alice@es:9200", "https://[redacted]@es:9200"},
		{"s3://AKIAXXX:hunter2@bucket/x", "s3://[redacted]@bucket/x"},
		{"http://u:p@ss@es:9200", "http://[redacted]@es:9200"},
		{"http://u:p@h1:9200,http://h2:9200,https://v:q@h3", "http://[redacted]@h1:9200,http://h2:9200,https://[redacted]@h3"},
		{"http://h1,http://u:p@h2/x", "http://h1,http://[redacted]@h2/x"},
		{`get "https://u:p@es:9200/_search?q=a@b": refused`, `get "https://[redacted]@es:9200/_search?q=a@b": refused`},
		{"file:///tmp/a@b.ndjson", "file:///tmp/a@b.ndjson"},
		{"mail a@b then http://x:y@z", "mail a@b then http://[redacted]@z"},
		{"://u:p@h", "://u:p@h"},
		{"http://u:p@ho st", "http://[redacted]@ho st"},
		{"HTTPS://U:P@ES", "HTTPS://[redacted]@ES"},
	}
	for _, tt := range tests {
		if got := redact.URLs(tt.in); got != tt.want {
			t.Errorf("URLs(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
