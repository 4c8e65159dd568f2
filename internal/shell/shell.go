// Package shell writes values into the command lines esrestore prints for
// an operator to paste.
package shell

import "strings"

// safe are the bytes a POSIX shell reads as themselves outside quotes.
const safe = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=,@+%"

// Quote returns s as one word of a POSIX shell: as it is when every byte is
// safe, else in single quotes, a single quote inside it closing the
// quotes, escaped, and opening them again.
func Quote(s string) string {
	if s != "" && strings.Trim(s, safe) == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
