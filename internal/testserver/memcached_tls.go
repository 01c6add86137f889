package testserver

import (
	"strconv"
	"testing"
)

// MemcachedTLS starts a memcached that speaks only TLS on its port
// (memcached -Z), with a throwaway CA and certificates from WriteTLSFiles,
// and stops it when the test ends. When clientAuth is true the server also
// requires a client certificate signed by the CA (ssl_verify_mode=2). The
// server certificate is for the name localhost only.
//
// Debian's memcached 1.6.18 is built with TLS; a build without it exits at
// start, and the test fails with its message.
func MemcachedTLS(t testing.TB, clientAuth bool, opts MemcachedOptions) (*Process, TLSFiles) {
	t.Helper()
	path := Need(t, "memcached", "memcached")
	files, err := WriteTLSFiles(t.TempDir())
	if err != nil {
		t.Fatalf("testserver: TLS certificates: %v", err)
	}
	verify := "0" // none
	if clientAuth {
		verify = "2" // require
	}
	tlsArgs := []string{"-Z", "-o", "ssl_chain_cert=" + files.ServerCert + ",ssl_key=" + files.ServerKey +
		",ssl_ca_cert=" + files.CA + ",ssl_verify_mode=" + verify}
	var lastErr error
	for range 3 { // as Memcached: the free port may be taken meanwhile
		p := &Process{Path: path, Port: FreePort(t)}
		p.Args = append(memcachedArgs(p.Port, opts), tlsArgs...)
		p.Name = "memcached (TLS) :" + strconv.Itoa(p.Port)
		if lastErr = p.start(); lastErr == nil {
			t.Cleanup(p.Kill)
			return p, files
		}
	}
	t.Fatal(lastErr)
	return nil, files
}
