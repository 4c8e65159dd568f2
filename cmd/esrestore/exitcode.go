package main

import (
	"context"
	"errors"

	"github.com/esrestore/esrestore/internal/dump"
)

// Exit codes, repeated in every command's -h.
const (
	exitOK          = 0   // done
	exitError       = 1   // error
	exitUsage       = 2   // usage or configuration
	exitFailOn      = 3   // finished, but the verdict has a --fail-on reason
	exitInterrupted = 130 // interrupted (SIGINT/SIGTERM)
)

const exitCodesHelp = `Exit codes:
  0    done
  1    error
  2    usage or configuration
  3    finished, but the verdict has a --fail-on reason (documents failed,
       would be removed or overwritten, or were not recovered)
  130  interrupted (SIGINT/SIGTERM)
`

// exitError carries the exit code a command ends with.
type exitErr struct {
	code int
	err  error
	// reported is set when the command already told the user (the
	// verdict line), so main does not print the error again.
	reported bool
}

func (e *exitErr) Error() string { return e.err.Error() }
func (e *exitErr) Unwrap() error { return e.err }

// usageError marks a usage or configuration error (exit 2).
func usageError(err error) error { return &exitErr{code: exitUsage, err: err} }

// exitCode maps a command's error to the process exit code.
func exitCode(err error) int {
	var e *exitErr
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &e):
		return e.code
	case errors.Is(err, context.Canceled):
		return exitInterrupted
	case errors.Is(err, dump.ErrCorrupt):
		// No retry reads a cut or damaged file to its end.
		return exitUsage
	}
	return exitError
}
