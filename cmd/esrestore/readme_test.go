package main

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEListsEveryFlag keeps the README's flag table true: every flag
// of run, with its environment variable, and every exit code.
func TestREADMEListsEveryFlag(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, g := range runFlags() {
		for _, f := range g {
			row := "| `--" + f.name + "` | `" + envName(f.name)
			if !strings.Contains(readme, row) {
				t.Errorf("README has no table row starting %q", row)
			}
		}
	}
	for _, code := range []string{"| 0 |", "| 1 |", "| 2 |", "| 3 |", "| 130 |"} {
		if !strings.Contains(readme, code) {
			t.Errorf("README's exit code table lacks %q", code)
		}
	}
	if !strings.Contains(readme, "go run ./cmd/esrestore demo") || !strings.Contains(readme, "go test -race ./...") {
		t.Error("README does not start with the demo and test commands")
	}
}
