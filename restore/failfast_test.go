package restore_test

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/esrestore/esrestore/fixtures/estest"
	"github.com/esrestore/esrestore/internal/fielderr"
	"github.com/esrestore/esrestore/internal/redact"
	"github.com/esrestore/esrestore/internal/retry"
	"github.com/esrestore/esrestore/restore"
)

// closedURL returns the URL of a loopback port nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// securityServer answers as an Elasticsearch with security enabled that
// refuses the request: 401 for bad credentials, or 403 for an index
// action the user may not do (GET / too, as for a user without monitor).
func securityServer(t *testing.T, status int) (*httptest.Server, func() []string) {
	t.Helper()
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path)
		mu.Unlock()
		h := w.Header()
		h.Set("X-Elastic-Product", "Elasticsearch")
		h.Set("Content-Type", "application/json")
		var body string
		if status == 401 {
			h.Set("WWW-Authenticate", `Basic realm="security", charset="UTF-8"`)
			body = `{"error":{"root_cause":[{"type":"security_exception","reason":"unable to authenticate user [restorer] for REST request [` + r.URL.Path + `]","header":{"WWW-Authenticate":["Basic realm=\"security\", charset=\"UTF-8\""]}}],"type":"security_exception","reason":"unable to authenticate user [restorer] for REST request [` + r.URL.Path + `]","header":{"WWW-Authenticate":["Basic realm=\"security\", charset=\"UTF-8\""]}},"status":401}`
		} else {
			action := "cluster:monitor/main"
			if r.URL.Path != "/" {
				action = "indices:admin/get"
			}
			body = `{"error":{"root_cause":[{"type":"security_exception","reason":"action [` + action + `] is unauthorized for user [restorer] with effective roles [restore], this action is granted by the index privileges [view_index_metadata,manage,all]"}],"type":"security_exception","reason":"action [` + action + `] is unauthorized for user [restorer] with effective roles [restore], this action is granted by the index privileges [view_index_metadata,manage,all]"},"status":403}`
		}
		w.WriteHeader(status)
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}

func createIndex(t *testing.T, c *elasticsearch.Client, name, body string) {
	t.Helper()
	estest.MustDo(t, c, esapi.IndicesCreateRequest{Index: name, Body: strings.NewReader(body)})
}

// TestFailFast: every guard rail fails with a clear error before anything
// is written.
func TestFailFast(t *testing.T) {
	type env struct {
		es  *estest.Cluster
		c   *elasticsearch.Client // the client the Restorer uses
		opt restore.Options
		src restore.Source
	}
	for _, tt := range []struct {
		name  string
		setup func(t *testing.T, e *env)
		want  error
		// text must appear in the error message.
		text []string
		// targetBefore: the target exists before the run (left as it was).
		targetBefore bool
	}{
		{name: "original-missing", want: restore.ErrOriginalMissing, text: []string{`"nope"`},
			setup: func(t *testing.T, e *env) { e.opt.Original = "nope" }},
		{name: "target-is-alias-of-original", want: restore.ErrTargetIsOriginal, text: []string{`"live"`},
			setup: func(t *testing.T, e *env) {
				estest.MustDo(t, e.c, esapiPutAlias(original, "live"))
				e.opt.Target = "live"
			}},
		{name: "target-exists", want: restore.ErrTargetExists, text: []string{target, "no esrestore run id"}, targetBefore: true,
			setup: func(t *testing.T, e *env) { createIndex(t, e.c, target, `{}`) }},
		{name: "target-of-another-run", want: restore.ErrTargetExists, text: []string{`"other-run"`}, targetBefore: true,
			setup: func(t *testing.T, e *env) {
				createIndex(t, e.c, target, `{"mappings":{"_meta":{"esrestore":{"run_id":"other-run"}}}}`)
			}},
		{name: "target-is-an-alias", want: restore.ErrTargetExists, text: []string{"alias"}, targetBefore: true,
			setup: func(t *testing.T, e *env) {
				createIndex(t, e.c, "elsewhere", `{}`)
				estest.MustDo(t, e.c, esapiPutAlias("elsewhere", target))
			}},
		{name: "source-index-missing", want: restore.ErrSourceMissing, text: []string{`"gone"`},
			setup: func(t *testing.T, e *env) { e.src = restore.IndexSource(e.c, "gone", 1) }},
		{name: "source-is-target", want: restore.ErrSourceIsTarget, targetBefore: true,
			setup: func(t *testing.T, e *env) {
				createIndex(t, e.c, target, `{"mappings":{"_meta":{"esrestore":{"run_id":"`+e.opt.RunID+`"}}}}`)
				e.src = restore.IndexSource(e.c, target, 1)
			}},
		{name: "repository-missing", want: restore.ErrSourceMissing, text: []string{`repository "nobackups"`},
			setup: func(t *testing.T, e *env) { e.src = restore.SnapshotSource(e.c, "nobackups", snap, "", false, "") }},
		{name: "snapshot-missing", want: restore.ErrSourceMissing, text: []string{`snapshot "after-loss"`},
			setup: func(t *testing.T, e *env) { e.src = restore.SnapshotSource(e.c, repo, "after-loss", "", false, "") }},
		{name: "index-not-in-snapshot", want: restore.ErrSourceMissing, text: []string{`"pages"`, original},
			setup: func(t *testing.T, e *env) { e.src = restore.SnapshotSource(e.c, repo, snap, "pages", false, "") }},
		{name: "original-without-source", want: restore.ErrSourceDisabled, text: []string{`"bare"`},
			setup: func(t *testing.T, e *env) {
				createIndex(t, e.c, "bare", `{"mappings":{"_source":{"enabled":false}}}`)
				e.opt.Original = "bare"
			}},
		{name: "unreachable", want: restore.ErrUnreachable, text: []string{"connection refused"},
			setup: func(t *testing.T, e *env) { e.c = client(t, closedURL(t), nil) }},
		{name: "unreachable-source-cluster", want: restore.ErrUnreachable, text: []string{"source cluster"},
			setup: func(t *testing.T, e *env) { e.src = restore.IndexSource(client(t, closedURL(t), nil), original, 1) }},
		{name: "bad-credentials", want: restore.ErrUnauthorized, text: []string{"credentials", "unable to authenticate user [restorer]"},
			setup: func(t *testing.T, e *env) {
				srv, seen := securityServer(t, 401)
				c, err := elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{srv.URL}, Username: "restorer", Password: "s3cret-pw", DisableRetry: true})
				if err != nil {
					t.Fatal(err)
				}
				e.c = c
				t.Cleanup(func() {
					if got := strings.Join(seen(), ","); got != "GET /,GET /" {
						t.Errorf("requests to the refusing cluster: %s, want only GET / (Check, then Run)", got)
					}
				})
			}},
		{name: "forbidden", want: restore.ErrForbidden, text: []string{`original index "documents"`, "indices:admin/get"},
			setup: func(t *testing.T, e *env) {
				srv, _ := securityServer(t, 403)
				e.c = client(t, srv.URL, nil)
			}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			es, _ := loss(t, 50, 1)
			e := &env{es: es, c: es.Client(), opt: options("fail-fast")}
			e.src = restore.SnapshotSource(e.c, repo, snap, "", false, "")
			if tt.setup != nil {
				tt.setup(t, e)
			}
			untouched(t, es, original)
			var fails bytes.Buffer
			e.opt.Failures = &fails
			r, err := restore.New(e.c, e.opt)
			if err != nil {
				t.Fatal(err)
			}
			checkErr := r.Check(t.Context(), e.src)
			st, err := r.Run(t.Context(), e.src)
			for _, got := range []error{checkErr, err} {
				if !errors.Is(got, tt.want) {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
				for _, s := range tt.text {
					if !strings.Contains(got.Error(), s) {
						t.Errorf("error %q does not name %s", got, s)
					}
				}
				if strings.Contains(got.Error(), "s3cret") {
					t.Errorf("error %q shows the password", got)
				}
			}
			c := es.Client()
			if got := exists(t, c, target); got != tt.targetBefore {
				t.Errorf("target exists: %v, want %v", got, tt.targetBefore)
			}
			if tt.targetBefore && metaOf(t, c, target)["original"] != "" {
				t.Errorf("existing target was written to: _meta %v", metaOf(t, c, target))
			}
			if exists(t, c, "esrestore-staging-fail-fast") {
				t.Errorf("a staging index was created")
			}
			if st.Read != 0 || fails.Len() != 0 {
				t.Errorf("read %d, failures %q: want nothing", st.Read, fails.String())
			}
		})
	}
}

// TestNew: every bad option is reported at once, with its value.
func TestNew(t *testing.T) {
	es := estest.NewES(t)
	def := restore.NewOptions()
	if def.Workers != 4 || def.BatchBytes != 5<<20 || def.BatchDocs != 1000 || def.Retry.Budget != 5*time.Minute ||
		def.Mode != restore.ModeMerge || def.Prefer != restore.PreferOriginal || def.Retry.Cap != 30*time.Second || def.Drain != time.Minute {
		t.Errorf("NewOptions() = %+v", def)
	}
	for _, tt := range []struct {
		name string
		opt  restore.Options
		want error
		text []string
	}{
		{"missing-names", restore.Options{}, restore.ErrInvalidOptions, []string{"original: required", "target: required"}},
		{"target-is-original", restore.Options{Original: "a", Target: "a"}, restore.ErrTargetIsOriginal, []string{`"a"`}},
		{"bad-target-name", restore.Options{Original: "a", Target: "Restored"}, restore.ErrInvalidOptions, []string{"lowercase", `"Restored"`}},
		{"negative-workers", restore.Options{Original: "a", Target: "b", Workers: -1}, restore.ErrInvalidOptions, []string{"workers", "-1"}},
		{"bad-mode-and-prefer", restore.Options{Original: "a", Target: "b", Mode: "both", Prefer: "newest"}, restore.ErrInvalidOptions,
			[]string{`mode: must be "merge" or "source" (got "both")`, `(got "newest")`}},
		{"bad-batches", restore.Options{Original: "a", Target: "b", BatchBytes: -5, BatchDocs: -1, Retry: retry.Policy{Budget: -1}}, restore.ErrInvalidOptions,
			[]string{"batch-bytes", "batch-docs", "retry: invalid retry policy: budget"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := restore.New(es.Client(), tt.opt)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			for _, s := range tt.text {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
			var fe *fielderr.Error
			if tt.want == restore.ErrInvalidOptions && !errors.As(err, &fe) {
				t.Errorf("error %q names no field (fielderr.Error)", err)
			}
		})
	}
	r, err := restore.New(es.Client(), restore.Options{Original: "a", Target: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if o := r.Options(); o.RunID == "" || o.Started.IsZero() || o.ToolVersion == "" || o.Workers != 4 {
		t.Errorf("defaults not filled: %+v", o)
	}
}

func TestParseSourceSpec(t *testing.T) {
	for _, tt := range []struct {
		raw  string
		want restore.SourceSpec
		bad  string // a part of the reason
	}{
		{raw: "index:documents-backup", want: restore.SourceSpec{Kind: restore.SourceIndex, Index: "documents-backup"}},
		{raw: "snapshot:backups/before-loss", want: restore.SourceSpec{Kind: restore.SourceSnapshot, Repo: "backups", Snapshot: "before-loss"}},
		{raw: "snapshot:backups/before-loss/documents", want: restore.SourceSpec{Kind: restore.SourceSnapshot, Repo: "backups", Snapshot: "before-loss", Index: "documents"}},
		{raw: "https://u:p@backup.internal:9200/documents/", want: restore.SourceSpec{Kind: restore.SourceRemote, Index: "documents", URL: "https://backup.internal:9200", User: "u", Password: "p"}},
		{raw: "s3://bucket/dumps/documents.ndjson.gz", want: restore.SourceSpec{Kind: restore.SourceDump, URL: "s3://bucket/dumps/documents.ndjson.gz"}},
		{raw: "../dump.ndjson", want: restore.SourceSpec{Kind: restore.SourceDump, URL: "../dump.ndjson"}},
		{raw: "", bad: "is required"},
		{raw: "snapshot:backups", bad: "must be snapshot:REPO/SNAP[/INDEX]"},
		{raw: "snapshot:backups//documents", bad: "must be snapshot:REPO/SNAP[/INDEX]"},
		{raw: "index:", bad: "index is required"},
		{raw: "index:a/b", bad: "index must not contain"},
		{raw: "https://u:secret@backup.internal:9200", bad: "must end with the index name"},
		{raw: "file:///tmp/x.json", bad: "must end in .ndjson or .ndjson.gz"},
		{raw: "documents", bad: "must be snapshot:REPO/SNAP[/INDEX]"},
	} {
		t.Run(redact.URLs(tt.raw), func(t *testing.T) {
			got, err := restore.ParseSourceSpec(tt.raw)
			if tt.bad == "" {
				if err != nil || got != tt.want {
					t.Errorf("got %+v, %v; want %+v", got, err, tt.want)
				}
				return
			}
			var fe *fielderr.Error
			if !errors.Is(err, restore.ErrInvalidOptions) || !errors.As(err, &fe) || fe.Field != "source" || !strings.Contains(fe.Reason, tt.bad) {
				t.Fatalf("got %v, want a source field error matching ErrInvalidOptions with %q", err, tt.bad)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}
