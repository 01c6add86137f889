package memcached

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/testserver"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// tlsConfig trusts the CA of files and, if withCert, presents the client
// certificate.
func tlsConfig(t *testing.T, files testserver.TLSFiles, serverName string, withCert bool) *tls.Config {
	t.Helper()
	pem, err := os.ReadFile(files.CA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("no CA certificate in " + files.CA)
	}
	cfg := &tls.Config{RootCAs: pool, ServerName: serverName, MinVersion: tls.VersionTLS12}
	if withCert {
		pair, err := tls.LoadX509KeyPair(files.ClientCert, files.ClientKey)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg
}

// tlsBackend is a backend on addr that connects with cfg (nil: plain TCP).
func tlsBackend(t *testing.T, addr string, cfg *tls.Config) dogpile.Backend {
	t.Helper()
	o := Options{Servers: []string{addr}, Timeout: 2 * time.Second, DeadRetry: -1}
	if cfg != nil {
		o.DialContext = (&tls.Dialer{Config: cfg}).DialContext
	}
	b, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// TestS2MemcachedTLS: Debian's memcached 1.6.18 has TLS (-Z). The backend
// reaches it through Options.DialContext with a tls.Dialer: values round
// trip; the server's certificate is verified (an unknown CA, or a name the
// certificate is not for, fails with the x509 error in the chain, as a
// backend error); a client without TLS gets no answer it can use.
func TestS2MemcachedTLS(t *testing.T) {
	t.Parallel()
	srv, files := testserver.MemcachedTLS(t, false, testserver.MemcachedOptions{})
	ctx := testutil.Context(t)

	r := newRegion(t, tlsBackend(t, srv.Addr(), tlsConfig(t, files, "localhost", false)))
	v, err := dogpile.GetOrCreate(ctx, r, "tls-key", func(context.Context) (string, error) { return "over TLS", nil })
	if err != nil || v != "over TLS" {
		t.Fatalf("GetOrCreate over TLS: %q, %v", v, err)
	}
	if got, ok, err := dogpile.Get[string](ctx, r, "tls-key"); !ok || err != nil || got != "over TLS" {
		t.Fatalf("Get over TLS: %q, %v, %v", got, ok, err)
	}

	// Another CA: the server is not trusted.
	other, err := testserver.WriteTLSFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = dogpile.Get[string](ctx, newRegion(t, tlsBackend(t, srv.Addr(), tlsConfig(t, other, "localhost", false))), "tls-key")
	var unknownCA x509.UnknownAuthorityError
	if !errors.Is(err, dogpile.ErrBackend) || !errors.As(err, &unknownCA) {
		t.Fatalf("a server signed by another CA: %v; want a backend error with x509.UnknownAuthorityError", err)
	}

	// The certificate is for localhost, not for 127.0.0.1.
	_, _, err = dogpile.Get[string](ctx, newRegion(t, tlsBackend(t, srv.Addr(), tlsConfig(t, files, "127.0.0.1", false))), "tls-key")
	var badName x509.HostnameError
	if !errors.Is(err, dogpile.ErrBackend) || !errors.As(err, &badName) {
		t.Fatalf("a certificate for another name: %v; want a backend error with x509.HostnameError", err)
	}

	// A plain-text client gets nothing usable from a TLS port.
	_, _, err = dogpile.Get[string](ctx, newRegion(t, tlsBackend(t, srv.Addr(), nil)), "tls-key")
	if !errors.Is(err, dogpile.ErrBackend) {
		t.Fatalf("plain text to a TLS port: %v; want a backend error", err)
	}
}

// TestS2MemcachedTLSClientCertificate: a server that requires client
// certificates (ssl_verify_mode=2) serves a client presenting one signed by
// its CA and refuses one without.
func TestS2MemcachedTLSClientCertificate(t *testing.T) {
	t.Parallel()
	srv, files := testserver.MemcachedTLS(t, true, testserver.MemcachedOptions{})
	ctx := testutil.Context(t)

	r := newRegion(t, tlsBackend(t, srv.Addr(), tlsConfig(t, files, "localhost", true)))
	if err := r.Set(ctx, "mtls", "with a client certificate"); err != nil {
		t.Fatalf("Set with a client certificate: %v", err)
	}
	if got, ok, err := dogpile.Get[string](ctx, r, "mtls"); !ok || err != nil || got != "with a client certificate" {
		t.Fatalf("Get with a client certificate: %q, %v, %v", got, ok, err)
	}

	_, _, err := dogpile.Get[string](ctx, newRegion(t, tlsBackend(t, srv.Addr(), tlsConfig(t, files, "localhost", false))), "mtls")
	if !errors.Is(err, dogpile.ErrBackend) {
		t.Fatalf("no client certificate: %v; want a backend error", err)
	}
	var ne net.Error
	t.Logf("without a client certificate: %v (timeout: %v)", err, errors.As(err, &ne) && ne.Timeout())
}
