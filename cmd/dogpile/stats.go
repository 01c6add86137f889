package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"text/tabwriter"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dogpile-go/dogpile/backends/file"
	"github.com/dogpile-go/dogpile/backends/memcached"
)

// countersNote is said wherever region counters could be expected.
const countersNote = `Region counters (hits, misses, regenerations, lock waits) live in each
process that uses the region; this command is a process of its own, so it
has none to show. Export them from the applications (metrics/prometheus,
metrics/otel), or see a region's counters under a load with dogpile bench.`

// storeStats are what a store reports about itself, as name/value pairs in
// a fixed order.
type storeStats struct {
	Source string // where the numbers come from
	Fields [][2]string
}

func runStats(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("stats", `Usage: dogpile stats [flags]

Shows the region's settings and what its store reports about itself:

  file       entries and bytes in the cache file
  redis      the server's INFO: keys, memory, keyspace hits and misses, evictions
             (server-wide: every client and region on that server counts)
  memcached  each server's stats: items, bytes, get hits and misses, evictions

`+countersNote+`
`+regionHelp+`
Examples:
  dogpile stats
  dogpile stats --json --config dogpile.toml --region shared
`)
	rf := addRegionFlags(fs)
	asJSON := fs.Bool("json", false, "print a JSON object")
	pos, err := parse(fs, args, stdout)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErrorf("stats: unexpected argument %q", pos[0])
	}
	t, err := rf.open()
	if err != nil {
		return err
	}
	defer t.region.Close()
	stores, err := backendStats(ctx, t.region.Backend())
	if err != nil {
		return err
	}
	settings := [][2]string{
		{"region", t.cfg.Name},
		{"configuration", t.source},
		{"backend", t.cfg.Backend},
		{"expiration", durationOrNone(t.cfg.Expiration)},
		{"shared invalidation", sharedDesc(t.cfg.SharedInvalidation, t.cfg.InvalidationRefresh)},
		{"key mangler", orNone(t.cfg.KeyMangler)},
		{"codec", t.cfg.CodecValue().Name()},
		{"metrics", fmt.Sprint(t.cfg.Metrics)},
	}
	if *asJSON {
		out := map[string]any{"region": pairs(settings), "region_counters": "not available: " + strings.Join(strings.Fields(countersNote), " ")}
		var ss []map[string]any
		for _, s := range stores {
			ss = append(ss, map[string]any{"source": s.Source, "stats": pairs(s.Fields)})
		}
		out["store"] = ss
		return writeJSON(stdout, out)
	}
	if err := table(stdout, "", settings); err != nil {
		return err
	}
	for _, s := range stores {
		fmt.Fprintf(stdout, "\nstore: %s\n", s.Source)
		if err := table(stdout, "  ", s.Fields); err != nil {
			return err
		}
	}
	if len(stores) == 0 {
		fmt.Fprintf(stdout, "\nstore: the %s backend reports nothing about itself\n", t.cfg.Backend)
	}
	fmt.Fprintf(stdout, "\n%s\n", countersNote)
	return nil
}

// table prints name/value pairs in two aligned columns.
func table(w io.Writer, indent string, kv [][2]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, p := range kv {
		fmt.Fprintf(tw, "%s%s\t%s\n", indent, p[0], p[1])
	}
	return tw.Flush()
}

func pairs(kv [][2]string) map[string]string {
	m := make(map[string]string, len(kv))
	for _, p := range kv {
		m[strings.ReplaceAll(p[0], " ", "_")] = p[1]
	}
	return m
}

func durationOrNone(d time.Duration) string {
	if d <= 0 {
		return "none"
	}
	return d.String()
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func sharedDesc(on bool, refresh time.Duration) string {
	switch {
	case !on:
		return "no (invalidations stay in the process that makes them)"
	case refresh > 0:
		return fmt.Sprintf("yes, re-read every %v", refresh)
	}
	return "yes, read with every value"
}

// redisBackend is the redis backends (with or without the distributed
// lock), which expose their client.
type redisBackend interface {
	Client() goredis.UniversalClient
}

// memcachedBackend is the memcached backend, which exposes its servers.
type memcachedBackend interface {
	Selector() *memcached.ServerSelector
}

// backendStats asks the store about itself.
func backendStats(ctx context.Context, b any) ([]storeStats, error) {
	switch x := b.(type) {
	case *file.Backend:
		st, err := x.Stats(ctx)
		if err != nil {
			return nil, err
		}
		o := x.Options()
		return []storeStats{{Source: "file " + o.Filename, Fields: [][2]string{
			{"entries", fmt.Sprint(st.Entries)},
			{"bytes", fmt.Sprintf("%d (keys and values)", st.Bytes)},
			{"max_size", sizeOrNone(o.MaxSize)},
			{"max_age", durationOrNone(o.MaxAge)},
		}}}, nil
	case redisBackend:
		return redisStats(ctx, x.Client())
	case memcachedBackend:
		if sel := x.Selector(); sel != nil {
			return memcachedStats(ctx, sel)
		}
	}
	return nil, nil
}

func sizeOrNone(n int64) string {
	if n <= 0 {
		return "none"
	}
	return fmt.Sprint(n)
}

func redisStats(ctx context.Context, c goredis.UniversalClient) ([]storeStats, error) {
	info, err := c.Info(ctx, "server", "memory", "stats", "keyspace").Result()
	if err != nil {
		return nil, fmt.Errorf("stats: redis INFO: %w", err)
	}
	n, err := c.DBSize(ctx).Result()
	if err != nil {
		return nil, fmt.Errorf("stats: redis DBSIZE: %w", err)
	}
	fields := parseInfo(info)
	out := storeStats{Source: "redis INFO", Fields: [][2]string{{"keys in this database", fmt.Sprint(n)}}}
	if _, ok := c.(*goredis.ClusterClient); ok {
		out.Source = "redis INFO of one cluster node (keys: all masters)"
	}
	for _, k := range []string{"redis_version", "used_memory_human", "maxmemory_human", "maxmemory_policy",
		"keyspace_hits", "keyspace_misses", "expired_keys", "evicted_keys"} {
		if v, ok := fields[k]; ok {
			out.Fields = append(out.Fields, [2]string{k, v})
		}
	}
	return []storeStats{out}, nil
}

func parseInfo(s string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && !strings.HasPrefix(k, "#") {
			m[k] = v
		}
	}
	return m
}

// memcachedStats sends "stats" to each server: gomemcache has no call for it.
func memcachedStats(ctx context.Context, sel *memcached.ServerSelector) ([]storeStats, error) {
	var out []storeStats
	err := sel.Each(func(addr net.Addr) error {
		s := storeStats{Source: "memcached " + addr.String()}
		st, err := memcachedServerStats(ctx, addr)
		if err != nil {
			s.Fields = [][2]string{{"error", err.Error()}}
			out = append(out, s)
			return nil // one server down: show it, and the others
		}
		for _, k := range []string{"version", "curr_items", "bytes", "limit_maxbytes", "get_hits", "get_misses", "evictions", "curr_connections"} {
			if v, ok := st[k]; ok {
				s.Fields = append(s.Fields, [2]string{k, v})
			}
		}
		out = append(out, s)
		return nil
	})
	return out, err
}

func memcachedServerStats(ctx context.Context, addr net.Addr) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, addr.Network(), addr.String())
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl) //nolint:errcheck // a failed deadline shows as a failed read
	}
	if _, err := io.WriteString(c, "stats\r\n"); err != nil {
		return nil, err
	}
	m := map[string]string{}
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "END" {
			return m, nil
		}
		if f := strings.Fields(line); len(f) == 3 && f[0] == "STAT" {
			m[f[1]] = f[2]
		} else if strings.HasPrefix(line, "ERROR") || strings.HasPrefix(line, "SERVER_ERROR") {
			return nil, fmt.Errorf("stats: %s", line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return nil, io.ErrUnexpectedEOF
}
