#!/usr/bin/env python3
"""
peerchain-cli, the API client: usage errors exit 2 with one line and send
nothing; an unreachable, slow or broken node is exit 1 with one line that
names the address and the reason; every hostile answer a fake node can give
(bad JSON, errors with and without {"error"}, terminal escapes, bodies over
the 64 MiB cap, wrong types, cut-off answers) ends in exit 0 or 1, never a
crash; requests carry the right path, body and token (--token, API_TOKEN or
the cookie); and against a live peerchaind: status, health, mine, block,
blocks, peers and addpeer work end to end, --json parses, a wrong token is
exit 1.

The fake node is an http.server on 127.0.0.1 owned by this test. The live
checks need peerchaind's API; they are skipped (with the reason printed)
only when `peerchaind --help` does not offer --api-port.

How this fails if the CLI is broken: a crash or hang shows as an exit code
other than 0/1/2 (or the 60 s bound), a multi-line or escape-laden error as
a failed one-line check, a wrong request as a mismatch in what the fake
node recorded.
"""

import http.server
import json
import os
import re
import socket
import stat
import subprocess
import threading
import time

import pclib

MIB = 1024 * 1024
TOKEN = "cli-test-token-0123456789abcdef"


# ------------------------------------------------------------ the fake node

class FakeNode:
    """An HTTP server on 127.0.0.1:<ephemeral> that answers each path with a
    responder set by the test and records every request it gets."""

    def __init__(self):
        fake = self
        self.routes = {}
        self.requests = []
        self.mu = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"   # close-delimited bodies are allowed

            def log_message(self, *a):
                pass

            def handle_any(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(min(n, 4 * MIB)) if n > 0 else b""
                with fake.mu:
                    fake.requests.append({"method": self.command, "path": self.path,
                                          "headers": dict(self.headers.items()),
                                          "body": body})
                    r = fake.routes.get(self.path) or fake.routes.get(self.path.split("?")[0])
                try:
                    if r is None:
                        json_answer(404, {"error": "no such route in the fake"})(self)
                    else:
                        r(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass   # the client gave up first: expected for caps and timeouts

            do_GET = handle_any
            do_POST = handle_any

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False   # a handler still sleeping must not hold up close

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.addr = "127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def route(self, path, responder):
        with self.mu:
            self.routes[path] = responder

    def take_requests(self):
        with self.mu:
            r, self.requests = self.requests, []
        return r

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def raw_answer(status, body, ctype="application/json", length=True):
    if isinstance(body, str):
        body = body.encode("utf-8")

    def respond(hd):
        hd.send_response(status)
        hd.send_header("Content-Type", ctype)
        if length:
            hd.send_header("Content-Length", str(len(body)))
        hd.end_headers()
        hd.wfile.write(body)
    return respond


def json_answer(status, obj):
    return raw_answer(status, json.dumps(obj))


def huge_answer(total, length):
    """A JSON-looking body of `total` bytes, announced or close-delimited."""
    def respond(hd):
        hd.send_response(200)
        hd.send_header("Content-Type", "application/json")
        if length:
            hd.send_header("Content-Length", str(total))
        hd.end_headers()
        chunk = b"[" + b'"x",' * (MIB // 4 - 1) + b'"x"'
        sent = 0
        while sent < total:
            piece = chunk[:total - sent]
            hd.wfile.write(piece)
            sent += len(piece)
    return respond


def slow_answer(seconds, obj):
    def respond(hd):
        time.sleep(seconds)
        json_answer(200, obj)(hd)
    return respond


def no_answer(hd):
    hd.close_connection = True   # writes nothing: the socket just closes


def cut_answer(hd):
    hd.send_response(200)
    hd.send_header("Content-Length", "1000")
    hd.end_headers()
    hd.wfile.write(b'{"height": 1')
    hd.wfile.flush()
    hd.connection.shutdown(socket.SHUT_RDWR)


def block_json(height, data=("a", "b"), ts=1767225600):
    return {"version": 1, "height": height, "timestamp": ts,
            "previousHash": "00" * 32, "merkleRoot": "11" * 32, "nonce": 7,
            "difficulty": 4, "data": list(data), "hash": "%064x" % (0xabcdef0123456789 + height)}


# ------------------------------------------------------------ running the CLI

class Cli:
    def __init__(self, h):
        self.h = h
        bin_dir = os.path.dirname(h.peerchaind)
        self.path = os.path.join(bin_dir, "peerchain-cli")
        self.home = os.path.join(h.tmp, "home")
        os.makedirs(self.home, exist_ok=True)

    def run(self, args, env=None, timeout=60):
        """(rc, stdout, stderr) as text; rc None if it had to be killed."""
        e = {k: v for k, v in os.environ.items()
             if k not in ("PEERCHAIN_API", "API_TOKEN", "http_proxy", "HTTP_PROXY",
                          "all_proxy", "ALL_PROXY")}
        e["HOME"] = self.home   # no stray cookie from the real home
        if env:
            e.update(env)
        try:
            p = subprocess.run([self.path] + list(args), stdin=subprocess.DEVNULL,
                               capture_output=True, timeout=timeout, env=e,
                               preexec_fn=pclib._child_setup)
        except subprocess.TimeoutExpired as ex:
            return None, (ex.stdout or b"").decode("utf-8", "replace"), \
                (ex.stderr or b"").decode("utf-8", "replace")
        return (p.returncode, p.stdout.decode("utf-8", "replace"),
                p.stderr.decode("utf-8", "replace"))


def lines_of(text):
    return [l for l in text.splitlines() if l.strip()]


def clean_stderr(err):
    return not any(m in err for m in pclib.SANITIZER_MARKERS)


def expect_fail(h, cli, args, label, rc_want=1, must=(), env=None, timeout=60):
    """The CLI exits rc_want with exactly one line on stderr holding each of
    `must`, and nothing on stdout. Returns (rc, out, err)."""
    rc, out, err = cli.run(args, env=env, timeout=timeout)
    ls = lines_of(err)
    h.check(rc == rc_want, "%s: exits %d" % (label, rc_want),
            "rc %s (None: hung), stderr %r" % (rc, err[:300]))
    h.check(len(ls) == 1 and clean_stderr(err), "%s: one line on stderr" % label, ls[:4])
    h.check(out == "", "%s: nothing on stdout" % label, out[:200])
    for m in must:
        h.check(m.lower() in err.lower(), "%s: stderr names %r" % (label, m), err[:300])
    return rc, out, err


def expect_ok(h, cli, args, label, env=None):
    rc, out, err = cli.run(args, env=env)
    h.check(rc == 0 and clean_stderr(err), "%s: exits 0" % label,
            "rc %s, stderr %r" % (rc, err[:300]))
    return out


# ------------------------------------------------------------ usage errors

def check_usage(h, cli, fake):
    expect_ok(h, cli, ["--help"], "--help")
    rc, out, _ = cli.run(["--help"])
    for word in ("status", "health", "blocks", "block", "mine", "peers", "addpeer", "--api",
                 "--token", "--datadir", "--network", "--json", "--timeout-ms"):
        h.check(word in out, "--help mentions %s" % word)
    rc, out, _ = cli.run(["--version"])
    h.check(rc == 0 and "0.1.0" in out, "--version prints 0.1.0", (rc, out))

    env = {"PEERCHAIN_API": fake.addr, "API_TOKEN": TOKEN}
    bad = [
        ([], "no command"),
        (["frobnicate"], "unknown command"),
        (["--no-such-flag", "status"], "unknown flag before the command"),
        (["status", "--no-such-flag"], "unknown flag after the command"),
        (["status", "extra"], "status with an argument"),
        (["--timeout-ms"], "--timeout-ms without a value"),
        (["--timeout-ms", "0", "status"], "--timeout-ms 0"),
        (["--timeout-ms", "abc", "status"], "--timeout-ms abc"),
        (["--timeout-ms", "1e3", "status"], "--timeout-ms 1e3"),
        (["--timeout-ms", "-5", "status"], "--timeout-ms -5"),
        (["--timeout-ms", " 5", "status"], "--timeout-ms ' 5'"),
        (["--timeout-ms", "99999999999999999999999", "status"], "--timeout-ms overflowing"),
        (["blocks", "--limit", "0"], "--limit 0"),
        (["blocks", "--limit", "1001"], "--limit 1001"),
        (["blocks", "--limit", "-1"], "--limit -1"),
        (["blocks", "--limit", "5x"], "--limit 5x"),
        (["blocks", "--from", "0"], "--from 0"),
        (["blocks", "--from", "9007199254740992"], "--from 2^53"),
        (["blocks", "5"], "blocks with an argument"),
        (["status", "--verbose"], "--verbose on status"),
        (["peers", "--from", "3"], "--from on peers"),
        (["block"], "block without an argument"),
        (["block", "1", "2"], "block with two arguments"),
        (["block", "xyz"], "block xyz"),
        (["block", "0"], "block 0"),
        (["block", "-1"], "block -1"),
        (["block", "ab" * 31 + "a"], "block with a 63-character hash"),
        (["block", "g" * 64], "block with a non-hex hash"),
        (["addpeer"], "addpeer without an argument"),
        (["addpeer", "a:1", "b:2"], "addpeer with two arguments"),
        (["addpeer", "bad peer:1"], "addpeer with a space"),
        (["--api", "nope", "status"], "--api without a port"),
        (["--api", "::1:8545", "status"], "--api IPv6 without brackets"),
        (["--api", "127.0.0.1:0", "status"], "--api port 0"),
        (["--api", "127.0.0.1:70000", "status"], "--api port 70000"),
        (["--api", "127.0.0.1:", "status"], "--api empty port"),
        (["--api", "[zz]:1", "status"], "--api bad IPv6"),
        (["--api", "http://127.0.0.1:1/x", "status"], "--api with a URL"),
        (["--api", "a/b:1", "status"], "--api host with a slash"),
        (["--network", "nosuchnet", "status"], "--network nosuchnet"),
        (["--token", "has space", "mine"], "--token with a space"),
        (["mine", "-x"], "mine data that looks like a flag"),
        (["mine"] + ["d"] * 1001, "mine with 1001 data items"),
        (["mine", "x" * 65537], "mine with a 65537-byte item"),
        (["mine"] + ["y" * 65536] * 17, "mine with 1 MiB + 64 KiB of data"),
    ]
    for args, label in bad:
        expect_fail(h, cli, args, label, rc_want=2, env=env)
    # Bytes that are not UTF-8 go in as raw argv.
    rc, out, err = cli.run([b"mine", b"\xff\xfe"], env=env)
    h.check(rc == 2 and len(lines_of(err)) == 1, "mine with invalid UTF-8: exit 2, one line",
            (rc, err[:200]))
    expect_fail(h, cli, ["status"], "PEERCHAIN_API without a port", rc_want=2,
                env={"PEERCHAIN_API": "localhost"}, must=("PEERCHAIN_API",))
    expect_fail(h, cli, ["mine"], "API_TOKEN with a newline", rc_want=2,
                env={"PEERCHAIN_API": fake.addr, "API_TOKEN": "abc\ndef"}, must=("API_TOKEN",))
    rc, out, err = cli.run(["--token", "secret-token-that-must-not-show", "--timeout-ms", "x",
                            "status"])
    h.check("secret-token" not in err, "a usage error does not echo the token", err)
    h.check(fake.take_requests() == [], "no usage error sent a request")


# ------------------------------------------------------------ unreachable

def check_unreachable(h, cli):
    port = pclib.free_port()
    for cmd in (["status"], ["health"], ["blocks"], ["mine", "--token", TOKEN, "x"]):
        expect_fail(h, cli, ["--api", "127.0.0.1:%d" % port] + cmd,
                    "nothing listening (%s)" % cmd[0], must=("127.0.0.1:%d" % port, "refused"))
    expect_fail(h, cli, ["status"], "nothing listening via PEERCHAIN_API",
                env={"PEERCHAIN_API": "127.0.0.1:%d" % port}, must=("127.0.0.1:%d" % port,))

    # A listener that never accepts: the connection is made, no answer comes.
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    addr = "127.0.0.1:%d" % ls.getsockname()[1]
    t0 = time.monotonic()
    expect_fail(h, cli, ["--api", addr, "--timeout-ms", "300", "status"],
                "a node that never answers", must=(addr, "timed out", "300 ms"))
    h.check(time.monotonic() - t0 < 10, "the timeout is kept (%.1f s)" % (time.monotonic() - t0))
    ls.close()


# ------------------------------------------------------------ hostile answers

def check_hostile(h, cli, fake):
    a = ["--api", fake.addr]
    cases = [
        ("/status", raw_answer(200, "{not json"), ["status"], "bad JSON",
         ("not JSON", "/status")),
        ("/status", raw_answer(200, ""), ["status"], "an empty 200", ("not JSON",)),
        ("/status", raw_answer(200, "[" * 100000), ["status"], "JSON nested 100000 deep",
         ("not JSON",)),
        ("/status", raw_answer(200, '{"height": 1e999}'), ["status"], "a number too large",
         ("not JSON",)),
        ("/status", raw_answer(200, '"ok"'), ["status"], "a bare JSON string", ()),
        ("/status", json_answer(500, {"error": "database on fire"}), ["status"],
         "500 with {error}", ("500", "database on fire", fake.addr)),
        ("/status", raw_answer(500, ""), ["status"], "500 with no body", ("500",)),
        ("/status", raw_answer(502, "<html>\n<b>bad\ngateway</b>\n</html>\n", "text/html"),
         ["status"], "502 with an HTML body", ("502",)),
        ("/status", json_answer(503, {"error": 42}), ["status"], "an error that is not a string",
         ("503",)),
        ("/status", json_answer(500, {"error": "\x1b[31mred\x1b[0m\nsecond line\r\x07"}),
         ["status"], "an error with escapes and newlines", ("500",)),
        ("/status", json_answer(400, {"error": "x" * 100000}), ["status"], "a 100 kB error",
         ("400",)),
        ("/mineBlock", json_answer(401, {"error": "bad token"}), ["--token", TOKEN, "mine"],
         "401 on mine", ("401", "bad token", "token")),
        ("/addPeer", json_answer(409, {"error": "peer already known"}),
         ["--token", TOKEN, "addpeer", "127.0.0.1:9"], "409 on addpeer", ("409", "known")),
        ("/status", huge_answer(70 * MIB, True), ["status"], "a 70 MiB announced body",
         ("64 MiB",)),
        ("/status", huge_answer(70 * MIB, False), ["status"], "a 70 MiB close-delimited body",
         ("64 MiB",)),
        ("/status", slow_answer(3, {}), ["--timeout-ms", "500", "status"],
         "an answer slower than --timeout-ms", ("timed out",)),
        ("/status", no_answer, ["status"], "a connection closed without an answer",
         (fake.addr,)),
        ("/status", cut_answer, ["status"], "an answer cut off mid-body", (fake.addr,)),
        ("/status", json_answer(200, []), ["status"], "status as an array",
         ("not an object",)),
        ("/blocks/latest", json_answer(200, {"height": "ten"}), ["blocks"],
         "blocks when the tip has no integer height", ("height",)),
        ("/blocks/5", json_answer(200, [block_json(5)]), ["block", "5"],
         "block as an array", ("not a block",)),
        ("/peers", json_answer(200, {"peers": []}), ["peers"], "peers as an object", ()),
        ("/health", json_answer(503, {"status": "syncing", "error": "still syncing"}),
         ["health"], "health 503", ("503", "still syncing")),
        ("/health", json_answer(200, {"status": "bad"}), ["health"], "health 200 but not ok",
         ("health",)),
        ("/health", json_answer(200, []), ["health"], "health 200 with an array", ("health",)),
        ("/mineBlock", json_answer(200, ["not", "a", "block"]), ["--token", TOKEN, "mine"],
         "mine answered with an array", ("not an object",)),
        ("/status", raw_answer(301, "", "text/plain"), ["status"], "a redirect", ("301",)),
    ]
    for path, responder, args, label, must in cases:
        fake.route(path, responder)
        t0 = time.monotonic()
        rc, out, err = expect_fail(h, cli, a + args, label, must=must)
        if "escapes" in label or "HTML" in label:
            h.check("\x1b" not in err and "\x07" not in err and "\r" not in err,
                    "%s: no control characters reach the terminal" % label, repr(err[:200]))
        if "100 kB" in label:
            h.check(len(err) < 1000, "%s: quoted in short" % label, len(err))
        if "MiB" in label:
            h.check(time.monotonic() - t0 < 30, "%s: given up on in bounded time" % label)
        fake.route(path, None)
    fake.take_requests()


def check_wrong_types(h, cli, fake):
    """Answers with the right top-level shape and nonsense inside: shown as
    they are, never a crash, never a control character."""
    a = ["--api", fake.addr]
    evil = "\x1b]0;pwned\x07\x1b[2J\u009b31m"
    fake.route("/status", json_answer(200, {"network": 5, "networkId": None, "version": [1],
                                             "height": "x", "tip": {"a": 1}, "work": 1.5,
                                             "peers": 7, "sync": None, "mining": [],
                                             "uptimeSeconds": -3, "extra": evil}))
    out = expect_ok(h, cli, a + ["status"], "status with every field of the wrong type")
    h.check(len(lines_of(out)) >= 8, "...still prints its lines", out)
    fake.route("/blocks", json_answer(200, [1, "x", None, [], {"height": "a", "timestamp": -5,
                                                               "data": 3, "hash": 9},
                                            {}, {"height": 2**62, "timestamp": 2**53,
                                                 "hash": evil, "data": [evil]}]))
    out = expect_ok(h, cli, a + ["blocks", "--from", "1"], "blocks with junk entries")
    h.check(len(lines_of(out)) == 7, "...one line per entry", out)
    h.check("\x1b" not in out and "\x07" not in out and "\u009b" not in out,
            "...no control characters in the output", repr(out[:300]))
    fake.route("/blocks/7", json_answer(200, {"height": 7, "data": [1, {}, None, evil, "ok"],
                                              "timestamp": "soon"}))
    out = expect_ok(h, cli, a + ["block", "7"], "a block with junk data")
    h.check("\x1b" not in out and "\x07" not in out and "\u009b" not in out,
            "...no control characters in the output", repr(out[:300]))
    h.check("[4] ok" in out, "...lists every data item", out)
    fake.route("/peers", json_answer(200, ["127.0.0.1:1", 5, None, {"x": 1}, evil]))
    out = expect_ok(h, cli, a + ["peers"], "peers with junk entries")
    h.check(len(lines_of(out)) == 5 and "\x1b" not in out, "...one clean line each", out)
    fake.route("/peers?verbose=1", json_answer(200, [{"id": "x" * 500}, 5, None,
                                                     {"addr": evil, "height": 3}]))
    out = expect_ok(h, cli, a + ["peers", "--verbose"], "verbose peers with junk entries")
    h.check(len(lines_of(out)) == 5 and "\x1b" not in out, "...a header and a row each", out)
    big = ["127.0.0.%d:%d" % (i % 250 + 1, i % 60000 + 1) for i in range(400000)]
    fake.route("/peers", json_answer(200, big))   # ~7 MiB: under the cap
    out = expect_ok(h, cli, a + ["peers"], "a 7 MiB answer under the cap")
    h.check(len(lines_of(out)) == len(big), "...printed in full", len(lines_of(out)))
    for p in ("/status", "/blocks", "/blocks/7", "/peers", "/peers?verbose=1"):
        fake.route(p, None)
    fake.take_requests()


# ------------------------------------------------------------ requests sent

def check_requests(h, cli, fake):
    a = ["--api", fake.addr]
    fake.route("/blocks", json_answer(200, [block_json(3), block_json(4, data=["x"])]))
    out = expect_ok(h, cli, a + ["blocks", "--from", "3", "--limit", "2"], "blocks --from 3")
    req = fake.take_requests()
    h.check([r["path"] for r in req] == ["/blocks?from=3&limit=2"],
            "blocks --from 3 --limit 2 asks /blocks?from=3&limit=2", [r["path"] for r in req])
    ls = lines_of(out)
    h.check(len(ls) == 2 and "2026-01-01T00:00:00Z" in ls[0] and "2 items" in ls[0] and
            "1 item" in ls[1], "blocks: one line each with ISO time and item count", ls)
    h.check(re.search(r"\b[0-9a-f]{16}\b", ls[0]) and not re.search(r"[0-9a-f]{17}", ls[0]),
            "blocks: a 16-character short hash", ls[:1])

    fake.route("/blocks/latest", json_answer(200, block_json(50)))
    expect_ok(h, cli, a + ["blocks", "--limit", "5"], "blocks --limit 5 (latest)")
    h.check([r["path"] for r in fake.take_requests()] ==
            ["/blocks/latest", "/blocks?from=46&limit=5"],
            "blocks without --from asks for the latest L")
    fake.route("/blocks/latest", json_answer(200, block_json(3)))
    expect_ok(h, cli, a + ["blocks"], "blocks on a short chain")
    h.check([r["path"] for r in fake.take_requests()][-1] == "/blocks?from=1&limit=20",
            "blocks on a 3-block chain starts at 1, default limit 20")

    hx = "AB" * 32
    fake.route("/blocks/hash/" + hx.lower(), json_answer(200, block_json(9)))
    out = expect_ok(h, cli, a + ["block", hx], "block HASH in upper case")
    h.check([r["path"] for r in fake.take_requests()] == ["/blocks/hash/" + hx.lower()],
            "block HASH asks /blocks/hash/<lowercase>")
    for key in ("height", "hash", "previous hash", "merkle root", "time", "difficulty",
                "nonce", "version", "data"):
        h.check(re.search(r"^%s: +\S" % key, out, re.M), "block shows %s" % key, out)
    h.check("  [0] a" in out and "  [1] b" in out, "block lists its data", out)
    expect_ok(h, cli, a + ["block", "latest"], "block latest")
    h.check([r["path"] for r in fake.take_requests()] == ["/blocks/latest"],
            "block latest asks /blocks/latest")

    fake.route("/peers", json_answer(200, ["127.0.0.1:1", "[::1]:2"]))
    fake.route("/peers?verbose=1", json_answer(200, [
        {"id": 1, "addr": "127.0.0.1:1", "direction": "outbound", "protocol": "peerchain",
         "height": 5, "listen": 8555}]))
    out = expect_ok(h, cli, a + ["peers"], "peers")
    h.check(lines_of(out) == ["127.0.0.1:1", "[::1]:2"], "peers: one address per line", out)
    out = expect_ok(h, cli, a + ["peers", "--verbose"], "peers --verbose")
    ls = lines_of(out)
    h.check(len(ls) == 2 and "addr" in ls[0] and "outbound" in ls[1] and
            ls[0].index("direction") == ls[1].index("outbound"),
            "peers --verbose: an aligned table", ls)
    h.check([r["path"] for r in fake.take_requests()] == ["/peers", "/peers?verbose=1"],
            "peers --verbose asks /peers?verbose=1")

    fake.route("/status", json_answer(200, {
        "network": "regtest", "networkId": "peerchain-regtest-1", "version": "0.1.0",
        "height": 12, "tip": "00" * 32, "work": "c0", "peers": {"inbound": 1, "outbound": 2},
        "sync": {"state": "synced", "height": 12, "target": 12, "progress": 1},
        "mining": {"enabled": False, "hashRate": 0}, "uptimeSeconds": 3725}))
    out = expect_ok(h, cli, a + ["status"], "status")
    ls = lines_of(out)
    cols = {re.match(r"[^:]*: *", l).end() for l in ls}
    h.check(len(cols) == 1 and len(ls) >= 8, "status: aligned key: value lines", ls)
    for want in ("regtest", "peerchain-regtest-1", "1 inbound, 2 outbound", "synced", "100%",
                 "1h 2m 5s"):
        h.check(want in out, "status shows %r" % want, out)
    fake.route("/status", json_answer(200, {
        "sync": {"state": "syncing", "height": 4567, "target": 10000, "progress": 0.4567}}))
    out = expect_ok(h, cli, a + ["status"], "status while syncing")
    h.check(re.search(r"^sync: +syncing \(height 4567 of 10000, 45\.6%\)$", out, re.M),
            "status shows sync progress as a percentage, rounded down", out)
    fake.route("/status", json_answer(200, {"uptimeSeconds": 3725}))
    out = expect_ok(h, cli, a + ["status", "--json"], "status --json (flag after the command)")
    h.check(json.loads(out)["uptimeSeconds"] == 3725, "--json prints the node's JSON", out[:200])
    fake.route("/status", raw_answer(200, '{"b": 1,   "a": [2]}'))
    out = expect_ok(h, cli, ["--json"] + a + ["status"], "--json before the command")
    h.check(out == '{"b": 1,   "a": [2]}\n', "--json prints the body as it came", repr(out))

    fake.route("/health", json_answer(200, {"status": "ok", "height": 3}))
    rc, out, err = cli.run(a + ["health"])
    h.check(rc == 0 and out == "" and err == "", "health: exit 0 and quiet", (rc, out, err))
    expect_ok(h, cli, ["status"], "PEERCHAIN_API picks the node", env={"PEERCHAIN_API": fake.addr})
    expect_ok(h, cli, a + ["status"], "a proxy in the environment is not used",
              env={"http_proxy": "http://127.0.0.1:%d" % pclib.free_port(),
                   "HTTP_PROXY": "http://127.0.0.1:%d" % pclib.free_port()})
    fake.take_requests()


def check_tokens(h, cli, fake):
    a = ["--api", fake.addr]
    fake.route("/mineBlock", json_answer(200, block_json(2, data=["hello", "wörld"])))
    fake.route("/addPeer", json_answer(200, {"peer": "127.0.0.1:9", "status": "added"}))
    datadir = os.path.join(h.tmp, "cookie-dir")
    os.makedirs(datadir)
    cookie = os.path.join(datadir, ".cookie")
    with open(cookie, "w") as f:
        f.write("cookie-token-0123456789\n")
    os.chmod(cookie, 0o600)

    out = expect_ok(h, cli, a + ["--datadir", datadir, "mine", "hello", "wörld"],
                    "mine with the token from the cookie")
    req = fake.take_requests()
    h.check(len(req) == 1 and req[0]["method"] == "POST" and req[0]["path"] == "/mineBlock",
            "mine sends POST /mineBlock", [(r["method"], r["path"]) for r in req])
    if req:
        r = req[0]
        h.check(r["headers"].get("Authorization") == "Bearer cookie-token-0123456789",
                "the cookie's token goes in without its newline", r["headers"])
        h.check(json.loads(r["body"]) == {"data": ["hello", "wörld"]},
                "mine sends {\"data\": [...]}", r["body"][:200])
        h.check(r["headers"].get("Content-Type", "").startswith("application/json"),
                "mine sends Content-Type: application/json")
    h.check("height:" in out and "wörld" in out, "mine prints the mined block", out)

    expect_ok(h, cli, a + ["--datadir", datadir, "mine", "--", "-starts-with-dash"],
              "mine -- -data")
    r = fake.take_requests()
    h.check(r and json.loads(r[0]["body"]) == {"data": ["-starts-with-dash"]},
            "-- lets data start with '-'")
    expect_ok(h, cli, a + ["--datadir", datadir, "mine"], "mine with no data")
    r = fake.take_requests()
    h.check(r and json.loads(r[0]["body"]) == {"data": []}, "mine with no data sends []")

    expect_ok(h, cli, a + ["--datadir", datadir, "mine", "x"], "API_TOKEN beats the cookie",
              env={"API_TOKEN": "env-token-0123456789"})
    r = fake.take_requests()
    h.check(r and r[0]["headers"].get("Authorization") == "Bearer env-token-0123456789",
            "API_TOKEN is sent")
    expect_ok(h, cli, a + ["--token", "flag-token-0123456789", "mine", "x"],
              "--token beats API_TOKEN", env={"API_TOKEN": "env-token-0123456789"})
    r = fake.take_requests()
    h.check(r and r[0]["headers"].get("Authorization") == "Bearer flag-token-0123456789",
            "--token is sent")

    home_dir = os.path.join(cli.home, ".peerchain", "regtest")
    os.makedirs(home_dir, exist_ok=True)
    with open(os.path.join(home_dir, ".cookie"), "w") as f:
        f.write("home-token-0123456789\r\n")
    expect_ok(h, cli, a + ["--network", "regtest", "addpeer", "127.0.0.1:9"],
              "addpeer with the cookie under $HOME/.peerchain/regtest")
    r = fake.take_requests()
    h.check(r and r[0]["headers"].get("Authorization") == "Bearer home-token-0123456789" and
            json.loads(r[0]["body"]) == {"peer": "127.0.0.1:9"},
            "addpeer sends {\"peer\"} with the home cookie's token (CRLF trimmed)")
    rc, out, err = cli.run(a + ["--network", "regtest", "addpeer", "127.0.0.1:9"])
    h.check(out.strip() == "127.0.0.1:9: added", "addpeer prints the peer and its status", out)
    fake.take_requests()

    # GETs need no token, so a missing cookie does not stop them.
    fake.route("/peers", json_answer(200, []))
    expect_ok(h, cli, a + ["--datadir", "/nonexistent", "peers"], "GET needs no cookie")
    h.check(all("Authorization" not in r["headers"] for r in fake.take_requests()),
            "GET requests carry no token")

    missing = os.path.join(h.tmp, "no-such-dir")
    expect_fail(h, cli, a + ["--datadir", missing, "mine"], "no cookie in --datadir",
                must=(os.path.join(missing, ".cookie"), "no such file"))
    expect_fail(h, cli, a + ["mine"], "no cookie under $HOME/.peerchain/main",
                must=(os.path.join(cli.home, ".peerchain", "main", ".cookie"),))
    weird = os.path.join(h.tmp, "weird")
    os.makedirs(os.path.join(weird, ".cookie"))
    expect_fail(h, cli, a + ["--datadir", weird, "mine"], "a cookie that is a directory",
                must=("regular file",))
    for name, content, label in (("empty", b"", "an empty cookie"),
                                 ("nl", b"\n", "a cookie with only a newline"),
                                 ("space", b"two words\n", "a cookie with a space"),
                                 ("ctl", b"tok\x1b[2Jen\n", "a cookie with an escape"),
                                 ("big", b"x" * (1 * MIB), "a 1 MiB cookie")):
        d = os.path.join(h.tmp, "c-" + name)
        os.makedirs(d)
        with open(os.path.join(d, ".cookie"), "wb") as f:
            f.write(content)
        expect_fail(h, cli, a + ["--datadir", d, "mine"], label, must=(d,))
    fifo_dir = os.path.join(h.tmp, "c-fifo")
    os.makedirs(fifo_dir)
    os.mkfifo(os.path.join(fifo_dir, ".cookie"))
    expect_fail(h, cli, a + ["--datadir", fifo_dir, "mine"], "a cookie that is a FIFO",
                must=("regular file",), timeout=20)
    h.check(fake.take_requests() == [], "no request is sent without a token")
    for p in ("/mineBlock", "/addPeer", "/peers"):
        fake.route(p, None)


# ------------------------------------------------------------ a live node

def check_live(h, cli):
    p = subprocess.run([h.peerchaind, "--help"], capture_output=True, timeout=30,
                       preexec_fn=pclib._child_setup)
    if b"--api-port" not in p.stdout:
        h.info("SKIP live checks: peerchaind --help has no --api-port (no HTTP API yet)")
        return
    a = h.node("a")   # the harness gives it --api-port 0 and reads the port
    if not h.check(a.api_port is not None, "live: the node's API port is known"):
        return
    data_a = a.datadir
    api = "127.0.0.1:%d" % a.api_port
    c = ["--api", api]
    dd = ["--datadir", data_a]

    out = expect_ok(h, cli, c + ["status"], "live: status")
    h.check("regtest" in out and re.search(r"^height: +1$", out, re.M),
            "live: status shows regtest at height 1", out)
    out = expect_ok(h, cli, c + ["status", "--json"], "live: status --json")
    st = json.loads(out) if out.strip().startswith("{") else {}
    h.check(st.get("network") == "regtest" and st.get("height") == 1,
            "live: status --json parses (network, height)", out[:300])
    rc, out, err = cli.run(c + ["health"])
    h.check(rc == 0 and out == "" and err == "", "live: health exits 0, quietly", (rc, out, err))

    cookie = os.path.join(data_a, ".cookie")
    h.check(os.path.exists(cookie) and stat.S_IMODE(os.stat(cookie).st_mode) == 0o600,
            "live: the node wrote its cookie with mode 0600")
    out = expect_ok(h, cli, c + dd + ["mine", "hello", "wörld"], "live: mine with the cookie")
    h.check(re.search(r"^height: +2$", out, re.M) and "wörld" in out,
            "live: mine prints block 2 with its data", out)
    out = expect_ok(h, cli, c + dd + ["--json", "mine", "second"], "live: mine --json")
    b3 = json.loads(out) if out.strip().startswith("{") else {}
    h.check(b3.get("height") == 3 and b3.get("data") == ["second"], "live: mine --json parses",
            out[:300])

    out = expect_ok(h, cli, c + ["block", "2"], "live: block 2")
    h.check("  [0] hello" in out and "  [1] wörld" in out, "live: block 2 shows its data", out)
    out = expect_ok(h, cli, c + ["block", b3.get("hash", "0" * 64)], "live: block HASH")
    h.check(re.search(r"^height: +3$", out, re.M), "live: block HASH finds block 3", out)
    out = expect_ok(h, cli, c + ["block", "latest"], "live: block latest")
    h.check(re.search(r"^height: +3$", out, re.M), "live: block latest is 3", out)
    out = expect_ok(h, cli, c + ["blocks"], "live: blocks")
    ls = lines_of(out)
    h.check(len(ls) == 3 and ls[1].split()[0] == "2" and "2 items" in ls[1],
            "live: blocks lists 1..3, block 2 with 2 items", ls)
    out = expect_ok(h, cli, c + ["blocks", "--from", "2", "--limit", "1", "--json"],
                    "live: blocks --json")
    arr = json.loads(out) if out.strip().startswith("[") else []
    h.check([b.get("height") for b in arr] == [2], "live: blocks --json parses", out[:300])
    expect_fail(h, cli, c + ["block", "99"], "live: block 99 (none)", must=("404",))

    expect_fail(h, cli, c + ["--token", "wrong-token-0123456789", "mine", "x"],
                "live: a wrong token", must=("401",))
    with open(cookie) as f:
        tok = f.read().strip()
    expect_ok(h, cli, c + ["mine", "via-env"], "live: API_TOKEN from the cookie's text",
              env={"API_TOKEN": tok})

    out = expect_ok(h, cli, c + ["peers"], "live: peers")
    h.check(lines_of(out) == [], "live: no peers yet", out)
    b = h.node("b", ["--no-api"])
    out = expect_ok(h, cli, c + dd + ["addpeer", b.addr], "live: addpeer")
    h.check(b.addr in out, "live: addpeer names the peer", out)
    expect_fail(h, cli, c + dd + ["addpeer", b.addr], "live: addpeer again", must=("409",))

    def peer_listed():
        rc_, out_, _ = cli.run(c + ["peers"])
        return rc_ == 0 and any(str(b.port) in l for l in lines_of(out_))
    h.step("live: peers lists the added peer", pclib.wait_until, peer_listed, 30,
           0.25, "b in a's peers")
    out = expect_ok(h, cli, c + ["peers", "--verbose"], "live: peers --verbose")
    ls = lines_of(out)
    h.check(len(ls) >= 2 and "outbound" in out, "live: peers --verbose shows an outbound peer",
            ls)
    tip = json.loads(cli.run(c + ["block", "latest", "--json"])[1] or "{}")
    h.step("live: the added peer syncs a's chain", b.wait_tip, tip)
    for n in (b, a):
        n.stop()


def main(h):
    cli = Cli(h)
    if not h.check(os.access(cli.path, os.X_OK), "peerchain-cli exists at %s" % cli.path):
        return
    fake = FakeNode()
    try:
        check_usage(h, cli, fake)
        check_unreachable(h, cli)
        check_hostile(h, cli, fake)
        check_wrong_types(h, cli, fake)
        check_requests(h, cli, fake)
        check_tokens(h, cli, fake)
    finally:
        fake.close()
    check_live(h, cli)


if __name__ == "__main__":
    pclib.Harness("test_cli_client").run(main)
