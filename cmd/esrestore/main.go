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
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
)

// Env is what a command sees of the process: arguments aside, its
// environment and its output streams. Tests pass their own.
type Env struct {
	Getenv   func(string) string
	ReadFile func(string) ([]byte, error)
	Stdout   io.Writer
	Stderr   io.Writer
	// IsTerminal reports whether stderr is a terminal (text logs, live
	// progress line).
	IsTerminal bool
	// WorkDir is where relative outputs (the demo) go; "" is the current
	// directory.
	WorkDir string
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
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(env.Stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.Name() == args[0] {
			err := c.Run(ctx, env, args[1:])
			if errors.Is(err, flag.ErrHelp) {
				return exitOK
			}
			var e *exitErr
			if err != nil && !(errors.As(err, &e) && e.reported) {
				fmt.Fprintf(env.Stderr, "esrestore %s: %v\n", c.Name(), err)
			}
			return exitCode(err)
		}
	}
	fmt.Fprintf(env.Stderr, "esrestore: unknown command %q\n\n", args[0])
	usage(env.Stderr)
	return exitUsage
}

func usage(w io.Writer) {
	var b strings.Builder
	b.WriteString("Usage: esrestore <command> [flags]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(&b, "  %-8s %s\n", c.Name(), c.Summary())
	}
	b.WriteString("\nRun 'esrestore <command> -h' for its flags and environment variables.\n\n")
	b.WriteString(exitCodesHelp)
	io.WriteString(w, b.String()) //nolint:errcheck // nothing to do
}

// parseFlags parses a command's arguments: flags only.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return flagParseError(err)
	}
	if fs.NArg() > 0 {
		return usageError(fmt.Errorf("unexpected arguments: %q", fs.Args()))
	}
	return nil
}

// flagParseError turns a flag parsing error into a usage error; -h stays
// flag.ErrHelp.
func flagParseError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	return usageError(err)
}

// lockedWriter serialises writes from the progress goroutine and the
// command.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
