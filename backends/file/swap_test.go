package file_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile/backends/file"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// ---- Swapper: compare-and-swap in one transaction ----

// TestSwapperExpiredHoldsNothing: for CompareAndSwap an entry past max_age
// holds nothing, as it does for Get: a swap from its value fails, a swap from
// nil succeeds. What every Swapper does (nil old inserts only into nothing,
// an old value swaps only itself, an empty value is a value) is checked by
// the conformance suite in TestFB1Conformance.
func TestSwapperExpiredHoldsNothing(t *testing.T) {
	clock := testutil.NewClock(time.Unix(1e9, 0))
	b := open(t, file.Options{TTL: time.Hour})
	file.SetClock(b, clock.Now)
	ctx := context.Background()
	swap := func(key string, old, new []byte, want bool) {
		t.Helper()
		if got, err := b.CompareAndSwap(ctx, key, old, new); err != nil || got != want {
			t.Fatalf("CompareAndSwap(%q, %q, %q) = %v, %v; want %v", key, old, new, got, err, want)
		}
	}
	swap("k", nil, []byte("b"), true)
	swap("empty", nil, []byte{}, true)
	clock.Advance(2 * time.Hour) // k and empty are past max_age
	swap("k", []byte("b"), []byte("c"), false)
	swap("empty", []byte{}, []byte("x"), false)
	swap("k", nil, []byte("fresh"), true)
	if v, ok, err := b.Get(ctx, "k"); err != nil || !ok || string(v) != "fresh" {
		t.Fatalf("k holds %q, %v, %v; want %q", v, ok, err, "fresh")
	}
}

const (
	swapIncrements = 200
	swapKeys       = 200
)

// childSwapper races another process: it adds swapIncrements to the counter
// by compare-and-swap (read, swap, again if another process swapped first),
// then tries to claim every key race-0… (insert if absent), and says how many
// it claimed.
func childSwapper() error {
	b, err := readyBackend()
	if err != nil {
		return err
	}
	defer b.Close()
	ctx := context.Background()
	for done := 0; done < swapIncrements; {
		old, ok, err := b.Get(ctx, "counter")
		if err != nil {
			return err
		}
		n := 0
		if ok {
			if n, err = strconv.Atoi(string(old)); err != nil {
				return err
			}
		} else {
			old = nil
		}
		swapped, err := b.CompareAndSwap(ctx, "counter", old, []byte(strconv.Itoa(n+1)))
		if err != nil {
			return err
		}
		if swapped {
			done++
		}
	}
	me := strconv.Itoa(os.Getpid())
	claimed := 0
	for i := range swapKeys {
		ok, err := b.CompareAndSwap(ctx, fmt.Sprintf("race-%d", i), nil, []byte(me))
		if err != nil {
			return err
		}
		if ok {
			claimed++
		}
	}
	say("claimed %s %d", me, claimed)
	return nil
}

// TestSwapperTwoProcessesRace: two processes increment one counter by
// compare-and-swap at once, then race to claim the same keys: no increment
// is lost, and every key is claimed by exactly one process, the one whose
// value it holds.
func TestSwapperTwoProcessesRace(t *testing.T) {
	db := filepath.Join(t.TempDir(), "c.db")
	kids := []*testutil.Child{testutil.StartChild(t, "swapper", dbEnv+"="+db), testutil.StartChild(t, "swapper", dbEnv+"="+db)}
	for _, c := range kids {
		c.Expect("ready", wait)
	}
	for _, c := range kids {
		c.Send("go")
	}
	claims := map[string]int{}
	total := 0
	for _, c := range kids {
		var pid string
		var n int
		if _, err := fmt.Sscanf(c.Next(wait), "claimed %s %d", &pid, &n); err != nil {
			t.Fatal(err)
		}
		claims[pid] = n
		total += n
		exitedOK(t, c)
	}
	b := open(t, file.Options{Filename: db})
	ctx := context.Background()
	if v, _, err := b.Get(ctx, "counter"); err != nil || string(v) != strconv.Itoa(2*swapIncrements) {
		t.Fatalf("counter = %q, %v after 2 × %d increments", v, err, swapIncrements)
	}
	if total != swapKeys {
		t.Fatalf("the processes claimed %v: %d keys of %d", claims, total, swapKeys)
	}
	held := map[string]int{}
	for i := range swapKeys {
		v, ok, err := b.Get(ctx, fmt.Sprintf("race-%d", i))
		if err != nil || !ok {
			t.Fatal(errors.Join(errors.New("a claimed key is missing"), err))
		}
		held[strings.TrimSpace(string(v))]++
	}
	for pid, n := range claims {
		if held[pid] != n {
			t.Fatalf("process %s claimed %d keys and holds %d", pid, n, held[pid])
		}
	}
}
