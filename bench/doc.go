// Package bench measures dogpile side by side with the Go caching libraries
// people reach for — maypok86/otter v2, viccon/sturdyc, eko/gocache,
// go-redis/cache, plain go-redis and gomemcache, and the map/sync.Map +
// singleflight baselines — on the workloads of RESULTS.md, in one run, on the
// same machine and servers. Python's dogpile.cache runs beside it
// (python/dogpile_bench.py).
//
// It is a module of its own (github.com/dogpile-go/dogpile/bench) so that
// the library's go.mod carries none of the peers. Run everything with
//
//	bench/run
//
// which writes bench/RESULTS.md and the plots in bench/plots/.
package bench
