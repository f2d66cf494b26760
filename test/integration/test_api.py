#!/usr/bin/env python3
"""
peerchaind's HTTP control API (docs/api.md), black-box over http.client and
raw sockets: every route with good input; mineBlock commits a block that the
routes then serve and that a connected P2P peer is told about; addPeer
dials; the bearer token (cookie file, --api-token, API_TOKEN); HTTP_PORT;
and more than 300 malformed requests (bad JSON, wrong types, huge bodies,
bad paths and parameters, wrong methods, garbage and half-sent requests on
the raw socket), after which the node still answers and exits 0.

How this fails if the API is broken: a wrong status or shape, a POST that
works without the token, a cookie readable by others or left behind, a
mined block that is not served or not announced, a crash or hang on bad
input, or a half-sent request that holds its connection forever.
"""

import http.client
import json
import os
import random
import socket
import stat
import time

import pclib

TOKEN = "test-token-0123456789abcdef"
HEX = set("0123456789abcdef")


# ------------------------------------------------------------------ helpers

class Reply:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        try:
            self.json = json.loads(body.decode("utf-8")) if body else None
        except (UnicodeDecodeError, ValueError):
            self.json = None

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def is_error_json(self):
        j = self.json
        return (isinstance(j, dict) and list(j) == ["error"] and isinstance(j["error"], str)
                and j["error"] and "\n" not in j["error"])

    def __repr__(self):
        return "HTTP %s %r" % (self.status, self.body[:200])


def call(port, method, path, body=None, token=None, headers=None, source=None, timeout=30):
    """One request on a fresh connection. body: bytes, str or a JSON value."""
    hdrs = dict(headers or {})
    if token is not None:
        hdrs["Authorization"] = "Bearer " + token
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode("utf-8")
    if body is not None:
        hdrs.setdefault("Content-Type", "application/json")
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout,
                                   source_address=(source, 0) if source else None)
    try:
        c.request(method, path, body=body, headers=hdrs)
        r = c.getresponse()
        return Reply(r.status, r.getheaders(), r.read())
    finally:
        c.close()


def raw(port, data, source=None, timeout=10, read_max=1 << 20):
    """Sends raw bytes, half-closes, and reads until EOF (bounded). Returns
    the bytes read (b"" if the node just closed or reset)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        if source:
            s.bind((source, 0))
        s.settimeout(timeout)
        s.connect(("127.0.0.1", port))
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        out = b""
        deadline = time.monotonic() + timeout
        while len(out) < read_max and time.monotonic() < deadline:
            try:
                d = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not d:
                break
            out += d
        return out
    finally:
        s.close()


def raw_status(data):
    """The status code of a raw HTTP answer, or None."""
    try:
        line = data.split(b"\r\n", 1)[0].split(b" ")
        return int(line[1]) if line[0].startswith(b"HTTP/1.") else None
    except (IndexError, ValueError):
        return None


def api_node(h, name, args=(), env=None):
    """A node with its API on an ephemeral port (pclib's default) and its
    data directory (n.datadir, where the cookie goes) in its own temp dir."""
    return h.node(name, args=list(args), env=env)


def cookie_path(n):
    return os.path.join(n.datadir, ".cookie")


def read_cookie(n):
    with open(cookie_path(n)) as f:
        return f.read()


def healthy(h, n, label, source=None):
    r = call(n.api_port, "GET", "/health", source=source)
    return h.check(r.status == 200 and r.json and r.json.get("status") == "ok",
                   "%s: /health still answers 200" % label, r)


# ------------------------------------------------------------- good input

def check_status_shape(h, st, height, tip):
    h.check(isinstance(st, dict), "/status is an object", st)
    if not isinstance(st, dict):
        return
    h.check(st.get("network") == "regtest" and st.get("networkId") == pclib.REGTEST_ID and
            st.get("version") == "0.1.0", "/status names network, id and version", st)
    h.check(st.get("height") == height and st.get("tip") == tip,
            "/status height %d and tip" % height, (st.get("height"), st.get("tip")))
    h.check(isinstance(st.get("work"), str) and set(st["work"]) <= HEX and
            int(st["work"], 16) == 16 * height, "/status work is hex 16*height", st.get("work"))
    p = st.get("peers", {})
    h.check(isinstance(p.get("inbound"), int) and isinstance(p.get("outbound"), int),
            "/status peers has inbound and outbound counts", p)
    s = st.get("sync", {})
    h.check(s.get("state") in ("synced", "syncing") and isinstance(s.get("height"), int) and
            isinstance(s.get("target"), int) and isinstance(s.get("progress"), (int, float)) and
            0.0 <= s["progress"] <= 1.0, "/status sync has state, height, target, progress", s)
    m = st.get("mining", {})
    h.check(isinstance(m.get("enabled"), bool) and isinstance(m.get("hashRate"), int),
            "/status mining has enabled and hashRate", m)
    h.check(isinstance(st.get("uptimeSeconds"), int) and st["uptimeSeconds"] >= 0,
            "/status uptimeSeconds", st.get("uptimeSeconds"))


def good_routes(h, a, token):
    g = pclib.regtest_genesis()
    port = a.api_port
    r = call(port, "GET", "/health")
    h.check(r.status == 200 and r.json == {"status": "ok", "height": 1}, "GET /health", r)
    h.check((r.header("Content-Type") or "").startswith("application/json"),
            "JSON replies say Content-Type: application/json", r.header("Content-Type"))
    r = call(port, "GET", "/status")
    h.check(r.status == 200, "GET /status is 200", r)
    check_status_shape(h, r.json, 1, g["hash"])
    h.check(r.json and r.json["sync"]["state"] == "synced" and r.json["sync"]["progress"] == 1,
            "a lone node is synced", r.json and r.json.get("sync"))
    h.check(r.json and r.json["mining"]["enabled"] is False, "mining disabled without --mine")
    r = call(port, "GET", "/blocks")
    h.check(r.status == 200 and r.json == [g], "GET /blocks is [genesis]", r)
    for path in ("/blocks/latest", "/blocks/1", "/blocks/hash/" + g["hash"]):
        r = call(port, "GET", path)
        h.check(r.status == 200 and r.json == g, "GET %s is genesis" % path, r)
    for path in ("/blocks/2", "/blocks/hash/" + "0" * 64):
        r = call(port, "GET", path)
        h.check(r.status == 404 and r.is_error_json(), "GET %s is 404 with an error" % path, r)
    r = call(port, "HEAD", "/status")
    h.check(r.status == 200 and r.body == b"", "HEAD /status: 200, no body", r)

    # mineBlock while a P2P peer listens: the block is served and announced.
    with pclib.Client(a.port) as peer:
        peer.hello()
        r = call(port, "POST", "/mineBlock", {"data": ["hello api", "second"]}, token=token)
        b = r.json
        h.check(r.status == 200 and isinstance(b, dict) and b.get("height") == 2 and
                b.get("data") == ["hello api", "second"] and b.get("previousHash") == g["hash"],
                "POST /mineBlock: 200 with block 2", r)
        if isinstance(b, dict):
            h.check(pclib.check_block_context_free(b) is None, "the mined block is valid",
                    pclib.check_block_context_free(b))
            h.step("the connected P2P peer is told (latestBlock)", peer.wait_for, "latestBlock",
                   20, lambda p: isinstance(p, dict) and p.get("hash") == b.get("hash"))
            for path in ("/blocks/2", "/blocks/latest", "/blocks/hash/" + b.get("hash", "")):
                r = call(port, "GET", path)
                h.check(r.status == 200 and r.json == b, "GET %s serves the mined block" % path,
                        r)
        # /peers is read while `peer` is the only P2P connection: a client that
        # has just closed stays listed until the node reads its EOF.
        r = call(port, "GET", "/peers")
        h.check(r.status == 200 and isinstance(r.json, list) and
                all(isinstance(x, str) for x in r.json) and len(r.json) == 1 and
                r.json[0].startswith("127.0.0.1:"), "GET /peers: one \"ip:port\"", r)
        r = call(port, "GET", "/peers?verbose=1")
        v = r.json[0] if r.status == 200 and isinstance(r.json, list) and r.json else {}
        h.check(set(v) == {"id", "addr", "direction", "protocol", "height", "listen"} and
                v.get("direction") == "inbound" and v.get("protocol") == "peerchain" and
                v.get("height") == 1 and v.get("listen") is None and isinstance(v.get("id"), int),
                "GET /peers?verbose=1 describes the peer", r)
        if isinstance(b, dict):
            h.check(pclib.tip_of(a.port) == b, "the P2P tip is the mined block")

    r = call(port, "POST", "/mineBlock", {"data": "one string"}, token=token)
    h.check(r.status == 200 and r.json and r.json.get("data") == ["one string"] and
            r.json.get("height") == 3, "mineBlock with a string: one item", r)
    r = call(port, "POST", "/mineBlock", {}, token=token)
    h.check(r.status == 200 and r.json and r.json.get("data") == [] and r.json["height"] == 4,
            "mineBlock without data: []", r)
    r = call(port, "POST", "/mineBlock", b"", token=token)
    h.check(r.status == 200 and r.json and r.json.get("data") == [] and r.json["height"] == 5,
            "mineBlock with an empty body: []", r)
    r = call(port, "POST", "/mineBlock", {"data": ["ünïcødé ✓", ""]}, token=token)
    h.check(r.status == 200 and r.json and r.json.get("data") == ["ünïcødé ✓", ""] and
            pclib.check_block_context_free(r.json) is None, "mineBlock with Unicode data", r)

    chain = pclib.whole_chain(a.port)
    h.check(len(chain) == 6, "the node holds 6 blocks", len(chain))
    r = call(port, "GET", "/blocks")
    h.check(r.status == 200 and r.json == chain, "GET /blocks is the whole chain", r)
    r = call(port, "GET", "/blocks?from=2&limit=2")
    h.check(r.status == 200 and r.json == chain[1:3], "GET /blocks?from=2&limit=2", r)
    r = call(port, "GET", "/blocks?limit=5000")
    h.check(r.status == 200 and r.json == chain, "limit over 1000 is capped, not refused", r)
    r = call(port, "GET", "/blocks?from=7")
    h.check(r.status == 200 and r.json == [], "from past the tip: []", r)
    r = call(port, "GET", "/blocks?from=6&limit=1&unknown=x")
    h.check(r.status == 200 and r.json == chain[5:], "unknown query parameters are ignored", r)
    r = call(port, "GET", "/status")
    check_status_shape(h, r.json, 6, chain[-1]["hash"])

    # Over the block limits: 400 with the core's reason.
    for label, data in (("a 65537-byte item", ["x" * 65537]),
                        ("1001 items", ["i"] * 1001),
                        ("1 MiB + 1 in all", ["y" * 65536] * 16 + ["z"])):
        r = call(port, "POST", "/mineBlock", {"data": data}, token=token)
        h.check(r.status == 400 and r.is_error_json(), "mineBlock with %s: 400" % label, r)
    r = call(port, "POST", "/mineBlock", {"data": ["y" * 65536] * 16}, token=token)
    h.check(r.status == 200 and r.json and r.json.get("height") == 7,
            "mineBlock with exactly 1 MiB of data: 200", r)
    return chain


def sync_status(h, a):
    """A peer that claims more work and height than it delivers: /status
    says syncing towards its height until it goes."""
    height = call(a.api_port, "GET", "/health").json["height"]
    claim = height + 50
    with pclib.Client(a.port, source="127.0.0.5") as liar:
        liar.hello(height=claim)

        def syncing():
            st = call(a.api_port, "GET", "/status").json
            s = st["sync"]
            return s["state"] == "syncing" and s["target"] == claim and s["height"] == height \
                and abs(s["progress"] - height / claim) < 1e-6 and st
        h.step("a peer claiming height %d: /status is syncing towards it" % claim,
               pclib.wait_until, syncing, 20, what="a syncing /status")
        r = call(a.api_port, "GET", "/peers?verbose=1")
        h.check(any(p["height"] == claim for p in r.json or []),
                "/peers?verbose=1 shows the claimed height", r)
        t = call(a.api_port, "GET", "/metrics").body.decode()
        h.check("peerchain_sync_target_height %d" % claim in t,
                "/metrics shows the sync target")

    def synced():
        s = call(a.api_port, "GET", "/status").json["sync"]
        return s["state"] == "synced" and s["target"] == height and s["progress"] == 1
    h.step("once it is gone: synced again", pclib.wait_until, synced, 20, what="synced")


def big_pages(h, a, token):
    """Blocks of 1 MiB of data: a /blocks page ends early (past 4 MiB) but
    always makes progress, and paging from last height + 1 reads it all."""
    for i in range(5):
        r = call(a.api_port, "POST", "/mineBlock", {"data": ["%d" % i + "y" * 65535] * 16},
                 token=token)
        h.check(r.status == 200, "mineBlock with 1 MiB of data (%d of 5)" % (i + 1), r)
    chain = pclib.whole_chain(a.port)
    first = call(a.api_port, "GET", "/blocks?limit=1000").json or []
    h.check(0 < len(first) < len(chain), "a /blocks page of big blocks ends early",
            (len(first), len(chain)))
    got = []
    for _ in range(len(chain) + 1):
        page = call(a.api_port, "GET", "/blocks?from=%d" % (len(got) + 1)).json
        if not page:
            break
        got += page
    h.check(got == chain, "paging from the last height + 1 reads the whole chain",
            (len(got), len(chain)))


def auth(h, a, token):
    port = a.api_port
    before = call(port, "GET", "/health").json
    cases = [("no Authorization", {}),
             ("a wrong token", {"Authorization": "Bearer " + "0" * 64}),
             ("the token with one more byte", {"Authorization": "Bearer " + token + "0"}),
             ("the token cut short", {"Authorization": "Bearer " + token[:-1]}),
             ("Basic scheme", {"Authorization": "Basic " + token}),
             ("no scheme", {"Authorization": token}),
             ("an empty bearer", {"Authorization": "Bearer "})]
    for label, hdrs in cases:
        for path, body in (("/mineBlock", {"data": ["nope"]}), ("/addPeer", {"peer": "x:1"})):
            r = call(port, "POST", path, body, headers=hdrs)
            h.check(r.status == 401 and r.is_error_json() and
                    (r.header("WWW-Authenticate") or "").startswith("Bearer"),
                    "POST %s with %s: 401" % (path, label), r)
    after = call(port, "GET", "/health").json
    h.check(before == after, "refused POSTs changed nothing", (before, after))
    r = call(port, "POST", "/mineBlock", {"data": ["lowercase scheme"]},
             headers={"Authorization": "bearer " + token})
    h.check(r.status == 200, "the scheme is case-insensitive", r)


def add_peer(h, a, token):
    b = api_node(h, "api-b")
    r = call(a.api_port, "POST", "/addPeer", {"peer": b.addr}, token=token)
    h.check(r.status == 200 and r.json == {"peer": b.addr, "status": "added"},
            "POST /addPeer: 200 added", r)
    tip = call(a.api_port, "GET", "/blocks/latest").json
    h.step("the added peer syncs our chain", b.wait_tip, tip, 30)

    def outbound_listed():
        r = call(a.api_port, "GET", "/peers?verbose=true")
        return [p for p in r.json or [] if p.get("direction") == "outbound" and
                p.get("listen") == b.addr and p.get("protocol") == "peerchain"]
    h.step("/peers?verbose lists it as outbound with its listen address", pclib.wait_until,
           outbound_listed, 20, what="the outbound peer")
    r = call(a.api_port, "POST", "/addPeer", {"peer": b.addr}, token=token)
    h.check(r.status == 409 and r.is_error_json(), "adding it again: 409", r)
    r = call(a.api_port, "POST", "/addPeer", {"peer": "ws://" + b.addr}, token=token)
    h.check(r.status == 409, "naivechain's ws://host:port form is read (409: known)", r)
    r = call(b.api_port, "GET", "/status")
    h.check(r.json and r.json["peers"]["inbound"] >= 1, "B counts an inbound peer", r)

    for label, body in (("no peer", {}), ("a number", {"peer": 5}), ("an empty string",
                        {"peer": ""}), ("no port", {"peer": "127.0.0.1"}),
                        ("a bad port", {"peer": "127.0.0.1:99999"}),
                        ("an extra field", {"peer": b.addr, "x": 1}), ("ws:// alone",
                        {"peer": "ws://"})):
        r = call(a.api_port, "POST", "/addPeer", body, token=token)
        h.check(r.status == 400 and r.is_error_json(), "addPeer with %s: 400" % label, r)

    # Banned: a client from 127.0.0.9 sends garbage and is banned.
    c = pclib.Client(a.port, source="127.0.0.9")
    c.send_raw(b"this is not json\n")
    c.wait_closed(10)
    c.close()
    r = call(a.api_port, "POST", "/addPeer", {"peer": "127.0.0.9:5555"}, token=token)
    h.check(r.status == 503 and r.is_error_json() and "banned" in r.json["error"],
            "addPeer of a banned address: 503 saying banned", r)
    # The limit: a node that may dial nobody.
    c0 = api_node(h, "api-no-outbound", ["--max-outbound", "0"])
    tok = read_cookie(c0)
    r = call(c0.api_port, "POST", "/addPeer", {"peer": b.addr}, token=tok)
    h.check(r.status == 503 and r.is_error_json() and "limit" in r.json["error"],
            "addPeer over --max-outbound: 503 saying limit", r)
    c0.stop()
    return b


def metrics(h, a):
    r = call(a.api_port, "GET", "/metrics")
    h.check(r.status == 200 and (r.header("Content-Type") or "").startswith(
        "text/plain; version=0.0.4"), "GET /metrics: 200 in text format 0.0.4", r)
    text = r.body.decode("utf-8", "replace")
    helped, typed, values = set(), set(), {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            helped.add(line.split()[2])
        elif line.startswith("# TYPE "):
            typed.add(line.split()[2])
        elif line and not line.startswith("#"):
            name, _, val = line.rpartition(" ")
            values[name] = float(val)
    fams = {k.split("{")[0] for k in values}
    h.check(fams and fams <= helped and fams <= typed, "every metric has HELP and TYPE",
            sorted(fams - (helped & typed)))
    height = call(a.api_port, "GET", "/health").json["height"]
    h.check(values.get("peerchain_height") == height, "peerchain_height is the height",
            values.get("peerchain_height"))
    for k in ('peerchain_peers{direction="inbound"}', 'peerchain_peers{direction="outbound"}',
              "peerchain_queue_depth", "peerchain_sync_progress", "peerchain_mining_hash_rate",
              'peerchain_rejected_total{reason="other"}'):
        h.check(k in values, "/metrics has %s" % k)
    h.check(values.get('peerchain_messages_total{direction="in",type="hello"}', 0) >= 1 and
            values.get('peerchain_message_bytes_total{direction="out",type="latestBlock"}', 0)
            > 0, "messages and bytes are counted by type and direction")
    h.check(values.get("peerchain_bans_total", 0) >= 1, "the ban is counted")
    h.check(values.get("peerchain_blocks_mined_total", 0) >= 6, "mined blocks are counted",
            values.get("peerchain_blocks_mined_total"))


# ------------------------------------------------------------- bad input

def malformed(h, a, token):
    """More than 300 bad requests; every answer is the expected refusal and
    the node keeps answering. Returns how many were sent."""
    port = a.api_port
    sent = 0
    bad = []

    def expect(label, status, r):
        nonlocal sent
        sent += 1
        ok = r.status == status and (r.is_error_json() or r.status == 405 and r.json)
        if not ok:
            bad.append((label, r))
        if sent % 50 == 0:
            healthy(h, a, "after %d bad requests" % sent)

    rnd = random.Random(20261126)
    # Bodies that are not JSON, or not one object.
    bodies = [b"{", b"}", b"[", b"{]", b"{\"data\":", b"{\"data\": [\"a\",]}", b"nul", b"tru",
              b"{'data': []}", b"{\"data\": [\"\\u0000\"]}", b"{\"data\": [\"\xff\xfe\"]}",
              b"{\"data\": \"\xc3\"}", b"{} {}", b"{}x", b"[]", b"\"str\"", b"null", b"true",
              b"42", b"{\"data\": 1e999}", b"{\"data\": []}{", b"\x00\x01\x02",
              b"{\"a\":1,\"a\":2}", b"{\"data\":[],\"data\":[]}", b"\xef\xbb\xbf{}",
              b"{" * 65 + b"}" * 65, b"[" * 10000, b"{\"data\":" + b"[" * 70 + b"]" * 70 + b"}"]
    bodies += [bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 300))) for _ in range(40)]
    for i, body in enumerate(bodies):
        for path in ("/mineBlock", "/addPeer"):
            expect("body %d to %s" % (i, path), 400,
                   call(port, "POST", path, body, token=token))
    # JSON of the wrong shape.
    shapes = [{"data": 5}, {"data": [1]}, {"data": [None]}, {"data": {"a": 1}}, {"data": True},
              {"data": [["nested"]]}, {"data": ["ok", 2]}, {"data": None}, {"x": 1},
              {"data": [], "extra": 1}, {"Data": []}, {"data": [{"s": "t"}]}]
    for i, body in enumerate(shapes):
        expect("mineBlock shape %d" % i, 400, call(port, "POST", "/mineBlock", body, token=token))
    peer_shapes = [{"peer": None}, {"peer": []}, {"peer": {"h": 1}}, {"peer": "a:b:c:d"},
                   {"peer": "127.0.0.1:0x10"}, {"peer": "host:-1"}, {"peer": ":80"},
                   {"peer": "x" * 400 + ":1"}, {"peer": "ws://x" * 100}, {"peers": "a:1"}]
    for i, body in enumerate(peer_shapes):
        expect("addPeer shape %d" % i, 400, call(port, "POST", "/addPeer", body, token=token))
    # Paths and parameters.
    for path in ("/", "/nope", "/blocks/", "/blocks/1/2", "/blocks/hash/", "/status/",
                 "/STATUS", "/peers/x", "/mineblock", "/blocks/latest/x", "/metrics.txt",
                 "/%00", "/blocks/%00", "/blocks/hash/a/b", "/" + "a" * 2000, "/..%2f..%2fetc/passwd"):
        expect("GET %s" % path[:40], 404, call(port, "GET", path))
    for path in ("/blocks/0", "/blocks/-1", "/blocks/abc", "/blocks/01", "/blocks/1.5",
                 "/blocks/1e3", "/blocks/%201", "/blocks/9007199254740992",
                 "/blocks/99999999999999999999", "/blocks/0x10", "/blocks/hash/xyz",
                 "/blocks/hash/" + "A" * 64, "/blocks/hash/" + "a" * 63,
                 "/blocks/hash/" + "a" * 65, "/blocks/hash/" + "g" * 64,
                 "/blocks/hash/" + "a" * 1000,
                 "/blocks?from=0", "/blocks?from=-1", "/blocks?from=abc", "/blocks?from=",
                 "/blocks?from", "/blocks?from=1.5", "/blocks?from=01", "/blocks?from=%00",
                 "/blocks?from=9007199254740992", "/blocks?limit=0", "/blocks?limit=-5",
                 "/blocks?limit=x", "/blocks?limit=", "/blocks?limit=1e3",
                 "/blocks?from=1&limit=%201", "/peers?verbose=2", "/peers?verbose=",
                 "/peers?verbose=yes", "/peers?verbose"):
        expect("GET %s" % path[:40], 400, call(port, "GET", path))
    # Wrong methods: 405 with Allow.
    for method in ("PUT", "PATCH", "DELETE", "OPTIONS", "FOO"):
        for path in ("/status", "/blocks", "/blocks/1", "/mineBlock", "/addPeer", "/health",
                     "/metrics", "/peers"):
            r = call(port, method, path, token=token)
            allow = r.header("Allow") or ""
            expect("%s %s" % (method, path), 405, r)
            if allow not in ("GET, HEAD", "POST"):
                bad.append(("Allow on %s %s" % (method, path), allow))
    for path in ("/status", "/blocks/latest", "/metrics"):
        expect("POST %s" % path, 405, call(port, "POST", path, {}, token=token))
    for path in ("/mineBlock", "/addPeer"):
        r = call(port, "GET", path)
        expect("GET %s" % path, 405, r)
        if r.header("Allow") != "POST":
            bad.append(("Allow on GET %s" % path, r.header("Allow")))
    # Bodies over the limit, declared: 413 before the body is read.
    for size in (2 * 1024 * 1024 + 1, 8 * 1024 * 1024, 2**62):
        data = raw(port, b"POST /mineBlock HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                   token.encode() + b"\r\nContent-Length: " + str(size).encode() +
                   b"\r\n\r\n{\"data\": [")
        sent += 1
        if raw_status(data) != 413:
            bad.append(("Content-Length %d" % size, data[:100]))
    # A real 3 MiB body.
    try:
        r = call(port, "POST", "/mineBlock", b"{\"data\": [\"" + b"x" * (3 << 20) + b"\"]}",
                 token=token)
        expect("a 3 MiB body", 413, r)
    except OSError as e:   # closed while we were still sending: also a refusal
        sent += 1
        h.info("3 MiB body: connection closed while sending (%s)" % e)
    # A chunked body over the limit: the connection is closed.
    chunk = b"x" * 65536
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(40)) + b"0\r\n\r\n"
    data = raw(port, b"POST /mineBlock HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
               token.encode() + b"\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
    sent += 1
    h.check(raw_status(data) in (None, 400, 413), "a chunked body over 2 MiB is refused",
            data[:100])
    healthy(h, a, "after the big bodies")
    # Garbage and broken HTTP on the raw socket: any refusal or a close.
    raws = [b"\r\n\r\n", b"GARBAGE\r\n\r\n", b"GET\r\n\r\n", b"GET /status\r\n\r\n",
            b"GET /status HTTP/9.9\r\n\r\n", b"GET /status HTTP/1.1\r\nNoColon\r\n\r\n",
            b"GET /status HTTP/1.1\r\nHost: x\r\n" + b"X-Big: " + b"a" * 100000 + b"\r\n\r\n",
            b"GET /status HTTP/1.1\r\n" + b"".join(b"H%d: v\r\n" % i for i in range(5000)) +
            b"\r\n", b"GET /" + b"a" * 100000 + b" HTTP/1.1\r\n\r\n",
            b"POST /mineBlock HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
            b"POST /mineBlock HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
            b"POST /mineBlock HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6"
            b"\r\n\r\nhello!",
            b"POST /mineBlock HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"zz\r\nhello\r\n0\r\n\r\n",
            b"GET /status HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789",
            b"\x00" * 1000, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 100,
            b"GET /status HTTP/1.1\nHost: x\n\n", b"GET /st\x00atus HTTP/1.1\r\n\r\n",
            b"GET /status HTTP/1.1\r\nHost: x\r\n\r\n" * 50]
    raws += [bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 2000))) for _ in range(40)]
    raws += [b"GET /status HTTP/1.1\r\nHost: x\r\n" +
             bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 500))) + b"\r\n\r\n"
             for _ in range(20)]
    for i, data in enumerate(raws):
        out = raw(port, data, timeout=20)
        sent += 1
        st = raw_status(out)
        if st is not None and st >= 500 and st != 505:   # 505: HTTP/9.9
            bad.append(("raw %d" % i, out[:100]))
        if i % 20 == 0:
            healthy(h, a, "after %d raw requests" % (i + 1))
    h.check(not bad, "all %d bad requests got the expected refusal" % sent, bad[:10])
    h.check(sent >= 300, "more than 300 bad requests sent (%d)" % sent)
    h.check(a.running(), "the node is still running")
    healthy(h, a, "after every bad request")


def slow_clients(h, a):
    """Half-sent requests are dropped after the connection timeout; the
    per-IP cap turns a crowd away while others are served."""
    port = a.api_port
    slow = []
    for i in range(8):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"GET /status HTTP/1.1\r\nHost: x\r\nX-Slow: %d" % i)
        slow.append(s)
    healthy(h, a, "with 8 half-sent requests open")
    # A crowd of idle connections from one address, over the per-IP cap.
    crowd = []
    for _ in range(40):
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.3", 0))
            s.settimeout(5)
            s.connect(("127.0.0.1", port))
            crowd.append(s)
        except OSError:
            break
    healthy(h, a, "with a crowd of idle connections from 127.0.0.3", source="127.0.0.4")

    def all_closed():
        for s in slow + crowd:
            if s.fileno() < 0:
                continue
            s.settimeout(0.05)
            try:
                if s.recv(4096) == b"":
                    s.close()
            except socket.timeout:
                pass
            except OSError:
                s.close()
        return all(s.fileno() < 0 for s in slow + crowd)
    h.step("the node closes every half-sent and idle connection", pclib.wait_until,
           all_closed, 60, 0.5, "the slow connections to be closed")
    for s in slow + crowd:
        s.close()
    healthy(h, a, "after the slow clients")


# ------------------------------------------------------------ token modes

def token_modes(h):
    for label, kw in (("--api-token", {"args": ["--api-token", TOKEN]}),
                      ("API_TOKEN", {"env": {"API_TOKEN": TOKEN}})):
        n = api_node(h, "api-token-" + label.strip("-").lower().replace("_", "-"), **kw)
        h.check(not os.path.exists(cookie_path(n)), "%s: no cookie file written" % label)
        r = call(n.api_port, "POST", "/mineBlock", {"data": ["t"]}, token=TOKEN)
        h.check(r.status == 200, "%s: the given token is accepted" % label, r)
        r = call(n.api_port, "POST", "/mineBlock", {"data": ["t"]}, token=TOKEN + "x")
        h.check(r.status == 401, "%s: another token is refused" % label, r)
        n.stop()

    port = pclib.free_port()
    n = api_node(h, "api-http-port", env={"HTTP_PORT": str(port)})
    h.check(n.api_port == port, "HTTP_PORT=%d is the API port" % port, n.api_port)
    r = call(port, "GET", "/health")
    h.check(r.status == 200, "the API answers on HTTP_PORT", r)
    n.stop()

    n = api_node(h, "api-off", ["--no-api"])
    h.check(not os.path.exists(n.api_port_file), "--no-api: no API port file")
    h.step("--no-api: the P2P side still works", n.tip)
    n.stop()


def mining_node(h):
    m = api_node(h, "api-miner", ["--mine", "--mine-interval-ms", "0", "--mine-blocks", "3"])
    r = call(m.api_port, "GET", "/status")
    h.check(r.json and r.json["mining"]["enabled"] is True, "--mine: mining enabled", r)

    def mined():
        t = call(m.api_port, "GET", "/metrics").body.decode()
        vals = dict(l.rsplit(" ", 1) for l in t.splitlines() if l and not l.startswith("#"))
        return float(vals.get("peerchain_blocks_mined_total", 0)) >= 3 and \
            float(vals.get("peerchain_mining_hashes_total", 0)) > 0
    h.step("the miner's blocks and hashes show in /metrics", pclib.wait_until, mined, 60,
           what="3 mined blocks")
    m.stop()


def burst_announcements(h, a, token):
    """Blocks mined back to back reach a connected peer complete and in
    order, whether announced one by one (latestBlock) or merged into allBlock
    offers (docs/protocol.md, "Announcements")."""
    with pclib.Client(a.port, source="127.0.0.60") as peer:
        peer.hello()
        first = pclib.tip_of(a.port)["height"] + 1
        mined = []
        for i in range(40):
            r = call(a.api_port, "POST", "/mineBlock", {"data": ["burst %d" % i]}, token=token)
            if r.status != 200:
                h.check(False, "burst: mineBlock %d answered 200" % i, r)
                return
            mined.append(r.json)
        seen, msgs, deadline = {}, {"latestBlock": 0, "allBlock": 0}, time.monotonic() + 20
        last = mined[-1]["height"]
        while max(seen, default=0) < last and time.monotonic() < deadline:
            m = peer.recv(deadline - time.monotonic())
            if m is None:
                break
            p = m.get("payload")
            if m.get("type") == "latestBlock" and isinstance(p, dict):
                blocks = [p]
            elif m.get("type") == "allBlock" and isinstance(p, list):
                blocks = p
            else:
                continue
            msgs[m["type"]] += 1
            if blocks and seen and blocks[0]["height"] > max(seen) + 1:
                h.check(False, "burst: an announcement skips blocks",
                        (max(seen), blocks[0]["height"]))
            for b in blocks:
                seen[b["height"]] = b
        h.info("burst: 40 blocks announced in %d latestBlock and %d allBlock messages" % (
            msgs["latestBlock"], msgs["allBlock"]))
        h.check(all(seen.get(b["height"]) == b for b in mined),
                "burst: the peer is told every mined block, as mined",
                sorted(set(range(first, last + 1)) - set(seen)))


def main(h):
    a = api_node(h, "api-a")
    cookie = cookie_path(a)
    h.check(os.path.exists(cookie), "the cookie file exists at DATADIR/.cookie")
    if not os.path.exists(cookie):
        return
    mode = stat.S_IMODE(os.stat(cookie).st_mode)
    h.check(mode == 0o600, "the cookie file has mode 0600", oct(mode))
    token = read_cookie(a)
    h.check(len(token) == 64 and set(token) <= HEX, "the cookie holds 64 lowercase hex", token)

    good_routes(h, a, token)
    burst_announcements(h, a, token)
    auth(h, a, token)
    sync_status(h, a)
    big_pages(h, a, token)
    b = add_peer(h, a, token)
    metrics(h, a)
    malformed(h, a, token)
    slow_clients(h, a)
    r = call(a.api_port, "POST", "/mineBlock", {"data": ["after the storm"]}, token=token)
    h.check(r.status == 200, "mineBlock still works after everything", r)
    h.step("and B gets that block", b.wait_tip, r.json, 30)
    a.stop()
    h.check(not os.path.exists(cookie), "the cookie file is removed at exit")
    b.stop()
    token_modes(h)
    mining_node(h)


if __name__ == "__main__":
    pclib.Harness("api").run(main)
