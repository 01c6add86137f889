package bench

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// Server is a redis-server or memcached process this package started on a
// free loopback port. (The main module's internal/testserver can't be
// imported from this module, and the bench needs only this much of it.)
type Server struct {
	Addr string
	cmd  *exec.Cmd
	dir  string
	done chan struct{}
}

// installHint says how to get each server binary on Debian.
var installHint = map[string]string{
	"redis-server": "apt-get install -y redis-server",
	"memcached":    "apt-get install -y memcached",
}

// freePort asks the kernel for a free port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// StartRedis starts redis-server on 127.0.0.1 with no persistence.
func StartRedis() (*Server, error) {
	return start("redis-server", func(port int) []string {
		return []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"}
	})
}

// StartMemcached starts memcached on 127.0.0.1 (no UDP).
func StartMemcached() (*Server, error) {
	return start("memcached", func(port int) []string {
		args := []string{"-p", strconv.Itoa(port), "-l", "127.0.0.1", "-U", "0", "-m", "256"}
		if os.Geteuid() == 0 {
			args = append(args, "-u", "root") // memcached refuses to run as root otherwise
		}
		return args
	})
}

func start(bin string, args func(port int) []string) (*Server, error) {
	path, err := exec.LookPath(bin)
	if err != nil {
		return nil, fmt.Errorf("bench: %s not found; install it with: %s", bin, installHint[bin])
	}
	dir, err := os.MkdirTemp("", "bench-"+bin+"-")
	if err != nil {
		return nil, err
	}
	var last error
	for range 5 { // a port taken between freePort and the bind: try another
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		cmd := exec.Command(path, args(port)...)
		cmd.Dir = dir
		cmd.SysProcAttr = sysProcAttr()
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), cmd: cmd, dir: dir, done: make(chan struct{})}
		go func() { cmd.Wait(); close(s.done) }() //nolint:errcheck // the exit is seen through done
		if last = s.waitListening(5 * time.Second); last == nil {
			return s, nil
		}
		s.Stop()
	}
	os.RemoveAll(dir)
	return nil, fmt.Errorf("bench: start %s: %w", bin, last)
}

// waitListening polls the port until the server accepts, it exits, or the
// deadline passes.
func (s *Server) waitListening(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return errors.New("exited at start")
		default:
		}
		if c, err := net.DialTimeout("tcp", s.Addr, 100*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("not listening on %s after %v", s.Addr, timeout)
}

// Host and Port split Addr.
func (s *Server) Host() string { h, _, _ := net.SplitHostPort(s.Addr); return h }

// Port is Addr's port.
func (s *Server) Port() int {
	_, p, _ := net.SplitHostPort(s.Addr)
	n, _ := strconv.Atoi(p)
	return n
}

// Stop kills the server and removes its directory.
func (s *Server) Stop() {
	if s == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck // it may be gone already
	select {
	case <-s.done:
	case <-time.After(2 * time.Second):
		s.cmd.Process.Kill() //nolint:errcheck
		<-s.done
	}
	os.RemoveAll(s.dir)
}
