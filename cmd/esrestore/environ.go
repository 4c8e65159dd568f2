package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// testPrefix starts the variables the project's tests and tools read
// (ESRESTORE_TEST_ES_URL, ...). esrestore itself reads none of them, and
// never refuses one: a pod's environment may carry them.
const testPrefix = envPrefix + "TEST_"

// allFlagGroups are the flag groups of every command.
func allFlagGroups() [][]flagDef {
	return [][]flagDef{esFlags, restoreFlags, diffFlags, outputFlags, jobFlags, logFlags, demoFlags, diffSideFlags,
		reportFlags, promoteFlags, afterReviewFlags}
}

// knownVariables are the ESRESTORE_* names some flag of some command
// reads: ESRESTORE_<FLAG>, and ESRESTORE_<FLAG>_FILE for a secret.
func knownVariables() []string {
	var out []string
	for _, g := range allFlagGroups() {
		for _, d := range g {
			out = append(out, envName(d.name))
			if d.secret {
				out = append(out, envName(d.name)+"_FILE")
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// checkEnviron refuses every ESRESTORE_* variable of environ (KEY=VALUE
// entries) that no flag reads, each named with the closest known name: a
// misspelled variable must never leave its setting at the default.
func checkEnviron(environ []string) error {
	known := knownVariables()
	var errs []error
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, envPrefix) || strings.HasPrefix(name, testPrefix) || slices.Contains(known, name) {
			continue
		}
		msg := fmt.Sprintf("%s: not a variable of esrestore", name)
		if m := closest(name, known); m != "" {
			msg += fmt.Sprintf("; did you mean %s?", m)
		}
		errs = append(errs, errors.New(msg))
	}
	if len(errs) == 0 {
		return nil
	}
	return usageError(fmt.Errorf("unknown environment variables (unset them, or fix their names; 'esrestore <command> -h' lists each command's):\n%w",
		errors.Join(errs...)))
}
