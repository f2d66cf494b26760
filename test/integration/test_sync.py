#!/usr/bin/env python3
"""
Incremental sync against a peer played by the test (docs/protocol.md
"Handshake", "getBlocks / blocks", "Seed-protocol peers").

The test's Python peer says hello with more work than the node; the node must
ask it getBlocks with a well-formed locator (its tip first, genesis last), take
the answer page by page (the Python peer serves small pages on purpose), put
the last block received first in each next locator, and adopt the branch only
if it has strictly more work. A page holding an invalid block gets the peer
banned and leaves the tip alone; a branch with less work than claimed is
dropped without a ban. A seed-protocol peer (no hello) whose tip does not link
is asked allBlock with an empty payload, as in the seed design.

How this fails if sync is broken: no getBlocks, a locator that does not start
at the tip or end at genesis, a next page asked from the wrong place, a reorg
to an invalid or lighter branch, or a ban for an honest lighter chain.
"""

import threading
import time

import pclib
from pclib import Chain

GENESIS = pclib.regtest_genesis()["hash"]


def answer_locator(chain, locator, limit):
    """Blocks after the first locator hash we know, at most limit."""
    index = {b["hash"]: b["height"] for b in chain.blocks}
    start = 1
    for hsh in locator:
        if hsh in index:
            start = index[hsh]
            break
    return chain.range(start + 1, min(chain.height, start + limit))


def serve(c, chain, page, stop, timeout=30.0, log=None, corrupt=None):
    """Plays a peer holding `chain`: answers getBlocks with pages of at most
    `page` blocks (corrupt(blocks) may alter them), allBlock and latestBlock
    queries, getPeers and ping, until stop() or the timeout. Returns the
    getBlocks payloads received, in order."""
    asked = []
    deadline = time.monotonic() + timeout
    for _ in range(10000):                     # bounded in count and time
        if stop() or time.monotonic() > deadline:
            break
        m = c.recv(0.5)
        if m is None:
            if c.closed:
                break
            continue
        t, p = m.get("type"), m.get("payload")
        if log is not None:
            log.append(m)
        if t == "getBlocks":
            asked.append(p)
            limit = min(p.get("limit", 2000) if isinstance(p, dict) else 2000, page)
            blocks = answer_locator(chain, p.get("locator", []), limit)
            if corrupt:
                blocks = corrupt(blocks)
            c.send("blocks", {"blocks": blocks, "tip": chain.height})
        elif t == "getPeers":
            c.send("peers", {"peers": []})
        elif t == "ping":
            c.send("pong", p)
        elif t == "allBlock" and (p in (None, {}, []) or isinstance(p, dict)):
            start = p.get("from", 1) if isinstance(p, dict) else 1
            c.send("allBlock", chain.range(start, min(chain.height, start + 1999)))
        elif t == "latestBlock" and p in (None, {}):
            c.send("latestBlock", chain.tip)
    return asked


def check_locator(h, label, loc, node_chain):
    """Part 2: 1 to 64 hashes, the sender's tip first (or the last block of a
    sync in progress), then back one block at a time for ten hashes, then
    doubling steps, the genesis hash last."""
    ok = isinstance(loc, list) and 1 <= len(loc) <= 64
    h.check(ok, "%s: locator is a list of 1..64 hashes" % label, loc)
    if not ok:
        return
    heights = {b["hash"]: b["height"] for b in node_chain.blocks}
    hs = [heights.get(x) for x in loc]
    h.check(None not in hs, "%s: every locator hash is in the node's chain" % label, hs)
    if None in hs:
        return
    h.check(hs[0] == node_chain.height, "%s: locator starts at the node's tip %d" % (
        label, node_chain.height), hs[:3])
    h.check(loc[-1] == GENESIS, "%s: locator ends with the genesis hash" % label, hs[-3:])
    h.check(all(a > b for a, b in zip(hs, hs[1:])), "%s: locator heights strictly fall" % label,
            hs)
    want = pclib.locator_heights(node_chain.height)
    h.check(hs == want, "%s: locator heights are exactly Part 1's %s" % (label, want), hs)


def hello_client(node, chain, source=None):
    c = pclib.Client(node.port, source=source)
    c.send_hello(height=chain.height, work=chain.work_hex())
    return c


def case_extension(h):
    node = h.node("sync-ext")
    base = Chain().extend(39, tag="base")              # 1..40: a sparse locator
    node.offer(base.range(2, 40))
    h.step("node loads 40 blocks", node.wait_tip, base.tip)
    longer = base.copy().extend(45, tag="ext")        # 1..85
    with hello_client(node, longer) as c:
        # Serve in 1 s slices until the node has our tip (bounded).
        asked = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            asked += serve(c, longer, page=12, stop=lambda: False, timeout=1.0)
            t = pclib.try_tip(node.port)
            if t and t["hash"] == longer.tip["hash"]:
                break
        h.check(asked, "node asks getBlocks of a peer with more work", len(asked))
        if asked:
            check_locator(h, "first getBlocks", asked[0].get("locator"), base)
            lim = asked[0].get("limit", 2000)
            h.check(isinstance(lim, int) and 1 <= lim <= 2000, "getBlocks limit is 1..2000", lim)
        # Each later request starts from the last block we sent.
        sent_upto = base.height
        ok = True
        for p in asked[1:]:
            sent_upto = min(sent_upto + 12, longer.height)
            if p.get("locator", [None])[0] != longer.at(sent_upto)["hash"]:
                ok = False
        h.check(len(asked) >= 4, "a 45-block gap served 12 per page takes several pages",
                len(asked))
        h.check(ok, "each next getBlocks puts the last block received first",
                [p.get("locator", [None])[0][:12] for p in asked])
    h.step("node reaches the Python peer's tip (height 85)", node.wait_tip, longer.tip, 10)
    node.stop()


def case_fork(h):
    node = h.node("sync-fork")
    mine_ = Chain().extend(7, tag="node-side")         # 1..8
    node.offer(mine_.range(2, 8))
    h.step("node loads its 8-block chain", node.wait_tip, mine_.tip)
    fork = mine_.prefix(3).extend(9, tag="peer-side")   # 1..12, forks after height 3
    with hello_client(node, fork) as c:
        deadline = time.monotonic() + 30
        asked = []
        while time.monotonic() < deadline:
            asked += serve(c, fork, page=4, stop=lambda: False, timeout=1.0)
            t = pclib.try_tip(node.port)
            if t and t["hash"] == fork.tip["hash"]:
                break
        if asked:
            check_locator(h, "fork getBlocks", asked[0].get("locator"), mine_)
    h.step("node reorgs onto the heavier fork (from height 4)", node.wait_tip, fork.tip, 10)
    full = h.step("read the node's chain", pclib.whole_chain, node.port)
    if full:
        h.check([b["hash"] for b in full] == [b["hash"] for b in fork.blocks],
                "the node's chain is the fork, block for block")
    node.stop()


def case_invalid_page(h):
    node = h.node("sync-bad")
    base = Chain().extend(4, tag="base")
    node.offer(base.range(2, 5))
    node.wait_tip(base.tip)
    longer = base.copy().extend(20, tag="bad-ext")

    def corrupt(blocks):
        if len(blocks) >= 3:
            b = dict(blocks[2])
            b["merkleRoot"] = pclib.sha256_hex(b"wrong")
            pclib.mine(b)
            blocks = blocks[:2] + [b] + blocks[3:]
        return blocks
    src = "127.0.0.40"
    log = []
    with hello_client(node, longer, source=src) as c:
        serve(c, longer, page=8, stop=lambda: c.closed, timeout=15, log=log, corrupt=corrupt)
        closed = c.closed
    errs = [m.get("payload") for m in log if m.get("type") == "error"]
    h.check(errs, "a page with an invalid block gets an error", [m.get("type") for m in log])
    h.check(closed, "and the serving peer is disconnected")
    t = pclib.try_tip(node.port)
    h.check(t is not None and t["hash"] == base.tip["hash"],
            "the tip is unchanged (nothing of the bad branch adopted)", t and t["height"])
    try:
        with pclib.Client(node.port, source=src, timeout=5) as c2:
            closed2, seen = c2.wait_closed(5)
        h.check(closed2 and "latestBlock" not in [m.get("type") for m in seen],
                "the serving peer's address is banned", [m.get("type") for m in seen])
    except OSError as e:
        h.check(True, "the serving peer's address is banned (%s)" % e)
    node.stop()


def case_lighter(h):
    """A peer claims more work in hello but serves a lighter branch: dropped
    without penalty."""
    node = h.node("sync-light")
    base = Chain().extend(9, tag="base10")             # 1..10
    node.offer(base.range(2, 10))
    node.wait_tip(base.tip)
    light = base.prefix(2).extend(3, tag="light")     # 1..5: less work
    src = "127.0.0.41"
    with pclib.Client(node.port, source=src) as c:
        c.send_hello(height=20, work=format(16 * 20, "x"))   # a claim, not the truth
        log = []
        asked = serve(c, light, page=50, stop=lambda: False, timeout=4.0, log=log)
        h.check(asked, "node asks getBlocks of a peer claiming more work", len(asked))
        h.check(not c.closed, "a peer whose branch turns out lighter is not disconnected",
                [m.get("type") for m in log])
    t = pclib.try_tip(node.port)
    h.check(t is not None and t["hash"] == base.tip["hash"], "the lighter branch is not adopted",
            t and t["height"])
    ok = False
    try:
        with pclib.Client(node.port, source=src, timeout=5) as c2:
            c2.hello()
            ok = c2.latest_block(5) is not None
    except (OSError, pclib.TestFailure):
        ok = False
    h.check(ok, "and its address is not banned")
    node.stop()


def case_seed_peer(h):
    """The seed scenario with the test as B, speaking only the seed protocol:
    B offers its tip (height 10), which does not link onto A's tip (8)."""
    node = h.node("sync-seed")
    chain = Chain().extend(9, tag="seedB")             # 1..10
    node.offer(chain.range(2, 8))
    h.step("A holds blocks 1..8", node.wait_tip, chain.at(8))
    log = []
    with pclib.Client(node.port) as c:
        c.send("latestBlock", chain.tip)               # first message: a seed peer
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            serve(c, chain, page=2000, stop=lambda: False, timeout=1.0, log=log)
            t = pclib.try_tip(node.port)
            if t and t["hash"] == chain.tip["hash"]:
                break
    types = [m.get("type") for m in log]
    asks = [m.get("payload") for m in log if m.get("type") == "allBlock"]
    h.check(any(p in (None, {}, []) for p in asks) or any(isinstance(p, dict) for p in asks),
            "A asks the seed peer allBlock after a tip that does not link", types)
    h.check(not set(types) & {"getBlocks", "getPeers", "ping"},
            "a seed peer is never sent getBlocks, getPeers or ping", types)
    h.step("A reaches the seed peer's tip", node.wait_tip, chain.tip, 10)
    node.stop()


def slow_sync_race(h, label, during):
    """The node syncs a heavier fork F (forks after height 3, 33 blocks) from
    a slow Python peer, 5 blocks a page; after the second page, `during`
    (a function of node, C, F) changes the node's chain through another
    connection. Afterwards the peer re-announces its tip, as a peer would.
    Returns (node, C, F, expected final tip) for the caller to check."""
    node = h.node("race-" + label)
    c_chain = Chain().extend(9, tag="C-" + label)        # 1..10
    node.offer(c_chain.range(2, 10))
    node.wait_tip(c_chain.tip)
    f_chain = c_chain.prefix(3).extend(30, tag="F-" + label)   # 1..33
    expected = during.expected(c_chain, f_chain)
    pages = 0
    with hello_client(node, f_chain, source="127.0.0.120") as c:
        deadline = time.monotonic() + 45
        announced = False
        for _ in range(5000):                              # bounded
            if time.monotonic() > deadline:
                break
            m = c.recv(0.3)
            if m is None:
                if c.closed:
                    break
                t = pclib.try_tip(node.port)
                if t and t["hash"] == expected["hash"]:
                    break
                if pages and not announced:
                    # the node stopped asking: re-announce our tip once
                    c.send("latestBlock", f_chain.tip)
                    announced = True
                continue
            typ, p = m.get("type"), m.get("payload")
            if typ == "getBlocks":
                time.sleep(0.3)                            # a slow peer
                blocks = answer_locator(f_chain, p.get("locator", []),
                                        min(5, p.get("limit", 2000)))
                c.send("blocks", {"blocks": blocks, "tip": f_chain.height})
                pages += 1
                announced = False
                if pages == 2:
                    during.act(h, node, c_chain, f_chain)
            elif typ == "ping":
                c.send("pong", p)
            elif typ == "getPeers":
                c.send("peers", {"peers": []})
        h.check(not c.closed, "race %s: the slow honest peer is not disconnected" % label)
    h.step("race %s: the node ends on the heaviest chain it was shown (height %d)" % (
        label, expected["height"]), node.wait_tip, expected, 20)
    full = pclib.whole_chain(node.port)
    ch = Chain(full)
    h.check(ch.validate() is None, "race %s: and that chain is valid" % label, ch.validate())
    node.stop()


def offer_and_stay(node, blocks, tip, timeout=10.0):
    """Offers blocks and keeps the connection open until the node's tip is
    `tip` (bounded): an offer whose sender hangs up at once can be lost (a
    node bug test_framing checks on its own), which is not what the races
    here are about."""
    with pclib.Client(node.port) as c:
        c.hello()
        c.send("allBlock", blocks)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            c.recv(0.2)
            t = pclib.try_tip(node.port)
            if t and t["hash"] == tip["hash"]:
                return


class Grow:
    """Meanwhile our own chain C grows by 5 (still lighter than F)."""
    @staticmethod
    def expected(c, f):
        return f.tip

    @staticmethod
    def act(h, node, c, f):
        more = [c.append(c.build_next(tag="C-grow")) for _ in range(5)]
        node.offer(more)


class ReorgHeavier:
    """Meanwhile a fork G from height 2, heavier than F, is offered: the
    node reorgs to G, F's fork point is gone, and G must win."""
    g = None

    @classmethod
    def expected(cls, c, f):
        cls.g = c.prefix(2).extend(40, tag="G-heavy")    # 1..42
        return cls.g.tip

    @classmethod
    def act(cls, h, node, c, f):
        offer_and_stay(node, cls.g.range(3, cls.g.height), cls.g.tip)


class ReorgLighter:
    """Meanwhile a fork G from height 2, heavier than C but lighter than F:
    the node reorgs to G (F's fork point is gone, its branch void), and when
    the peer re-announces F the node must still end on F."""
    g = None

    @classmethod
    def expected(cls, c, f):
        cls.g = c.prefix(2).extend(18, tag="G-light")    # 1..20
        return f.tip

    @classmethod
    def act(cls, h, node, c, f):
        offer_and_stay(node, cls.g.range(3, cls.g.height), cls.g.tip)


def case_seed_paging(h):
    """A seed-protocol peer whose chain is longer than one allBlock page
    (2000 blocks): the node must page with {from, limit} to get it all."""
    node = h.node("seed-paging")
    chain = Chain().extend(2150, tag="seedpage")       # 1..2151
    asks = []
    with pclib.Client(node.port, timeout=30) as c:
        c.send("latestBlock", chain.tip)               # a seed peer's first message
        deadline = time.monotonic() + 60
        for _ in range(5000):                          # bounded
            if time.monotonic() > deadline or c.closed:
                break
            m = c.recv(0.5)
            if m is None:
                t = pclib.try_tip(node.port)
                if t and t["hash"] == chain.tip["hash"]:
                    break
                continue
            if m.get("type") == "allBlock" and not isinstance(m.get("payload"), list):
                p = m.get("payload")
                asks.append(p)
                start = p.get("from", 1) if isinstance(p, dict) else 1
                lim = min(p.get("limit", 2000) if isinstance(p, dict) else 2000, 2000)
                c.send("allBlock", chain.range(start, min(chain.height, start + lim - 1)))
            elif m.get("type") == "latestBlock" and m.get("payload") in ({}, None):
                c.send("latestBlock", chain.tip)
    h.info("the node's allBlock requests: %s" % asks)
    h.check(len(asks) >= 2, "the node asks a second allBlock page of a long seed chain", asks)
    h.step("and reaches the seed peer's tip at height %d" % chain.height, node.wait_tip,
           chain.tip, 20)
    node.stop()


class PeerThread:
    """A Python peer in its own thread: hello with its chain's work, then
    serves getBlocks with small, slow pages until stopped (bounded)."""

    def __init__(self, node, chain, source, page=4, delay=0.1):
        self.c = hello_client(node, chain, source=source)
        self.chain, self.page, self.delay = chain, page, delay
        self.stop = threading.Event()
        self.pages = 0
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        deadline = time.monotonic() + 60
        while not self.stop.is_set() and time.monotonic() < deadline and not self.c.closed:
            try:
                m = self.c.recv(0.2)
                if m is None:
                    continue
                t, p = m.get("type"), m.get("payload")
                if t == "getBlocks":
                    time.sleep(self.delay)
                    self.c.send("blocks", {"blocks": answer_locator(
                        self.chain, p.get("locator", []), min(self.page, p.get("limit", 2000))),
                        "tip": self.chain.height})
                    self.pages += 1
                elif t == "ping":
                    self.c.send("pong", p)
                elif t == "getPeers":
                    self.c.send("peers", {"peers": []})
            except (OSError, ValueError):
                return

    def close(self):
        self.stop.set()
        self.t.join(5)
        self.c.close()


def case_two_syncs(h):
    """Two slow peers with different heavier forks sync the node at once:
    it ends on the heavier of the two."""
    node = h.node("two-syncs")
    base = Chain().extend(5, tag="two-base")              # 1..6
    node.offer(base.range(2, 6))
    node.wait_tip(base.tip)
    fa = base.prefix(2).extend(24, tag="fork-a")          # 1..26
    fb = base.prefix(4).extend(26, tag="fork-b")          # 1..30, heavier
    pa = PeerThread(node, fa, "127.0.0.130")
    pb = PeerThread(node, fb, "127.0.0.131")
    try:
        h.step("two concurrent syncs end on the heavier fork (height %d)" % fb.height,
               node.wait_tip, fb.tip, 45)
        h.info("pages served: fork a %d, fork b %d" % (pa.pages, pb.pages))
        h.check(not pa.c.closed and not pb.c.closed, "neither honest peer is disconnected")
    finally:
        pa.close()
        pb.close()
    full = pclib.whole_chain(node.port)
    h.check([b["hash"] for b in full] == [b["hash"] for b in fb.blocks],
            "the node holds fork b block for block")
    node.stop()


def case_answer_getblocks(h):
    """The node's answers to getBlocks: blocks after the first locator hash
    it knows, at most `limit`, with its tip height; unknown locators start
    after genesis; a malformed request (65 hashes, limit 0 or 2001, bad hex)
    is a 50-point offence, so two of them ban."""
    node = h.node("answers")
    chain = Chain().extend(29, tag="ans")             # 1..30
    node.offer(chain.range(2, 30))
    node.wait_tip(chain.tip)
    junk = [pclib.sha256_hex(b"junk %d" % i) for i in range(5)]
    cases = [
        ("locator at height 10", [chain.at(10)["hash"]], None, list(range(11, 31))),
        ("first known hash wins", junk + [chain.at(20)["hash"], chain.at(5)["hash"]], None,
         list(range(21, 31))),
        ("unknown hashes only", junk, None, list(range(2, 31))),
        ("limit 7", [chain.at(3)["hash"]], 7, list(range(4, 11))),
        ("tip itself", [chain.tip["hash"]], None, []),
        ("a Part 1 locator from a shorter fork", [pclib.sha256_hex(b"fork tip")] +
         [chain.at(x)["hash"] for x in pclib.locator_heights(12)], 5, list(range(13, 18))),
    ]
    with pclib.Client(node.port) as c:
        c.hello()
        for label, loc, limit, want in cases:
            p = {"locator": loc}
            if limit is not None:
                p["limit"] = limit
            c.send("getBlocks", p)
            got = h.step("getBlocks (%s) answered" % label, c.wait_for, "blocks", 10)
            if got is None:
                continue
            heights = [b.get("height") for b in got.get("blocks", [])]
            h.check(heights == want and got.get("tip") == 30,
                    "getBlocks (%s): heights %s..%s, tip 30" % (
                        label, want[:1], want[-1:]), (heights, got.get("tip")))
            if heights == want and want:
                h.check(got["blocks"] == chain.range(want[0], want[-1]),
                        "getBlocks (%s): the blocks are the chain's, field for field" % label)
    bad = [("65 locator hashes", {"locator": [chain.tip["hash"]] * 65}),
           ("limit 0", {"locator": [chain.tip["hash"]], "limit": 0}),
           ("limit 2001", {"locator": [chain.tip["hash"]], "limit": 2001}),
           ("uppercase hex", {"locator": [chain.tip["hash"].upper()]}),
           ("empty locator", {"locator": []})]
    for i in range(0, len(bad) - 1, 2):
        (l1, p1), (l2, p2) = bad[i], bad[i + 1]
        src = "127.0.0.%d" % (100 + i)
        with pclib.Client(node.port, source=src) as c:
            c.hello()
            c.send("getBlocks", p1)
            h.step("malformed getBlocks (%s): dropped, peer still served (50)" % l1,
                   c.latest_block, 10)
            c.send("getBlocks", p2)
            closed, seen = c.wait_closed(10)
            h.check(closed, "a second malformed getBlocks (%s): 100, disconnected" % l2,
                    [m.get("type") for m in seen])
    with pclib.Client(node.port, source="127.0.0.110") as c:
        c.hello()
        c.send("getBlocks", bad[-1][1])
        h.step("malformed getBlocks (%s): dropped, peer still served" % bad[-1][0],
               c.latest_block, 10)
    node.stop()


def case_announce(h):
    """A new tip is announced as latestBlock to every other handshaked peer
    and seed peer, never back to the one it came from; a reorg announces
    the new branch (allBlock) to peerchain peers and the tip to seed peers."""
    node = h.node("announce")
    chain = Chain().extend(3, tag="ann")
    node.offer(chain.range(2, 4))
    node.wait_tip(chain.tip)
    c1, c2, c3 = (pclib.Client(node.port, source="127.0.0.%d" % (70 + i)) for i in range(3))
    seed = pclib.Client(node.port, source="127.0.0.73")
    try:
        for c in (c1, c2, c3):
            c.hello()
        seed.send("latestBlock", {})
        seed.wait_for("latestBlock", 10)
        b = chain.append(chain.build_next(tag="announced"))
        c1.send("latestBlock", b)
        for name, c in (("peer 2", c2), ("peer 3", c3), ("a seed peer", seed)):
            h.step("%s hears the new tip as latestBlock" % name, c.wait_for, "latestBlock", 15,
                   lambda p: isinstance(p, dict) and p.get("hash") == b["hash"])
        got = []
        for _ in range(20):                    # 2 s of whatever c1 gets
            m = c1.recv(0.1)
            if m is not None:
                got.append(m)
        h.check(not any(m.get("type") == "latestBlock" and isinstance(m.get("payload"), dict)
                        and m["payload"].get("hash") == b["hash"] for m in got),
                "the peer that sent the block does not get it announced back",
                [m.get("type") for m in got])
        fork = chain.prefix(3).extend(3, tag="reorg")     # 1..6 beats 1..5
        c3.send("allBlock", fork.range(2, fork.height))
        # Several new blocks go to peerchain peers as one allBlock offer from
        # the fork point (docs/protocol.md, "Announcements"); seed peers get
        # latestBlock.
        h.step("after a reorg, peer 2 is offered the new branch (4..6) as allBlock",
               c2.wait_for, "allBlock", 15,
               lambda p: isinstance(p, list) and p == fork.range(4, fork.height))
        h.step("and the seed peer hears the new tip as latestBlock", seed.wait_for,
               "latestBlock", 15,
               lambda p: isinstance(p, dict) and p.get("hash") == fork.tip["hash"])
    finally:
        for c in (c1, c2, c3, seed):
            c.close()
    node.stop()


def case_peers_list(h):
    """getPeers lists handshaked peerchain peers as address:advertised-port;
    peers that do not listen (port 0) and seed peers are not listed."""
    node = h.node("peerlist")
    lis = pclib.Client(node.port, source="127.0.0.80")
    quiet = pclib.Client(node.port, source="127.0.0.81")
    seed = pclib.Client(node.port, source="127.0.0.82")
    try:
        lis.send_hello(port=12345)
        lis.wait_for("hello", 10)
        quiet.hello()
        seed.send("latestBlock", {})
        seed.wait_for("latestBlock", 10)
        peers = h.step("getPeers answered", pclib.get_peers, node.port)
        if peers is not None:
            h.check("127.0.0.80:12345" in peers, "a listening peer is listed with its hello port",
                    peers)
            h.check(not any(p.endswith(":0") for p in peers), "no peer is listed with port 0",
                    peers)
            h.check(not any(p.startswith("127.0.0.82:") or p.startswith("127.0.0.81:")
                            for p in peers), "non-listening and seed peers are not listed", peers)
            h.check(len(peers) <= 100, "at most 100 addresses", len(peers))
    finally:
        for c in (lis, quiet, seed):
            c.close()
    node.stop()


def case_stall(h):
    """A peer that claims far more work and then never answers getBlocks
    must not stop the node from syncing from an honest peer meanwhile."""
    node = h.node("stalled")
    honest = h.node("stall-honest")
    chain = Chain().extend(9, tag="real")
    honest.offer(chain.range(2, 10))
    honest.wait_tip(chain.tip)
    liar = pclib.Client(node.port, source="127.0.0.90")
    try:
        liar.send_hello(height=100000, work=format(16 * 100000, "x"))
        got = h.step("the node asks the liar getBlocks", liar.wait_for, "getBlocks", 10)
        pclib.introduce(node.port, [honest.addr])
        stop_at = time.monotonic() + 40

        def synced():
            # keep the liar alive: answer pings, never getBlocks
            for _ in range(3):
                m = liar.recv(0.05)
                if m is not None and m.get("type") == "ping":
                    liar.send("pong", m.get("payload"))
            t = pclib.try_tip(node.port)
            return t is not None and t["hash"] == chain.tip["hash"]
        h.step("the node syncs from an honest peer while a liar stalls its sync",
               pclib.wait_until, synced, max(1.0, stop_at - time.monotonic()),
               what="sync from the honest peer")
        h.info("liar still connected at the end: %s" % (not liar.closed))
    finally:
        liar.close()
    node.stop()
    honest.stop()


def main(h):
    case_extension(h)
    case_fork(h)
    case_invalid_page(h)
    case_lighter(h)
    case_seed_peer(h)
    case_answer_getblocks(h)
    case_seed_paging(h)
    case_two_syncs(h)
    slow_sync_race(h, "grow", Grow)
    slow_sync_race(h, "reorg-heavier", ReorgHeavier)
    slow_sync_race(h, "reorg-lighter", ReorgLighter)
    case_announce(h)
    case_peers_list(h)
    case_stall(h)


if __name__ == "__main__":
    pclib.Harness("sync").run(main)
