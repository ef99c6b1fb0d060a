package testenv

import (
	"context"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// StartRedisCluster starts a Redis Cluster of three masters (no replicas)
// on loopback ports, so tests can check that every script keeps to one
// slot. The first node's address is the seed.
func StartRedisCluster(t testing.TB) []*Redis {
	t.Helper()
	var nodes []*Redis
	var addrs []string
	for range 3 {
		r := &Redis{t: t, bin: redisServerBin(t), dir: t.TempDir()}
		r.Port = FreePort(t)
		r.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(r.Port))
		r.args = []string{"--cluster-enabled", "yes", "--cluster-config-file", "nodes-" + strconv.Itoa(r.Port) + ".conf"}
		if err := r.start(); err != nil {
			r.fail(err)
		}
		nodes = append(nodes, r)
		addrs = append(addrs, r.Addr)
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Fatal("testenv: redis-cli is needed for a Redis Cluster")
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("testenv: redis-cli --cluster create: %v\n%s", err, out)
	}
	c := redis.NewClient(&redis.Options{Addr: addrs[0]})
	defer c.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		info, _ := c.ClusterInfo(context.Background()).Result()
		if strings.Contains(info, "cluster_state:ok") {
			return nodes
		}
		if time.Now().After(deadline) {
			t.Fatalf("testenv: the Redis Cluster did not become ok:\n%s", info)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
