#!/usr/bin/env python3
"""
Framing and the two seed-protocol messages (docs/protocol.md Part 2,
"Transport and framing", "Handshake", "latestBlock", "allBlock").

TCP is a byte stream: a node must understand a message that arrives one byte
per segment, several messages glued into one segment with or without a
newline, whitespace between messages, braces and quotes inside strings, and
the seed design's client that writes JSON with no delimiter at all.

How this fails if framing is broken: a byte-at-a-time message or one glued to
another gets no answer (or gets the sender disconnected as garbage), the
unframed seed client hangs, or allBlock does not start at genesis.
"""

import json
import socket
import time

import pclib
from pclib import Chain


def compact(mtype, payload):
    return json.dumps({"type": mtype, "payload": payload}, separators=(",", ":"))


def check_hello(h, node, hello, chain):
    h.check(isinstance(hello, dict), "node sends hello first", hello)
    if not isinstance(hello, dict):
        return
    h.check(hello.get("network") == pclib.REGTEST_ID, "hello.network is %s" % pclib.REGTEST_ID,
            hello.get("network"))
    h.check(hello.get("genesis") == pclib.regtest_genesis()["hash"],
            "hello.genesis is pclib's regtest genesis hash", hello.get("genesis"))
    h.check(isinstance(hello.get("version"), int) and hello["version"] >= 1,
            "hello.version is an integer >= 1", hello.get("version"))
    h.check(hello.get("height") == chain.height, "hello.height is the tip height %d" %
            chain.height, hello.get("height"))
    h.check(hello.get("work") == chain.work_hex(),
            "hello.work is the cumulative work %s (sum of 2^difficulty from genesis)" %
            chain.work_hex(), hello.get("work"))
    h.check(hello.get("port") == node.port, "hello.port is the listening port",
            hello.get("port"))
    nonce = hello.get("nonce")
    h.check(isinstance(nonce, str) and len(nonce) == 16 and
            all(c in "0123456789abcdef" for c in nonce), "hello.nonce is 16 lowercase hex", nonce)


def hang_up_offers(h, node, chain):
    """A client that writes an allBlock offer and hangs up at once (cleanly:
    FIN, then it reads until the node closes) has still offered the blocks:
    the seed design's client may do exactly that. Each offer must be
    adopted."""
    for mode, mtype in (("peerchain", "allBlock"), ("seed", "allBlock"),
                        ("peerchain", "latestBlock")):
        ok = 0
        for i in range(8):
            blocks = [chain.build_next(tag="hangup-%s-%d" % (mode, i))]
            with pclib.Client(node.port) as c:
                if mode == "peerchain":
                    c.hello()
                else:
                    c.wait_for("hello", 10)
                c.send(mtype, blocks if mtype == "allBlock" else blocks[0])
                c.sock.shutdown(socket.SHUT_WR)
                c.wait_closed(10)
            try:
                node.wait_tip(blocks[-1], 3)
                ok += 1
                chain.append(blocks[-1])
            except pclib.TestFailure:
                # Lost (or late): carry on from whatever the node holds.
                chain.blocks = pclib.whole_chain(node.port)
        h.check(ok == 8, "%s client: a %s offer sent just before hanging up is adopted "
                "(%d of 8)" % (mode, mtype, ok))


def main(h):
    node = h.node("framing")
    chain = Chain().extend(5, tag="framing")        # heights 1..6
    tip = h.step("load a 6-block chain", node.offer, chain.range(2, 6))
    h.check(tip is not None and tip["hash"] == chain.tip["hash"],
            "offer answered with the new tip (latestBlock after allBlock)", tip)

    genesis = h.step("allBlock {from:1,limit:1} returns genesis", pclib.fetch_genesis, node.port)
    h.check(genesis == pclib.regtest_genesis(), "node's genesis equals pclib's computed one",
            "node %s" % genesis)

    with pclib.Client(node.port) as c:
        hello = c.wait_for("hello")
        check_hello(h, node, hello, chain)

    # One byte per send(), with a tiny pause, for hello and a query.
    with pclib.Client(node.port) as c:
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        hello_msg = compact("hello", {"network": pclib.REGTEST_ID,
                                      "genesis": pclib.regtest_genesis()["hash"],
                                      "version": 1, "height": 1, "work": "10", "port": 0,
                                      "nonce": c.nonce, "agent": "bytewise"})
        data = (hello_msg + "\n" + compact("latestBlock", {}) + "\n").encode()
        for i in range(len(data)):       # bounded: len(data) sends
            c.send_raw(data[i:i + 1])
            time.sleep(0.002)
        got = h.step("message sent one byte per send() is understood",
                     c.wait_for, "latestBlock", 10)
        h.check(got is not None and got.get("hash") == chain.tip["hash"],
                "byte-at-a-time latestBlock answer is the tip", got)

    # Several messages glued in one send, with newlines, without, and with
    # whitespace between; a string holding braces, brackets, quotes and an
    # escaped backslash inside an unknown-type message (ignored, never fatal).
    tricky = compact("x-unknown", {"s": "}{][\"\\\\\"} {", "t": "\\u007b"})
    for label, sep in (("newline-separated", "\n"), ("no separator", ""),
                       ("whitespace between", " \t\r\n  \r\n\t")):
        with pclib.Client(node.port) as c:
            c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            msgs = [compact("hello", {"network": pclib.REGTEST_ID,
                                      "genesis": pclib.regtest_genesis()["hash"], "version": 1,
                                      "height": 1, "work": "10", "port": 0, "nonce": c.nonce,
                                      "agent": "glued"}),
                    tricky, compact("latestBlock", {}), compact("allBlock", {"from": 2, "limit": 2})]
            c.send_raw(sep.join(msgs) + sep)
            lb = h.step("glued (%s): latestBlock answered" % label, c.wait_for, "latestBlock", 10)
            h.check(lb is not None and lb.get("hash") == chain.tip["hash"],
                    "glued (%s): the answer is the tip" % label, lb)
            ab = h.step("glued (%s): allBlock page answered" % label, c.wait_for, "allBlock",
                        10, lambda p: isinstance(p, list))
            h.check(ab is not None and [b["height"] for b in ab] == [2, 3],
                    "glued (%s): allBlock {from:2,limit:2} gives heights 2,3" % label,
                    ab and [b.get("height") for b in ab])

    # A message split across sends in the middle of a string and of a number.
    with pclib.Client(node.port) as c:
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c.hello()
        text = tricky + compact("allBlock", {"from": 3, "limit": 1})
        for piece in (text[:9], text[9:23], text[23:-5], text[-5:]):
            c.send_raw(piece)
            time.sleep(0.05)
        ab = h.step("split mid-string and mid-number: understood", c.wait_for, "allBlock", 10,
                    lambda p: isinstance(p, list))
        h.check(ab is not None and len(ab) == 1 and ab[0].get("height") == 3,
                "split message: allBlock {from:3,limit:1} gives height 3", ab)

    # The seed design's client: wait for the node's hello, then write the
    # query with no newline at all, and read answers.
    with pclib.Client(node.port) as seed:
        h.step("seed client: the node greets it with hello", seed.wait_for, "hello", 10)
        seed.send("latestBlock", {}, newline=False)
        lb = h.step("seed client: unframed latestBlock answered", seed.wait_for,
                    "latestBlock", 10)
        h.check(lb is not None and lb.get("hash") == chain.tip["hash"] and lb == chain.tip,
                "seed client: latestBlock is the tip, field for field", lb)
        seed.send("allBlock", {}, newline=False)
        ab = h.step("seed client: unframed allBlock {} answered", seed.wait_for, "allBlock", 10,
                    lambda p: isinstance(p, list))
        if ab is not None:
            h.check(len(ab) > 0 and ab[0] == pclib.regtest_genesis(),
                    "allBlock {} starts at genesis", ab and ab[0])
            h.check([b["hash"] for b in ab] == [b["hash"] for b in chain.blocks],
                    "allBlock {} is the whole chain", len(ab))
            h.check(Chain(ab).validate() is None, "the chain the node serves is valid by "
                    "pclib's rules", Chain(ab).validate())
        for payload, label in ((None, "null"), ([], "[]")):
            seed.send_raw('{"type":"allBlock","payload":%s}' % json.dumps(payload))
            ab = h.step("seed client: allBlock with payload %s answered" % label, seed.wait_for,
                        "allBlock", 10, lambda p: isinstance(p, list))
            h.check(ab is not None and len(ab) == chain.height and ab[0]["height"] == 1,
                    "allBlock %s is the whole chain from genesis" % label,
                    ab and len(ab))
        seed.send("allBlock", {"from": chain.height + 1, "limit": 5}, newline=False)
        ab = h.step("seed client: allBlock above the tip answered", seed.wait_for, "allBlock",
                    10, lambda p: isinstance(p, list))
        h.check(ab == [], "allBlock from above the tip is an empty array", ab)
        seed.send_raw('{"type":"latestBlock"}')
        lb = h.step("seed client: latestBlock with no payload member answered",
                    seed.wait_for, "latestBlock", 10)

        # A new tip reaches the seed peer as a latestBlock announcement.
        nxt = chain.append(chain.build_next(tag="announce"))
        node.offer([nxt])
        ann = h.step("seed client: a new tip is announced as latestBlock", seed.wait_for,
                     "latestBlock", 15, lambda p: isinstance(p, dict) and
                     p.get("hash") == nxt["hash"])
        # Everything the node sent a seed peer after hello is one of the two
        # seed messages (never getPeers, getBlocks, ping).
        seed.send("latestBlock", {}, newline=False)
        seed.wait_for("latestBlock", 10)
        time.sleep(0.5)
        while seed.recv(0.2) is not None:
            pass
    # The Client dropped non-matching messages while waiting; re-run a seed
    # conversation recording every message type.
    with pclib.Client(node.port) as seed:
        types = []
        seed.send_raw(compact("latestBlock", {}))
        for _ in range(50):
            m = seed.recv(1.5)
            if m is None:
                break
            types.append(m.get("type"))
        h.check(set(types) <= {"hello", "latestBlock", "allBlock"} and "latestBlock" in types,
                "a seed peer is sent only hello, latestBlock, allBlock", types)

    hang_up_offers(h, node, chain)

    with pclib.Client(node.port) as c:
        c.hello()
        c.send("ping", {"nonce": 12345})
        pong = h.step("ping is answered with pong", c.wait_for, "pong", 10)
        h.check(pong == {"nonce": 12345}, "pong echoes the nonce", pong)
    node.stop()


if __name__ == "__main__":
    pclib.Harness("framing").run(main)
