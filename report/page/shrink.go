package page

import (
	"strconv"
	"unicode/utf8"
)

// shrinker copies one JSON value into a bounded form that is still valid
// JSON: strings past maxString bytes are cut with a marker saying how
// much was left out, members past the budget are dropped with a marker
// saying how many, and nesting past maxDepth is folded. Its input may be
// the head of a longer line (a line cut at the read bound): open strings
// and containers are then closed, so what a page shows is always
// parseable. The budget counts '<', '>' and '&' as the six bytes of the
// \u escapes the page's JSON block gives them, so it bounds the page.
type shrinker struct {
	in  []byte
	pos int

	out  []byte
	cost int

	maxString int
	budget    int
	maxDepth  int

	cut bool // something was left out
	bad bool // the input is not JSON
}

// shrink returns the bounded copy of the JSON value in, and whether
// anything was left out. ok is false when in is not JSON.
func shrink(dst, in []byte, maxString, budget int) (out []byte, cut, ok bool) {
	s := shrinker{in: in, out: dst, maxString: maxString, budget: budget, maxDepth: 32}
	s.ws()
	s.value(0)
	s.ws()
	if s.pos < len(s.in) {
		s.bad = true
	}
	return s.out, s.cut, !s.bad
}

func (s *shrinker) eof() bool { return s.pos >= len(s.in) }

func (s *shrinker) ws() {
	for s.pos < len(s.in) {
		switch s.in[s.pos] {
		case ' ', '\t', '\r', '\n':
			s.pos++
		default:
			return
		}
	}
}

// emit appends b to the output and counts its cost.
func (s *shrinker) emit(b ...byte) {
	s.out = append(s.out, b...)
	s.cost += len(b)
	for _, c := range b {
		if c == '<' || c == '>' || c == '&' {
			s.cost += 5
		}
	}
}

func (s *shrinker) emitString(str string) { s.emit([]byte(str)...) }

// value copies one value at depth (0 for the line itself).
func (s *shrinker) value(depth int) {
	if s.bad {
		return
	}
	if s.eof() {
		// The head of a cut line ends here: a null keeps the output valid.
		s.cut = true
		s.emitString("null")
		return
	}
	if depth > s.maxDepth {
		s.cut = true
		s.skipValue()
		s.emitString(`"…"`)
		return
	}
	switch c := s.in[s.pos]; c {
	case '{':
		s.container(depth, '{', '}')
	case '[':
		s.container(depth, '[', ']')
	case '"':
		// The line's own members (_id, change) are never cut: an id is
		// at most 512 bytes in Elasticsearch.
		limit := s.maxString
		if depth <= 1 {
			limit = max(limit, 4<<10)
		}
		s.str(limit)
	default:
		s.literal()
	}
}

// container copies an object or an array.
func (s *shrinker) container(depth int, open, close byte) {
	obj := open == '{'
	s.pos++
	s.emit(open)
	n, skipped := 0, 0
	for {
		s.ws()
		if s.eof() {
			s.cut = true
			break
		}
		if s.in[s.pos] == close {
			s.pos++
			break
		}
		if n+skipped > 0 {
			if s.in[s.pos] != ',' {
				s.bad = true
				return
			}
			s.pos++
			s.ws()
			if s.eof() {
				s.cut = true
				break
			}
		}
		if s.cost >= s.budget {
			// Over budget: skip the member, count it.
			if obj {
				if !s.skipString() {
					return
				}
				s.ws()
				if s.eof() {
					skipped++
					continue // the head ends in the key: closed below
				}
				if !s.expect(':') {
					return
				}
				s.ws()
			}
			if !s.skipValue() {
				return
			}
			skipped++
			continue
		}
		if n > 0 {
			s.emit(',')
		}
		if obj {
			if s.eof() || s.in[s.pos] != '"' {
				if !s.eof() {
					s.bad = true
					return
				}
				s.cut = true
				break
			}
			s.str(s.maxString)
			s.ws()
			if s.eof() {
				s.cut = true
				s.emitString(":null")
				n++
				break
			}
			if !s.expect(':') {
				return
			}
			s.emit(':')
			s.ws()
		}
		s.value(depth + 1)
		if s.bad {
			return
		}
		n++
	}
	if skipped > 0 {
		s.cut = true
		if n > 0 {
			s.emit(',')
		}
		more := "… " + strconv.Itoa(skipped) + " more"
		if obj {
			s.emitString(`"…":"` + more + ` members"`)
		} else {
			s.emitString(`"` + more + `"`)
		}
	}
	s.emit(close)
}

func (s *shrinker) expect(c byte) bool {
	if s.eof() || s.in[s.pos] != c {
		s.bad = true
		return false
	}
	s.pos++
	return true
}

// str copies a string, keeping at most limit bytes of its content. The
// cut never splits an escape or a UTF-8 sequence.
func (s *shrinker) str(limit int) {
	s.pos++ // the opening quote
	s.emit('"')
	start := s.pos
	kept, left := 0, 0
	for {
		if s.eof() {
			s.cut = true
			break
		}
		c := s.in[s.pos]
		if c == '"' {
			break
		}
		if c < 0x20 {
			s.bad = true
			return
		}
		n := 1
		if c == '\\' {
			n = 2
			if s.pos+1 < len(s.in) && s.in[s.pos+1] == 'u' {
				n = 6
			}
			if s.pos+n > len(s.in) {
				// An escape cut by the read bound: leave it out.
				s.pos = len(s.in)
				s.cut = true
				break
			}
		} else if c >= utf8.RuneSelf {
			_, n = utf8.DecodeRune(s.in[s.pos:])
		}
		if kept+n <= limit && left == 0 {
			kept += n
		} else {
			left += n
		}
		s.pos += n
	}
	end := start + kept
	s.emit(s.in[start:end]...)
	if left > 0 {
		s.cut = true
		s.emitString("… [" + strconv.Itoa(left) + " more bytes]")
	}
	s.emit('"')
	if !s.eof() {
		s.pos++ // the closing quote
	}
}

// literal copies a number, true, false or null. A number longer than
// any real one is given as a string of its head.
func (s *shrinker) literal() {
	start := s.pos
	for s.pos < len(s.in) {
		c := s.in[s.pos]
		if c == ',' || c == '}' || c == ']' || c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			break
		}
		if c == '"' || c == '{' || c == '[' || c == ':' {
			s.bad = true
			return
		}
		s.pos++
	}
	lit := s.in[start:s.pos]
	switch {
	case len(lit) == 0:
		s.bad = true
	case s.eof() && !isCompleteLiteral(lit):
		s.cut = true
		s.emitString("null")
	case len(lit) > 64:
		s.cut = true
		s.emitString(`"` + string(lit[:32]) + `…"`)
	default:
		s.emit(lit...)
	}
}

// isCompleteLiteral tells whether a literal at the end of a cut line is
// whole: a keyword is; a number may have lost digits, so it is not.
func isCompleteLiteral(lit []byte) bool {
	switch string(lit) {
	case "true", "false", "null":
		return true
	}
	return false
}

// skipString passes over a string without copying it.
func (s *shrinker) skipString() bool {
	if s.eof() {
		return true
	}
	if s.in[s.pos] != '"' {
		s.bad = true
		return false
	}
	s.pos++
	for s.pos < len(s.in) {
		switch s.in[s.pos] {
		case '\\':
			s.pos += 2
		case '"':
			s.pos++
			return true
		default:
			s.pos++
		}
	}
	s.pos = len(s.in)
	return true
}

// skipValue passes over one value without copying it. It reports false
// on a syntax error.
func (s *shrinker) skipValue() bool {
	depth := 0
	for s.pos < len(s.in) {
		switch c := s.in[s.pos]; c {
		case '"':
			if !s.skipString() {
				return false
			}
			if depth == 0 {
				return true
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return true // the end of the enclosing container
			}
			depth--
			if depth == 0 {
				s.pos++
				return true
			}
		case ',':
			if depth == 0 {
				return true
			}
		}
		s.pos++
	}
	return true
}
