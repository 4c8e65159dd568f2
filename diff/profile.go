package diff

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/esrestore/esrestore/internal/fielderr"
	"github.com/esrestore/esrestore/internal/jsonscan"
)

// Limits of Loss.Profile and Loss.ProfileDate.
const (
	// MaxProfileValues is the most distinct values a profiled path may
	// show in the backup: a path with more is not keyword-like, and is
	// left out of Loss.Profile (the diff logs it). It bounds the memory
	// the profile takes, per path and worker.
	MaxProfileValues = 1000
	// MaxProfileTop is how many values of a path Loss.Profile lists; the
	// others are summed in Other.
	MaxProfileTop = 10
	// ProfileAutoMonthDays: with ProfileUnit "", dates of the backup
	// spanning more days than this are counted by month, else by day.
	ProfileAutoMonthDays = 90
	// maxDayBuckets bounds the days one worker counts dates by; beyond
	// it the worker counts by month (about 11 years of days).
	maxDayBuckets = 4000
	// maxMonthBuckets bounds the months; dates beyond it count under
	// ProfileOtherKey (200 years of months).
	maxMonthBuckets = 2400
)

// Profile units.
const (
	ProfileDay   = "day"
	ProfileMonth = "month"
)

// Keys of Loss.ProfileDate's buckets that are not dates.
const (
	// ProfileNullKey counts the documents without a date at the path, or
	// with a value that is not one (as Elasticsearch's default date
	// format reads it).
	ProfileNullKey = "null"
	// ProfileOtherKey counts the dates beyond the buckets' bound.
	ProfileOtherKey = "other"
)

// LostNote is Loss.Note: what the diff cannot tell about a document the
// original lacks.
const LostNote = "A document in the backup but absent from the original may have been lost, or deleted on purpose since the backup: the diff cannot tell which. Compare the lost documents' profile with the backup's: an incident stands out, deliberate deletions look like the index."

// profilePath is one parsed profile path.
type profilePath struct {
	text string
	segs []string
}

func parseProfilePaths(paths []string) ([]profilePath, error) {
	out := make([]profilePath, 0, len(paths))
	seen := map[string]bool{}
	for _, p := range paths {
		ptr, err := ParsePointer(p)
		if err != nil {
			return nil, err
		}
		if seen[p] {
			continue
		}
		seen[p] = true
		out = append(out, profilePath{text: p, segs: ptr.segs})
	}
	return out, nil
}

// profileNode is one segment of the profiled paths: a trie, so that one
// walk of a document finds the values of every path.
type profileNode struct {
	children map[string]*profileNode
	// leaves are the paths ending here: indexes into the profiled paths,
	// the date path being the last.
	leaves []int
}

// newProfileTrie builds the trie of paths.
func newProfileTrie(paths [][]string) *profileNode {
	root := &profileNode{}
	for i, segs := range paths {
		n := root
		for _, seg := range segs {
			if n.children == nil {
				n.children = map[string]*profileNode{}
			}
			c := n.children[seg]
			if c == nil {
				c = &profileNode{}
				n.children[seg] = c
			}
			n = c
		}
		n.leaves = append(n.leaves, i)
	}
	return root
}

// walk calls fn with each value at each path in the JSON value v: an
// array met on the way (or at the end) stands for each of its elements,
// as Elasticsearch indexes an array of values, or of objects, as many
// values of one field.
func (n *profileNode) walk(v []byte, fn func(path int, val []byte)) {
	v = trimSpace(v)
	if len(v) == 0 {
		return
	}
	if v[0] == '[' {
		jsonscan.ElementsTrusted(v, 0, func(e []byte) error { //nolint:errcheck // the callback never fails
			n.walk(e, fn)
			return nil
		})
		return
	}
	for _, i := range n.leaves {
		fn(i, v)
	}
	if len(n.children) == 0 || v[0] != '{' {
		return
	}
	jsonscan.MembersTrusted(v, 0, func(key, val []byte) error { //nolint:errcheck // the callback never fails
		c := n.children[string(key)]
		if c == nil && bytes.IndexByte(key, '\\') >= 0 {
			k, _ := jsonscan.String(append(append([]byte{'"'}, key...), '"'))
			c = n.children[k]
		}
		if c != nil {
			c.walk(val, fn)
		}
		return nil
	})
}

// valueKey is a JSON value in one form: a string with an escape is
// unescaped and written back as jsonscan writes strings, so that
// "\u0041" and "A" are one value; other values are their bytes. It
// allocates only for a string with an escape.
func valueKey(v []byte) []byte {
	if len(v) > 0 && v[0] == '"' && bytes.IndexByte(v, '\\') >= 0 {
		if s, ok := jsonscan.String(v); ok {
			return jsonscan.AppendString(nil, s)
		}
	}
	return v
}

// nullKey is the value of the documents without one.
var nullKey = []byte("null")

// profileTally counts one worker's documents by profile value and date.
// It is not safe for concurrent use.
type profileTally struct {
	paths []profilePath
	// values per path: counts by value key; nil once the path showed
	// more than MaxProfileValues values.
	values []map[string]*ProfileCounts
	trie   *profileNode
	keys   [][][]byte // scratch: per path, the distinct values of one document
	date   *dateTally
}

// dateTally counts documents by day (days since 1970-01-01) or, once
// there are too many days, by month (months since 0000-01).
type dateTally struct {
	byMonth bool
	buckets map[int64]*ProfileCounts
	null    ProfileCounts
	other   ProfileCounts
	// The backup's first and last day seen.
	minDay, maxDay int64
	dated          bool
}

// count adds one backup document (src) to the tally: lost or stripped
// say which loss class it is in.
func (t *profileTally) count(src []byte, lost, stripped bool) {
	add := func(c *ProfileCounts) {
		c.Backup++
		if lost {
			c.Lost++
		}
		if stripped {
			c.Stripped++
		}
	}
	for i := range t.keys {
		t.keys[i] = t.keys[i][:0]
	}
	day, dated := int64(0), false
	t.trie.walk(src, func(i int, val []byte) {
		if i == len(t.paths) {
			if !dated {
				day, dated = dateDay(val)
			}
			return
		}
		if t.values[i] == nil {
			return
		}
		k := valueKey(val)
		for _, seen := range t.keys[i] {
			if bytes.Equal(seen, k) {
				return
			}
		}
		t.keys[i] = append(t.keys[i], k)
	})
	for i, keys := range t.keys {
		m := t.values[i]
		if m == nil {
			continue
		}
		if len(keys) == 0 {
			keys = append(keys, nullKey)
		}
		for _, k := range keys {
			c := m[string(k)]
			if c == nil {
				if len(m) >= MaxProfileValues {
					t.values[i] = nil
					break
				}
				c = &ProfileCounts{}
				m[string(k)] = c
			}
			add(c)
		}
	}
	if d := t.date; d != nil {
		if !dated {
			add(&d.null)
			return
		}
		if !d.dated || day < d.minDay {
			d.minDay = day
		}
		if !d.dated || day > d.maxDay {
			d.maxDay = day
		}
		d.dated = true
		add(d.bucket(day))
	}
}

// bucket returns the counts of the day's bucket, rolling the tally up to
// months when it holds too many days.
func (d *dateTally) bucket(day int64) *ProfileCounts {
	key := day
	if d.byMonth {
		key = monthOfDay(day)
	}
	if c := d.buckets[key]; c != nil {
		return c
	}
	if !d.byMonth && len(d.buckets) >= maxDayBuckets {
		d.buckets = rollUp(d.buckets)
		d.byMonth = true
		return d.bucket(day)
	}
	if d.byMonth && len(d.buckets) >= maxMonthBuckets {
		return &d.other
	}
	c := &ProfileCounts{}
	d.buckets[key] = c
	return c
}

// rollUp sums day buckets into month buckets.
func rollUp(days map[int64]*ProfileCounts) map[int64]*ProfileCounts {
	out := map[int64]*ProfileCounts{}
	for day, c := range days {
		m := monthOfDay(day)
		if out[m] == nil {
			out[m] = &ProfileCounts{}
		}
		addCounts(out[m], c)
	}
	return out
}

func addCounts(a, b *ProfileCounts) {
	a.Lost += b.Lost
	a.Stripped += b.Stripped
	a.Backup += b.Backup
}

// monthOfDay is the month (year*12 + month-1) of a day since the epoch.
func monthOfDay(day int64) int64 {
	t := time.Unix(day*86400, 0).UTC()
	return int64(t.Year())*12 + int64(t.Month()) - 1
}

// dateLayouts are the forms of strict_date_optional_time, Elasticsearch's
// default date format with epoch_millis: a date, optionally a time, an
// optional fraction and an optional zone (UTC without one).
var dateLayouts = []string{
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04",
	"2006-01-02T15Z07:00",
	"2006-01-02T15",
	"2006-01-02",
	"2006-01",
	"2006",
}

// dateDay reads a date value as Elasticsearch's default format does (an
// ISO 8601 string, or epoch milliseconds as a number or a string of
// digits) and returns its day since 1970-01-01, in UTC.
func dateDay(v []byte) (int64, bool) {
	var t time.Time
	if s, ok := jsonscan.String(v); ok {
		parsed := false
		for _, l := range dateLayouts {
			if p, err := time.Parse(l, s); err == nil {
				t, parsed = p, true
				break
			}
		}
		if !parsed {
			ms, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return 0, false
			}
			t = time.UnixMilli(ms)
		}
	} else {
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e17 {
			return 0, false
		}
		t = time.UnixMilli(int64(f))
	}
	return int64(math.Floor(float64(t.Unix()) / 86400)), true
}

// profileSet gathers the workers' profile tallies.
type profileSet struct {
	paths []profilePath
	date  []string // segments of the date path; nil without one
	trie  *profileNode
	tallies[profileTally]
}

// newProfileSet returns the set for opt, nil when nothing is profiled.
func newProfileSet(opt *Options) (*profileSet, error) {
	if len(opt.Profile) == 0 && opt.ProfileDate == "" {
		return nil, nil
	}
	paths, err := parseProfilePaths(opt.Profile)
	if err != nil {
		return nil, err
	}
	s := &profileSet{paths: paths}
	if opt.ProfileDate != "" {
		p, err := ParsePointer(opt.ProfileDate)
		if err != nil {
			return nil, err
		}
		s.date = p.segs
	}
	segs := make([][]string, 0, len(paths)+1)
	for _, p := range paths {
		segs = append(segs, p.segs)
	}
	if s.date != nil {
		segs = append(segs, s.date)
	}
	s.trie = newProfileTrie(segs)
	return s, nil
}

// tally returns a new tally that result will include; nil on a nil set.
func (s *profileSet) tally() *profileTally {
	if s == nil {
		return nil
	}
	t := &profileTally{paths: s.paths, trie: s.trie, values: make([]map[string]*ProfileCounts, len(s.paths)),
		keys: make([][][]byte, len(s.paths))}
	for i := range t.values {
		t.values[i] = map[string]*ProfileCounts{}
	}
	if s.date != nil {
		t.date = &dateTally{buckets: map[int64]*ProfileCounts{}}
	}
	return s.add(t)
}

// result merges the tallies into l.Profile and l.ProfileDate.
func (s *profileSet) result(l *Loss, opt *Options, log *slog.Logger) {
	if s == nil || l == nil {
		return
	}
	all := s.list()
	l.Profile = []ProfileField{}
	for i, p := range s.paths {
		merged := map[string]*ProfileCounts{}
		dropped := false
		for _, t := range all {
			m := t.values[i]
			if m == nil {
				dropped = true
				break
			}
			for k, c := range m {
				if merged[k] == nil {
					if len(merged) >= MaxProfileValues {
						dropped = true
						break
					}
					merged[k] = &ProfileCounts{}
				}
				addCounts(merged[k], c)
			}
			if dropped {
				break
			}
		}
		if dropped {
			log.Info("diff profile leaves a path out", "path", p.text, "reason",
				fmt.Sprintf("more than %d distinct values in the backup: not keyword-like", MaxProfileValues))
			continue
		}
		l.Profile = append(l.Profile, profileField(p.text, merged))
	}
	if s.date != nil {
		l.ProfileDate = s.dateResult(opt.ProfileDate, opt.ProfileUnit)
	}
}

// profileField lists the busiest MaxProfileTop values: by lost plus
// stripped documents, then backup documents, then value.
func profileField(path string, m map[string]*ProfileCounts) ProfileField {
	vals := make([]ProfileValue, 0, len(m))
	for k, c := range m {
		vals = append(vals, ProfileValue{Value: []byte(k), ProfileCounts: *c})
	}
	slices.SortFunc(vals, func(a, b ProfileValue) int {
		if c := cmp.Compare(b.Lost+b.Stripped, a.Lost+a.Stripped); c != 0 {
			return c
		}
		if c := cmp.Compare(b.Backup, a.Backup); c != 0 {
			return c
		}
		return strings.Compare(string(a.Value), string(b.Value))
	})
	f := ProfileField{Path: path, Values: vals}
	if len(vals) > MaxProfileTop {
		other := &ProfileCounts{}
		for _, v := range vals[MaxProfileTop:] {
			addCounts(other, &v.ProfileCounts)
		}
		f.Values, f.Other = vals[:MaxProfileTop], other
	}
	return f
}

// dateResult merges the date tallies; unit "" picks month when the
// backup's dates span more than ProfileAutoMonthDays days.
func (s *profileSet) dateResult(path, unit string) *ProfileDate {
	byMonth := unit == ProfileMonth
	var minDay, maxDay int64
	dated := false
	var null, other ProfileCounts
	for _, t := range s.list() {
		d := t.date
		byMonth = byMonth || d.byMonth
		addCounts(&null, &d.null)
		addCounts(&other, &d.other)
		if d.dated {
			if !dated || d.minDay < minDay {
				minDay = d.minDay
			}
			if !dated || d.maxDay > maxDay {
				maxDay = d.maxDay
			}
			dated = true
		}
	}
	if unit == "" && dated && maxDay-minDay > ProfileAutoMonthDays {
		byMonth = true
	}
	merged := map[int64]*ProfileCounts{}
	for _, t := range s.list() {
		d := t.date
		for k, c := range d.buckets {
			key := k
			if byMonth && !d.byMonth {
				key = monthOfDay(k)
			}
			if merged[key] == nil {
				merged[key] = &ProfileCounts{}
			}
			addCounts(merged[key], c)
		}
	}
	out := &ProfileDate{Path: path, Unit: ProfileDay, Buckets: []DateBucket{}}
	if byMonth {
		out.Unit = ProfileMonth
	}
	for _, k := range slices.Sorted(func(yield func(int64) bool) {
		for k := range merged {
			if !yield(k) {
				return
			}
		}
	}) {
		out.Buckets = append(out.Buckets, DateBucket{Key: bucketKey(k, byMonth), ProfileCounts: *merged[k]})
	}
	for _, x := range []struct {
		key string
		c   ProfileCounts
	}{{ProfileOtherKey, other}, {ProfileNullKey, null}} {
		if x.c.Backup > 0 {
			out.Buckets = append(out.Buckets, DateBucket{Key: x.key, ProfileCounts: x.c})
		}
	}
	return out
}

// bucketKey writes a day ("2021-11-05") or a month ("2021-11").
func bucketKey(k int64, month bool) string {
	if month {
		y, m := k/12, k%12
		if m < 0 {
			y, m = y-1, m+12
		}
		return fmt.Sprintf("%04d-%02d", y, m+1)
	}
	return time.Unix(k*86400, 0).UTC().Format("2006-01-02")
}

// validateProfile checks Profile, ProfileDate and ProfileUnit.
func (o Options) validateProfile() []error {
	var errs []error
	for _, p := range o.Profile {
		if _, err := ParsePointer(p); err != nil {
			errs = append(errs, fmt.Errorf("%w: %w", ErrBadOptions, fielderr.New(err, "profile", err.Error(), "")))
		}
	}
	if o.ProfileDate != "" {
		if _, err := ParsePointer(o.ProfileDate); err != nil {
			errs = append(errs, fmt.Errorf("%w: %w", ErrBadOptions, fielderr.New(err, "profile date", err.Error(), "")))
		}
	}
	switch o.ProfileUnit {
	case "", ProfileDay, ProfileMonth:
	default:
		errs = append(errs, fmt.Errorf("%w: %w", ErrBadOptions,
			fielderr.New(nil, "profile unit", fmt.Sprintf("must be %q, %q or empty", ProfileDay, ProfileMonth), fmt.Sprint(o.ProfileUnit))))
	}
	return errs
}

// lostCopies fetches, when the loss is profiled, the backup's copies of
// the lost documents the target holds (ids set in lost): the lookup join
// classifies them without.
func (lj *lookupState) lostCopies(ctx context.Context, lost map[string]bool) (map[string]fetched, error) {
	if lj.d.profiles == nil || len(lost) == 0 {
		return nil, nil
	}
	ids := make([]string, 0, len(lost))
	for id, in := range lost {
		if in {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return lj.d.findAnyRouting(ctx, lj.b, ids, true)
}
