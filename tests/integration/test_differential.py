"""Differential tests: the same command sequences are run through the proxy
(`pc`, three shards behind it) and against one plain redis-server (`rc`), and
every reply must be equal, errors included (byte for byte).

Multi-key commands that the proxy does not split use hash tags ({u}a, {u}b)
so their keys share a slot; single-key commands use plain names, which spread
over the three shards.
"""
import hashlib
import random
import time

import pytest

from conftest import RespConnection, RespError, key_slot, keys_on_shard, shard_of

CROSSSLOT = RespError("CROSSSLOT Keys in request don't hash to the same slot")

# Commands whose reply is an array in hash-table order: compared sorted.
UNORDERED = {"SMEMBERS", "SINTER", "SUNION", "SDIFF", "KEYS", "HKEYS", "HVALS"}


def _normalize(reply, unordered):
    if unordered and isinstance(reply, list):
        return sorted(reply, key=repr)
    return reply


def same(pc, rc, *cmd, unordered=False):
    """Runs cmd through the proxy and on the reference; asserts the replies
    are equal (sorted first if unordered) and returns the proxy's reply."""
    via_proxy = pc.command(*cmd)
    direct = rc.command(*cmd)
    assert _normalize(via_proxy, unordered) == _normalize(direct, unordered), \
        "%r: proxy %r != reference %r" % (cmd, via_proxy, direct)
    return via_proxy


class Err(tuple):
    """A command whose reply must be an error (the same one on both sides)."""


def E(*args):
    return Err(args)


def run(pc, rc, commands):
    """same() for each command; a reply must be an error exactly when the
    command is wrapped in E(), so a typo in a test cannot pass unnoticed
    as two equal syntax errors."""
    replies = []
    for cmd in commands:
        name = str(cmd[0]).upper()
        reply = same(pc, rc, *cmd, unordered=name in UNORDERED)
        if isinstance(cmd, Err):
            assert isinstance(reply, RespError), "%r should fail, got %r" % (tuple(cmd), reply)
        else:
            assert not isinstance(reply, RespError), "%r failed: %r" % (tuple(cmd), reply)
        replies.append(reply)
    return replies


def length_of(pc, rc, *cmd):
    """For commands with random replies (SRANDMEMBER k n, ...): only the
    number of elements must match."""
    a, b = pc.command(*cmd), rc.command(*cmd)
    assert isinstance(a, list) and isinstance(b, list), (cmd, a, b)
    assert len(a) == len(b), (cmd, a, b)
    return a


def ttl_close(pc, rc, *cmd, tolerance=2):
    """TTL-like commands: both positive and within `tolerance` of each other."""
    a, b = pc.command(*cmd), rc.command(*cmd)
    assert isinstance(a, int) and isinstance(b, int), (cmd, a, b)
    assert a > 0 and b > 0, (cmd, a, b)
    assert abs(a - b) <= tolerance, (cmd, a, b)
    return a


def walk_scan(conn, *options):
    """SCAN from cursor 0 back to 0; returns every key seen (as a set)."""
    keys, cursor = set(), b"0"
    for _ in range(100000):
        reply = conn.command("SCAN", cursor, *options)
        assert not isinstance(reply, RespError), reply
        cursor, batch = reply
        keys.update(batch)
        if cursor == b"0":
            return keys
    raise AssertionError("SCAN never returned to cursor 0")


def fields(flat):
    """A flat [name, value, ...] reply (XINFO STREAM) as a dict."""
    return dict(zip(flat[::2], flat[1::2]))


# ---------------------------------------------------------------- strings

def test_strings(pc, rc):
    run(pc, rc, [
        ("SET", "s1", "hello"),
        ("GET", "s1"),
        ("GET", "missing"),
        ("SET", "s1", "world", "GET"),
        ("SET", "s1", "x", "NX"),
        ("SET", "s2", "x", "XX"),
        ("SET", "s2", "x", "NX"),
        ("SET", "s2", "y", "XX", "GET"),
        ("SET", "s3", "v", "EX", "100"),
        ("SET", "s4", "v", "PX", "100000"),
        ("SET", "s3", "v2", "KEEPTTL"),
        ("SET", "s5", "v", "EXAT", "4102444800"),
        ("SET", "s6", "v", "PXAT", "4102444800000"),
        ("EXPIRETIME", "s5"),
        ("PEXPIRETIME", "s6"),
        ("GETDEL", "s2"),
        ("GETDEL", "s2"),
        ("GET", "s2"),
        ("GETEX", "s1"),
        ("GETEX", "s1", "EX", "200"),
        ("GETEX", "s1", "PERSIST"),
        ("TTL", "s1"),
        ("GETEX", "nope", "EX", "10"),
        ("APPEND", "ap", "abc"),
        ("APPEND", "ap", "def"),
        ("GET", "ap"),
        ("STRLEN", "ap"),
        ("STRLEN", "missing"),
        ("INCR", "n"),
        ("INCRBY", "n", "41"),
        ("DECR", "n"),
        ("DECRBY", "n", "-10"),
        ("INCRBY", "n", "-100"),
        ("INCRBYFLOAT", "f", "10.5"),
        ("INCRBYFLOAT", "f", "0.1"),
        ("INCRBYFLOAT", "f", "-5"),
        ("INCRBYFLOAT", "f", "3.0e3"),
        ("GET", "f"),
        ("SETRANGE", "sr", "5", "abc"),
        ("GET", "sr"),
        ("SETRANGE", "ap", "1", "XY"),
        ("GETRANGE", "ap", "0", "-1"),
        ("GETRANGE", "ap", "-3", "-1"),
        ("GETRANGE", "ap", "10", "20"),
        ("SUBSTR", "ap", "1", "2"),
        ("SETNX", "nx", "1"),
        ("SETNX", "nx", "2"),
        ("GET", "nx"),
        ("SETEX", "se", "100", "v"),
        ("PSETEX", "pse", "100000", "v"),
        ("GETSET", "nx", "3"),
        ("MSET", "{u}a", "ohmytext", "{u}b", "mynewtext"),
        ("LCS", "{u}a", "{u}b"),
        ("LCS", "{u}a", "{u}b", "LEN"),
        ("LCS", "{u}a", "{u}b", "IDX"),
        ("LCS", "{u}a", "{u}b", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"),
        ("LCS", "{u}a", "{u}missing"),
        ("MSETNX", "{u}c", "1", "{u}d", "2"),
        ("MSETNX", "{u}c", "1", "{u}e", "2"),
        ("MGET", "{u}c", "{u}d", "{u}e"),
        # Binary-safe keys and values.
        ("SET", b"bin\r\nkey\x00", b"\x00\xff\r\n$3\r\n"),
        ("GET", b"bin\r\nkey\x00"),
        ("MGET", b"bin\r\nkey\x00", "s1", b"\xff"),
        ("SET", "", "empty-key"),
        ("SET", "empty-value", ""),
        ("MGET", "", "empty-value"),
    ])
    ttl_close(pc, rc, "TTL", "s3")
    ttl_close(pc, rc, "TTL", "se")
    ttl_close(pc, rc, "PTTL", "s4", tolerance=2000)
    ttl_close(pc, rc, "PTTL", "pse", tolerance=2000)


# ---------------------------------------------------------------- hashes

def test_hashes(pc, rc):
    run(pc, rc, [
        ("HSET", "h", "f1", "v1", "f2", "v2", "f3", "3"),
        ("HSET", "h", "f1", "new", "f4", "v4"),
        ("HGET", "h", "f1"),
        ("HGET", "h", "nope"),
        ("HGET", "nohash", "f"),
        ("HMGET", "h", "f1", "nope", "f3"),
        ("HMSET", "h", "f5", "v5"),
        ("HGETALL", "h"),
        ("HGETALL", "nohash"),
        ("HKEYS", "h"),
        ("HVALS", "h"),
        ("HLEN", "h"),
        ("HEXISTS", "h", "f2"),
        ("HEXISTS", "h", "zz"),
        ("HSTRLEN", "h", "f1"),
        ("HSETNX", "h", "f1", "x"),
        ("HSETNX", "h", "f9", "x"),
        ("HINCRBY", "h", "f3", "10"),
        ("HINCRBY", "h", "cnt", "-4"),
        ("HINCRBYFLOAT", "h", "fl", "1.25"),
        ("HINCRBYFLOAT", "h", "fl", "2"),
        ("HDEL", "h", "f2", "f2", "nope"),
        ("HSCAN", "h", "0"),
        ("HSCAN", "h", "0", "MATCH", "f*"),
        ("HRANDFIELD", "nohash"),
        ("HGETALL", "h"),
        E("HINCRBY", "h", "f1", "1"),
        E("HINCRBYFLOAT", "h", "f1", "1"),
        E("HSET", "h", "only-field"),
    ])
    length_of(pc, rc, "HRANDFIELD", "h", "3")
    length_of(pc, rc, "HRANDFIELD", "h", "-10", "WITHVALUES")
    assert pc.command("HRANDFIELD", "h") in pc.command("HKEYS", "h")
    # A big hash (hashtable encoding): compare as dicts.
    pairs = [x for i in range(300) for x in ("field%d" % i, "value%d" % i)]
    same(pc, rc, "HSET", "bighash", *pairs)
    a, b = pc.command("HGETALL", "bighash"), rc.command("HGETALL", "bighash")
    assert fields(a) == fields(b) and len(a) == 600
    same(pc, rc, "HKEYS", "bighash", unordered=True)


# ---------------------------------------------------------------- lists

def test_lists(pc, rc):
    run(pc, rc, [
        ("RPUSH", "l", "a", "b", "c", "a", "d", "a"),
        ("LPUSH", "l", "z", "y"),
        ("LRANGE", "l", "0", "-1"),
        ("LRANGE", "l", "2", "4"),
        ("LRANGE", "nolist", "0", "-1"),
        ("LLEN", "l"),
        ("LINDEX", "l", "3"),
        ("LINDEX", "l", "-1"),
        ("LINDEX", "l", "100"),
        ("LPOS", "l", "a"),
        ("LPOS", "l", "a", "RANK", "2"),
        ("LPOS", "l", "a", "RANK", "-1"),
        ("LPOS", "l", "a", "COUNT", "0"),
        ("LPOS", "l", "a", "COUNT", "2", "MAXLEN", "5"),
        ("LPOS", "l", "nothere"),
        ("LINSERT", "l", "BEFORE", "c", "bc"),
        ("LINSERT", "l", "AFTER", "nothere", "x"),
        ("LSET", "l", "0", "first"),
        ("LREM", "l", "2", "a"),
        ("LRANGE", "l", "0", "-1"),
        ("LTRIM", "l", "0", "4"),
        ("LRANGE", "l", "0", "-1"),
        ("LPOP", "l"),
        ("RPOP", "l"),
        ("LPOP", "l", "2"),
        ("LPOP", "nolist"),
        ("LPUSHX", "nolist", "x"),
        ("RPUSHX", "l", "tail"),
        ("RPUSH", "{l}a", "1", "2", "3", "4"),
        ("LMOVE", "{l}a", "{l}b", "LEFT", "RIGHT"),
        ("LMOVE", "{l}a", "{l}b", "RIGHT", "LEFT"),
        ("LMOVE", "{l}a", "{l}a", "LEFT", "RIGHT"),
        ("RPOPLPUSH", "{l}a", "{l}b"),
        ("LRANGE", "{l}a", "0", "-1"),
        ("LRANGE", "{l}b", "0", "-1"),
        ("LMPOP", "2", "{l}none", "{l}b", "LEFT"),
        ("LMPOP", "2", "{l}a", "{l}b", "RIGHT", "COUNT", "5"),
        ("LMPOP", "1", "{l}none", "LEFT"),
        ("LRANGE", "{l}b", "0", "-1"),
        ("EXISTS", "{l}a"),
        E("LSET", "l", "100", "x"),
        E("LSET", "nolist", "0", "x"),
        E("LPOS", "l", "a", "RANK", "0"),
        E("LMPOP", "0", "LEFT"),
    ])


# ---------------------------------------------------------------- sets

def test_sets(pc, rc):
    run(pc, rc, [
        ("SADD", "{s}a", "1", "2", "3", "4", "x", "y"),
        ("SADD", "{s}a", "1", "z"),
        ("SADD", "{s}b", "3", "4", "5", "x"),
        ("SADD", "ints", "1", "2", "3"),
        ("SCARD", "{s}a"),
        ("SCARD", "noset"),
        ("SISMEMBER", "{s}a", "x"),
        ("SISMEMBER", "{s}a", "q"),
        ("SMISMEMBER", "{s}a", "x", "q", "1", "x"),
        ("SMEMBERS", "{s}a"),
        ("SMEMBERS", "noset"),
        ("SMEMBERS", "ints"),
        ("SINTER", "{s}a", "{s}b"),
        ("SUNION", "{s}a", "{s}b"),
        ("SDIFF", "{s}a", "{s}b"),
        ("SINTERCARD", "2", "{s}a", "{s}b"),
        ("SINTERCARD", "2", "{s}a", "{s}b", "LIMIT", "1"),
        ("SINTERSTORE", "{s}dst", "{s}a", "{s}b"),
        ("SMEMBERS", "{s}dst"),
        ("SUNIONSTORE", "{s}u", "{s}a", "{s}b"),
        ("SDIFFSTORE", "{s}d", "{s}a", "{s}b"),
        ("SMEMBERS", "{s}u"),
        ("SMEMBERS", "{s}d"),
        ("SINTERSTORE", "{s}empty", "{s}a", "{s}none"),
        ("EXISTS", "{s}empty"),
        ("SMOVE", "{s}a", "{s}b", "y"),
        ("SMOVE", "{s}a", "{s}b", "nope"),
        ("SREM", "{s}a", "1", "2", "nope"),
        ("SMEMBERS", "{s}a"),
        ("SMEMBERS", "{s}b"),
        ("SADD", "one", "only"),
        ("SPOP", "one"),
        ("SPOP", "one"),
        ("SRANDMEMBER", "noset"),
        ("SRANDMEMBER", "noset", "3"),
        E("SINTERCARD", "0", "{s}a"),
    ])
    for count in ("3", "100", "-7"):
        length_of(pc, rc, "SRANDMEMBER", "{s}a", count)
    length_of(pc, rc, "SPOP", "{s}u", "2")
    assert pc.command("SRANDMEMBER", "{s}b") in pc.command("SMEMBERS", "{s}b")


# ---------------------------------------------------------------- sorted sets

def test_sorted_sets(pc, rc):
    run(pc, rc, [
        ("ZADD", "{z}a", "1", "one", "2", "two", "3", "three", "4", "four", "5", "five"),
        ("ZADD", "{z}a", "NX", "10", "one", "6", "six"),
        ("ZADD", "{z}a", "XX", "CH", "1.5", "one", "7", "seven"),
        ("ZADD", "{z}a", "GT", "CH", "0", "two", "20", "three"),
        ("ZADD", "{z}a", "LT", "CH", "0", "four"),
        ("ZADD", "{z}a", "INCR", "2.5", "five"),
        ("ZADD", "{z}a", "NX", "INCR", "1", "five"),
        ("ZSCORE", "{z}a", "five"),
        ("ZMSCORE", "{z}a", "one", "nope", "three"),
        ("ZINCRBY", "{z}a", "0.25", "one"),
        ("ZCARD", "{z}a"),
        ("ZRANGE", "{z}a", "0", "-1", "WITHSCORES"),
        ("ZRANGE", "{z}a", "0", "2", "REV"),
        ("ZRANGE", "{z}a", "1", "6", "BYSCORE"),
        ("ZRANGE", "{z}a", "(1.75", "+inf", "BYSCORE", "LIMIT", "1", "2", "WITHSCORES"),
        ("ZRANGE", "{z}a", "+inf", "-inf", "BYSCORE", "REV", "LIMIT", "0", "3"),
        ("ZRANGEBYSCORE", "{z}a", "-inf", "5", "WITHSCORES"),
        ("ZREVRANGEBYSCORE", "{z}a", "5", "(1"),
        ("ZREVRANGE", "{z}a", "0", "1", "WITHSCORES"),
        ("ZRANK", "{z}a", "two"),
        ("ZREVRANK", "{z}a", "two"),
        ("ZRANK", "{z}a", "nope"),
        ("ZCOUNT", "{z}a", "2", "6"),
        ("ZADD", "lex", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e"),
        ("ZRANGE", "lex", "[b", "(e", "BYLEX"),
        ("ZRANGEBYLEX", "lex", "-", "+", "LIMIT", "1", "2"),
        ("ZREVRANGEBYLEX", "lex", "+", "[c"),
        ("ZLEXCOUNT", "lex", "[b", "+"),
        ("ZREMRANGEBYLEX", "lex", "[a", "[b"),
        ("ZADD", "{z}b", "1", "one", "2", "two", "30", "x"),
        ("ZUNIONSTORE", "{z}u", "2", "{z}a", "{z}b"),
        ("ZRANGE", "{z}u", "0", "-1", "WITHSCORES"),
        ("ZUNIONSTORE", "{z}u2", "2", "{z}a", "{z}b", "WEIGHTS", "2", "3", "AGGREGATE", "MAX"),
        ("ZRANGE", "{z}u2", "0", "-1", "WITHSCORES"),
        ("ZINTERSTORE", "{z}i", "2", "{z}a", "{z}b", "AGGREGATE", "MIN"),
        ("ZRANGE", "{z}i", "0", "-1", "WITHSCORES"),
        ("ZINTERCARD", "2", "{z}a", "{z}b"),
        ("ZINTERCARD", "2", "{z}a", "{z}b", "LIMIT", "1"),
        ("ZUNION", "2", "{z}a", "{z}b", "WITHSCORES"),
        ("ZINTER", "2", "{z}a", "{z}b"),
        ("ZDIFF", "2", "{z}a", "{z}b", "WITHSCORES"),
        ("ZDIFFSTORE", "{z}d", "2", "{z}a", "{z}b"),
        ("ZRANGESTORE", "{z}rs", "{z}a", "2", "5", "BYSCORE"),
        ("ZRANGE", "{z}rs", "0", "-1", "WITHSCORES"),
        ("ZMPOP", "2", "{z}none", "{z}b", "MIN"),
        ("ZMPOP", "2", "{z}a", "{z}b", "MAX", "COUNT", "2"),
        ("ZMPOP", "1", "{z}none", "MIN"),
        ("ZPOPMIN", "{z}a"),
        ("ZPOPMAX", "{z}a", "2"),
        ("ZREM", "{z}a", "three", "nope"),
        ("ZREMRANGEBYSCORE", "{z}u", "-inf", "2"),
        ("ZREMRANGEBYRANK", "{z}u", "0", "0"),
        ("ZRANGE", "{z}u", "0", "-1", "WITHSCORES"),
        ("ZSCAN", "{z}u", "0"),
        ("ZRANDMEMBER", "nozset"),
        E("ZADD", "{z}a", "notafloat", "m"),
        E("ZADD", "{z}a", "NX", "XX", "1", "m"),
        E("ZADD", "{z}a", "INCR", "1", "a", "2", "b"),
    ])
    length_of(pc, rc, "ZRANDMEMBER", "{z}u2", "3")
    length_of(pc, rc, "ZRANDMEMBER", "{z}u2", "-9", "WITHSCORES")


# ---------------------------------------------------------------- streams

def test_streams(pc, rc):
    run(pc, rc, [
        ("XADD", "st", "1-1", "f", "v1"),
        ("XADD", "st", "1-2", "f", "v2", "g", "w"),
        ("XADD", "st", "2-0", "f", "v3"),
        ("XADD", "st", "3-*", "f", "v4"),
        ("XADD", "st", "NOMKSTREAM", "5-0", "f", "v5"),
        ("XADD", "nostream", "NOMKSTREAM", "1-1", "f", "v"),
        ("XLEN", "st"),
        ("XRANGE", "st", "-", "+"),
        ("XRANGE", "st", "1-2", "+", "COUNT", "2"),
        ("XRANGE", "st", "(1-2", "3"),
        ("XREVRANGE", "st", "+", "-", "COUNT", "2"),
        ("XREAD", "COUNT", "2", "STREAMS", "st", "0"),
        ("XREAD", "STREAMS", "st", "2-0"),
        ("XREAD", "STREAMS", "st", "$"),
        ("XADD", "{x}s1", "1-1", "a", "1"),
        ("XADD", "{x}s2", "1-1", "b", "2"),
        ("XREAD", "COUNT", "5", "STREAMS", "{x}s1", "{x}s2", "0", "0"),
        ("XGROUP", "CREATE", "st", "g", "0"),
        ("XGROUP", "CREATE", "st", "g2", "$"),
        ("XGROUP", "CREATE", "newst", "g", "$", "MKSTREAM"),
        ("XGROUP", "CREATECONSUMER", "st", "g", "c9"),
        ("XREADGROUP", "GROUP", "g", "c1", "COUNT", "2", "STREAMS", "st", ">"),
        ("XREADGROUP", "GROUP", "g", "c2", "STREAMS", "st", ">"),
        ("XREADGROUP", "GROUP", "g", "c2", "STREAMS", "st", ">"),
        ("XREADGROUP", "GROUP", "g", "c1", "STREAMS", "st", "0"),
        ("XPENDING", "st", "g"),
        ("XACK", "st", "g", "1-1", "9-9"),
        ("XPENDING", "st", "g"),
        ("XCLAIM", "st", "g", "c3", "0", "1-2", "JUSTID"),
        ("XAUTOCLAIM", "st", "g", "c4", "0", "0-0", "COUNT", "10", "JUSTID"),
        ("XPENDING", "st", "g"),
        ("XDEL", "st", "2-0", "77-7"),
        ("XTRIM", "st", "MAXLEN", "2"),
        ("XRANGE", "st", "-", "+"),
        ("XTRIM", "st", "MINID", "4"),
        ("XLEN", "st"),
        ("XSETID", "st", "100-0"),
        ("XGROUP", "DELCONSUMER", "st", "g", "c9"),
        ("XGROUP", "SETID", "st", "g", "0"),
        ("XGROUP", "DESTROY", "st", "g2"),
        ("XLEN", "newst"),
        E("XADD", "st", "1-1", "f", "v"),
        E("XGROUP", "CREATE", "st", "g", "0"),
        E("XREADGROUP", "GROUP", "nogroup", "c", "STREAMS", "st", ">"),
        E("XADD", "st", "bad-id", "f", "v"),
    ])
    a, b = pc.command("XINFO", "STREAM", "st"), rc.command("XINFO", "STREAM", "st")
    assert fields(a)[b"length"] == fields(b)[b"length"] == 1


# ---------------------------------------------------------------- bitmaps

def test_bitmaps(pc, rc):
    run(pc, rc, [
        ("SETBIT", "bm", "7", "1"),
        ("SETBIT", "bm", "7", "0"),
        ("SETBIT", "bm", "100", "1"),
        ("SETBIT", "bm", "3", "1"),
        ("GETBIT", "bm", "100"),
        ("GETBIT", "bm", "5"),
        ("GETBIT", "nobm", "5"),
        ("GET", "bm"),
        ("BITCOUNT", "bm"),
        ("BITCOUNT", "bm", "0", "0"),
        ("BITCOUNT", "bm", "0", "50", "BIT"),
        ("BITCOUNT", "nobm"),
        ("BITPOS", "bm", "1"),
        ("BITPOS", "bm", "0"),
        ("BITPOS", "bm", "1", "1"),
        ("BITPOS", "bm", "1", "5", "200", "BIT"),
        ("BITPOS", "nobm", "1"),
        ("SET", "{b}x", "foobar"),
        ("SET", "{b}y", "abcdef"),
        ("BITOP", "AND", "{b}and", "{b}x", "{b}y"),
        ("BITOP", "OR", "{b}or", "{b}x", "{b}y"),
        ("BITOP", "XOR", "{b}xor", "{b}x", "{b}y", "{b}missing"),
        ("BITOP", "NOT", "{b}not", "{b}x"),
        ("MGET", "{b}and", "{b}or", "{b}xor", "{b}not"),
        ("BITFIELD", "bf", "SET", "u8", "0", "255", "GET", "u8", "0", "GET", "i8", "0"),
        ("BITFIELD", "bf", "INCRBY", "u4", "4", "1", "OVERFLOW", "SAT", "INCRBY", "u4", "4", "100"),
        ("BITFIELD", "bf", "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "10"),
        ("BITFIELD", "bf", "OVERFLOW", "WRAP", "INCRBY", "i8", "#1", "200"),
        ("BITFIELD_RO", "bf", "GET", "u16", "0"),
        ("BITFIELD", "nobf"),
        E("BITOP", "NOT", "{b}not", "{b}x", "{b}y"),
        E("BITFIELD", "bf", "GET", "u99", "0"),
        E("SETBIT", "bm", "1", "2"),
    ])


# ---------------------------------------------------------------- HyperLogLog

def test_hyperloglog(pc, rc):
    run(pc, rc, [
        ("PFADD", "{h}a", "a", "b", "c", "d"),
        ("PFADD", "{h}a", "a"),
        ("PFADD", "{h}b", *["m%d" % i for i in range(500)]),
        ("PFADD", "{h}c"),
        ("PFCOUNT", "{h}a"),
        ("PFCOUNT", "{h}b"),
        ("PFCOUNT", "{h}a", "{h}b"),
        ("PFCOUNT", "nohll"),
        ("PFMERGE", "{h}m", "{h}a", "{h}b"),
        ("PFCOUNT", "{h}m"),
        ("PFMERGE", "{h}m2", "{h}none"),
        ("GET", "{h}a"),
        ("SET", "nothll", "plain"),
        E("PFADD", "nothll", "x"),
    ])


# ---------------------------------------------------------------- geo

def test_geo(pc, rc):
    run(pc, rc, [
        ("GEOADD", "{g}pts", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania"),
        ("GEOADD", "{g}pts", "NX", "CH", "12.496366", "41.902782", "Rome", "13.361389", "38", "Palermo"),
        ("GEOADD", "{g}pts", "XX", "CH", "13.361389", "38.115556", "Palermo"),
        ("GEODIST", "{g}pts", "Palermo", "Catania"),
        ("GEODIST", "{g}pts", "Palermo", "Catania", "km"),
        ("GEODIST", "{g}pts", "Palermo", "Nowhere"),
        ("GEOPOS", "{g}pts", "Palermo", "Nowhere", "Catania"),
        ("GEOHASH", "{g}pts", "Palermo", "Rome"),
        ("GEOSEARCH", "{g}pts", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "ASC"),
        ("GEOSEARCH", "{g}pts", "FROMLONLAT", "15", "37", "BYRADIUS", "1000", "km", "DESC",
         "WITHDIST", "WITHCOORD", "WITHHASH"),
        ("GEOSEARCH", "{g}pts", "FROMMEMBER", "Palermo", "BYBOX", "400", "400", "km", "ASC",
         "COUNT", "1"),
        ("GEORADIUS", "{g}pts", "15", "37", "200", "km", "WITHDIST", "ASC"),
        ("GEORADIUSBYMEMBER", "{g}pts", "Palermo", "300", "km", "ASC"),
        ("GEORADIUS_RO", "{g}pts", "15", "37", "200", "km", "ASC"),
        ("GEORADIUS", "{g}pts", "15", "37", "200", "km", "STORE", "{g}dst"),
        ("ZRANGE", "{g}dst", "0", "-1", "WITHSCORES"),
        ("GEORADIUSBYMEMBER", "{g}pts", "Palermo", "1000", "km", "ASC", "STOREDIST", "{g}dist"),
        ("ZRANGE", "{g}dist", "0", "-1", "WITHSCORES"),
        ("GEOSEARCHSTORE", "{g}ss", "{g}pts", "FROMLONLAT", "15", "37", "BYRADIUS", "1000", "km",
         "ASC", "COUNT", "2"),
        ("ZRANGE", "{g}ss", "0", "-1"),
        ("GEOSEARCHSTORE", "{g}ssd", "{g}pts", "FROMMEMBER", "Rome", "BYRADIUS", "1000", "km",
         "STOREDIST"),
        ("ZRANGE", "{g}ssd", "0", "-1", "WITHSCORES"),
        E("GEOADD", "{g}pts", "200", "100", "Bad"),
        E("GEOSEARCH", "{g}pts", "FROMMEMBER", "Nowhere", "BYRADIUS", "10", "km"),
    ])


# ---------------------------------------------------------------- expiry

def test_expiry(pc, rc):
    run(pc, rc, [
        ("SET", "e1", "v"),
        ("SET", "e2", "v"),
        ("SET", "e3", "123"),
        ("TTL", "e1"),
        ("PTTL", "e1"),
        ("TTL", "missing"),
        ("EXPIRETIME", "e1"),
        ("EXPIRETIME", "missing"),
        ("EXPIRE", "e1", "100"),
        ("EXPIRE", "e1", "200", "NX"),
        ("EXPIRE", "e1", "200", "XX"),
        ("EXPIRE", "e1", "50", "GT"),
        ("EXPIRE", "e1", "300", "LT"),
        ("EXPIRE", "missing", "100"),
        ("PEXPIRE", "e2", "100000"),
        ("EXPIREAT", "e3", "4102444800"),
        ("EXPIRETIME", "e3"),
        ("PEXPIRETIME", "e3"),
        ("PEXPIREAT", "e3", "4102444800123"),
        ("PEXPIRETIME", "e3"),
        ("PERSIST", "e3"),
        ("PERSIST", "e3"),
        ("TTL", "e3"),
        ("SET", "gone", "v"),
        ("PEXPIRE", "gone", "1"),
    ])
    ttl_close(pc, rc, "TTL", "e1")
    ttl_close(pc, rc, "PTTL", "e2", tolerance=2000)
    exp_p, exp_r = pc.command("EXPIRETIME", "e1"), rc.command("EXPIRETIME", "e1")
    assert abs(exp_p - exp_r) <= 2 and exp_p > time.time()
    time.sleep(0.01)
    run(pc, rc, [("GET", "gone"), ("EXISTS", "gone")])
    # Past expiry deletes at once.
    run(pc, rc, [("SET", "past", "v"), ("EXPIREAT", "past", "1"), ("EXISTS", "past")])

    # OBJECT ENCODING of every kind of value.
    run(pc, rc, [
        ("SET", "enc:int", "12345"),
        ("SET", "enc:embstr", "short"),
        ("SET", "enc:raw", "x" * 100),
        ("RPUSH", "enc:list", "a", "b"),
        ("HSET", "enc:hash", "f", "v"),
        ("HSET", "enc:bighash", "f", "v" * 100),
        ("SADD", "enc:intset", "1", "2"),
        ("SADD", "enc:set", "a", "b"),
        ("ZADD", "enc:zset", "1", "a"),
        ("ZADD", "enc:bigzset", "1", "a" * 100),
        ("XADD", "enc:stream", "1-1", "f", "v"),
    ])
    for key in ("enc:int", "enc:embstr", "enc:raw", "enc:list", "enc:hash", "enc:bighash",
                "enc:intset", "enc:set", "enc:zset", "enc:bigzset", "enc:stream"):
        assert not isinstance(same(pc, rc, "OBJECT", "ENCODING", key), RespError)
    run(pc, rc, [
        ("OBJECT", "ENCODING", "missing"),
        ("OBJECT", "REFCOUNT", "enc:raw"),
        E("OBJECT", "FREQ", "enc:raw"),
    ])
    idle = pc.command("OBJECT", "IDLETIME", "enc:raw")
    assert isinstance(idle, int) and 0 <= idle < 10


# ---------------------------------------------------------------- generic

def test_generic(pc, rc):
    run(pc, rc, [
        ("SET", "t:str", "v"),
        ("RPUSH", "t:list", "a"),
        ("HSET", "t:hash", "f", "v"),
        ("SADD", "t:set", "m"),
        ("ZADD", "t:zset", "1", "m"),
        ("XADD", "t:stream", "1-1", "f", "v"),
        ("PFADD", "t:hll", "x"),
    ])
    for key in ("t:str", "t:list", "t:hash", "t:set", "t:zset", "t:stream", "t:hll", "missing"):
        same(pc, rc, "TYPE", key)
    run(pc, rc, [
        ("EXISTS", "t:str"),
        ("EXISTS", "missing"),
        ("SET", "{r}a", "1"),
        ("EXPIRE", "{r}a", "1000"),
        ("RENAME", "{r}a", "{r}b"),
        ("EXISTS", "{r}a"),
        ("GET", "{r}b"),
        ("RENAME", "{r}b", "{r}b"),
        ("SET", "{r}c", "2"),
        ("RENAMENX", "{r}b", "{r}c"),
        ("RENAMENX", "{r}b", "{r}d"),
        ("MGET", "{r}b", "{r}c", "{r}d"),
        ("RPUSH", "{c}src", "1", "2", "3"),
        ("COPY", "{c}src", "{c}dst"),
        ("COPY", "{c}src", "{c}dst"),
        ("LPUSH", "{c}src", "0"),
        ("COPY", "{c}src", "{c}dst", "REPLACE"),
        ("LRANGE", "{c}dst", "0", "-1"),
        ("COPY", "{c}nope", "{c}dst2"),
        ("COPY", "{c}src", "{c}dst3", "DB", "0"),
        E("RENAME", "{r}none", "{r}x"),
        E("COPY", "{c}src", "{c}src"),
    ])
    ttl_close(pc, rc, "TTL", "{r}d")  # moved a -> b -> d with its TTL

    # DUMP/RESTORE: the payloads are byte-identical, and restoring one
    # through the proxy gives back the value.
    run(pc, rc, [("RPUSH", "dl", "x", "y", "z"), ("HSET", "dh", "a", "1", "b", "2")])
    for src, dst, read in (("dl", "dl2", ("LRANGE", "dl2", "0", "-1")),
                           ("dh", "dh2", ("HGETALL", "dh2")),
                           ("t:str", "ds2", ("GET", "ds2"))):
        payload = same(pc, rc, "DUMP", src)
        assert isinstance(payload, bytes)
        run(pc, rc, [
            ("RESTORE", dst, "0", payload),
            read,
            E("RESTORE", dst, "0", payload),
            ("RESTORE", dst, "5000", payload, "REPLACE"),
            read,
        ])
        ttl_close(pc, rc, "PTTL", dst, tolerance=1000)
    run(pc, rc, [
        ("DUMP", "missing"),
        E("RESTORE", "bad", "0", "not a payload"),
    ])

    # SORT, with and without STORE (in the source's tag), BY/GET patterns
    # in the same tag.
    run(pc, rc, [
        ("RPUSH", "{o}nums", "3", "10", "1", "7", "2"),
        ("RPUSH", "{o}names", "pear", "apple", "fig"),
        ("MSET", "{o}w_3", "30", "{o}w_10", "5", "{o}w_1", "100", "{o}w_7", "1", "{o}w_2", "50"),
        ("MSET", "{o}n_3", "three", "{o}n_10", "ten", "{o}n_1", "one"),
        ("SORT", "{o}nums"),
        ("SORT", "{o}nums", "DESC"),
        ("SORT", "{o}nums", "LIMIT", "1", "3"),
        ("SORT", "{o}names", "ALPHA"),
        ("SORT", "{o}names", "ALPHA", "DESC", "LIMIT", "0", "2"),
        ("SORT", "{o}nums", "BY", "{o}w_*"),
        ("SORT", "{o}nums", "BY", "{o}w_*", "GET", "#", "GET", "{o}n_*"),
        ("SORT", "{o}nums", "BY", "nosort"),
        ("SORT_RO", "{o}nums", "DESC"),
        ("SORT", "{o}nums", "STORE", "{o}sorted"),
        ("LRANGE", "{o}sorted", "0", "-1"),
        ("SORT", "{o}names", "ALPHA", "DESC", "STORE", "{o}sorted2"),
        ("LRANGE", "{o}sorted2", "0", "-1"),
        ("SORT", "nolist"),
        E("SORT", "{o}names"),
        E("SORT", "t:str"),
    ])


# ---------------------------------------------------------------- multi-key splitting

def _spread_keys(n, prefix):
    """n key names, round-robin over the three shards."""
    per = [keys_on_shard(s, n // 3 + 1, prefix) for s in range(3)]
    keys = [per[i % 3][i // 3] for i in range(n)]
    assert {shard_of(k) for k in keys} == set(range(min(n, 3)))
    return keys


def test_multi_key_commands_split_across_shards(pc, rc, shards):
    keys = _spread_keys(50, "mk")
    pairs = [x for i, k in enumerate(keys) for x in (k, "value-%d" % i)]
    run(pc, rc, [
        ("MSET", *pairs),
        ("MGET", *keys),
        ("DBSIZE",),
    ])
    # Each value really is on the shard that owns its slot.
    for i, server in enumerate(shards):
        direct = RespConnection(server.port)
        mine = [k for k in keys if shard_of(k) == i]
        assert direct.command("DBSIZE") == len(mine) > 0
        assert direct.command("MGET", *mine) == \
            [b"value-%d" % keys.index(k) for k in mine]
        direct.close()
    missing = _spread_keys(9, "absent")
    mixed = []
    for i in range(9):
        mixed += [keys[i], missing[i]]
    run(pc, rc, [
        ("MGET", *mixed),
        ("MGET", keys[0], keys[0], keys[1], keys[0]),
        ("MGET", *missing),
        ("RPUSH", "mk-list", "x"),
        ("MGET", keys[2], "mk-list", keys[3]),
        # Duplicates within one MSET: the last one wins, on any shard.
        ("MSET", keys[0], "first", keys[1], "b", keys[0], "last", keys[2], "c"),
        ("MGET", keys[0], keys[1], keys[2]),
        ("EXISTS", keys[0], keys[0], missing[0]),
        ("EXISTS", *keys),
        ("EXISTS", *(keys + missing + keys[:5])),
        ("EXISTS", *missing),
        ("TOUCH", keys[3], keys[4], missing[1], keys[3]),
        ("DEL", keys[0], keys[0], missing[0]),
        ("DEL", keys[1], keys[2], keys[3], missing[1], keys[1]),
        ("UNLINK", keys[4], keys[5], keys[6], missing[2], keys[6]),
        ("UNLINK", *missing),
        ("EXISTS", *keys),
        ("DBSIZE",),
        ("MGET", *keys),
        ("DEL", *keys),
        ("DBSIZE",),
        E("MSET", keys[0], "v", keys[1]),
        E("MGET"),
        E("DEL"),
        E("EXISTS"),
    ])
    # MSETNX in one slot behaves as in Redis.
    run(pc, rc, [
        ("MSETNX", "{n}a", "1", "{n}b", "2"),
        ("MSETNX", "{n}b", "3", "{n}c", "4"),
        ("MGET", "{n}a", "{n}b", "{n}c"),
    ])


def test_msetnx_across_slots_is_crossslot(pc):
    a, b = _spread_keys(2, "nx")
    assert key_slot(a) != key_slot(b)
    assert pc.command("MSETNX", a, "1", b, "2") == CROSSSLOT
    assert pc.command("EXISTS", a, b) == 0
    # Same shard but different slots is CROSSSLOT too (as in Redis Cluster).
    c, d = keys_on_shard(0, 2, "nxs")
    assert key_slot(c) != key_slot(d)
    assert pc.command("MSETNX", c, "1", d, "2") == CROSSSLOT
    assert pc.command("EXISTS", c, d) == 0


@pytest.mark.parametrize("src,dst", [
    ("{a}}x", "{a}y"),        # tag "a"
    ("{{a}}x", "{{a}y"),      # tag "{a"
    ("x{b}c{d}", "{b}z"),     # the first tag counts
    ("{}a", "{}b"),           # an empty tag is no tag: whole keys hashed
    ("{", "}"),
    ("a{b", "a{b}"),
])
def test_hash_tag_edge_cases(pc, rc, src, dst):
    """Keys with odd braces: RENAME works exactly when Redis Cluster's slot
    rule puts both keys in one slot, else CROSSSLOT."""
    same(pc, rc, "SET", src, "v")
    if key_slot(src) == key_slot(dst):
        run(pc, rc, [("RENAME", src, dst), ("GET", dst), ("EXISTS", src)])
    else:
        assert pc.command("RENAME", src, dst) == CROSSSLOT
        assert pc.command("GET", src) == b"v"


# ---------------------------------------------------------------- keyspace-wide

def test_keyspace_wide_commands(pc, rc):
    # (A single SCAN is not compared: the proxy's cursor walks the shards one
    # after the other, so it differs from Redis's; the keys collected do not.)
    run(pc, rc, [
        ("DBSIZE",),
        ("KEYS", "*"),
        ("RANDOMKEY",),
    ])
    assert walk_scan(pc) == walk_scan(rc) == set()
    commands = [("SET", "user:%d" % i, i) for i in range(60)]
    commands += [("HSET", "hash:%d" % i, "f", i) for i in range(20)]
    commands += [("RPUSH", "list:%d" % i, i) for i in range(10)]
    commands += [("SET", "hello", "1"), ("SET", "hallo", "1"), ("SET", "hxllo", "1"),
                 ("SET", "heello", "1")]
    for c in commands:
        same(pc, rc, *c)
    all_keys = {c[1].encode() for c in commands}
    assert {shard_of(k) for k in all_keys} == {0, 1, 2}
    run(pc, rc, [
        ("DBSIZE",),
        ("KEYS", "*"),
        ("KEYS", "user:1*"),
        ("KEYS", "h?llo"),
        ("KEYS", "h[ae]llo"),
        ("KEYS", "nomatch*"),
    ])
    assert set(pc.command("KEYS", "*")) == all_keys

    assert walk_scan(pc) == walk_scan(rc) == all_keys
    assert walk_scan(pc, "COUNT", "3") == all_keys
    assert walk_scan(pc, "COUNT", "1000") == all_keys
    assert walk_scan(pc, "MATCH", "user:*") == walk_scan(rc, "MATCH", "user:*")
    assert walk_scan(pc, "MATCH", "user:1*", "COUNT", "5") == \
        walk_scan(rc, "MATCH", "user:1*", "COUNT", "5")
    assert walk_scan(pc, "TYPE", "hash") == walk_scan(rc, "TYPE", "hash")
    assert len(walk_scan(pc, "TYPE", "hash")) == 20
    assert walk_scan(pc, "TYPE", "list", "MATCH", "list:1*") == {b"list:1"}
    assert walk_scan(pc, "MATCH", "nomatch*") == set()

    for _ in range(20):
        key = pc.command("RANDOMKEY")
        assert key in all_keys
        assert pc.command("EXISTS", key) == 1

    run(pc, rc, [
        ("FLUSHDB",),
        ("DBSIZE",),
        ("KEYS", "*"),
        ("RANDOMKEY",),
    ])
    assert walk_scan(pc) == set()
    for s in ("SET", "a", "1"), ("FLUSHALL",), ("DBSIZE",):
        same(pc, rc, *s)


# ---------------------------------------------------------------- scripting

GET_SCRIPT = "return redis.call('get', KEYS[1])"
GET_SHA = hashlib.sha1(GET_SCRIPT.encode()).hexdigest()


def test_scripting(pc, rc):
    run(pc, rc, [
        ("EVAL", "return redis.call('set', KEYS[1], ARGV[1])", "1", "ek", "ev"),
        ("EVAL", GET_SCRIPT, "1", "ek"),
        ("EVAL", "return {KEYS[1], KEYS[2], ARGV[1], ARGV[2]}", "2", "{e}a", "{e}b", "x", "y"),
        ("EVAL", "redis.call('incrby', KEYS[1], 5); return redis.call('incrby', KEYS[2], 7)",
         "2", "{e}a", "{e}b"),
        ("MGET", "{e}a", "{e}b"),
        ("EVAL", "return 42", "0"),
        ("EVAL", "return {1, 'two', {3}, false, 3.99}", "0"),
        ("EVAL", "return redis.status_reply('FINE')", "0"),
        ("EVAL_RO", GET_SCRIPT, "1", "ek"),
        ("SCRIPT", "LOAD", GET_SCRIPT),
        ("EVALSHA", GET_SHA, "1", "ek"),
        ("SCRIPT", "EXISTS", GET_SHA,
         "0000000000000000000000000000000000000000"),
        E("EVAL", "return redis.error_reply('MY failure')", "0"),
        E("EVAL", "return redis.call('nosuchcommand')", "0"),
        E("EVAL", "this is not lua", "0"),
        E("EVALSHA", "0000000000000000000000000000000000000000", "1", "ek"),
        E("EVAL_RO", "return redis.call('set', KEYS[1], 'x')", "1", "ek"),
    ])
    sha = same(pc, rc, "SCRIPT", "LOAD", "return redis.call('incr', KEYS[1])")
    # The script is on every shard: EVALSHA works for keys anywhere.
    keys = _spread_keys(6, "sk")
    for k in keys:
        same(pc, rc, "EVALSHA", sha, "1", k)
        same(pc, rc, "EVALSHA", sha, "1", k)
    run(pc, rc, [
        ("SCRIPT", "EXISTS", sha),
        ("MGET", *keys),
        ("SCRIPT", "FLUSH"),
        ("SCRIPT", "EXISTS", sha, sha),
        E("EVALSHA", sha, "1", keys[0]),
    ])
    # Functions are loaded on every shard too.
    library = ("#!lua name=mylib\n"
               "redis.register_function('myget', function(keys, args) "
               "return redis.call('get', keys[1]) end)\n"
               "redis.register_function{function_name='nkeys', "
               "callback=function(keys, args) return #keys end, flags={'no-writes'}}")
    run(pc, rc, [
        ("FUNCTION", "LOAD", library),
        E("FUNCTION", "LOAD", library),
        ("FUNCTION", "LOAD", "REPLACE", library),
        ("SET", "ek", "ev"),
        ("MSET", *[x for k in keys for x in (k, "v-" + k)]),
        *[("FCALL", "myget", "1", k) for k in keys + ["ek"]],
        ("FCALL_RO", "nkeys", "2", "{f}a", "{f}b"),
        ("FCALL", "nkeys", "0"),
        E("FCALL", "nosuch", "0"),
        E("FCALL", "myget", "3", "a"),
    ])
    # (FUNCTION LIST lists a library's functions in hash-table order.)
    assert [lib[1] for lib in pc.command("FUNCTION", "LIST")] == [b"mylib"]
    run(pc, rc, [
        ("FUNCTION", "DELETE", "mylib"),
        E("FUNCTION", "DELETE", "mylib"),
        ("FUNCTION", "LIST"),
        E("FCALL", "myget", "1", "ek"),
    ])


# ---------------------------------------------------------------- errors

ERROR_CASES = [
    # WRONGTYPE
    ("LPUSH", "wt:str", "x"),
    ("GET", "wt:list"),
    ("SADD", "wt:str", "x"),
    ("HGET", "wt:list", "f"),
    ("ZADD", "wt:str", "1", "m"),
    ("INCR", "wt:list"),
    ("XADD", "wt:str", "1-1", "f", "v"),
    ("APPEND", "wt:list", "x"),
    ("PFCOUNT", "wt:list"),
    # wrong number of arguments
    ("GET",),
    ("GET", "a", "b"),
    ("SET", "a"),
    ("HSET", "a", "f"),
    ("LPUSH", "a"),
    ("ZADD", "a", "1"),
    ("EXPIRE", "a"),
    ("XADD", "a", "1-1"),
    ("OBJECT", "ENCODING"),
    ("XINFO", "STREAM"),
    ("SCRIPT", "EXISTS"),
    ("EVAL", "return 1"),
    # syntax errors
    ("SET", "a", "v", "EX"),
    ("SET", "a", "v", "NX", "XX"),
    ("SET", "a", "v", "EX", "10", "PX", "100"),
    ("SET", "a", "v", "BOGUS"),
    ("SET", "a", "v", "EX", "0"),
    ("SET", "a", "v", "EX", "notanumber"),
    ("GETEX", "a", "EX"),
    ("LPOS", "wt:list", "x", "BOGUS", "1"),
    ("ZRANGE", "a", "0", "1", "BOGUS"),
    ("EXPIRE", "wt:str", "10", "BOGUS"),
    ("BITCOUNT", "wt:str", "0"),
    ("SCAN", "0", "BOGUS", "x"),
    ("SCAN", "notacursor"),
    ("SCAN", "18446744073709551616"),
    # unknown command (unknown subcommands: test_subcommand_errors_and_help)
    ("FOOBAR",),
    ("FOOBAR", "a", "b"),
    ("fooBar", "x" * 200),
    # EVAL numkeys
    ("EVAL", "return 1", "5", "a"),
    ("EVAL", "return 1", "-1"),
    ("EVAL", "return 1", "notanumber"),
    ("EVALSHA", "0000000000000000000000000000000000000000", "2", "a"),
    ("ZUNIONSTORE", "{z}d", "3", "{z}a"),
    ("LMPOP", "5", "a", "LEFT"),
    # numbers
    ("INCR", "wt:str"),
    ("INCRBY", "wt:num", "notanumber"),
    ("INCRBY", "wt:max", "1"),
    ("INCRBYFLOAT", "wt:str", "1"),
    ("DECRBY", "wt:num", "1.5"),
    ("SETRANGE", "wt:str", "-1", "x"),
    ("GETRANGE", "wt:str", "a", "b"),
    ("EXPIRE", "wt:str", "abc"),
    ("LRANGE", "wt:list", "x", "1"),
    ("ZADD", "wt:z", "nan", "m"),
]


@pytest.fixture
def error_setup(pc, rc):
    run(pc, rc, [
        ("SET", "wt:str", "text"),
        ("RPUSH", "wt:list", "a"),
        ("SET", "wt:num", "10"),
        ("SET", "wt:max", str(2 ** 63 - 1)),
    ])


@pytest.mark.parametrize("cmd", ERROR_CASES, ids=lambda c: " ".join(c)[:40])
def test_errors_are_identical(pc, rc, error_setup, cmd):
    reply = same(pc, rc, *cmd)
    assert isinstance(reply, RespError), reply
    assert pc.command("PING") == b"PONG"  # the connection stays usable


@pytest.mark.parametrize("cmd", [
    ("OBJECT", "HELP"),
    ("XINFO", "HELP"),
    ("SCRIPT", "HELP"),
    ("FUNCTION", "HELP"),
    ("XINFO",),
    ("XGROUP",),
    ("OBJECT", "ENCODING", "wt:str", "extra"),
    ("XINFO", "STREAM", "wt:str", "BOGUS"),
    ("OBJECT", "FOO"),
    ("OBJECT", "foo", "k"),
    ("XINFO", "FOO", "k"),
    ("XGROUP", "FOO", "k"),
    ("SCRIPT", "FOO"),
    ("FUNCTION", "FOO"),
    ("CLIENT", "FOO"),
    ("XGROUP", "HELP"),
    ("CONFIG", "FOO"),
], ids=lambda c: " ".join(c))
def test_subcommand_errors_and_help(pc, rc, error_setup, cmd):
    same(pc, rc, *cmd)
    assert pc.command("PING") == b"PONG"


@pytest.mark.parametrize("cmd", [
    ("SUNIONSTORE", "x", "y", "z"),
    ("RENAME", "a", "b"),
    ("RENAMENX", "a", "b"),
    ("COPY", "a", "b"),
    ("SMOVE", "a", "b", "m"),
    ("LMOVE", "a", "b", "LEFT", "RIGHT"),
    ("RPOPLPUSH", "a", "b"),
    ("SINTER", "a", "b"),
    ("ZUNIONSTORE", "a", "2", "b", "c"),
    ("LMPOP", "2", "a", "b", "LEFT"),
    ("BITOP", "AND", "a", "b"),
    ("PFMERGE", "a", "b"),
    ("PFCOUNT", "a", "b"),
    ("EVAL", "return 1", "2", "a", "b"),
    ("SORT", "a", "STORE", "b"),
    ("GEORADIUS", "a", "15", "37", "200", "km", "STORE", "b"),
    ("XREAD", "STREAMS", "a", "b", "0", "0"),
    ("LCS", "a", "b"),
    ("MSETNX", "a", "1", "b", "2"),
    ("SINTERSTORE", "{s}dst", "{s}a", "b"),
])
def test_crossslot_through_proxy(pc, cmd):
    assert pc.command(*cmd) == CROSSSLOT
    assert pc.command("DBSIZE") == 0


# ---------------------------------------------------------------- pipeline

def test_pipeline_of_mixed_commands(pc, rc):
    rng = random.Random(1234)
    names = ["pk%d" % i for i in range(40)]
    assert {shard_of(k) for k in names} == {0, 1, 2}
    commands = []
    for i in range(1000):
        kind = rng.choice(("SET", "GET", "INCR", "MGET", "DEL", "EXISTS", "MSET", "APPEND",
                           "DBSIZE"))
        if kind == "SET":
            commands.append(("SET", rng.choice(names), "v%d" % i))
        elif kind == "GET":
            commands.append(("GET", rng.choice(names)))
        elif kind == "INCR":
            commands.append(("INCR", "ctr%d" % rng.randrange(10)))
        elif kind == "MGET":
            commands.append(("MGET", *rng.sample(names, 6)))
        elif kind == "DEL":
            commands.append(("DEL", *rng.sample(names, 2)))
        elif kind == "EXISTS":
            commands.append(("EXISTS", *rng.choices(names, k=4)))
        elif kind == "MSET":
            commands.append(("MSET", *[x for k in rng.sample(names, 3) for x in (k, i)]))
        elif kind == "APPEND":
            commands.append(("APPEND", rng.choice(names), "+"))
        else:
            commands.append(("DBSIZE",))
    via_proxy = pc.pipeline(commands)
    direct = rc.pipeline(commands)
    assert len(via_proxy) == len(direct) == 1000
    for cmd, a, b in zip(commands, via_proxy, direct):
        assert a == b, "%r: proxy %r != reference %r" % (cmd, a, b)
    same(pc, rc, "MGET", *names)
    same(pc, rc, "DBSIZE")


# ---------------------------------------------------------------- large value

def test_large_value(pc, rc):
    value = random.Random(7).randbytes(20 * 1024 * 1024)
    assert same(pc, rc, "SET", "big", value) == b"OK"
    assert pc.command("GET", "big") == rc.command("GET", "big") == value
    same(pc, rc, "STRLEN", "big")
    same(pc, rc, "GETRANGE", "big", str(10 * 1024 * 1024), str(10 * 1024 * 1024 + 100))
    # The connection still works for small requests afterwards.
    same(pc, rc, "SET", "small", "x")
    same(pc, rc, "MGET", "small", "big2", "small")
