package restore

import (
	"errors"

	"github.com/esrestore/esrestore/internal/elastic"
)

// Errors a Restorer returns, wrapped with the object they concern; check
// them with errors.Is.
var (
	// ErrInvalidOptions is a bad field in Options.
	ErrInvalidOptions = errors.New("invalid options")
	// ErrUnreachable means Elasticsearch did not answer (connection refused,
	// DNS, TLS, timeout) or answered as something else.
	ErrUnreachable = elastic.ErrUnreachable
	// ErrUnauthorized is a 401: missing or wrong credentials.
	ErrUnauthorized = elastic.ErrUnauthorized
	// ErrForbidden is a 403: the user lacks a privilege for an action.
	ErrForbidden = elastic.ErrForbidden
	// ErrOriginalMissing means the original index does not exist.
	ErrOriginalMissing = errors.New("original index not found")
	// ErrTargetIsOriginal means the target names the original index or one
	// of its aliases: restoring into it would write to the original.
	ErrTargetIsOriginal = errors.New("target is the original index or one of its aliases")
	// ErrTargetExists means the target exists and is not this run's (its
	// _meta.esrestore.run_id differs or is absent).
	ErrTargetExists = errors.New("target index already exists")
	// ErrSourceMissing means the source index, repository, snapshot or the
	// index inside the snapshot does not exist.
	ErrSourceMissing = errors.New("source not found")
	// ErrSourceIsTarget means the source index is the target itself.
	ErrSourceIsTarget = errors.New("source is the target index")
	// ErrSourceDisabled means an index to read has _source disabled, so its
	// documents cannot be copied.
	ErrSourceDisabled = errors.New("_source is disabled")
	// ErrBulk means a _bulk request kept failing as a whole (transport
	// errors, 429 or 5xx past the retry budget, or an answer that cannot be
	// read); the run stops and can be resumed.
	ErrBulk = errors.New("bulk request failed")
	// ErrInvariant means the counts do not add up at the end: read !=
	// indexed + kept + failed, or the target's _count disagrees.
	ErrInvariant = errors.New("restore counts do not add up")
	// ErrResumeMismatch means the target is this run's, but the run that
	// made it was configured otherwise (mode, prefer, source, original or
	// ignore patterns): resuming would mix two restores in one index.
	ErrResumeMismatch = errors.New("resume with a different configuration")
	// ErrIndexClosed means the original or the source index is closed:
	// nothing can read it until it is opened again.
	ErrIndexClosed = errors.New("index is closed")
	// ErrFilteredAlias means the original is an alias with a filter: the
	// restore would copy the whole index behind it, the diff compare the
	// filtered view.
	ErrFilteredAlias = errors.New("original is a filtered alias")
	// ErrSourceIndex means a snapshot source reads an index that is not
	// the original's and Options.SourceIndex does not name it, or names
	// another index than the source reads.
	ErrSourceIndex = errors.New("the source's index is not the original's")
	// ErrTargetGone means the target (its writer alias, see WriterAlias)
	// disappeared during the run: deleted by someone, or lost with a
	// cluster. The write failed rather than create an index; a rerun
	// with the same run id creates the target again.
	ErrTargetGone = errors.New("target disappeared during the run")
	// ErrSourceEmpty means the source holds no document and
	// Options.AllowEmptySource is not set.
	ErrSourceEmpty = errors.New("source is empty")
)
