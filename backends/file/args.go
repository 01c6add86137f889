package file

import (
	"math"
	"strconv"
	"strings"

	"github.com/dogpile-go/dogpile"
)

// argNames are the arguments the "file" backend takes.
var argNames = []string{"filename", "distributed_lock", "dogpile_lockfile", "rw_lockfile", "max_size", "max_age", "busy_timeout"}

// fromArgs makes a backend from its arguments: Python's dbm backend's names,
// and distributed_lock as the other backends take it.
func fromArgs(a dogpile.Args) (dogpile.Backend, error) {
	if err := a.Known(argNames...); err != nil {
		return nil, err
	}
	var o Options
	var err error
	if o.Filename, err = a.String("filename", ""); err != nil {
		return nil, err
	}
	// rw_lockfile guarded Python's dbm file against concurrent writers;
	// SQLite locks its own file, so a path or false is accepted and unused.
	if _, _, err := lockfileArg(a, "rw_lockfile"); err != nil {
		return nil, err
	}
	if o.LockFile, o.DistributedLock, err = lockArgs(a); err != nil {
		return nil, err
	}
	if o.MaxSize, err = sizeArg(a, "max_size"); err != nil {
		return nil, err
	}
	if o.TTL, err = a.Duration("max_age", 0); err != nil {
		return nil, err
	}
	if o.BusyTimeout, err = a.Duration("busy_timeout", 0); err != nil {
		return nil, err
	}
	b, err := New(o)
	if err != nil {
		return nil, err // not a nil *Backend in a non-nil interface
	}
	return b, nil
}

// lockArgs reads the two switches of the lock: distributed_lock, as every
// backend takes it (true by default here, as Python's dbm backend locks by
// default), and dogpile_lockfile, Python's: a path, or false. They must not
// disagree.
func lockArgs(a dogpile.Args) (path string, on bool, err error) {
	path, fileOff, err := lockfileArg(a, "dogpile_lockfile")
	if err != nil {
		return "", false, err
	}
	if !a.Has("distributed_lock") || a["distributed_lock"] == nil {
		return path, !fileOff, nil
	}
	if on, err = a.Bool("distributed_lock", true); err != nil {
		return "", false, err
	}
	switch {
	case !on && path != "":
		return "", false, &dogpile.ArgError{Name: "distributed_lock", Value: false, Reason: "it turns the lock off, and dogpile_lockfile names a lock file: give one or the other"}
	case on && fileOff:
		return "", false, &dogpile.ArgError{Name: "distributed_lock", Value: true, Reason: "it turns the lock on, and dogpile_lockfile=false turns it off: give one or the other"}
	}
	return path, on, nil
}

// lockfileArg reads a lock file argument as Python's dbm backend takes it: a path, or
// false to turn the lock off (true, like leaving it out, means the default
// path).
func lockfileArg(a dogpile.Args, name string) (path string, off bool, err error) {
	if !a.Has(name) || a[name] == nil {
		return "", false, nil
	}
	if on, err := a.Bool(name, true); err == nil {
		return "", !on, nil
	}
	path, err = a.String(name, "")
	if err != nil {
		return "", false, &dogpile.ArgError{Name: name, Value: a[name], Reason: "want a path, or false to turn the lock off"}
	}
	return path, false, nil
}

// sizeArg reads a size in bytes: a whole number, or a string such as
// "64MiB", "500KB" or "1GB" (KB/MB/GB are powers of 1000, KiB/MiB/GiB of
// 1024).
func sizeArg(a dogpile.Args, name string) (int64, error) {
	if n, err := a.Int(name, 0); err == nil {
		if n < 0 {
			return 0, &dogpile.ArgError{Name: name, Value: a[name], Reason: "must not be negative"}
		}
		return int64(n), nil
	}
	bad := &dogpile.ArgError{Name: name, Value: a[name], Reason: `want a size in bytes, such as 67108864 or "64MiB"`}
	s, ok := a[name].(string)
	if !ok {
		return 0, bad
	}
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		scale  float64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1},
	}
	scale := 1.0
	for _, u := range units {
		if len(s) > len(u.suffix) && strings.EqualFold(s[len(s)-len(u.suffix):], u.suffix) {
			s, scale = strings.TrimSpace(s[:len(s)-len(u.suffix)]), u.scale
			break
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || math.IsInf(f*scale, 0) || f*scale > math.MaxInt64 {
		return 0, bad
	}
	return int64(f * scale), nil
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
