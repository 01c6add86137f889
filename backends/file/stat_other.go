//go:build !unix

package file

import "os"

// linkCount is 1: os.FileInfo carries no link count on this OS.
func linkCount(os.FileInfo) uint64 { return 1 }
