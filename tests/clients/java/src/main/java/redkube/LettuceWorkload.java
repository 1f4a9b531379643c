// The standalone workload of Workload.java with Lettuce, which asks for
// RESP3 (HELLO 3) before anything else and falls back to RESP2 only when
// refused: strings, hashes, an unflushed pipeline, a transaction and a
// watched one, a Lua script, pub/sub, a blocking pop and SCAN. Exits 1
// naming the first check that failed; the last word printed is the `resp=`
// the server (or proxy) saw for this connection in CLIENT LIST.
//
//   java -cp target/classes:target/dependency/* redkube.LettuceWorkload HOST PORT [PASSWORD] [PREFIX]
package redkube;

import io.lettuce.core.KeyScanCursor;
import io.lettuce.core.KeyValue;
import io.lettuce.core.LettuceFutures;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.RedisURI;
import io.lettuce.core.ScanArgs;
import io.lettuce.core.ScanCursor;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.TransactionResult;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

public final class LettuceWorkload {
  static void check(boolean ok, String what) {
    if (!ok) {
      System.out.println("FAIL: " + what);
      System.exit(1);
    }
  }

  static RedisURI uri(String host, int port, String password) {
    RedisURI.Builder b = RedisURI.Builder.redis(host, port).withTimeout(Duration.ofSeconds(5));
    if (password != null && !password.isEmpty()) b.withPassword(password.toCharArray());
    return b.build();
  }

  public static void main(String[] args) throws Exception {
    String host = args[0];
    int port = Integer.parseInt(args[1]);
    String password = args.length > 2 ? args[2] : "";
    String p = args.length > 3 ? args[3] : "lettuce";
    RedisClient client = RedisClient.create(uri(host, port, password));
    try (StatefulRedisConnection<String, String> conn = client.connect()) {
      RedisCommands<String, String> r = conn.sync();
      r.set(p + ":s", "hello");
      check("hello".equals(r.get(p + ":s")), "GET");
      r.hset(p + ":h", Map.of("a", "1", "b", "2"));
      Map<String, String> h = r.hgetall(p + ":h");
      check("1".equals(h.get("a")) && "2".equals(h.get("b")), "HGETALL " + h);

      // A pipeline: 100 commands written before any reply is read.
      try (StatefulRedisConnection<String, String> pc = client.connect()) {
        RedisAsyncCommands<String, String> a = pc.async();
        pc.setAutoFlushCommands(false);
        List<RedisFuture<String>> sets = new ArrayList<>();
        for (int i = 0; i < 100; i++) sets.add(a.set(p + ":p" + i, String.valueOf(i)));
        pc.flushCommands();
        check(LettuceFutures.awaitAll(Duration.ofSeconds(5), sets.toArray(new RedisFuture[0])), "pipelined SET");
      }
      String[] keys = new String[100];
      for (int i = 0; i < 100; i++) keys[i] = p + ":p" + i;
      List<KeyValue<String, String>> values = r.mget(keys);
      for (int i = 0; i < 100; i++) check(String.valueOf(i).equals(values.get(i).getValue()), "MGET " + i);

      String acct = "{" + p + "}:acct";
      r.multi();
      r.incrby(acct, 10);
      r.lpush("{" + p + "}:log", "deposit");
      TransactionResult done = r.exec();
      check(!done.wasDiscarded() && Long.valueOf(10).equals(done.get(0)), "EXEC " + done);
      r.watch(acct);
      long n = Long.parseLong(r.get(acct));
      r.multi();
      r.set(acct, String.valueOf(n * 2));
      check(!r.exec().wasDiscarded() && "20".equals(r.get(acct)), "WATCH transaction");

      Long sum = r.eval("return redis.call('INCRBY', KEYS[1], ARGV[1]) + redis.call('INCRBY', KEYS[2], ARGV[1])",
          ScriptOutputType.INTEGER, new String[] {"{" + p + "}:x", "{" + p + "}:y"}, "5");
      check(Long.valueOf(10).equals(sum), "script " + sum);

      try (StatefulRedisPubSubConnection<String, String> ps = client.connectPubSub()) {
        CountDownLatch got = new CountDownLatch(1);
        AtomicReference<String> message = new AtomicReference<>();
        ps.addListener(new RedisPubSubAdapter<String, String>() {
          @Override public void message(String channel, String m) {
            message.set(channel + "=" + m);
            got.countDown();
          }
        });
        ps.sync().subscribe(p + ":events");
        check(r.publish(p + ":events", "ping") == 1, "PUBLISH receivers");
        check(got.await(5, TimeUnit.SECONDS), "message arrived");
        check((p + ":events=ping").equals(message.get()), "message " + message.get());
      }

      try (StatefulRedisConnection<String, String> blocked = client.connect()) {
        RedisFuture<KeyValue<String, String>> pop = blocked.async().blpop(5, p + ":queue");
        // The pop must be waiting before the push, or it would not block:
        // CLIENT LIST shows it as `cmd=blpop` once the server (proxy) holds it.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (!r.clientList().contains("cmd=blpop") && System.nanoTime() < deadline) Thread.sleep(10);
        r.rpush(p + ":queue", "job");
        KeyValue<String, String> popped = pop.get(5, TimeUnit.SECONDS);
        check(popped != null && "job".equals(popped.getValue()), "BLPOP " + popped);
      }

      Set<String> found = new HashSet<>();
      ScanCursor cursor = ScanCursor.INITIAL;
      ScanArgs match = ScanArgs.Builder.matches(p + ":p*").limit(50);
      do {
        KeyScanCursor<String> page = r.scan(cursor, match);
        found.addAll(page.getKeys());
        cursor = page;
      } while (!cursor.isFinished());
      check(found.size() == 100, "SCAN found " + found.size());

      String id = "id=" + r.clientId() + " ";
      String resp = "resp=?";
      for (String line : r.clientList().split("\n")) {
        if (!line.startsWith(id)) continue;
        int at = line.indexOf(" resp=");
        if (at >= 0) resp = line.substring(at + 1).split("\\s")[0];
      }
      System.out.println("OK lettuce " + found.size() + " keys scanned " + resp);
    } finally {
      client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }
  }
}
