package diff

import "sync"

// tallies gathers the per-worker tallies of one kind: each worker adds
// its own and counts in it alone, and a result reads them all once the
// workers are done.
type tallies[T any] struct {
	mu  sync.Mutex
	all []*T
}

// add includes t in what list returns, and returns it.
func (s *tallies[T]) add(t *T) *T {
	s.mu.Lock()
	s.all = append(s.all, t)
	s.mu.Unlock()
	return t
}

// list returns the tallies added.
func (s *tallies[T]) list() []*T {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.all
}
