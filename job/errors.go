package job

import (
	"context"
	"errors"
	"fmt"

	"github.com/esrestore/esrestore/internal/retry"
)

// Kind says how a job's error ends the command: each kind is one exit
// code of esrestore.
type Kind int

const (
	// Failed is a job that failed where a later attempt may pass.
	Failed Kind = iota + 1
	// Misconfigured is a job its configuration or a guard rail refused.
	Misconfigured
	// FailOn is a job that finished with a verdict reason Config.FailOn
	// names: its report is complete, the verdict tells the operator.
	FailOn
	// Interrupted is a job whose context was cancelled (SIGINT, SIGTERM).
	Interrupted
)

// Error is a job's error of a given Kind.
type Error struct {
	Kind Kind
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// KindOf is the kind of a job's error: that of the outermost Error in
// it, else Interrupted for a cancelled context, else Failed; 0 for nil.
func KindOf(err error) Kind {
	var e *Error
	switch {
	case err == nil:
		return 0
	case errors.As(err, &e):
		return e.Kind
	case errors.Is(err, context.Canceled):
		return Interrupted
	}
	return Failed
}

// misconfigured marks a usage or configuration error.
func misconfigured(err error) error { return &Error{Kind: Misconfigured, Err: err} }

// isInterrupted reports whether err ends the job as interrupted.
func isInterrupted(err error) bool { return KindOf(err) == Interrupted }

// GuardError marks a failed guard rail: a configuration problem, unless
// it is transient (Elasticsearch unreachable, 5xx, timeouts past the
// retry budget): a later pod may pass it, so it is a failure.
func GuardError(err error) error {
	if retry.IsTransient(err) {
		return err
	}
	return misconfigured(err)
}

// Interruption marks an error after a SIGINT/SIGTERM as an
// interruption.
func Interruption(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil {
		return &Error{Kind: Interrupted, Err: fmt.Errorf("interrupted: %w", err)}
	}
	return err
}
