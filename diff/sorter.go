package diff

import (
	"bufio"
	"bytes"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
)

// An external sort of (key, value) records by key bytes, then value bytes,
// in bounded memory: records are kept in memory up to a budget, then sorted
// and spilled as a run to a temporary file; at the end the runs are merged.
// The report sorts its lines by _id this way, and the sort-merge join sorts
// the documents of a dump the same way.

const (
	arenaChunk = 1 << 20
	// recOverhead approximates the memory of one record beyond its bytes
	// (the record struct and slice headers), so many tiny records still
	// count against the budget.
	recOverhead = 64
	// maxFanIn bounds the runs merged at once: each open run holds a file
	// and a read buffer.
	maxFanIn  = 64
	runBuffer = 64 << 10
)

type record struct {
	key, val []byte
}

func compareRecords(a, b record) int {
	if c := bytes.Compare(a.key, b.key); c != 0 {
		return c
	}
	return bytes.Compare(a.val, b.val)
}

type sorter struct {
	budget int64
	dir    string
	prefix string

	mu     sync.Mutex
	cur    []byte // current arena chunk
	recs   []record
	size   int64
	runs   []*os.File
	spills int
	bytes  int64 // bytes written to runs, for the log
}

func newSorter(budget int64, dir, prefix string) *sorter {
	return &sorter{budget: budget, dir: dir, prefix: prefix}
}

// add stores a copy of key and val; it is safe for concurrent use.
func (s *sorter) add(key, val []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(key) + len(val)
	if cap(s.cur)-len(s.cur) < n {
		s.cur = make([]byte, 0, max(arenaChunk, n))
	}
	off := len(s.cur)
	s.cur = append(s.cur, key...)
	s.cur = append(s.cur, val...)
	s.recs = append(s.recs, record{key: s.cur[off : off+len(key) : off+len(key)], val: s.cur[off+len(key) : off+n : off+n]})
	s.size += int64(n) + recOverhead
	if s.size >= s.budget {
		return s.spill()
	}
	return nil
}

// spill sorts the records in memory and writes them as a run; s.mu held.
func (s *sorter) spill() error {
	if len(s.recs) == 0 {
		return nil
	}
	slices.SortFunc(s.recs, compareRecords)
	f, err := s.writeRun(&memIter{recs: s.recs, i: -1})
	if err != nil {
		return err
	}
	s.runs = append(s.runs, f)
	s.spills++
	clear(s.recs) // let the arena chunks go
	s.recs = s.recs[:0]
	s.cur = nil
	s.size = 0
	return nil
}

// writeRun writes the records of it to a new temporary file and rewinds it.
func (s *sorter) writeRun(it iterator) (*os.File, error) {
	f, err := os.CreateTemp(s.dir, s.prefix+"-*.run")
	if err != nil {
		return nil, fmt.Errorf("create sort run: %w", err)
	}
	fail := func(err error) (*os.File, error) {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var hdr [2 * binary.MaxVarintLen64]byte
	var n int64
	for it.next() {
		k, v := it.record()
		h := binary.AppendUvarint(hdr[:0], uint64(len(k)))
		h = binary.AppendUvarint(h, uint64(len(v)))
		w.Write(h)
		w.Write(k)
		if _, err := w.Write(v); err != nil {
			return fail(fmt.Errorf("write sort run %s: %w", f.Name(), err))
		}
		n += int64(len(h) + len(k) + len(v))
	}
	if err := it.err(); err != nil {
		return fail(err)
	}
	if err := w.Flush(); err != nil {
		return fail(fmt.Errorf("write sort run %s: %w", f.Name(), err))
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fail(fmt.Errorf("rewind sort run %s: %w", f.Name(), err))
	}
	s.bytes += n
	return f, nil
}

// finish returns an iterator over every record in order. The sorter must
// not be added to afterwards; close releases the temporary files.
func (s *sorter) finish() (iterator, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.runs) == 0 {
		slices.SortFunc(s.recs, compareRecords)
		return &memIter{recs: s.recs, i: -1}, nil
	}
	if err := s.spill(); err != nil {
		return nil, err
	}
	// Merge in levels so that no more than maxFanIn runs are open at once.
	for len(s.runs) > maxFanIn {
		group := s.runs[:maxFanIn]
		its := make([]iterator, len(group))
		for i, f := range group {
			its[i] = newFileIter(f)
		}
		f, err := s.writeRun(newMergeIter(its))
		if err != nil {
			return nil, err
		}
		for _, g := range group {
			g.Close()
			os.Remove(g.Name())
		}
		s.runs = append(s.runs[maxFanIn:], f)
	}
	its := make([]iterator, len(s.runs))
	for i, f := range s.runs {
		its[i] = newFileIter(f)
	}
	return newMergeIter(its), nil
}

// close removes the temporary files.
func (s *sorter) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, f := range s.runs {
		f.Close()
		if err := os.Remove(f.Name()); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	s.runs = nil
	s.recs, s.cur = nil, nil
	return errors.Join(errs...)
}

// iterator walks records in order; record's slices are valid until the
// next call to next.
type iterator interface {
	next() bool
	record() (key, val []byte)
	err() error
}

type memIter struct {
	recs []record
	i    int
}

func (m *memIter) next() bool               { m.i++; return m.i < len(m.recs) }
func (m *memIter) record() ([]byte, []byte) { r := m.recs[m.i]; return r.key, r.val }
func (m *memIter) err() error               { return nil }

type fileIter struct {
	name string
	r    *bufio.Reader
	buf  []byte
	k, v []byte
	e    error
}

func newFileIter(f *os.File) *fileIter {
	return &fileIter{name: f.Name(), r: bufio.NewReaderSize(f, runBuffer)}
}

func (f *fileIter) next() bool {
	if f.e != nil {
		return false
	}
	kl, err := binary.ReadUvarint(f.r)
	if err == io.EOF {
		return false
	}
	if err != nil {
		f.e = fmt.Errorf("read sort run %s: %w", f.name, err)
		return false
	}
	vl, err := binary.ReadUvarint(f.r)
	if err != nil {
		f.e = fmt.Errorf("read sort run %s: %w", f.name, noEOF(err))
		return false
	}
	n := int(kl + vl)
	if cap(f.buf) < n {
		f.buf = make([]byte, n)
	}
	f.buf = f.buf[:n]
	if _, err := io.ReadFull(f.r, f.buf); err != nil {
		f.e = fmt.Errorf("read sort run %s: %w", f.name, noEOF(err))
		return false
	}
	f.k, f.v = f.buf[:kl], f.buf[kl:]
	return true
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (f *fileIter) record() ([]byte, []byte) { return f.k, f.v }
func (f *fileIter) err() error               { return f.e }

// mergeIter merges sorted iterators with a heap; equal records come out in
// iterator order, so the result is deterministic.
type mergeIter struct {
	h       mergeHeap
	pending []int // iterators to advance before the next record
	cur     int
	e       error
}

func newMergeIter(its []iterator) *mergeIter {
	m := &mergeIter{h: mergeHeap{its: its}, cur: -1}
	for i := range its {
		m.pending = append(m.pending, i)
	}
	return m
}

func (m *mergeIter) next() bool {
	if m.e != nil {
		return false
	}
	for _, i := range m.pending {
		it := m.h.its[i]
		if it.next() {
			heap.Push(&m.h, i)
		} else if err := it.err(); err != nil {
			m.e = err
			return false
		}
	}
	m.pending = m.pending[:0]
	if len(m.h.idx) == 0 {
		return false
	}
	m.cur = heap.Pop(&m.h).(int)
	m.pending = append(m.pending, m.cur)
	return true
}

func (m *mergeIter) record() ([]byte, []byte) { return m.h.its[m.cur].record() }
func (m *mergeIter) err() error               { return m.e }

type mergeHeap struct {
	its []iterator
	idx []int
}

func (h *mergeHeap) Len() int { return len(h.idx) }
func (h *mergeHeap) Less(a, b int) bool {
	ka, va := h.its[h.idx[a]].record()
	kb, vb := h.its[h.idx[b]].record()
	if c := compareRecords(record{ka, va}, record{kb, vb}); c != 0 {
		return c < 0
	}
	return h.idx[a] < h.idx[b]
}
func (h *mergeHeap) Swap(a, b int) { h.idx[a], h.idx[b] = h.idx[b], h.idx[a] }
func (h *mergeHeap) Push(x any)    { h.idx = append(h.idx, x.(int)) }
func (h *mergeHeap) Pop() any {
	x := h.idx[len(h.idx)-1]
	h.idx = h.idx[:len(h.idx)-1]
	return x
}
