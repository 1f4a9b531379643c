// A realistic workload with Jedis against a redkube proxy or a plain
// redis-server: strings, hashes, a pipeline, a transaction, a Lua script,
// pub/sub, a blocking pop and SCAN. Exits 1 naming the first check that
// failed. Multi-key operations use hash tags so their keys share a slot.
//
//   java -cp target/classes:target/dependency/* redkube.Workload HOST PORT [PASSWORD] [PREFIX] [PROTOCOL]
//
// PROTOCOL 3: Jedis speaks RESP3 (HELLO 3); the last word printed is the
// `resp=` the server (or proxy) saw in CLIENT INFO.
package redkube;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.JedisPubSub;
import redis.clients.jedis.Pipeline;
import redis.clients.jedis.RedisProtocol;
import redis.clients.jedis.Transaction;
import redis.clients.jedis.params.ScanParams;
import redis.clients.jedis.resps.ScanResult;

public final class Workload {
  private static String host;
  private static int port;
  private static String password;
  private static boolean resp3;

  private static void check(boolean ok, String what) {
    if (!ok) {
      System.out.println("FAIL: " + what);
      System.exit(1);
    }
  }

  private static Jedis connect() {
    if (resp3) {
      DefaultJedisClientConfig.Builder config =
          DefaultJedisClientConfig.builder().protocol(RedisProtocol.RESP3).timeoutMillis(5000);
      if (password != null && !password.isEmpty()) config.password(password);
      return new Jedis(new HostAndPort(host, port), config.build());
    }
    Jedis j = new Jedis(host, port, 5000);
    if (password != null && !password.isEmpty()) j.auth(password);
    return j;
  }

  public static void main(String[] args) throws Exception {
    host = args[0];
    port = Integer.parseInt(args[1]);
    password = args.length > 2 ? args[2] : "";
    String p = args.length > 3 ? args[3] : "java";
    resp3 = args.length > 4 && "3".equals(args[4]);
    try (Jedis r = connect()) {
      r.set(p + ":s", "hello");
      check("hello".equals(r.get(p + ":s")), "GET");
      r.hset(p + ":h", Map.of("a", "1", "b", "2"));
      Map<String, String> h = r.hgetAll(p + ":h");
      check("1".equals(h.get("a")) && "2".equals(h.get("b")), "HGETALL " + h);

      Pipeline pipe = r.pipelined();
      List<String> keys = new ArrayList<>();
      for (int i = 0; i < 100; i++) {
        keys.add(p + ":p" + i);
        pipe.set(p + ":p" + i, String.valueOf(i));
      }
      pipe.sync();
      List<String> values = r.mget(keys.toArray(new String[0]));
      for (int i = 0; i < 100; i++) check(String.valueOf(i).equals(values.get(i)), "MGET " + i);

      String acct = "{" + p + "}:acct";
      Transaction tx = r.multi();
      tx.incrBy(acct, 10);
      tx.lpush("{" + p + "}:log", "deposit");
      List<Object> done = tx.exec();
      check(Long.valueOf(10).equals(done.get(0)), "EXEC " + done);
      r.watch(acct);
      long n = Long.parseLong(r.get(acct));
      Transaction watched = r.multi();
      watched.set(acct, String.valueOf(n * 2));
      check(watched.exec() != null && "20".equals(r.get(acct)), "WATCH transaction");

      Object sum = r.eval("return redis.call('INCRBY', KEYS[1], ARGV[1]) + redis.call('INCRBY', KEYS[2], ARGV[1])",
          List.of("{" + p + "}:x", "{" + p + "}:y"), List.of("5"));
      check(Long.valueOf(10).equals(sum), "script " + sum);

      CountDownLatch subscribed = new CountDownLatch(1);
      AtomicReference<String> got = new AtomicReference<>();
      JedisPubSub listener = new JedisPubSub() {
        @Override public void onSubscribe(String channel, int count) { subscribed.countDown(); }
        @Override public void onMessage(String channel, String message) {
          got.set(channel + "=" + message);
          unsubscribe();
        }
      };
      Thread subscriber = new Thread(() -> {
        try (Jedis s = connect()) { s.subscribe(listener, p + ":events"); }
      });
      subscriber.start();
      check(subscribed.await(5, TimeUnit.SECONDS), "subscribe confirmation");
      check(r.publish(p + ":events", "ping") == 1, "PUBLISH receivers");
      subscriber.join(5000);
      check((p + ":events=ping").equals(got.get()), "message " + got.get());

      Thread pusher = new Thread(() -> {
        try (Jedis q = connect()) {
          Thread.sleep(100);
          q.rpush(p + ":queue", "job");
        } catch (InterruptedException e) { Thread.currentThread().interrupt(); }
      });
      pusher.start();
      try (Jedis b = connect()) {
        List<String> popped = b.blpop(5, p + ":queue");
        check(popped != null && "job".equals(popped.get(1)), "BLPOP " + popped);
      }
      pusher.join();

      Set<String> found = new HashSet<>();
      String cursor = ScanParams.SCAN_POINTER_START;
      ScanParams params = new ScanParams().match(p + ":p*").count(50);
      do {
        ScanResult<String> page = r.scan(cursor, params);
        found.addAll(page.getResult());
        cursor = page.getCursor();
      } while (!cursor.equals(ScanParams.SCAN_POINTER_START));
      check(found.size() == 100, "SCAN found " + found.size());
      String info = r.clientInfo();
      int at = info.indexOf(" resp=");
      String resp = at < 0 ? "resp=?" : info.substring(at + 1).split("[\\s]")[0];
      System.out.println("OK jedis " + found.size() + " keys scanned " + resp);
    }
  }
}
