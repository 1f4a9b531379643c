// A realistic workload with ioredis against a redkube proxy or a plain
// redis-server: strings, hashes, a pipeline, a transaction, a Lua script,
// pub/sub, a blocking pop and SCAN. Exits 1 naming the first check that
// failed. Multi-key operations use hash tags so their keys share a slot.
// MODE "cluster" (or "cluster-replicas", reading from replicas) runs the
// cluster workload instead: ioredis's Cluster client started from HOST:PORT
// alone (cluster_workload.js).
//
//   node workload.js HOST PORT [PASSWORD] [PREFIX] [MODE]
'use strict';
const Redis = require('ioredis');

const [host, port, password, prefixArg, mode] = process.argv.slice(2);
const p = prefixArg || 'node';
const options = { host, port: Number(port), password: password || undefined, maxRetriesPerRequest: 2 };

function check(ok, what) {
  if (!ok) {
    console.log('FAIL: ' + what);
    process.exit(1);
  }
}

async function main() {
  const r = new Redis(options);
  await r.set(`${p}:s`, 'hello');
  check((await r.get(`${p}:s`)) === 'hello', 'GET');
  await r.hset(`${p}:h`, 'a', '1', 'b', '2');
  const h = await r.hgetall(`${p}:h`);
  check(h.a === '1' && h.b === '2', 'HGETALL ' + JSON.stringify(h));

  const pipe = r.pipeline();
  const keys = [];
  for (let i = 0; i < 100; i++) {
    keys.push(`${p}:p${i}`);
    pipe.set(`${p}:p${i}`, String(i));
  }
  await pipe.exec();
  const values = await r.mget(...keys);
  values.forEach((v, i) => check(v === String(i), `MGET ${i} = ${v}`));

  const tx = await r.multi().incrby(`{${p}}:acct`, 10).lpush(`{${p}}:log`, 'deposit').exec();
  check(tx[0][1] === 10 && tx[1][1] === 1, 'EXEC ' + JSON.stringify(tx));
  await r.watch(`{${p}}:acct`);
  const n = Number(await r.get(`{${p}}:acct`));
  const watched = await r.multi().set(`{${p}}:acct`, String(n * 2)).exec();
  check(watched !== null && (await r.get(`{${p}}:acct`)) === '20', 'WATCH transaction');

  r.defineCommand('addBoth', {
    numberOfKeys: 2,
    lua: "return redis.call('INCRBY', KEYS[1], ARGV[1]) + redis.call('INCRBY', KEYS[2], ARGV[1])",
  });
  check((await r.addBoth(`{${p}}:x`, `{${p}}:y`, 5)) === 10, 'script');

  const sub = new Redis(options);
  const received = new Promise((resolve) => sub.on('message', (channel, message) => resolve([channel, message])));
  await sub.subscribe(`${p}:events`);
  check((await r.publish(`${p}:events`, 'ping')) === 1, 'PUBLISH receivers');
  const [channel, message] = await received;
  check(channel === `${p}:events` && message === 'ping', 'message');
  sub.disconnect();

  const blocker = new Redis(options);
  setTimeout(() => r.rpush(`${p}:queue`, 'job'), 100);
  const popped = await blocker.blpop(`${p}:queue`, 5);
  check(popped && popped[1] === 'job', 'BLPOP ' + JSON.stringify(popped));
  blocker.disconnect();

  const found = new Set();
  await new Promise((resolve, reject) => {
    const stream = r.scanStream({ match: `${p}:p*`, count: 50 });
    stream.on('data', (batch) => batch.forEach((k) => found.add(k)));
    stream.on('end', resolve);
    stream.on('error', reject);
  });
  check(found.size === 100, `SCAN found ${found.size} keys`);
  r.disconnect();
  console.log('OK ioredis', found.size, 'keys scanned');
}

const run = mode && mode.startsWith('cluster')
  ? () => require('./cluster_workload').run(host, Number(port), password, p, mode === 'cluster-replicas', check)
  : main;
run().catch((e) => {
  console.log('FAIL: ' + (e && e.stack ? e.stack : e));
  process.exit(1);
});
