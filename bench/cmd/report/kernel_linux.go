package main

import (
	"runtime"
	"syscall"
)

// kernel names the operating system and its release ("Linux 6.1.0").
func kernel() string {
	var u syscall.Utsname
	if syscall.Uname(&u) != nil {
		return runtime.GOOS
	}
	return cstr(u.Sysname[:]) + " " + cstr(u.Release[:])
}

// cstr reads a NUL-terminated C string of int8 or uint8 (by architecture).
func cstr[T int8 | uint8](b []T) string {
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if c == 0 {
			break
		}
		out = append(out, byte(c))
	}
	return string(out)
}
