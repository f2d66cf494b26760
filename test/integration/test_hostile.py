#!/usr/bin/env python3
"""
Hostile peers (docs/protocol.md Part 2, "Transport and framing", "Envelope",
"Handshake", "Misbehaviour and bans"). Each hostile client connects from its
own 127.0.0.x source address, because bans are per IP; honest traffic comes
from 127.0.0.1. After every case an honest client must still get answers from
the target node and an honest peer node must still sync a new block from it.

Cases: garbage, invalid JSON, non-object JSON, bad envelopes, a frame over
--max-frame-bytes (the node must cut us off before we finish sending),
nesting at 64 (accepted) and 65 (rejected), wrong network and wrong genesis
(disconnected, not banned), self-connection, one invalid block per rule,
a non-consecutive block list, an invalid longer replacement chain, and 300+
mutated frames on fresh connections.

How this fails if the node is broken: the node crashes or exits, answers a
banned address, accepts an invalid block or chain, keeps reading an oversized
frame, bans an honest node of another network, or dials itself in a loop.
"""

import json
import random
import re
import socket
import threading
import time

import pclib
from pclib import Chain

MAX_FRAME = 65536
FUZZ_FRAMES = 320
FUZZ_SEED = 20261126

BLOCK_CODES = {
    "bad-hash": "bad-hash", "bad-pow": "bad-proof-of-work", "bad-merkle": "bad-merkle-root",
    "bad-height": "bad-height", "bad-version": "bad-version",
    "wrong-difficulty": "bad-difficulty", "time-old": "time-too-old",
    "time-future": "time-too-new",
}


class Env:
    def __init__(self, h):
        self.h = h
        self.n_ip = 0
        self.target = h.node("target", args=["--max-frame-bytes", str(MAX_FRAME),
                                             "--ban-seconds", "60",
                                             "--handshake-timeout-ms", "5000"])
        self.honest = h.node("honest", peers=[self.target.addr])
        self.chain = Chain().extend(11, tag="hostile")   # 12 blocks: a full MTP window
        self.target.offer(self.chain.range(2, 12))
        h.step("target loads 12 blocks", self.target.wait_tip, self.chain.tip)
        h.step("honest peer syncs them", self.honest.wait_tip, self.chain.tip)

    def next_ip(self):
        self.n_ip += 1
        return pclib.ip(self.n_ip)

    def healthy(self, label):
        """Honest client served, tip unchanged, honest peer syncs a new block."""
        h = self.h
        if not h.check(self.target.running(), "%s: target still running" % label,
                       "exit code %s" % self.target.proc.poll()):
            raise pclib.TestFailure("target died")
        t = pclib.try_tip(self.target.port)
        h.check(t is not None and t["hash"] == self.chain.tip["hash"],
                "%s: honest client served, tip unchanged" % label,
                t and (t["height"], t["hash"][:16]))
        b = self.chain.append(self.chain.build_next(tag="after " + label))
        self.target.offer([b])
        try:
            self.honest.wait_tip(b, 30)
            h.check(True, "%s: honest peer still syncs new blocks" % label)
        except pclib.TestFailure as e:
            h.check(False, "%s: honest peer still syncs new blocks" % label, e)
            # Resynchronise our view so later cases build on the real tip.
            t = pclib.try_tip(self.target.port)
            if t and t["hash"] != self.chain.tip["hash"]:
                self.chain = Chain(pclib.whole_chain(self.target.port))


def refused(port, src):
    """(refused?, detail): a banned address gets `error` (banned) and a close
    and is never served a query."""
    try:
        c = pclib.Client(port, source=src, timeout=5)
    except OSError as e:
        return True, "connect failed: %s" % e
    with c:
        closed, seen = c.wait_closed(5)
        types = [m.get("type") for m in seen]
        codes = [m.get("payload", {}).get("code") for m in seen if m.get("type") == "error"
                 and isinstance(m.get("payload"), dict)]
        if not closed:
            try:
                c.send("latestBlock", {})
                c.wait_for("latestBlock", 5)
                return False, "served a latestBlock query (saw %s)" % types
            except (pclib.TestFailure, OSError):
                pass
            return False, "left open for 5 s (saw %s)" % types
        if "latestBlock" in types:
            return False, "served (saw %s)" % types
        # Closed: only a `banned` error means refused. A close for the
        # handshake timeout (the wait above is as long as it) is not a ban.
        return "banned" in codes, "codes %s" % codes


def served(port, src):
    try:
        with pclib.Client(port, source=src, timeout=5) as c:
            c.hello()
            return c.latest_block(5) is not None
    except (OSError, pclib.TestFailure, ValueError):
        return False


def expect_fatal(env, label, data, after_hello=False, codes=None, banned=True, rule=None):
    """Sends data from a fresh address; expects `error` then a close, then
    (if banned) a refused reconnect from that address."""
    h = env.h
    src = env.next_ip()
    try:
        with pclib.Client(env.target.port, source=src) as c:
            if after_hello:
                c.hello()
            c.send_raw(data)
            closed, seen = c.wait_closed(10)
    except OSError as e:
        h.check(False, "%s: send" % label, e)
        return
    errs = [m.get("payload") for m in seen if m.get("type") == "error"]
    code = errs[-1].get("code") if errs and isinstance(errs[-1], dict) else None
    h.check(errs, "%s: error message received" % label, [m.get("type") for m in seen])
    if codes is not None:
        h.check(code in codes, "%s: error code in %s" % (label, sorted(codes)), code)
    if rule is not None:
        # The spec sends code 'banned' at score 100; the rule that failed is
        # then only in the reason. Checks the block broke the rule we meant.
        reason = errs[-1].get("reason", "") if errs and isinstance(errs[-1], dict) else ""
        h.check(code == rule or rule in str(reason),
                "%s: rejected for the intended rule %s" % (label, rule), (code, reason))
    h.check(closed, "%s: disconnected" % label)
    if banned is None:
        pass   # the spec does not say whether this one bans
    elif banned:
        ok, detail = refused(env.target.port, src)
        h.check(ok, "%s: reconnect from %s refused (banned)" % (label, src), detail)
    else:
        h.check(served(env.target.port, src), "%s: %s not banned, served again" % (label, src))
    env.healthy(label)


# ----------------------------------------------------------------- cases

def framing_cases(env):
    fresh = env.next_ip()
    ok, detail = refused(env.target.port, fresh)
    env.h.check(not ok, "control: a fresh address %s is not refused" % fresh, detail)
    hello_first = {"protocol", "bad-json", "banned"}
    expect_fatal(env, "garbage bytes", b"\x00\xff\xfeGARBAGE\r\n\x01\x02", codes=hello_first)
    expect_fatal(env, "garbage after hello", b"hello? hello??\n", after_hello=True)
    expect_fatal(env, "invalid JSON (bad literal)", b'{"type":"latestBlock","payload":{"a":tru}}\n')
    expect_fatal(env, "invalid JSON (double comma)", b'{"type":"latestBlock",,"payload":{}}\n',
                 after_hello=True)
    expect_fatal(env, "invalid JSON (bad escape)", b'{"type":"latestBlock","payload":"\\x41"}\n',
                 after_hello=True)
    expect_fatal(env, "invalid UTF-8 in a string", b'{"type":"latestBlock","payload":"\xc3\x28"}\n',
                 after_hello=True)
    expect_fatal(env, "\\u0000 in a string", b'{"type":"latestBlock","payload":"a\\u0000b"}\n',
                 after_hello=True)
    expect_fatal(env, "non-object JSON (array)", b'[{"type":"latestBlock","payload":{}}]\n')
    expect_fatal(env, "non-object JSON (string)", b'"latestBlock"\n', after_hello=True)
    expect_fatal(env, "non-object JSON (number)", b'42\n', after_hello=True)
    expect_fatal(env, "envelope without type", b'{"payload":{}}\n', after_hello=True)
    expect_fatal(env, "envelope with numeric type", b'{"type":7,"payload":{}}\n',
                 after_hello=True)
    expect_fatal(env, "envelope with empty type", b'{"type":"","payload":{}}\n',
                 after_hello=True)
    with pclib.Client(env.target.port, source=env.next_ip()) as c:
        c.hello()
        c.send("x" * 32, {})
        c.send_raw('{"type":"latestBlock","payload":{},"extra":[1,{"a":null}]}\n')
        h = env.h
        h.step("a 32-char unknown type is ignored and an envelope's extra members too",
               c.wait_for, "latestBlock", 10)
    expect_fatal(env, "envelope with a 33-char type",
                 b'{"type":"' + b"x" * 33 + b'","payload":{}}\n', after_hello=True)


def oversized(env):
    h = env.h
    src = env.next_ip()
    label = "frame over --max-frame-bytes %d" % MAX_FRAME
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 32768)
    c.bind((src, 0))
    c.settimeout(10)
    c.connect(("127.0.0.1", env.target.port))
    total, limit = 0, 64 * 1024 * 1024
    cut = None
    try:
        c.sendall(b'{"type":"latestBlock","payload":{"data":["')
        chunk = b"a" * 16384
        for _ in range(limit // len(chunk)):     # bounded; the node should cut us off early
            c.sendall(chunk)
            total += len(chunk)
    except socket.timeout:
        cut = "send blocked 10 s: the node stopped reading but did not close"
    except OSError as e:
        cut = "ok: %s after %d bytes" % (type(e).__name__, total)
    h.check(cut is not None and cut.startswith("ok"),
            "%s: node disconnects before we finish sending %d MiB" % (label, limit >> 20),
            cut or "sent all %d bytes" % total)
    h.info("oversized frame: %s" % cut)
    c.close()
    ok, detail = refused(env.target.port, src)
    h.check(ok, "%s: reconnect from %s refused (banned)" % (label, src), detail)
    env.healthy(label)
    # The limit counts from `{` to `}`: exactly MAX_FRAME bytes is fine,
    # one more is not.
    def frame_of(n):
        head, tail = '{"type":"x-unknown","payload":"', '"}'
        f = head + "b" * (n - len(head) - len(tail)) + tail
        assert len(f) == n
        return f
    with pclib.Client(env.target.port, source=env.next_ip()) as c2:
        c2.hello()
        c2.send_raw(frame_of(MAX_FRAME) + "\n")
        h.step("a frame of exactly --max-frame-bytes (%d) is accepted" % MAX_FRAME,
               c2.latest_block, 10)
    expect_fatal(env, "a frame of --max-frame-bytes + 1", (frame_of(MAX_FRAME + 1) +
                                                           "\n").encode(), after_hello=True)


def nesting(env):
    h = env.h
    # 64 levels in all (the envelope object is level 1): accepted, ignored.
    with pclib.Client(env.target.port, source=env.next_ip()) as c:
        c.hello()
        c.send_raw('{"type":"x-deep","payload":' + "[" * 63 + "]" * 63 + "}\n")
        h.step("nesting of exactly 64 levels is accepted (connection still served)",
               c.latest_block, 10)
    expect_fatal(env, "nesting of 65 levels", ('{"type":"x-deep","payload":' + "[" * 64 +
                                               "]" * 64 + "}\n").encode(), after_hello=True)
    expect_fatal(env, "nesting of 5000 levels", ('{"type":"latestBlock","payload":' +
                                                 '{"a":' * 5000 + "1" + "}" * 5000 +
                                                 "}\n").encode(), after_hello=True)


def handshakes(env):
    g = pclib.regtest_genesis()["hash"]
    for label, kw, code in (
            ("wrong network id in hello", {"network": "peerchain-main-1"}, "wrong-network"),
            ("wrong genesis in hello", {"genesis": "f" * 64}, "wrong-network")):
        h = env.h
        src = env.next_ip()
        with pclib.Client(env.target.port, source=src) as c:
            c.send_hello(**kw)
            closed, seen = c.wait_closed(10)
        errs = [m.get("payload") for m in seen if m.get("type") == "error"]
        h.check(errs and errs[-1].get("code") == code, "%s: error code %s" % (label, code), errs)
        h.check(closed, "%s: disconnected" % label)
        h.check(served(env.target.port, src),
                "%s: not banned (an honest node of another network)" % label)
        env.healthy(label)
    expect_fatal(env, "malformed hello (version 0)",
                 json.dumps({"type": "hello", "payload": {
                     "network": pclib.REGTEST_ID, "genesis": g, "version": 0, "height": 1,
                     "work": "10", "port": 0, "nonce": "0123456789abcdef",
                     "agent": "x"}}).encode() + b"\n", codes={"protocol", "banned"}, banned=None)
    expect_fatal(env, "malformed hello (nonce not hex)",
                 json.dumps({"type": "hello", "payload": {
                     "network": pclib.REGTEST_ID, "genesis": g, "version": 1, "height": 1,
                     "work": "10", "port": 0, "nonce": "not-hex-at-all!!",
                     "agent": "x"}}).encode() + b"\n", codes={"protocol", "banned"})
    for label, work in (("leading zero", "010"), ("uppercase", "A"), ("empty", ""),
                        ("81 characters", "1" + "0" * 80), ("0x prefix", "0x10")):
        expect_fatal(env, "malformed hello (work %s)" % label,
                     json.dumps({"type": "hello", "payload": {
                         "network": pclib.REGTEST_ID, "genesis": g, "version": 1, "height": 1,
                         "work": work, "port": 0, "nonce": "0123456789abcdef",
                         "agent": "x"}}).encode() + b"\n", codes={"protocol", "banned"})
    expect_fatal(env, "first message neither hello nor a seed message",
                 b'{"type":"getPeers","payload":{}}\n', codes={"protocol", "banned"},
                 banned=None)


def self_connection(env):
    """Two ways a node can be given itself: its own address (it may notice
    statically), and a relay to its own port under another address, which
    only the hello nonce reveals; the relay counts how often it is dialled."""
    h = env.h
    p = pclib.free_port()
    s = h.node("selfie", port=p, peers=["127.0.0.1:%d" % p, env.target.addr])
    h.check(s.port == p, "self-connecting node listens on its chosen port", s.port)
    selfre = re.compile(r"self|own address|ourselves|itself", re.IGNORECASE)

    def self_lines():
        return len([l for l in s.log().splitlines()
                    if selfre.search(l) and not l.startswith("====")])
    h.step("--peer to its own address is logged", pclib.wait_until, lambda: self_lines() > 0,
           20, what="a log line about connecting to itself")
    time.sleep(1.0)
    n1 = self_lines()
    time.sleep(4.0)
    n2 = self_lines()
    h.check(n2 == n1, "no dial loop to its own address (self lines %d, 4 s later %d)" % (n1, n2))
    h.step("the self-connecting node still syncs from its other peer", s.wait_tip,
           env.chain.tip, 30)
    s.stop()

    # Through a relay: the node dials 127.0.0.1:<relay>, reaches itself.
    p2 = pclib.free_port()
    relay = pclib.TcpProxy(p2)
    try:
        s2 = h.node("selfie-relay", port=p2, peers=["127.0.0.1:%d" % relay.port,
                                                  env.target.addr])
        h.step("a dial to itself through a relay happens", pclib.wait_until,
               lambda: relay.accepted > 0, 20, what="the relay to be dialled")
        h.step("the self-connection (same hello nonce) is logged", pclib.wait_until,
               lambda: re.search(r"self", s2.log(), re.IGNORECASE), 20,
               what="a self-connection log line")
        time.sleep(2.0)
        c1 = relay.accepted
        time.sleep(6.0)
        c2 = relay.accepted
        h.check(c2 == c1, "the connector stops dialling itself (relayed dials %d, 6 s later %d)"
                % (c1, c2))
        h.step("the relay-self node still syncs from its other peer", s2.wait_tip,
               env.chain.tip, 30)
        env.healthy("self-connection")
        h.step("and follows the next block too", s2.wait_tip, env.chain.tip, 30)
        s2.stop()
    finally:
        relay.close()


def invalid_blocks(env):
    h = env.h
    for kind in pclib.BROKEN_KINDS:
        if kind == "time-future":
            continue  # not an offence: see too_far_ahead below
        bad = env.chain.broken_next(kind)
        label = "invalid block (%s) as a latestBlock offer" % kind
        data = json.dumps({"type": "latestBlock", "payload": bad}).encode() + b"\n"
        expect_fatal(env, label, data, after_hello=True, codes={BLOCK_CODES[kind], "banned"},
                     rule=BLOCK_CODES[kind])
    # Same rule broken inside an allBlock offer, from a seed-protocol client.
    bad = env.chain.broken_next("bad-merkle")
    expect_fatal(env, "invalid block in an allBlock offer (seed client)",
                 json.dumps({"type": "allBlock", "payload": [bad]}).encode(),
                 codes={"bad-merkle-root", "banned"}, rule="bad-merkle-root")
    # Bad previous-hash link: a lone block not linking onto the tip is only an
    # orphan (score 0); inside a list it breaks consecutiveness (score 100).
    a = env.chain.build_next(tag="link-a")
    tmp = env.chain.copy()
    tmp.append(a)
    b = tmp.build_next(tag="link-b")
    b["previousHash"] = pclib.sha256_hex(b"elsewhere")
    pclib.mine(b)
    expect_fatal(env, "bad previousHash link inside an allBlock list",
                 json.dumps({"type": "allBlock", "payload": [a, b]}).encode() + b"\n",
                 after_hello=True, codes={"not-contiguous", "bad-previous-hash", "banned"})
    c2 = tmp.build_next(tag="gap")
    c2["height"] += 1
    pclib.mine(c2)
    expect_fatal(env, "height gap inside an allBlock list",
                 json.dumps({"type": "allBlock", "payload": [a, c2]}).encode() + b"\n",
                 after_hello=True, codes={"not-contiguous", "bad-height", "banned"})


def too_far_ahead(env):
    """A block more than 2 h ahead of the node's clock is dropped but is no
    offence (an honest peer with a fast clock must not be banned by
    everyone): the sender stays connected and unbanned, the tip unchanged."""
    h = env.h
    bad = env.chain.broken_next("time-future")
    src = env.next_ip()
    before = env.chain.tip["hash"]
    with pclib.Client(env.target.port, source=src) as c:
        c.hello()
        c.send("latestBlock", bad)
        got = h.step("block too far ahead: its sender is still served", c.latest_block, 10)
        h.check(got is not None and got["hash"] == before,
                "block too far ahead: not accepted (tip unchanged)", got and got.get("height"))
    with pclib.Client(env.target.port, source=src) as c:
        h.step("block too far ahead: its sender is not banned", c.hello)


def scored(env):
    """Offences below 100 do not disconnect; they add up (docs/protocol.md
    "Misbehaviour and bans": malformed payload of a known type 50, second
    hello 50, unknown type / stale / orphan block 0)."""
    h = env.h
    src = env.next_ip()
    with pclib.Client(env.target.port, source=src) as c:
        c.hello()
        for i in range(10):
            c.send("x-unknown-%d" % i, {"i": i})
        h.step("10 unknown message types: still served", c.latest_block, 10)
        c.send("latestBlock", env.chain.at(3))          # stale: already in the chain
        h.step("a stale block offer: still served", c.latest_block, 10)
        orphan = pclib.make_block(2, env.chain.at(1)["timestamp"] + 5, pclib.sha256_hex(b"?"),
                                  ["orphan"], 4)
        c.send("latestBlock", orphan)                   # lower height, unknown parent
        h.step("a low orphan block offer: still served", c.latest_block, 10)
        c.send("allBlock", {"from": "two", "limit": 3})  # malformed payload: 50
        h.step("one malformed payload of a known type (50): still served", c.latest_block, 10)
        c.send("ping", {"nonce": "not a number"})       # a second one: 100
        closed, seen = c.wait_closed(10)
        errs = [m.get("payload") for m in seen if m.get("type") == "error"]
        h.check(closed and errs, "a second malformed payload (50 + 50) disconnects",
                [m.get("type") for m in seen])
    ok, detail = refused(env.target.port, src)
    h.check(ok, "and bans the address at a score of 100", detail)
    src = env.next_ip()
    with pclib.Client(env.target.port, source=src) as c:
        c.hello()
        h.step("first hello served", c.latest_block, 10)
        c.send_hello()
        h.step("a second hello (50): still served", c.latest_block, 10)
        c.send_hello()
        closed, seen = c.wait_closed(10)
        h.check(closed, "a third hello (100) disconnects", [m.get("type") for m in seen])
    ok, detail = refused(env.target.port, src)
    h.check(ok, "and bans the address", detail)
    # An allBlock offer of blocks the node already has: less-work, which is
    # not misbehaviour (Part 1, "Competing chains").
    src = env.next_ip()
    with pclib.Client(env.target.port, source=src) as c:
        c.hello()
        c.send("allBlock", env.chain.range(2, env.chain.height))
        h.step("offering blocks the node already has is not an offence", c.latest_block, 10)
    # Another genesis at the head of an allBlock offer: bad-genesis; the tip
    # must not move (whether it bans is not spelled out).
    other = [pclib.make_block(1, pclib.REGTEST_GENESIS_TS, pclib.ZERO_HASH, ["other genesis"], 4)]
    oc = Chain(other)
    oc.blocks[0] = other[0]
    for _ in range(env.chain.height + 2):
        oc.append(oc.build_next(tag="other"))
    with pclib.Client(env.target.port, source=env.next_ip()) as c:
        c.hello()
        c.send("allBlock", oc.blocks)
        closed, seen = c.wait_closed(3)
        h.info("another genesis offered: closed=%s, saw %s" % (
            closed, [m.get("payload") if m.get("type") == "error" else m.get("type")
                     for m in seen]))
    env.healthy("scored offences")


def invalid_replacement(env):
    """A fork from height 3, longer than our chain, whose middle block is
    invalid: nothing of it is adopted and the sender is banned."""
    base = env.chain.prefix(3)
    fork = base.copy()
    want = env.chain.height + 3
    mid = (3 + want) // 2
    while fork.height < want:
        if fork.height + 1 == mid:
            fork.blocks.append(fork.broken_next("bad-merkle"))
        else:
            # after the bad block, keep linking on it so the list is consecutive
            p = fork.tip
            b = pclib.make_block(p["height"] + 1, p["timestamp"] + 60, p["hash"],
                                 ["fork %d" % (p["height"] + 1)], p["difficulty"])
            fork.blocks.append(b)
    h = env.h
    h.check(fork.validate() is not None and fork.height > env.chain.height,
            "replacement chain is longer (%d > %d) and invalid at %d" % (
                fork.height, env.chain.height, mid), fork.validate())
    expect_fatal(env, "invalid longer replacement chain (allBlock)",
                 json.dumps({"type": "allBlock", "payload": fork.range(2, fork.height)}).encode()
                 + b"\n", after_hello=True, codes={"bad-merkle-root", "banned"},
                 rule="bad-merkle-root")


# -------------------------------------------------------------- mutations

HUGE = ["1e400", "18446744073709551616", "9007199254740992", "-1", "1.5", "-0",
        "123456789012345678901234567890123456789", "1e-400", "0.0", "99999999999999999999e99"]
BAD_HEX = ["", "0" * 63, "0" * 65, "G" * 64, "0x" + "0" * 62, "ABCDEF" + "0" * 58, "\u00e9" * 64,
           "0" * 32, " " * 64]
TYPES_JSON = ['null', 'true', 'false', '0', '"s"', '[]', '{}', '[[]]', '{"a":{}}', '""', '-7',
              '"\\ud800"', '"\\u0000"', '[null]', '3.25']


def base_messages(chain):
    nxt = chain.build_next(tag="fuzz-target")
    g = pclib.regtest_genesis()["hash"]
    hello = {"network": pclib.REGTEST_ID, "genesis": g, "version": 1, "height": 1,
             "work": "10", "port": 0, "nonce": "0123456789abcdef", "agent": "fuzz"}
    msgs = [
        {"type": "hello", "payload": hello},
        {"type": "latestBlock", "payload": {}},
        {"type": "latestBlock", "payload": nxt},
        {"type": "allBlock", "payload": {"from": 2, "limit": 3}},
        {"type": "allBlock", "payload": [nxt]},
        {"type": "allBlock", "payload": chain.range(2, 4)},
        {"type": "getBlocks", "payload": {"locator": [chain.tip["hash"], g], "limit": 10}},
        {"type": "blocks", "payload": {"blocks": [nxt], "tip": nxt["height"]}},
        {"type": "getPeers", "payload": {}},
        {"type": "ping", "payload": {"nonce": 5}},
        {"type": "pong", "payload": {"nonce": 5}},
        {"type": "error", "payload": {"code": "bad-hash", "reason": "fuzz"}},
    ]
    return msgs, nxt


def _paths(obj, prefix=()):
    """Every (path, value) in a JSON value."""
    yield prefix, obj
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, prefix + (i,))


def _set(obj, path, value):
    import copy
    obj = copy.deepcopy(obj)
    if not path:
        return value
    cur = obj
    for p in path[:-1]:
        cur = cur[p]
    cur[path[-1]] = value
    return obj


class Raw:
    """A JSON fragment inserted verbatim (huge numbers, bad escapes)."""

    def __init__(self, text):
        self.text = text


def dump(obj):
    """json.dumps that writes Raw fragments verbatim."""
    raws = []

    def repl(o):
        if isinstance(o, Raw):
            raws.append(o.text)
            return "@@RAW%d@@" % (len(raws) - 1)
        if isinstance(o, dict):
            return {k: repl(v) for k, v in o.items()}
        if isinstance(o, list):
            return [repl(v) for v in o]
        return o
    text = json.dumps(repl(obj), separators=(",", ":"), ensure_ascii=False)
    for i, r in enumerate(raws):
        text = text.replace('"@@RAW%d@@"' % i, r)
    return text


def mutate(rng, msg):
    """One mutated frame (bytes) from a valid message."""
    paths = [p for p, _ in _paths(msg)]
    kind = rng.randrange(10)
    text = dump(msg)
    if kind == 0:        # truncation, optionally closed with braces
        cut = rng.randrange(1, len(text))
        return (text[:cut] + rng.choice(["", "}", "}}", "]}", "\n", '"}'])).encode("utf-8")
    if kind == 1:        # type confusion at a random path
        return dump(_set(msg, rng.choice(paths[1:]), Raw(rng.choice(TYPES_JSON)))).encode()
    if kind == 2:        # random bytes over a random span
        b = bytearray(text.encode("utf-8"))
        i = rng.randrange(len(b))
        for j in range(i, min(len(b), i + rng.randrange(1, 8))):
            b[j] = rng.randrange(256)
        return bytes(b)
    if kind == 3:        # huge / fractional / negative numbers at numeric paths
        nums = [p for p, v in _paths(msg) if isinstance(v, int) and not isinstance(v, bool)]
        if nums:
            return dump(_set(msg, rng.choice(nums), Raw(rng.choice(HUGE)))).encode()
        return dump(_set(msg, ("payload",), Raw(rng.choice(HUGE)))).encode()
    if kind == 4:        # bad hex in any string that looks like a hash
        hexes = [p for p, v in _paths(msg) if isinstance(v, str) and len(v) in (16, 64)]
        if hexes:
            return dump(_set(msg, rng.choice(hexes), rng.choice(BAD_HEX))).encode("utf-8")
        return dump(_set(msg, ("type",), rng.choice(["latestblock", "LATESTBLOCK", "allBlock "])))\
            .encode()
    if kind == 5:        # drop a member
        dicts = [p for p, v in _paths(msg) if isinstance(v, dict) and v]
        p = rng.choice(dicts)
        import copy
        m2 = copy.deepcopy(msg)
        cur = m2
        for k in p:
            cur = cur[k]
        del cur[rng.choice(list(cur))]
        return dump(m2).encode()
    if kind == 6:        # duplicate key with a bad value (placement random)
        t = text
        i = t.index("{", 1) if "{" in t[1:] else 0
        dup = '"%s":%s,' % (rng.choice(["type", "payload", "hash", "height", "nonce", "data"]),
                            rng.choice(TYPES_JSON))
        return (t[:i + 1] + dup + t[i + 1:]).encode()
    if kind == 7:        # long strings / big arrays inside the payload
        big = rng.choice([Raw('"' + "z" * rng.randrange(1000, 40000) + '"'),
                          Raw("[" + ",".join(["1"] * rng.randrange(100, 5000)) + "]"),
                          Raw("[" + ",".join(['"x"'] * 1001) + "]")])
        return dump(_set(msg, rng.choice(paths[1:]), big)).encode()
    if kind == 8:        # bad string escapes and unicode
        bad = rng.choice(['"\\ud800"', '"\\udc00\\ud800"', '"\\uZZZZ"', '"\\q"', '"\\u00"',
                          '"\xff"', '"\\u0000"', '"\t"', '"\x01"'])
        return dump(_set(msg, rng.choice(paths[1:]), Raw(bad))).encode("utf-8", "surrogatepass")
    # kind 9: structural breakage in the text
    ops = [lambda t: t.replace(":", "", 1), lambda t: t.replace(",", ",,", 1),
           lambda t: t.replace('"', "'"), lambda t: t + "]", lambda t: "{" + t,
           lambda t: t.replace("{", "[", 1), lambda t: t.replace("}", "", 1) + "}}",
           lambda t: t.replace('"type"', '"type":"x","type"', 1)]
    return rng.choice(ops)(text).encode("utf-8", "surrogatepass")


def could_be_valid_block(frame, nxt):
    """True if a frame could make the node append nxt (the one valid block
    among the bases): then it would rightly change the tip, so skip it. With
    duplicate keys both first-wins and last-wins readings are tried. The
    node reads a stream: a frame whose first JSON value is a whole message
    is handled before whatever follows it (a stray "}", say) is judged, so
    the first value counts as well as the whole text."""
    try:
        text = frame.decode("utf-8")
    except UnicodeDecodeError:
        return False
    for first_wins in (False, True):
        def hook(pairs):
            d = {}
            for k, v in pairs:
                if first_wins and k in d:
                    continue
                d[k] = v
            return d
        msgs = []
        try:
            msgs.append(json.loads(text.strip(), object_pairs_hook=hook))
        except ValueError:
            pass
        try:
            msgs.append(json.JSONDecoder(object_pairs_hook=hook).raw_decode(text.lstrip())[0])
        except ValueError:
            pass
        for m in msgs:
            if not isinstance(m, dict):
                continue
            p = m.get("payload")
            cands = p if isinstance(p, list) else (p.get("blocks") if isinstance(p, dict) and
                                                   isinstance(p.get("blocks"), list) else [p])
            for b in cands:
                if isinstance(b, dict) and all(k in b and b[k] == nxt[k] for k in nxt):
                    return True
    return False


def fuzz(env):
    h = env.h
    rng = random.Random(FUZZ_SEED)
    bases, nxt = base_messages(env.chain)
    frames, seen = [], set()
    for _ in range(FUZZ_FRAMES * 20):          # bounded generation
        if len(frames) >= FUZZ_FRAMES:
            break
        base = rng.choice(bases)
        f = mutate(rng, base)
        if f in seen or could_be_valid_block(f, nxt):
            continue
        seen.add(f)
        frames.append((f, base["type"] != "hello" and rng.random() < 0.5,
                       rng.random() < 0.5))
    h.check(len(frames) >= 300, "generated %d distinct malformed frames (seed %d)" % (
        len(frames), FUZZ_SEED))
    tip_before = env.chain.tip["hash"]
    ips = [env.next_ip() for _ in frames]
    errors = []
    lock = threading.Lock()
    work = list(enumerate(frames))

    def worker():
        while True:
            with lock:
                if not work:
                    return
                i, (frame, hello_first, newline) = work.pop()
            try:
                with pclib.Client(env.target.port, source=ips[i], timeout=5) as c:
                    if hello_first:
                        c.hello()
                    c.send_raw(frame + (b"\n" if newline else b""))
                    try:
                        c.sock.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    c.wait_closed(5)
            except (OSError, pclib.TestFailure, ValueError) as e:
                with lock:
                    errors.append((i, repr(e)))
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(240)
    h.check(not any(t.is_alive() for t in threads), "all fuzz clients finished")
    h.info("fuzz: %d client-side errors (connects refused or reset are fine): %s" % (
        len(errors), errors[:3]))
    h.check(env.target.running(), "target survived %d malformed frames" % len(frames),
            "exit code %s" % env.target.proc.poll())
    t = pclib.try_tip(env.target.port)
    h.check(t is not None and t["hash"] == tip_before, "tip unchanged by the malformed frames",
            t and t["hash"])
    env.healthy("after fuzzing")


def main(h):
    env = Env(h)
    framing_cases(env)
    oversized(env)
    nesting(env)
    handshakes(env)
    invalid_blocks(env)
    too_far_ahead(env)
    scored(env)
    invalid_replacement(env)
    self_connection(env)
    fuzz(env)
    env.honest.stop()
    env.target.stop()


if __name__ == "__main__":
    pclib.Harness("hostile").run(main)
