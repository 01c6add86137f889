package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

// openPTY opens a pseudo-terminal: the controlling side, and the terminal
// side for a child's standard output.
func openPTY(t *testing.T) (control, term *os.File) {
	t.Helper()
	control, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	var unlock int32
	var n uint32
	for _, req := range []struct {
		op  uintptr
		arg unsafe.Pointer
	}{{syscall.TIOCSPTLCK, unsafe.Pointer(&unlock)}, {syscall.TIOCGPTN, unsafe.Pointer(&n)}} {
		if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, control.Fd(), req.op, uintptr(req.arg)); errno != 0 {
			control.Close()
			t.Skipf("pseudo-terminal ioctl: %v", errno)
		}
	}
	term, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		control.Close()
		t.Skipf("open the pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { control.Close(); term.Close() })
	return control, term
}

// onTerminal runs the binary with its standard output on a terminal and
// returns what the terminal received (its \r\n line ends made \n).
func onTerminal(t *testing.T, args ...string) string {
	t.Helper()
	control, term := openPTY(t)
	cmd := exec.Command(binary, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + cacheHome(t), "XDG_CACHE_HOME=" + cacheHome(t)}
	cmd.Stdout = term
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("dogpile %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	term.Close()
	var out bytes.Buffer
	io.Copy(&out, control) //nolint:errcheck // the read ends with EIO once the terminal side is closed
	return strings.ReplaceAll(out.String(), "\r\n", "\n")
}

// On a terminal, a value's control characters are printed escaped (so a
// cached ANSI sequence cannot clear the screen), newlines kept; --raw
// prints the bytes as they are.
func TestValuesEscapedOnATerminal(t *testing.T) {
	const value = "red\x1b[31mtext\a and \xff\nsecond line"
	dp(t, nil, "set", "k", value).want(t, exitOK, "set")
	if got := onTerminal(t, "get", "k"); got != `red\x1b[31mtext\x07 and \xff`+"\nsecond line\n" {
		t.Errorf("get on a terminal printed %q", got)
	}
	if got := onTerminal(t, "get", "--raw", "k"); got != value {
		t.Errorf("get --raw on a terminal printed %q", got)
	}
	if got := onTerminal(t, "keys"); got != "k\n" {
		t.Errorf("keys on a terminal printed %q", got)
	}
}
