package main

import (
	"log/slog"
	"strings"
)

// newLogger logs to stderr: text on a terminal, JSON otherwise, unless
// format says which.
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
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" || format == "auto" && !env.IsTerminal {
		return slog.New(slog.NewJSONHandler(env.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(env.Stderr, opts))
}

// logConfig logs the effective configuration once, secrets redacted and
// the environment in capitals, so the operator sees what the job will do.
func logConfig(log *slog.Logger, cmd string, c Config) {
	attrs := []any{"command", cmd, "environment", strings.ToUpper(c.Environment), "run_id", c.RunID}
	for _, kv := range c.redacted() {
		attrs = append(attrs, kv.key, kv.value)
	}
	log.Info("effective configuration", attrs...)
}

type keyValue struct {
	key   string
	value any
}

// redacted lists the configuration for logs and the summary: credentials
// are reported only as set or not.
func (c Config) redacted() []keyValue {
	set := func(s string) string {
		if s == "" {
			return ""
		}
		return "[redacted]"
	}
	src := c.Source
	if src != "" {
		src = redactURL(src)
	}
	kv := []keyValue{
		{"es_url", strings.Join(c.ES.URLs, ",")},
		{"es_username", c.ES.Username},
		{"es_password", set(c.ES.Password)},
		{"es_api_key", set(c.ES.APIKey)},
		{"es_bearer_token", set(c.ES.BearerToken)},
		{"es_ca_cert", c.ES.CACert},
		{"original", c.Original},
		{"source", src},
		{"target", c.Target},
		{"mode", c.Mode},
		{"prefer", c.Prefer},
		{"workers", c.Workers},
		{"batch_size", c.BatchSize},
		{"batch_bytes", c.BatchBytes},
		{"retry_for", c.RetryFor.String()},
		{"bulk_timeout", c.BulkTimeout.String()},
		{"drain_timeout", c.Drain.String()},
		{"ignore", strings.Join(c.Ignore, ",")},
		{"output", redactURL(c.Output)},
		{"s3_endpoint", c.S3Endpoint},
		{"s3_region", c.S3Region},
		{"s3_sse", c.S3SSE},
		{"dry_run", c.DryRun},
		{"fail_on", strings.Join(c.FailOn, ",")},
	}
	out := kv[:0]
	for _, e := range kv {
		if s, ok := e.value.(string); ok && s == "" {
			continue
		}
		if n, ok := e.value.(int); ok && n == 0 {
			continue
		}
		out = append(out, e)
	}
	return out
}
