package testserver

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// redisPackages are the Debian packages that provide redis-server and
// redis-cli.
const redisPackages = "redis-server redis-tools"

// NeedRedis returns the paths of redis-server and redis-cli, or ends the test
// saying how to install them.
func NeedRedis(t testing.TB) (server, cli string) {
	t.Helper()
	return Need(t, "redis-server", redisPackages), Need(t, "redis-cli", redisPackages)
}

// lookRedis is NeedRedis for code without a test at hand (shared servers).
func lookRedis() (server, cli string, err error) {
	for _, b := range []string{"redis-server", "redis-cli"} {
		p, err := exec.LookPath(b)
		if err != nil {
			return "", "", fmt.Errorf("%s not found on PATH; install it with: apt-get install -y %s (or run the README's test command, which does)", b, redisPackages)
		}
		if b == "redis-server" {
			server = p
		} else {
			cli = p
		}
	}
	return server, cli, nil
}

// redisBaseArgs are the arguments of every test redis-server: loopback only,
// no persistence, nothing written outside its directory.
func redisBaseArgs(port int, dir string) []string {
	return []string{
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", dir,
		"--daemonize", "no",
		"--logfile", "",
	}
}

// newRedisProcess describes a standalone redis-server on a free port in dir;
// extra arguments are appended (later arguments win in redis-server).
func newRedisProcess(t testing.TB, server, dir string, extra ...string) *Process {
	port := FreePort(t)
	return &Process{
		Name: "redis-server :" + strconv.Itoa(port),
		Path: server,
		Args: append(redisBaseArgs(port, dir), extra...),
		Dir:  dir,
		Port: port,
	}
}

// StartRedis starts a standalone redis-server on a free loopback port, waits
// until it answers and stops it when the test ends. extra are further
// redis-server arguments, such as "--requirepass", "secret".
func StartRedis(t testing.TB, extra ...string) *Process {
	t.Helper()
	server, _ := NeedRedis(t)
	p := newRedisProcess(t, server, t.TempDir(), extra...)
	p.Start(t)
	return p
}

// RedisCLI runs redis-cli against addr ("host:port") with args and returns
// its output without the trailing newline; a failure ends the test. Tests use
// it to read and write a server the way an operator would, independently of
// the client under test.
func RedisCLI(t testing.TB, addr string, args ...string) string {
	t.Helper()
	_, cli := NeedRedis(t)
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("testserver: RedisCLI: bad address %q: %v", addr, err)
	}
	out, err := exec.Command(cli, append([]string{"-h", host, "-p", port}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("testserver: redis-cli %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimRight(string(out), "\n")
}

// TLSFiles are the PEM files of a test certificate authority and of the
// certificates it signed for a TLS test server and a client.
type TLSFiles struct {
	CA         string // the CA certificate that signed both others
	ServerCert string // for the name localhost only, not for 127.0.0.1: tests can check host name verification
	ServerKey  string
	ClientCert string // for client authentication
	ClientKey  string
}

// WriteTLSFiles creates a throwaway CA and a server and client certificate in
// dir. The keys are ECDSA P-256, valid for an hour.
func WriteTLSFiles(dir string) (TLSFiles, error) {
	f := TLSFiles{
		CA:         filepath.Join(dir, "ca.pem"),
		ServerCert: filepath.Join(dir, "server.pem"),
		ServerKey:  filepath.Join(dir, "server-key.pem"),
		ClientCert: filepath.Join(dir, "client.pem"),
		ClientKey:  filepath.Join(dir, "client-key.pem"),
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return f, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "dogpile test CA"},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return f, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return f, err
	}
	if err := writePEM(f.CA, "CERTIFICATE", caDER); err != nil {
		return f, err
	}
	leaf := func(serial int64, cn string, dnsNames []string, usage x509.ExtKeyUsage, certPath, keyPath string) error {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: cn},
			NotBefore:    now.Add(-time.Minute),
			NotAfter:     now.Add(time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
			DNSNames:     dnsNames,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			return err
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return err
		}
		if err := writePEM(certPath, "CERTIFICATE", der); err != nil {
			return err
		}
		return writePEM(keyPath, "PRIVATE KEY", keyDER)
	}
	if err := leaf(2, "localhost", []string{"localhost"}, x509.ExtKeyUsageServerAuth, f.ServerCert, f.ServerKey); err != nil {
		return f, err
	}
	return f, leaf(3, "dogpile test client", nil, x509.ExtKeyUsageClientAuth, f.ClientCert, f.ClientKey)
}

func writePEM(path, typ string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
}

// StartRedisTLS starts a redis-server that speaks only TLS on its port
// (Process.Port), with certificates from WriteTLSFiles. When clientAuth is
// true the server also requires a client certificate signed by the CA.
func StartRedisTLS(t testing.TB, clientAuth bool, extra ...string) (*Process, TLSFiles) {
	t.Helper()
	server, _ := NeedRedis(t)
	dir := t.TempDir()
	files, err := WriteTLSFiles(dir)
	if err != nil {
		t.Fatalf("testserver: TLS certificates: %v", err)
	}
	auth := "no"
	if clientAuth {
		auth = "yes"
	}
	port := FreePort(t)
	args := redisBaseArgs(0, dir) // --port 0: no plain-text listener
	args = append(args,
		"--tls-port", strconv.Itoa(port),
		"--tls-cert-file", files.ServerCert,
		"--tls-key-file", files.ServerKey,
		"--tls-ca-cert-file", files.CA,
		"--tls-auth-clients", auth,
	)
	p := &Process{Name: "redis-server (TLS) :" + strconv.Itoa(port), Path: server, Args: append(args, extra...), Dir: dir, Port: port}
	p.Start(t)
	return p, files
}

// WaitFor polls cond every 20ms until it returns nil or timeout passes; then
// it returns cond's last error. It is for external events (a cluster
// converging, a failover) whose timing no channel can report.
func WaitFor(timeout time.Duration, what string, cond func(ctx context.Context) error) error {
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := cond(ctx)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("testserver: %s not reached within %v: %w", what, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// shared holds the servers that SharedRedis and SharedCluster start once per
// test binary.
var shared struct {
	mu      sync.Mutex
	redis   *Process
	cluster *Cluster
	dirs    []string
	err     error
}

// SharedRedis returns a standalone redis-server shared by every test of the
// test binary that asks for it, started on first use. Tests sharing it must
// use keys of their own and must not flush or reconfigure it. Call StopShared
// from TestMain; without it the servers still die with the test binary (they
// get SIGKILL when their parent exits) but their temporary directories stay.
func SharedRedis(t testing.TB) *Process {
	t.Helper()
	return sharedServer(t, &shared.redis, "dogpile-redis-", func(dir string) (*Process, error) {
		server, _, err := lookRedis()
		if err != nil {
			return nil, err
		}
		p := newRedisProcess(t, server, dir)
		return p, p.start()
	})
}

// SharedCluster is SharedRedis for a three-master Redis Cluster.
func SharedCluster(t testing.TB) *Cluster {
	t.Helper()
	return sharedServer(t, &shared.cluster, "dogpile-cluster-", func(dir string) (*Cluster, error) {
		return startCluster(t, dir, 3)
	})
}

// sharedServer returns the shared server in *slot, started by start in a
// new temporary directory (which StopShared removes) on first use.
func sharedServer[T comparable](t testing.TB, slot *T, pattern string, start func(dir string) (T, error)) T {
	t.Helper()
	NeedRedis(t)
	shared.mu.Lock()
	defer shared.mu.Unlock()
	var none T
	if *slot == none {
		dir, err := os.MkdirTemp("", pattern)
		if err != nil {
			t.Fatal(err)
		}
		shared.dirs = append(shared.dirs, dir)
		srv, err := start(dir)
		if err != nil {
			t.Fatal(err)
		}
		*slot = srv
	}
	return *slot
}

// StopShared stops the servers started by SharedRedis and SharedCluster and
// removes their directories. Call it from TestMain after m.Run.
func StopShared() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.redis != nil {
		shared.redis.Stop()
		shared.redis = nil
	}
	if shared.cluster != nil {
		shared.cluster.Stop()
		shared.cluster = nil
	}
	for _, d := range shared.dirs {
		os.RemoveAll(d) //nolint:errcheck // best effort
	}
	shared.dirs = nil
}

// ErrNotYet is what pollers return while a condition does not hold yet.
var ErrNotYet = errors.New("not yet")
