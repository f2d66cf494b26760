#!/usr/bin/env python3
"""
Limits a node enforces (docs/protocol.md "Limits a node enforces"):
--max-inbound, the handshake timeout, the idle timeout, and fairness under a
flooding client (each peer's share of the shared queue).

How this fails if a limit is broken: a 4th connection is served, a silent
peer is never dropped (the timeouts would also let an attacker hold every
slot forever), a freed slot is never reusable, or the flooding client starves
an honest one.
"""

import socket
import threading
import time

import pclib
from pclib import Chain


def max_inbound(h):
    node = h.node("inbound3", args=["--max-inbound", "3"])
    clients = []
    try:
        for i in range(3):
            c = pclib.Client(node.port)
            clients.append(c)
            c.hello()
            lb = h.step("inbound client %d of 3 is served" % (i + 1), c.latest_block)
        fourth = pclib.Client(node.port, source="127.0.0.2")
        closed, seen = fourth.wait_closed(10)
        errs = [m for m in seen if m.get("type") == "error"]
        h.check(errs, "4th connection gets an error message", [m.get("type") for m in seen])
        h.check(closed, "4th connection is closed by the node")
        h.check(not any(m.get("type") == "latestBlock" for m in seen),
                "4th connection is not served")
        fourth.close()
        # The three are still served.
        for i, c in enumerate(clients):
            h.step("after the refusal, client %d still served" % (i + 1), c.latest_block)
        # Freeing a slot makes room again (the limit counts live connections).
        clients.pop().close()

        def served():
            with pclib.Client(node.port, source="127.0.0.3") as c:
                c.hello()
                return c.latest_block(5)
        h.step("after one of the three leaves, a new connection is served",
               pclib.wait_until, served, 20, interval=0.5, what="a freed inbound slot")
        # Refusing for the limit is not a ban: 127.0.0.2 can come back too.
        clients.pop().close()

        def served2():
            with pclib.Client(node.port, source="127.0.0.2") as c:
                c.hello()
                return c.latest_block(5)
        h.step("the address refused for the limit is not banned", pclib.wait_until, served2, 20,
               interval=0.5, what="127.0.0.2 served")
    finally:
        for c in clients:
            c.close()
    node.stop()


def burst(h):
    """60 clients connect at once from 60 addresses; every one is served."""
    node = h.node("burst")
    results = [None] * 60
    def one(i):
        try:
            with pclib.Client(node.port, source=pclib.ip(150 + i), timeout=30) as c:
                c.hello()
                results[i] = c.latest_block(30)["height"]
        except (OSError, pclib.TestFailure, ValueError, KeyError) as e:
            results[i] = repr(e)
    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(60)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    bad = [r for r in results if r != 1]
    h.check(not bad, "60 simultaneous clients are all served", bad[:3])
    node.stop()


def ban_expiry(h):
    """A ban lasts --ban-seconds, then the address is served again."""
    node = h.node("banexpiry", args=["--ban-seconds", "3"])
    src = "127.0.0.25"
    with pclib.Client(node.port, source=src) as c:
        c.send_raw(b"not json at all\n")
        c.wait_closed(10)

    def served():
        try:
            with pclib.Client(node.port, source=src, timeout=3) as c:
                c.hello()
                return c.latest_block(3) is not None
        except (OSError, pclib.TestFailure, ValueError):
            return False
    h.check(not served(), "an address that sent garbage is refused (banned for 3 s)")
    h.step("after --ban-seconds it is served again", pclib.wait_until, served, 20,
           interval=0.5, what="the ban to expire")
    node.stop()


def handshake_timeout(h):
    node = h.node("hstimeout", args=["--handshake-timeout-ms", "1000",
                                     "--idle-timeout-ms", "3000"])
    silent = pclib.Client(node.port, source="127.0.0.4")
    talker = pclib.Client(node.port, source="127.0.0.5")
    talker.hello()
    closed, seen = silent.wait_closed(15)
    h.check(closed, "a connection that never sends anything is dropped (handshake timeout 1 s)")
    errs = [m.get("payload") for m in seen if m.get("type") == "error"]
    h.check(errs and errs[-1].get("code") == "timeout", "it gets error code 'timeout'", errs)
    silent.close()
    # A peer that did hello is not subject to the handshake timeout.
    lb = h.step("a peer that said hello is still served after the handshake timeout",
                talker.latest_block, 5)
    talker.close()

    # Idle timeout: a handshaked peer that answers nothing (not even ping)
    # is disconnected; one that answers pings stays.
    mute = pclib.Client(node.port, source="127.0.0.6")
    mute.hello()
    live = pclib.Client(node.port, source="127.0.0.7")
    live.hello()
    stop = threading.Event()
    live_seen = []

    def keep_alive():   # answers pings only (wait_for does that), bounded
        deadline = time.monotonic() + 30
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                live.wait_for("never-sent-type", 0.5)
            except pclib.TestFailure as e:
                if live.closed:
                    live_seen.append(str(e))
                    return
    t = threading.Thread(target=keep_alive, daemon=True)
    t.start()
    closed, seen = mute.wait_closed(20)
    types = [m.get("type") for m in seen]
    h.check("ping" in types, "a silent peer is pinged before the idle timeout", types)
    h.check(closed, "a silent peer is dropped after the idle timeout (3 s)", types)
    mute.close()
    stop.set()
    t.join(5)
    h.check(not live.closed, "a peer answering pings is kept past the idle timeout", live_seen)
    live.close()
    node.stop()


def slow_senders(h):
    """A first message trickled a byte at a time must not stretch the
    handshake timeout; a handshaked peer trickling a message that never ends
    must still meet the idle timeout."""
    node = h.node("trickle", args=["--handshake-timeout-ms", "1000", "--idle-timeout-ms", "3000"])
    for label, hello_first, limit_s in (("handshake", False, 15), ("idle", True, 20)):
        with pclib.Client(node.port, source="127.0.0.%d" % (20 + hello_first)) as c:
            if hello_first:
                c.hello()
            c.send_raw('{"type":"x-slow","payload":"')
            closed = False
            t0 = time.monotonic()
            for _ in range(int(limit_s / 0.2)):        # bounded
                try:
                    c.send_raw("a")
                except OSError:
                    closed = True
                    break
                c.recv(0.2)
                if c.closed:
                    closed = True
                    break
            h.check(closed, "a trickled, never-finished message is dropped by the %s timeout "
                    "(within %d s)" % (label, limit_s), "%.1f s" % (time.monotonic() - t0))
    node.stop()


class DialCounter:
    """n listening sockets on 127.0.0.1 that count who connects to them."""

    def __init__(self, n):
        self.socks = []
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            s.listen(8)
            s.setblocking(False)
            self.socks.append(s)
        self.hit = set()
        self.held = []

    @property
    def addrs(self):
        return ["127.0.0.1:%d" % s.getsockname()[1] for s in self.socks]

    def poll(self):
        for i, s in enumerate(self.socks):
            for _ in range(100):
                try:
                    conn, _ = s.accept()
                except (BlockingIOError, OSError):
                    break
                self.hit.add(i)
                self.held.append(conn)   # hold it open: a live outbound slot
        return len(self.hit)

    def close(self):
        for s in self.socks + self.held:
            s.close()


def max_outbound(h):
    """--max-outbound 3 and a `peers` message naming 12 listening addresses:
    at most 3 of them are ever dialled."""
    node = h.node("outbound3", args=["--max-outbound", "3"])
    dc = DialCounter(12)
    try:
        pclib.introduce(node.port, dc.addrs)
        pclib.wait_until(lambda: dc.poll() >= 1, 20, what="a dial to an advertised address")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            dc.poll()
            time.sleep(0.1)
        h.check(1 <= len(dc.hit) <= 3, "a node with --max-outbound 3 dials at most 3 of 12 "
                "advertised addresses", len(dc.hit))
    except pclib.TestFailure as e:
        h.check(False, "a node dials addresses learnt from a peers message", e)
    finally:
        dc.close()
    node.stop()


class Flooder:
    """Sends `msg` nonstop from its own address for at most `limit_s`;
    with drain, a second thread reads and discards the answers (a fast
    client), else it never reads (a client that lets answers pile up)."""

    def __init__(self, port, source, msg, drain, limit_s=20):
        self.c = pclib.Client(port, source=source)
        self.c.hello()
        self.c.sock.settimeout(None)   # blocking: never cut a frame in half
        self.msg = msg
        self.limit_s = limit_s
        self.stop = threading.Event()
        self.sent = 0
        self.sent_late = 0             # sent after `answered` was set
        self.answered = threading.Event()
        self.ended = None              # why the sender stopped
        self.t = threading.Thread(target=self._send, daemon=True)
        self.d = threading.Thread(target=self._drain, daemon=True) if drain else None

    def start(self):
        self.t.start()
        if self.d:
            self.d.start()

    def _send(self):
        deadline = time.monotonic() + self.limit_s
        while not self.stop.is_set():
            if time.monotonic() > deadline:
                self.ended = "time limit"
                return
            try:
                self.c.sock.sendall(self.msg)
            except OSError as e:
                self.ended = "send failed: %s" % e
                return
            self.sent += 1
            if self.answered.is_set():
                self.sent_late += 1
        self.ended = "stopped"

    def _drain(self):
        while not self.stop.is_set():
            try:
                if not self.c.sock.recv(1 << 16):
                    return
            except OSError:
                return

    def finish(self):
        self.stop.set()
        try:
            self.c.sock.shutdown(2)   # wakes a blocked sendall/recv
        except OSError:
            pass
        self.t.join(10)
        if self.d:
            self.d.join(10)
        self.c.close()


def honest_answers(h, node, chain, fl, label):
    answers = 0
    for i in range(3):
        try:
            got = pclib.tip_of(node.port, timeout=20)
            answers += got["hash"] == chain.tip["hash"]
        except (pclib.TestFailure, OSError) as e:
            h.info("%s: honest query %d failed: %s" % (label, i, e))
    fl.answered.set()
    return answers


def flood(h):
    node = h.node("flooded")
    chain = Chain().extend(40, tag="flood")
    node.offer(chain.range(2, 41))
    node.wait_tip(chain.tip)

    # A fast client: valid queries nonstop, answers read and discarded.
    fl = Flooder(node.port, "127.0.0.8", b'{"type":"latestBlock","payload":{}}\n' * 256,
                 drain=True)
    fl.start()
    time.sleep(1.0)
    answers = honest_answers(h, node, chain, fl, "fast flood")
    # Still flooding = the sender thread is still in its loop (sending, or
    # held back by TCP flow control, which the spec allows: "its connection
    # thread stops reading until the chain worker has caught up").
    busy = fl.t.is_alive() and fl.ended is None and fl.sent > 0
    time.sleep(0.5)
    h.info("fast flood: %d batches of 256 queries sent, %d after the honest answers" % (
        fl.sent, fl.sent_late))
    fl.finish()
    h.check(answers == 3, "fast flood: an honest client gets 3 of 3 answers", answers)
    h.check(busy, "fast flood: the flooder was still flooding when the answers came",
            "sent %d batches, ended: %s" % (fl.sent, fl.ended))
    h.step("after the fast flood the node still answers", pclib.tip_of, node.port)

    # A client that never reads: its answers (40-block allBlock pages) pile up
    # in its send queue; the node must not starve others, and may drop it.
    fl = Flooder(node.port, "127.0.0.9", b'{"type":"allBlock","payload":{}}\n' * 64,
                 drain=False)
    fl.start()
    time.sleep(1.0)
    answers = honest_answers(h, node, chain, fl, "non-reading flood")
    fl.t.join(25)
    h.check(answers == 3, "non-reading flood: an honest client gets 3 of 3 answers", answers)
    h.check(fl.ended and "send failed" in fl.ended,
            "non-reading flood: the node disconnects a peer that keeps asking and reads "
            "nothing", "sent %d batches, ended: %s" % (fl.sent, fl.ended))
    fl.finish()
    h.step("after the non-reading flood the node still answers", pclib.tip_of, node.port)
    log = node.log()
    h.check("banned 127.0.0.9" in log and "reading nothing of ours" in log,
            "non-reading flood: the peer is banned for sending while reading nothing")
    h.check("banned 127.0.0.8" not in log,
            "fast flood: a peer that reads its answers, however slowly, is not banned")
    with pclib.Client(node.port, source="127.0.0.9") as c:
        c.send_hello()
        e = c.wait_for("error", 10)
        h.check(isinstance(e, dict) and e.get("code") == "banned",
                "non-reading flood: its address is refused afterwards", e)
    node.stop()


def main(h):
    max_inbound(h)
    burst(h)
    ban_expiry(h)
    handshake_timeout(h)
    slow_senders(h)
    max_outbound(h)
    flood(h)


if __name__ == "__main__":
    pclib.Harness("limits").run(main)
