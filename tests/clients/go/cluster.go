package main

import (
	"context"
	"fmt"
	"sync"

	"github.com/redis/go-redis/v9"
)

// clusterWorkload runs go-redis's ClusterClient, given one proxy's address,
// through strings, a pipeline, multi-key commands and a transaction on
// hash-tagged keys, a script, pub/sub, SCAN over every master (each key
// exactly once) and DBSIZE (summed over the masters: the number of keys).
// The servers must hold no other keys.
func clusterWorkload(ctx context.Context, addr, password, p string, readOnly bool) {
	rdb := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs: []string{addr}, Password: password, Protocol: 2, ReadOnly: readOnly, RouteRandomly: readOnly,
	})
	defer rdb.Close()

	slots := must(rdb.ClusterSlots(ctx).Result())
	check(len(slots) == 1 && slots[0].Start == 0 && slots[0].End == 16383 && len(slots[0].Nodes) >= 1,
		"CLUSTER SLOTS %v", slots)
	masters := 0
	must(0, rdb.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		masters++
		return nil
	}))
	check(masters == 1, "%d masters", masters)

	must(rdb.Set(ctx, p+":s", "hello", 0).Result())
	check(must(rdb.Get(ctx, p+":s").Result()) == "hello", "GET")
	check(must(rdb.Incr(ctx, p+":n").Result()) == 1, "INCR")

	// A pipeline of 100 SETs over every slot, read back by a pipeline.
	pipe := rdb.Pipeline()
	for i := 0; i < 100; i++ {
		pipe.Set(ctx, fmt.Sprintf("%s:p%d", p, i), i, 0)
	}
	must(pipe.Exec(ctx))
	reads := rdb.Pipeline()
	gets := make([]*redis.StringCmd, 100)
	for i := range gets {
		gets[i] = reads.Get(ctx, fmt.Sprintf("%s:p%d", p, i))
	}
	must(reads.Exec(ctx))
	for i, g := range gets {
		check(g.Val() == fmt.Sprint(i), "pipelined GET %d = %v", i, g.Val())
	}

	// Multi-key commands on one slot (hash tags), a transaction, a script.
	tag := "{" + p + "}"
	must(rdb.MSet(ctx, tag+":a", "1", tag+":b", "2").Result())
	values := must(rdb.MGet(ctx, tag+":a", tag+":b").Result())
	check(len(values) == 2 && values[0] == "1" && values[1] == "2", "MGET %v", values)
	tx := rdb.TxPipeline()
	incr := tx.IncrBy(ctx, tag+":acct", 10)
	tx.LPush(ctx, tag+":log", "deposit")
	must(tx.Exec(ctx))
	check(incr.Val() == 10, "EXEC INCRBY %d", incr.Val())
	script := redis.NewScript(`return redis.call('INCRBY', KEYS[1], ARGV[1]) + redis.call('INCRBY', KEYS[2], ARGV[1])`)
	sum := must(script.Run(ctx, rdb, []string{tag + ":x", tag + ":y"}, 5).Int64())
	check(sum == 10, "script %d", sum)

	// Pub/sub.
	sub := rdb.Subscribe(ctx, p+":events")
	defer sub.Close()
	must(sub.Receive(ctx))
	check(must(rdb.Publish(ctx, p+":events", "ping").Result()) == 1, "PUBLISH receivers")
	msg := must(sub.ReceiveMessage(ctx))
	check(msg.Channel == p+":events" && msg.Payload == "ping", "message %v", msg)

	// SCAN on every master: each key exactly once; DBSIZE agrees.
	var mu sync.Mutex
	seen := map[string]int{}
	must(0, rdb.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		iter := c.Scan(ctx, 0, "", 100).Iterator()
		for iter.Next(ctx) {
			mu.Lock()
			seen[iter.Val()]++
			mu.Unlock()
		}
		return iter.Err()
	}))
	for k, n := range seen {
		check(n == 1, "SCAN yielded %s %d times", k, n)
	}
	// s, n, 100 pipelined, a, b, acct, log, x, y: 108
	check(len(seen) == 108, "SCAN found %d keys", len(seen))
	size := must(rdb.DBSize(ctx).Result())
	check(size == int64(len(seen)), "DBSIZE %d, SCAN %d", size, len(seen))
	fmt.Println("OK go-redis cluster", len(seen), "keys scanned")
}
