package page_test

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/esrestore/esrestore/report"
	"github.com/esrestore/esrestore/report/page"
)

// The job tees the diff stream into a Collector beside the gzip writer,
// and the failures stream likewise, then renders the page before the
// summary.
func Example() {
	var diffGz, failuresGz bytes.Buffer // stand-ins for Report.Diff and Report.Failures
	c := page.NewCollector(page.Options{})
	diffOut := io.MultiWriter(&diffGz, c)
	failuresOut := io.MultiWriter(&failuresGz, c.Failures())

	fmt.Fprintln(diffOut, `{"_id":"a1","change":"added","restored":{"title":"<b>back</b>"}}`)
	fmt.Fprintln(failuresOut, `{"_id":"f1","status":400,"error":{"type":"document_parsing_exception"}}`)

	s := &report.Summary{Complete: true, Environment: "prod", Original: "documents", Target: "documents_restored",
		Verdict: report.Verdict{Status: report.StatusOK}}
	var html strings.Builder // stand-in for Report.Page
	if err := page.Write(&html, s, c, page.Options{}); err != nil {
		fmt.Println(err)
	}
	fmt.Println(c.Classes()[0], c.FailureCount())
	fmt.Println(strings.Contains(html.String(), `<span id="verdict-word">OK</span>`))
	// Output:
	// {added 1 1} {failure 1 1}
	// true
}
