#!/usr/bin/python3
"""Generates src/proxy/command_table_data.inc from a real redis-server's COMMAND.

The proxy's command table must cover every command of the Redis version it
fronts, with the key specs Redis itself uses. Rather than hand-copy them, this
starts a throwaway redis-server on loopback, reads the raw COMMAND reply and
writes it out as C++ constants. Run it again when the supported Redis version
changes:   /usr/bin/python3 tools/gen_command_table.py
"""
import os
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "src", "proxy", "command_table_data.inc")

FLAGS = {
    "write": "kFlagWrite", "readonly": "kFlagReadonly", "denyoom": "kFlagDenyOom",
    "admin": "kFlagAdmin", "pubsub": "kFlagPubsub", "noscript": "kFlagNoscript",
    "blocking": "kFlagBlocking", "loading": "kFlagLoading", "stale": "kFlagStale",
    "skip_monitor": "kFlagSkipMonitor", "skip_slowlog": "kFlagSkipSlowlog",
    "fast": "kFlagFast", "no_auth": "kFlagNoAuth", "may_replicate": "kFlagMayReplicate",
    "no_mandatory_keys": "kFlagNoMandatoryKeys", "no_multi": "kFlagNoMulti",
    "movablekeys": "kFlagMovableKeys", "allow_busy": "kFlagAllowBusy",
}


class Reader:
    """Just enough of a RESP2 reader for COMMAND's reply."""

    def __init__(self, sock):
        self.file = sock.makefile("rb")

    def read(self):
        line = self.file.readline()
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.file.read(n + 2)[:-2]
            return data.decode()
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise RuntimeError("unexpected reply %r" % line)


def as_map(flat):
    return {flat[i]: flat[i + 1] for i in range(0, len(flat), 2)}


def fetch_commands():
    with tempfile.TemporaryDirectory() as tmp:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", tmp],
            stdout=subprocess.DEVNULL)
        try:
            deadline = time.time() + 10
            while True:
                try:
                    sock = socket.create_connection(("127.0.0.1", port))
                    break
                except OSError:
                    if time.time() > deadline:
                        raise
                    time.sleep(0.05)
            with sock:
                sock.sendall(b"*1\r\n$7\r\nCOMMAND\r\n")
                commands = Reader(sock).read()
                sock.sendall(b"*1\r\n$4\r\nINFO\r\n")
                info = Reader(sock).read()
        finally:
            server.terminate()
            server.wait()
    version = next(l.split(":")[1] for l in info.splitlines() if l.startswith("redis_version:"))
    return commands, version.strip()


def key_spec_literal(spec):
    spec = as_map(spec)
    begin = as_map(spec["begin_search"])
    find = as_map(spec["find_keys"])
    bspec = as_map(begin["spec"]) if begin["spec"] else {}
    fspec = as_map(find["spec"]) if find["spec"] else {}
    flags = spec.get("flags") or []
    b = {"index": "kIndex", "keyword": "kKeyword"}.get(begin["type"], "kUnknown")
    f = {"range": "kRange", "keynum": "kKeynum"}.get(find["type"], "kUnknown")
    return ("{KeySpec::Begin::%s, %d, \"%s\", %d, KeySpec::Find::%s, %d, %d, %d, %d, %d, %d, %s}" % (
        b, bspec.get("index", 0), bspec.get("keyword", ""), bspec.get("startfrom", 0), f,
        fspec.get("lastkey", 0), fspec.get("keystep", 0), fspec.get("limit", 0),
        fspec.get("keynumidx", 0), fspec.get("firstkey", 0),
        fspec.get("keystep", 0) if f == "kKeynum" else 0,
        "true" if "incomplete" in flags else "false"))


def ident(name):
    return "k" + "".join(p.capitalize() for p in name.replace("|", "_").replace("-", "_").split("_"))


def emit_command(cmd, out):
    """Emits the arrays a command needs and returns its CommandSpec literal."""
    name, arity, flags = cmd[0], cmd[1], cmd[2]
    key_specs = cmd[8] if len(cmd) > 8 else []
    subcommands = cmd[9] if len(cmd) > 9 else []
    base = ident(name)
    specs_ref = "{}"
    if key_specs:
        out.append("constexpr KeySpec %sKeys[] = {\n%s};" % (
            base, "".join("    %s,\n" % key_spec_literal(s) for s in key_specs)))
        specs_ref = "%sKeys" % base
    subs_ref = "{}"
    if subcommands:
        literals = [emit_command(s, out) for s in sorted(subcommands, key=lambda c: c[0])]
        out.append("constexpr CommandSpec %sSubcommands[] = {\n%s};" % (
            base, "".join("    %s,\n" % l for l in literals)))
        subs_ref = "%sSubcommands" % base
    flag_expr = " | ".join(FLAGS[f] for f in flags if f in FLAGS) or "0"
    return "{\"%s\", %d, %s, %s, %s}" % (name.lower(), arity, flag_expr, specs_ref, subs_ref)


def main():
    commands, version = fetch_commands()
    out = []
    literals = [emit_command(c, out) for c in sorted(commands, key=lambda c: c[0])]
    with open(OUT, "w") as f:
        f.write("// Generated by tools/gen_command_table.py from redis-server %s's COMMAND.\n" % version)
        f.write("// Do not edit by hand. %d commands.\n" % len(commands))
        f.write("// clang-format off\n")
        for block in out:
            f.write(block + "\n")
        f.write("constexpr CommandSpec kAllCommands[] = {\n")
        for l in literals:
            f.write("    %s,\n" % l)
        f.write("};\n")
        f.write("constexpr std::string_view kGeneratedFromRedisVersion = \"%s\";\n" % version)
    print("wrote %s: %d commands from redis %s" % (OUT, len(commands), version))


if __name__ == "__main__":
    sys.exit(main())
