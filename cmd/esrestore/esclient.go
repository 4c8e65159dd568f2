package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"

	"github.com/elastic/go-elasticsearch/v8"

	"github.com/esrestore/esrestore/internal/elastic"
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
var ErrNotElasticsearch = elastic.ErrNotElasticsearch

// ErrESAuth means Elasticsearch refused the credentials.
var ErrESAuth = errors.New("elasticsearch refused the credentials")

// pingES checks that Elasticsearch answers and accepts the credentials,
// and returns its version. A node restarting answers 503 or refuses
// connections for a while: that is retried under pol, and an error past
// its budget is transient (exit 1), not a configuration error.
func pingES(ctx context.Context, es *elasticsearch.Client, pol retry.Policy, where string) (string, error) {
	status, body, err := elastic.Ping(ctx, es, pol)
	switch {
	case errors.Is(err, elastic.ErrNotElasticsearch):
		return "", fmt.Errorf("%s is %w: it answers GET / as %s", where, ErrNotElasticsearch, elastic.WhatAnswered(ctx, es))
	case err != nil:
		return "", fmt.Errorf("elasticsearch at %s is unreachable: %w", where, err)
	case status == 401:
		return "", fmt.Errorf("elasticsearch at %s: %w (401 %s)", where, ErrESAuth, elastic.ParseError(401, body).Reason)
	case status == 403:
		return "", fmt.Errorf("elasticsearch at %s: the user lacks the monitor privilege for GET / (403 %s)", where, elastic.ParseError(403, body).Reason)
	case status >= 300:
		return "", fmt.Errorf("elasticsearch at %s: %v", where, elastic.ParseError(status, body))
	}
	c, err := elastic.ParseCluster(body)
	if err != nil || c.Version == "" {
		return "", fmt.Errorf("elasticsearch at %s: unexpected answer to GET /", where)
	}
	return c.Version, nil
}
