package diff

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestSorter(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var want []record
	for i := range 5000 {
		k := fmt.Appendf(nil, "%x", rng.Uint32()%3000) // duplicates keys on purpose
		v := fmt.Appendf(nil, "value-%d-%s", i, make([]byte, rng.IntN(40)))
		want = append(want, record{k, v})
	}
	sorted := slices.Clone(want)
	slices.SortFunc(sorted, compareRecords)

	tests := []struct {
		name      string
		budget    int64
		wantSpill bool
	}{
		{"in memory", 1 << 30, false},
		{"a few runs", 64 << 10, true},
		{"more runs than one merge takes", 2000, true}, // ~300 runs: merged in levels
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := newSorter(tt.budget, dir, "test")
			var wg sync.WaitGroup
			for w := range 4 { // concurrent adds
				wg.Go(func() {
					for i := w; i < len(want); i += 4 {
						if err := s.add(want[i].key, want[i].val); err != nil {
							t.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			if got := s.spills > 0; got != tt.wantSpill {
				t.Errorf("spilled %d runs, want spills: %v", s.spills, tt.wantSpill)
			}
			it, err := s.finish()
			if err != nil {
				t.Fatal(err)
			}
			if len(s.runs) > maxFanIn {
				t.Errorf("%d runs open at once, at most %d", len(s.runs), maxFanIn)
			}
			i := 0
			for it.next() {
				k, v := it.record()
				if i >= len(sorted) || string(k) != string(sorted[i].key) || string(v) != string(sorted[i].val) {
					t.Fatalf("record %d: got %s=%s, want %s=%s", i, k, v, sorted[i].key, sorted[i].val)
				}
				i++
			}
			if err := it.err(); err != nil {
				t.Fatal(err)
			}
			if i != len(sorted) {
				t.Errorf("got %d records, want %d", i, len(sorted))
			}
			if err := s.close(); err != nil {
				t.Fatal(err)
			}
			if left, _ := os.ReadDir(dir); len(left) != 0 {
				t.Errorf("files left after close: %d", len(left))
			}
		})
	}
}

func TestSorterBadTempDir(t *testing.T) {
	s := newSorter(1, "/nonexistent/dir", "test")
	err := s.add([]byte("k"), []byte("v"))
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "create sort run") {
		t.Errorf("spill to a missing directory: got %v, want a not-exist error", err)
	}
}
