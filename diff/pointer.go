package diff

import (
	"errors"
	"fmt"
	"strings"

	"github.com/esrestore/esrestore/internal/jsonscan"
)

// ErrBadPointer is wrapped by the error for an ignore pattern that is not a
// JSON Pointer.
var ErrBadPointer = errors.New("bad JSON Pointer")

// MaxIgnore is the most ignore patterns one diff takes.
const MaxIgnore = 64

// Pointer is a parsed ignore pattern: an RFC 6901 JSON Pointer whose "*"
// segments match any one object member or array element.
type Pointer struct {
	text string
	segs []string // unescaped
}

// String returns the pattern as it was written.
func (p Pointer) String() string { return p.text }

// ParsePointer parses an ignore pattern such as "/modified" or
// "/tags/*/id". It must start with "/"; "~0" and "~1" stand for "~" and "/"
// in a member name as in RFC 6901. A segment that is exactly "*" matches any
// one member or element; a numeric segment also matches that array index.
func ParsePointer(s string) (Pointer, error) {
	if !strings.HasPrefix(s, "/") {
		return Pointer{}, fmt.Errorf("%w %q: must start with \"/\"", ErrBadPointer, s)
	}
	raw := strings.Split(s[1:], "/")
	segs := make([]string, len(raw))
	for i, seg := range raw {
		for j := 0; j < len(seg); j++ {
			if seg[j] == '~' && (j+1 == len(seg) || (seg[j+1] != '0' && seg[j+1] != '1')) {
				return Pointer{}, fmt.Errorf("%w %q: \"~\" must be followed by 0 or 1", ErrBadPointer, s)
			}
		}
		segs[i] = strings.NewReplacer("~1", "/", "~0", "~").Replace(seg)
	}
	return Pointer{text: s, segs: segs}, nil
}

// ParsePointers parses every pattern and reports every bad one at once.
func ParsePointers(patterns []string) ([]Pointer, error) {
	var errs []error
	out := make([]Pointer, 0, len(patterns))
	seen := map[string]bool{}
	for _, s := range patterns {
		p, err := ParsePointer(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if seen[s] {
			continue
		}
		seen[s] = true
		out = append(out, p)
	}
	if len(out) > MaxIgnore {
		errs = append(errs, fmt.Errorf("%w: %d ignore patterns, at most %d", ErrBadPointer, len(out), MaxIgnore))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// decoder returns a JSON decoder that leaves out what the patterns match;
// with borrow set, decoded strings point into the decoded bytes.
func decoder(ignore []Pointer, borrow bool) jsonscan.Decoder {
	paths := make([][]string, len(ignore))
	for i, p := range ignore {
		paths[i] = p.segs
	}
	return jsonscan.Decoder{Borrow: borrow, Ignore: paths}
}
