// Command esrestore restores lost Elasticsearch documents into a new index,
// compares the original and the restored index document by document, and
// writes the evidence (a JSON diff and a summary) to S3 or a directory for a
// reviewer.
//
//	esrestore run | restore | diff | check | promote | rollback | demo | version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// Env is what a command sees of the process: arguments aside, its
// environment and its output streams. Tests pass their own.
type Env struct {
	Getenv func(string) string
	// Environ lists the environment as KEY=VALUE entries; nil is none.
	Environ  func() []string
	ReadFile func(string) ([]byte, error)
	Stdout   io.Writer
	Stderr   io.Writer
	// IsTerminal reports whether stderr is a terminal (text logs, live
	// progress line).
	IsTerminal bool
	// WorkDir is where relative outputs (the demo) go; "" is the current
	// directory.
	WorkDir string

	// log is the job's logger once a command has one, and json says it
	// writes JSON: Main reports the final error through it, so that in
	// JSON mode every stderr line is a record.
	log  *slog.Logger
	json bool
}

// command is one subcommand.
type command interface {
	Name() string
	Summary() string
	Run(ctx context.Context, env *Env, args []string) error
}

func commands() []command {
	return []command{runCmd{}, restoreCmd{}, diffCmd{}, checkCmd{}, promoteCmd{}, rollbackCmd{}, demoCmd{}, versionCmd{}}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := &Env{
		Getenv:     os.Getenv,
		Environ:    os.Environ,
		ReadFile:   os.ReadFile,
		Stdout:     os.Stdout,
		Stderr:     os.Stderr,
		IsTerminal: isTerminal(os.Stderr),
	}
	os.Exit(Main(ctx, env, os.Args[1:]))
}

// Main runs the command named by args[0] and returns the exit code.
func Main(ctx context.Context, env *Env, args []string) int {
	env.Stdout = &lockedWriter{w: env.Stdout}
	env.Stderr = &lockedWriter{w: env.Stderr}
	if len(args) == 0 {
		usage(env.Stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "--help", "-help", "help":
		// Help asked for is the output: stdout, so that | less works.
		usage(env.Stdout)
		return exitOK
	case "--version", "-version", "-v":
		args = append([]string{"version"}, args[1:]...)
	}
	for _, c := range commands() {
		if c.Name() == args[0] {
			var err error
			if env.Environ != nil {
				err = checkEnviron(env.Environ())
			}
			if err == nil {
				err = c.Run(ctx, env, args[1:])
			}
			if errors.Is(err, flag.ErrHelp) {
				return exitOK
			}
			if err != nil && !told(err) {
				reportError(env, args, c.Name(), err)
			}
			return exitCode(err)
		}
	}
	names := make([]string, 0, len(commands()))
	for _, c := range commands() {
		names = append(names, c.Name())
	}
	msg := fmt.Sprintf("unknown command %q", args[0])
	if m := closest(args[0], names); m != "" {
		msg += fmt.Sprintf(": did you mean %q?", m)
	}
	reportError(env, args, "", usageError(fmt.Errorf("%s ('esrestore help' lists the commands)", msg)))
	return exitUsage
}

// reportError writes a command's final error to stderr: a JSON record
// when stderr carries JSON (through the job's logger once there is one,
// so it names the run), else one plain line.
func reportError(env *Env, args []string, cmd string, err error) {
	log, asJSON := env.log, env.json
	if log == nil {
		asJSON = jsonLogs(env, logFormatArg(env, args))
		if asJSON {
			// No configuration yet: the keys of a job's records, empty.
			log = newLogger(env, "json", "info").With("run_id", "", "environment", "")
		}
	}
	if asJSON {
		log.Error("esrestore failed", "command", cmd, "exit_code", exitCode(err), "error", err.Error())
		return
	}
	prefix := "esrestore"
	if cmd != "" {
		prefix += " " + cmd
	}
	fmt.Fprintf(env.Stderr, "%s: %v\n", prefix, err)
}

// logFormatArg is --log-format as the command line or the environment
// gives it, for errors met before the flags are parsed or validated.
func logFormatArg(env *Env, args []string) string {
	for i, a := range args {
		a = strings.TrimLeft(a, "-")
		if v, ok := strings.CutPrefix(a, "log-format="); ok {
			return v
		}
		if a == "log-format" && i+1 < len(args) {
			return args[i+1]
		}
	}
	if env.Getenv != nil {
		if v := env.Getenv(envName("log-format")); v != "" {
			return v
		}
	}
	return "auto"
}

func usage(w io.Writer) {
	var b strings.Builder
	b.WriteString("Usage: esrestore <command> [flags]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(&b, "  %-8s %s\n", c.Name(), c.Summary())
	}
	b.WriteString("\nRun 'esrestore <command> -h' for its flags and environment variables; 'esrestore --version' for the version.\n\n")
	b.WriteString(exitCodesHelp)
	io.WriteString(w, b.String()) //nolint:errcheck // nothing to do
}

// parseFlags parses a command's arguments: flags only. -h prints the
// command's help on stdout; a bad flag is one line naming it, with the
// closest flag the command has.
func parseFlags(fs *flag.FlagSet, args []string) error {
	help := fs.Usage
	// The flag package prints the whole help on any error: a typo would
	// bury its one line under a hundred.
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.Usage = help
	if errors.Is(err, flag.ErrHelp) {
		help()
		return err
	}
	if err != nil {
		return usageError(flagError(fs, err))
	}
	if fs.NArg() > 0 {
		return usageError(fmt.Errorf("unexpected arguments: %q ('esrestore %s -h' lists its flags)", fs.Args(), fs.Name()))
	}
	return nil
}

// flagError rewrites the flag package's error for one flag: "--orignal:
// not a flag of esrestore run; did you mean --original?".
func flagError(fs *flag.FlagSet, err error) error {
	msg := err.Error()
	name, ok := strings.CutPrefix(msg, "flag provided but not defined: ")
	if !ok {
		return fmt.Errorf("%s ('esrestore %s -h' lists its flags)", strings.Replace(msg, ": -", ": --", 1), fs.Name())
	}
	name = strings.TrimLeft(name, "-")
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	out := fmt.Sprintf("--%s: not a flag of esrestore %s", name, fs.Name())
	if m := closest(name, names); m != "" {
		out += fmt.Sprintf("; did you mean --%s?", m)
	} else {
		out += fmt.Sprintf(" ('esrestore %s -h' lists its flags)", fs.Name())
	}
	return errors.New(out)
}

// closest is the candidate within a few edits of s (a typo), or "".
func closest(s string, candidates []string) string {
	best, bestD := "", 0
	for _, c := range candidates {
		d := editDistance(s, c)
		if best == "" || d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" || bestD > max(2, len(s)/3) {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
