package luascript_test

import (
	"context"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/gesgo/ges/internal/luascript"
	"github.com/gesgo/ges/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

var incr = redis.NewScript(`return redis.call('INCRBY', KEYS[1], ARGV[1])`)

// A server that does not know the script yet (new, restarted or flushed)
// runs each call exactly once all the same.
func TestExecLoadsUnknownScripts(t *testing.T) {
	r := testenv.StartRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr})
	defer rdb.Close()
	ctx := context.Background()
	for round := range 2 {
		if err := rdb.ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		var calls []*redis.Cmd
		cmds, err := luascript.Exec(ctx, rdb, []*redis.Script{incr}, func(p redis.Pipeliner) {
			calls = calls[:0]
			for range 3 {
				calls = append(calls, incr.EvalSha(ctx, p, []string{"n"}, 2))
			}
			p.Get(ctx, "n")
		})
		if err != nil {
			t.Fatal(err)
		}
		want := int64(6 * (round + 1))
		if got, _ := rdb.Get(ctx, "n").Int64(); got != want {
			t.Fatalf("round %d: n = %d, want %d (each call once)", round, got, want)
		}
		if v, _ := calls[2].Int64(); v != want {
			t.Fatalf("answer of the last call = %d, want %d", v, want)
		}
		if len(cmds) != 4 {
			t.Fatalf("%d commands", len(cmds))
		}
	}
}
