package page

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/esrestore/esrestore/report"
)

var update = flag.Bool("update", false, "rewrite docs/report.png from the browser test")

// chromium finds the browser. A missing one fails the test: CI installs
// it (tools/test.sh), and a page nobody loaded in a browser is not tested.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium not found: apt-get install -y chromium (tools/test.sh installs it)")
	return ""
}

// browser starts a headless Chromium for t, cut off from everything but
// the page: no background networking, updates, sync or QUIC, a fresh
// profile.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.WindowSize(1280, 1500),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses to run its sandbox as root
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	return ctx
}

// watch records what the tab requests and every console problem.
type watch struct {
	mu       sync.Mutex
	requests []string
	problems []string
}

func (w *watch) listen(t *testing.T, ctx context.Context) {
	t.Helper()
	err := chromedp.Listen(ctx, func(ev any) {
		w.mu.Lock()
		defer w.mu.Unlock()
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			w.requests = append(w.requests, e.Request.URL)
		case *runtime.EventExceptionThrown:
			text := e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				text += " " + e.ExceptionDetails.Exception.Description
			}
			w.problems = append(w.problems, "exception: "+text)
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeWarning || e.Type == runtime.ConsoleAPICalledTypeAssert {
				var args []string
				for _, a := range e.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				w.problems = append(w.problems, fmt.Sprintf("console %s: %s", e.Type, strings.Join(args, " ")))
			}
		case *log.EventEntryAdded:
			if e.Entry.Level == log.EntryLevelError || e.Entry.Level == log.EntryLevelWarning {
				w.problems = append(w.problems, fmt.Sprintf("log %s %s: %s", e.Entry.Level, e.Entry.Source, e.Entry.Text))
			}
		}
	})
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
}

// check fails t for any request but the page and any console problem.
func (w *watch) check(t *testing.T, pageURL string) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	var other []string
	for _, u := range w.requests {
		if u != pageURL {
			other = append(other, u)
		}
	}
	if len(other) != 0 {
		t.Errorf("page made %d requests besides itself: %q", len(other), other)
	}
	if !slices.Contains(w.requests, pageURL) {
		t.Errorf("saw no request for the page itself (requests %q): the watch saw nothing", w.requests)
	}
	for _, p := range w.problems {
		t.Errorf("console: %s", p)
	}
}

func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluate %.60q: %v", js, err)
	}
	return v
}

func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// clearSearch empties the id search as a person would, with an input event.
func clearSearch(t *testing.T, ctx context.Context) {
	t.Helper()
	eval[chromedp.Void](t, ctx, `(() => { const s = document.getElementById("doc-search"); s.value = ""; s.dispatchEvent(new Event("input")); })()`)
}

// writePage renders sc into a file and returns its file:// URL.
func writePage(t *testing.T, sc *scenario, c *Collector) string {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, sc.summary, c, Options{}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return "file://" + path
}

// pageState is what the test reads off the rendered page.
type pageState struct {
	JS       string            `json:"js"`
	Status   string            `json:"status"`
	Word     string            `json:"word"`
	Env      string            `json:"env"`
	Original string            `json:"original"`
	Target   string            `json:"target"`
	RunID    string            `json:"runID"`
	Complete string            `json:"complete"`
	Reasons  []string          `json:"reasons"`
	Counts   map[string]string `json:"counts"`
	Fields   []string          `json:"fields"`
	Docs     []string          `json:"docs"`
	Classes  []string          `json:"classes"`
	Pwned    int               `json:"pwned"`
	Markup   int               `json:"markup"`
	Controls bool              `json:"controls"`
	Status2  string            `json:"docStatus"`
	Text     string            `json:"text"`
}

const readState = `(() => {
  const q = s => Array.from(document.querySelectorAll(s));
  const t = id => (document.getElementById(id) || {}).textContent || "";
  return {
    js: document.body.getAttribute("data-js") || "",
    status: document.getElementById("verdict").getAttribute("data-status"),
    word: t("verdict-word"), env: t("environment"), original: t("original"), target: t("target"),
    runID: t("run-id"), complete: t("complete"),
    reasons: q("#reasons li").map(li => li.getAttribute("data-kind") + " " + li.querySelector(".text").textContent),
    counts: Object.fromEntries(q("td[data-count]").map(e => [e.getAttribute("data-count"), e.textContent])),
    fields: q("table.fields tbody tr").map(r => r.cells[0].textContent + " " + r.cells[1].textContent),
    docs: q("#doc-list article.doc").map(a => a.getAttribute("data-class") + " " + a.getAttribute("data-id")),
    classes: q("#class-table tbody tr").map(r => r.getAttribute("data-class") + " " + r.cells[2].getAttribute("data-v")),
    pwned: window.__pwned === undefined ? 0 : Number(window.__pwned),
    markup: q("img,svg,iframe,object,embed,b,body script:not(#page-data)").length - 1,
    controls: !document.getElementById("doc-controls").hidden,
    docStatus: t("doc-status"),
    text: document.body.textContent,
  };
})()`

func TestBrowser(t *testing.T) {
	ctx := browser(t)
	sc := newScenario(t, 600)
	const perClass = 15
	c := sc.collect(Options{PerClass: perClass})
	pageURL := writePage(t, sc, c)

	var w watch
	w.listen(t, ctx)
	do(t, ctx, chromedp.Navigate(pageURL), chromedp.WaitVisible("#doc-list article.doc"))
	st := eval[pageState](t, ctx, readState)

	t.Run("verdict", func(t *testing.T) {
		s := sc.summary
		if st.JS != "on" {
			t.Errorf("the script did not run (data-js %q): the CSP refused it?", st.JS)
		}
		if st.Status != s.Verdict.Status || st.Word != strings.ToUpper(s.Verdict.Status) {
			t.Errorf("got status %q, word %q, want %q", st.Status, st.Word, s.Verdict.Status)
		}
		if st.Env != strings.ToUpper(s.Environment) || st.Original != s.Original || st.Target != s.Target || st.RunID != s.RunID || st.Complete != "yes" {
			t.Errorf("got header %q %q → %q run %q complete %q", st.Env, st.Original, st.Target, st.RunID, st.Complete)
		}
		var want []string
		for _, r := range s.Verdict.Reasons {
			want = append(want, r.Kind+" "+r.Text)
		}
		if !slices.Equal(st.Reasons, want) {
			t.Errorf("got reasons\n%q\nwant\n%q", st.Reasons, want)
		}
	})

	t.Run("counts", func(t *testing.T) {
		raw, err := json.Marshal(sc.summary)
		if err != nil {
			t.Fatal(err)
		}
		checkCounts(t, st, raw)
		for _, row := range st.Classes {
			class, n, _ := strings.Cut(row, " ")
			if got, _ := strconv.Atoi(n); got != sc.classes[class] {
				t.Errorf("class %s: page says %d lines, the diff has %d", class, got, sc.classes[class])
			}
		}
	})

	t.Run("fields", func(t *testing.T) {
		if want := wantFieldRows(sc.summary); !slices.Equal(st.Fields, want) {
			t.Errorf("got field rows\n%q\nwant\n%q", st.Fields, want)
		}
		col := func() []float64 {
			return eval[[]float64](t, ctx, `Array.from(document.querySelectorAll("#field-table-outcome tbody tr")).map(r => Number(r.cells[6].getAttribute("data-v")))`)
		}
		do(t, ctx, chromedp.Click(`#field-table-outcome thead th:nth-child(7) button`))
		if got := col(); !slices.IsSortedFunc(got, func(a, b float64) int { return int(b - a) }) {
			t.Errorf("after one click on documents: %v, want largest first", got)
		}
		do(t, ctx, chromedp.Click(`#field-table-outcome thead th:nth-child(7) button`))
		if got := col(); !slices.IsSorted(got) || slices.Equal(got, slices.Repeat(got[:1], len(got))) {
			t.Errorf("after two clicks on documents: %v, want smallest first (and not all equal)", got)
		}
		if got := eval[string](t, ctx, `document.querySelector("#field-table-outcome thead th:nth-child(7)").getAttribute("aria-sort")`); got != "ascending" {
			t.Errorf("got aria-sort %q, want ascending", got)
		}
		// Each table says its direction; the loss samples read backup →
		// live.
		heads := eval[[]string](t, ctx, `Array.from(document.querySelectorAll("#fields h3")).map(h => h.textContent)`)
		if !slices.Contains(heads, "Lost since the backup backup → live") || !slices.Contains(heads, "What the switch does live → target") {
			t.Errorf("field headings %q, want one per table with its direction", heads)
		}
		edited := eval[string](t, ctx, `document.querySelector("#field-table-loss tr.c-edited_since_backup td.samples").textContent`)
		if want := `edited-1 "INTERNAL" → "PUBLIC"`; edited != want {
			t.Errorf("edited since backup sample %q, want backup → live %q", edited, want)
		}
	})

	t.Run("filter", func(t *testing.T) {
		for _, class := range []string{"overwritten", "added", "not_recovered"} {
			do(t, ctx, chromedp.Click(`#doc-filter button[data-class="`+class+`"]`))
			docs := eval[[]string](t, ctx, `Array.from(document.querySelectorAll("#doc-list article.doc")).map(a => a.getAttribute("data-class"))`)
			if want := min(perClass, sc.classes[class]); len(docs) != want {
				t.Errorf("%s: %d documents shown, want %d", class, len(docs), want)
			}
			for _, d := range docs {
				if d != class {
					t.Errorf("filter %s shows a %s document", class, d)
				}
			}
			status := eval[string](t, ctx, `document.getElementById("doc-status").textContent`)
			more := sc.classes[class] - min(perClass, sc.classes[class])
			if !strings.Contains(status, fmt.Sprintf("%d more", more)) || !strings.Contains(status, `jq -c 'select(.change == "`+class+`")'`) {
				t.Errorf("%s: status %q lacks %d more and the jq line", class, status, more)
			}
		}
		do(t, ctx, chromedp.Click(`#doc-filter button[data-class="all"]`))
	})

	t.Run("search", func(t *testing.T) {
		var id string
		for _, e := range c.Entries() {
			if e.Class == "recovered" {
				id = e.ID // the last recovered one kept
			}
		}
		do(t, ctx, chromedp.SendKeys("#doc-search", id))
		docs := eval[[]string](t, ctx, `Array.from(document.querySelectorAll("#doc-list article.doc")).map(a => a.getAttribute("data-id"))`)
		if !slices.Equal(docs, []string{id}) {
			t.Errorf("search %q shows %q, want that one document", id, docs)
		}
		status := eval[string](t, ctx, `document.getElementById("doc-status").textContent`)
		if !strings.Contains(status, `jq -c --arg id '`+id+`' 'select(._id == $id)'`) {
			t.Errorf("status %q lacks the jq line for the id", status)
		}
		clearSearch(t, ctx)
		do(t, ctx, chromedp.SendKeys("#doc-search", "!hostile-<img"))
		docs = eval[[]string](t, ctx, `Array.from(document.querySelectorAll("#doc-list article.doc")).map(a => a.querySelector("h3 code").textContent)`)
		if !slices.Equal(docs, []string{hostileID}) {
			t.Errorf("search for the hostile id shows %q, want %q", docs, hostileID)
		}
	})

	t.Run("hostile", func(t *testing.T) {
		// Draw every kept document, hostile ones included, then look.
		clearSearch(t, ctx)
		do(t, ctx, chromedp.SendKeys("#doc-search", "!hostile"))
		st := eval[pageState](t, ctx, readState)
		if len(st.Docs) < 3 {
			t.Fatalf("got %d documents for !hostile, want the hostile ones", len(st.Docs))
		}
		if st.Pwned != 0 {
			t.Errorf("hostile value %d ran", st.Pwned)
		}
		if st.Markup != 0 {
			t.Errorf("got %d elements from hostile values", st.Markup)
		}
		for _, h := range append(hostile[:1], hostileID, "/x\"><svg onload=window.__pwned=3>", "[published] <img src=x onerror=") {
			if !strings.Contains(st.Text, h) {
				t.Errorf("page text lacks %q", h)
			}
		}
		if strings.Contains(st.Text, secret) {
			t.Errorf("page shows the secret")
		}
	})

	t.Run("status colours", func(t *testing.T) {
		got := eval[map[string]string](t, ctx, `(() => {
		  const out = {}, v = document.getElementById("verdict"), b = document.body, was = b.className;
		  for (const s of ["ok", "review", "incomplete"]) { b.className = "status-" + s; out[s] = getComputedStyle(v).borderLeftColor; }
		  b.className = was;
		  return out;
		})()`)
		if got["ok"] == got["review"] || got["review"] == got["incomplete"] || got["ok"] == got["incomplete"] {
			t.Errorf("got verdict colours %v, want one per status", got)
		}
	})

	w.check(t, pageURL)

	t.Run("javascript off", func(t *testing.T) {
		tab, cancel := chromedp.NewContext(ctx)
		defer cancel()
		do(t, tab, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
			return err
		}), chromedp.Navigate(pageURL))
		off := eval[pageState](t, tab, readState)
		if off.JS != "" {
			t.Fatalf("the script ran with JavaScript off")
		}
		if off.Status != st.Status || off.Word != st.Word || !slices.Equal(off.Reasons, st.Reasons) || !slices.Equal(off.Fields, st.Fields) {
			t.Errorf("with JavaScript off the top reads %q %q %q, want what it reads with it", off.Status, off.Word, off.Reasons)
		}
		if fmt.Sprint(off.Counts) != fmt.Sprint(st.Counts) {
			t.Errorf("with JavaScript off the counts are %v, want %v", off.Counts, st.Counts)
		}
		if off.Controls || len(off.Docs) != 0 {
			t.Errorf("with JavaScript off: controls shown %v, %d documents drawn", off.Controls, len(off.Docs))
		}
	})
}

// checkCounts compares every count the page shows with summary.json.
func checkCounts(t *testing.T, st pageState, summaryJSON []byte) {
	t.Helper()
	var sum map[string]any
	if err := json.Unmarshal(summaryJSON, &sum); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{
		"loss.lost", "loss.stripped", "loss.edited_since_backup", "loss.not_recovered",
		"outcome.recovered", "outcome.overwritten", "outcome.added", "outcome.removed", "outcome.unchanged",
		"restore.read", "restore.indexed", "restore.kept", "restore.failed", "restore.pending",
	} {
		if _, ok := st.Counts[key]; !ok {
			t.Errorf("page lacks the count %s", key)
		}
	}
	for key, text := range st.Counts {
		var at any = sum
		for _, part := range strings.Split(key, ".") {
			switch x := at.(type) {
			case map[string]any:
				at = x[part]
			case []any:
				i, err := strconv.Atoi(part)
				if err != nil || i < 0 || i >= len(x) {
					at = nil
					break
				}
				at = x[i]
			default:
				at = nil
			}
		}
		want, ok := at.(float64)
		if !ok {
			t.Errorf("count %s is not in summary.json", key)
			continue
		}
		got, err := strconv.ParseInt(strings.ReplaceAll(text, ",", ""), 10, 64)
		if err != nil || got != int64(want) {
			t.Errorf("%s: page shows %q, summary.json has %v", key, text, want)
		}
	}
}

// goldenValues puts values where the golden files hold placeholders for
// what changes from run to run; strings such as "<uuid>" may stay.
var goldenValues = strings.NewReplacer(
	`"\u003cbytes\u003e"`, "0", `"\u003cseconds\u003e"`, "0", `"\u003cdocs_per_second\u003e"`, "0",
	`"\u003cstarted\u003e"`, `"2026-11-25T18:21:41Z"`, `"\u003cfinished\u003e"`, `"2026-11-25T18:25:53Z"`,
	`"\u003cstart_time\u003e"`, `"2026-11-22T02:00:00Z"`, `"\u003cend_time\u003e"`, `"2026-11-22T02:03:00Z"`,
	`"\u003cinstant\u003e"`, `"2026-11-25T18:22:10Z"`, `"\u003cat\u003e"`, `"2026-11-25T18:22:10Z"`,
	`"\u003cuntil\u003e"`, `"2026-11-25T18:25:50Z"`,
)

// The summaries the job writes (cmd/esrestore's golden files) render
// with every count and reason as they are in the JSON.
func TestBrowserJobSummaries(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "cmd", "esrestore", "testdata", "verdict-*.golden.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no job summaries found (%v)", err)
	}
	ctx := browser(t)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			raw = []byte(goldenValues.Replace(string(raw)))
			s, err := report.Decode(raw)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			var buf bytes.Buffer
			if err := Write(&buf, s, NewCollector(Options{}), Options{}); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "report.html")
			if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			tab, cancel := chromedp.NewContext(ctx)
			defer cancel()
			var w watch
			w.listen(t, tab)
			do(t, tab, chromedp.Navigate("file://"+path))
			st := eval[pageState](t, tab, readState)
			if st.JS != "on" || st.Status != Status(s) {
				t.Errorf("got script %q, status %q, want on, %q", st.JS, st.Status, Status(s))
			}
			var want []string
			for _, r := range s.Verdict.Reasons {
				want = append(want, r.Kind+" "+r.Text)
			}
			if !slices.Equal(st.Reasons, want) {
				t.Errorf("got reasons\n%q\nwant\n%q", st.Reasons, want)
			}
			if want := wantFieldRows(s); !slices.Equal(st.Fields, want) {
				t.Errorf("got field rows\n%q\nwant\n%q", st.Fields, want)
			}
			checkCounts(t, st, raw)
			w.check(t, "file://"+path)
		})
	}
}

// TestScreenshot renders a scenario without hostile values, as the
// README shows it, and checks the verdict's colour in the pixels.
// go test ./report/page -run TestScreenshot -update rewrites docs/report.png.
func TestScreenshot(t *testing.T) {
	ctx := browser(t)
	sc := newScenarioOf(t, 600, false)
	pageURL := writePage(t, sc, sc.collect(Options{}))
	var w watch
	w.listen(t, ctx)
	do(t, ctx, chromedp.Navigate(pageURL), chromedp.WaitVisible("#doc-list article.doc"))
	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 1000 || b.Dy() < 1000 {
		t.Errorf("screenshot is %v, want the 1280-wide window", b)
	}
	// The verdict's left border, in the review colour (--review #7d4e00).
	r, g, b, _ := img.At(4, 40).RGBA()
	if r>>8 != 0x7d || g>>8 != 0x4e || b>>8 != 0x00 {
		t.Errorf("verdict border is #%02x%02x%02x, want #7d4e00", r>>8, g>>8, b>>8)
	}
	w.check(t, pageURL)
	if *update {
		if err := os.WriteFile(filepath.Join("..", "..", "docs", "report.png"), shot, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// wantFieldRows are the field rows the page shows for s: the loss
// classes' table, then the outcome classes', each in the summary's order.
func wantFieldRows(s *report.Summary) []string {
	var loss, outcome []string
	for _, f := range s.Fields.Paths {
		if lossField(f.Class) {
			loss = append(loss, f.Path+" "+f.Class)
		} else {
			outcome = append(outcome, f.Path+" "+f.Class)
		}
	}
	return append(loss, outcome...)
}
