package redis

// LiveLogSinks counts the backends alive for go-redis's routed log lines,
// for tests of where a line goes when none is.
func LiveLogSinks() int {
	n := 0
	clientLog.live.Range(func(any, any) bool { n++; return true })
	return n
}
