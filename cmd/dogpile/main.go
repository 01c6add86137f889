// Command dogpile reads, writes, inspects, invalidates and load-tests dogpile
// cache regions from the command line, and demonstrates what the dogpile lock
// does.
//
// Usage:
//
//	dogpile <command> [flags] [arguments]
//
// Commands:
//
//	get         print the value of a key
//	set         store a value under a key
//	delete      delete keys
//	invalidate  invalidate every value in a region (--hard or --soft)
//	inspect     show a key's metadata: created, age, expired or not, size, codec
//	keys        list the keys in the store (file and redis backends)
//	stats       show what the region's store reports about itself
//	bench       run a load (hit, cold-stampede, expired-stampede) and report latencies
//	demo        run a cache stampede with and without the dogpile lock, side by side
//
// The region comes from a configuration file (--config FILE, or the
// DOGPILE_CONFIG environment variable; see package config for its keys) and
// --region NAME when the file has more than one. With neither, commands use
// the embedded default: a file store in the user's cache directory
// (os.UserCacheDir()/dogpile/cache.db), or the backend given by -backend and
// -arg.
//
// Exit codes, for scripts:
//
//	0  success
//	1  the command failed (a backend unreachable, a request failed, …)
//	2  the command line or the configuration is wrong
//	3  get or inspect: the key has no value (not found, expired, or invalidated)
//
// "dogpile <command> --help" describes a command's flags, with examples.
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

	"github.com/dogpile-go/dogpile/config"
)

// Exit codes a script can rely on.
const (
	exitOK       = 0
	exitError    = 1 // the command failed (backend unreachable, …)
	exitUsage    = 2 // the command line or configuration is wrong
	exitNotFound = 3 // get, inspect: the key has no usable value
)

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands []command

func init() {
	// Set in init: the help command refers to the table.
	commands = []command{
		{"get", "print the value of a key (exit 3 when it has none)", runGet},
		{"set", "store a value under a key", runSet},
		{"delete", "delete keys", runDelete},
		{"invalidate", "invalidate every value in a region: --hard (misses) or --soft (expired)", runInvalidate},
		{"inspect", "show a key's metadata: created, age, expired or not, size, codec", runInspect},
		{"keys", "list the keys in the store (file and redis backends)", runKeys},
		{"stats", "show what the region's store reports about itself", runStats},
		{"bench", "run a load (hit, cold-stampede, expired-stampede) and report latencies", runBench},
		{"demo", "run a cache stampede with and without the dogpile lock, side by side", runDemo},
	}
}

// stdin is where "dogpile set KEY -" reads the value (a variable for tests).
var stdin io.Reader = os.Stdin

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		if len(args) > 1 && args[0] == "help" {
			return run(ctx, []string{args[1], "--help"}, stdout, stderr)
		}
		usage(stdout)
		return exitOK
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		return exitCode(err, stderr)
	}
	fmt.Fprintf(stderr, "dogpile: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitUsage
}

// exitCode prints err (if any) and returns the exit code it calls for.
func exitCode(err error, stderr io.Writer) int {
	var nf *notFoundError
	var ce *config.Error
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &nf):
		if !nf.quiet {
			fmt.Fprintln(stderr, "dogpile:", err)
		}
		return exitNotFound
	case isUsage(err), errors.As(err, &ce):
		fmt.Fprintln(stderr, "dogpile:", err)
		return exitUsage
	default:
		fmt.Fprintln(stderr, "dogpile:", err)
		return exitError
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, "Usage: dogpile <command> [flags] [arguments]\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-11s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
The region comes from --config FILE (or $DOGPILE_CONFIG), a TOML, YAML or INI
file with keys cache.<region>.backend, .expiration_time, .arguments.<name>, …,
and --region NAME when the file has more than one. With neither, commands use
the embedded default: a file store in your user cache directory.

Exit codes: 0 ok, 1 failure, 2 usage or configuration error, 3 key not found
(get, inspect).

Run "dogpile <command> --help" for a command's flags and examples.
`)
}

// usageError is a mistake in the command line or configuration (exit 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

func isUsage(err error) bool {
	var u *usageError
	return errors.As(err, &u)
}

// notFoundError is a key without a usable value (exit 3).
type notFoundError struct {
	msg   string
	quiet bool // the command printed its own answer (--json)
}

func (e *notFoundError) Error() string { return e.msg }

// newFlags makes a command's flag set. help is its usage text (synopsis,
// description, examples); the flags are listed after it.
func newFlags(name, help string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprint(w, strings.TrimLeft(help, "\n"))
		printFlags(fs, w)
	}
	return fs
}

// parse parses a command's arguments with flags and positional arguments
// in any order ("dogpile get KEY --json" as well as "dogpile get --json
// KEY"); "--" ends the flags. --help prints the usage to stdout.
func parse(fs *flag.FlagSet, args []string, stdout io.Writer) ([]string, error) {
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "-h" || a == "-help" || a == "--help" {
			fs.SetOutput(stdout)
			fs.Usage()
			return nil, flag.ErrHelp
		}
	}
	// The error is returned, and printed once, with a pointer to --help
	// rather than the whole usage.
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, &usageError{fmt.Sprintf("%s: %v (see dogpile %s --help)", fs.Name(), err, fs.Name())}
		}
		rest := fs.Args()
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

func printFlags(fs *flag.FlagSet, w io.Writer) {
	fmt.Fprintln(w, "\nFlags:")
	out := fs.Output()
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(out)
}
