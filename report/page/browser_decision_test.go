package page

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/esrestore/esrestore/diff"
)

// docClasses reads the drawn documents' classes, and whether each names
// a watched path.
const docClasses = `Array.from(document.querySelectorAll("#doc-list article.doc")).map(a => a.getAttribute("data-class") + (a.querySelector(".tag.watch") ? " watched" : ""))`

// waitFor polls js until it is true, failing t after a few seconds.
func waitFor(t *testing.T, ctx context.Context, what, js string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !eval[bool](t, ctx, js) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not true after 5s: %s", what, js)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestBrowserDecision: what a reviewer decides with, in Chromium. A
// reason's link shows only the documents it counts; at 414 px the page
// does not scroll sideways, long ids and samples included; right-to-left
// values render in their own isolate; and the page still asks for
// nothing but itself.
func TestBrowserDecision(t *testing.T) {
	ctx := browser(t)
	sc := newScenario(t, 600)
	const perClass = 15
	c := sc.collect(Options{PerClass: perClass})
	pageURL := writePage(t, sc, c)
	var w watch
	w.listen(t, ctx)
	do(t, ctx, chromedp.Navigate(pageURL), chromedp.WaitVisible("#doc-list article.doc"))

	t.Run("reason links filter the documents", func(t *testing.T) {
		for _, tt := range []struct{ kind, class string }{
			{"overwritten", diff.ChangeOverwritten},
			{"removed", diff.ChangeRemoved},
			{"not-recovered", diff.ChangeNotRecovered},
			{"watched", "watched"},
		} {
			link := `#reasons li[data-kind="` + tt.kind + `"] a.go`
			do(t, ctx, chromedp.Click(link))
			waitFor(t, ctx, tt.kind, `location.hash === "#show-`+tt.class+`" && document.querySelector('#doc-filter button[data-class="`+tt.class+`"]').getAttribute("aria-pressed") === "true"`)
			docs := eval[[]string](t, ctx, docClasses)
			if len(docs) == 0 {
				t.Fatalf("%s: the link shows no document", tt.kind)
			}
			for _, d := range docs {
				if tt.class == "watched" && !strings.HasSuffix(d, " watched") || tt.class != "watched" && strings.TrimSuffix(d, " watched") != tt.class {
					t.Errorf("%s: the link shows a %q document", tt.kind, d)
				}
			}
			if want := min(perClass, sc.classes[tt.class]); tt.class != "watched" && len(docs) != want {
				t.Errorf("%s: %d documents shown, want %d", tt.kind, len(docs), want)
			}
			// The documents are at the top of the window, below the index.
			top := eval[float64](t, ctx, `document.getElementById("documents").getBoundingClientRect().top`)
			if top < 0 || top > 80 {
				t.Errorf("%s: the documents section is %.0f px from the window's top, want it in view", tt.kind, top)
			}
		}
		// The watched filter shows every kept line naming a watched path.
		keptWatched := 0
		for _, e := range c.Entries() {
			if len(e.Watched) > 0 {
				keptWatched++
			}
		}
		if watched := eval[[]string](t, ctx, docClasses); keptWatched == 0 || len(watched) != keptWatched {
			t.Errorf("watched: %d documents shown, %d kept lines are watched", len(watched), keptWatched)
		}
		// A failed reason leads to the failures.
		if href := eval[string](t, ctx, `document.querySelector('#reasons li[data-kind="failed"] a.go').getAttribute("href")`); href != "#failures" {
			t.Errorf("failed reason links to %q, want #failures", href)
		}
		// The index stays on screen: the documents are one click away
		// wherever the reader is.
		eval[chromedp.Void](t, ctx, `window.scrollTo(0, document.body.scrollHeight)`)
		if top := eval[float64](t, ctx, `document.getElementById("toc").getBoundingClientRect().top`); top != 0 {
			t.Errorf("at the page's end the index is at %.0f px, want 0 (sticky)", top)
		}
		do(t, ctx, chromedp.Click(`#doc-filter button[data-class="all"]`))
	})

	t.Run("decision sections", func(t *testing.T) {
		s := sc.summary
		lines := eval[[]string](t, ctx, `Array.from(document.querySelectorAll('ul.profile[data-path="/site"] li .line')).map(e => e.textContent)`)
		v := s.Loss.Profile[0].Values[0]
		want := fmt.Sprintf("%s of %s lost have /site = share.america.gov, against %s of the backup; %s of %s stripped",
			formatInt(v.Lost), formatInt(s.Loss.Lost), percent(share(v.Backup, s.Loss.Backup)), formatInt(v.Stripped), formatInt(s.Loss.Stripped))
		if len(lines) == 0 || lines[0] != want {
			t.Errorf("profile lines %q, want the first %q", lines, want)
		}
		if got := eval[string](t, ctx, `document.getElementById("profile-statement").textContent`); !strings.Contains(got, "lost, or deleted on purpose since the backup") {
			t.Errorf("profile statement %q", got)
		}
		if n := eval[int](t, ctx, `document.querySelectorAll("#profile-dates tbody tr").length`); n != len(s.Loss.ProfileDate.Buckets) {
			t.Errorf("%d date buckets shown, want %d", n, len(s.Loss.ProfileDate.Buckets))
		}
		tr := eval[[]string](t, ctx, `Array.from(document.querySelectorAll("#transition-list li")).map(e => e.textContent)`)
		if len(tr) != len(s.Fields.Transitions) || tr[0] != "/visibility: INTERNAL → PUBLIC 17" || tr[1] != "/visibility: PUBLIC → INTERNAL 3" ||
			tr[3] != "/x"+hostile[2]+": "+hostile[0]+" → "+hostile[1]+" 1" {
			t.Errorf("transitions %q", tr)
		}
		rows := eval[[]string](t, ctx, `Array.from(document.querySelectorAll("#prefer-table tbody tr")).map(r => r.getAttribute("data-prefer") + " " + r.className + " " + r.cells[1].textContent)`)
		if want := []string{"original chosen review", "source  review", "fill  best ok"}; !slices.Equal(rows, want) {
			t.Errorf("prefer rows %q, want %q", rows, want)
		}
		if got := eval[string](t, ctx, `document.getElementById("best-prefer").textContent`); !strings.Contains(got, "--prefer fill") {
			t.Errorf("the verdict does not name the better prefer: %q", got)
		}
		if got := eval[string](t, ctx, `document.getElementById("scope-skip-ids").textContent`); !strings.Contains(got, s.Scope.SkipIDs) || !strings.Contains(got, s.Scope.SkipIDsSHA256) {
			t.Errorf("scope %q lacks the skip list and its sha256", got)
		}
		// A skipped document shows the backup's copy, left out.
		do(t, ctx, chromedp.Click(`#doc-filter button[data-class="skipped"]`))
		card := eval[[]string](t, ctx, `(() => { const a = document.querySelector('#doc-list article.doc[data-class="skipped"]'); return a ? [a.querySelector("thead").textContent, a.querySelector("td.after").textContent, a.querySelector("td.before").textContent] : []; })()`)
		if len(card) != 3 || card[0] != "pathbackuptarget" || card[1] != "(left out by the scope)" || !strings.Contains(card[2], `"title"`) {
			t.Errorf("skipped card %q, want the backup's copy, left out", card)
		}
		do(t, ctx, chromedp.Click(`#doc-filter button[data-class="all"]`))
		// Every restore counter says what it counts.
		help := eval[map[string]string](t, ctx, `Object.fromEntries(Array.from(document.querySelectorAll("#count-restore tbody tr")).map(r => [r.querySelector("td[data-count]").getAttribute("data-count"), (r.querySelector(".help") || {}).textContent || ""]))`)
		for _, k := range []string{"restore.read", "restore.indexed", "restore.kept", "restore.skipped", "restore.failed", "restore.pending", "restore.target_count"} {
			if help[k] == "" {
				t.Errorf("%s has no explanation (%q)", k, help)
			}
		}
	})

	t.Run("right to left", func(t *testing.T) {
		// The document holding the right-to-left title, drawn.
		do(t, ctx, chromedp.Click(`#doc-filter button[data-class="overwritten"]`))
		isolated := `(text => {
		  const out = [];
		  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
		  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
		    if (!n.textContent.includes(text) || n.parentElement.closest("script")) continue;
		    // The nearest isolate around the value: a bdi, a dir=auto, or
		    // any element whose computed unicode-bidi isolates.
		    let e = n.parentElement, how = "";
		    for (; e && e !== document.body; e = e.parentElement) {
		      const ub = getComputedStyle(e).unicodeBidi;
		      if (e.tagName === "BDI" || e.getAttribute("dir") === "auto" || ub === "isolate" || ub === "plaintext") { how = e.tagName + " " + ub; break; }
		    }
		    // The isolate must hold the value and not the arrows around it.
		    out.push(how && !e.textContent.includes("→") ? how : "not isolated: " + (n.parentElement.closest("td,li,div") || {}).outerHTML);
		  }
		  return out;
		})`
		for _, text := range []string{rtlTitle, rtlNewTitle, "موقع-الأخبار"} {
			got := eval[[]string](t, ctx, isolated+"("+jsString(text)+")")
			if len(got) == 0 {
				t.Errorf("%q is nowhere on the page", text)
			}
			for _, g := range got {
				if !strings.HasSuffix(g, " isolate") && !strings.HasSuffix(g, " plaintext") {
					t.Errorf("%q: %s", text, g)
				}
			}
		}
		do(t, ctx, chromedp.Click(`#doc-filter button[data-class="all"]`))
	})

	t.Run("414 px wide", func(t *testing.T) {
		do(t, ctx, chromedp.EmulateViewport(414, 896), chromedp.Navigate(pageURL), chromedp.WaitVisible("#doc-list article.doc"))
		check := func(when string) {
			t.Helper()
			got := eval[[]float64](t, ctx, `[document.documentElement.scrollWidth, window.innerWidth, document.documentElement.clientWidth]`)
			if got[0] != got[2] || got[1] != 414 {
				wide := eval[[]string](t, ctx, `Array.from(document.querySelectorAll("body *")).filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5 && !e.closest(".scroll")).slice(0, 5).map(e => e.tagName + "." + e.className + " " + Math.round(e.getBoundingClientRect().right))`)
				t.Errorf("%s: scrollWidth %v, innerWidth %v, clientWidth %v: the page scrolls sideways (%q)", when, got[0], got[1], got[2], wide)
			}
		}
		check("at load")
		// The long id and its long value, drawn, and every sample open.
		do(t, ctx, chromedp.SendKeys("#doc-search", "!long-0123"))
		waitFor(t, ctx, "long id drawn", `document.querySelectorAll("#doc-list article.doc").length === 1`)
		eval[chromedp.Void](t, ctx, `document.querySelectorAll("details").forEach(d => d.open = true)`)
		check("with the long id drawn")
		clearSearch(t, ctx)
		for _, class := range []string{"overwritten", "added", "skipped"} {
			do(t, ctx, chromedp.Click(`#doc-filter button[data-class="`+class+`"]`))
			eval[chromedp.Void](t, ctx, `document.querySelectorAll("details").forEach(d => d.open = true)`)
			check(class)
		}
		do(t, ctx, chromedp.EmulateViewport(1280, 1500))
	})

	if pwned := eval[int](t, ctx, `window.__pwned === undefined ? 0 : Number(window.__pwned)`); pwned != 0 {
		t.Errorf("hostile value %d ran", pwned)
	}
	w.check(t, pageURL)
}

// jsString quotes s for a script.
func jsString(s string) string { return fmt.Sprintf("%q", s) }

var figures = flag.Bool("figures", false, "TestPageFigures: measure the page's height and the way to the overwritten documents")

// TestPageFigures measures, on a scenario of about 400 diff lines, the
// page's height at 1400 and 414 px and how far the first overwritten
// document is from the top, and logs them. It only measures (run it
// with -figures -v); the assertions are TestBrowserDecision's.
func TestPageFigures(t *testing.T) {
	if !*figures {
		t.Skip("a measurement: go test ./report/page -run TestPageFigures -figures -v")
	}
	ctx := browser(t)
	sc := newScenarioOf(t, 1400, false)
	pageURL := writePage(t, sc, sc.collect(Options{}))
	t.Logf("diff lines %d, classes %v", len(sc.lines), sc.classes)
	for _, width := range []int64{1400, 414} {
		do(t, ctx, chromedp.EmulateViewport(width, 900), chromedp.Navigate(pageURL), chromedp.WaitVisible("#doc-list article.doc"))
		m := eval[map[string]float64](t, ctx, `(() => {
		  const d = document.documentElement, docs = document.getElementById("documents");
		  return {height: d.scrollHeight, width: d.scrollWidth, documents: docs.getBoundingClientRect().top + window.scrollY};
		})()`)
		t.Logf("width %d: page %v px tall, %v px wide; the documents section starts %v px down", width, m["height"], m["width"], m["documents"])
		sections := eval[map[string]float64](t, ctx, `Object.fromEntries(Array.from(document.querySelectorAll("header, nav, section")).map(e => [e.id || e.tagName, Math.round(e.getBoundingClientRect().height)]))`)
		t.Logf("width %d: heights %v", width, sections)
	}
}
