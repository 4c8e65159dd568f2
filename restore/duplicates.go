package restore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/esrestore/esrestore/internal/elastic"
	"github.com/esrestore/esrestore/internal/jsonscan"
	"github.com/esrestore/esrestore/internal/retry"
)

// DuplicateID is an _id an index holds more than once, under different
// routings (custom routing allows it: the id is unique per shard only).
// No copy can stand for the document, so the restore copies none of them
// and records each as a failure naming the routings, and the diff leaves
// the id out of every side (Options.Duplicates, diff Options.SkipIDs).
type DuplicateID struct {
	Index string `json:"index"`
	ID    string `json:"id"`
	// Routings are the copies' routings, sorted; "" for a copy without.
	Routings []string `json:"routings"`
}

func (d DuplicateID) String() string {
	r := make([]string, len(d.Routings))
	for i, x := range d.Routings {
		r[i] = fmt.Sprintf("%q", x)
	}
	return fmt.Sprintf("document %q is in %q %d times, under routings %s", d.ID, d.Index, len(d.Routings), strings.Join(r, " and "))
}

// duplicatePage is how many routed documents one scroll page reads; the
// ids query that looks their ids up on every shard asks for up to
// duplicateHits copies.
const (
	duplicatePage = 1000
	duplicateHits = 10000
)

// FindDuplicateIDs finds the ids index holds under more than one routing,
// before anything is written. Only a document with a custom routing can
// share its id with another (without routing the id decides the shard),
// so it reads the ids of the routed documents (none: no read at all) and
// looks each up on every shard with an ids query.
func FindDuplicateIDs(ctx context.Context, es *elasticsearch.Client, index string, pol retry.Policy) ([]DuplicateID, error) {
	routed := []byte(`{"query":{"exists":{"field":"_routing"}}}`)
	what := fmt.Sprintf("count the routed documents of %q", index)
	a, err := elastic.CallOK(ctx, es, pol, what, func() esapi.Request {
		return esapi.CountRequest{Index: []string{index}, Body: bytes.NewReader(routed)}
	})
	if err != nil {
		return nil, err
	}
	var c struct {
		Count int64 `json:"count"`
	}
	if err := json.Unmarshal(a.Body, &c); err != nil {
		return nil, fmt.Errorf("%s: decode answer: %w", what, err)
	}
	if c.Count == 0 {
		return nil, nil
	}

	type hits struct {
		ScrollID string `json:"_scroll_id"`
		Hits     struct {
			Hits []struct {
				ID      string `json:"_id"`
				Routing string `json:"_routing"`
			} `json:"hits"`
		} `json:"hits"`
	}
	body := fmt.Appendf(nil, `{"size":%d,"_source":false,"sort":["_doc"],"query":{"exists":{"field":"_routing"}}}`, duplicatePage)
	what = fmt.Sprintf("read the routed documents of %q", index)
	a, err = elastic.CallOK(ctx, es, pol, what, func() esapi.Request {
		return esapi.SearchRequest{Index: []string{index}, Scroll: time.Minute, Body: bytes.NewReader(body)}
	})
	if err != nil {
		return nil, err
	}
	found := map[string]*DuplicateID{}
	var scrollID string
	defer func() {
		if scrollID != "" {
			ids, _ := json.Marshal(map[string][]string{"scroll_id": {scrollID}})
			elastic.Try(context.WithoutCancel(ctx), es, esapi.ClearScrollRequest{Body: bytes.NewReader(ids)}) //nolint:errcheck // best effort
		}
	}()
	for {
		var page hits
		if err := json.Unmarshal(a.Body, &page); err != nil {
			return nil, fmt.Errorf("%s: decode answer: %w", what, err)
		}
		scrollID = page.ScrollID
		if len(page.Hits.Hits) == 0 {
			break
		}
		ids := make([]string, 0, len(page.Hits.Hits))
		asked := map[string]bool{}
		for _, h := range page.Hits.Hits {
			if found[h.ID] == nil && !asked[h.ID] {
				asked[h.ID] = true
				ids = append(ids, h.ID)
			}
		}
		if err := lookUpCopies(ctx, es, pol, index, ids, found); err != nil {
			return nil, err
		}
		sid := scrollID
		a, err = elastic.CallOK(ctx, es, pol, what, func() esapi.Request {
			return esapi.ScrollRequest{ScrollID: sid, Scroll: time.Minute}
		})
		if err != nil {
			return nil, err
		}
	}
	var out []DuplicateID
	for _, d := range found {
		if len(d.Routings) > 1 {
			slices.Sort(d.Routings)
			out = append(out, *d)
		}
	}
	slices.SortFunc(out, func(a, b DuplicateID) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// lookUpCopies finds every copy of ids in index, on every shard, and adds
// their routings to found.
func lookUpCopies(ctx context.Context, es *elasticsearch.Client, pol retry.Policy, index string, ids []string, found map[string]*DuplicateID) error {
	if len(ids) == 0 {
		return nil
	}
	b := fmt.Appendf(nil, `{"size":%d,"_source":false,"track_total_hits":true,"query":{"ids":{"values":[`, duplicateHits)
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonscan.AppendString(b, id)
	}
	b = append(b, `]}}}`...)
	what := fmt.Sprintf("look up %d routed ids in %q on every shard", len(ids), index)
	a, err := elastic.CallOK(ctx, es, pol, what, func() esapi.Request {
		return esapi.SearchRequest{Index: []string{index}, Body: bytes.NewReader(b)}
	})
	if err != nil {
		return err
	}
	var res struct {
		Hits struct {
			Total struct {
				Value int64 `json:"value"`
			} `json:"total"`
			Hits []struct {
				ID      string `json:"_id"`
				Routing string `json:"_routing"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if err := json.Unmarshal(a.Body, &res); err != nil {
		return fmt.Errorf("%s: decode answer: %w", what, err)
	}
	if res.Hits.Total.Value > int64(len(res.Hits.Hits)) {
		return fmt.Errorf("%s: %d copies, more than the %d one query reads", what, res.Hits.Total.Value, len(res.Hits.Hits))
	}
	for _, h := range res.Hits.Hits {
		d := found[h.ID]
		if d == nil {
			d = &DuplicateID{Index: index, ID: h.ID}
			found[h.ID] = d
		}
		d.Routings = append(d.Routings, h.Routing)
	}
	return nil
}

// dropDuplicateCopies deletes from a target restored from the snapshot
// the copies of Options.Duplicates it holds: no copy of such an id is
// restored, whichever way the target is loaded. Each copy removed is read
// and failed, named with its routing.
func (r *Restorer) dropDuplicateCopies(ctx context.Context, p *pass) error {
	if len(r.dupes) == 0 {
		return nil
	}
	ids := make([]string, 0, len(r.dupes))
	for id := range r.dupes {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for start := 0; start < len(ids); start += duplicatePage {
		chunk := ids[start:min(start+duplicatePage, len(ids))]
		found := map[string]*DuplicateID{}
		if err := lookUpCopies(ctx, r.es, r.opt.Retry, r.opt.Target, chunk, found); err != nil {
			return err
		}
		var body []byte
		var copies []Failure
		for _, id := range chunk {
			d := found[id]
			if d == nil {
				continue
			}
			for _, routing := range d.Routings {
				body = append(body, `{"delete":{"_index":`...)
				body = jsonscan.AppendString(body, r.opt.Target)
				body = append(body, `,"_id":`...)
				body = jsonscan.AppendString(body, id)
				if routing != "" {
					body = append(body, `,"routing":`...)
					body = jsonscan.AppendString(body, routing)
				}
				body = append(body, "}}\n"...)
				copies = append(copies, Failure{ID: id, Index: r.opt.Target, Routing: routing, OpType: "delete",
					Error: errorJSON("duplicate_id_routings", r.dupes[id].String()+
						": the snapshot's copy restored with the target was deleted from it, no copy is restored")})
			}
		}
		if len(body) == 0 {
			continue
		}
		if err := r.writable(r.opt.Target); err != nil {
			return err
		}
		what := fmt.Sprintf("delete %d copies of ids under several routings from %q", len(copies), r.opt.Target)
		a, err := elastic.CallOK(ctx, r.es, r.opt.Retry, what, func() esapi.Request {
			return esapi.BulkRequest{Body: bytes.NewReader(body), Refresh: "true"}
		})
		if err != nil {
			return err
		}
		var ans struct {
			Errors bool `json:"errors"`
		}
		if err := json.Unmarshal(a.Body, &ans); err != nil || ans.Errors {
			return fmt.Errorf("%s: %s", what, a.Body)
		}
		for _, f := range copies {
			r.st.read.Add(1)
			if err := r.fail(p, f, nil); err != nil {
				return err
			}
		}
	}
	return nil
}
