// Package page writes report.html, the reviewer's page beside
// summary.json: one self-contained file (inline CSS and JS, nothing
// fetched, a Content-Security-Policy that allows only its own inline
// style and script by hash) that says the verdict first, its reasons
// leading to the documents they count, then the counts (each with a line
// saying what it counts), the choice of --prefer not made, the watched
// paths and the restore's scope, the shape of the loss, a bounded sample
// of documents per class, the field tables (what was lost since the
// backup; what the switch does, with the transitions), the mapping and
// settings differences, failures and the integrity record.
//
// Everything above the documents is rendered by html/template and reads
// with JavaScript off; the script only sorts, filters and draws the
// sampled documents from a JSON block. Values are set as text everywhere,
// so a document holding markup shows it rather than runs it.
//
// The page's size is bounded whatever the size of the diff: a Collector
// keeps at most Options' share of each stream, and the summary's own
// parts are bounded by diff's limits and MaxIndexOps.
package page

import (
	"bufio"
	"cmp"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/esrestore/esrestore/diff"
	"github.com/esrestore/esrestore/internal/redact"
	"github.com/esrestore/esrestore/internal/shell"
	"github.com/esrestore/esrestore/report"
)

// Defaults of Options, applied to its zero fields.
const (
	DefaultPerClass       = 200
	DefaultMaxClassBytes  = 512 << 10
	DefaultMaxLineBytes   = 8 << 10
	DefaultMaxStringBytes = 400
	DefaultMaxFailures    = 100
	DefaultMaxIndexOps    = 200
)

// Options bound what the page keeps. The zero value is usable: every
// zero field takes the default in its comment. NewCollector reads all
// but MaxIndexOps; Write reads MaxIndexOps and MaxStringBytes.
type Options struct {
	// PerClass is the number of diff lines kept per class. 0 =
	// DefaultPerClass (200).
	PerClass int
	// MaxClassBytes bounds the kept lines of one class, and of the
	// failures, once shrunk. 0 = DefaultMaxClassBytes (512 KiB).
	MaxClassBytes int
	// MaxLineBytes is the budget of one kept line: members past it are
	// left out, and counted. 0 = DefaultMaxLineBytes (8 KiB).
	MaxLineBytes int
	// MaxStringBytes cuts longer strings inside kept lines and index
	// patch values. 0 = DefaultMaxStringBytes (400).
	MaxStringBytes int
	// MaxFailures is the number of failures lines kept. 0 =
	// DefaultMaxFailures (100).
	MaxFailures int
	// MaxIndexOps is the number of operations shown of each mapping or
	// settings patch. 0 = DefaultMaxIndexOps (200).
	MaxIndexOps int
}

// withDefaults fills the zero fields: the one place defaults are applied.
func (o Options) withDefaults() Options {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.PerClass, DefaultPerClass)
	def(&o.MaxClassBytes, DefaultMaxClassBytes)
	def(&o.MaxLineBytes, DefaultMaxLineBytes)
	def(&o.MaxStringBytes, DefaultMaxStringBytes)
	def(&o.MaxFailures, DefaultMaxFailures)
	def(&o.MaxIndexOps, DefaultMaxIndexOps)
	return o
}

// Page statuses: the verdict's, and incomplete for a run that did not
// finish, whatever its verdict says.
const (
	StatusOK         = report.StatusOK
	StatusReview     = report.StatusReview
	StatusIncomplete = "incomplete"
)

// Status is the page's status for s.
func Status(s *report.Summary) string {
	switch {
	case !s.Complete:
		return StatusIncomplete
	case s.Verdict.Status == report.StatusOK:
		return StatusOK
	default:
		return StatusReview
	}
}

var (
	//go:embed page.html.tmpl
	pageHTML string
	//go:embed page.css
	pageCSS string
	//go:embed page.js
	pageJS string

	pageTmpl = template.Must(template.New(report.PageName).Funcs(template.FuncMap{
		"num":     formatInt,
		"percent": percent,
	}).Parse(pageHTML))

	// csp allows nothing but the page's own style and script, by hash:
	// a bucket page then works offline, and an injected element could
	// neither run nor fetch.
	csp = "default-src 'none'; style-src '" + hash(pageCSS) + "'; script-src '" + hash(pageJS) +
		"'; img-src 'none'; base-uri 'none'; form-action 'none'"
)

func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

// Write renders the page of s, with the documents and failures c kept,
// to w. c may be nil (a run that stopped before the diff).
func Write(w io.Writer, s *report.Summary, c *Collector, opt Options) error {
	opt = opt.withDefaults()
	v := build(s, c, opt)
	bw := bufio.NewWriterSize(w, 64<<10)
	if err := pageTmpl.Execute(bw, v); err != nil {
		return fmt.Errorf("render %s: %w", report.PageName, err)
	}
	return bw.Flush()
}

// view is what the template reads.
type view struct {
	CSP  string
	CSS  template.CSS
	JS   template.JS
	Data pageData

	Title, Status, Mark, Word, Headline string
	Environment, Original, Target       string
	S                                   *report.Summary
	Error                               string
	Started, Finished, Duration         string
	Reasons                             []reasonView

	Counts []countTable

	Fields          []fieldRow
	FieldTables     []fieldTable
	FieldsOther     *diff.FieldOther
	Ignored         []string
	Transitions     []transitionRow
	TransitionsMore int
	Profile         *profileView
	Alternatives    *alternativesView
	Watched         []watchRow
	WatchedMore     int
	Scope           *scopeView

	Classes     []classData
	DocsCmd     string
	HaveDocs    bool
	Indexes     []patchView
	Failures    []failureRow
	FailureN    int64
	FailuresCmd string
	Objects     []objectRow
	States      []stateRow
	Integrity   report.Integrity
	Options     []kv
}

// countTable is one block of counts, side by side with the others.
type countTable struct {
	Name, Title, Note, None string
	Rows                    []countRow
}

type stateRow struct {
	Name  string
	State *report.IndexState
}

type countRow struct {
	Key   string // summary.json path, e.g. "outcome.recovered"
	Label string
	Value int64
	Bad   bool // a nonzero value that stands against switching
	Sub   bool // a detail of the row above
	Help  string
}

type fieldRow struct {
	Path, Class                         string
	Add, Replace, Remove, Ops, Document int64
	Samples                             []sampleRow
}

type sampleRow struct {
	ID, Before, After string
	Cut               bool
}

type classData struct {
	Name   string `json:"name"`
	Label  string `json:"label"`
	Symbol string `json:"symbol"`
	Before string `json:"before"`
	After  string `json:"after"`
	Total  int64  `json:"total"`
	Kept   int    `json:"kept"`
	More   int64  `json:"more"`
	Cmd    string `json:"cmd"`
}

type docData struct {
	Class string          `json:"c"`
	ID    string          `json:"id"`
	Cut   bool            `json:"cut,omitempty"`
	Line  json.RawMessage `json:"l"`
	// Watched are the --watch paths the line names.
	Watched []string `json:"w,omitempty"`
}

// pageData is the JSON block the script reads.
type pageData struct {
	Classes []classData `json:"classes"`
	Docs    []docData   `json:"docs"`
	// Fetch is the shell pipeline printing diff.ndjson.gz.
	Fetch string `json:"fetch"`
	// Watched: the run watched paths (--watch), so the page offers
	// their filter.
	Watched bool `json:"watched,omitempty"`
}

type patchView struct {
	Name, Title string
	Compared    bool
	Ops         []opRow
	More        int
}

type opRow struct{ Op, Path, Value string }

type failureRow struct {
	ID, Index, Source, OpType, ErrType, Reason, Error, Document string
	Line, Status, Attempts                                      int
	Cut                                                         bool
}

type objectRow struct {
	Name string
	report.Object
}

type kv struct{ Key, Value string }

// classes in the order the page lists them: the schema's, then any other.
var classOrder = []struct{ name, label, symbol, before, after string }{
	{diff.ChangeRecovered, "recovered", "~", "original", "target"},
	{diff.ChangeOverwritten, "overwritten", "*", "original", "target"},
	{diff.ChangeAdded, "added", "+", "original", "target"},
	{diff.ChangeRemoved, "removed", "-", "original", "target"},
	{diff.ChangeNotRecovered, "not recovered", "!", "original", "backup"},
	{diff.ChangeSkipped, "skipped", "○", "backup", "target"},
}

func build(s *report.Summary, c *Collector, opt Options) *view {
	v := &view{
		CSP: csp, CSS: template.CSS(pageCSS), JS: template.JS(pageJS),
		S: s, Status: Status(s),
		Environment: strings.ToUpper(s.Environment),
		Original:    s.Original,
		Target:      cmp.Or(s.Target, s.Restored),
		Error:       redact.URLs(s.Error),
		Ignored:     s.Ignored,
		Integrity:   s.Integrity,
	}
	switch v.Status {
	case StatusIncomplete:
		v.Mark, v.Word, v.Headline = "✗", "INCOMPLETE", "The run did not finish: do not act on this report."
	case StatusOK:
		v.Mark, v.Word, v.Headline = "✓", "OK", "Switching the alias to the target loses and overwrites nothing."
	default:
		v.Mark, v.Word, v.Headline = "!", "REVIEW", "Read the reasons below before switching the alias."
		if s.Verdict.Status == "" {
			v.Headline = "No verdict was recorded: review before switching the alias."
		}
	}
	v.Title = strings.Join(nonEmpty(v.Environment, v.Original+" → "+cmp.Or(v.Target, "?"), v.Word), " · ")
	v.Started, v.Finished = formatTime(s.Started), formatTime(s.Finished)
	if !s.Started.IsZero() && !s.Finished.IsZero() && !s.Finished.Before(s.Started) {
		v.Duration = s.Finished.Sub(s.Started).Round(time.Second).String()
	}
	v.reasons(s)
	v.counts(s)
	v.fields(s)
	v.splitFields()
	v.transitions(s)
	v.profile(s)
	v.alternatives(s)
	v.watched(s)
	v.scope(s)
	diffURL := objectURL(s, "diff", report.DiffName)
	v.Data.Fetch = fetchCmd(diffURL)
	v.DocsCmd = v.Data.Fetch + " | jq -c ."
	v.documents(c)
	v.indexes(s, opt)
	v.failures(s, c)
	v.integrity(s)
	return v
}

func (v *view) counts(s *report.Summary) {
	loss := countTable{Name: "loss", Title: "Loss", None: "no backup was compared"}
	outcome := countTable{Name: "outcome", Title: "Outcome", None: "no comparison ran"}
	restore := countTable{Name: "restore", Title: "Restore", None: "no restore ran",
		Note: "read = indexed + kept + skipped + failed + pending: every document read has one fate"}
	defer func() {
		v.Counts = []countTable{loss, outcome, restore}
		if t := retriesTable(s); t != nil {
			v.Counts = append(v.Counts, *t)
		}
		if t := attemptsTable(s); t != nil {
			v.Counts = append(v.Counts, *t)
		}
	}()
	if o := s.Outcome; o != nil {
		outcome.Note = "original → target: what switching the alias does"
		outcome.Rows = []countRow{
			{Key: "outcome.recovered", Label: "recovered", Value: o.Recovered},
			{Key: "outcome.overwritten", Label: "overwritten", Value: o.Overwritten, Bad: o.Overwritten > 0},
			{Key: "outcome.routing_changed", Label: "of which routing changed", Value: o.RoutingChanged, Sub: true, Bad: o.RoutingChanged > 0},
			{Key: "outcome.added", Label: "added", Value: o.Added},
			{Key: "outcome.removed", Label: "removed", Value: o.Removed, Bad: o.Removed > 0},
			{Key: "outcome.skipped", Label: "skipped", Value: o.Skipped, Help: "backup documents --skip-ids or --only-query left out: not restored, not counted as not recovered"},
			{Key: "outcome.unchanged", Label: "unchanged", Value: o.Unchanged},
			{Key: "outcome.original", Label: "in the original", Value: o.Original},
			{Key: "outcome.target", Label: "in the target", Value: o.Target},
		}
		if l := s.Live; l != nil {
			outcome.Note = "original → target: what switching the alias does, the original as of " +
				l.At.UTC().Format(time.RFC3339) + "; what it took after that, the promote brings across"
			outcome.Rows = append(outcome.Rows,
				countRow{Key: "live.new", Label: "new in the original since", Value: l.New},
				countRow{Key: "live.changed", Label: "changed in the original since", Value: l.Changed},
				countRow{Key: "live.deleted", Label: "deleted from the original since", Value: l.Deleted})
		}
	}
	if l := s.Loss; l != nil {
		loss.Note = "original vs backup: what the incident took"
		loss.Rows = []countRow{
			{Key: "loss.lost", Label: "lost", Value: l.Lost,
				Help: "in the backup, not in the original: lost, or deleted on purpose since the backup (the report cannot tell which)"},
			{Key: "loss.stripped", Label: "stripped", Value: l.Stripped,
				Help: "in both, the backup holding paths the original lacks"},
			{Key: "loss.edited_since_backup", Label: "edited since backup", Value: l.EditedSinceBackup,
				Help: "in both, a value changed since the backup"},
			{Key: "loss.not_recovered", Label: "not recovered", Value: l.NotRecovered, Bad: l.NotRecovered > 0,
				Help: "lost documents or stripped paths the target lacks too"},
			{Key: "loss.not_recovered_lost", Label: "of which whole documents", Value: l.NotRecoveredLost, Sub: true, Bad: l.NotRecoveredLost > 0},
			{Key: "loss.new_since_backup", Label: "new since backup", Value: l.NewSinceBackup},
			{Key: "loss.backup", Label: "in the backup", Value: l.Backup},
		}
	}
	if r := s.Restore; r != nil {
		restore.Rows = []countRow{
			{Key: "restore.read", Label: "read", Value: r.Read,
				Help: "documents the restore went through: the backup's, then the original's, each compared with the target's copy"},
		}
		if r.SnapshotRestored > 0 {
			restore.Rows = append(restore.Rows, countRow{Key: "restore.snapshot_restored", Label: "of which restored from the snapshot", Value: r.SnapshotRestored, Sub: true,
				Help: "Elasticsearch restored the snapshot's index as the target: read and kept, none written one by one"})
		}
		restore.Rows = append(restore.Rows,
			countRow{Key: "restore.indexed", Label: "indexed", Value: r.Indexed,
				Help: "written to the target: the copy --prefer chose differed from the one the target held"},
			countRow{Key: "restore.kept", Label: "kept", Value: r.Kept,
				Help: "already right in the target, so not written: a large kept next to a small indexed is a restore that had little to do"},
			countRow{Key: "restore.skipped", Label: "skipped", Value: r.Skipped,
				Help: "left out by --skip-ids or --only-query: not written"},
			countRow{Key: "restore.failed", Label: "failed", Value: r.Failed, Bad: r.Failed > 0,
				Help: "refused by Elasticsearch, or out of retries: each is in failures.ndjson.gz with its error"},
			countRow{Key: "restore.pending", Label: "pending", Value: r.Pending, Bad: r.Pending > 0,
				Help: "read, fate unknown after an interruption: a rerun with the same run id settles them"},
			countRow{Key: "restore.ambiguous", Label: "ambiguous", Value: r.Ambiguous, Sub: true,
				Help: "an answer lost in transport, then found written by a later attempt: may be this run's own write"},
			countRow{Key: "restore.retried", Label: "retried", Value: r.Retried, Sub: true,
				Help: "writes sent again after a transient failure (429, 5xx, a cut connection)"},
			countRow{Key: "restore.target_count", Label: "target _count", Value: r.TargetCount,
				Help: "documents in the target after the final refresh"},
		)
	}
}

// retriesTable counts, phase by phase, the calls made again after a
// transient failure; nil for a summary that does not count them.
func retriesTable(s *report.Summary) *countTable {
	if len(s.Retries) == 0 {
		return nil
	}
	t := &countTable{Name: "retries", Title: "Retries", Note: "Elasticsearch calls made again after a 429, a 5xx or a refused or cut connection"}
	for _, p := range report.RetryPhases(s.Retries) {
		r := s.Retries[p]
		t.Rows = append(t.Rows, countRow{Key: "retries." + p + ".retries", Label: p, Value: r.Retries})
		if r.GaveUp > 0 {
			t.Rows = append(t.Rows, countRow{Key: "retries." + p + ".gave_up", Label: "gave up past --retry-for", Value: r.GaveUp, Sub: true, Bad: true})
		}
	}
	return t
}

// attemptsTable lists the attempts of a resumed run and what each
// indexed; nil for a run of one attempt.
func attemptsTable(s *report.Summary) *countTable {
	if len(s.Attempts) < 2 {
		return nil
	}
	t := &countTable{Name: "attempts", Title: "Attempts", Note: "this run id ran more than once: the counts above cover every attempt"}
	for i, a := range s.Attempts {
		label := fmt.Sprintf("attempt %d, %s: indexed", a.Number, a.Ended)
		if a.Restore == nil {
			t.Rows = append(t.Rows, countRow{Key: fmt.Sprintf("attempts.%d.number", i), Label: fmt.Sprintf("attempt %d, %s, counts unknown", a.Number, a.Ended), Value: int64(a.Number)})
			continue
		}
		t.Rows = append(t.Rows, countRow{Key: fmt.Sprintf("attempts.%d.restore.indexed", i), Label: label, Value: a.Restore.Indexed,
			Bad: a.Ended != report.AttemptComplete})
	}
	return t
}

func (v *view) fields(s *report.Summary) {
	if s.Fields == nil {
		return
	}
	for _, f := range s.Fields.Paths {
		row := fieldRow{
			Path: f.Path, Class: f.Class, Add: f.Add, Replace: f.Replace, Remove: f.Remove,
			Ops: f.Add + f.Replace + f.Remove, Document: f.Documents,
		}
		for _, sm := range f.Samples {
			row.Samples = append(row.Samples, sampleRow{ID: sm.ID, Before: rawText(sm.Before), After: rawText(sm.After), Cut: sm.Cut})
		}
		v.Fields = append(v.Fields, row)
	}
	if o := s.Fields.Other; o.Paths > 0 || o.Truncated || o.Add+o.Replace+o.Remove > 0 {
		v.FieldsOther = &o
	}
}

// rawText is a sample value as the page shows it; "" for absent.
func rawText(m json.RawMessage) string {
	if len(m) == 0 {
		return ""
	}
	return string(m)
}

func (v *view) documents(c *Collector) {
	if c == nil {
		return
	}
	v.HaveDocs = true
	counts := c.Classes()
	seen := map[string]bool{}
	add := func(cc ClassCount, label, symbol, before, after string) {
		cd := classData{
			Name: cc.Class, Label: label, Symbol: symbol, Before: before, After: after,
			Total: cc.Total, Kept: cc.Kept, More: cc.Total - int64(cc.Kept),
		}
		if safeClass.MatchString(cc.Class) {
			cd.Cmd = v.Data.Fetch + ` | jq -c 'select(.change == "` + cc.Class + `")'`
		}
		v.Classes = append(v.Classes, cd)
		seen[cc.Class] = true
	}
	for _, co := range classOrder {
		cc := ClassCount{Class: co.name}
		for _, x := range counts {
			if x.Class == co.name {
				cc = x
			}
		}
		add(cc, co.label, co.symbol, co.before, co.after)
	}
	for _, cc := range counts {
		if !seen[cc.Class] {
			add(cc, cmp.Or(cc.Class, "(no change)"), "?", "original", "target")
		}
	}
	v.Data.Classes = v.Classes
	v.Data.Watched = len(v.Watched) > 0
	v.Data.Docs = []docData{}
	for _, e := range c.Entries() {
		v.Data.Docs = append(v.Data.Docs, docData{Class: e.Class, ID: e.ID, Cut: e.Cut, Line: e.Line, Watched: e.Watched})
	}
}

// safeClass is a class name that may go into a shell line as it is.
var safeClass = regexp.MustCompile(`^[a-z_]{1,32}$`)

func (v *view) indexes(s *report.Summary, opt Options) {
	if s.Indexes == nil {
		return
	}
	for _, p := range []struct {
		name, title string
		patch       []report.PatchOp
		compared    bool
	}{
		{"mappings", "Mappings, original → target", s.Indexes.Mappings, true},
		{"settings", "Settings, original → target", s.Indexes.Settings, true},
		{"snapshot_mappings", "Mappings, original → snapshot", s.Indexes.SnapshotMappings, s.Indexes.SnapshotMappings != nil},
	} {
		if !p.compared {
			continue
		}
		pv := patchView{Name: p.name, Title: p.title, Compared: p.compared}
		for i, op := range p.patch {
			if i == opt.MaxIndexOps {
				pv.More = len(p.patch) - i
				break
			}
			pv.Ops = append(pv.Ops, opRow{Op: op.Type, Path: op.Path, Value: valueText(op.Value, opt.MaxStringBytes)})
		}
		v.Indexes = append(v.Indexes, pv)
	}
}

// valueText is a JSON value as compact text, cut past limit bytes; ""
// for none.
func valueText(v json.RawMessage, limit int) string {
	if len(v) == 0 {
		return ""
	}
	out, _, ok := shrink(nil, v, limit, 4*limit)
	if !ok {
		return string(v[:min(len(v), limit)])
	}
	return string(out)
}

// failureLine is a failures.ndjson.gz line as restore writes it.
type failureLine struct {
	ID       string          `json:"_id"`
	Index    string          `json:"_index"`
	Source   string          `json:"source"`
	Line     int             `json:"line"`
	OpType   string          `json:"op_type"`
	Status   int             `json:"status"`
	Attempts int             `json:"attempts"`
	Error    json.RawMessage `json:"error"`
	Document json.RawMessage `json:"document"`
	Invalid  string          `json:"invalid_line"`
}

func (v *view) failures(s *report.Summary, c *Collector) {
	v.FailuresCmd = fetchCmd(objectURL(s, "failures", report.FailuresName)) + " | jq -c ."
	if s.Restore != nil {
		v.FailureN = s.Restore.Failed
	}
	if c == nil {
		return
	}
	if n := c.FailureCount().Total; n > v.FailureN {
		v.FailureN = n
	}
	for _, e := range c.FailureEntries() {
		var f failureLine
		if err := json.Unmarshal(e.Line, &f); err != nil {
			// The collector keeps valid JSON only; a line it kept that is
			// not an object still shows, as its text.
			v.Failures = append(v.Failures, failureRow{ID: e.ID, Error: string(e.Line), Cut: e.Cut})
			continue
		}
		row := failureRow{
			ID: cmp.Or(f.ID, e.ID), Index: f.Index, Source: redact.URLs(f.Source), OpType: f.OpType,
			Line: f.Line, Status: f.Status, Attempts: f.Attempts, Cut: e.Cut,
			Error: rawText(f.Error), Document: rawText(f.Document),
		}
		if f.Invalid != "" {
			row.Error = f.Invalid
		}
		var eo struct {
			Type   string `json:"type"`
			Reason string `json:"reason"`
		}
		if json.Unmarshal(f.Error, &eo) == nil {
			row.ErrType, row.Reason = eo.Type, eo.Reason
		}
		v.Failures = append(v.Failures, row)
	}
}

func (v *view) integrity(s *report.Summary) {
	for _, st := range []stateRow{{"original", s.Integrity.Original}, {"target", s.Integrity.Target}, {"backup", s.Integrity.Backup}} {
		if st.State != nil {
			v.States = append(v.States, st)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(s.Objects)) {
		o := s.Objects[name]
		o.URL = redact.URLs(o.URL)
		v.Objects = append(v.Objects, objectRow{Name: name, Object: o})
	}
	for _, k := range slices.Sorted(maps.Keys(s.Options)) {
		val := s.Options[k]
		text := ""
		switch x := val.(type) {
		case string:
			text = x
		default:
			b, _ := json.Marshal(x)
			text = string(b)
		}
		if secretKey.MatchString(k) && text != "" && text != "null" && text != `""` {
			text = redact.Marker
		}
		v.Options = append(v.Options, kv{Key: k, Value: redact.URLs(text)})
	}
}

// secretKey is an option name whose value the page never shows, even if
// the summary carried it unredacted.
var secretKey = regexp.MustCompile(`(?i)pass|secret|token|api[_-]?key|credential|auth`)

// objectURL is the URL of report object name ("diff"), from the summary's
// objects, else under its location, else the bare file name.
func objectURL(s *report.Summary, name, file string) string {
	if o, ok := s.Objects[name]; ok && o.URL != "" {
		return o.URL
	}
	if s.Location != "" {
		return strings.TrimSuffix(s.Location, "/") + "/" + file
	}
	return file
}

// fetchCmd is the shell pipeline that prints a gzipped object.
func fetchCmd(raw string) string {
	raw = redact.URLs(raw)
	if strings.HasPrefix(raw, "s3://") {
		return "aws s3 cp " + shell.Quote(raw) + " - | gunzip"
	}
	if u, err := url.Parse(raw); err == nil && u.Scheme == "file" {
		raw = u.Path
	}
	return "zcat " + shell.Quote(raw)
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// formatInt groups digits by three: 1,234,567.
func formatInt(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func nonEmpty(s ...string) []string {
	return slices.DeleteFunc(s, func(x string) bool { return x == "" })
}
