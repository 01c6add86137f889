#!/usr/bin/python3
"""Python dogpile.cache (the seed) on the bench workloads it can run.

Run with the system interpreter, which has the OS packages:

    apt-get install -y python3-dogpile.cache python3-redis python3-pymemcache
    /usr/bin/python3 bench/python/dogpile_bench.py --runs 5 --out py.json

It starts its own redis-server and memcached on free 127.0.0.1 ports and
stops them at the end. Workloads (numbered as in bench/RESULTS.md):

  1  memory hit, serial (parallel reads are serialised by the GIL: not run)
  2  cold-key stampede: 1,000 threads, creator 50 ms
  3  expired-key stampede with a stale value: same
  4  Redis hit and memcached hit (one key, serial)
  5  distributed stampede: 4 processes x 50 threads on Redis, distributed_lock

Each figure is the median over --runs runs. The output is one JSON object:
{"machine": ..., "rows": [{"workload", "lib", "metrics": {name: value}}]}.
"""

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time

import dogpile
from dogpile.cache import make_region

CALLERS = 1000
CREATOR_S = 0.050
DIST_PROCS = 4
DIST_THREADS = 50


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A redis-server or memcached on a free loopback port."""

    def __init__(self, argv_for_port):
        for _ in range(5):
            self.port = free_port()
            self.proc = subprocess.Popen(argv_for_port(self.port), stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
            deadline = time.time() + 5
            while time.time() < deadline and self.proc.poll() is None:
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=0.1).close()
                    return
                except OSError:
                    time.sleep(0.005)
            self.stop()
        raise RuntimeError("could not start %s" % argv_for_port(0)[0])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(2)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def need(binary, package):
    if shutil.which(binary) is None:
        sys.exit("%s not found; install it with: apt-get install -y %s" % (binary, package))


def start_redis():
    need("redis-server", "redis-server")
    return Server(lambda p: ["redis-server", "--port", str(p), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no"])


def start_memcached():
    need("memcached", "memcached")
    extra = ["-u", "root"] if os.geteuid() == 0 else []
    return Server(lambda p: ["memcached", "-p", str(p), "-l", "127.0.0.1", "-U", "0"] + extra)


def quantile(sorted_vals, q):
    """Nearest rank, as the Go side's Quantile."""
    if not sorted_vals:
        return 0.0
    i = int(q * len(sorted_vals) + 0.5)
    if i > 0:
        i -= 1
    return sorted_vals[min(i, len(sorted_vals) - 1)]


def memory_region(expiration):
    return make_region().configure("dogpile.cache.memory", expiration_time=expiration)


def hit_ns(region, key, n):
    creator = lambda: "value:" + key  # noqa: E731
    region.get_or_create(key, creator)
    t0 = time.perf_counter_ns()
    for _ in range(n):
        region.get_or_create(key, creator)
    return (time.perf_counter_ns() - t0) / n


def stampede(region, key, threads):
    """threads callers at once on key; returns (creator calls, sorted latencies in µs)."""
    calls = [0]
    lock = threading.Lock()

    def creator():
        with lock:
            calls[0] += 1
        time.sleep(CREATOR_S)
        return "fresh"

    barrier = threading.Barrier(threads)
    ts, lat = start_callers(region, key, creator, threads, barrier.wait)
    for t in ts:
        t.join()
    return calls[0], sorted(lat)


def start_callers(region, key, creator, n, gate):
    """Starts n threads that each wait for gate() to return, then time one
    region.get_or_create(key, creator); returns the threads and the list
    their latencies (µs) go to."""
    lat = [0.0] * n

    def caller(i):
        gate()
        t0 = time.perf_counter()
        region.get_or_create(key, creator)
        lat[i] = (time.perf_counter() - t0) * 1e6

    ts = [threading.Thread(target=caller, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    return ts, lat


def stampede_metrics(results):
    """Medians over runs of creator calls and latency quantiles; all latencies kept."""
    calls = [c for c, _ in results]
    return {
        "creator-calls/op": statistics.median(calls),
        "p50-µs": statistics.median(quantile(l, 0.5) for _, l in results),
        "p99-µs": statistics.median(quantile(l, 0.99) for _, l in results),
        "max-µs": statistics.median(l[-1] for _, l in results),
    }


def worker(redis_port, key):
    """One process of the distributed stampede (run with --worker)."""
    import redis
    counter = redis.Redis(host="127.0.0.1", port=redis_port)
    region = make_region().configure("dogpile.cache.redis", expiration_time=3600, arguments={
        "host": "127.0.0.1", "port": redis_port, "distributed_lock": True,
        "thread_local_lock": False, "redis_expiration_time": 3600})

    def creator():
        counter.incr(key + ":calls")
        time.sleep(CREATOR_S)
        return "value"

    # Warm up on another key so that connections exist before the start.
    warm = key + ":warm:%d" % os.getpid()
    ws = [threading.Thread(target=region.get_or_create, args=(warm, lambda: "w")) for _ in range(DIST_THREADS)]
    for t in ws:
        t.start()
    for t in ws:
        t.join()
    go = threading.Event()
    ts, lat = start_callers(region, key, creator, DIST_THREADS, go.wait)
    print("ready", flush=True)
    if sys.stdin.readline() != "go\n":
        sys.exit("want go")
    go.set()
    for t in ts:
        t.join()
    print(json.dumps({"latency_us": lat}), flush=True)


def distributed(redis_port, run):
    import redis
    key = "pydist:%d:%d:%d" % (os.getpid(), time.time_ns(), run)
    procs = [subprocess.Popen([sys.executable, __file__, "--worker", str(redis_port), key],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
             for _ in range(DIST_PROCS)]
    for p in procs:
        if p.stdout.readline() != "ready\n":
            raise RuntimeError("worker did not start")
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    lat = []
    for p in procs:
        lat += json.loads(p.stdout.readline())["latency_us"]
        p.stdin.close()
        p.wait()
    calls = int(redis.Redis(host="127.0.0.1", port=redis_port).get(key + ":calls"))
    return calls, sorted(lat)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out", default="-")
    ap.add_argument("--latency-dir", default="", help="write raw stampede latencies here, for the plots")
    ap.add_argument("--worker", nargs=2, metavar=("REDIS_PORT", "KEY"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        worker(int(a.worker[0]), a.worker[1])
        return

    rows = []
    lib = "python-dogpile"

    t = [time.time()]

    def row(workload, metrics):
        rows.append({"workload": workload, "lib": lib, "metrics": metrics})
        print("%-20s %5.1fs %s" % (workload, time.time() - t[0], metrics), file=sys.stderr)
        t[0] = time.time()

    def dump(workload, results):
        if not a.latency_dir:
            return
        d = os.path.join(a.latency_dir, workload)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, lib + ".txt"), "w") as f:
            for _, lat in results:
                f.writelines("%.1f\n" % v for v in lat)

    # 1: memory hit, serial.
    n = 50_000
    row("memory-hit-serial", {"ns/op": statistics.median(
        hit_ns(memory_region(3600), "key", n) for _ in range(a.runs))})

    # 2: cold stampede.
    cold = [stampede(memory_region(3600), "key:%d" % i, CALLERS) for i in range(a.runs)]
    row("stampede-cold", stampede_metrics(cold))
    dump("stampede-cold", cold)

    # 3: expired stampede. The value is set, then soft-invalidated: it is
    # then expired (served stale while one thread regenerates it) and the
    # new one is fresh for an hour. (The Go side waits a 100 ms expiration
    # time out instead; Python's 1,000 threads take longer than that to all
    # get the GIL once, so the new value would expire during the run.)
    expired = []
    for i in range(a.runs):
        r = memory_region(3600)
        r.set("key:%d" % i, "stale")
        time.sleep(0.001)  # the invalidation time must be later than the value's
        r.invalidate(hard=False)
        expired.append(stampede(r, "key:%d" % i, CALLERS))
    row("stampede-expired", stampede_metrics(expired))
    dump("stampede-expired", expired)

    redis_srv = start_redis()
    mc_srv = start_memcached()
    try:
        # 4: remote hits.
        n = 5_000
        rr = make_region().configure("dogpile.cache.redis", expiration_time=3600, arguments={
            "host": "127.0.0.1", "port": redis_srv.port, "distributed_lock": True,
            "thread_local_lock": False, "redis_expiration_time": 3600})
        row("redis-hit", {"ns/op": statistics.median(hit_ns(rr, "hit", n) for _ in range(a.runs))})
        mr = make_region().configure("dogpile.cache.pymemcache", expiration_time=3600, arguments={
            "url": "127.0.0.1:%d" % mc_srv.port})
        row("memcached-hit", {"ns/op": statistics.median(hit_ns(mr, "hit", n) for _ in range(a.runs))})

        # 5: distributed stampede.
        dist = [distributed(redis_srv.port, i) for i in range(a.runs)]
        row("distributed", stampede_metrics(dist))
        dump("distributed", dist)
    finally:
        redis_srv.stop()
        mc_srv.stop()

    out = {
        "python": platform.python_version(),
        "dogpile": dogpile.__version__,
        "runs": a.runs,
        "rows": rows,
    }
    if a.out == "-":
        json.dump(out, sys.stdout, indent=1)
    else:
        with open(a.out, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
