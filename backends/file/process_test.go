package file_test

// Tests with several processes: the test binary runs itself again as a child
// (TestMain dispatches on childEnv), and parent and children talk over the
// children's stdin and stdout, one word per line, so that every step waits
// for an event rather than for time to pass.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// childEnv names the role a re-executed test binary plays.
const childEnv = "DOGPILE_FILE_TEST_CHILD"

func TestMain(m *testing.M) {
	if role := os.Getenv(childEnv); role != "" {
		os.Exit(runChild(role))
	}
	os.Exit(m.Run())
}

// runChild runs one child role; its exit code is the child's.
func runChild(role string) int {
	in := newStdinLines()
	var err error
	switch role {
	case "rw":
		err = childReadWrite(in)
	case "stampede":
		err = childStampede(in)
	case "writer":
		err = childWriter()
	case "reader":
		err = childReader(in)
	default:
		err = fmt.Errorf("unknown child role %q", role)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "child %s (pid %d): %v\n", role, os.Getpid(), err)
		return 1
	}
	return 0
}

// say writes one line to the parent; goroutines of a child share stdout.
var sayMu sync.Mutex

func say(format string, args ...any) {
	sayMu.Lock()
	defer sayMu.Unlock()
	fmt.Fprintf(os.Stdout, format+"\n", args...)
}

// stdinLines hands out the lines the parent sends.
type stdinLines chan string

func newStdinLines() stdinLines {
	ch := make(chan string, 16)
	go func() {
		s := bufio.NewScanner(os.Stdin)
		for s.Scan() {
			ch <- s.Text()
		}
		close(ch)
	}()
	return ch
}

// expect waits for the parent to send want.
func (in stdinLines) expect(want string) error {
	line, ok := <-in
	if !ok {
		return fmt.Errorf("stdin closed while waiting for %q", want)
	}
	if line != want {
		return fmt.Errorf("got %q from the parent, want %q", line, want)
	}
	return nil
}

// child is a running child process seen from the parent.
type child struct {
	t     testing.TB
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string // stdout, closed at EOF
	exit  chan error  // the result of Wait, once
	mu    sync.Mutex
	errb  strings.Builder
}

// startChild runs the test binary as a child in role, with env added.
func startChild(t testing.TB, name, role string, env ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), childEnv+"="+role), env...)
	c := &child{t: t, name: name, cmd: cmd, lines: make(chan string, 1024), exit: make(chan error, 1)}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = writerFunc(func(p []byte) (int, error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.errb.Write(p)
	})
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			c.lines <- s.Text()
		}
		close(c.lines)
		c.exit <- cmd.Wait()
	}()
	t.Cleanup(func() { c.kill() })
	return c
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func (c *child) stderr() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.errb.String()
}

// send writes one line to the child's stdin.
func (c *child) send(line string) {
	c.t.Helper()
	if _, err := io.WriteString(c.stdin, line+"\n"); err != nil {
		c.t.Fatalf("%s: send %q: %v (stderr: %s)", c.name, line, err, c.stderr())
	}
}

// next returns the child's next line, failing the test at ctx's end or EOF.
func (c *child) next(ctx context.Context) string {
	c.t.Helper()
	select {
	case line, ok := <-c.lines:
		if !ok {
			c.t.Fatalf("%s exited while the test waited for a line (stderr: %s)", c.name, c.stderr())
		}
		return line
	case <-ctx.Done():
		c.t.Fatalf("%s: no line before the deadline (stderr: %s)", c.name, c.stderr())
	}
	return ""
}

// expect waits for the line want.
func (c *child) expect(ctx context.Context, want string) {
	c.t.Helper()
	if got := c.next(ctx); got != want {
		c.t.Fatalf("%s said %q, want %q (stderr: %s)", c.name, got, want, c.stderr())
	}
}

// wait waits for the child to exit and fails the test unless it succeeded.
// Lines it printed and nobody read are returned.
func (c *child) wait(ctx context.Context) []string {
	c.t.Helper()
	var rest []string
	for {
		select {
		case line, ok := <-c.lines:
			if ok {
				rest = append(rest, line)
				continue
			}
			if err := <-c.exit; err != nil {
				c.t.Fatalf("%s failed: %v (stderr: %s)", c.name, err, c.stderr())
			}
			c.exit <- nil
			return rest
		case <-ctx.Done():
			c.t.Fatalf("%s did not exit before the deadline (stderr: %s)", c.name, c.stderr())
		}
	}
}

// kill ends the child with SIGKILL if it is still running, and reaps it.
func (c *child) kill() {
	c.cmd.Process.Kill() //nolint:errcheck // it may have exited already
	for range c.lines {
	}
}

func deadline(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
