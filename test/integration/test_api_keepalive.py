#!/usr/bin/env python3
"""
HTTP keep-alive on the API (docs/api.md): one TCP connection carries many
requests, GET and POST mixed, as long as the requests are good.

libmicrohttpd closes a connection whose answer was queued before the
request was fully read, so a handler that answers too early costs every
client a new connection (and the node a new thread) per request.

How this fails: a 200 answer carries `Connection: close`, or the server
closes the socket, or the next request needs a new connection.
"""

import http.client
import json
import os

import pclib

GETS = ("/health", "/status", "/blocks/1", "/blocks/latest", "/blocks?from=1&limit=2", "/peers",
        "/metrics")


def main(h):
    node = h.node("api", args=[])
    with open(os.path.join(node.datadir, ".cookie")) as f:
        token = f.read().strip()
    conn = http.client.HTTPConnection("127.0.0.1", node.api_port, timeout=10)
    try:
        conn.connect()
        sock = conn.sock
        local = sock.getsockname()
        for round_ in range(3):
            for path in GETS:
                conn.request("GET", path)
                r = conn.getresponse()
                r.read()
                h.check(r.status == 200 and (r.getheader("Connection") or "").lower() != "close",
                        "round %d: GET %s answers 200 and keeps the connection" % (round_, path),
                        (r.status, r.getheader("Connection")))
            conn.request("HEAD", "/health")
            r = conn.getresponse()
            r.read()
            h.check(r.status == 200 and (r.getheader("Connection") or "").lower() != "close",
                    "round %d: HEAD /health keeps the connection" % round_)
            conn.request("POST", "/mineBlock", body=json.dumps({"data": "ka %d" % round_}),
                         headers={"Authorization": "Bearer " + token,
                                  "Content-Type": "application/json"})
            r = conn.getresponse()
            body = r.read()
            h.check(r.status == 200 and (r.getheader("Connection") or "").lower() != "close",
                    "round %d: POST /mineBlock answers 200 and keeps the connection" % round_,
                    (r.status, body[:200]))
        h.check(conn.sock is sock and sock.getsockname() == local,
                "every request went over the one connection")
    finally:
        conn.close()
    node.stop()


if __name__ == "__main__":
    pclib.Harness("api_keepalive").run(main)
