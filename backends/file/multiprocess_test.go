package file_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backends/file"
	"github.com/dogpile-go/dogpile/internal/startgate"
	"github.com/dogpile-go/dogpile/internal/testutil"
	"github.com/dogpile-go/dogpile/lock"
)

// Environment of the children.
const (
	dbEnv    = "DOGPILE_FILE_TEST_DB"
	indexEnv = "DOGPILE_FILE_TEST_INDEX"
	modeEnv  = "DOGPILE_FILE_TEST_MODE"
	countEnv = "DOGPILE_FILE_TEST_COUNT"
	chdirEnv = "DOGPILE_FILE_TEST_CHDIR"
	keysEnv  = "DOGPILE_FILE_TEST_KEYS"
)

// ---- FB1: several processes read and write one store at once ----

const (
	rwProcs = 4
	rwKeys  = 100
)

func rwKey(proc, i int) string { return fmt.Sprintf("p%d-%d", proc, i) }

// rwValue is the value every process expects under key: a few hundred bytes
// to a few KiB, so that a torn or mixed-up value would show.
func rwValue(key string) []byte {
	return bytes.Repeat([]byte(key+";"), 50+len(key)*37%400)
}

func rwAllKeys() []string {
	var keys []string
	for p := range rwProcs {
		for i := range rwKeys {
			keys = append(keys, rwKey(p, i))
		}
	}
	return keys
}

// childReadWrite writes its own keys while reading everyone's, then waits
// until it sees every process's keys.
func childReadWrite() error {
	idx, err := strconv.Atoi(os.Getenv(indexEnv))
	if err != nil {
		return err
	}
	// The children open (and so create) the file at the same moment.
	b, err := readyBackend()
	if err != nil {
		return err
	}
	defer b.Close()
	ctx := context.Background()
	rnd := rand.New(rand.NewPCG(uint64(idx), 7))
	all := rwAllKeys()
	check := func(k string, v []byte) error {
		if !bytes.Equal(v, rwValue(k)) {
			return fmt.Errorf("read %q: %d bytes that are not its value", k, len(v))
		}
		return nil
	}
	for i := range rwKeys {
		k := rwKey(idx, i)
		if i%10 == 9 { // every tenth write is a batch of the last ten keys
			batch := map[string][]byte{}
			for j := i - 9; j <= i; j++ {
				batch[rwKey(idx, j)] = rwValue(rwKey(idx, j))
			}
			err = b.SetMulti(ctx, batch)
		} else {
			err = b.Set(ctx, k, rwValue(k))
		}
		if err != nil {
			return err
		}
		other := all[rnd.IntN(len(all))]
		v, ok, err := b.Get(ctx, other)
		if err != nil {
			return err
		}
		if ok {
			if err := check(other, v); err != nil {
				return err
			}
		}
	}
	// Polling for the other processes' writes, with a deadline.
	for stop := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		vs, err := b.GetMulti(ctx, all)
		if err != nil {
			return err
		}
		missing := 0
		for i, v := range vs {
			if v == nil {
				missing++
			} else if err := check(all[i], v); err != nil {
				return err
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(stop) {
			return fmt.Errorf("%d keys of the other processes never appeared", missing)
		}
	}
	say("ok")
	return nil
}

// TestFB1SeveralProcesses runs four processes that create one store at the
// same moment, then write their own keys (single and batched) while reading
// everyone's: every value read is whole, and every process sees every other
// process's writes.
func TestFB1SeveralProcesses(t *testing.T) {
	db := filepath.Join(t.TempDir(), "shared.db")
	var kids []*testutil.Child
	for i := range rwProcs {
		kids = append(kids, testutil.StartChild(t, "rw", dbEnv+"="+db, indexEnv+"="+strconv.Itoa(i)))
	}
	for _, c := range kids {
		c.Expect("ready", wait)
	}
	for _, c := range kids {
		c.Send("go")
	}
	for _, c := range kids {
		c.Expect("ok", wait)
		exitedOK(t, c)
	}
	b := open(t, file.Options{Filename: db})
	all := rwAllKeys()
	vs, err := b.GetMulti(context.Background(), all)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vs {
		if !bytes.Equal(v, rwValue(all[i])) {
			t.Fatalf("after all processes exited, %q holds %d bytes, not its value", all[i], len(v))
		}
	}
}

// ---- FB2: one creator across processes; a killed holder releases the lock ----

const stampedeGoroutines = 50

// tracing reports on stdout each time a process starts waiting for the file
// lock, so that the parent knows every process is contending.
type tracing struct{ *file.Backend }

func (t tracing) Mutex(key string) lock.Mutex { return tracedMutex{t.Backend.Mutex(key)} }

type tracedMutex struct{ lock.Mutex }

func (m tracedMutex) Lock(ctx context.Context) error {
	say("lock")
	return m.Mutex.Lock(ctx)
}

// appendCount records one run of the creator in the side file (O_APPEND
// writes of one short line are atomic) and returns the runs so far.
func appendCount(path string) (int, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return 0, err
	}
	if _, err := fmt.Fprintf(f, "%d\n", os.Getpid()); err != nil {
		f.Close()
		return 0, err
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	return countLines(path)
}

func countLines(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return bytes.Count(data, []byte("\n")), nil
}

// openChildBackend opens the file backend a child names in its environment:
// $DOGPILE_FILE_TEST_DB, relative to $DOGPILE_FILE_TEST_CHDIR if that is set.
func openChildBackend(o file.Options) (*file.Backend, error) {
	if dir := os.Getenv(chdirEnv); dir != "" {
		if err := os.Chdir(dir); err != nil {
			return nil, err
		}
	}
	o.Filename = os.Getenv(dbEnv)
	o.DistributedLock = true
	return file.New(o)
}

// readyBackend opens the child's backend (openChildBackend), then tells the
// parent the child is ready and waits for its "go".
func readyBackend() (*file.Backend, error) {
	b, err := openChildBackend(file.Options{})
	if err != nil {
		return nil, err
	}
	if err := ready(); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// childStampede runs 50 goroutines that GetOrCreate one cold key. The creator
// waits for the parent's "finish"; in mode "kill" the first creator of all
// processes then kills itself (SIGKILL, as a crash would) while holding the
// lock.
func childStampede() error {
	mode, countPath := os.Getenv(modeEnv), os.Getenv(countEnv)
	b, err := openChildBackend(file.Options{})
	if err != nil {
		return err
	}
	defer b.Close()
	r, err := dogpile.NewRegion(dogpile.WithCreationTimeout(time.Minute)).ConfigureBackend(tracing{b})
	if err != nil {
		return err
	}
	create := func(ctx context.Context) (string, error) {
		n, err := appendCount(countPath)
		if err != nil {
			return "", err
		}
		say("creating")
		if err := expectLine("finish"); err != nil {
			return "", err
		}
		if mode == "kill" && n == 1 {
			killSelf()
		}
		return fmt.Sprintf("made-by-%d", os.Getpid()), nil
	}
	if err := ready(); err != nil {
		return err
	}
	ctx := context.Background()
	got := make([]string, stampedeGoroutines)
	errs := make([]error, stampedeGoroutines)
	startgate.Run(stampedeGoroutines, func(g int) {
		got[g], errs[g] = dogpile.GetOrCreate(ctx, r, "cold", create)
	})
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, v := range got {
		if v != got[0] || v == "" {
			return fmt.Errorf("goroutines got different values: %q and %q", got[0], v)
		}
	}
	say("ok %s", got[0])
	return nil
}

// killSelf ends this process with SIGKILL, as a crash would: nothing runs
// after it, and the OS releases the process's file locks.
func killSelf() {
	if p, err := os.FindProcess(os.Getpid()); err == nil {
		p.Kill() //nolint:errcheck // there is nothing after it
	}
	time.Sleep(time.Hour) // until the signal lands
}

// spelling is how one child names the shared cache file.
type spelling struct {
	name  string
	db    string // the path it opens
	chdir string // the directory it runs in, when db is relative
}

type event struct {
	proc int
	line string
}

// forward sends c's lines to ev until c says "ok …" or exits, leaving the
// rest (its exit) to the test.
func forward(proc int, c *testutil.Child, ev chan<- event) {
	for line := range c.Lines() {
		ev <- event{proc, line}
		if strings.HasPrefix(line, "ok ") {
			return
		}
	}
	ev <- event{proc, "exited"}
}

// runStampede starts a stampeding process for each spelling of one file and
// returns them, their events, and the side file that counts creator runs.
func runStampede(t *testing.T, mode string, names []spelling) ([]*testutil.Child, chan event, string) {
	count := filepath.Join(t.TempDir(), "creators")
	var kids []*testutil.Child
	for _, n := range names {
		kids = append(kids, testutil.StartChild(t, "stampede", dbEnv+"="+n.db, chdirEnv+"="+n.chdir, modeEnv+"="+mode, countEnv+"="+count))
	}
	for _, c := range kids {
		c.Expect("ready", wait)
	}
	ev := make(chan event, 64)
	for i, c := range kids {
		go forward(i, c, ev)
	}
	for _, c := range kids {
		c.Send("go")
	}
	return kids, ev, count
}

// sameSpelling is n processes that all name db.
func sameSpelling(db string, n int) []spelling {
	s := make([]spelling, n)
	for i := range s {
		s[i] = spelling{name: db, db: db}
	}
	return s
}

// oneCreator runs the stampede of TestFB2OneCreatorAcrossProcesses over the
// given spellings of one file.
func oneCreator(t *testing.T, names []spelling) {
	t.Helper()
	ctx := deadline(t, 60*time.Second)
	kids, ev, count := runStampede(t, "once", names)
	creator, finished := -1, false
	waiting := map[int]bool{}
	values := map[int]string{}
	for len(values) < len(kids) {
		var e event
		select {
		case e = <-ev:
		case <-ctx.Done():
			t.Fatalf("stuck: creator %d, processes waiting for the lock %v, done %v", creator, waiting, values)
		}
		switch {
		case e.line == "lock":
			waiting[e.proc] = true
		case e.line == "creating":
			if creator >= 0 {
				t.Fatalf("process %d (%s) ran a second creator (the first was process %d, %s)", e.proc, names[e.proc].name, creator, names[creator].name)
			}
			creator = e.proc
		case strings.HasPrefix(e.line, "ok "):
			values[e.proc] = strings.TrimPrefix(e.line, "ok ")
		default:
			t.Fatalf("process %d: unexpected %q", e.proc, e.line)
		}
		if creator >= 0 && len(waiting) == len(kids) && !finished {
			kids[creator].Send("finish")
			finished = true
		}
	}
	for _, c := range kids {
		exitedOK(t, c)
	}
	for p, v := range values {
		if v != values[creator] {
			t.Fatalf("process %d got %q, the creator's process %q", p, v, values[creator])
		}
	}
	if n, err := countLines(count); err != nil || n != 1 {
		t.Fatalf("the creator ran %d times (%v) across %d processes × %d goroutines; want 1", n, err, len(kids), stampedeGoroutines)
	}
}

// TestFB2OneCreatorAcrossProcesses: 4 processes × 50 goroutines ask for one
// cold key of one file. The creator is held until every process has started
// waiting for the file lock; then it finishes, and the creator has run once in
// total while all 200 callers get its value.
func TestFB2OneCreatorAcrossProcesses(t *testing.T) {
	oneCreator(t, sameSpelling(filepath.Join(t.TempDir(), "c.db"), 4))
}

// TestFB2KilledHolderReleasesLock: the process that holds the file lock and is
// creating the value is SIGKILLed (it sends the signal to itself when told,
// so that the test need not find out which process it is) while the three
// others wait for the lock. The OS releases the lock; one of the others
// creates the value and all get it.
func TestFB2KilledHolderReleasesLock(t *testing.T) {
	ctx := deadline(t, 60*time.Second)
	kids, ev, count := runStampede(t, "kill", sameSpelling(filepath.Join(t.TempDir(), "c.db"), 4))
	creators := []int{}
	killed := -1
	waiting := map[int]bool{}
	values := map[int]string{}
	// Until the others have their values and the killed process's exit has
	// been seen: the exit and the others' answers arrive in either order.
	for len(values) < len(kids)-1 || killed < 0 {
		var e event
		select {
		case e = <-ev:
		case <-ctx.Done():
			t.Fatalf("stuck: creators %v, killed %d, waiting %v, done %v", creators, killed, waiting, values)
		}
		switch {
		case e.line == "lock":
			waiting[e.proc] = true
		case e.line == "creating":
			creators = append(creators, e.proc)
			if len(creators) > 1 {
				kids[e.proc].Send("finish")
			}
		case strings.HasPrefix(e.line, "ok "):
			values[e.proc] = strings.TrimPrefix(e.line, "ok ")
		case e.line == "exited" && len(creators) > 0 && e.proc == creators[0]:
			killed = e.proc
		default:
			t.Fatalf("process %d: unexpected %q", e.proc, e.line)
		}
		if len(creators) == 1 && len(waiting) == len(kids) && killed == -1 {
			kids[creators[0]].Send("finish") // it kills itself while holding the lock
			killed = -2
		}
	}
	if len(creators) != 2 || killed != creators[0] {
		t.Fatalf("creators ran in processes %v (process %d exited); want the killed one and then exactly one other", creators, killed)
	}
	if err := kids[killed].Wait(wait); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("the first creator's process exited with %v; want killed", err)
	}
	for p, c := range kids {
		if p != killed {
			exitedOK(t, c)
		}
	}
	for p, v := range values {
		if v != values[creators[1]] {
			t.Fatalf("process %d got %q, the second creator's process %q", p, v, values[creators[1]])
		}
	}
	if n, err := countLines(count); err != nil || n != 2 {
		t.Fatalf("the creator ran %d times (%v); want 2 (the killed run and one more)", n, err)
	}
}

// TestFB2UnlockReleasesToOtherProcesses: Unlock gives the lock back to the
// OS, not only to the goroutines of this process: another process takes it
// while the backend that held it stays open, whether it was taken at once or
// granted after a wait in the OS (nothing failed when Unlock kept the byte
// locked: the other processes waited until the holder's process closed the
// backend or exited, which is all the stampede tests need).
func TestFB2UnlockReleasesToOtherProcesses(t *testing.T) {
	db := filepath.Join(t.TempDir(), "c.db")
	b := open(t, file.Options{Filename: db})
	ctx := deadline(t, wait)
	m := b.Mutex("k")
	testutil.MustLock(t, m)
	if err := m.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	holder := holdIn(t, db) // by TryLock: it fails unless the byte is free
	done := testutil.LockAsync(ctx, m)
	holder.Send("release")
	exitedOK(t, holder)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := m.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	next := holdIn(t, db)
	next.Send("release")
	exitedOK(t, next)
}

// TestFB2CloseReleasesHeldLocks: closing the last backend of a process on a
// lock file releases the locks it still holds, as the process's exit would
// (nothing failed when Close kept the lock file open, and with it the locks
// of a holder that never unlocked, until the process exited).
func TestFB2CloseReleasesHeldLocks(t *testing.T) {
	db := filepath.Join(t.TempDir(), "c.db")
	b, err := file.New(file.Options{Filename: db, DistributedLock: true})
	if err != nil {
		t.Fatal(err)
	}
	testutil.MustLock(t, b.Mutex("k"))
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	holder := holdIn(t, db) // by TryLock: it fails unless the byte is free
	holder.Send("release")
	exitedOK(t, holder)
}

// TestFB2KeysIndependentAcrossProcesses: a process holding one key's lock
// holds that key's byte of the lock file alone; another process takes the
// locks of other keys meanwhile (nothing failed when a lock covered the lock
// file from the key's byte to its end: TestFB2ManyKeysIndependent runs in
// one process, whose locks never conflict in the OS).
func TestFB2KeysIndependentAcrossProcesses(t *testing.T) {
	db := filepath.Join(t.TempDir(), "c.db")
	b := open(t, file.Options{Filename: db})
	holder := holdIn(t, db, "k")
	ctx := deadline(t, wait)
	if ok, err := b.Mutex("k").TryLock(ctx); ok || err != nil {
		t.Fatalf("TryLock of k while another process holds it = %v, %v; want false", ok, err)
	}
	for i := range 32 { // keys on bytes both sides of k's
		m := b.Mutex(fmt.Sprint("other-", i))
		if ok, err := m.TryLock(ctx); !ok || err != nil {
			t.Fatalf("TryLock of other-%d while another process holds k = %v, %v", i, ok, err)
		}
		if err := m.Unlock(ctx); err != nil {
			t.Fatal(err)
		}
	}
	holder.Send("release")
	exitedOK(t, holder)
}

func deadline(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
