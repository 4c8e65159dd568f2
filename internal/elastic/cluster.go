package elastic

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/esrestore/esrestore/internal/retry"
)

// PingTimeout bounds one try of GET /: a node that accepts the connection
// but does not answer is retried like one that refuses it.
const PingTimeout = 30 * time.Second

// Cluster is GET / of a cluster.
type Cluster struct {
	Name    string
	UUID    string
	Version string
}

// ParseCluster reads a GET / answer.
func ParseCluster(body []byte) (Cluster, error) {
	var out struct {
		Name    string `json:"cluster_name"`
		UUID    string `json:"cluster_uuid"`
		Version struct {
			Number string `json:"number"`
		} `json:"version"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return Cluster{}, err
	}
	return Cluster{Name: out.Name, UUID: out.UUID, Version: out.Version.Number}, nil
}

// Ping sends GET / under pol, each try bounded by PingTimeout, and
// returns the answer as Send does. A server the client's product check
// refuses is an error wrapping ErrNotElasticsearch, not retried: no retry
// makes it Elasticsearch.
func Ping(ctx context.Context, es *elasticsearch.Client, pol retry.Policy) (int, []byte, error) {
	var status int
	var body []byte
	err := retry.Do(ctx, pol, func(ctx context.Context) error {
		rctx, cancel := context.WithTimeout(ctx, PingTimeout)
		defer cancel()
		var err error
		status, body, err = try(ctx, rctx, es, esapi.InfoRequest{})
		if err != nil && notElasticsearch(err) {
			return fmt.Errorf("%w: %v", ErrNotElasticsearch, err)
		}
		return err
	})
	return status, body, err
}

// notElasticsearch reports whether err is the client's product check
// refusing the server: it says so only in its message.
func notElasticsearch(err error) bool {
	return strings.Contains(err.Error(), "the server is not Elasticsearch")
}

// GetCluster reads GET / under p.
func GetCluster(ctx context.Context, es *elasticsearch.Client, p retry.Policy) (Cluster, error) {
	const what = "get cluster info"
	status, body, err := Ping(ctx, es, p)
	if err := judgeRead(what, status, body, err); err != nil {
		return Cluster{}, err
	}
	c, err := ParseCluster(body)
	if err != nil {
		return Cluster{}, fmt.Errorf("%s: decode answer: %w", what, err)
	}
	return c, nil
}

// Reach checks, under pol, that the cluster answers and accepts the
// credentials, with errors as Judge's prefixed with what. A 403 is not an
// error here: GET / needs the monitor privilege, which a user allowed to
// read and write indexes may lack; the checks that follow name what it
// cannot do. The Cluster is empty then.
func Reach(ctx context.Context, es *elasticsearch.Client, pol retry.Policy, what string) (Cluster, error) {
	status, body, err := Ping(ctx, es, pol)
	a, err := Judge(ctx, what, status, body, err)
	if err != nil {
		if a.Status == 403 {
			return Cluster{}, nil
		}
		return Cluster{}, err
	}
	if !a.OK() {
		return Cluster{}, fmt.Errorf("%s: %v", what, a.Err())
	}
	c, err := ParseCluster(a.Body)
	if err != nil {
		return Cluster{}, fmt.Errorf("%s: decode answer: %w", what, err)
	}
	return c, nil
}

// WhatAnswered describes the server at es from its GET / answer, read
// through the client's transport (which makes no product check): its
// distribution, version and tagline, or its status and Content-Type.
func WhatAnswered(ctx context.Context, es *elasticsearch.Client) string {
	ctx, cancel := context.WithTimeout(ctx, PingTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "/", nil)
	if err != nil {
		return "something else"
	}
	res, err := es.Transport.Perform(req)
	if err != nil {
		return "something else (" + err.Error() + ")"
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<16))
	var info struct {
		Version struct {
			Distribution string `json:"distribution"`
			Number       string `json:"number"`
		} `json:"version"`
		Tagline string `json:"tagline"`
	}
	if json.Unmarshal(b, &info) != nil || info.Version.Number == "" {
		return fmt.Sprintf("%d %s (Content-Type %q, X-Elastic-Product %q)", res.StatusCode, http.StatusText(res.StatusCode),
			res.Header.Get("Content-Type"), res.Header.Get("X-Elastic-Product"))
	}
	dist := info.Version.Distribution
	if dist == "" {
		dist = "an unknown distribution"
	}
	return fmt.Sprintf("%s %s (%q)", dist, info.Version.Number, info.Tagline)
}
