package redis

import (
	"context"
	"fmt"
	"iter"
	"strconv"
	"strings"
	"sync"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dogpile-go/dogpile/backend"
)

var (
	_ backend.Lister        = (*Backend)(nil)
	_ backend.StatsReporter = (*Backend)(nil)
)

// scanCount is SCAN's COUNT: the keys a server looks at per call. Larger
// means fewer round trips; each call still takes the server a short time.
const scanCount = 500

// ListKeys lists the keys with SCAN (backend.Lister), which does not block
// the server as KEYS does, in the server's order; a Cluster's masters are
// scanned one after the other. The distributed lock's keys are left out
// unless opts.Own. As SCAN promises, every key present for the whole
// listing is yielded; one written or deleted meanwhile may or may not be,
// and a key may be yielded twice if the server resizes its table meanwhile.
func (b *Backend) ListKeys(ctx context.Context, opts backend.ListOptions) iter.Seq2[string, error] {
	pattern := globEscape(opts.Prefix) + "*"
	keys := func(yield func(string, error) bool) {
		nodes, err := b.nodes(ctx)
		if err != nil {
			yield("", fmt.Errorf("redis: scan %s: %w", b.where, b.wrap(err)))
			return
		}
		for _, n := range nodes {
			it := n.Scan(ctx, 0, pattern, scanCount).Iterator()
			for it.Next(ctx) {
				if !yield(it.Val(), nil) {
					return
				}
			}
			if err := it.Err(); err != nil {
				yield("", fmt.Errorf("redis: scan %s: %w", b.where, b.wrap(err)))
				return
			}
		}
	}
	return backend.FilterKeys(keys, opts, b.isLockKey)
}

// isLockKey reports whether key is one of the distributed lock's.
func (b *Backend) isLockKey(key string) bool { return strings.HasPrefix(key, b.lockPrefix) }

// nodes returns the servers that hold the keys: a Cluster's masters, or the
// one server (or Sentinel's master) of other clients.
func (b *Backend) nodes(ctx context.Context) ([]goredis.Cmdable, error) {
	if b.cluster == nil {
		return []goredis.Cmdable{b.client}, nil
	}
	var (
		mu    sync.Mutex
		nodes []goredis.Cmdable
	)
	err := b.cluster.ForEachMaster(ctx, func(ctx context.Context, m *goredis.Client) error {
		mu.Lock()
		defer mu.Unlock()
		nodes = append(nodes, m)
		return nil
	})
	return nodes, err
}

// infoFields are the INFO fields a report has beside the common numbers, in
// this order.
var infoFields = []string{"redis_version", "used_memory_human", "maxmemory", "maxmemory_policy",
	"expired_keys", "connected_clients", "uptime_in_seconds"}

// StoreStats reports each server's INFO and DBSIZE (backend.StatsReporter):
// one Stats for a server or Sentinel's master, one per master of a Cluster.
// Entries are the keys of the database (DBSIZE), Bytes the server's
// used_memory, and hits, misses and evictions the server's keyspace_hits,
// keyspace_misses and evicted_keys: the whole server's, every client and
// database counted.
func (b *Backend) StoreStats(ctx context.Context) ([]backend.Stats, error) {
	nodes, err := b.nodes(ctx)
	if err != nil {
		return nil, fmt.Errorf("redis: stats %s: %w", b.where, b.wrap(err))
	}
	out := make([]backend.Stats, 0, len(nodes))
	for _, n := range nodes {
		st := backend.NewStats(b.where)
		if c, ok := n.(*goredis.Client); ok && b.cluster != nil {
			st.Source = "redis cluster master " + c.Options().Addr
		}
		info, err := n.Info(ctx, "server", "memory", "stats", "clients").Result()
		if err == nil {
			st.Entries, err = n.DBSize(ctx).Result()
		}
		if err != nil {
			st.Entries, st.Err = backend.Unknown, b.wrap(err)
			out = append(out, st)
			continue
		}
		fields := parseInfo(info)
		num := func(name string) int64 {
			if n, err := strconv.ParseInt(fields[name], 10, 64); err == nil {
				return n
			}
			return backend.Unknown
		}
		st.Bytes, st.Hits, st.Misses, st.Evictions = num("used_memory"), num("keyspace_hits"), num("keyspace_misses"), num("evicted_keys")
		for _, name := range infoFields {
			v, ok := fields[name]
			if !ok {
				continue
			}
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				st.Extra = append(st.Extra, backend.Stat{Name: name, Value: n})
			} else {
				st.Extra = append(st.Extra, backend.Stat{Name: name, Value: v})
			}
		}
		out = append(out, st)
	}
	return out, nil
}

// parseInfo reads INFO's "name:value" lines.
func parseInfo(s string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && !strings.HasPrefix(k, "#") {
			m[k] = v
		}
	}
	return m
}

// globEscape escapes SCAN's glob characters in a literal prefix, byte by
// byte: a key is any bytes, not necessarily UTF-8.
func globEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
