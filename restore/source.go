package restore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"strings"

	"github.com/elastic/go-elasticsearch/v8"

	"github.com/esrestore/esrestore/internal/dump"
	"github.com/esrestore/esrestore/internal/elastic"
	"github.com/esrestore/esrestore/internal/esscan"
	"github.com/esrestore/esrestore/internal/fielderr"
	"github.com/esrestore/esrestore/internal/redact"
	"github.com/esrestore/esrestore/internal/retry"
)

// Source is where the lost documents come back from. A Restorer calls
// Check (Restorer.Check calls it too, so it may run more than once), then
// Prepare, Scan once, and Cleanup (also after a failure).
type Source interface {
	// Name says what the source is, for logs, failures and the target's
	// _meta, e.g. "snapshot:backups/before-loss/documents". It must not
	// hold secrets.
	Name() string
	// Check verifies, without writing anything, that the source exists:
	// the index, the repository and snapshot and the index in it. It
	// fails fast with an error wrapping ErrSourceMissing. run describes
	// the run the source serves; a wrapper that embeds a Source passes it
	// on unchanged.
	Check(ctx context.Context, run RunInfo) error
	// Prepare makes the documents readable, e.g. restores a snapshot into
	// a staging index.
	Prepare(ctx context.Context) error
	// Scan passes every document to fn, in pages; fn may be called
	// concurrently (sliced index reads). A dump passes its bad lines too.
	// Scan stops at fn's first error and returns it.
	Scan(ctx context.Context, fn ScanFunc) error
	// Cleanup removes what Prepare made, unless told to keep it.
	Cleanup(ctx context.Context) error
}

// ScanFunc receives a page of documents and, from dumps, the lines that are
// not documents (malformed JSON, not an object, missing _id or _source). It
// must not keep the slices after it returns.
type ScanFunc func(ctx context.Context, docs []dump.Doc, bad []*dump.LineError) error

// RunInfo is what a Restorer tells its Source in Check.
type RunInfo struct {
	// ES is the client of the cluster holding the original and the target.
	ES *elasticsearch.Client
	// ClusterUUID is that cluster's, "" when GET / was not allowed.
	ClusterUUID string
	// Original is the concrete name of the original index.
	Original string
	// OriginalAsGiven is the original as Options named it: the concrete
	// name or an alias.
	OriginalAsGiven string
	// OwnNames are the names under which the original's own documents
	// may sit in a snapshot (see indexMeta.ownNames), OriginalAsGiven
	// included.
	OwnNames map[string]bool
	// SourceIndex is Options.SourceIndex.
	SourceIndex string
	// Target is the index restored into.
	Target string
	// Protected are the names a source must never write or delete: the
	// original, its aliases and the target.
	Protected map[string]bool
	// RunID is Options.RunID.
	RunID string
	// KeepStaging is Options.KeepStaging.
	KeepStaging bool
	// Logger is Options.Logger.
	Logger *slog.Logger
	// Retry is Options.Retry: the policy of every idempotent request.
	Retry retry.Policy
	// AllowEmpty is Options.AllowEmptySource: without it, Check (or, for a
	// snapshot, Prepare, before the target is made) fails with
	// ErrSourceEmpty on a source without any document.
	AllowEmpty bool
	// Rescanned counts a point in time reopened during a scan.
	Rescanned func()
}

var (
	_ Source = (*indexSource)(nil)
	_ Source = (*ndjsonSource)(nil)
	_ Source = (*snapshotSource)(nil)
	_ Source = named{}
)

// IndexSource reads index through a point in time, with search_after on
// _shard_doc, in slices read concurrently (slices < 1 means 1). es may be
// the target's cluster or another one; when it is the same client, the
// index must not be the target. Name is "index:INDEX".
func IndexSource(es *elasticsearch.Client, index string, slices int) Source {
	return &indexSource{es: es, index: index, slices: max(slices, 1), name: "index:" + index}
}

type indexSource struct {
	es        *elasticsearch.Client
	index     string
	slices    int
	name      string
	pol       retry.Policy
	rescanned func()
	// seqNo asks for each hit's _seq_no and _primary_term; noSource for
	// ids and routings only.
	seqNo, noSource bool
	// in, when set, is the instant the scan reads at.
	in *esscan.Instant
}

func (s *indexSource) Name() string { return s.name }

func (s *indexSource) Check(ctx context.Context, run RunInfo) error {
	if s.es == nil {
		return fmt.Errorf("source index %q: no elasticsearch client", s.index)
	}
	s.pol, s.rescanned = run.Retry, run.Rescanned
	uuid := run.ClusterUUID
	if s.es != run.ES {
		ci, err := elastic.Reach(ctx, s.es, s.pol, "reach the source cluster")
		if err != nil {
			return err
		}
		uuid = ci.UUID
	}
	im, found, err := getIndex(ctx, s.es, s.pol, s.index, fmt.Sprintf("get source index %q", s.index))
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("source index %q: %w", s.index, ErrSourceMissing)
	}
	if im.closed() {
		return fmt.Errorf("source index %q: %w; open it (POST /%s/_open) before the run", s.index, ErrIndexClosed, im.Name)
	}
	same := s.es == run.ES || (uuid != "" && uuid == run.ClusterUUID)
	if same && run.Target != "" && im.Name == run.Target {
		return fmt.Errorf("source index %q: %w", s.index, ErrSourceIsTarget)
	}
	if im.sourceDisabled() {
		return fmt.Errorf("source index %q: %w, its documents cannot be read back", s.index, ErrSourceDisabled)
	}
	if !run.AllowEmpty {
		return checkNotEmpty(ctx, s.es, s.pol, s.index, "source index")
	}
	return nil
}

// checkNotEmpty fails with ErrSourceEmpty when index has no document.
func checkNotEmpty(ctx context.Context, es *elasticsearch.Client, pol retry.Policy, index, what string) error {
	n, err := elastic.Count(ctx, es, index, pol)
	if err != nil {
		return fmt.Errorf("%s %q: %w", what, index, err)
	}
	if n == 0 {
		return fmt.Errorf("%s %q has no document (--allow-empty-source restores it anyway): %w", what, index, ErrSourceEmpty)
	}
	return nil
}

func (s *indexSource) Prepare(context.Context) error { return nil }

func (s *indexSource) Scan(ctx context.Context, fn ScanFunc) error {
	opt := esscan.Options{Slices: s.slices, Retry: s.pol, SeqNo: s.seqNo, NoSource: s.noSource, Instant: s.in}
	if s.rescanned != nil {
		opt.OnReopen = func(int) { s.rescanned() }
	}
	return esscan.Scan(ctx, s.es, s.index, opt, func(ctx context.Context, _ int, page []dump.Doc) error {
		return fn(ctx, page, nil)
	})
}

func (s *indexSource) Cleanup(context.Context) error { return nil }

// NDJSONSource reads a dump in the elasticdump line format, one
// {"_index","_id","_routing","_source"} object a line, plain or gzip (told
// by its magic bytes). The caller opens r (a file, an S3 stream) and closes
// it after Run; name (a path or URL, without secrets) identifies it in
// failures as name:line.
//
// A line that is not a document (malformed JSON, not an object, missing or
// non-object _source, not valid UTF-8) is counted read and failed,
// reported with its line and the raw line, and the run goes on. A line
// without _id fails the same way: an id is never generated, because a
// rerun of the same dump would then add the document a second time under
// another id, and a reviewer could not tell the restored copy from the
// lost one. A line repeating the _id of an earlier line fails too, naming
// both lines: the first line wins, whatever the number of workers.
//
// A dump without any line fails Check with ErrSourceEmpty unless the run
// allows an empty source.
func NDJSONSource(r io.Reader, name string) Source {
	return &ndjsonSource{r: r, name: name}
}

type ndjsonSource struct {
	r     io.Reader
	name  string
	dr    *dump.Reader
	used  bool
	docs  int // page bounds
	bytes int
	// peeked is the first record, read by Check to tell an empty dump.
	peeked *record
}

// record is what dump.Reader.Next returned.
type record struct {
	doc dump.Doc
	err error
}

// next returns the peeked record first, then the reader's.
func (s *ndjsonSource) next() (dump.Doc, error) {
	if p := s.peeked; p != nil {
		s.peeked = nil
		return p.doc, p.err
	}
	return s.dr.Next()
}

// Page bounds of a dump: pages are copied into _bulk batches, so they only
// need to be large enough to make the handover cheap.
const (
	ndjsonPageDocs  = 500
	ndjsonPageBytes = 1 << 20
)

func (s *ndjsonSource) Name() string { return s.name }

func (s *ndjsonSource) open() error {
	if s.dr != nil {
		return nil
	}
	if s.r == nil {
		return fmt.Errorf("dump %s: %w: no reader", s.name, ErrSourceMissing)
	}
	dr, err := dump.NewReader(s.r, s.name)
	if err != nil {
		return fmt.Errorf("open dump %s: %w", s.name, err)
	}
	s.dr = dr
	return nil
}

// Check opens the dump (a corrupt gzip header fails here) and reads its
// first line to tell an empty dump.
func (s *ndjsonSource) Check(_ context.Context, run RunInfo) error {
	if err := s.open(); err != nil {
		return err
	}
	if s.used || s.peeked != nil {
		return nil
	}
	d, err := s.dr.Next()
	if errors.Is(err, io.EOF) {
		if run.AllowEmpty {
			return nil
		}
		return fmt.Errorf("dump %s has no line (--allow-empty-source restores it anyway): %w", s.name, ErrSourceEmpty)
	}
	var le *dump.LineError
	if err != nil && !errors.As(err, &le) {
		return fmt.Errorf("read dump %s: %w", s.name, err)
	}
	s.peeked = &record{doc: d, err: err}
	return nil
}

func (s *ndjsonSource) Prepare(context.Context) error { return s.open() }

// Scan parses the dump in a goroutine of its own, up to ndjsonReadAhead
// pages ahead of fn: while fn waits for a free _bulk worker, the next
// batch is being parsed, so a worker that frees finds one ready.
func (s *ndjsonSource) Scan(ctx context.Context, fn ScanFunc) error {
	if err := s.open(); err != nil {
		return err
	}
	if s.used {
		return fmt.Errorf("dump %s: already read; a dump can be read once", s.name)
	}
	s.used = true
	pages := make(chan ndjsonPage, ndjsonReadAhead)
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var readErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(pages)
		readErr = s.read(pctx, pages)
	}()
	var err error
	for p := range pages {
		if err != nil {
			continue // drain until the parser sees the cancellation
		}
		if err = ctx.Err(); err == nil {
			err = fn(ctx, p.docs, p.bad)
		}
		if err != nil {
			cancel()
		}
	}
	<-done
	if err != nil {
		return err
	}
	return readErr
}

// ndjsonPage is a page of a dump: its documents and bad lines.
type ndjsonPage struct {
	docs []dump.Doc
	bad  []*dump.LineError
}

// ndjsonReadAhead is how many pages the parser may be ahead.
const ndjsonReadAhead = 2

// read parses the dump into pages.
func (s *ndjsonSource) read(ctx context.Context, pages chan<- ndjsonPage) error {
	pageDocs, pageBytes := s.docs, s.bytes
	if pageDocs <= 0 {
		pageDocs = ndjsonPageDocs
	}
	if pageBytes <= 0 {
		pageBytes = ndjsonPageBytes
	}
	var (
		p    ndjsonPage
		size int
	)
	send := func() error {
		if len(p.docs) == 0 && len(p.bad) == 0 {
			return nil
		}
		select {
		case pages <- p:
			p, size = ndjsonPage{docs: make([]dump.Doc, 0, pageDocs)}, 0
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for {
		d, err := s.next()
		if errors.Is(err, io.EOF) {
			return send()
		}
		var le *dump.LineError
		switch {
		case errors.As(err, &le):
			p.bad = append(p.bad, le)
		case err != nil:
			return fmt.Errorf("read dump %s: %w", s.name, err)
		default:
			p.docs = append(p.docs, d)
			size += len(d.Source)
		}
		if len(p.docs) >= pageDocs || size >= pageBytes || len(p.bad) >= pageDocs {
			if err := send(); err != nil {
				return err
			}
		}
	}
}

func (s *ndjsonSource) Cleanup(context.Context) error { return nil }

// Named returns src under another name, e.g. the URL of another cluster
// (without credentials) for an IndexSource.
func Named(src Source, name string) Source { return named{Source: src, name: name} }

type named struct {
	Source
	name string
}

func (n named) Name() string { return n.name }

// SourceKind is the kind of backup a SourceSpec names.
type SourceKind string

// Kinds of source.
const (
	SourceSnapshot SourceKind = "snapshot" // snapshot:REPO/SNAP[/INDEX]
	SourceIndex    SourceKind = "index"    // index:NAME, on the original's cluster
	SourceRemote   SourceKind = "remote"   // https://host:9200/NAME, another cluster
	SourceDump     SourceKind = "dump"     // an NDJSON dump: file://, s3:// or a path
)

// SourceSpec is a source as an operator writes it, parsed: the caller
// builds the Source from it (SnapshotSource, IndexSource on its own client
// or another cluster's, NDJSONSource on the dump it opens).
type SourceSpec struct {
	Kind SourceKind
	// Repo and Snapshot name a snapshot.
	Repo, Snapshot string
	// Index is the snapshot's index ("" for the original's), the index's
	// name, or the remote cluster's index.
	Index string
	// URL is the remote cluster's base URL without its credentials, or
	// the dump's URL or path.
	URL string
	// User and Password are the remote cluster's credentials, taken out of
	// its URL.
	User, Password string
}

// sourceForms says what ParseSourceSpec accepts.
const sourceForms = "must be snapshot:REPO/SNAP[/INDEX], index:NAME, https://host:9200/NAME, file:///path.ndjson[.gz] or s3://bucket/key.ndjson[.gz]"

// ParseSourceSpec reads a source: snapshot:REPO/SNAP[/INDEX], index:NAME,
// http(s)://[user:password@]host:port/NAME, or an NDJSON dump (file://,
// s3:// or a path ending in .ndjson or .ndjson.gz). The error is a
// *fielderr.Error of field "source" matching ErrInvalidOptions, its reason
// saying which forms are accepted; the value it quotes has its credentials
// redacted.
func ParseSourceSpec(raw string) (SourceSpec, error) {
	bad := func(reason string) (SourceSpec, error) {
		return SourceSpec{}, fielderr.New(ErrInvalidOptions, "source", reason, strconv.Quote(redact.URLs(raw)))
	}
	switch {
	case raw == "":
		return bad("is required")
	case strings.HasPrefix(raw, "snapshot:"):
		parts := strings.Split(strings.TrimPrefix(raw, "snapshot:"), "/")
		if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" || (len(parts) == 3 && parts[2] == "") {
			return bad(sourceForms)
		}
		s := SourceSpec{Kind: SourceSnapshot, Repo: parts[0], Snapshot: parts[1]}
		if len(parts) == 3 {
			s.Index = parts[2]
		}
		return s, nil
	case strings.HasPrefix(raw, "index:"):
		name := strings.TrimPrefix(raw, "index:")
		if why := CheckIndexName(name); why != "" {
			return bad("index " + why)
		}
		return SourceSpec{Kind: SourceIndex, Index: name}, nil
	case strings.HasPrefix(raw, "http://") || strings.HasPrefix(raw, "https://"):
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			return bad(sourceForms)
		}
		name := strings.Trim(u.Path, "/")
		if name == "" || strings.Contains(name, "/") {
			return bad("a cluster URL must end with the index name: https://host:9200/NAME")
		}
		s := SourceSpec{Kind: SourceRemote, Index: name}
		if u.User != nil {
			s.User = u.User.Username()
			s.Password, _ = u.User.Password()
			u.User = nil
		}
		u.Path = ""
		s.URL = u.String()
		return s, nil
	case IsDumpURL(raw):
		if !strings.HasSuffix(raw, ".ndjson") && !strings.HasSuffix(raw, ".ndjson.gz") {
			return bad("an NDJSON dump must end in .ndjson or .ndjson.gz")
		}
		return SourceSpec{Kind: SourceDump, URL: raw}, nil
	}
	return bad(sourceForms)
}

// IsDumpURL reports whether raw names an NDJSON dump rather than an index:
// a file:// or s3:// URL, or a path ending in .ndjson or .ndjson.gz.
func IsDumpURL(raw string) bool {
	if strings.HasPrefix(raw, "file://") || strings.HasPrefix(raw, "s3://") {
		return true
	}
	// A bare path is a dump only by its name: "a/b" or "../documents"
	// is a mistyped index name, refused as one, never sent as a path.
	return strings.HasSuffix(raw, ".ndjson") || strings.HasSuffix(raw, ".ndjson.gz")
}
