package main

import (
	"context"
	"log/slog"
	"slices"
	"time"
)

// newLogger logs to stderr: text on a terminal, JSON otherwise, unless
// format says which. It is the one handler of the process: a job binds
// run_id and environment on it once (job.log), so every record carries
// them and no call site repeats them.
func newLogger(env *Env, format, level string) *slog.Logger {
	var lv slog.Level
	switch level {
	case "debug":
		lv = slog.LevelDebug
	case "warn":
		lv = slog.LevelWarn
	case "error":
		lv = slog.LevelError
	}
	opts := &slog.HandlerOptions{Level: lv, ReplaceAttr: secondsAttr}
	var h slog.Handler
	if jsonLogs(env, format) {
		h = slog.NewJSONHandler(env.Stderr, opts)
	} else {
		h = slog.NewTextHandler(env.Stderr, opts)
	}
	return slog.New(&uniqueKeys{h: h})
}

// jsonLogs says whether stderr carries JSON records: --log-format json,
// or auto where stderr is not a terminal (a pod's log, a pipe).
func jsonLogs(env *Env, format string) bool {
	return format == "json" || (format == "auto" || format == "") && !env.IsTerminal
}

// secondsAttr writes every duration as seconds: a log pipeline that reads
// "elapsed": 1.5 needs no unit table, and nanoseconds were read as
// seconds once.
func secondsAttr(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		return slog.Float64(a.Key, a.Value.Duration().Seconds())
	}
	return a
}

// uniqueKeys drops an attribute whose key the record already has (bound
// with With, or earlier in the same call): slog would write the key twice,
// which a JSON decoder either rejects or reads as the last value, and
// which an Elasticsearch ingest pipeline refuses.
type uniqueKeys struct {
	h     slog.Handler
	bound []string
}

func (u *uniqueKeys) Enabled(ctx context.Context, l slog.Level) bool { return u.h.Enabled(ctx, l) }

func (u *uniqueKeys) Handle(ctx context.Context, r slog.Record) error {
	seen := slices.Clone(u.bound)
	dup := false
	r.Attrs(func(a slog.Attr) bool {
		if slices.Contains(seen, a.Key) {
			dup = true
			return false
		}
		seen = append(seen, a.Key)
		return true
	})
	if !dup {
		return u.h.Handle(ctx, r)
	}
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	seen = slices.Clone(u.bound)
	r.Attrs(func(a slog.Attr) bool {
		if !slices.Contains(seen, a.Key) {
			seen = append(seen, a.Key)
			out.AddAttrs(a)
		}
		return true
	})
	return u.h.Handle(ctx, out)
}

func (u *uniqueKeys) WithAttrs(attrs []slog.Attr) slog.Handler {
	bound := slices.Clone(u.bound)
	var keep []slog.Attr
	for _, a := range attrs {
		if !slices.Contains(bound, a.Key) {
			bound = append(bound, a.Key)
			keep = append(keep, a)
		}
	}
	return &uniqueKeys{h: u.h.WithAttrs(keep), bound: bound}
}

func (u *uniqueKeys) WithGroup(name string) slog.Handler {
	// Keys inside a group cannot clash with those outside it.
	return &uniqueKeys{h: u.h.WithGroup(name)}
}

// since is the seconds elapsed since t, for records that time a step.
func since(t time.Time) float64 { return time.Since(t).Seconds() }
