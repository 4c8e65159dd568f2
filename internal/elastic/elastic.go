// Package elastic sends requests to Elasticsearch and reads its answers:
// one attempt (Try) or retries under a retry.Policy (Send), the check of
// which failures are transient (429, 502-504, cut connections, thread
// pools full, blocks that lift), the decoding of error envelopes into
// *Error, and of 2xx answers. On top of these it reads what a run records
// about a cluster and its indexes: GET / (Ping, GetCluster), GET /{index}
// (GetIndex, LookupIndex), _count (Count, CountQuery) and a snapshot
// (GetSnapshot).
//
// Three forms judge a final answer, each for its callers' error texts:
// Do decodes a read's 2xx answer, inside the retry loop, and maps a
// missing index or point in time to ErrIndexNotFound and
// ErrContextExpired; Get and Once decode into a value, prefixing errors
// with the operation; Call, CallOnce and CallOK return the Answer, naming
// an unreachable cluster, refused credentials and a refused action
// (ErrUnreachable, ErrUnauthorized, ErrForbidden).
package elastic

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/esrestore/esrestore/internal/retry"
)

// Errors of the package; check them with errors.Is.
var (
	// ErrIndexNotFound means the index or alias does not exist.
	ErrIndexNotFound = errors.New("index not found")
	// ErrContextExpired means the point in time expired or was closed.
	ErrContextExpired = errors.New("point in time expired")
	// ErrNotFound means the index or snapshot does not exist.
	ErrNotFound = errors.New("not found")
	// ErrUnreachable means Elasticsearch did not answer (connection refused,
	// DNS, TLS, timeouts), past the retry budget when retried.
	ErrUnreachable = errors.New("elasticsearch unreachable")
	// ErrUnauthorized is a 401: missing or wrong credentials.
	ErrUnauthorized = errors.New("elasticsearch rejected the credentials")
	// ErrForbidden is a 403: the user lacks a privilege for an action.
	ErrForbidden = errors.New("elasticsearch refused the action to this user")
	// ErrNotElasticsearch means the server answers, but not as
	// Elasticsearch (OpenSearch, a proxy's page, another service).
	ErrNotElasticsearch = errors.New("not Elasticsearch")
)

// Error is an error answer from Elasticsearch.
type Error struct {
	Status int
	Type   string
	Reason string
	Root   string // root cause type, when it differs
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%d %s: %s", e.Status, e.Type, e.Reason)
	if e.Root != "" && e.Root != e.Type {
		s += " (" + e.Root + ")"
	}
	return s
}

// ParseError reads Elasticsearch's error envelope from an answer body.
func ParseError(status int, body []byte) *Error {
	var env struct {
		Error json.RawMessage `json:"error"`
	}
	e := &Error{Status: status}
	if json.Unmarshal(body, &env) != nil || len(env.Error) == 0 {
		e.Type, e.Reason = http.StatusText(status), strings.TrimSpace(string(truncate(body, 300)))
		return e
	}
	var obj struct {
		Type      string `json:"type"`
		Reason    string `json:"reason"`
		RootCause []struct {
			Type   string `json:"type"`
			Reason string `json:"reason"`
		} `json:"root_cause"`
	}
	if json.Unmarshal(env.Error, &obj) != nil {
		json.Unmarshal(env.Error, &e.Reason) //nolint:errcheck // a plain string error
		e.Type = http.StatusText(status)
		return e
	}
	e.Type, e.Reason = obj.Type, obj.Reason
	if len(obj.RootCause) > 0 {
		e.Root = obj.RootCause[0].Type
		if e.Reason == "all shards failed" || e.Reason == "" {
			e.Reason = obj.RootCause[0].Reason
		}
	}
	return e
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// AnswerError is the error of a final error answer: a missing index wraps
// ErrIndexNotFound, a lost point in time ErrContextExpired; any other is
// its *Error.
func AnswerError(status int, body []byte) error {
	e := ParseError(status, body)
	switch {
	case status == 404 && (e.Root == "search_context_missing_exception" || e.Type == "search_context_missing_exception"):
		return fmt.Errorf("%w: %v", ErrContextExpired, e)
	case status == 404 && e.Type == "index_not_found_exception":
		return fmt.Errorf("%w: %v", ErrIndexNotFound, e)
	}
	return e
}

// Retryable reports whether an answer with this status may succeed when
// sent again: 408, 429, 502, 503 and 504.
func Retryable(status int) bool { return retry.Status(status) }

// TransientError reports whether an error answer may go away when the
// request is sent again: a retryable status, or an error type that says so
// whatever the status (a full thread pool, a tripped circuit breaker, a
// cluster block that lifts when a master is elected or a node recovers).
func TransientError(e *Error) bool {
	if e == nil {
		return false
	}
	if Retryable(e.Status) {
		return true
	}
	switch e.Type {
	case "es_rejected_execution_exception", "circuit_breaking_exception", "node_not_connected_exception",
		"no_shard_available_action_exception", "unavailable_shards_exception", "node_closed_exception",
		"connect_transport_exception", "receive_timeout_transport_exception":
		return true
	case "cluster_block_exception":
		// SERVICE_UNAVAILABLE blocks (no master, state not recovered) lift;
		// a FORBIDDEN one (read_only, read_only_allow_delete) needs an operator.
		return e.Status >= 500 || strings.Contains(e.Reason, "SERVICE_UNAVAILABLE")
	}
	return false
}
