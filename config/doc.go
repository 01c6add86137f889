// Package config makes dogpile regions from a configuration file — TOML,
// YAML or INI, chosen by the file's extension — with the key names of Python
// dogpile.cache's configure_from_config under a prefix per region, so that
// one call returns every region an application uses, configured:
//
//	cfg, err := config.Load("dogpile.toml")
//	if err != nil {
//		log.Fatal(err) // dogpile.toml:4: cache.local.expiraton_time: unknown key; did you mean cache.local.expiration_time?
//	}
//	defer cfg.Close()
//	users, err := cfg.Region("users") // a *dogpile.Region, configured
//
// The settings are those dogpile.Region.ConfigureFromMap takes, with the same
// meaning and the same errors: a region moves between a map and a file
// unchanged.
//
// # Keys
//
// Each region is configured by the keys under cache.<region>. (the prefix is
// "cache" unless WithPrefix says otherwise); keys outside the prefix are the
// application's own settings and are left alone.
//
//	key                        value
//	backend                    a registered backend name, or one of Python dogpile.cache's
//	                           dotted names ("dogpile.cache.redis"); required
//	expiration_time            seconds, or a Go duration ("10m"); none if absent or 0
//	arguments.<name>           the backend's argument <name> (see each backend's documentation)
//	metrics                    true: count hits, misses, … (dogpile.WithMetrics; Region.Stats)
//	shared_invalidation        keep invalidations in the backend, for every process
//	                           (dogpile.SharedInvalidation): true or 0 to read them with every
//	                           value, a duration ("30s") to re-read them at most that often;
//	                           false turns it off (0 does not: it is a refresh interval of 0)
//	key_mangler                "sha1": store keys as their SHA-1 (dogpile.SHA1Mangler); "none": as
//	                           they are, without the backend's default mangler (Memcached's hashes
//	                           the keys Memcached would refuse)
//	codec                      a registered codec: "default", "json", or "msgpack" with
//	                           _ "github.com/dogpile-go/dogpile/codec/msgpack" imported
//	compress                   "s2" or "zstd" with _ "github.com/dogpile-go/dogpile/codec/compress"
//	                           imported: compress values whose encoding is large; "none": don't
//	compress_min_bytes         the encoded size from which values are compressed (1024 if 0);
//	                           min_compress_len, Python dogpile.cache's memcached argument, is
//	                           another name for it, also under arguments, and without compress
//	                           means S2
//	key_prefix                 begins every key the region stores ("users:"), so that regions
//	                           can share a store (dogpile.WithKeyPrefix)
//	signing_keys               a list of keys, each at least 16 bytes: entries are signed with
//	                           the first and accepted when signed with any (dogpile.WithSigning);
//	                           ["${DOGPILE_SIGNING_KEY}"] keeps them out of the file
//	replace_existing_backend   Python dogpile.cache's option for reconfiguring a live region;
//	                           a region made here has nothing to replace
//
// Keys may be flat ("cache.local.arguments.url", as INI files and Python's
// configure_from_config write them) or nested (tables and mappings, as TOML
// and YAML users write them), or a mix; both mean the same. A flat key deeper
// than an argument name makes a nested argument:
// arguments.connection_kwargs.password is the password in the
// connection_kwargs map. A list in an INI file is one value of
// comma-separated items (signing_keys = ${OLD_KEY},${NEW_KEY}).
//
// TOML:
//
//	[cache.local]
//	backend = "file"
//	expiration_time = "10m"
//	shared_invalidation = true
//	arguments.filename = "/var/cache/myapp/cache.db"
//
//	[cache.shared]
//	backend = "redis"
//	expiration_time = 3600
//	arguments = { url = "redis://cache.internal:6379/0", password = "${REDIS_PASSWORD}", distributed_lock = true }
//
// YAML:
//
//	cache:
//	  shared:
//	    backend: redis
//	    expiration_time: 1h
//	    arguments:
//	      url: redis://cache.internal:6379/0
//	      password: ${REDIS_PASSWORD}
//
// INI, as Python applications have it in an application's section, or in
// [cache.<region>] sections whose keys are relative to the section's name:
//
//	[app:main]
//	cache.local.backend = dogpile.cache.dbm
//	cache.local.expiration_time = 600
//	cache.local.arguments.filename = /var/cache/myapp/cache.db
//
//	[cache.shared]
//	backend = redis
//	arguments.url = redis://cache.internal:6379/0
//
// The INI reader follows Python's configparser defaults: "=" or ":"
// between key and value, # and ; comment lines, indented continuation
// lines, keys lowercased, values as written (quotes are kept; no inline
// comments). It is strict: a key or section given twice is an error. The
// %(name)s interpolation is not supported; a value containing "%(" is an
// error that says to use ${VAR}.
//
// # Environment variables
//
// ${VAR} in a value is replaced by the environment variable VAR, and
// ${VAR:-default} by VAR or, when it is unset or empty, default: secrets
// stay out of the file. A default may hold references of its own
// (${CACHE_DIR:-${HOME}/.cache}), expanded only when the default is taken.
// An unset variable without a default is an error naming it. $${ is a
// literal "${"; a $ not followed by { is left alone. Keys are never
// expanded.
//
// # Errors
//
// A mistake in the file is an *Error naming the file, the line (TOML and
// YAML decoders report it; the INI reader tracks it), the key and what is
// wrong, with the closest known key when one is misspelt:
//
//	dogpile.toml:4: cache.local.expiraton_time: unknown key; did you mean cache.local.expiration_time?
//	dogpile.yaml:4: cache.local.backend: unknown backend "fiel"; did you mean "file"? (registered: file, memcached, …)
//	dogpile.ini:4: cache.local.expiration_time: want seconds or a Go duration such as "90s" or "1h", not "10 minutes"
//	dogpile.toml:4: cache.shared.arguments.password: environment variable REDIS_PASSWORD is not set (set it, or give a default: ${REDIS_PASSWORD:-value})
//	dogpile.toml: no such configuration file
//
// The first mistake in file order is reported. No message shows a secret:
// the value of a key whose name says it is one (password, token,
// signing_keys, …) and the password of a URL are masked. Load only sees
// backends and codecs that are registered: import the packages the file
// names (for example _ "github.com/dogpile-go/dogpile/backends/redis").
//
// # Reading without connecting
//
// Read checks a file without making any backend and returns each region's
// settings (RegionConfig); RegionConfig.Open makes one region. The dogpile
// command uses them to open only the region it is asked about.
package config
