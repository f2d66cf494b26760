#!/usr/bin/env python3
"""
The node as the dialling side: its --peer is a server played by the test, on
its own 127.0.0.x address (bans are per IP, and honest traffic stays on
127.0.0.1). A silent server must not hold a connector forever (handshake
timeout applies to outbound connections too); a server that sends garbage or
an invalid block gets banned and is never dialled again ("no connector dials
it"); a server on another network is dropped without a ban. Meanwhile the
node keeps serving honest clients.

How this fails if the outbound side is broken: the connector hangs on a
silent server, redials a banned address in a loop, bans an honest node of
another network, or the node stops answering.
"""

import json
import socket
import threading
import time

import pclib
from pclib import Chain


class Server:
    """Listens on host:<ephemeral>; runs behave(sock, index) for each
    accepted connection in a daemon thread; records accept and close times."""

    def __init__(self, host, behave):
        self.ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.ls.bind((host, 0))
        self.ls.listen(16)
        self.addr = "%s:%d" % (host, self.ls.getsockname()[1])
        self.behave = behave
        self.accepted = []       # monotonic times
        self.closed_by_node = []  # seconds from accept to the node's EOF/RST
        self.mu = threading.Lock()
        self.stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        for i in range(1000):                     # bounded
            try:
                s, _ = self.ls.accept()
            except OSError:
                return
            with self.mu:
                self.accepted.append(time.monotonic())
            threading.Thread(target=self._run, args=(s, i), daemon=True).start()

    def _run(self, s, i):
        t0 = time.monotonic()
        s.settimeout(0.5)
        try:
            self.behave(s, i)
            # Then read until the node closes (bounded by 60 s or stop).
            for _ in range(120):
                if self.stop.is_set():
                    break
                try:
                    if not s.recv(65536):
                        with self.mu:
                            self.closed_by_node.append(time.monotonic() - t0)
                        break
                except socket.timeout:
                    continue
        except OSError:
            with self.mu:
                self.closed_by_node.append(time.monotonic() - t0)
        finally:
            s.close()

    def count(self):
        with self.mu:
            return len(self.accepted)

    def close(self):
        self.stop.set()
        self.ls.close()


def send(s, mtype, payload):
    s.sendall((json.dumps({"type": mtype, "payload": payload}, separators=(",", ":")) +
               "\n").encode())


def hello_payload(height=1, work="10", network=pclib.REGTEST_ID):
    return {"network": network, "genesis": pclib.regtest_genesis()["hash"], "version": 1,
            "height": height, "work": work, "port": 0, "nonce": "00000000deadbeef",
            "agent": "hostile-server"}


def silent(s, i):
    pass


def garbage(s, i):
    s.sendall(b"\x00\x01 this is not json\n")


def wrong_network(s, i):
    send(s, "hello", hello_payload(network="peerchain-elsewhere-1"))


def make_liar(chain):
    """Claims more work, then answers getBlocks with an invalid block."""
    def liar(s, i):
        send(s, "hello", hello_payload(height=chain.height, work=chain.work_hex()))
        buf = pclib.FrameReader()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                d = s.recv(65536)
            except socket.timeout:
                continue
            if not d:
                return
            buf.feed(d)
            for f in buf.frames():
                m = json.loads(f)
                if m.get("type") == "getBlocks":
                    blocks = chain.range(2, chain.height)
                    bad = dict(blocks[1])
                    bad["merkleRoot"] = pclib.sha256_hex(b"wrong")
                    pclib.mine(bad)
                    blocks[1] = bad
                    send(s, "blocks", {"blocks": blocks, "tip": chain.height})
                    return
    return liar


def served(h, node, what):
    t = pclib.try_tip(node.port)
    h.check(t is not None, "%s: the node still answers an honest client" % what)


def main(h):
    chain = Chain().extend(5, tag="outbound")

    # Silent server: the handshake timeout frees the connector.
    srv = Server("127.0.0.31", silent)
    node = h.node("dial-silent", args=["--handshake-timeout-ms", "1000"], peers=[srv.addr])
    try:
        h.step("the node dials the silent server", pclib.wait_until, lambda: srv.count() >= 1, 20,
               what="a dial")
        h.step("and drops it after the handshake timeout", pclib.wait_until,
               lambda: len(srv.closed_by_node) >= 1, 15, what="the node to close")
        h.info("closed after %s s; dials so far %d" % (srv.closed_by_node[:1], srv.count()))
        served(h, node, "silent server")
    finally:
        srv.close()
    node.stop()

    # Garbage server: banned, never dialled again.
    for label, behave in (("garbage", garbage), ("invalid block", make_liar(
            Chain().extend(8, tag="liar")))):
        host = "127.0.0.%d" % (32 if label == "garbage" else 33)
        srv = Server(host, behave)
        node = h.node("dial-" + label.replace(" ", "-"), peers=[srv.addr])
        try:
            h.step("%s server: dialled" % label, pclib.wait_until, lambda: srv.count() >= 1, 20,
                   what="a dial")
            h.step("%s server: the node hangs up" % label, pclib.wait_until,
                   lambda: len(srv.closed_by_node) >= 1, 20, what="the node to close")
            n1 = srv.count()
            time.sleep(6.0)
            n2 = srv.count()
            h.check(n2 == n1, "%s server: banned, so never dialled again (dials %d, 6 s later %d)"
                    % (label, n1, n2))
            served(h, node, label + " server")
            node.offer(chain.range(2, chain.height))
            t = pclib.try_tip(node.port)
            h.check(t is not None and t["hash"] == chain.tip["hash"],
                    "%s server: the node still takes honest blocks" % label,
                    t and t.get("height"))
        finally:
            srv.close()
        node.stop()

    # Another network: dropped, not banned (it may be redialled later).
    srv = Server("127.0.0.34", wrong_network)
    node = h.node("dial-elsewhere", peers=[srv.addr])
    try:
        h.step("wrong-network server: dialled and dropped", pclib.wait_until,
               lambda: len(srv.closed_by_node) >= 1, 20, what="the node to close")
        h.step("wrong-network server: not banned, dialled again (with backoff)",
               pclib.wait_until, lambda: srv.count() >= 2, 40, interval=0.5,
               what="a second dial")
        if len(srv.accepted) >= 2:
            h.info("wrong-network server redialled after %.1f s (the banned servers above "
                   "were watched for 6 s)" % (srv.accepted[1] - srv.accepted[0]))
        served(h, node, "wrong-network server")
    finally:
        srv.close()
    node.stop()


if __name__ == "__main__":
    pclib.Harness("outbound").run(main)
