package diff

import (
	"testing"

	"github.com/esrestore/esrestore/internal/jsonpatch"
)

// applyPatch applies the JSON patch (a JSON array) to doc with
// internal/jsonpatch, which shares nothing with the code that made it.
func applyPatch(t testing.TB, doc any, patch []byte) (any, error) {
	t.Helper()
	return jsonpatch.Apply(doc, patch)
}

// semanticEqual compares two decoded trees: member order does not count,
// numbers compare by value.
func semanticEqual(a, b any) bool { return jsonpatch.Equal(a, b) }
