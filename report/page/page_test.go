package page

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/esrestore/esrestore/diff"
	"github.com/esrestore/esrestore/report"
)

// render writes the scenario's page.
func render(t testing.TB, sc *scenario, opt Options) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, sc.summary, sc.collect(opt), opt); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// The page's markup holds no hostile value as markup: the only script
// tags are the page's own two, no element of a hostile value exists, and
// the secrets of the options are not there at all.
func TestPageEscapes(t *testing.T) {
	sc := newScenario(t, 200)
	page := render(t, sc, Options{})
	lower := strings.ToLower(string(page))
	if n := strings.Count(lower, "</script"); n != 2 {
		t.Errorf("got %d </script, want 2 (the JSON block's and the script's)", n)
	}
	if n := strings.Count(lower, "<script"); n != 2 {
		t.Errorf("got %d <script, want 2", n)
	}
	for _, tag := range []string{"<img", "<svg", "<b>", "<!--"} {
		if strings.Contains(lower, tag) {
			t.Errorf("page holds %q as markup", tag)
		}
	}
	if bytes.Contains(page, []byte(secret)) {
		t.Errorf("page holds the secret %q", secret)
	}
	// The hostile values are there, as text.
	for _, want := range []string{"&lt;img src=x onerror=", `\u003c/script\u003e\u003cscript\u003ewindow.__pwned=1`} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("page lacks %q", want)
		}
	}
	// The JSON block parses back to what the collector kept.
	m := regexp.MustCompile(`(?s)<script type="application/json" id="page-data">(.*?)</script>`).FindSubmatch(page)
	if m == nil {
		t.Fatal("no JSON block")
	}
	var data pageData
	if err := json.Unmarshal(m[1], &data); err != nil {
		t.Fatalf("JSON block: %v", err)
	}
	if len(data.Docs) == 0 || len(data.Classes) != len(classOrder) {
		t.Errorf("got %d docs and %d classes in the JSON block", len(data.Docs), len(data.Classes))
	}
}

// The CSP names the hashes of the inline style and script exactly as
// they are on the page: a browser refuses either if not.
func TestPageCSP(t *testing.T) {
	page := string(render(t, newScenario(t, 40), Options{}))
	m := regexp.MustCompile(`<meta http-equiv="Content-Security-Policy" content="([^"]*)">`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no CSP meta tag")
	}
	policy := html.UnescapeString(m[1])
	if !strings.HasPrefix(policy, "default-src 'none';") {
		t.Errorf("got policy %q, want default-src 'none' first", policy)
	}
	for _, tt := range []struct{ directive, re string }{
		{"style-src", `(?s)<style>(.*?)</style>`},
		{"script-src", `(?s)<script>(.*?)</script>`},
	} {
		body := regexp.MustCompile(tt.re).FindStringSubmatch(page)
		if body == nil {
			t.Fatalf("no inline %s", tt.directive)
		}
		sum := sha256.Sum256([]byte(body[1]))
		want := fmt.Sprintf("%s 'sha256-%s'", tt.directive, base64.StdEncoding.EncodeToString(sum[:]))
		if !strings.Contains(policy, want) {
			t.Errorf("policy %q lacks %q", policy, want)
		}
	}
	// Inline handlers and style attributes would need 'unsafe-inline'.
	if m := regexp.MustCompile(`(?i)<[a-z][a-z0-9]*(\s+[a-z-]+(="[^"]*")?)*\s+(on[a-z]+|style)=`).FindString(page); m != "" {
		t.Errorf("page has %q, which the policy refuses", m)
	}
}

// Whatever the number of documents, the page stays within a few MB:
// the collector's bounds hold for many large documents of every class.
func TestPageSizeBounded(t *testing.T) {
	sc := newScenario(t, 3000)
	// Every line padded with long markup: the bound, not the data, must
	// decide the size.
	var pad strings.Builder
	fmt.Fprintf(&pad, `{"html":%q,"more":[`, strings.Repeat("<p>&amp;</p>", 200))
	for j := range 50 {
		fmt.Fprintf(&pad, `"<%d>",`, j)
	}
	pad.WriteString("0]}}\n")
	c := NewCollector(Options{})
	const perClass = 20_000
	var line []byte
	for i := range perClass {
		for _, class := range []string{"added", "removed", "recovered", "overwritten", "not_recovered"} {
			line = fmt.Appendf(line[:0], `{"_id":"%s-%06d","change":%q,"restored":`, class, i, class)
			c.Write(append(line, pad.String()...))
		}
	}
	var page bytes.Buffer
	if err := Write(&page, sc.summary, c, Options{}); err != nil {
		t.Fatal(err)
	}
	t.Logf("page of %d documents in 5 classes: %d bytes", 5*perClass, page.Len())
	if max := 5 * DefaultMaxClassBytes * 12 / 10; page.Len() > max {
		t.Errorf("page is %d bytes for %d documents, want at most %d", page.Len(), 5*perClass, max)
	}
	for _, cc := range c.Classes() {
		if cc.Total != perClass || cc.Kept == 0 || cc.Kept > DefaultPerClass {
			t.Errorf("got %+v, want %d lines and 1..%d kept", cc, perClass, DefaultPerClass)
		}
	}
}

// An interrupted run's page says so, with no documents and the error,
// and a nil collector is fine.
func TestPageIncomplete(t *testing.T) {
	s := &report.Summary{Environment: "staging", Original: "documents", RunID: "r1",
		Error: "restore: interrupted: dial https://elastic:" + secret + "@es:9200: context canceled"}
	var buf bytes.Buffer
	if err := Write(&buf, s, nil, Options{}); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, want := range []string{`data-status="incomplete"`, "INCOMPLETE", "STAGING", "no backup was compared", "No diff was collected", "https://[redacted]@es:9200"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, secret) {
		t.Errorf("page holds the secret")
	}
}

func TestFetchCmd(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"s3://b/p/diff.ndjson.gz", "aws s3 cp s3://b/p/diff.ndjson.gz - | gunzip"},
		{"s3://b/it's here/diff.ndjson.gz", `aws s3 cp 's3://b/it'\''s here/diff.ndjson.gz' - | gunzip`},
		{"file:///tmp/r/diff.ndjson.gz", "zcat /tmp/r/diff.ndjson.gz"},
		{"./report/documents/x/diff.ndjson.gz", "zcat ./report/documents/x/diff.ndjson.gz"},
		{"/tmp/a b/diff.ndjson.gz", "zcat '/tmp/a b/diff.ndjson.gz'"},
	} {
		if got := fetchCmd(tt.in); got != tt.want {
			t.Errorf("fetchCmd(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestFormatInt(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", -1234567: "-1,234,567", 500000: "500,000"} {
		if got := formatInt(n); got != want {
			t.Errorf("formatInt(%d) = %q, want %q", n, got, want)
		}
	}
}

// A resumed run's page lists its attempts and counts its retries per
// phase.
func TestPageAttemptsAndRetries(t *testing.T) {
	fin := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	s := &report.Summary{Environment: "prod", Original: "documents", RunID: "r2", Complete: true,
		Retries: map[string]report.Retries{"restore": {Retries: 35, Backoffs: 35, BackoffSeconds: 13.3}, "diff": {Retries: 4, GaveUp: 1}},
		Attempts: []report.Attempt{
			{Number: 1, Ended: report.AttemptKilled},
			{Number: 2, Ended: report.AttemptInterrupted, Finished: &fin, Restore: &report.AttemptRestore{Indexed: 1234}},
			{Number: 3, Ended: report.AttemptComplete, Finished: &fin, Restore: &report.AttemptRestore{Indexed: 5678}},
		}}
	var buf bytes.Buffer
	if err := Write(&buf, s, nil, Options{}); err != nil {
		t.Fatal(err)
	}
	page := html.UnescapeString(buf.String())
	for _, want := range []string{"Attempts", "attempt 1, killed-unknown, counts unknown", "attempt 2, interrupted: indexed", "1,234",
		"attempt 3, complete: indexed", "5,678", "Retries", "35", "gave up past --retry-for"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Index(page, `data-key="retries.restore.retries"`) < 0 && !strings.Contains(page, "retries.restore.retries") {
		t.Error("the restore phase's retries carry no summary key")
	}
}

// Every link of a reason lands on an element of the page, JavaScript or
// not: #show-CLASS is the class's row (with the line that prints them
// all), which the script turns into the filter.
func TestReasonLinks(t *testing.T) {
	sc := newScenario(t, 200)
	page := string(render(t, sc, Options{}))
	links := regexp.MustCompile(`<li data-kind="([^"]+)"[^>]*>.*?<a class="go" href="#([^"]+)"`).FindAllStringSubmatch(page, -1)
	kinds := map[string]string{}
	for _, l := range links {
		kinds[l[1]] = l[2]
		if !strings.Contains(page, ` id="`+l[2]+`"`) {
			t.Errorf("reason %s links to #%s, which is not on the page", l[1], l[2])
		}
	}
	want := map[string]string{"watched": "show-watched", "failed": "failures", "overwritten": "show-overwritten",
		"removed": "show-removed", "not-recovered": "show-not_recovered"}
	if fmt.Sprint(kinds) != fmt.Sprint(want) {
		t.Errorf("reason links %v, want %v", kinds, want)
	}
}

// The summary's lists show up to a bound on the page, the rest counted:
// ten years of days, or a thousand transitions, do not make the page
// unbounded.
func TestDecisionListsBounded(t *testing.T) {
	sc := newScenario(t, 40)
	s := sc.summary
	s.Fields.Transitions = nil
	for i := range 1000 {
		s.Fields.Transitions = append(s.Fields.Transitions, diff.Transition{Path: "/v", From: mustJSON(i), To: mustJSON(i + 1), Documents: 1})
	}
	d := &diff.ProfileDate{Path: "/modified", Unit: "day"}
	for i := range 3650 {
		d.Buckets = append(d.Buckets, diff.DateBucket{Key: time.Date(2015, 1, 1+i, 0, 0, 0, 0, time.UTC).Format("2006-01-02")})
	}
	s.Loss.ProfileDate = d
	page := string(render(t, sc, Options{}))
	if n := strings.Count(page, `<li data-path="/v">`); n != maxTransitions {
		t.Errorf("%d transitions shown, want %d", n, maxTransitions)
	}
	for _, want := range []string{fmt.Sprintf("%d more transitions in summary.json", 1000-maxTransitions), fmt.Sprintf("%d more days in summary.json", 3650-maxProfileBuckets)} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}
