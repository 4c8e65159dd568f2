package elastic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/esrestore/esrestore/internal/retry"
)

// Try performs req once and reads its answer, without retrying: the error
// of a transport failure, of an answer cut short or of a transient error
// answer (TransientError) is marked retry.Transient, the status and body
// of such an answer still returned; any other answer is returned for the
// caller to judge. It is for requests that must not be repeated blindly
// (creating an index, restoring a snapshot, switching aliases): the caller
// checks what the first one did before sending another.
func Try(ctx context.Context, es *elasticsearch.Client, req esapi.Request) (int, []byte, error) {
	return try(ctx, ctx, es, req)
}

// try is Try with the request sent under rctx, a context of ctx bounding
// one attempt: its expiry is a transport failure, ctx's end is not.
func try(ctx, rctx context.Context, es *elasticsearch.Client, req esapi.Request) (int, []byte, error) {
	res, err := req.Do(rctx, es)
	if err != nil {
		if ctx.Err() != nil {
			return 0, nil, ctx.Err()
		}
		if retry.Transport(err) {
			return 0, nil, retry.Transient(err)
		}
		return 0, nil, err
	}
	b, rerr := readBody(res)
	if rerr != nil {
		if ctx.Err() != nil {
			return 0, nil, ctx.Err()
		}
		return 0, nil, retry.Transient(fmt.Errorf("read answer: %w", rerr))
	}
	if res.StatusCode >= 300 {
		if e := ParseError(res.StatusCode, b); TransientError(e) {
			return res.StatusCode, b, retry.Transient(e)
		}
	}
	return res.StatusCode, b, nil
}

// Send performs the request mk builds under pol and returns the status and
// body of an answer that is not transient: any 2xx, and the errors a retry
// would not change, for the caller to judge. Transport errors, answers cut
// short and transient error answers are retried until pol's budget runs
// out; the error then wraps retry.ErrBudget and the last failure. mk is
// called for every try, so that a body is read afresh: for idempotent
// requests only.
func Send(ctx context.Context, es *elasticsearch.Client, pol retry.Policy, mk func() esapi.Request) (int, []byte, error) {
	var status int
	var body []byte
	err := retry.Do(ctx, pol, func(ctx context.Context) error {
		var err error
		status, body, err = Try(ctx, es, mk())
		return err
	})
	return status, body, err
}

// Fixed is a request without a body, the same on every try of Send.
func Fixed(req esapi.Request) func() esapi.Request { return func() esapi.Request { return req } }

// readBody reads an answer whole, sized by its Content-Length when known
// so that a page is not copied as its buffer grows.
func readBody(res *esapi.Response) ([]byte, error) {
	defer res.Body.Close()
	var buf bytes.Buffer
	if n := res.Header.Get("Content-Length"); n != "" {
		if size, err := strconv.Atoi(n); err == nil && size > 0 && size < 1<<30 {
			buf.Grow(size + bytes.MinRead)
		}
	}
	_, err := buf.ReadFrom(res.Body)
	return buf.Bytes(), err
}

// Decoder is an answer that reads itself. Do hands it a 2xx answer's
// body; an error it marks retry.Transient (a count some shards did not
// answer) sends the request again like a 503.
type Decoder interface{ Decode(body []byte) error }

// Do sends the read mk builds under pol and decodes a 2xx answer into out
// (a Decoder, or a value for encoding/json; nil: not decoded), in one
// retry loop. A final error answer is AnswerError's.
func Do(ctx context.Context, es *elasticsearch.Client, pol retry.Policy, mk func() esapi.Request, out any) error {
	return retry.Do(ctx, pol, func(ctx context.Context) error {
		status, body, err := Try(ctx, es, mk())
		if err != nil {
			return err
		}
		if status >= 300 {
			return AnswerError(status, body)
		}
		switch d := out.(type) {
		case nil:
		case Decoder:
			err = d.Decode(body)
		default:
			err = json.Unmarshal(body, out)
		}
		if err != nil {
			return fmt.Errorf("decode answer: %w", err)
		}
		return nil
	})
}

// Get sends the idempotent request mk builds under pol and decodes a 2xx
// answer into out (when not nil); an error answer is its *Error. Errors
// are prefixed with what, the operation and its object.
func Get(ctx context.Context, es *elasticsearch.Client, pol retry.Policy, what string, mk func() esapi.Request, out any) error {
	status, body, err := Send(ctx, es, pol, mk)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return decode(what, status, body, out)
}

// Once is Get in one attempt (Try), for a request that must not be
// repeated blindly or that its caller repeats: a transient failure is
// marked retry.Transient. It returns the answer's status, 0 when none
// came.
func Once(ctx context.Context, es *elasticsearch.Client, what string, req esapi.Request, out any) (int, error) {
	status, body, err := Try(ctx, es, req)
	if err != nil {
		return status, fmt.Errorf("%s: %w", what, err)
	}
	return status, decode(what, status, body, out)
}

// decode decodes a 2xx answer into out (when not nil), and turns an error
// answer into its *Error.
func decode(what string, status int, body []byte, out any) error {
	if status >= 300 {
		return fmt.Errorf("%s: %w", what, ParseError(status, body))
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			return fmt.Errorf("%s: decode answer: %w", what, err)
		}
	}
	return nil
}

// judgeRead judges the outcome of a read whose errors are prefixed with
// what: a 404 wraps ErrNotFound, any other error answer is its *Error.
func judgeRead(what string, status int, body []byte, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if status == 404 {
		return fmt.Errorf("%s: %w: %v", what, ErrNotFound, ParseError(status, body))
	}
	return decode(what, status, body, nil)
}

// Answer is an answer Elasticsearch gave, read whole.
type Answer struct {
	Status int
	Body   []byte
}

// Err returns Elasticsearch's error envelope as an error.
func (a Answer) Err() *Error { return ParseError(a.Status, a.Body) }

// OK reports a 2xx answer.
func (a Answer) OK() bool { return a.Status >= 200 && a.Status < 300 }

// Call performs the request mk builds and reads the answer, retrying
// transient failures under pol, as Send does: for idempotent requests
// only. The outcome is judged by Judge: other statuses than 401 and 403
// are the caller's to judge.
func Call(ctx context.Context, es *elasticsearch.Client, pol retry.Policy, what string, mk func() esapi.Request) (Answer, error) {
	status, body, err := Send(ctx, es, pol, mk)
	return Judge(ctx, what, status, body, err)
}

// CallOnce is Call without retries (Try), for requests that must not be
// repeated blindly: a transient failure is returned, marked
// retry.Transient, for the caller to check what the request did.
func CallOnce(ctx context.Context, es *elasticsearch.Client, what string, req esapi.Request) (Answer, error) {
	status, body, err := Try(ctx, es, req)
	return Judge(ctx, what, status, body, err)
}

// CallOK is Call that also treats any non-2xx answer as an error.
func CallOK(ctx context.Context, es *elasticsearch.Client, pol retry.Policy, what string, mk func() esapi.Request) (Answer, error) {
	a, err := Call(ctx, es, pol, what, mk)
	if err != nil {
		return a, err
	}
	if !a.OK() {
		return a, fmt.Errorf("%s: %v", what, a.Err())
	}
	return a, nil
}

// Judge wraps the outcome of Send or Try (or Ping), prefixed with what
// (the operation and its object): a failure that outlasted the budget
// wraps retry.ErrBudget, and ErrUnreachable when Elasticsearch did not
// answer; an error answer that did not go away is kept with its status; a
// 401 wraps ErrUnauthorized and a 403 ErrForbidden.
func Judge(ctx context.Context, what string, status int, body []byte, err error) (Answer, error) {
	if err != nil {
		var esErr *Error
		switch {
		case ctx.Err() != nil:
			return Answer{}, fmt.Errorf("%s: %w", what, ctx.Err())
		case errors.As(err, &esErr):
			// Elasticsearch answered, with an error that did not go away.
			return Answer{Status: status, Body: body}, fmt.Errorf("%s: %w", what, err)
		}
		return Answer{}, fmt.Errorf("%s: %w: %w", what, ErrUnreachable, err)
	}
	a := Answer{Status: status, Body: body}
	switch a.Status {
	case 401:
		return a, fmt.Errorf("%s: %w: %v", what, ErrUnauthorized, a.Err())
	case 403:
		return a, fmt.Errorf("%s: %w: %v", what, ErrForbidden, a.Err())
	}
	return a, nil
}
