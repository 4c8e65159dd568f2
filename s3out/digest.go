package s3out

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
)

// ObjectInfo describes a committed object of a report, so that a reviewer
// can check what they downloaded: `sha256sum` of the object as stored
// equals SHA256.
type ObjectInfo struct {
	// Key is the object's key relative to the destination:
	// ORIGINAL/RUN_ID/NAME.
	Key         string
	URL         string
	ContentType string
	// Bytes and SHA256 are of the object as stored (compressed for a .gz
	// object); Lines counts the lines of its content uncompressed, a last
	// line without a newline included.
	Bytes  int64
	Lines  int64
	SHA256 string
}

// digestWriter hashes and counts the bytes that reach an object.
type digestWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func newDigestWriter(w io.Writer) *digestWriter { return &digestWriter{w: w, h: sha256.New()} }

func (d *digestWriter) Write(p []byte) (int, error) {
	n, err := d.w.Write(p)
	d.h.Write(p[:n])
	d.n += int64(n)
	return n, err
}

func (d *digestWriter) sum() string { return hex.EncodeToString(d.h.Sum(nil)) }

// lineCounter counts the lines written through it.
type lineCounter struct {
	lines int64
	open  bool // bytes written since the last newline
}

func (l *lineCounter) count(p []byte) {
	if len(p) == 0 {
		return
	}
	l.lines += int64(bytes.Count(p, []byte{'\n'}))
	l.open = p[len(p)-1] != '\n'
}

func (l *lineCounter) total() int64 {
	if l.open {
		return l.lines + 1
	}
	return l.lines
}
