package esscan

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/esrestore/esrestore/internal/elastic"
	"github.com/esrestore/esrestore/internal/jsonscan"
	"github.com/esrestore/esrestore/internal/retry"
)

// MgetDoc is one document as _mget (or a search hit) returned it.
type MgetDoc struct {
	ID      string          `json:"_id"`
	Routing string          `json:"_routing"`
	Found   bool            `json:"found"`
	Source  json.RawMessage `json:"_source"`
	Error   json.RawMessage `json:"error"`
	// SeqNo and PrimaryTerm of a found document (an _mget answers them);
	// a PrimaryTerm of 0 means the answer had none.
	SeqNo       int64 `json:"_seq_no"`
	PrimaryTerm int64 `json:"_primary_term"`
}

// MgetBody is the body of an _mget of n documents: doc(i) gives the i-th
// document's _id and routing ("" for none).
func MgetBody(n int, doc func(i int) (id, routing string)) []byte {
	body := make([]byte, 0, 32+n*48)
	body = append(body, `{"docs":[`...)
	for i := range n {
		if i > 0 {
			body = append(body, ',')
		}
		id, routing := doc(i)
		body = append(body, `{"_id":`...)
		body = jsonscan.AppendString(body, id)
		if routing != "" {
			body = append(body, `,"routing":`...)
			body = jsonscan.AppendString(body, routing)
		}
		body = append(body, '}')
	}
	return append(body, "]}"...)
}

// DecodeMget reads an _mget answer of n documents. It is on the hot path of
// a diff between indexes and of a reconciliation (one answer per page, a
// thousand sources each), so it walks the answer once, validating as it
// goes, and leaves each _source as a slice of it instead of copying it as
// encoding/json would.
func DecodeMget(body []byte, n int) ([]MgetDoc, error) {
	out := make([]MgetDoc, 0, n)
	str := func(vi int, dst *string, what string) (int, error) {
		end, err := jsonscan.Skip(body, vi)
		if err != nil {
			return end, err
		}
		var ok bool
		if *dst, ok = jsonscan.String(body[vi:end]); !ok {
			return end, fmt.Errorf("%w: %s is not a string", jsonscan.ErrSyntax, what)
		}
		return end, nil
	}
	entry := func(vi int) (int, error) {
		if vi >= len(body) || body[vi] != '{' {
			return vi, fmt.Errorf("%w: docs entry is not an object", jsonscan.ErrSyntax)
		}
		var f MgetDoc
		end, err := jsonscan.Object(body, vi, func(k []byte, vi int) (int, error) {
			switch string(k) {
			case "_id":
				return str(vi, &f.ID, "_id")
			case "_routing":
				return str(vi, &f.Routing, "_routing")
			case "_seq_no":
				return intAt(body, vi, &f.SeqNo, "_seq_no")
			case "_primary_term":
				return intAt(body, vi, &f.PrimaryTerm, "_primary_term")
			}
			end, err := jsonscan.Skip(body, vi)
			switch string(k) {
			case "found":
				f.Found = string(body[vi:end]) == "true"
			case "_source":
				f.Source = body[vi:end]
			case "error":
				f.Error = body[vi:end]
			}
			return end, err
		})
		out = append(out, f)
		return end, err
	}
	end, err := jsonscan.Object(body, 0, func(k []byte, vi int) (int, error) {
		if string(k) != "docs" {
			return jsonscan.Skip(body, vi)
		}
		if vi >= len(body) || body[vi] != '[' {
			return vi, fmt.Errorf("%w: docs is not an array", jsonscan.ErrSyntax)
		}
		return jsonscan.Array(body, vi, entry)
	})
	if err != nil {
		return nil, err
	}
	if end = jsonscan.Space(body, end); end != len(body) {
		return nil, fmt.Errorf("%w: data after the answer at offset %d", jsonscan.ErrSyntax, end)
	}
	return out, nil
}

// intAt reads the JSON integer at b[vi] (what names it in the error) into
// dst and returns the index just past it.
func intAt(b []byte, vi int, dst *int64, what string) (int, error) {
	end, err := jsonscan.Skip(b, vi)
	if err != nil {
		return end, err
	}
	var ok bool
	if *dst, ok = jsonscan.Int(b[vi:end]); !ok {
		return end, fmt.Errorf("%w: %s is not an integer at offset %d", jsonscan.ErrSyntax, what, vi)
	}
	return end, nil
}

// ErrNoSource means Elasticsearch returned a found document without its
// _source (disabled in the mapping, or filtered out).
var ErrNoSource = errors.New("document has no _source")

// ErrDuplicateID means an _id occurs twice in one index, on two shards
// under two routings.
var ErrDuplicateID = errors.New("duplicate _id")

// CheckMget checks the entries of an _mget answer against the documents
// asked for, in order (id(i) is the i-th _id): an entry with an error
// fails the answer, since a shard that cannot answer must not read as a
// missing copy; so does an answer for another id, or, when sources were
// asked for, a found document without one. The caller checks the number
// of entries.
func CheckMget(got []MgetDoc, id func(i int) string, source bool) error {
	for i := range got {
		f := &got[i]
		switch {
		case len(f.Error) > 0:
			return fmt.Errorf("document %q: %w", id(i), DocError(f.Error))
		case f.ID != id(i):
			return fmt.Errorf("answer %d is for %q, asked for %q", i, f.ID, id(i))
		case source && f.Found && len(f.Source) == 0:
			return fmt.Errorf("document %q: %w", f.ID, ErrNoSource)
		}
	}
	return nil
}

// DocError reads the error of one _mget entry; an index_not_found_exception
// wraps elastic.ErrIndexNotFound, and one a retry may clear (a shard that has not
// recovered yet after a node restart answers
// no_shard_available_action_exception inside a 200) is marked
// retry.Transient, so that the caller sends the _mget again.
func DocError(raw json.RawMessage) error {
	var e struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	}
	if json.Unmarshal(raw, &e) != nil || e.Type == "" {
		return fmt.Errorf("error %s", raw)
	}
	if e.Type == "index_not_found_exception" {
		return fmt.Errorf("%w: %s: %s", elastic.ErrIndexNotFound, e.Type, e.Reason)
	}
	err := fmt.Errorf("%s: %s", e.Type, e.Reason)
	if elastic.TransientError(&elastic.Error{Type: e.Type, Reason: e.Reason}) {
		return retry.Transient(err)
	}
	return err
}
