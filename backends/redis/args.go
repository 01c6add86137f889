package redis

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/redact"
)

func init() {
	for name, f := range map[string]func(dogpile.Args) (*Backend, error){
		"redis":          newStandaloneFromArgs,
		"redis_sentinel": newSentinelFromArgs,
		"redis_cluster":  newClusterFromArgs,
	} {
		err := dogpile.RegisterBackend(name, func(args dogpile.Args) (dogpile.Backend, error) {
			b, err := f(args)
			if err != nil {
				return nil, err // not a nil *Backend in a non-nil interface
			}
			return b, nil
		})
		if err != nil {
			panic(err)
		}
	}
}

// The arguments every variant takes, by Python's dogpile.cache's names
// (lock_prefix and client_log are this package's).
var cacheArgs = []string{
	"redis_expiration_time", "distributed_lock", "lock_timeout", "lock_sleep",
	"lock_blocking", "lock_blocking_timeout", "thread_local_lock", "lock_prefix", "client_log",
}

// connArgs may be given at the top level or inside connection_kwargs
// (Python's place for them); the top level wins.
var connArgs = []string{
	"username", "password", "db",
	"socket_timeout", "socket_connect_timeout", "socket_keepalive",
	"ssl", "ssl_certfile", "ssl_keyfile", "ssl_ca_certs", "ssl_cert_reqs", "ssl_check_hostname",
	"max_connections", "pool_size", "client_name", "max_retries",
}

// unsupported are arguments of Python's dogpile.cache that cannot carry over, with what to do
// instead.
var unsupported = map[string]string{
	"connection_pool":          "a redis-py object has no Go counterpart; build a go-redis client and pass it to redis.NewFromClient",
	"socket_keepalive_options": "TCP keep-alive is always on in go-redis and its options can't be set from arguments; pass a client with your own Dialer to redis.NewFromClient",
}

func known(variant string, args dogpile.Args, extra ...string) error {
	for name, why := range unsupported {
		if args.Has(name) {
			return &dogpile.ArgError{Name: name, Reason: "not supported by the " + variant + " backend: " + why}
		}
	}
	names := append(append(append([]string{"connection_kwargs"}, cacheArgs...), connArgs...), extra...)
	return args.Known(names...)
}

// conn is the connection arguments, common to the three variants.
type conn struct {
	args dogpile.Args // connArgs merged from connection_kwargs and the top level

	username, password, clientName string
	db                             int
	dialTimeout, ioTimeout         time.Duration // 0: go-redis's default
	poolSize, maxRetries           int           // 0: go-redis's default
	tls                            *tls.Config   // nil: plain TCP
}

func parseConn(args dogpile.Args) (*conn, error) {
	merged, err := args.Map("connection_kwargs")
	if err != nil {
		return nil, err
	}
	if merged == nil {
		merged = dogpile.Args{}
	}
	if err := merged.Known(connArgs...); err != nil {
		var ae *dogpile.ArgError
		if errors.As(err, &ae) {
			ae.Name = "connection_kwargs." + ae.Name
		}
		return nil, err
	}
	for _, n := range connArgs {
		if args.Has(n) {
			merged[n] = args[n]
		}
	}
	c := &conn{args: merged}
	a := merged
	if c.username, err = a.String("username", ""); err != nil {
		return nil, err
	}
	if c.password, err = secretString(a, "password"); err != nil {
		return nil, err
	}
	if c.clientName, err = a.String("client_name", ""); err != nil {
		return nil, err
	}
	if c.db, err = nonNegativeInt(a, "db"); err != nil {
		return nil, err
	}
	if c.ioTimeout, err = a.Duration("socket_timeout", 0); err != nil {
		return nil, err
	}
	if c.dialTimeout, err = a.Duration("socket_connect_timeout", 0); err != nil {
		return nil, err
	}
	if _, err = a.Bool("socket_keepalive", true); err != nil { // always on in go-redis
		return nil, err
	}
	if c.poolSize, err = nonNegativeInt(a, "max_connections"); err != nil {
		return nil, err
	}
	if a.Has("pool_size") {
		if c.poolSize, err = nonNegativeInt(a, "pool_size"); err != nil {
			return nil, err
		}
	}
	if c.maxRetries, err = a.Int("max_retries", 0); err != nil {
		return nil, err
	}
	if c.tls, err = parseTLS(a); err != nil {
		return nil, err
	}
	return c, nil
}

// secretString reads a string argument that holds a secret: its error never
// shows the value.
func secretString(a dogpile.Args, name string) (string, error) {
	v, ok := a[name]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", &dogpile.ArgError{Name: name, Reason: fmt.Sprintf("want a string, not %s (the value is not shown)", redact.Type(v))}
	}
	return s, nil
}

func nonNegativeInt(a dogpile.Args, name string) (int, error) {
	n, err := a.Int(name, 0)
	if err == nil && n < 0 {
		return 0, &dogpile.ArgError{Name: name, Value: a[name], Reason: "must not be negative"}
	}
	return n, err
}

// parseTLS reads redis-py's TLS arguments (Python's dogpile.cache passes them on). TLS is on when ssl
// is true or any certificate file is given.
func parseTLS(a dogpile.Args) (*tls.Config, error) {
	on, err := a.Bool("ssl", false)
	if err != nil {
		return nil, err
	}
	files := map[string]string{}
	for _, n := range []string{"ssl_certfile", "ssl_keyfile", "ssl_ca_certs"} {
		if files[n], err = a.String(n, ""); err != nil {
			return nil, err
		}
		on = on || files[n] != ""
	}
	reqs, err := a.String("ssl_cert_reqs", "required")
	if err != nil {
		return nil, err
	}
	checkHost, err := a.Bool("ssl_check_hostname", true)
	if err != nil {
		return nil, err
	}
	if !on {
		if a.Has("ssl_cert_reqs") || a.Has("ssl_check_hostname") {
			return nil, &dogpile.ArgError{Name: "ssl", Reason: "ssl_cert_reqs and ssl_check_hostname need ssl = true"}
		}
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if p := files["ssl_ca_certs"]; p != "" {
		pem, err := os.ReadFile(p)
		if err != nil {
			return nil, &dogpile.ArgError{Name: "ssl_ca_certs", Value: p, Reason: err.Error()}
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, &dogpile.ArgError{Name: "ssl_ca_certs", Value: p, Reason: "no PEM certificate in the file"}
		}
	}
	if cert := files["ssl_certfile"]; cert != "" {
		key := files["ssl_keyfile"]
		if key == "" {
			key = cert // redis-py allows the key in the certificate's file
		}
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, &dogpile.ArgError{Name: "ssl_certfile", Value: cert, Reason: err.Error()}
		}
		cfg.Certificates = []tls.Certificate{pair}
	} else if files["ssl_keyfile"] != "" {
		return nil, &dogpile.ArgError{Name: "ssl_keyfile", Value: files["ssl_keyfile"], Reason: "needs ssl_certfile"}
	}
	switch strings.ToLower(strings.TrimPrefix(strings.ToUpper(reqs), "CERT_")) {
	case "required", "optional": // a server always shows a certificate: optional checks it too
	case "none":
		cfg.InsecureSkipVerify = true
		return cfg, nil
	default:
		return nil, &dogpile.ArgError{Name: "ssl_cert_reqs", Value: reqs, Reason: `want "required", "optional" or "none"`}
	}
	if !checkHost {
		// Verify the chain but not the name: Go has no switch for that, so
		// turn its check off and verify in VerifyConnection.
		roots := cfg.RootCAs
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("dogpile/redis: the server showed no certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
			return err
		}
	}
	return cfg, nil
}

// fields points at one go-redis options struct's connection fields, so that
// the three option types are filled by one function.
type fields struct {
	username, password, clientName *string
	db                             *int
	dialTimeout, read, write       *time.Duration
	poolSize, maxRetries           *int
	tls                            **tls.Config
	ctxTimeout                     *bool
	dialerRetries                  *int
	dialer                         *dialFunc
}

// apply sets the connection arguments that were given (after checkURL has
// found them consistent with a URL's), and makes a call fail after one dial
// attempt (failFast).
func (c *conn) apply(f fields) {
	set := func(dst *string, v string, name string) {
		if dst != nil && c.args.Has(name) {
			*dst = v
		}
	}
	set(f.username, c.username, "username")
	set(f.password, c.password, "password")
	set(f.clientName, c.clientName, "client_name")
	if f.db != nil && c.args.Has("db") {
		*f.db = c.db
	}
	if c.dialTimeout > 0 {
		*f.dialTimeout = c.dialTimeout
	}
	if c.ioTimeout > 0 {
		*f.read, *f.write = c.ioTimeout, c.ioTimeout
	}
	if c.poolSize > 0 {
		*f.poolSize = c.poolSize
	}
	if c.args.Has("max_retries") {
		*f.maxRetries = c.maxRetries
	}
	if c.tls != nil {
		if *f.tls != nil && c.tls.ServerName == "" {
			c.tls.ServerName = (*f.tls).ServerName // from a rediss:// URL
		}
		*f.tls = c.tls
	}
	*f.ctxTimeout = true
	*f.dialerRetries, *f.dialer = failFast(*f.dialerRetries, *f.dialer, *f.dialTimeout, *f.tls)
}

// checkURL checks the credentials and database of a url argument against
// the separate username, password and db arguments: a separate argument
// fills in what the URL lacks, and one that says otherwise than the URL is
// an error naming both (never showing a password). db is false for Cluster,
// which has no databases but 0.
func (c *conn) checkURL(raw string, withDB bool) error {
	u, err := url.Parse(raw)
	if err != nil {
		return nil // reported by the URL's parser, with a redacted reason
	}
	shown := redact.URLs(u.Redacted())
	if u.User != nil {
		if name := u.User.Username(); name != "" && c.args.Has("username") && c.username != name {
			return &dogpile.ArgError{Name: "username", Value: c.username, Reason: fmt.Sprintf("differs from the user name in url %s; give it in one place", shown)}
		}
		if pw, ok := u.User.Password(); ok && c.args.Has("password") && c.password != pw {
			return &dogpile.ArgError{Name: "password", Reason: fmt.Sprintf("differs from the password in url %s; give it in one place (neither is shown)", shown)}
		}
	}
	if !withDB || !c.args.Has("db") {
		return nil
	}
	urlDB, given := -1, false
	if u.Scheme != "unix" {
		if p := strings.Trim(u.Path, "/"); p != "" {
			urlDB, given = atoiOr(p, -1), true
		}
	}
	if q := u.Query(); q.Has("db") {
		urlDB, given = atoiOr(q.Get("db"), -1), true
	}
	if given && urlDB != c.db {
		return &dogpile.ArgError{Name: "db", Value: c.db, Reason: fmt.Sprintf("differs from the database in url %s; give it in one place", shown)}
	}
	return nil
}

func atoiOr(s string, def int) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return def
	}
	return n
}

// urlError is the error for a url argument that go-redis could not parse.
// Neither its value nor its reason quotes what may hold a password: the
// value is url.URL.Redacted when the URL parses with its user information
// in place, and only its scheme otherwise; net/url's messages, which quote
// the whole URL or a piece of it, are replaced by a description.
func urlError(name, raw string, err error) error {
	shown := "(not shown: it does not parse, and may hold a password)"
	if u, perr := url.Parse(raw); perr == nil {
		if u.User == nil && strings.Contains(raw, "@") {
			// Such as "redis:/:password@host" (a "/" missing): the password
			// is in the path or the opaque part, which Redacted shows, and
			// go-redis's message may quote.
			return &dogpile.ArgError{Name: name,
				Value:  u.Scheme + ":… (not shown: an \"@\" outside a user name and password, which may hide one)",
				Reason: `not a valid URL: want scheme://[user[:password]@]host[:port][/db] (is a "/" missing after the scheme?)`}
		}
		shown = redact.URLs(u.Redacted()) // and a password in its query
	} else if i := strings.Index(raw, "://"); i > 0 && !strings.ContainsAny(raw[:i], "@:/") {
		shown = raw[:i] + "://… " + shown
	}
	reason := redact.URLs(err.Error())
	var (
		esc  url.EscapeError
		host url.InvalidHostError
		ue   *url.Error
	)
	switch {
	case errors.As(err, &esc):
		reason = `not a valid URL: a "%" that begins no %-escape (write a "%" in a password as %25)`
	case errors.As(err, &host):
		reason = "not a valid URL: a character that no host name has"
	case errors.As(err, &ue):
		reason = "not a valid URL (%-escape the special characters of a user name or password)"
	}
	return &dogpile.ArgError{Name: name, Value: shown, Reason: reason}
}

// cacheOptions reads the arguments about values and the lock. defLock is the
// variant's default for distributed_lock (Python's).
func cacheOptions(args dogpile.Args, defLock bool) (Options, error) {
	var o Options
	var err error
	if o.TTL, err = args.Duration("redis_expiration_time", 0); err != nil {
		return o, err
	}
	if o.TTL > 0 && o.TTL < time.Millisecond {
		return o, &dogpile.ArgError{Name: "redis_expiration_time", Value: args["redis_expiration_time"], Reason: "below Redis's resolution of a millisecond"}
	}
	if o.DistributedLock, err = args.Bool("distributed_lock", defLock); err != nil {
		return o, err
	}
	if o.LockTimeout, err = args.Duration("lock_timeout", DefaultLockTimeout); err != nil {
		return o, err
	}
	if o.LockTimeout < time.Millisecond {
		return o, &dogpile.ArgError{Name: "lock_timeout", Value: args["lock_timeout"], Reason: "must be at least a millisecond: a lock without a timeout would outlive a holder that dies"}
	}
	if o.LockSleep, err = args.Duration("lock_sleep", DefaultLockSleep); err != nil {
		return o, err
	}
	if o.LockSleep <= 0 {
		return o, &dogpile.ArgError{Name: "lock_sleep", Value: args["lock_sleep"], Reason: "must be positive"}
	}
	if o.LockWait, err = args.Duration("lock_blocking_timeout", 0); err != nil {
		return o, err
	}
	if args.Has("lock_prefix") {
		if o.LockPrefix, err = args.String("lock_prefix", ""); err != nil {
			return o, err
		}
		if o.LockPrefix == "" || strings.Contains(o.LockPrefix, "{") {
			return o, &dogpile.ArgError{Name: "lock_prefix", Value: o.LockPrefix, Reason: `want a non-empty prefix without "{" (every value key that begins with it is refused, and the lock's hash tag follows it)`}
		}
	}
	clientLog, err := args.Bool("client_log", true)
	if err != nil {
		return o, err
	}
	o.QuietClient = !clientLog
	// Accepted for Python's configurations; see the package documentation.
	for _, n := range []string{"lock_blocking", "thread_local_lock"} {
		if _, err := args.Bool(n, false); err != nil {
			return o, err
		}
	}
	return o, nil
}

// finish makes the backend of a registered factory on c, which it owns.
func finish(c goredis.UniversalClient, o Options, where string) (*Backend, error) {
	defaultClientLogger()
	b, err := newBackend(c, o, where)
	if err != nil {
		c.Close() //nolint:errcheck // nothing was used
		return nil, err
	}
	b.owned = true
	return b, nil
}

// variantArgs checks the names of a variant's arguments (those of every
// variant and extra) and reads the arguments every variant has: about values
// and the lock (defLock is the variant's default for distributed_lock) and
// about the connection.
func variantArgs(variant string, args dogpile.Args, defLock bool, extra ...string) (Options, *conn, error) {
	if err := known(variant, args, extra...); err != nil {
		return Options{}, nil, err
	}
	o, err := cacheOptions(args, defLock)
	if err != nil {
		return Options{}, nil, err
	}
	c, err := parseConn(args)
	return o, c, err
}

// hostPort is the address the host and port arguments give (Python's
// defaults: localhost, 6379).
func hostPort(args dogpile.Args) (string, error) {
	host, err := args.String("host", "localhost")
	if err != nil {
		return "", err
	}
	port, err := args.Int("port", 6379)
	if err != nil {
		return "", err
	}
	if port <= 0 || port > 65535 {
		return "", &dogpile.ArgError{Name: "port", Value: args["port"], Reason: "not a TCP port"}
	}
	return net.JoinHostPort(host, strconv.Itoa(port)), nil
}

// newStandaloneFromArgs is the "redis" factory.
func newStandaloneFromArgs(args dogpile.Args) (*Backend, error) {
	o, c, err := variantArgs("redis", args, false, "url", "host", "port")
	if err != nil {
		return nil, err
	}
	u, err := urlArg(args)
	if err != nil {
		return nil, err
	}
	var ro *goredis.Options
	if u != "" {
		if ro, err = goredis.ParseURL(u); err != nil {
			return nil, urlError("url", u, err)
		}
		if err := c.checkURL(u, true); err != nil {
			return nil, err
		}
	} else {
		addr, err := hostPort(args)
		if err != nil {
			return nil, err
		}
		ro = &goredis.Options{Addr: addr}
	}
	c.apply(fields{&ro.Username, &ro.Password, &ro.ClientName, &ro.DB, &ro.DialTimeout, &ro.ReadTimeout, &ro.WriteTimeout, &ro.PoolSize, &ro.MaxRetries, &ro.TLSConfig, &ro.ContextTimeoutEnabled, &ro.DialerRetries, &ro.Dialer})
	return finish(goredis.NewClient(ro), o, "")
}

// newSentinelFromArgs is the "redis_sentinel" factory.
func newSentinelFromArgs(args dogpile.Args) (*Backend, error) {
	for _, n := range []string{"url", "host", "port"} {
		if args.Has(n) {
			// No value: a URL may hold a password.
			return nil, &dogpile.ArgError{Name: n, Reason: "redis_sentinel finds the master through the sentinels: give sentinels and service_name instead"}
		}
	}
	o, c, err := variantArgs("redis_sentinel", args, true, "sentinels", "service_name", "sentinel_kwargs") // Python's default for Sentinel
	if err != nil {
		return nil, err
	}
	sentinels, err := nodes(args, "sentinels", 26379)
	if err != nil {
		return nil, err
	}
	if len(sentinels) == 0 {
		return nil, &dogpile.ArgError{Name: "sentinels", Reason: `required: a list of sentinel addresses, such as [["10.0.0.1", 26379], ["10.0.0.2", 26379]] or "10.0.0.1:26379,10.0.0.2:26379"`}
	}
	service, err := args.String("service_name", "mymaster")
	if err != nil {
		return nil, err
	}
	fo := &goredis.FailoverOptions{MasterName: service, SentinelAddrs: sentinels}
	c.apply(fields{&fo.Username, &fo.Password, &fo.ClientName, &fo.DB, &fo.DialTimeout, &fo.ReadTimeout, &fo.WriteTimeout, &fo.PoolSize, &fo.MaxRetries, &fo.TLSConfig, &fo.ContextTimeoutEnabled, &fo.DialerRetries, &fo.Dialer})
	// As in Python's dogpile.cache, the sentinels get the servers'
	// credentials unless sentinel_kwargs says otherwise.
	fo.SentinelUsername, fo.SentinelPassword = c.username, c.password
	sk, err := args.Map("sentinel_kwargs")
	if err != nil {
		return nil, err
	}
	if err := sk.Known("username", "password"); err != nil {
		var ae *dogpile.ArgError
		if errors.As(err, &ae) {
			ae.Name = "sentinel_kwargs." + ae.Name
		}
		return nil, err
	}
	if fo.SentinelUsername, err = sk.String("username", fo.SentinelUsername); err != nil {
		return nil, err
	}
	if sk.Has("password") {
		if fo.SentinelPassword, err = secretString(sk, "password"); err != nil {
			var ae *dogpile.ArgError
			if errors.As(err, &ae) {
				ae.Name = "sentinel_kwargs." + ae.Name
			}
			return nil, err
		}
	}
	return finish(goredis.NewFailoverClient(fo), o, sentinelWhere(fo))
}

// newClusterFromArgs is the "redis_cluster" factory.
func newClusterFromArgs(args dogpile.Args) (*Backend, error) {
	o, c, err := variantArgs("redis_cluster", args, false, "startup_nodes", "url", "host", "port")
	if err != nil {
		return nil, err
	}
	if c.db != 0 {
		return nil, &dogpile.ArgError{Name: "db", Value: c.args["db"], Reason: "Redis Cluster has only database 0"}
	}
	co := &goredis.ClusterOptions{}
	urls, err := args.Strings("url")
	if err != nil {
		var ae *dogpile.ArgError
		if errors.As(err, &ae) {
			ae.Value = nil // a URL may hold a password
		}
		return nil, err
	}
	for i, u := range urls {
		p, err := goredis.ParseClusterURL(u)
		if err != nil {
			return nil, urlError("url", u, err)
		}
		if err := c.checkURL(u, false); err != nil {
			return nil, err
		}
		if i == 0 {
			addrs := co.Addrs
			*co = *p
			co.Addrs = addrs
		}
		co.Addrs = append(co.Addrs, p.Addrs...)
	}
	startup, err := nodes(args, "startup_nodes", 6379)
	if err != nil {
		return nil, err
	}
	co.Addrs = append(co.Addrs, startup...)
	if args.Has("host") || args.Has("port") {
		addr, err := hostPort(args)
		if err != nil {
			return nil, err
		}
		co.Addrs = append(co.Addrs, addr)
	}
	if len(co.Addrs) == 0 {
		return nil, &dogpile.ArgError{Name: "startup_nodes", Reason: `required (or url): the addresses of one or more cluster nodes, such as ["10.0.0.1:6379", "10.0.0.2:6379"]`}
	}
	var db int
	c.apply(fields{&co.Username, &co.Password, &co.ClientName, &db, &co.DialTimeout, &co.ReadTimeout, &co.WriteTimeout, &co.PoolSize, &co.MaxRetries, &co.TLSConfig, &co.ContextTimeoutEnabled, &co.DialerRetries, &co.Dialer})
	return finish(goredis.NewClusterClient(co), o, "")
}

// nodes reads a list of server addresses as configurations write it: a
// comma-separated string, or a list whose items are "host:port" strings,
// [host, port] pairs, or {"host": …, "port": …} maps.
func nodes(args dogpile.Args, name string, defPort int) ([]string, error) {
	v, ok := args[name]
	if !ok || v == nil {
		return nil, nil
	}
	bad := func(reason string) error {
		return &dogpile.ArgError{Name: name, Value: v, Reason: reason}
	}
	hostPort := func(s string) (string, error) {
		if strings.Contains(s, "@") {
			// Credentials written into an address ("user:pass@host"): the
			// value is not shown, as it may hold a password.
			return "", &dogpile.ArgError{Name: name, Reason: `an address holds an "@": give host:port, and the credentials as username and password (for the sentinels: sentinel_kwargs); the value is not shown, as it may hold a password`}
		}
		if _, _, err := net.SplitHostPort(s); err == nil {
			return s, nil
		}
		if s == "" || strings.ContainsAny(s, " /") {
			return "", bad(fmt.Sprintf("%q is not host:port", s))
		}
		return net.JoinHostPort(s, strconv.Itoa(defPort)), nil
	}
	if s, ok := v.(string); ok {
		var out []string
		for _, item := range strings.Split(s, ",") {
			if item = strings.TrimSpace(item); item == "" {
				continue
			}
			a, err := hostPort(item)
			if err != nil {
				return nil, err
			}
			out = append(out, a)
		}
		return out, nil
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return nil, bad(`want a list of "host:port" strings or [host, port] pairs`)
	}
	out := make([]string, 0, rv.Len())
	for i := range rv.Len() {
		item := rv.Index(i).Interface()
		var host string
		var port any = defPort
		switch x := item.(type) {
		case string:
			a, err := hostPort(x)
			if err != nil {
				return nil, err
			}
			out = append(out, a)
			continue
		case map[string]any:
			h, _ := x["host"].(string)
			host = h
			if p, ok := x["port"]; ok {
				port = p
			}
		default:
			iv := reflect.ValueOf(item)
			if iv.Kind() != reflect.Slice && iv.Kind() != reflect.Array || iv.Len() != 2 {
				return nil, bad(fmt.Sprintf("item %d: want \"host:port\", [host, port] or {host: …, port: …}", i))
			}
			h, _ := iv.Index(0).Interface().(string)
			host, port = h, iv.Index(1).Interface()
		}
		if host == "" {
			return nil, bad(fmt.Sprintf("item %d has no host", i))
		}
		p, err := dogpile.Args{"port": port}.Int("port", defPort)
		if err != nil || p <= 0 || p > 65535 {
			return nil, bad(fmt.Sprintf("item %d: port %v is not a TCP port", i, port))
		}
		out = append(out, net.JoinHostPort(host, strconv.Itoa(p)))
	}
	return out, nil
}

// urlArg reads the standalone url argument; its error never shows the
// value (a URL may hold a password).
func urlArg(args dogpile.Args) (string, error) {
	v, ok := args["url"]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", &dogpile.ArgError{Name: "url", Reason: fmt.Sprintf("want a string such as \"redis://host:6379/0\", not %s", redact.Type(v))}
	}
	return s, nil
}
