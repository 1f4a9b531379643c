// A realistic workload with go-redis against ADDR (a redkube proxy or a plain
// redis-server): strings, hashes, a pipeline, a transaction, a Lua script,
// pub/sub, a blocking pop and SCAN. Exits 1 naming the first check that
// failed. Multi-key operations use hash tags so their keys share a slot.
// With -cluster, the same through go-redis's ClusterClient started from
// ADDR alone (cluster.go).
//
//	go run . -addr 127.0.0.1:6380 [-password P] [-cluster [-readonly]]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

func check(ok bool, format string, args ...any) {
	if !ok {
		fmt.Printf("FAIL: "+format+"\n", args...)
		os.Exit(1)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		fmt.Printf("FAIL: %v\n", err)
		os.Exit(1)
	}
	return v
}

func main() {
	addr := flag.String("addr", "127.0.0.1:6379", "host:port")
	password := flag.String("password", "", "AUTH password")
	prefix := flag.String("prefix", "go", "key prefix")
	// 0: go-redis's own choice (v9: HELLO 3, RESP3 when it succeeds).
	protocol := flag.Int("protocol", 0, "RESP version to ask for (2, 3; 0: the library's default)")
	cluster := flag.Bool("cluster", false, "use a ClusterClient started from -addr")
	readOnly := flag.Bool("readonly", false, "with -cluster: read from replicas (READONLY)")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if *cluster {
		clusterWorkload(ctx, *addr, *password, *prefix, *readOnly)
		return
	}
	rdb := redis.NewClient(&redis.Options{Addr: *addr, Password: *password, Protocol: *protocol})
	defer rdb.Close()
	p := *prefix

	// Strings and hashes.
	must(rdb.Set(ctx, p+":s", "hello", 0).Result())
	check(must(rdb.Get(ctx, p+":s").Result()) == "hello", "GET")
	check(must(rdb.Incr(ctx, p+":n").Result()) == 1, "INCR")
	must(rdb.HSet(ctx, p+":h", "a", "1", "b", "2").Result())
	h := must(rdb.HGetAll(ctx, p+":h").Result())
	check(h["a"] == "1" && h["b"] == "2" && len(h) == 2, "HGETALL %v", h)

	// A pipeline of 100 SETs, then MGET over keys of every shard.
	pipe := rdb.Pipeline()
	keys := []string{}
	for i := 0; i < 100; i++ {
		k := fmt.Sprintf("%s:p%d", p, i)
		keys = append(keys, k)
		pipe.Set(ctx, k, i, 0)
	}
	must(pipe.Exec(ctx))
	values := must(rdb.MGet(ctx, keys...).Result())
	for i, v := range values {
		check(v == fmt.Sprint(i), "MGET %d = %v", i, v)
	}

	// A transaction (MULTI/EXEC) on one slot.
	tx := rdb.TxPipeline()
	incr := tx.IncrBy(ctx, "{"+p+"}:acct", 10)
	tx.LPush(ctx, "{"+p+"}:log", "deposit")
	must(tx.Exec(ctx))
	check(incr.Val() == 10, "EXEC INCRBY %d", incr.Val())
	// WATCH-based optimistic update.
	err := rdb.Watch(ctx, func(t *redis.Tx) error {
		n := must(t.Get(ctx, "{"+p+"}:acct").Int())
		_, err := t.TxPipelined(ctx, func(pp redis.Pipeliner) error {
			pp.Set(ctx, "{"+p+"}:acct", n*2, 0)
			return nil
		})
		return err
	}, "{"+p+"}:acct")
	check(err == nil, "WATCH transaction: %v", err)
	check(must(rdb.Get(ctx, "{"+p+"}:acct").Result()) == "20", "after WATCH")

	// A Lua script (EVALSHA, loaded on demand by go-redis).
	script := redis.NewScript(`return redis.call('INCRBY', KEYS[1], ARGV[1]) + redis.call('INCRBY', KEYS[2], ARGV[1])`)
	sum := must(script.Run(ctx, rdb, []string{"{" + p + "}:x", "{" + p + "}:y"}, 5).Int64())
	check(sum == 10, "script %d", sum)

	// Pub/sub.
	sub := rdb.Subscribe(ctx, p+":events")
	defer sub.Close()
	must(sub.Receive(ctx)) // the subscribe confirmation
	check(must(rdb.Publish(ctx, p+":events", "ping").Result()) == 1, "PUBLISH receivers")
	msg := must(sub.ReceiveMessage(ctx))
	check(msg.Channel == p+":events" && msg.Payload == "ping", "message %v", msg)

	// A blocking pop released by a push from another connection.
	go func() {
		time.Sleep(100 * time.Millisecond)
		rdb.RPush(ctx, p+":queue", "job")
	}()
	popped := must(rdb.BLPop(ctx, 5*time.Second, p+":queue").Result())
	check(len(popped) == 2 && popped[1] == "job", "BLPOP %v", popped)

	// SCAN finds every pipelined key.
	found := map[string]bool{}
	iter := rdb.Scan(ctx, 0, p+":p*", 50).Iterator()
	for iter.Next(ctx) {
		found[iter.Val()] = true
	}
	must(0, iter.Err())
	check(len(found) == 100, "SCAN found %d keys", len(found))
	sorted := make([]string, 0, len(found))
	for k := range found {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	// The protocol the server (or proxy) speaks to this client: CLIENT INFO's
	// resp= field (a verbatim string in RESP3, a bulk string in RESP2).
	info := must(rdb.Do(ctx, "CLIENT", "INFO").Text())
	resp := "?"
	for _, field := range strings.Fields(info) {
		if strings.HasPrefix(field, "resp=") {
			resp = field
		}
	}
	fmt.Println("OK go-redis", len(sorted), "keys scanned", resp)
}
