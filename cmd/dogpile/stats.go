package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/dogpile-go/dogpile/backend"
)

// countersNote is said wherever region counters could be expected.
const countersNote = `Region counters (hits, misses, regenerations, lock waits) live in each
process that uses the region; this command is a process of its own, so it
has none to show. Export them from the applications (metrics/prometheus,
metrics/otel), or see a region's counters under a load with dogpile bench.`

func runStats(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("stats", `Usage: dogpile stats [flags]

Shows the region's settings and what its store reports about itself, for
backends that report (package backend's StatsReporter):

  file       entries and bytes in the cache file, its size on disk
  redis      each server's INFO and DBSIZE: keys, memory, keyspace hits and
             misses, evictions (server-wide: every client and region counts)
  memcached  each server's stats: items, bytes, get hits and misses, evictions
  memory     entries (in this process only: a new process has none)

`+countersNote+`

With --json the numbers are JSON numbers and the settings booleans or
strings; a number the store does not report is left out.

A server that cannot be asked (it is down) is shown with its error in
place of its numbers, and the command exits with status 1.
`+regionHelp+`
Examples:
  dogpile stats
  dogpile stats --json --config dogpile.toml --region shared
`)
	rf := addRegionFlags(fs)
	asJSON := fs.Bool("json", false, "print a JSON object")
	t, _, err := rf.parseOpen(fs, args, stdout, 0, "")
	if err != nil {
		return err
	}
	defer t.region.Close()
	var stores []backend.Stats
	reporter, reports := t.region.Backend().(backend.StatsReporter)
	if reports {
		if stores, err = reporter.StoreStats(ctx); errors.Is(err, errors.ErrUnsupported) {
			reports, err = false, nil
		}
		if err != nil {
			return err
		}
	}
	if *asJSON {
		out := map[string]any{"region": t.settingsJSON(), "store": storesJSON(stores)}
		if err := writeJSON(stdout, out); err != nil {
			return err
		}
		return unreported(stores)
	}
	if err := table(stdout, "", t.settingsText()); err != nil {
		return err
	}
	for _, s := range stores {
		fmt.Fprintf(stdout, "\nstore: %s\n", escapeKey(s.Source))
		if err := table(stdout, "  ", statsText(s)); err != nil {
			return err
		}
	}
	if !reports {
		fmt.Fprintf(stdout, "\nstore: the %s backend reports nothing about itself\n", t.cfg.Backend)
	}
	fmt.Fprintf(stdout, "\n%s\n", countersNote)
	return unreported(stores)
}

// unreported is the failure of a stats run in which a server could not be
// asked: the report shows why in that server's row, and the exit status (1)
// tells a script, as for any command that could not reach its backend.
func unreported(stores []backend.Stats) error {
	n := 0
	for _, s := range stores {
		if s.Err != nil {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	return fmt.Errorf("%d of %d servers did not report (the error rows above say why)", n, len(stores))
}

// settingsText are the region's settings as stats shows them.
func (t *target) settingsText() [][2]string {
	return [][2]string{
		{"region", t.cfg.Name},
		{"configuration", t.source},
		{"backend", t.cfg.Backend},
		{"expiration", durationOrNone(t.cfg.Expiration)},
		{"shared invalidation", sharedDesc(t.cfg.SharedInvalidation, t.cfg.InvalidationRefresh)},
		{"key prefix", orNone(t.cfg.KeyPrefix)},
		{"key mangler", orNone(t.cfg.KeyMangler)},
		{"codec", t.region.Codec().Name()},
		{"signed", fmt.Sprint(len(t.cfg.SigningKeys) > 0)},
		{"metrics", fmt.Sprint(t.cfg.Metrics)},
	}
}

// settingsJSON are the region's settings, typed: durations in seconds (0:
// none), booleans as booleans.
func (t *target) settingsJSON() map[string]any {
	return map[string]any{
		"name": t.cfg.Name, "configuration": t.source, "backend": t.cfg.Backend,
		"expiration_seconds":           t.cfg.Expiration.Seconds(),
		"shared_invalidation":          t.cfg.SharedInvalidation,
		"invalidation_refresh_seconds": t.cfg.InvalidationRefresh.Seconds(),
		"key_prefix":                   t.cfg.KeyPrefix,
		"key_mangler":                  t.cfg.KeyMangler,
		"codec":                        t.region.Codec().Name(),
		"signed":                       len(t.cfg.SigningKeys) > 0,
		"metrics":                      t.cfg.Metrics,
	}
}

// statsText are one report's numbers, the unknown ones left out.
func statsText(s backend.Stats) [][2]string {
	if s.Err != nil {
		return [][2]string{{"error", message(s.Err)}}
	}
	var out [][2]string
	for _, n := range commonStats(s) {
		if n.v != backend.Unknown {
			out = append(out, [2]string{n.name, fmt.Sprint(n.v)})
		}
	}
	for _, e := range s.Extra {
		v := fmt.Sprint(e.Value)
		if d, ok := e.Value.(time.Duration); ok {
			v = durationOrNone(d)
		}
		out = append(out, [2]string{e.Name, escapeKey(v)})
	}
	return out
}

// storesJSON are the reports, typed: numbers as numbers (durations in
// seconds, named …_seconds), the unknown ones left out.
func storesJSON(stores []backend.Stats) []map[string]any {
	out := []map[string]any{}
	for _, s := range stores {
		m := map[string]any{"source": s.Source}
		if s.Err != nil {
			m["error"] = message(s.Err)
			out = append(out, m)
			continue
		}
		for _, n := range commonStats(s) {
			if n.v != backend.Unknown {
				m[n.name] = n.v
			}
		}
		extra := map[string]any{}
		for _, e := range s.Extra {
			if d, ok := e.Value.(time.Duration); ok {
				extra[e.Name+"_seconds"] = d.Seconds()
				continue
			}
			extra[e.Name] = e.Value
		}
		m["extra"] = extra
		out = append(out, m)
	}
	return out
}

type namedStat struct {
	name string
	v    int64
}

func commonStats(s backend.Stats) []namedStat {
	return []namedStat{{"entries", s.Entries}, {"bytes", s.Bytes}, {"hits", s.Hits}, {"misses", s.Misses}, {"evictions", s.Evictions}}
}

// table prints name/value pairs in two aligned columns.
func table(w io.Writer, indent string, kv [][2]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, p := range kv {
		fmt.Fprintf(tw, "%s%s\t%s\n", indent, p[0], p[1])
	}
	return tw.Flush()
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
	return escapeKey(s)
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
