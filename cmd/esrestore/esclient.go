package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/esrestore/esrestore/internal/esscan"
	"github.com/esrestore/esrestore/internal/retry"
)

// newESClient builds the official client for c. The client itself does
// not retry: restore/, diff/ and the scanner retry 429, 5xx and transport
// errors per request and per document, and retries at both levels would
// multiply.
func newESClient(env *Env, c esConfig) (*elasticsearch.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	if c.CACert != "" || c.TLSServerName != "" {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.TLSServerName}
		if c.CACert != "" {
			pem, err := env.ReadFile(c.CACert)
			if err != nil {
				return nil, fmt.Errorf("read CA certificate %q: %w", c.CACert, err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("CA certificate %q: no PEM certificate in it", c.CACert)
			}
			tc.RootCAs = pool
		}
		tr.TLSClientConfig = tc
	}
	cfg := elasticsearch.Config{
		Addresses:    c.URLs,
		Username:     c.Username,
		Password:     c.Password,
		APIKey:       c.APIKey,
		ServiceToken: c.BearerToken,
		Transport:    tr,
		DisableRetry: true,
	}
	es, err := elasticsearch.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("elasticsearch client: %w", err)
	}
	return es, nil
}

// ErrNotElasticsearch means --es-url answers, but not as Elasticsearch
// (OpenSearch, a proxy's page, another service).
var ErrNotElasticsearch = errors.New("not Elasticsearch")

// notElasticsearch reports whether err is the client's product check
// refusing the server: it says so only in its message.
func notElasticsearch(err error) bool {
	return strings.Contains(err.Error(), "the server is not Elasticsearch")
}

// whatAnswered describes the server at es from its GET / answer, read
// through the client's transport (which makes no product check): its
// distribution, version and tagline, or its status and Content-Type.
func whatAnswered(ctx context.Context, es *elasticsearch.Client) string {
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

// ErrESAuth means Elasticsearch refused the credentials.
var ErrESAuth = errors.New("elasticsearch refused the credentials")

// pingES checks that Elasticsearch answers and accepts the credentials,
// and returns its version. A node restarting answers 503 or refuses
// connections for a while: that is retried under pol, and an error past
// its budget is transient (exit 1), not a configuration error.
func pingES(ctx context.Context, es *elasticsearch.Client, pol retry.Policy, where string) (string, error) {
	var res *esapi.Response
	err := retry.Do(ctx, pol, func(ctx context.Context) error {
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		r, err := esapi.InfoRequest{}.Do(rctx, es)
		switch {
		case err != nil && notElasticsearch(err):
			// No retry makes it Elasticsearch.
			return fmt.Errorf("%s is %w: it answers GET / as %s", where, ErrNotElasticsearch, whatAnswered(rctx, es))
		case err != nil && ctx.Err() == nil && retry.Transport(err):
			return retry.Transient(err)
		case err != nil:
			return err
		case esscan.Retryable(r.StatusCode):
			b, _ := io.ReadAll(r.Body)
			r.Body.Close()
			return retry.Transient(esscan.ParseError(r.StatusCode, b))
		}
		// Read now: the request's context ends with this function.
		b, rerr := io.ReadAll(r.Body)
		r.Body.Close()
		if rerr != nil {
			return retry.Transient(rerr)
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
		res = r
		return nil
	})
	if errors.Is(err, ErrNotElasticsearch) {
		return "", err
	}
	if err != nil {
		return "", fmt.Errorf("elasticsearch at %s is unreachable: %w", where, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	switch {
	case res.StatusCode == 401:
		return "", fmt.Errorf("elasticsearch at %s: %w (401 %s)", where, ErrESAuth, esscan.ParseError(401, body).Reason)
	case res.StatusCode == 403:
		return "", fmt.Errorf("elasticsearch at %s: the user lacks the monitor privilege for GET / (403 %s)", where, esscan.ParseError(403, body).Reason)
	case res.StatusCode >= 300:
		return "", fmt.Errorf("elasticsearch at %s: %v", where, esscan.ParseError(res.StatusCode, body))
	}
	var info struct {
		Version struct {
			Number string `json:"number"`
		} `json:"version"`
	}
	if err := json.Unmarshal(body, &info); err != nil || info.Version.Number == "" {
		return "", fmt.Errorf("elasticsearch at %s: unexpected answer to GET /", where)
	}
	return info.Version.Number, nil
}
