package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/esrestore/esrestore/diff"
	"github.com/esrestore/esrestore/report"
)

// watchUsage is --watch's help.
const watchUsage = "a JSON Pointer whose value the verdict watches: PATH (any change when the alias moves) or PATH=VALUE " +
	"(a document that would become VALUE); VALUE is read as JSON when it parses as JSON (true, 12, \"x\"), else as a string " +
	"(PUBLIC is \"PUBLIC\"); repeat the flag for several, or list them comma-separated in the variable; a matched " +
	"document is a 'watched' reason, named first, and --fail-on then adds watched to its default"

// watchEntries splits a --watch value into its entries: the flag's
// occurrences are one a line, and a line holds entries separated by
// commas. A comma followed by something other than a path ("/") belongs
// to the VALUE before it: /title=a,b watches "a,b".
func watchEntries(v string) []string {
	var out []string
	for _, line := range strings.Split(v, "\n") {
		var cur []string
		for _, p := range strings.Split(line, ",") {
			t := strings.TrimSpace(p)
			if len(cur) > 0 && t != "" && !strings.HasPrefix(t, "/") && strings.Contains(cur[len(cur)-1], "=") {
				cur[len(cur)-1] += "," + p
				continue
			}
			cur = append(cur, p)
		}
		out = append(out, cur...)
	}
	for i, e := range out {
		out[i] = strings.TrimSpace(e)
	}
	return out
}

// parseWatch reads one PATH[=VALUE]; why says what is wrong with it.
func parseWatch(e string) (diff.Watch, string) {
	if e == "" {
		return diff.Watch{}, "a blank list or a blank item: give PATH or PATH=VALUE"
	}
	path, value, hasValue := strings.Cut(e, "=")
	path = strings.TrimSpace(path)
	if _, err := diff.ParsePointer(path); err != nil {
		return diff.Watch{}, err.Error()
	}
	if slices.Contains(strings.Split(path, "/"), "*") {
		return diff.Watch{}, "a watch names one value: no * segment in " + path
	}
	w := diff.Watch{Path: path}
	if !hasValue {
		return w, ""
	}
	value = strings.TrimSpace(value)
	if value == "" {
		return diff.Watch{}, "a blank VALUE after " + path + "=: write \"\" for the empty string"
	}
	if json.Valid([]byte(value)) {
		var b bytes.Buffer
		json.Compact(&b, []byte(value)) //nolint:errcheck // valid JSON
		w.Value = json.RawMessage(b.Bytes())
	} else {
		s, _ := json.Marshal(value)
		w.Value = json.RawMessage(s)
	}
	return w, ""
}

// parseWatches reads a checked --watch value.
func parseWatches(v string) []diff.Watch {
	if strings.TrimSpace(v) == "" {
		return nil
	}
	var out []diff.Watch
	for _, e := range watchEntries(v) {
		if w, why := parseWatch(e); why == "" {
			out = append(out, w)
		}
	}
	return out
}

// watchList checks --watch: each entry a JSON Pointer, with a VALUE that
// is not blank when "=" is given.
func watchList(v string) string {
	for _, e := range watchEntries(v) {
		if _, why := parseWatch(e); why != "" {
			return why
		}
	}
	if n := len(watchEntries(v)); n > diff.MaxIgnore {
		return "at most " + strconv.Itoa(diff.MaxIgnore) + " watches"
	}
	return ""
}

// formatWatches writes the watches as the record shows them: PATH or
// PATH=JSON, comma-separated.
func formatWatches(ws []diff.Watch) string {
	parts := make([]string, len(ws))
	for i, w := range ws {
		parts[i] = w.Path
		if w.Value != nil {
			parts[i] += "=" + string(w.Value)
		}
	}
	return strings.Join(parts, ",")
}

// watchFailOn is the default --fail-on with watched added: a watch is a
// gate unless the operator names the gates.
func watchFailOn(def []string) []string {
	if slices.Contains(def, report.ReasonWatched) {
		return def
	}
	return append(slices.Clone(def), report.ReasonWatched)
}

// watchConflicts refuses a watch on a path --ignore leaves out of the
// comparison: its documents could be counted and still show no line.
func (fv *flagValues) watchConflicts(c Config) []error {
	var errs []error
	for _, w := range c.Watch {
		ws := strings.Split(w.Path, "/")[1:]
		for _, ig := range c.Ignore {
			is := strings.Split(ig, "/")[1:]
			if len(is) > len(ws) {
				continue
			}
			covered := true
			for i, s := range is {
				covered = covered && (s == "*" || s == ws[i])
			}
			if covered {
				errs = append(errs, fv.bad("watch", fmt.Sprintf("%s is left out of the comparison by %s %s: watch it, or ignore it", w.Path, fv.origin("ignore"), ig)))
				break
			}
		}
	}
	return errs
}
