package memcached

import (
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Distribution is how keys are spread over several servers.
type Distribution int

const (
	// Ketama is consistent hashing as libmemcached does it for pylibmc's
	// behavior "ketama": each server is hashed to 100 points on a ring of
	// 32-bit values ("host:port-0" … "host:port-99", or "host-i" on port
	// 11211), keys with the same hash (Jenkins one-at-a-time) go to the next
	// point clockwise. Adding a fourth server to three moves about a quarter
	// of the keys, all of them to the new server. Keys land on the same
	// server as they do for pylibmc with {"ketama": True}.
	Ketama Distribution = iota
	// KetamaWeighted is libmemcached's weighted ketama (pylibmc's
	// "ketama_weighted", the original libketama scheme): 160 points per
	// server, four from each MD5 of "host:port-i", and MD5 for keys. Servers
	// have equal weight.
	KetamaWeighted
	// Modula is hash(key) mod the number of servers, with the one-at-a-time
	// hash (libmemcached's default distribution). Adding a server moves most
	// keys; it exists to share servers with clients configured that way.
	Modula
)

// String returns the distribution's name as pylibmc's "distribution"
// behavior spells it.
func (d Distribution) String() string {
	switch d {
	case Ketama:
		return "consistent ketama"
	case KetamaWeighted:
		return "consistent weighted"
	case Modula:
		return "modula"
	}
	return "Distribution(" + strconv.Itoa(int(d)) + ")"
}

// pointsPerServer are libmemcached's MEMCACHED_POINTS_PER_SERVER and
// MEMCACHED_POINTS_PER_SERVER_KETAMA.
const (
	pointsPerServer         = 100
	pointsPerServerWeighted = 160
	defaultPort             = "11211"
)

// ServerSelector picks a server for each key by a Distribution. It
// implements gomemcache's memcache.ServerSelector, so it can also be given to
// memcache.NewFromSelector. It is safe for concurrent use.
type ServerSelector struct {
	dist    Distribution
	servers []*server
	ring    []point // sorted by hash; Ketama and KetamaWeighted only
	// deadRetry, if positive, is how long a server that refused a
	// connection is skipped (see markDown).
	deadRetry time.Duration
	// lockPrefix begins the lock keys the selector places by the hash they
	// carry: DefaultLockPrefix if empty (a selector not made by New).
	lockPrefix string
}

type server struct {
	// addr is a pointer so that PickServer hands it to gomemcache as a
	// net.Addr without allocating (an interface holding a two-string
	// struct would copy it to the heap on every call).
	addr      *staticAddr
	downUntil atomic.Int64 // UnixNano; 0: up
}

type point struct {
	hash   uint32
	server int
}

// staticAddr is a server address that is resolved when dialled, not when
// configured, so that a name that does not resolve yet (a container still
// starting) is no configuration error and a changed DNS record is followed.
type staticAddr struct{ network, address string }

func (a staticAddr) Network() string { return a.network }
func (a staticAddr) String() string  { return a.address }

// NewServerSelector returns a selector over servers, each "host:port",
// "host" (port 11211), "[ipv6]:port" or the path of a Unix socket. The order
// of servers does not matter to the ketama distributions; it does to Modula.
func NewServerSelector(d Distribution, servers ...string) (*ServerSelector, error) {
	if d != Ketama && d != KetamaWeighted && d != Modula {
		return nil, fmt.Errorf("memcached: unknown distribution %d", d)
	}
	if len(servers) == 0 {
		return nil, fmt.Errorf("memcached: no servers")
	}
	s := &ServerSelector{dist: d}
	seen := map[string]bool{}
	for i, spec := range servers {
		addr, name, err := parseServer(spec)
		if err != nil {
			return nil, err
		}
		if seen[addr.address] {
			return nil, fmt.Errorf("memcached: server %q is listed twice", spec)
		}
		seen[addr.address] = true
		s.servers = append(s.servers, &server{addr: &addr})
		switch d {
		case Ketama:
			for p := range pointsPerServer {
				s.ring = append(s.ring, point{oneAtATime(name + "-" + strconv.Itoa(p)), i})
			}
		case KetamaWeighted:
			for p := range pointsPerServerWeighted / 4 {
				sum := md5.Sum([]byte(name + "-" + strconv.Itoa(p)))
				for a := range 4 {
					s.ring = append(s.ring, point{binary.LittleEndian.Uint32(sum[4*a:]), i})
				}
			}
		}
	}
	// Stable, and ties broken by server order, so that every process builds
	// the same ring from the same list.
	slices.SortStableFunc(s.ring, func(a, b point) int {
		if a.hash != b.hash {
			if a.hash < b.hash {
				return -1
			}
			return 1
		}
		return a.server - b.server
	})
	return s, nil
}

// parseServer reads a server address; name is the string libmemcached hashes
// for the server's points: "host" on the default port, "host:port" otherwise.
func parseServer(spec string) (addr staticAddr, name string, err error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return addr, "", fmt.Errorf("memcached: empty server address")
	}
	if strings.Contains(spec, "/") {
		// A Unix socket; libmemcached hashes it as "path:0".
		return staticAddr{"unix", spec}, spec + ":0", nil
	}
	host, port, err := net.SplitHostPort(spec)
	if err != nil {
		// No port: "host" or a bare IPv6 address.
		host, port = strings.Trim(spec, "[]"), defaultPort
	}
	if host == "" {
		return addr, "", fmt.Errorf("memcached: server %q has no host", spec)
	}
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
		return addr, "", fmt.Errorf("memcached: server %q: bad port %q", spec, port)
	}
	name = host
	if port != defaultPort {
		name = host + ":" + port
	}
	return staticAddr{"tcp", net.JoinHostPort(host, port)}, name, nil
}

// Distribution returns the selector's distribution.
func (s *ServerSelector) Distribution() Distribution { return s.dist }

// Servers returns the servers' addresses, in the order given.
func (s *ServerSelector) Servers() []string {
	out := make([]string, len(s.servers))
	for i, sv := range s.servers {
		out[i] = sv.addr.address
	}
	return out
}

// Server returns the address of the server that holds key.
func (s *ServerSelector) Server(key string) string {
	return s.servers[s.index(key)].addr.address
}

// PickServer returns the address of key's server, or an error matching
// ErrServerDown while that server is being skipped after a refused
// connection. It implements memcache.ServerSelector.
func (s *ServerSelector) PickServer(key string) (net.Addr, error) {
	sv := s.servers[s.index(key)]
	if until := sv.downUntil.Load(); until != 0 {
		if time.Now().UnixNano() < until {
			return nil, &ServerDownError{Addr: sv.addr.address, Until: time.Unix(0, until)}
		}
		sv.downUntil.CompareAndSwap(until, 0) // its dead_retry is over: try it again
	}
	return sv.addr, nil
}

// Each calls f for every server (gomemcache uses it for FlushAll and Ping).
// It implements memcache.ServerSelector.
func (s *ServerSelector) Each(f func(net.Addr) error) error {
	for _, sv := range s.servers {
		if err := f(sv.addr); err != nil {
			return err
		}
	}
	return nil
}

func (s *ServerSelector) index(key string) int {
	if len(s.servers) == 1 {
		return 0
	}
	return s.dispatch(s.keyHash(key))
}

// keyHash is the hash that places key. A lock key carries the hash of the key
// it locks (see lockKey), so that a lock lives on the same server as its
// value and a dead server takes down only its own keys and their locks.
func (s *ServerSelector) keyHash(key string) uint32 {
	prefix := s.lockPrefix
	if prefix == "" {
		prefix = DefaultLockPrefix
	}
	if h, ok := lockKeyHash(prefix, key); ok {
		return h
	}
	return s.hash(key)
}

func (s *ServerSelector) hash(key string) uint32 {
	if s.dist == KetamaWeighted {
		sum := md5.Sum([]byte(key))
		return binary.LittleEndian.Uint32(sum[:4])
	}
	return oneAtATime(key)
}

func (s *ServerSelector) dispatch(h uint32) int {
	if s.dist == Modula {
		return int(h % uint32(len(s.servers)))
	}
	// The first point at or after h, wrapping around the ring.
	i, _ := slices.BinarySearchFunc(s.ring, h, func(p point, h uint32) int {
		if p.hash < h {
			return -1
		}
		if p.hash > h {
			return 1
		}
		return 0
	})
	if i == len(s.ring) {
		i = 0
	}
	return s.ring[i].server
}

// markDown makes the selector skip the server at address for its dead_retry
// time: calls for its keys then fail at once with ErrServerDown instead of
// each waiting for a connection that will not come.
func (s *ServerSelector) markDown(address string) {
	if s.deadRetry <= 0 {
		return
	}
	until := time.Now().Add(s.deadRetry).UnixNano()
	for _, sv := range s.servers {
		if sv.addr.address == address {
			sv.downUntil.Store(until)
		}
	}
}

// oneAtATime is Bob Jenkins' one-at-a-time hash, libmemcached's default.
func oneAtATime(s string) uint32 {
	var h uint32
	for i := 0; i < len(s); i++ {
		h += uint32(s[i])
		h += h << 10
		h ^= h >> 6
	}
	h += h << 3
	h ^= h >> 11
	h += h << 15
	return h
}
