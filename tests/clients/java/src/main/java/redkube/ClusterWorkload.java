// Jedis's JedisCluster, given one redkube proxy's address: strings, a
// pipeline, multi-key commands on hash-tagged keys, a script, pub/sub, and
// SCAN of the primary it was shown (each key exactly once) agreeing with
// DBSIZE. The servers must hold no other keys. Exits 1 naming the first
// check that failed.
//
//   java -cp target/classes:target/dependency/* redkube.ClusterWorkload HOST PORT [PASSWORD] [PREFIX]
package redkube;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import redis.clients.jedis.ClusterPipeline;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.JedisClientConfig;
import redis.clients.jedis.JedisCluster;
import redis.clients.jedis.JedisPubSub;
import redis.clients.jedis.Response;
import redis.clients.jedis.params.ScanParams;
import redis.clients.jedis.resps.ScanResult;

public final class ClusterWorkload {
  private static void check(boolean ok, String what) {
    if (!ok) {
      System.out.println("FAIL: " + what);
      System.exit(1);
    }
  }

  public static void main(String[] args) throws Exception {
    String host = args[0];
    int port = Integer.parseInt(args[1]);
    String password = args.length > 2 && !args[2].isEmpty() ? args[2] : null;
    String p = args.length > 3 ? args[3] : "java";
    JedisClientConfig config =
        DefaultJedisClientConfig.builder().password(password).socketTimeoutMillis(5000).build();
    try (JedisCluster c = new JedisCluster(Set.of(new HostAndPort(host, port)), config)) {
      check(c.getClusterNodes().size() >= 1, "nodes " + c.getClusterNodes().keySet());
      c.set(p + ":s", "hello");
      check("hello".equals(c.get(p + ":s")), "GET");

      try (ClusterPipeline pipe = c.pipelined()) {
        for (int i = 0; i < 100; i++) pipe.set(p + ":p" + i, String.valueOf(i));
        pipe.sync();
      }
      try (ClusterPipeline pipe = c.pipelined()) {
        List<Response<String>> gets = new java.util.ArrayList<>();
        for (int i = 0; i < 100; i++) gets.add(pipe.get(p + ":p" + i));
        pipe.sync();
        for (int i = 0; i < 100; i++) check(String.valueOf(i).equals(gets.get(i).get()), "pipelined GET " + i);
      }

      String tag = "{" + p + "}";
      c.mset(tag + ":a", "1", tag + ":b", "2");
      check(List.of("1", "2").equals(c.mget(tag + ":a", tag + ":b")), "MGET");
      Object sum = c.eval("return redis.call('INCRBY', KEYS[1], ARGV[1]) + redis.call('INCRBY', KEYS[2], ARGV[1])",
          List.of(tag + ":x", tag + ":y"), List.of("5"));
      check(Long.valueOf(10).equals(sum), "script " + sum);

      CountDownLatch subscribed = new CountDownLatch(1);
      AtomicReference<String> got = new AtomicReference<>();
      JedisPubSub listener = new JedisPubSub() {
        @Override public void onSubscribe(String channel, int n) { subscribed.countDown(); }
        @Override public void onMessage(String channel, String message) {
          got.set(channel + "=" + message);
          unsubscribe();
        }
      };
      Thread t = new Thread(() -> c.subscribe(listener, p + ":events"));
      t.start();
      check(subscribed.await(5, TimeUnit.SECONDS), "subscribed");
      check(c.publish(p + ":events", "ping") == 1, "PUBLISH receivers");
      t.join(5000);
      check((p + ":events=ping").equals(got.get()), "message " + got.get());

      // The primary CLUSTER SLOTS names, scanned whole.
      Map<String, Integer> seen = new HashMap<>();
      try (Jedis seed = new Jedis(host, port, config)) {
        List<Object> range = (List<Object>) seed.clusterSlots().get(0);
        List<Object> primary = (List<Object>) range.get(2);
        String primaryHost = new String((byte[]) primary.get(0));
        int primaryPort = ((Long) primary.get(1)).intValue();
        try (Jedis j = new Jedis(primaryHost, primaryPort, config)) {
          String cursor = ScanParams.SCAN_POINTER_START;
          do {
            ScanResult<String> page = j.scan(cursor, new ScanParams().count(100));
            for (String k : page.getResult()) seen.merge(k, 1, Integer::sum);
            cursor = page.getCursor();
          } while (!cursor.equals(ScanParams.SCAN_POINTER_START));
          for (Map.Entry<String, Integer> e : seen.entrySet()) check(e.getValue() == 1, "SCAN yielded " + e);
          // s, 100 pipelined, a, b, x, y
          check(seen.size() == 105, "SCAN found " + seen.size());
          check(j.dbSize() == seen.size(), "DBSIZE " + j.dbSize());
        }
      }
      System.out.println("OK jedis cluster " + seen.size() + " keys scanned");
    }
  }
}
