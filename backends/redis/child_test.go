package redis_test

// The cross-process tests (DL1, DL2) run the test binary again as child
// processes. TestMain sees childRoleEnv and runs runChild instead of the
// tests. A child talks to its parent through stdin and stdout, line by line,
// and to the others only through the Redis server, as separate programs
// would.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dogpile-go/dogpile"
)

const (
	childRoleEnv = "DOGPILE_REDIS_CHILD"     // "stampede" or "holder"
	childAddrEnv = "DOGPILE_REDIS_ADDR"      // the shared server
	childKeyEnv  = "DOGPILE_REDIS_KEY"       // the contested key; counters are key + ":…"
	childNEnv    = "DOGPILE_REDIS_TOTAL"     // stampede: callers in all processes together
	childModeEnv = "DOGPILE_REDIS_MODE"      // stampede: "cold" or "stale"
	childExpEnv  = "DOGPILE_REDIS_EXPIRE"    // the region's expiration (a Go duration)
	childLockEnv = "DOGPILE_REDIS_LOCK_TIME" // holder: lock_timeout (a Go duration)
)

// goroutinesPerChild is the number of concurrent callers in each stampede
// child.
const goroutinesPerChild = 50

// stampedeReport is what a stampede child prints when it is done.
type stampedeReport struct {
	Values map[string]int // value returned → number of callers
	Errors []string
}

func runChild(role string) int {
	var err error
	switch role {
	case "stampede":
		err = childStampede()
	case "holder":
		err = childHolder()
	default:
		err = fmt.Errorf("unknown child role %q", role)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	return 0
}

func childRegion(expiration time.Duration, lockTimeout string) (*dogpile.Region, error) {
	args := dogpile.Args{
		"url":              "redis://" + os.Getenv(childAddrEnv),
		"distributed_lock": true,
		"lock_sleep":       "10ms",
	}
	if lockTimeout != "" {
		args["lock_timeout"] = lockTimeout
	}
	return dogpile.NewRegion().Configure("redis", dogpile.WithArguments(args), dogpile.WithExpiration(expiration))
}

// childStampede: goroutinesPerChild callers of GetOrCreate on one key, let
// loose when the parent writes a line to stdin. The creator counts itself
// on the server and holds on until every caller of every process is in
// (cold: all have arrived; stale: all others have been served), so that the
// callers really overlap the creation.
func childStampede() error {
	exp, err := time.ParseDuration(os.Getenv(childExpEnv))
	if err != nil {
		return err
	}
	r, err := childRegion(exp, "")
	if err != nil {
		return err
	}
	defer r.Close()
	raw := goredis.NewClient(&goredis.Options{Addr: os.Getenv(childAddrEnv)})
	defer raw.Close()
	key := os.Getenv(childKeyEnv)
	total, err := strconv.Atoi(os.Getenv(childNEnv))
	if err != nil {
		return err
	}
	mode := os.Getenv(childModeEnv)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	create := func(ctx context.Context) (string, error) {
		if err := raw.Incr(ctx, key+":creators").Err(); err != nil {
			return "", err
		}
		counter, want := key+":arrived", total
		if mode == "stale" {
			counter, want = key+":served", total-1
		}
		// Wait for the other callers (an event in other processes, so by
		// polling), bounded: if they never come, the parent's checks fail.
		deadline := time.Now().Add(15 * time.Second)
		for time.Now().Before(deadline) {
			if n, _ := raw.Get(ctx, counter).Int(); n >= want {
				break
			}
			time.Sleep(2 * time.Millisecond)
		}
		return "new", nil
	}

	start := make(chan struct{})
	var (
		mu  sync.Mutex
		rep = stampedeReport{Values: map[string]int{}}
		wg  sync.WaitGroup
	)
	for range goroutinesPerChild {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if err := raw.Incr(ctx, key+":arrived").Err(); err != nil {
				mu.Lock()
				rep.Errors = append(rep.Errors, err.Error())
				mu.Unlock()
				return
			}
			v, err := dogpile.GetOrCreate(ctx, r, key, create)
			raw.Incr(ctx, key+":served") //nolint:errcheck // a lost count fails the parent's checks
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				rep.Errors = append(rep.Errors, err.Error())
				return
			}
			rep.Values[v]++
		}()
	}
	fmt.Println("ready")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		return fmt.Errorf("waiting for the go: %w", err)
	}
	close(start)
	wg.Wait()
	return json.NewEncoder(os.Stdout).Encode(rep)
}

// childHolder: GetOrCreate whose creator says "creating" and never returns,
// so that the parent can kill the process while it holds the lock.
func childHolder() error {
	r, err := childRegion(0, os.Getenv(childLockEnv))
	if err != nil {
		return err
	}
	_, err = dogpile.GetOrCreate(context.Background(), r, os.Getenv(childKeyEnv), func(context.Context) (string, error) {
		fmt.Println("creating")
		select {} // until killed
	})
	return err
}

// child is a running child process.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string // its stdout, line by line; closed at EOF
	t     *testing.T
}

// startChild runs the test binary as a child in role with env (NAME=value).
func startChild(t *testing.T, role string, env ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(append(os.Environ(), childRoleEnv+"="+role), env...)
	cmd.Stderr = &prefixWriter{t: t, prefix: role + " child: "}
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
	c := &child{cmd: cmd, stdin: stdin, lines: make(chan string, 16), t: t}
	go func() {
		defer close(c.lines)
		s := bufio.NewScanner(stdout)
		s.Buffer(nil, 1<<20)
		for s.Scan() {
			c.lines <- s.Text()
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill() //nolint:errcheck // it may have exited
		cmd.Wait()         //nolint:errcheck // killed or done
	})
	return c
}

// expect waits for the child's next line and checks it is want.
func (c *child) expect(want string, timeout time.Duration) {
	c.t.Helper()
	select {
	case got, ok := <-c.lines:
		if !ok {
			c.t.Fatalf("child exited before saying %q", want)
		}
		if got != want {
			c.t.Fatalf("child said %q, want %q", got, want)
		}
	case <-time.After(timeout):
		c.t.Fatalf("child did not say %q within %v", want, timeout)
	}
}

// next returns the child's next line.
func (c *child) next(timeout time.Duration) string {
	c.t.Helper()
	select {
	case got, ok := <-c.lines:
		if !ok {
			c.t.Fatal("child exited without a report")
		}
		return got
	case <-time.After(timeout):
		c.t.Fatalf("child sent nothing within %v", timeout)
	}
	return ""
}

// prefixWriter passes a child's stderr to the test log.
type prefixWriter struct {
	t      *testing.T
	prefix string
}

func (w *prefixWriter) Write(p []byte) (int, error) {
	for _, l := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		w.t.Log(w.prefix + l)
	}
	return len(p), nil
}
