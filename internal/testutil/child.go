package testutil

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Cross-process tests run the test binary again as child processes, each
// playing a role: a function of the test package that talks to its parent
// line by line through stdin and stdout, and to the other processes only
// through the store, as separate programs would.
//
//	func TestMain(m *testing.M) {
//		testutil.Main(m, map[string]func() error{"holder": holder}, testserver.StopShared)
//	}
//
//	c := testutil.StartChild(t, "holder", "ADDR="+addr)
//	c.Expect("ready", 10*time.Second)
//	c.Send("go")

// childRoleEnv names the role a re-executed test binary plays.
const childRoleEnv = "DOGPILE_TEST_CHILD_ROLE"

// Main is TestMain for a package with child roles: in a child it runs the
// role it was started for and exits with 1 if the role returns an error (the
// error on stderr); otherwise it runs the tests, then each of after (such as
// testserver.StopShared), and exits with the tests' code.
func Main(m *testing.M, roles map[string]func() error, after ...func()) {
	if role := os.Getenv(childRoleEnv); role != "" {
		run, ok := roles[role]
		if !ok {
			fmt.Fprintf(os.Stderr, "child: unknown role %q\n", role)
			os.Exit(1)
		}
		if err := run(); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	for _, f := range after {
		f()
	}
	os.Exit(code)
}

// Child is a test binary running a role.
type Child struct {
	t     testing.TB
	role  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string // stdout, line by line; closed at EOF
	done  chan struct{}
	err   error // the exit, once done is closed
}

// StartChild runs the test binary as a child in role, with env (NAME=value)
// added to this process's environment. Its stderr goes to the test log. It
// is killed when the test ends, if it is still running.
func StartChild(t testing.TB, role string, env ...string) *Child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), childRoleEnv+"="+role), env...)
	cmd.Stderr = logWriter{t: t, prefix: role + " child: "}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &Child{t: t, role: role, cmd: cmd, stdin: stdin, lines: make(chan string, 64), done: make(chan struct{})}
	go func() {
		defer close(c.lines)
		s := bufio.NewScanner(stdout)
		s.Buffer(nil, 1<<20)
		for s.Scan() {
			c.lines <- s.Text()
		}
		c.err = cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		c.Kill()
	})
	return c
}

// Send writes line to the child's stdin.
func (c *Child) Send(line string) {
	c.t.Helper()
	if _, err := io.WriteString(c.stdin, line+"\n"); err != nil {
		c.t.Fatalf("%s child: send %q: %v", c.role, line, err)
	}
}

// Next returns the child's next line of output, failing the test if none
// comes within timeout.
func (c *Child) Next(timeout time.Duration) string {
	c.t.Helper()
	select {
	case got, ok := <-c.lines:
		if !ok {
			<-c.done
			c.t.Fatalf("%s child exited (%v) without saying more", c.role, c.err)
		}
		return got
	case <-time.After(timeout):
		c.t.Fatalf("%s child said nothing within %v", c.role, timeout)
	}
	return ""
}

// Expect waits for the child's next line and checks that it is want.
func (c *Child) Expect(want string, timeout time.Duration) {
	c.t.Helper()
	if got := c.Next(timeout); got != want {
		c.t.Fatalf("%s child said %q, want %q", c.role, got, want)
	}
}

// Lines is the child's output, line by line, closed once it has exited: for
// a test that waits on several children at once (a select over their
// lines). Next and Expect read from the same lines.
func (c *Child) Lines() <-chan string { return c.lines }

// Wait waits for the child to exit and returns its exit error (nil for a
// clean exit).
func (c *Child) Wait(timeout time.Duration) error {
	c.t.Helper()
	for range c.lines { // drain what it still says
	}
	select {
	case <-c.done:
		return c.err
	case <-time.After(timeout):
		c.t.Fatalf("%s child did not exit within %v", c.role, timeout)
	}
	return nil
}

// Kill kills the child (SIGKILL), as a crash would, and waits for it to end.
func (c *Child) Kill() {
	c.cmd.Process.Kill() //nolint:errcheck // it may have exited
	for range c.lines {  // what it said before it died
	}
	<-c.done
}

// ReadLine reads one line from stdin, for a child waiting for its parent's
// word.
func ReadLine() (string, error) {
	line, err := stdin.ReadString('\n')
	return strings.TrimSuffix(line, "\n"), err
}

var stdin = bufio.NewReader(os.Stdin)

// logWriter passes a child's stderr to the test log, line by line.
type logWriter struct {
	t      testing.TB
	prefix string
}

func (w logWriter) Write(p []byte) (int, error) {
	for _, l := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		w.t.Log(w.prefix + l)
	}
	return len(p), nil
}
