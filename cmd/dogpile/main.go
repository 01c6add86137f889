// Command dogpile inspects, invalidates and exercises dogpile cache regions,
// and demonstrates what the dogpile lock does.
//
// Usage:
//
//	dogpile <command> [flags]
//
// Commands:
//
//	demo    run a cache stampede with and without the dogpile lock, side by side
//
// With no configuration, commands use the embedded default backend: a file
// store in the user's cache directory. "dogpile <command> -h" describes a
// command's flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
)

// Exit codes a script can rely on.
const (
	exitOK    = 0
	exitError = 1 // the command failed (backend unreachable, …)
	exitUsage = 2 // the command line or configuration is wrong
)

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = []command{
	{"demo", "run a cache stampede with and without the dogpile lock, side by side", runDemo},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		switch {
		case err == nil:
			return exitOK
		case errors.Is(err, flag.ErrHelp):
			return exitOK
		case isUsage(err):
			fmt.Fprintln(stderr, "dogpile:", err)
			return exitUsage
		default:
			fmt.Fprintln(stderr, "dogpile:", err)
			return exitError
		}
	}
	fmt.Fprintf(stderr, "dogpile: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprint(w, "Usage: dogpile <command> [flags]\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nRun \"dogpile <command> -h\" for a command's flags and examples.\n")
}

// usageError is a mistake in the command line or configuration (exit 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

func isUsage(err error) bool {
	var u *usageError
	return errors.As(err, &u)
}

func printFlags(fs *flag.FlagSet, w io.Writer) {
	fmt.Fprintln(w, "\nFlags:")
	fs.SetOutput(w)
	fs.PrintDefaults()
}
