package dogpile_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/codec"
	"github.com/dogpile-go/dogpile/dogpiletest"
	"github.com/dogpile-go/dogpile/lock"
)

// bugEnv names the bug that a child run of a test of the conformance suite
// gives the implementation it checks.
const bugEnv = "DOGPILE_TEST_BUG"

// suiteFinds shows that the conformance suite fails an implementation with
// any of bugs (bug → the check of the suite, a subtest path, that must fail
// for it). run runs the suite on an implementation with the bug it is given.
// Each bug is tried in a child process (this test run again, for the check's
// top subtest only), as a failing suite fails its test; the test that calls
// suiteFinds must be a top-level test that does nothing before it.
func suiteFinds(t *testing.T, bugs map[string]string, run func(t *testing.T, bug string)) {
	if bug := os.Getenv(bugEnv); bug != "" {
		run(t, bug)
		return
	}
	parent := t.Name()
	for bug, check := range bugs {
		t.Run(strings.ReplaceAll(bug, " ", "_"), func(t *testing.T) {
			t.Parallel()
			top, _, _ := strings.Cut(check, "/")
			cmd := exec.Command(os.Args[0], "-test.run=^"+parent+"$/^"+top+"$", "-test.v")
			cmd.Env = append(os.Environ(), bugEnv+"="+bug)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed an implementation with the bug %q:\n%s", bug, out)
			}
			if want := "--- FAIL: " + parent + "/" + check + " "; !strings.Contains(string(out), want) {
				t.Fatalf("the suite did not fail %s for an implementation with the bug %q:\n%s", check, bug, out)
			}
		})
	}
}

// buggyStore is a byte store with multi-key calls, Go values and a mutex
// (the tests' in-process store beneath) with one deliberate bug, bug.
type buggyStore struct {
	lockStoreBackend
	bug string

	mu    sync.Mutex
	buf   []byte          // the reply buffer of "reuses its reply buffer"
	freed map[string]bool // keys whose lock "releases a lock when its key's value is deleted" dropped
}

func newBuggyStore(bug string) *buggyStore {
	return &buggyStore{lockStoreBackend: newLockStore(), bug: bug, freed: map[string]bool{}}
}

func (s *buggyStore) Get(ctx context.Context, key string) ([]byte, bool, error) {
	v, ok, err := s.lockStoreBackend.Get(ctx, key)
	switch {
	case err != nil:
	case !ok && s.bug == "finds a key never set":
		return []byte{}, true, nil
	case ok && s.bug == "drops a value's last byte" && len(v) > 1:
		v = v[:len(v)-1]
	case ok && s.bug == "reuses its reply buffer":
		s.mu.Lock()
		defer s.mu.Unlock()
		s.buf = append(s.buf[:0], v...)
		v = s.buf
	}
	return v, ok, err
}

func (s *buggyStore) Set(ctx context.Context, key string, value []byte) error {
	if s.bug == "keeps a key's first value" {
		if _, ok := s.raw(key); ok {
			return nil
		}
	}
	if s.bug == "cuts values at 256 KiB" && len(value) > 256<<10 {
		value = value[:256<<10]
	}
	return s.lockStoreBackend.Set(ctx, key, value)
}

func (s *buggyStore) Delete(ctx context.Context, key string) error {
	switch s.bug {
	case "ignores a delete":
		return nil
	case "fails to delete a missing key":
		if _, ok := s.raw(key); !ok {
			return errors.New("no such key")
		}
	case "releases a lock when its key's value is deleted":
		s.mu.Lock()
		s.freed[key] = true
		s.mu.Unlock()
	}
	return s.lockStoreBackend.Delete(ctx, key)
}

func (s *buggyStore) GetMulti(ctx context.Context, keys []string) ([][]byte, error) {
	vs, err := s.lockStoreBackend.GetMulti(ctx, keys)
	switch s.bug {
	case "returns multi values in reverse order":
		slices.Reverse(vs)
	case "leaves missing keys out of a multi read":
		vs = slices.DeleteFunc(vs, func(v []byte) bool { return v == nil })
	case "returns one value too many":
		if len(keys) > 0 {
			vs = append(vs, nil)
		}
	case "swaps two values of a multi read":
		if i := slices.IndexFunc(vs, func(v []byte) bool { return v != nil }); i >= 0 && i+1 < len(vs) && vs[i+1] != nil {
			vs[i], vs[i+1] = vs[i+1], vs[i]
		}
	}
	return vs, err
}

func (s *buggyStore) DeleteMulti(ctx context.Context, keys []string) error {
	if s.bug == "ignores a multi delete" {
		return nil
	}
	return s.lockStoreBackend.DeleteMulti(ctx, keys)
}

func (s *buggyStore) GetValue(ctx context.Context, key string) (any, bool, error) {
	v, ok, err := valueStoreBackend{s.storeBackend}.GetValue(ctx, key)
	if ok && s.bug == "returns a copy of a Go value" {
		if p := reflect.ValueOf(v); p.Kind() == reflect.Pointer {
			c := reflect.New(p.Elem().Type())
			c.Elem().Set(p.Elem())
			v = c.Interface()
		}
	}
	return v, ok, err
}

func (s *buggyStore) SetValue(ctx context.Context, key string, value any) error {
	return valueStoreBackend{s.storeBackend}.SetValue(ctx, key, value)
}

// ValuesImmutable says what the store's values are not, for the bug that
// breaks the promise.
func (s *buggyStore) ValuesImmutable() bool { return s.bug == "reuses its reply buffer" }

func (s *buggyStore) Mutex(key string) lock.Mutex {
	return &buggyMutex{Mutex: s.lockStoreBackend.Mutex(key), s: s, key: key}
}

// buggyMutex is the store's mutex, with the store's bug.
type buggyMutex struct {
	lock.Mutex
	s   *buggyStore
	key string
}

func (m *buggyMutex) TryLock(ctx context.Context) (bool, error) {
	ok, err := m.Mutex.TryLock(ctx)
	if ok && m.s.bug == "keeps its lock as a value under the key" {
		m.s.put(m.key, []byte("locked"))
	}
	m.s.mu.Lock()
	freed := m.s.freed[m.key]
	m.s.mu.Unlock()
	return ok || freed || m.s.bug == "always lets TryLock succeed", err
}

func (m *buggyMutex) Lock(ctx context.Context) error {
	switch m.s.bug {
	case "lets Lock return without the lock":
		return nil
	case "lets Lock return once the lock is free, without taking it":
		if err := m.Mutex.Lock(ctx); err != nil {
			return err
		}
		return m.Mutex.Unlock(ctx)
	}
	return m.Mutex.Lock(ctx)
}

// The backend conformance suite passes the store without a bug (as the
// built-in backends pass it), and fails it with any of these, in the check
// named.
func TestBackendSuiteFindsBugs(t *testing.T) {
	t.Run("no bug", func(t *testing.T) {
		if os.Getenv(bugEnv) == "" {
			dogpiletest.TestBackend(t, func(*testing.T) dogpile.Backend { return newBuggyStore("") })
		}
	})
	suiteFinds(t, map[string]string{
		"finds a key never set":                                     "GetMissing",
		"drops a value's last byte":                                 "SetGet",
		"keeps a key's first value":                                 "Overwrite",
		"ignores a delete":                                          "Delete",
		"fails to delete a missing key":                             "Delete",
		"cuts values at 256 KiB":                                    "LargeValue",
		"returns multi values in reverse order":                     "Multi",
		"leaves missing keys out of a multi read":                   "Multi",
		"ignores a multi delete":                                    "Multi",
		"returns one value too many":                                "Multi",
		"swaps two values of a multi read":                          "Multi",
		"returns a copy of a Go value":                              "Value",
		"reuses its reply buffer":                                   "Immutable",
		"always lets TryLock succeed":                               "Mutex",
		"lets Lock return without the lock":                         "Mutex",
		"lets Lock return once the lock is free, without taking it": "Mutex",
		"releases a lock when its key's value is deleted":           "MutexApartFromValues",
		"keeps its lock as a value under the key":                   "MutexApartFromValues",
	}, func(t *testing.T, bug string) {
		dogpiletest.TestBackend(t, func(*testing.T) dogpile.Backend { return newBuggyStore(bug) })
	})
}

// The mutex suite fails a mutex that anyone can release.
func TestMutexSuiteFindsBugs(t *testing.T) {
	suiteFinds(t, map[string]string{"lets a non-holder release it": "Exclusive"}, func(t *testing.T, bug string) {
		var held sync.Map // key → struct{}: one lock per key, whoever holds it
		dogpiletest.TestMutex(t, func(key string) lock.Mutex { return anyoneUnlocks{&held, key} })
	})
}

// anyoneUnlocks is a mutex that any would-be holder of the key releases.
type anyoneUnlocks struct {
	held *sync.Map
	key  string
}

func (m anyoneUnlocks) TryLock(context.Context) (bool, error) {
	_, taken := m.held.LoadOrStore(m.key, struct{}{})
	return !taken, nil
}

func (m anyoneUnlocks) Lock(ctx context.Context) error {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		if ok, _ := m.TryLock(ctx); ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

func (m anyoneUnlocks) Unlock(context.Context) error {
	m.held.Delete(m.key)
	return nil
}

// The codec conformance suite fails a codec with any of these bugs, in the
// check named.
func TestCodecSuiteFindsBugs(t *testing.T) {
	suiteFinds(t, map[string]string{
		"has no name":                      "Name",
		"has a 256-byte name":              "Name",
		"upper-cases strings":              "RegionRoundTrip",
		"keeps the bytes it decodes from":  "DoesNotKeepData",
		"panics on bytes it cannot decode": "NeverPanicsOnGarbage",
	}, func(t *testing.T, bug string) {
		dogpiletest.TestCodec(t, buggyCodec{bug})
	})
}

// buggyCodec is the JSON codec with one deliberate bug.
type buggyCodec struct{ bug string }

func (c buggyCodec) Name() string {
	switch c.bug {
	case "has no name":
		return ""
	case "has a 256-byte name":
		return strings.Repeat("n", 256)
	}
	return "buggy-json"
}

func (c buggyCodec) Marshal(v any) ([]byte, error) {
	if s, ok := v.(string); ok && c.bug == "upper-cases strings" {
		v = strings.ToUpper(s)
	}
	return codec.JSON.Marshal(v)
}

func (c buggyCodec) Unmarshal(data []byte, v any) error {
	if p, ok := v.(*[]byte); ok && c.bug == "keeps the bytes it decodes from" {
		if err := codec.JSON.Unmarshal(data, p); err != nil {
			return err
		}
		// Decoded into the input's own memory, as a codec that aliases does.
		n := copy(data, *p)
		*p = data[:n]
		return nil
	}
	if err := codec.JSON.Unmarshal(data, v); err != nil {
		if c.bug == "panics on bytes it cannot decode" {
			panic(err)
		}
		return err
	}
	return nil
}
