#!/usr/bin/env python3
"""
peerchaind under valgrind memcheck: two nodes, one mining, sync; a hostile
client sends garbage and an invalid block; then both are stopped with
SIGTERM. The HTTP API serves reads, mines a block and refuses bad input on
the way, with a half-sent request still open at shutdown. Passes only if both exit 0 and valgrind reports no errors and no
leaked memory (definite, indirect or possible), so every thread was joined
and everything freed at shutdown.

Not a ctest (valgrind makes it slow); scripts/valgrind-check.sh runs it.

How this fails if the feature is broken: a leak on any path exercised here
(a peer banned, a block rejected, a sync, shutdown with live connections)
or a thread left running at exit shows up as a non-zero valgrind exit.
"""

import http.client
import os
import socket

import pclib
from pclib import Chain

VALGRIND = ["valgrind", "--quiet", "--error-exitcode=97", "--leak-check=full",
            "--show-leak-kinds=definite,indirect,possible",
            "--errors-for-leak-kinds=definite,indirect,possible"]


def api(port, method, path, body=None, token=None):
    """One HTTP request; returns the status."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        c.request(method, path, body=body,
                  headers={"Authorization": "Bearer " + token} if token else {})
        r = c.getresponse()
        r.read()
        return r.status
    finally:
        c.close()


def api_traffic(h, a):
    with open(os.path.join(a.datadir, ".cookie")) as f:
        tok = f.read()
    want = [("GET", "/status", None, None, 200), ("GET", "/blocks?limit=3", None, None, 200),
            ("GET", "/blocks/latest", None, None, 200), ("GET", "/blocks/999", None, None, 404),
            ("GET", "/peers?verbose=1", None, None, 200), ("GET", "/metrics", None, None, 200),
            ("POST", "/mineBlock", '{"data": ["via the API"]}', tok, 200),
            ("POST", "/mineBlock", '{"data": 5}', tok, 400),
            ("POST", "/mineBlock", "[" * 100, tok, 400),
            ("POST", "/mineBlock", "{}", None, 401),
            ("POST", "/addPeer", '{"peer": "127.0.0.1:1"}', tok, 200),
            ("DELETE", "/status", None, None, 405), ("GET", "/nope", None, None, 404)]
    got = [api(a.api_port, m, p, b, t) for m, p, b, t, _ in want]
    h.check(got == [w[-1] for w in want], "the API answers as expected under valgrind", got)


class ValgrindNode(pclib.Node):
    def argv(self):
        return VALGRIND + super().argv()


def main(h):
    a = ValgrindNode(h, "vg-a", args=["--mine", "--mine-blocks", "3", "--mine-interval-ms", "50"])
    h.nodes.append(a)
    a.start(wait=False)
    a.wait_listening(60)
    b = ValgrindNode(h, "vg-b", peers=[a.addr])
    h.nodes.append(b)
    b.start(wait=False)
    b.wait_listening(60)

    h.step("b syncs a's mined blocks", pclib.wait_until,
           lambda: (pclib.try_tip(b.port) or {}).get("height", 0) >= 4, 120, 0.5,
           "b to reach height 4")

    # Bad input on paths that free things: a garbage frame and an invalid block.
    with pclib.Client(a.port, source=pclib.ip(7), timeout=30) as c:
        c.send_raw(b"this is not json\n")
        c.wait_closed(30)
    chain = Chain(pclib.whole_chain(a.port, timeout=60))
    bad = chain.broken_next("bad-merkle")
    with pclib.Client(a.port, source=pclib.ip(8), timeout=30) as c:
        c.hello()
        c.send("latestBlock", bad)
        c.wait_closed(30)

    h.step("the HTTP API", api_traffic, h, a)

    # An idle client still connected at shutdown, and a half-sent API request.
    idle = pclib.Client(b.port, timeout=30)
    idle.hello()
    half = socket.create_connection(("127.0.0.1", a.api_port), timeout=30)
    half.sendall(b"GET /status HTTP/1.1\r\nHost: x\r\n")
    b.stop(timeout=60)
    a.stop(timeout=60)
    idle.close()
    half.close()


if __name__ == "__main__":
    pclib.Harness("valgrind_node").run(main)
