"""INFO and the administration commands through the proxy, against a plain
redis-server (`reference`) and the shards' own figures: every INFO field of
a redis-server present with its name, sections chosen as redis-server
chooses them, summed figures equal to the servers' sums, what a monitoring
agent reads (redis-py's info(), redis_exporter's fields, redis-cli --stat
and --latency), and LATENCY / MEMORY / OBJECT / DEBUG / ACL."""
import subprocess
import time

import redis

from conftest import RespConnection, RespError, keys_on_shard, wait_until

# Fields of redis-server's `INFO everything` that depend on what that one
# server ran (per command, per error type, per database): compared by
# section, not by name.
PER_USE_PREFIXES = ("cmdstat_", "latency_percentiles_usec_", "errorstat_", "db")

# Fields the proxy leaves out on purpose: none of redis-server 7.0's. (The
# per-replica slaveN lines of a master are dropped, but the reference has
# no replica, so they do not show here.)
LEFT_OUT_ON_PURPOSE = set()

# What Prometheus's redis_exporter reads from INFO (exporter/exporter.go:
# metricMapGauges, metricMapCounters and the instance_info labels), the ones
# a redis-server 7.0 has.
REDIS_EXPORTER_FIELDS = [
    "uptime_in_seconds", "process_id", "connected_clients", "blocked_clients", "tracking_clients",
    "client_recent_max_output_buffer", "client_recent_max_input_buffer",
    "allocator_active", "allocator_allocated", "allocator_resident", "allocator_frag_ratio",
    "allocator_frag_bytes", "allocator_rss_ratio", "allocator_rss_bytes",
    "used_memory", "used_memory_rss", "used_memory_peak", "used_memory_lua", "used_memory_overhead",
    "used_memory_startup", "used_memory_dataset", "used_memory_scripts", "maxmemory",
    "mem_fragmentation_ratio", "mem_fragmentation_bytes", "mem_clients_slaves", "mem_clients_normal",
    "expired_stale_perc", "mem_not_counted_for_evict", "lazyfree_pending_objects", "active_defrag_running",
    "migrate_cached_sockets", "active_defrag_hits", "active_defrag_misses", "active_defrag_key_hits",
    "active_defrag_key_misses", "expired_time_cap_reached_count",
    "loading", "rdb_changes_since_last_save", "rdb_bgsave_in_progress", "rdb_last_save_time",
    "rdb_last_bgsave_status", "rdb_last_bgsave_time_sec", "rdb_current_bgsave_time_sec", "rdb_last_cow_size",
    "aof_enabled", "aof_rewrite_in_progress", "aof_rewrite_scheduled", "aof_last_rewrite_time_sec",
    "aof_current_rewrite_time_sec", "aof_last_cow_size", "aof_last_bgrewrite_status", "aof_last_write_status",
    "module_fork_in_progress", "module_fork_last_cow_size",
    "pubsub_channels", "pubsub_patterns", "latest_fork_usec",
    "connected_slaves", "repl_backlog_size", "repl_backlog_active", "repl_backlog_first_byte_offset",
    "repl_backlog_histlen", "master_repl_offset", "second_repl_offset", "slave_expires_tracked_keys",
    "sync_full", "sync_partial_ok", "sync_partial_err",
    "total_connections_received", "total_commands_processed", "rejected_connections",
    "total_net_input_bytes", "total_net_output_bytes", "expired_keys", "evicted_keys", "keyspace_hits",
    "keyspace_misses", "used_cpu_sys", "used_cpu_user", "used_cpu_sys_children", "used_cpu_user_children",
    # instance_info's labels
    "role", "redis_version", "redis_build_id", "redis_mode", "os", "maxmemory_policy", "tcp_port", "run_id",
]


def parse_info(text):
    """[(section title, {field: value})] in order."""
    sections = []
    for line in text.split("\r\n"):
        if line.startswith("# "):
            sections.append((line[2:], {}))
        elif ":" in line:
            name, value = line.split(":", 1)
            sections[-1][1][name] = value
    return sections


def info(conn, *args):
    return parse_info(conn.command("INFO", *args).decode())


def fields(conn, *args):
    out = {}
    for _, f in info(conn, *args):
        out.update(f)
    return out


def titles(conn, *args):
    return [t for t, _ in info(conn, *args) if t != "Proxy"]


def shard_sum(shards, field, section="everything"):
    total = 0
    for s in shards:
        c = RespConnection(s.port)
        try:
            total += int(fields(c, section)[field])
        finally:
            c.close()
    return total


def test_every_field_of_redis_server_is_in_the_proxys_info(pc, rc):
    mine, theirs = info(pc, "everything"), info(rc, "everything")
    assert [t for t, _ in mine] == ["Proxy"] + [t for t, _ in theirs]
    mine_by_title = dict(mine)
    missing = {}
    for title, f in theirs:
        names = {n for n in f if not n.startswith(PER_USE_PREFIXES)}
        lacking = names - set(mine_by_title[title]) - LEFT_OUT_ON_PURPOSE
        if lacking:
            missing[title] = sorted(lacking)
    assert not missing, missing
    assert mine_by_title["Cluster"]["cluster_enabled"] == "1"
    assert mine_by_title["Replication"]["role"] == "master"


def test_sections_are_chosen_as_redis_server_chooses_them(pc, rc):
    for args in [(), ("default",), ("all",), ("everything",), ("server",), ("CPU", "keyspace"),
                 ("memory", "stats", "nosuch"), ("nosuch",), ("modules",), ("module_list",),
                 ("commandstats",), ("default", "commandstats"), ("latencystats", "errorstats"),
                 ("Replication", "persistence", "clients", "cluster")]:
        assert titles(pc, *args) == titles(rc, *args), args
    assert pc.command("INFO", "nosuch") == rc.command("INFO", "nosuch") == b""
    assert "# Proxy" in pc.command("INFO", "all").decode()
    assert "# Proxy" not in pc.command("INFO", "server").decode()


def test_layout_is_redis_servers(pc, rc):
    for args in [(), ("everything",), ("server", "keyspace")]:
        mine, theirs = pc.command("INFO", *args).decode(), rc.command("INFO", *args).decode()
        # Sections separated by one empty line, the text ending with a field's line.
        assert mine.endswith("\r\n") and not mine.endswith("\r\n\r\n"), args
        assert mine.count("\r\n\r\n# ") == theirs.count("\r\n\r\n# ") + (1 if "# Proxy" in mine else 0)


def test_summed_figures_match_the_servers(pc, shards):
    per_shard = 40
    for shard in range(3):
        for i, key in enumerate(keys_on_shard(shard, per_shard, prefix="sum%d-" % shard)):
            pc.command("SET", key, "v" * 50)
            if i % 4 == 0:
                pc.command("EXPIRE", key, 1000)
            pc.command("GET", key)
        pc.command("GET", "nosuchkey-%d" % shard)
    f = fields(pc, "everything")
    assert f["db0"].startswith("keys=%d,expires=%d," % (3 * per_shard, 3 * 10)), f["db0"]
    assert int(f["keyspace_hits"]) == shard_sum(shards, "keyspace_hits")
    assert int(f["keyspace_misses"]) == shard_sum(shards, "keyspace_misses")
    assert int(f["expired_keys"]) == shard_sum(shards, "expired_keys")
    # Figures that move as the servers answer: between the sums read just
    # before and just after, within a margin (used_memory: reading a
    # server directly adds that connection's buffers, some 40 KB each).
    for field, margin in (("used_memory", 0.05), ("total_commands_processed", 16),
                          ("total_net_input_bytes", 4096)):
        before = shard_sum(shards, field)
        through = int(fields(pc, "everything")[field])
        after = shard_sum(shards, field)
        if isinstance(margin, float):
            margin = margin * before
        assert before - margin <= through <= after + margin, (field, before, through, after)
    f = fields(pc, "memory")
    used = int(f["used_memory"])
    assert f["used_memory_human"].endswith(("K", "M")), f["used_memory_human"]
    assert abs(float(f["used_memory_human"][:-1]) * (1024 if f["used_memory_human"][-1] == "K" else 1024 ** 2)
               - used) < 0.01 * used
    assert float(f["mem_fragmentation_ratio"]) > 0
    # The proxy's own: its clients and its process.
    mine = fields(pc, "clients", "server")
    assert int(mine["connected_clients"]) >= 1
    assert mine["process_id"] != fields(RespConnection(shards[0].port), "server")["process_id"]


def test_redis_py_info_parses_every_section(flushed, reference):
    r = redis.Redis(port=flushed.port)
    r.set("pyinfo", "1")
    r.expire("pyinfo", 100)
    everything = r.info("everything")
    ref = redis.Redis(port=reference.port).info("everything")
    for name in ("redis_version", "used_memory", "used_memory_human", "mem_fragmentation_ratio",
                 "rdb_last_bgsave_status", "keyspace_hits", "role", "used_cpu_sys", "cluster_enabled"):
        assert name in everything, name
        assert type(everything[name]) is type(ref[name]), name
    assert everything["db0"]["keys"] == 1 and everything["db0"]["expires"] == 1
    assert isinstance(everything["db0"]["avg_ttl"], int)
    assert "cmdstat_set" in everything and everything["cmdstat_set"]["calls"] >= 1
    for section in ("server", "clients", "memory", "persistence", "stats", "replication", "cpu", "modules",
                    "errorstats", "cluster", "keyspace", "commandstats", "latencystats", "default", "all"):
        r.info(section)  # parses
    r.close()


def test_the_fields_redis_exporter_reads_are_there(pc, rc):
    mine, theirs = fields(pc, "all"), fields(rc, "all")
    have = [f for f in REDIS_EXPORTER_FIELDS if f in theirs]
    assert len(have) > 80
    assert [f for f in have if f not in mine] == []
    for f in have:  # and they are numbers where redis-server's are
        try:
            float(theirs[f])
        except ValueError:
            continue
        float(mine[f])


def run_bounded(args, seconds):
    """Runs `args` for `seconds` (then stops it, by its pid) and returns its stdout."""
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        out, _ = proc.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate(timeout=10)
    return out.decode(errors="replace")


def test_redis_cli_stat_and_latency_run_through_the_proxy(pc):
    pc.pipeline([("SET", "cli%d" % i, i) for i in range(25)])
    # --stat runs until stopped; line-buffered so that what it printed survives the stop.
    out = run_bounded(["stdbuf", "-oL", "redis-cli", "-p", str(pc.sock.getpeername()[1]), "--stat", "-i", "0.2"],
                      1.5)
    lines = out.splitlines()
    assert any("keys" in l and "mem" in l and "clients" in l for l in lines), out
    rows = [l.split() for l in lines if l.split() and l.split()[0].isdigit()]
    assert rows, out
    assert rows[0][0] == "25", out  # keys summed over the shards
    assert rows[0][1][-1] in "BKMG", out  # used_memory_human
    out = run_bounded(["redis-cli", "-p", str(pc.sock.getpeername()[1]), "--latency", "--raw", "-i", "1"], 10)
    numbers = out.split()
    assert len(numbers) >= 4 and all(n.replace(".", "").isdigit() for n in numbers[:4]), out
    assert 0 <= float(numbers[0]) <= float(numbers[1]), out  # min <= max


def slow_script_on_every_shard(pc):
    script = "local i = 0 while i < 3000000 do i = i + 1 end return 1"
    for shard in range(3):
        assert pc.command("EVAL", script, 1, keys_on_shard(shard, 1, prefix="slow")[0]) == 1


def test_latency_through_the_proxy(pc, shards):
    conns = [RespConnection(s.port) for s in shards]
    try:
        for c in conns:
            assert c.command("CONFIG", "SET", "latency-monitor-threshold", "1") == b"OK"
            c.command("LATENCY", "RESET")
        slow_script_on_every_shard(pc)
        theirs = [c.command("LATENCY", "LATEST") for c in conns]
        assert all(t for t in theirs), theirs
        mine = pc.command("LATENCY", "LATEST")
        events = {e[0]: e for e in mine}
        assert b"command" in events, mine
        assert events[b"command"][3] == max(e[3] for t in theirs for e in t if e[0] == b"command")
        history = pc.command("LATENCY", "HISTORY", "command")
        assert len(history) >= max(len(c.command("LATENCY", "HISTORY", "command")) for c in conns)
        assert [h[0] for h in history] == sorted(h[0] for h in history)
        doctor = pc.command("LATENCY", "DOCTOR").decode()
        assert doctor.count("--- shard ") == 3, doctor
        graph = pc.command("LATENCY", "GRAPH", "command").decode()
        assert graph.count("--- shard ") == 3 and "command" in graph, graph
        assert pc.command("LATENCY", "RESET") == 3  # one event reset on each shard
        assert pc.command("LATENCY", "LATEST") == []
        assert isinstance(pc.command("LATENCY", "HELP"), list)
        assert isinstance(pc.command("LATENCY", "NOSUCH"), RespError)
    finally:
        for c in conns:
            c.command("CONFIG", "SET", "latency-monitor-threshold", "0")
            c.close()


def test_latency_histogram_is_the_proxys_own(pc, rc):
    for conn in (pc, rc):
        for i in range(20):
            conn.command("SET", "h%d" % i, i)
    mine, theirs = pc.command("LATENCY", "HISTOGRAM", "set", "nosuchcommand"), rc.command(
        "LATENCY", "HISTOGRAM", "set", "nosuchcommand")
    assert [mine[0], mine[1][0], mine[1][2]] == [theirs[0], theirs[1][0], theirs[1][2]] == [
        b"set", b"calls", b"histogram_usec"]
    assert len(mine) == 2 and mine[1][1] >= 20
    buckets = mine[1][3]
    counts = buckets[1::2]
    assert counts == sorted(counts) and counts[-1] == mine[1][1]  # cumulative, up to every call
    everything = pc.command("LATENCY", "HISTOGRAM")
    assert b"set" in everything[0::2]


def test_memory_through_the_proxy(pc, rc, shards):
    for shard in range(3):
        for key in keys_on_shard(shard, 10, prefix="mem%d-" % shard):
            pc.command("SET", key, "x" * 100)
            rc.command("SET", key, "x" * 100)
    stats = pc.command("MEMORY", "STATS")
    theirs = rc.command("MEMORY", "STATS")
    assert stats[0::2] == theirs[0::2]  # the same names in the same order
    s = dict(zip(stats[0::2], stats[1::2]))
    assert s[b"keys.count"] == 30
    sums = 0
    for sh in shards:
        c = RespConnection(sh.port)
        part = c.command("MEMORY", "STATS")
        sums += dict(zip(part[0::2], part[1::2]))[b"total.allocated"]
        c.close()
    # (reading a server directly adds that connection's buffers to its figure)
    assert abs(s[b"total.allocated"] - sums) < 0.05 * sums
    assert 0 < float(s[b"peak.percentage"]) <= 100.0
    db0 = dict(zip(s[b"db.0"][0::2], s[b"db.0"][1::2]))
    assert db0[b"overhead.hashtable.main"] > 0
    doctor = pc.command("MEMORY", "DOCTOR").decode()
    assert doctor.count("--- shard ") == 3, doctor
    assert pc.command("MEMORY", "MALLOC-STATS").decode().count("--- shard ") == 3
    assert pc.command("MEMORY", "PURGE") == b"OK"
    # Keyed: by slot, answered by the key's shard as redis-server answers.
    rc.command("SET", "mem0-probe", "x" * 100)
    pc.command("SET", "mem0-probe", "x" * 100)
    assert pc.command("MEMORY", "USAGE", "mem0-probe") == rc.command("MEMORY", "USAGE", "mem0-probe")
    assert pc.command("MEMORY", "USAGE", "nosuch") is None
    assert isinstance(pc.command("MEMORY", "HELP"), list)


def test_object_is_keyed_and_debug_refused(pc, rc):
    for conn in (pc, rc):
        conn.command("SET", "obj", "12345")
        conn.command("RPUSH", "objlist", "a", "b")
    for sub in (("ENCODING", "obj"), ("ENCODING", "objlist"), ("REFCOUNT", "obj"), ("FREQ", "obj"),
                ("ENCODING", "nosuch"), ("HELP",)):
        assert pc.command("OBJECT", *sub) == rc.command("OBJECT", *sub), sub
    assert isinstance(pc.command("OBJECT", "IDLETIME", "obj"), int)
    for args in (("OBJECT", "obj"), ("SLEEP", "0"), ("SET-ACTIVE-EXPIRE", "1")):
        reply = pc.command("DEBUG", *args)
        assert isinstance(reply, RespError) and "enable-debug-command" in str(reply), reply


def test_acl_for_the_proxys_one_user(pc, rc):
    assert pc.command("ACL", "WHOAMI") == rc.command("ACL", "WHOAMI") == b"default"
    assert pc.command("ACL", "USERS") == rc.command("ACL", "USERS") == [b"default"]
    assert pc.command("ACL", "CAT") == rc.command("ACL", "CAT")
    # (in the order of a server's command table dict: compared as sets)
    assert sorted(pc.command("ACL", "CAT", "string")) == sorted(rc.command("ACL", "CAT", "string"))
    assert len(pc.command("ACL", "GENPASS")) == 64
    for args in (("SETUSER", "alice", "on"), ("DELUSER", "alice"), ("LIST",), ("GETUSER", "default"),
                 ("LOG",), ("SAVE",), ("LOAD",), ("DRYRUN", "default", "get", "k")):
        reply = pc.command("ACL", *args)
        assert isinstance(reply, RespError), args
        assert str(reply).startswith("ERR ACL %s is not supported through the redkube proxy" % args[0]), reply
    assert pc.command("PING") == b"PONG"
