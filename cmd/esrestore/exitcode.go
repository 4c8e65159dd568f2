package main

import (
	"context"
	"errors"

	"github.com/esrestore/esrestore/internal/dump"
	"github.com/esrestore/esrestore/job"
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
	var je *job.Error
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &e):
		return e.code
	case errors.As(err, &je):
		return jobExit[je.Kind]
	case errors.Is(err, context.Canceled):
		return exitInterrupted
	case errors.Is(err, dump.ErrCorrupt):
		// No retry reads a cut or damaged file to its end.
		return exitUsage
	}
	return exitError
}

// jobExit is the exit code of each kind of a job's error.
var jobExit = map[job.Kind]int{
	job.Failed:        exitError,
	job.Misconfigured: exitUsage,
	job.FailOn:        exitFailOn,
	job.Interrupted:   exitInterrupted,
}

// told reports whether the operator was told err already: the command
// printed it before the verdict, or it is a --fail-on outcome, which the
// verdict tells.
func told(err error) bool {
	var e *exitErr
	if errors.As(err, &e) {
		return e.reported
	}
	var je *job.Error
	return errors.As(err, &je) && je.Kind == job.FailOn
}
