// Package redact hides secrets in what esrestore prints: logs, errors, the
// summary, the report page and the command lines it suggests. Every hidden
// value reads Marker, so one search finds them all.
package redact

import "strings"

// Marker stands for a hidden value: a secret flag's value, or the
// user:password of a URL.
const Marker = "[redacted]"

// URLs returns s with the user information (user:password@) of every URL
// in it replaced by Marker: "https://[redacted]@es:9200". s may be one URL,
// a comma-separated list of them or any text that holds some. A URL is a
// scheme followed by "://"; its user information ends at the last "@"
// before the path, query, fragment or the next blank, so a password
// holding "@" is hidden whole.
func URLs(s string) string {
	var b strings.Builder
	rest := s
	for {
		i := strings.Index(rest, "://")
		if i < 0 {
			break
		}
		authority := rest[i+3:]
		if !hasScheme(rest[:i]) {
			b.WriteString(rest[:i+3])
			rest = authority
			continue
		}
		end := strings.IndexFunc(authority, func(r rune) bool {
			return r == '/' || r == '?' || r == '#' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
		})
		if end < 0 {
			end = len(authority)
		}
		at := strings.LastIndex(authority[:end], "@")
		if at < 0 {
			b.WriteString(rest[:i+3])
			rest = authority
			continue
		}
		b.WriteString(rest[:i+3])
		b.WriteString(Marker)
		rest = authority[at:]
	}
	if b.Len() == 0 {
		return s
	}
	b.WriteString(rest)
	return b.String()
}

// hasScheme reports whether before ends with a URL scheme: a letter, then
// letters, digits, "+", "-" or ".".
func hasScheme(before string) bool {
	start := len(before)
	for start > 0 {
		c := before[start-1]
		if isLetter(c) || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.' {
			start--
			continue
		}
		break
	}
	for start < len(before) && !isLetter(before[start]) {
		start++ // a scheme starts with a letter: "1http://" has scheme "http"
	}
	return start < len(before)
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
