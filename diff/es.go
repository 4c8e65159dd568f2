package diff

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/esrestore/esrestore/internal/elastic"
	"github.com/esrestore/esrestore/internal/esscan"
	"github.com/esrestore/esrestore/internal/jsonscan"
	"github.com/esrestore/esrestore/internal/retry"
)

// lookup names one document to fetch.
type lookup struct {
	id, routing string
}

// fetched is one document as _mget or a search returned it.
type fetched = esscan.MgetDoc

// mget fetches docs from index by id, with their routing, in one _mget.
// The answer has one entry per lookup, in order; a document-level error
// (a missing index, a routing the mapping requires) fails the whole call,
// since treating it as "not found" would report a document as missing.
func mget(ctx context.Context, es *elasticsearch.Client, index string, docs []lookup, source bool, pol retry.Policy) ([]fetched, error) {
	body := esscan.MgetBody(len(docs), func(i int) (string, string) { return docs[i].id, docs[i].routing })
	req := esapi.MgetRequest{Index: index}
	if !source {
		req.Source = []string{"false"}
	}
	// One loop for the request and its entries: an entry that failed for a
	// reason a retry clears (a shard still recovering) sends the whole
	// _mget again under the same budget.
	var got []fetched
	err := retry.Do(ctx, pol, func(ctx context.Context) error {
		req.Body = bytes.NewReader(body)
		status, answer, err := elastic.Try(ctx, es, req)
		if err != nil {
			return fmt.Errorf("mget %d documents from %q: %w", len(docs), index, err)
		}
		if status >= 300 {
			return fmt.Errorf("mget %d documents from %q: %w", len(docs), index, elastic.AnswerError(status, answer))
		}
		if got, err = esscan.DecodeMget(answer, len(docs)); err != nil {
			return fmt.Errorf("mget %d documents from %q: decode answer: %w", len(docs), index, err)
		}
		if len(got) != len(docs) {
			return fmt.Errorf("mget %d documents from %q: %w: got %d answers", len(docs), index, ErrCountMismatch, len(got))
		}
		if err := esscan.CheckMget(got, func(i int) string { return docs[i].id }, source); err != nil {
			return fmt.Errorf("mget from %q: %w", index, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return got, nil
}

// searchIDs finds documents by id on every shard, whatever their routing:
// the fallback when an _mget with one side's routing misses, so that a
// document whose routing changed is found rather than reported missing.
func searchIDs(ctx context.Context, es *elasticsearch.Client, index string, ids []string, source bool, pol retry.Policy) ([]fetched, error) {
	body := make([]byte, 0, 96+len(ids)*24)
	body = append(body, `{"query":{"ids":{"values":[`...)
	for i, id := range ids {
		if i > 0 {
			body = append(body, ',')
		}
		body = jsonscan.AppendString(body, id)
	}
	body = append(body, `]}},"size":`...)
	// One more than asked: an id on two shards (indexed twice with two
	// routings) must show, not be cut off.
	body = fmt.Appendf(body, "%d", len(ids)+1)
	body = append(body, `,"track_total_hits":false`...)
	if !source {
		body = append(body, `,"_source":false`...)
	}
	body = append(body, '}')
	partial := false
	var out struct {
		Shards struct {
			Total    int               `json:"total"`
			Failed   int               `json:"failed"`
			Failures []json.RawMessage `json:"failures"`
		} `json:"_shards"`
		Hits struct {
			Hits []fetched `json:"hits"`
		} `json:"hits"`
	}
	err := elastic.Do(ctx, es, pol, func() esapi.Request {
		return esapi.SearchRequest{Index: []string{index}, Body: bytes.NewReader(body), AllowPartialSearchResults: &partial}
	}, &out)
	if err != nil {
		return nil, fmt.Errorf("search %d ids in %q: %w", len(ids), index, err)
	}
	if out.Shards.Failed > 0 {
		detail := "no failure detail"
		if len(out.Shards.Failures) > 0 {
			detail = string(out.Shards.Failures[0])
		}
		return nil, fmt.Errorf("search %d ids in %q: %w: %d of %d shards failed: %s", len(ids), index, esscan.ErrShardFailure, out.Shards.Failed, out.Shards.Total, detail)
	}
	for i := range out.Hits.Hits {
		h := &out.Hits.Hits[i]
		h.Found = true
		if source && len(h.Source) == 0 {
			return nil, fmt.Errorf("search document %q in %q: %w", h.ID, index, ErrNoSource)
		}
	}
	return out.Hits.Hits, nil
}
