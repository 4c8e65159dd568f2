package main

import (
	"context"
	"fmt"
	"time"

	"github.com/esrestore/esrestore/restore"
)

type diffCmd struct{}

func (diffCmd) Name() string { return "diff" }

func (diffCmd) Summary() string { return "compare two indexes or NDJSON dumps, document by document" }

const diffHelp = `Compares --original and --restored, each an index name (with --es-url) or an
NDJSON dump (file://..., s3://..., or a path ending in .ndjson or .ndjson.gz),
and writes summary.json and diff.ndjson.gz: one line per changed, added or
removed document, sorted by _id.`

var diffSideFlags = []flagDef{
	{name: "original", usage: "the original: an index name or an NDJSON dump URL", check: indexOrDump},
	{name: "restored", usage: "the restored side: an index name or an NDJSON dump URL", check: indexOrDump},
	{name: "workers", def: "4", usage: "concurrent scan slices and comparisons (1..256)", check: intIn(1, 256)},
}

func (diffCmd) Run(ctx context.Context, env *Env, args []string) error {
	fs, fv := newFlagSet("diff", diffHelp, env, diffCmdFlags()...)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	required := []string{"original", "restored"}
	if !restore.IsDumpURL(fv.str("original")) || !restore.IsDumpURL(fv.str("restored")) {
		required = append(required, "es-url")
	}
	cfg, err := fv.build(time.Now(), required...)
	if err != nil {
		return err
	}
	restored := fv.str("restored")
	if restored == cfg.Original {
		return usageError(fmt.Errorf("invalid configuration:\n%w", fv.bad("restored", "must differ from --original")))
	}
	return newJob("diff", env, cfg).Diff(ctx, restored)
}

// diffCmdFlags are the flags of esrestore diff.
func diffCmdFlags() [][]flagDef {
	return [][]flagDef{esFlags, diffSideFlags, diffFlags, outputFlags, diffJobFlags(), logFlags}
}

// diffJobFlags are the job flags that apply to a diff alone.
func diffJobFlags() []flagDef {
	var out []flagDef
	for _, f := range jobFlags {
		switch f.name {
		case "environment":
			f.usage = "environment name shown in logs and the summary"
			f.def = "local"
			out = append(out, f)
		case "run-id", "notify":
			out = append(out, f)
		case "fail-on":
			f.def = "removed,overwritten"
			f.usage = "exit 3 when the diff finds any of: removed, overwritten, watched (comma-separated, or none); with --watch the default adds watched"
			out = append(out, f)
		}
	}
	return out
}
