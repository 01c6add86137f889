module github.com/dogpile-go/dogpile/integration

go 1.26.0

require github.com/dogpile-go/dogpile v0.0.0

replace github.com/dogpile-go/dogpile => ..

require github.com/dogpile-go/dogpile/backends/file v0.0.0

replace github.com/dogpile-go/dogpile/backends/file => ../backends/file

require github.com/dogpile-go/dogpile/backends/memcached v0.0.0

replace github.com/dogpile-go/dogpile/backends/memcached => ../backends/memcached

require (
	github.com/dogpile-go/dogpile/backends/redis v0.0.0
	github.com/redis/go-redis/v9 v9.23.0
	go.uber.org/goleak v1.3.0
)

require (
	github.com/bradfitz/gomemcache v0.0.0-20260422231931-4d751bb6e37c // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/dustin/go-humanize v1.1.0 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/klauspost/compress v1.20.4 // indirect
	github.com/mattn/go-isatty v0.0.24 // indirect
	github.com/maypok86/otter/v2 v2.4.0 // indirect
	github.com/ncruces/go-strftime v1.1.0 // indirect
	github.com/pelletier/go-toml/v2 v2.4.3 // indirect
	github.com/puzpuzpuz/xsync/v4 v4.5.0 // indirect
	github.com/remyoudompheng/bigfft v0.0.0-20230129092748-24d4a6f8daec // indirect
	go.uber.org/atomic v1.12.0 // indirect
	go.yaml.in/yaml/v3 v3.0.6 // indirect
	golang.org/x/sys v0.50.0 // indirect
	modernc.org/libc v1.80.1 // indirect
	modernc.org/mathutil v1.7.1 // indirect
	modernc.org/memory v1.12.1 // indirect
)

replace github.com/dogpile-go/dogpile/backends/redis => ../backends/redis

require (
	github.com/dogpile-go/dogpile/codec/compress v0.0.0
	github.com/dogpile-go/dogpile/config v0.0.0
	modernc.org/sqlite v1.62.0
)

replace github.com/dogpile-go/dogpile/config => ../config

replace github.com/dogpile-go/dogpile/codec/compress => ../codec/compress
