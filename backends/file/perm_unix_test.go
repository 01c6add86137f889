//go:build unix

package file_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/dogpile-go/dogpile/backends/file"
)

// withUmask runs the test under the usual umask 022, which lets through the
// group and world read bits that a mode of 0644 asks for: the modes checked
// are the ones the backend asks for, not ones the umask narrowed.
func withUmask(t *testing.T) {
	old := syscall.Umask(0o022)
	t.Cleanup(func() { syscall.Umask(old) })
}

func modeOf(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// TestFilesPrivate: the cache file, its write-ahead log and shared-memory
// files and the lock file are created 0600, and the directories the backend
// creates 0700, so that a cache in a world-readable directory is readable by
// its owner only.
func TestFilesPrivate(t *testing.T) {
	withUmask(t)
	root := t.TempDir()
	dir := filepath.Join(root, "a", "b")
	db := filepath.Join(dir, "cache.db")
	b := open(t, file.Options{Filename: db})
	if err := b.Set(context.Background(), "k", []byte("secret")); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{db, db + "-wal", db + "-shm", db + ".dogpile.lock"} {
		if m := modeOf(t, f); m != 0o600 {
			t.Errorf("%s was created %v; want 0600", filepath.Base(f), m)
		}
	}
	for _, d := range []string{filepath.Join(root, "a"), dir} {
		if m := modeOf(t, d); m != 0o700 {
			t.Errorf("directory %s was created %v; want 0700", d, m)
		}
	}
}

// TestDefaultPathPrivate: the per-user cache directory made for DefaultPath
// is 0700.
func TestDefaultPathPrivate(t *testing.T) {
	withUmask(t)
	home := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", filepath.Join(home, "cache"))
	t.Setenv("HOME", home)
	p, err := file.DefaultPath()
	if err != nil {
		t.Fatal(err)
	}
	open(t, file.Options{Filename: p})
	for d := filepath.Dir(p); d != home; d = filepath.Dir(d) {
		if m := modeOf(t, d); m != 0o700 {
			t.Errorf("directory %s was created %v; want 0700", d, m)
		}
	}
	if m := modeOf(t, p); m != 0o600 {
		t.Errorf("%s was created %v; want 0600", p, m)
	}
}

// TestExistingModesKept: files and directories that exist keep their modes
// (a cache shared by a group is set up with the modes it needs beforehand).
func TestExistingModesKept(t *testing.T) {
	withUmask(t)
	dir := filepath.Join(t.TempDir(), "shared")
	if err := os.Mkdir(dir, 0o770); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, fs.ModeSetgid|0o770); err != nil { // files made in it belong to its group
		t.Fatal(err)
	}
	db := filepath.Join(dir, "cache.db")
	for _, f := range []string{db, db + ".dogpile.lock"} {
		if err := os.WriteFile(f, nil, 0o660); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(f, 0o660); err != nil {
			t.Fatal(err)
		}
	}
	b := open(t, file.Options{Filename: db})
	if err := b.Set(context.Background(), "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{db, db + ".dogpile.lock"} {
		if m := modeOf(t, f); m != 0o660 {
			t.Errorf("%s was %v before the backend opened it, and is %v now", filepath.Base(f), fs.FileMode(0o660), m)
		}
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&(fs.ModePerm|fs.ModeSetgid) != 0o770|fs.ModeSetgid {
		t.Errorf("the directory was setgid and 0770, and is %v now", fi.Mode())
	}
}
