// Package testserver starts real server processes (redis-server, memcached)
// on free loopback ports for tests, waits until they answer, and stops them
// when the test ends. Tests can kill and restart a server to test faults.
// Every server-backed test in the project goes through this package, so no
// test depends on a server someone left running.
//
// A missing binary fails the test with the command that installs it; set
// DOGPILE_SKIP_SERVERS=1 to skip such tests instead.
package testserver

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Need returns the path of binary, or ends the test saying how to install it
// (package names are Debian's).
func Need(t testing.TB, binary, install string) string {
	t.Helper()
	p, err := exec.LookPath(binary)
	if err == nil {
		return p
	}
	msg := fmt.Sprintf("%s not found on PATH; install it with: apt-get install -y %s (or run the README's test command, which does)", binary, install)
	if os.Getenv("DOGPILE_SKIP_SERVERS") != "" {
		t.Skip(msg)
	}
	t.Fatal(msg)
	return ""
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testserver: no free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Process is a server process on a loopback port.
type Process struct {
	Name string   // for messages
	Path string   // binary
	Args []string // arguments
	Dir  string   // working directory
	Port int      // the port it listens on (127.0.0.1)

	mu     sync.Mutex
	cmd    *exec.Cmd
	waited chan struct{}
	output lockedBuffer
}

// lockedBuffer collects a process's output while tests may read it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Output returns what the process has written to stdout and stderr.
func (p *Process) Output() string { return p.output.String() }

// Addr returns "127.0.0.1:port".
func (p *Process) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p.Port)) }

// Start starts the process, waits until its port accepts connections, and
// arranges for it to be stopped when the test ends.
func (p *Process) Start(t testing.TB) {
	t.Helper()
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
}

// Restart starts a killed or stopped process again on the same port.
func (p *Process) Restart(t testing.TB) {
	t.Helper()
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
}

func (p *Process) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return fmt.Errorf("testserver: %s is already running", p.Name)
	}
	cmd := exec.Command(p.Path, p.Args...)
	cmd.Dir = p.Dir
	cmd.Stdout, cmd.Stderr = &p.output, &p.output
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("testserver: start %s: %w", p.Name, err)
	}
	waited := make(chan struct{})
	go func() { cmd.Wait(); close(waited) }() //nolint:errcheck // the exit is reported through waited
	p.cmd, p.waited = cmd, waited
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", p.Addr(), 100*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-waited:
			p.cmd = nil
			return fmt.Errorf("testserver: %s exited before answering on %s:\n%s", p.Name, p.Addr(), p.output.String())
		default:
		}
		if time.Now().After(deadline) {
			p.killLocked()
			return fmt.Errorf("testserver: %s did not answer on %s within 10s:\n%s", p.Name, p.Addr(), p.output.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Kill kills the process with SIGKILL and waits for it to exit, as a crash
// would end it.
func (p *Process) Kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.killLocked()
}

func (p *Process) killLocked() {
	if p.cmd == nil {
		return
	}
	killGroup(p.cmd)
	<-p.waited
	p.cmd = nil
}

// Stop ends the process (SIGTERM, then SIGKILL after 5s).
func (p *Process) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck // it may be gone already
	select {
	case <-p.waited:
		p.cmd = nil
	case <-time.After(5 * time.Second):
		p.killLocked()
	}
}

// Pause stops the process with SIGSTOP: it keeps its connections and its
// data but answers nothing, as a server stalled by the host (a VM pause, a
// disk that hangs) would, until Resume.
func (p *Process) Pause(t testing.TB) { p.signal(t, sigStop) }

// Resume continues a paused process (SIGCONT).
func (p *Process) Resume(t testing.TB) { p.signal(t, sigCont) }

func (p *Process) signal(t testing.TB, sig os.Signal) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		t.Fatalf("testserver: %s is not running", p.Name)
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("testserver: %s: %v: %v", p.Name, sig, err)
	}
}

// Running reports whether the process is running.
func (p *Process) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil
}
