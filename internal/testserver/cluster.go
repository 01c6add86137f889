package testserver

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Cluster is a Redis Cluster of masters without replicas, each a
// redis-server on a loopback port.
type Cluster struct {
	Nodes []*Process
}

// Addrs returns the nodes' "127.0.0.1:port" addresses.
func (c *Cluster) Addrs() []string { return addrs(c.Nodes) }

// addrs returns the processes' "127.0.0.1:port" addresses.
func addrs(ps []*Process) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Addr()
	}
	return out
}

// Stop stops every node.
func (c *Cluster) Stop() {
	for _, n := range c.Nodes {
		n.Stop()
	}
}

// StartCluster starts a Redis Cluster of three masters (the slots split in
// three by redis-cli --cluster create), waits until every node reports
// cluster_state:ok and knows every other, and stops it when the test ends.
// It takes about two seconds.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	NeedRedis(t)
	// A free port can be taken by another test before the node binds it (or
	// its cluster bus, port+10000, can be in use): start again on new ports.
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		var c *Cluster
		if c, err = startCluster(t, t.TempDir(), 3); err == nil {
			t.Cleanup(c.Stop)
			return c
		}
		t.Logf("testserver: cluster start failed, retrying on new ports: %v", err)
	}
	t.Fatal(err)
	return nil
}

func startCluster(t testing.TB, dir string, masters int) (*Cluster, error) {
	server, cli, err := lookRedis()
	if err != nil {
		return nil, err
	}
	c := &Cluster{}
	fail := func(err error) (*Cluster, error) {
		c.Stop()
		return nil, err
	}
	for i := range masters {
		d := filepath.Join(dir, "node"+strconv.Itoa(i))
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fail(err)
		}
		p := newRedisProcess(t, server, d,
			"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "5000",
		)
		p.Name = fmt.Sprintf("cluster node %d :%d", i, p.Port)
		if err := p.start(); err != nil {
			return fail(err)
		}
		c.Nodes = append(c.Nodes, p)
	}
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		return fail(fmt.Errorf("testserver: redis-cli %s: %v\n%s", strings.Join(args, " "), err, out))
	}
	// redis-cli returns once the slots are assigned; the nodes still have to
	// gossip until each one sees the whole cluster.
	err = WaitFor(15*time.Second, "cluster_state:ok on every node", func(ctx context.Context) error {
		for _, n := range c.Nodes {
			v, err := Do(ctx, n.Addr(), "cluster", "info")
			if err != nil {
				return err
			}
			info, _ := v.(string)
			if !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_known_nodes:"+strconv.Itoa(masters)) {
				return fmt.Errorf("%w: %s: %s", ErrNotYet, n.Addr(), firstLines(info, 3))
			}
		}
		return nil
	})
	if err != nil {
		return fail(err)
	}
	return c, nil
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(strings.ReplaceAll(s, "\r", ""), "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "; ")
}
