// ioredis's Cluster client, given one proxy's address: strings, a pipeline,
// multi-key commands and a transaction on hash-tagged keys, a script,
// pub/sub, SCAN over every master (each key exactly once) and DBSIZE summed
// over the masters (the number of keys). The servers must hold no other keys.
'use strict';
const Redis = require('ioredis');

async function run(host, port, password, p, fromReplicas, check) {
  const options = {
    redisOptions: { password: password || undefined, maxRetriesPerRequest: 2 },
    scaleReads: fromReplicas ? 'slave' : 'master',
  };
  const c = new Redis.Cluster([{ host, port }], options);
  const slots = await c.cluster('SLOTS');
  check(slots.length === 1 && slots[0][0] === 0 && slots[0][1] === 16383, 'CLUSTER SLOTS ' + JSON.stringify(slots));

  await c.set(`${p}:s`, 'hello');
  check((await c.get(`${p}:s`)) === 'hello', 'GET');

  // A pipeline over every slot (ioredis requires one node per pipeline:
  // every slot is on the one primary).
  const pipe = c.pipeline();
  for (let i = 0; i < 100; i++) pipe.set(`${p}:p${i}`, String(i));
  await pipe.exec();
  const reads = c.pipeline();
  for (let i = 0; i < 100; i++) reads.get(`${p}:p${i}`);
  const got = await reads.exec();
  got.forEach(([err, v], i) => check(!err && v === String(i), `pipelined GET ${i} = ${v}`));

  const tag = `{${p}}`;
  await c.mset(`${tag}:a`, '1', `${tag}:b`, '2');
  const values = await c.mget(`${tag}:a`, `${tag}:b`);
  check(values[0] === '1' && values[1] === '2', 'MGET ' + JSON.stringify(values));
  const tx = await c.multi().incrby(`${tag}:acct`, 10).lpush(`${tag}:log`, 'deposit').exec();
  check(tx[0][1] === 10 && tx[1][1] === 1, 'EXEC ' + JSON.stringify(tx));
  c.defineCommand('addBoth', {
    numberOfKeys: 2,
    lua: "return redis.call('INCRBY', KEYS[1], ARGV[1]) + redis.call('INCRBY', KEYS[2], ARGV[1])",
  });
  check((await c.addBoth(`${tag}:x`, `${tag}:y`, 5)) === 10, 'script');

  const sub = new Redis.Cluster([{ host, port }], options);
  const received = new Promise((resolve) => sub.on('message', (channel, message) => resolve([channel, message])));
  await sub.subscribe(`${p}:events`);
  check((await c.publish(`${p}:events`, 'ping')) === 1, 'PUBLISH receivers');
  const [channel, message] = await received;
  check(channel === `${p}:events` && message === 'ping', 'message');
  sub.disconnect();

  const masters = c.nodes('master');
  check(masters.length === 1, `${masters.length} masters`);
  const seen = new Map();
  let size = 0;
  for (const node of masters) {
    await new Promise((resolve, reject) => {
      const stream = node.scanStream({ count: 100 });
      stream.on('data', (batch) => batch.forEach((k) => seen.set(k, (seen.get(k) || 0) + 1)));
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    size += await node.dbsize();
  }
  for (const [k, n] of seen) check(n === 1, `SCAN yielded ${k} ${n} times`);
  // s, 100 pipelined, a, b, acct, log, x, y
  check(seen.size === 107, `SCAN found ${seen.size} keys`);
  check(size === seen.size, `DBSIZE ${size}, SCAN ${seen.size}`);
  c.disconnect();
  console.log('OK ioredis cluster', seen.size, 'keys scanned');
}

module.exports = { run };
