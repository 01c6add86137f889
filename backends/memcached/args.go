package memcached

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dogpile-go/dogpile"
)

// The arguments this backend takes, by the names of Python's dogpile.cache
// where it has them (see the package documentation).
var knownArgs = []string{
	"url", "distributed_lock", "lock_timeout", "lock_sleep", "lock_prefix",
	"memcached_expire_time", "socket_timeout", "dead_retry", "behaviors",
	"max_idle_conns", "binary",
}

// pylibmc behaviors that mean nothing here, accepted so that a pylibmc
// configuration carries over, with why.
var ignoredBehaviors = map[string]string{
	"tcp_nodelay":     "Go sets TCP_NODELAY on every connection",
	"tcp_keepalive":   "Go enables TCP keep-alive by default",
	"no_block":        "Go's network I/O is non-blocking underneath",
	"cas":             "CAS ids are always fetched",
	"verify_keys":     "keys are always checked",
	"buffer_requests": "each call is written as one request",
	"hash":            "the hash follows from the distribution",
	"ketama_hash":     "the hash follows from the distribution",
}

// ParseArgs reads the arguments of Python's dogpile.cache memcached backends
// (and this backend's own) into Options:
//
//	url                    one server, a comma-separated string, or a list (required)
//	distributed_lock       bool: the cross-process dogpile lock
//	lock_timeout           seconds or a Go duration: a lock's least lifetime, ≥ 1s
//	lock_sleep             seconds or a Go duration: the longest pause of a lock's waiter
//	lock_prefix            the prefix of lock keys (DefaultLockPrefix by default)
//	memcached_expire_time  seconds or a Go duration: server-side expiry of values
//	socket_timeout         seconds or a Go duration (python-memcached's name): Timeout
//	dead_retry             seconds or a Go duration (python-memcached's name): DeadRetry; 0 never skips
//	max_idle_conns         idle connections kept per server
//	behaviors              pylibmc behaviors, mapped where they mean something
//	binary                 pylibmc's binary protocol switch: ignored (the text protocol is used)
//
// Any other argument is an error naming it.
func ParseArgs(args dogpile.Args) (Options, error) {
	var o Options
	if err := args.Known(knownArgs...); err != nil {
		return o, err
	}
	var err error
	if o.Servers, err = args.Strings("url"); err != nil {
		return o, err
	}
	if len(o.Servers) == 0 {
		return o, &dogpile.ArgError{Name: "url", Reason: `required: a server ("127.0.0.1:11211"), a comma-separated string or a list of them`}
	}
	if o.DistributedLock, err = args.Bool("distributed_lock", false); err != nil {
		return o, err
	}
	if o.LockTimeout, err = args.Duration("lock_timeout", 0); err != nil {
		return o, err
	}
	if args.Has("lock_timeout") && o.LockTimeout < time.Second {
		return o, &dogpile.ArgError{Name: "lock_timeout", Value: args["lock_timeout"],
			Reason: "want at least 1 second: Memcached expires items in whole seconds, and a lock must expire so that a crashed holder's lock ends"}
	}
	if o.LockSleep, err = args.Duration("lock_sleep", 0); err != nil {
		return o, err
	}
	if args.Has("lock_sleep") && o.LockSleep <= 0 {
		return o, &dogpile.ArgError{Name: "lock_sleep", Value: args["lock_sleep"], Reason: "must be positive"}
	}
	if o.LockPrefix, err = args.String("lock_prefix", ""); err != nil {
		return o, err
	}
	if args.Has("lock_prefix") {
		if err := checkLockPrefix(o.LockPrefix); err != nil {
			return o, &dogpile.ArgError{Name: "lock_prefix", Value: o.LockPrefix, Reason: err.Error()}
		}
	}
	if o.TTL, err = args.Duration("memcached_expire_time", 0); err != nil {
		return o, err
	}
	if o.MaxIdleConns, err = args.Int("max_idle_conns", 0); err != nil {
		return o, err
	}
	if o.MaxIdleConns < 0 {
		return o, &dogpile.ArgError{Name: "max_idle_conns", Value: o.MaxIdleConns, Reason: "negative"}
	}
	if _, err = args.Bool("binary", false); err != nil {
		return o, err
	}
	if err = parseBehaviors(args, &o); err != nil {
		return o, err
	}
	// The python-memcached names, when given, win over the behaviors.
	if args.Has("socket_timeout") {
		if o.Timeout, err = args.Duration("socket_timeout", 0); err != nil {
			return o, err
		}
	}
	if args.Has("dead_retry") {
		d, err := args.Duration("dead_retry", 0)
		if err != nil {
			return o, err
		}
		o.DeadRetry = d
		if d == 0 {
			o.DeadRetry = -1 // python-memcached's 0: retry at once
		}
	}
	return o, nil
}

// parseBehaviors maps pylibmc's behaviors: the distribution ("ketama",
// "ketama_weighted", "distribution") and the timeouts, in pylibmc's units
// (connect_timeout in ms, send_timeout and receive_timeout in µs,
// retry_timeout and dead_timeout in s); a Go duration string is taken as it
// is. Behaviors that mean nothing here are accepted (ignoredBehaviors);
// others are an error.
func parseBehaviors(args dogpile.Args, o *Options) error {
	beh, err := args.Map("behaviors")
	if err != nil || beh == nil {
		return err
	}
	names := make([]string, 0, len(beh))
	for k := range beh {
		names = append(names, k)
	}
	sort.Strings(names) // errors name the same behavior every run
	for _, k := range names {
		name := "behaviors." + k
		bad := func(reason string) error { return &dogpile.ArgError{Name: name, Value: beh[k], Reason: reason} }
		switch k {
		case "ketama", "ketama_weighted":
			on, err := beh.Bool(k, false)
			if err != nil {
				return bad("want true or false")
			}
			switch {
			case on && k == "ketama_weighted":
				o.Distribution = KetamaWeighted
			case on:
				if o.Distribution != KetamaWeighted { // ketama_weighted implies ketama
					o.Distribution = Ketama
				}
			case k == "ketama" && !beh.Has("ketama_weighted") && !beh.Has("distribution"):
				o.Distribution = Modula // libmemcached: ketama off is modula
			}
		case "distribution":
			s, err := beh.String(k, "")
			if err != nil {
				return bad("want a distribution name")
			}
			switch strings.ToLower(strings.TrimSpace(s)) {
			case "consistent", "consistent ketama", "ketama":
				o.Distribution = Ketama
			case "consistent weighted", "ketama weighted", "ketama_weighted":
				o.Distribution = KetamaWeighted
			case "modula":
				o.Distribution = Modula
			default:
				return bad(`want "consistent ketama", "consistent weighted" or "modula"`)
			}
		case "connect_timeout":
			if o.ConnectTimeout, err = behaviorDuration(beh, k, time.Millisecond); err != nil {
				return bad(err.Error())
			}
		case "send_timeout", "receive_timeout":
			d, err := behaviorDuration(beh, k, time.Microsecond)
			if err != nil {
				return bad(err.Error())
			}
			o.Timeout = max(o.Timeout, d) // one timeout bounds both directions here
		case "retry_timeout", "dead_timeout":
			d, err := behaviorDuration(beh, k, time.Second)
			if err != nil {
				return bad(err.Error())
			}
			if d == 0 {
				d = -1
			}
			if o.DeadRetry == 0 || d > o.DeadRetry {
				o.DeadRetry = d
			}
		default:
			if _, ok := ignoredBehaviors[k]; !ok {
				return bad(fmt.Sprintf("not supported (supported: ketama, ketama_weighted, distribution, connect_timeout, send_timeout, receive_timeout, retry_timeout, dead_timeout; accepted and ignored: %s)", strings.Join(sortedKeys(ignoredBehaviors), ", ")))
			}
		}
	}
	return nil
}

// behaviorDuration reads a pylibmc timeout: a number in unit, or a Go
// duration string.
func behaviorDuration(beh dogpile.Args, k string, unit time.Duration) (time.Duration, error) {
	if s, ok := beh[k].(string); ok {
		if _, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err != nil {
			d, err := time.ParseDuration(strings.TrimSpace(s))
			if err != nil || d < 0 {
				return 0, fmt.Errorf("want a number of %v or a Go duration such as \"500ms\"", unit)
			}
			return d, nil
		}
	}
	n, err := beh.Int(k, 0)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("want a whole number of %v or a Go duration such as \"500ms\"", unit)
	}
	return time.Duration(n) * unit, nil
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
