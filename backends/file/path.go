package file

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/dogpile-go/dogpile"
)

// maxLinks bounds the symbolic links followed to find a file, as the OS
// bounds them (Linux's MAXSYMLINKS is 40).
const maxLinks = 40

// realPath returns the one name of the file that p names, whatever its
// spelling: absolute, with every symbolic link resolved (the file's own too,
// even when its target does not exist yet) and every ".." taken as the OS
// takes it, after the link before it (a/link/../b is b beside link's target,
// not a/b as a lexical clean would have it). Missing directories on the way
// are created, mode 0700. The file itself need not exist.
//
// Every process that opens one cache file through any spelling — a relative
// path, a symbolic link to the file or to a directory above it, a path
// through ".." — gets the same name, and so SQLite keeps one write-ahead log
// for it and the backend one lock file beside it. Two directories that are
// one (a bind mount) give two names but one lock file, since it lies in the
// same directory. Hard links are the one way to give a file two names that
// no resolution reconciles; New refuses them (see checkLinks).
func realPath(p string) (string, error) {
	if p == "" {
		return "", errors.New("empty path")
	}
	if !filepath.IsAbs(p) {
		if runtime.GOOS == "windows" {
			// Windows itself takes ".." lexically, before any link.
			abs, err := filepath.Abs(p)
			if err != nil {
				return "", err
			}
			p = abs
		} else {
			wd, err := os.Getwd()
			if err != nil {
				return "", err
			}
			// No lexical clean: ".." is resolved below, after the links.
			p = wd + string(filepath.Separator) + p
		}
	}
	for range maxLinks {
		dir, base := filepath.Split(p)
		if base == "" || base == "." || base == ".." {
			return "", fmt.Errorf("%s names a directory, not a file", p)
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", err
		}
		realDir, err := filepath.EvalSymlinks(dir)
		if err != nil {
			return "", err
		}
		if realDir, err = filepath.Abs(realDir); err != nil {
			return "", err
		}
		full := filepath.Join(realDir, base)
		fi, err := os.Lstat(full)
		if errors.Is(err, fs.ErrNotExist) {
			return full, nil
		}
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			return full, nil
		}
		target, err := os.Readlink(full)
		if err != nil {
			return "", err
		}
		if !filepath.IsAbs(target) {
			target = realDir + string(filepath.Separator) + target
		}
		p = target
	}
	return "", fmt.Errorf("%s: more than %d symbolic links", p, maxLinks)
}

// createFile creates the file at path, mode 0600, if it does not exist, and
// checks that it has one name (checkLinks). An existing file's mode is left
// as it is. A new file is created here rather than by SQLite, which would
// make it 0644; SQLite gives the write-ahead log and shared-memory files it
// creates beside it the mode of the database file.
func createFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("file: the cache file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("file: the cache file: %w", err)
	}
	return checkLinks(path, fi)
}

// checkLinks refuses a file with more than one hard link. SQLite keeps a
// database's write-ahead log and shared memory in files named after the name
// it was opened by, so processes using two names of one file would write two
// logs into one database and corrupt it (SQLite's documentation calls a link
// count other than one undefined behaviour); they would also take two lock
// files, and two creators would run.
func checkLinks(path string, fi os.FileInfo) error {
	if n := linkCount(fi); n > 1 {
		return &dogpile.ArgError{Name: "filename", Value: path, Reason: fmt.Sprintf(
			"the file has %d hard links; a cache file must have one name (SQLite keeps its write-ahead log beside the name it is opened by, so two names of one file would corrupt it)", n)}
	}
	return nil
}
