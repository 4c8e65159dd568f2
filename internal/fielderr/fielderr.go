// Package fielderr is the error of an option a library refuses: it names
// the option as the library's Options do, so that a command can name it
// as the operator set it (a flag, a variable) without rewriting text.
package fielderr

import "fmt"

// Error is an option that is not valid: "field: reason (got value)".
type Error struct {
	// Field is the option as the library names it: "region", "kms key id".
	Field string
	// Reason says what is wrong. When it names other options, each is a %s
	// verb in it, filled from Mentions in order.
	Reason string
	// Mentions are the options Reason names.
	Mentions []Mention
	// Value is the value given, as it prints: quoted, a URL's user
	// information redacted, a secret never. "" prints no "(got …)".
	Value string
	// Err is a sentinel the error matches (errors.Is), not printed; nil
	// for none.
	Err error
}

// Mention is an option a Reason names.
type Mention struct {
	// Field is the option, as in Error.Field.
	Field string
	// Text is how the library words it: "sse", "the region option".
	Text string
}

// New returns an Error matching sentinel err; value is printed as is, so
// quote it.
func New(err error, field, reason, value string) *Error {
	return &Error{Field: field, Reason: reason, Value: value, Err: err}
}

func (e *Error) Error() string { return e.Named(nil) }

func (e *Error) Unwrap() error { return e.Err }

// Named is the message with the option and the options its reason names
// called by name (a flag, say) where name returns a name, and as the
// library words them where it returns "" or is nil.
func (e *Error) Named(name func(field string) string) string {
	called := func(field, text string) string {
		if name != nil {
			if n := name(field); n != "" {
				return n
			}
		}
		return text
	}
	reason := e.Reason
	if len(e.Mentions) > 0 {
		args := make([]any, len(e.Mentions))
		for i, m := range e.Mentions {
			args[i] = called(m.Field, m.Text)
		}
		reason = fmt.Sprintf(reason, args...)
	}
	msg := called(e.Field, e.Field) + ": " + reason
	if e.Value != "" {
		msg += " (got " + e.Value + ")"
	}
	return msg
}
