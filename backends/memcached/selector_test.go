package memcached

import (
	"fmt"
	"strings"
	"testing"
)

// Server placements recorded from pylibmc 1.6.3 on libmemcached 1.0.18
// (Debian's python3-pylibmc, libmemcached-awesome 1.1.4): key "key:i" was
// stored through pylibmc with the behaviors shown, then found by asking each
// server alone; digit i is the index of the server that held it.
var libmemcachedPlacements = []struct {
	name    string
	dist    Distribution
	servers []string
	want    string
}{
	{"ketama", Ketama, []string{"127.0.0.1:21211", "127.0.0.1:21212", "127.0.0.1:21213"}, // {"ketama": True}
		"011002021121221110202112120111021110212210010102120110200211" +
			"122112020102112021122221020000021211122201000010120112111002" +
			"222020121122111211002211201011010011122120110021000112110120" +
			"120222121201122100002000202110012022011211212022010222121210" +
			"122122010122222020102101211210111200212011110001201222121110"},
	{"ketama-default-port", Ketama, []string{"127.0.0.2:11211", "127.0.0.3:11211", "127.0.0.4:11211"}, // {"ketama": True}
		"020221210212110221100010110110000212112112102220210211212121" +
			"012012210100011010122221010221000101220001100011222101112010" +
			"111211120111110110221201200001222110102020202201112101212022" +
			"111201111121020012121211000212212211212100021002210002001211" +
			"201210212211221110210122011012110202120110220122221110202010"},
	{"ketama-weighted", KetamaWeighted, []string{"127.0.0.1:21211", "127.0.0.1:21212", "127.0.0.1:21213"}, // {"ketama_weighted": True}
		"201111210101101012020022010001011211212220012220000112012122" +
			"210010210222210011120022110122220000111000200101000111201121" +
			"020201220012021111200200000200122020102020002200110100200202" +
			"121220111010122211002210220020022122102122000212202010202022" +
			"101212111201010121002100202201210012002022200202110012201110"},
	{"modula", Modula, []string{"127.0.0.1:21211", "127.0.0.1:21212", "127.0.0.1:21213"}, // {} (pylibmc's default)
		"222111111122111111111211222200000000111100000000000002220000" +
			"211222222202222222222222222222222220000022221111112222122222" +
			"110000000000002000001100011100111221101000011111111000012220" +
			"222222222222222000000000001100221111111122221111111111111111" +
			"020222211121211212221010000111211111122221122221111001100111"},
}

// TestMC3MatchesLibmemcached: keys land on the servers pylibmc puts them on,
// so the Ketama ring is libmemcached's, not merely ketama-like.
func TestMC3MatchesLibmemcached(t *testing.T) {
	for _, c := range libmemcachedPlacements {
		t.Run(c.name, func(t *testing.T) {
			s, err := NewServerSelector(c.dist, c.servers...)
			if err != nil {
				t.Fatal(err)
			}
			var got strings.Builder
			for i := range len(c.want) {
				k := fmt.Sprintf("key:%d", i)
				for j, a := range c.servers {
					if s.Server(k) == a {
						fmt.Fprint(&got, j)
					}
				}
			}
			if got.String() != c.want {
				t.Fatalf("placements differ from libmemcached's:\n got %s\nwant %s", got.String(), c.want)
			}
		})
	}
}

// movedFraction places n keys on from and on to and returns the fraction
// that moved, and whether every moved key went to a server only in to.
func movedFraction(t *testing.T, d Distribution, from, to []string, keys []string) (float64, bool) {
	t.Helper()
	a, err := NewServerSelector(d, from...)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewServerSelector(d, to...)
	if err != nil {
		t.Fatal(err)
	}
	old := map[string]bool{}
	for _, s := range from {
		old[s] = true
	}
	moved, onlyToNew := 0, true
	for _, k := range keys {
		if sa, sb := a.Server(k), b.Server(k); sa != sb {
			moved++
			onlyToNew = onlyToNew && !old[sb]
		}
	}
	return float64(moved) / float64(len(keys)), onlyToNew
}

// TestMC3ConsistentHashing: going from 3 to 4 servers moves about a quarter
// of 100,000 keys, all of them to the new server; keys spread evenly.
func TestMC3ConsistentHashing(t *testing.T) {
	three := []string{"10.0.0.1:11211", "10.0.0.2:11211", "10.0.0.3:11211"}
	four := append(append([]string(nil), three...), "10.0.0.4:11211")
	t.Parallel()
	const n = 100_000
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("user:%d:profile", i)
	}
	for _, d := range []Distribution{Ketama, KetamaWeighted} {
		frac, onlyToNew := movedFraction(t, d, three, four, keys)
		t.Logf("%v: 3 -> 4 servers moved %.1f%% of %d keys (ideal 25%%)", d, 100*frac, n)
		if frac < 0.18 || frac > 0.32 {
			t.Errorf("%v: %.3f of the keys moved; want about 0.25", d, frac)
		}
		if !onlyToNew {
			t.Errorf("%v: a key moved between two old servers", d)
		}
		s, _ := NewServerSelector(d, four...)
		count := map[string]int{}
		for _, k := range keys {
			count[s.Server(k)]++
		}
		for srv, c := range count {
			if share := float64(c) / n; share < 0.15 || share > 0.35 {
				t.Errorf("%v: server %s holds %.3f of the keys; want about 0.25", d, srv, share)
			}
		}
	}
	frac, _ := movedFraction(t, Modula, three, four, keys)
	t.Logf("modula, for comparison: 3 -> 4 servers moved %.1f%% of the keys", 100*frac)
	if frac < 0.5 {
		t.Errorf("modula moved only %.3f of the keys; the comparison is broken", frac)
	}
}

// TestMC3ServerOrderDoesNotMatter: every process builds the same ring
// whatever the order of its server list.
func TestMC3ServerOrderDoesNotMatter(t *testing.T) {
	a, _ := NewServerSelector(Ketama, "h1:11211", "h2:11211", "h3:11211")
	b, _ := NewServerSelector(Ketama, "h3:11211", "h1:11211", "h2:11211")
	for i := range 10_000 {
		k := fmt.Sprintf("k%d", i)
		if a.Server(k) != b.Server(k) {
			t.Fatalf("key %q: %s with one order, %s with another", k, a.Server(k), b.Server(k))
		}
	}
}

// TestDL4LockOnValueServer: a key's lock lives on the key's server, for every
// distribution and for keys long enough that the lock key is hashed.
func TestDL4LockOnValueServer(t *testing.T) {
	for _, d := range []Distribution{Ketama, KetamaWeighted, Modula} {
		s, err := NewServerSelector(d, "h1:11211", "h2:11211", "h3:11211", "h4:11211")
		if err != nil {
			t.Fatal(err)
		}
		spread := map[string]bool{}
		for i := range 2000 {
			// The default prefix, and a lock_prefix of the longest kind.
			prefix := []string{DefaultLockPrefix, strings.Repeat("p", maxLockPrefix)}[i%2]
			s.lockPrefix = prefix
			b := &Backend{sel: s, lockPrefix: prefix}
			k := fmt.Sprintf("k%d-", i) + strings.Repeat("x", i%250)
			k = k[:min(len(k), MaxKeyLen)]
			lk := b.lockKey(k)
			if len(lk) > MaxKeyLen || b.checkKey(lk) == nil {
				t.Fatalf("lock key %q: %d bytes, or not in the reserved namespace", lk, len(lk))
			}
			if s.Server(lk) != s.Server(k) {
				t.Fatalf("%v: key %q on %s, its lock on %s", d, k, s.Server(k), s.Server(lk))
			}
			spread[s.Server(k)] = true
		}
		if len(spread) != 4 {
			t.Fatalf("%v: keys landed on %d of 4 servers", d, len(spread))
		}
	}
}

func TestServerSelectorAddresses(t *testing.T) {
	for spec, want := range map[string]string{
		"cache1":           "cache1:11211",
		"cache1:11311":     "cache1:11311",
		"[::1]:11211":      "[::1]:11211",
		"::1":              "[::1]:11211",
		" 127.0.0.1:1234 ": "127.0.0.1:1234",
		"/run/mc.sock":     "/run/mc.sock",
	} {
		s, err := NewServerSelector(Ketama, spec)
		if err != nil {
			t.Fatalf("%q: %v", spec, err)
		}
		addr, err := s.PickServer("k")
		if err != nil || addr.String() != want {
			t.Fatalf("%q: PickServer = %v, %v; want %s", spec, addr, err, want)
		}
	}
	for _, bad := range []string{"", "host:notaport", "host:0", ":11211"} {
		if _, err := NewServerSelector(Ketama, bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if _, err := NewServerSelector(Ketama, "a:1", "a:1"); err == nil {
		t.Error("a server listed twice: no error")
	}
}

// TestPickServerAllocatesNothing: gomemcache asks the selector for every
// key of every call (100 times for a GetMulti of 100 keys); the answer is a
// server's address made once, not a value boxed anew each time.
func TestPickServerAllocatesNothing(t *testing.T) {
	for _, servers := range [][]string{{"127.0.0.1:1"}, {"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"}} {
		s, err := NewServerSelector(Ketama, servers...)
		if err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(100, func() {
			if _, err := s.PickServer("some:key"); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("%d servers: PickServer allocates %v times per call, want 0", len(servers), n)
		}
	}
}
