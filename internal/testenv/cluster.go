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
		r := startClusterNode(t)
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

// startClusterNode starts one cluster-enabled server. A cluster node also
// listens on its port + 10000 (the cluster bus), which no reservation
// covers and another process may hold: such a start is retried on other
// ports.
func startClusterNode(t testing.TB) *Redis {
	t.Helper()
	for attempt := 1; ; attempt++ {
		r := &Redis{t: t, bin: redisServerBin(t), dir: t.TempDir()}
		r.Port = FreePort(t)
		if !portBindable(r.Port + 10000) {
			continue
		}
		r.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(r.Port))
		r.args = []string{"--cluster-enabled", "yes", "--cluster-config-file", "nodes-" + strconv.Itoa(r.Port) + ".conf"}
		err := r.start()
		if err == nil {
			return r
		}
		if attempt < 5 {
			r.Proc.Stop()
			continue
		}
		r.fail(err)
	}
}

// WaitClusterWritable waits until every master of the cluster behind rdb
// takes writes: the seed node reports the cluster ok before the others
// have all caught up.
func WaitClusterWritable(t testing.TB, rdb redis.UniversalClient) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; i < 30; {
		err := rdb.Set(ctx, "ready:{"+strconv.Itoa(i)+"}", "1", time.Minute).Err()
		if err == nil {
			i++
			continue
		}
		if time.Now().After(deadline) {
			t.Fatalf("testenv: the cluster takes no writes: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
