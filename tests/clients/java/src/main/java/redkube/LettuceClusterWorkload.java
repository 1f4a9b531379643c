// Lettuce's RedisClusterClient, given one redkube proxy's address: it reads
// the topology (CLUSTER NODES) over RESP3, then strings, an unflushed
// pipeline, multi-key commands on hash-tagged keys, a script, pub/sub, and
// SCAN over every primary it was shown (each key exactly once) agreeing with
// DBSIZE. The servers must hold no other keys. Exits 1 naming the first
// check that failed.
//
//   java -cp target/classes:target/dependency/* redkube.LettuceClusterWorkload HOST PORT [PASSWORD] [PREFIX]
package redkube;

import io.lettuce.core.KeyScanCursor;
import io.lettuce.core.KeyValue;
import io.lettuce.core.LettuceFutures;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.ScanCursor;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.api.async.RedisAdvancedClusterAsyncCommands;
import io.lettuce.core.cluster.api.sync.RedisAdvancedClusterCommands;
import io.lettuce.core.cluster.pubsub.StatefulRedisClusterPubSubConnection;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import static redkube.LettuceWorkload.check;

public final class LettuceClusterWorkload {
  public static void main(String[] args) throws Exception {
    String host = args[0];
    int port = Integer.parseInt(args[1]);
    String password = args.length > 2 ? args[2] : "";
    String p = args.length > 3 ? args[3] : "lettuce";
    RedisClusterClient client = RedisClusterClient.create(LettuceWorkload.uri(host, port, password));
    try (StatefulRedisClusterConnection<String, String> conn = client.connect()) {
      check(client.getPartitions().size() >= 1, "partitions " + client.getPartitions());
      RedisAdvancedClusterCommands<String, String> c = conn.sync();
      c.set(p + ":s", "hello");
      check("hello".equals(c.get(p + ":s")), "GET");

      RedisAdvancedClusterAsyncCommands<String, String> a = conn.async();
      conn.setAutoFlushCommands(false);
      List<RedisFuture<String>> sets = new ArrayList<>();
      for (int i = 0; i < 100; i++) sets.add(a.set(p + ":p" + i, String.valueOf(i)));
      conn.flushCommands();
      check(LettuceFutures.awaitAll(Duration.ofSeconds(5), sets.toArray(new RedisFuture[0])), "pipelined SET");
      conn.setAutoFlushCommands(true);
      for (int i = 0; i < 100; i++) check(String.valueOf(i).equals(c.get(p + ":p" + i)), "GET " + i);

      String tag = "{" + p + "}";
      c.mset(Map.of(tag + ":a", "1", tag + ":b", "2"));
      List<KeyValue<String, String>> got = c.mget(tag + ":a", tag + ":b");
      check("1".equals(got.get(0).getValue()) && "2".equals(got.get(1).getValue()), "MGET " + got);
      Long sum = c.eval("return redis.call('INCRBY', KEYS[1], ARGV[1]) + redis.call('INCRBY', KEYS[2], ARGV[1])",
          ScriptOutputType.INTEGER, new String[] {tag + ":x", tag + ":y"}, "5");
      check(Long.valueOf(10).equals(sum), "script " + sum);

      try (StatefulRedisClusterPubSubConnection<String, String> ps = client.connectPubSub()) {
        CountDownLatch arrived = new CountDownLatch(1);
        AtomicReference<String> message = new AtomicReference<>();
        ps.addListener(new RedisPubSubAdapter<String, String>() {
          @Override public void message(String channel, String m) {
            message.set(channel + "=" + m);
            arrived.countDown();
          }
        });
        ps.sync().subscribe(p + ":events");
        check(c.publish(p + ":events", "ping") == 1, "PUBLISH receivers");
        check(arrived.await(5, TimeUnit.SECONDS), "message arrived");
        check((p + ":events=ping").equals(message.get()), "message " + message.get());
      }

      // The advanced cluster SCAN walks every primary of the topology in
      // turn: a key seen twice would mean two nodes claimed the keyspace.
      Map<String, Integer> seen = new HashMap<>();
      ScanCursor cursor = ScanCursor.INITIAL;
      do {
        KeyScanCursor<String> page = c.scan(cursor);
        for (String k : page.getKeys()) seen.merge(k, 1, Integer::sum);
        cursor = page;
      } while (!cursor.isFinished());
      for (Map.Entry<String, Integer> e : seen.entrySet()) check(e.getValue() == 1, "SCAN yielded " + e);
      // s, 100 pipelined, a, b, x, y
      check(seen.size() == 105, "SCAN found " + seen.size());
      check(c.dbsize() == seen.size(), "DBSIZE " + c.dbsize());
      System.out.println("OK lettuce cluster " + seen.size() + " keys scanned");
    } finally {
      client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }
  }
}
