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
//	keys        list the region's keys, as get and set take them
//	stats       show what the region's store reports about itself
//	bench       run a load (hit, cold-stampede, expired-stampede) and report latencies
//	demo        run a cache stampede with and without the dogpile lock, side by side
//
// The region comes from a configuration file (--config FILE, or the
// DOGPILE_CONFIG environment variable; see package config for its keys) and
// --region NAME when the file has more than one. With neither, commands use
// the embedded default: a file store in the user's cache directory
// (os.UserCacheDir()/dogpile/cache.db), or the backend given by --backend and
// --arg.
//
// Exit codes, for scripts:
//
//	0  success
//	1  the command failed (a backend unreachable, a request failed, …)
//	2  the command line or the configuration is wrong (a backend cannot be made from it)
//	3  get or inspect: the key has no value (not found, expired, or invalidated)
//	130  interrupted (Ctrl-C): the command stopped and cleaned up first
//
// "dogpile <command> --help" describes a command's flags, with examples;
// "dogpile --version" prints the version.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backends/memcached"
	"github.com/dogpile-go/dogpile/config"
	"github.com/dogpile-go/dogpile/internal/suggest"
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
		{"keys", "list the region's keys, as get and set take them", runKeys},
		{"stats", "show what the region's store reports about itself", runStats},
		{"bench", "run a load (hit, cold-stampede, expired-stampede) and report latencies", runBench},
		{"demo", "run a cache stampede with and without the dogpile lock, side by side", runDemo},
	}
}

// stdin is where "dogpile set KEY -" reads the value (a variable for tests).
var stdin io.Reader = os.Stdin

func main() {
	os.Exit(runMain(os.Args[1:], os.Stdout, os.Stderr))
}

// exitInterrupted is the exit status after Ctrl-C (SIGINT), by the shells'
// convention: 128 + the signal's number.
const exitInterrupted = 130

// runMain runs a command until it ends or the user interrupts it. After an
// interrupt the command stops what it does and cleans up — its creators
// return, its distributed locks are released, its bench keys deleted —
// before the process exits with status 130. A second interrupt exits at once.
func runMain(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // the next Ctrl-C is the default one: the process ends
	}()
	code := run(ctx, args, stdout, stderr)
	if ctx.Err() != nil {
		return exitInterrupted
	}
	return code
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
	case "-version", "--version", "version":
		fmt.Fprintln(stdout, version())
		return exitOK
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		if ctx.Err() != nil {
			if err != nil && !errors.Is(err, context.Canceled) {
				fmt.Fprintf(stderr, "dogpile: %s: %s\n", c.name, message(err))
			}
			fmt.Fprintf(stderr, "dogpile: %s: interrupted\n", c.name)
			return exitInterrupted
		}
		return exitCode(c.name, err, stderr)
	}
	if len(args[0]) > 1 && args[0] != "--" && strings.HasPrefix(args[0], "-") {
		fmt.Fprintf(stderr, "dogpile: %s\n", flagsFirst(args))
		return exitUsage
	}
	names := make([]string, len(commands))
	for i, c := range commands {
		names[i] = c.name
	}
	if s, ok := suggest.Closest(args[0], names); ok {
		fmt.Fprintf(stderr, "dogpile: unknown command %q; did you mean %q?\n", args[0], s)
		return exitUsage
	}
	fmt.Fprintf(stderr, "dogpile: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitUsage
}

// flagsFirst words the mistake of a flag before the command ("dogpile
// --backend file get k"): the flags are a command's, and go after it. When
// one of the arguments is a command, it shows the line as it should be.
func flagsFirst(args []string) string {
	for i, a := range args {
		if !slices.ContainsFunc(commands, func(c command) bool { return c.name == a }) {
			continue
		}
		line := []string{"dogpile", a}
		for _, arg := range slices.Concat(args[:i], args[i+1:]) {
			line = append(line, shellQuote(arg))
		}
		return "flags go after the command: " + escapeValue(strings.Join(line, " "))
	}
	return fmt.Sprintf("%s: flags go after the command: dogpile <command> %s … (see dogpile --help)", escapeKey(args[0]), escapeKey(args[0]))
}

// shellQuote quotes s for a POSIX shell, if it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// version is the command's module version, as the Go toolchain recorded it
// when it built the binary: a release version for "go install …@v1.2.3",
// "(devel)" and the VCS revision for a build from a clone.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dogpile (version unknown: built without module information)"
	}
	v := "dogpile " + bi.Main.Version
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = ", modified"
			}
		}
	}
	if rev != "" {
		v += fmt.Sprintf(" (%.12s%s)", rev, modified)
	}
	return v + ", " + bi.GoVersion
}

// exitCode prints err (if any) and returns the exit code it calls for.
func exitCode(cmd string, err error, stderr io.Writer) int {
	var nf *notFoundError
	var ce *config.Error
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &nf):
		if !nf.quiet {
			fmt.Fprintln(stderr, "dogpile:", message(err))
		}
		return exitNotFound
	case isUsage(err), errors.As(err, &ce):
		fmt.Fprintln(stderr, "dogpile:", message(err))
		return exitUsage
	case errors.Is(err, dogpile.ErrInvalidArgument):
		// A key or value the region refuses: what was typed is wrong.
		fmt.Fprintf(stderr, "dogpile: %s: %s\n", cmd, message(err))
		return exitUsage
	default:
		fmt.Fprintf(stderr, "dogpile: %s: %s\n", cmd, message(err))
		return exitError
	}
}

// message words err for the command line, in one line that the caller
// prefixes with "dogpile: " once. The library's errors each say where they
// come from ("dogpile: ", "dogpile/redis: "), which is noise here; an error
// of the backend says which backend, and what it said; a Memcached key that
// Memcached cannot store says which setting fixes it.
func message(err error) string {
	if errors.Is(err, memcached.ErrInvalidKey) {
		return fmt.Sprintf("%s; to store such keys, set key_mangler = \"sha1\" in the region's configuration "+
			"(cache.<region>.key_mangler): keys are then stored as their SHA-1", trimOrigin(invalidKeyReason(err)))
	}
	var be *dogpile.BackendError
	if errors.As(err, &be) {
		return fmt.Sprintf("%s backend: %s", be.Backend, trimOrigin(be.Err.Error()))
	}
	return trimOrigin(err.Error())
}

// origin matches the words with which the library's errors say where they
// come from: "dogpile: ", "dogpile/redis: ", "file: ".
var origin = regexp.MustCompile(`(^|: )(dogpile(/[a-z]+)?|redis|memcached|file): `)

// trimOrigin removes those words from a message.
func trimOrigin(msg string) string {
	for {
		out := origin.ReplaceAllString(msg, "$1")
		if out == msg {
			return out
		}
		msg = out
	}
}

// invalidKeyReason is what is wrong with a Memcached key, without the
// backend's advice to Go programmers (WithKeyMangler, dogpile.SHA1Mangler),
// which a command-line user cannot follow.
func invalidKeyReason(err error) string {
	var ke *memcached.KeyError
	if errors.As(err, &ke) && ke.Fix != "" {
		return strings.TrimSuffix(err.Error(), "; "+ke.Fix)
	}
	return err.Error()
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
(get, inspect), 130 interrupted.

Run "dogpile <command> --help" for a command's flags and examples, and
"dogpile --version" for the version.
`)
}

// usageError is a mistake in the command line or configuration (exit 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

// isUsage reports whether err is a mistake in the command line or the
// configuration: a usageError, or a backend that cannot be made from the
// settings (settingsError).
func isUsage(err error) bool {
	var u *usageError
	var s *settingsError
	return errors.As(err, &u) || errors.As(err, &s)
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

// parseArgs parses the arguments of a command that takes n positional
// arguments (n < 0: at least one). want names them in the refusal; for a
// command with no positional arguments (n == 0) it is a hint that follows
// the refusal of one (it may be empty).
func parseArgs(fs *flag.FlagSet, args []string, stdout io.Writer, n int, want string) ([]string, error) {
	pos, err := parse(fs, args, stdout)
	switch {
	case err != nil:
		return nil, err
	case n == 0 && len(pos) > 0:
		return nil, usageErrorf("%s: unexpected argument %q%s", fs.Name(), pos[0], want)
	case len(pos) != n && (n >= 0 || len(pos) == 0):
		return nil, usageErrorf("%s: want %s (see dogpile %s --help)", fs.Name(), want, fs.Name())
	}
	return pos, nil
}

// printFlags lists a command's flags as the help texts write them: a
// one-letter flag with one dash (-c), a longer one with two (--json). The
// flag package accepts either form.
func printFlags(fs *flag.FlagSet, w io.Writer) {
	fmt.Fprintln(w, "\nFlags:")
	fs.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		line := "  " + flagName(f.Name)
		if arg != "" {
			line += " " + arg
		}
		fmt.Fprintf(w, "%s\n    \t%s", line, strings.ReplaceAll(usage, "\n", "\n    \t"))
		switch f.DefValue {
		case "", "false", "0", "0s", "[]":
		default:
			if arg == "string" || arg == "name" || arg == "file" {
				fmt.Fprintf(w, " (default %q)", f.DefValue)
			} else {
				fmt.Fprintf(w, " (default %s)", f.DefValue)
			}
		}
		fmt.Fprintln(w)
	})
}

// flagName is a flag's name as the help texts write it.
func flagName(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}
