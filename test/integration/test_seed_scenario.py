#!/usr/bin/env python3
"""
The seed design's scenario with two real nodes: B holds blocks 1..10, A holds
1..8; when they meet, A fetches what it lacks and both end on B's tip.

How A and B meet: both start with no peers and are loaded through client
connections (an allBlock offer), so each holds exactly its chain before they
talk. Then a client tells A about B with a `peers` message (peer exchange,
docs/protocol.md "getPeers / peers") and A dials B. This is the only way to
have both chains in place before the first connection without racing a
connector's redial. A second case uses --peer to B's pre-chosen port (A
started and loaded first, B started on that port afterwards): there the
order of events is up to the nodes, and only the end state is asserted.

How this fails if the feature is broken: A stays at 8 (no sync on a tip that
does not link), A ends on a different chain (fork not adopted), or B moves
(the lighter chain replaced the heavier one).
"""

import time

import pclib
from pclib import Chain


def same_chain(h, node, chain, what):
    got = h.step("read %s's whole chain" % node.name, pclib.whole_chain, node.port)
    if got is None:
        return
    h.check([b["hash"] for b in got] == [b["hash"] for b in chain.blocks],
            what, "heights %s vs %s" % (len(got), chain.height))
    h.check(Chain(got).validate() is None, "%s's chain is valid by pclib's rules" % node.name,
            Chain(got).validate())


def case_extension(h):
    chain = Chain().extend(9, tag="seed")          # heights 1..10
    b = h.node("B")
    a = h.node("A")
    h.step("B accepts blocks 2..10 as one allBlock offer",
           lambda: (b.offer(chain.range(2, 10)), b.wait_tip(chain.tip)))
    h.step("A accepts blocks 2..8 as one allBlock offer",
           lambda: (a.offer(chain.range(2, 8)), a.wait_tip(chain.at(8))))
    g = h.step("fetch A's genesis with allBlock {from:1, limit:1}", pclib.fetch_genesis, a.port)
    h.check(g == pclib.regtest_genesis(), "node's genesis equals pclib's computed genesis",
            "node %s vs pclib %s" % (g, pclib.regtest_genesis()))

    asked = pclib.introduce(a.port, [b.addr])
    h.check(asked, "A asks a new peerchain peer getPeers after hello")
    h.step("A reaches B's tip (height 10) after meeting B", a.wait_tip, chain.tip, 30)
    same_chain(h, a, chain, "A's chain is block for block B's chain")
    same_chain(h, b, chain, "B's chain is unchanged")
    a.stop()
    b.stop()


def case_fork(h):
    chain_b = Chain().extend(9, tag="B-fork")      # 1..10
    chain_a = Chain().extend(7, tag="A-fork")      # 1..8, shares only genesis
    h.check(chain_a.at(2)["hash"] != chain_b.at(2)["hash"], "the two forks differ from height 2")
    b = h.node("B-fork")
    a = h.node("A-fork")
    h.step("B-fork loads its 10-block chain",
           lambda: (b.offer(chain_b.range(2, 10)), b.wait_tip(chain_b.tip)))
    h.step("A-fork loads its own 8-block fork",
           lambda: (a.offer(chain_a.range(2, 8)), a.wait_tip(chain_a.tip)))
    pclib.introduce(a.port, [b.addr])
    h.step("A-fork reorgs onto B-fork's heavier chain", a.wait_tip, chain_b.tip, 30)
    same_chain(h, a, chain_b, "A-fork holds B-fork's chain after the reorg")
    same_chain(h, b, chain_b, "B-fork did not take the lighter fork")
    a.stop()
    b.stop()


def case_equal_work(h):
    """At equal work each node keeps the chain it saw first; one more block
    on one side then wins everywhere."""
    chain_x = Chain().extend(7, tag="X")
    chain_y = Chain().extend(7, tag="Y")
    a = h.node("A-eq")
    b = h.node("B-eq")
    h.step("A-eq loads chain X (8 blocks)",
           lambda: (a.offer(chain_x.range(2, 8)), a.wait_tip(chain_x.tip)))
    h.step("B-eq loads chain Y (8 blocks, equal work)",
           lambda: (b.offer(chain_y.range(2, 8)), b.wait_tip(chain_y.tip)))
    pclib.introduce(a.port, [b.addr])
    h.step("A-eq lists B-eq among its peers once connected",
           pclib.wait_until, lambda: b.addr in pclib.get_peers(a.port), 30,
           what="B-eq in A-eq's peers")
    time.sleep(2.0)  # room for a wrong switch to happen; not a speed check
    ta, tb = pclib.try_tip(a.port), pclib.try_tip(b.port)
    h.check(ta and ta["hash"] == chain_x.tip["hash"], "A-eq keeps X at equal work",
            ta and ta["hash"])
    h.check(tb and tb["hash"] == chain_y.tip["hash"], "B-eq keeps Y at equal work",
            tb and tb["hash"])
    nxt = chain_y.build_next(tag="Y9")
    chain_y.append(nxt)
    b.offer([nxt])
    h.step("one more block on Y reaches B-eq", b.wait_tip, nxt, 30)
    h.step("and A-eq switches to Y (more work)", a.wait_tip, nxt, 30)
    a.stop()
    b.stop()


def case_preset_port(h):
    """A dials B's pre-chosen port from the start; B appears later."""
    chain = Chain().extend(9, tag="preset")
    pb = pclib.free_port()
    a = h.node("A-dial", peers=["127.0.0.1:%d" % pb])
    h.step("A-dial loads blocks 2..8 while B's port is closed",
           lambda: (a.offer(chain.range(2, 8)), a.wait_tip(chain.at(8))))
    b = h.node("B-late", port=pb)
    h.check(b.port == pb, "B-late listens on the pre-chosen port %d" % pb, b.port)
    h.step("B-late accepts blocks 2..10", lambda: (b.offer(chain.range(2, 10)),
                                                   b.wait_tip(chain.tip, timeout=30)))
    h.step("A-dial (re)dials B-late and reaches height 10", a.wait_tip, chain.tip, 60)
    same_chain(h, a, chain, "A-dial's chain is B-late's chain")
    a.stop()
    b.stop()


def main_chains():
    """Two main-network chains (difficulty 16, retarget every 10 blocks):
    `heavy` mines blocks 2..11 one second apart, so the retarget after block
    11 raises blocks 12 and 13 to difficulty 17; `light` mines a minute apart
    and stays at 16. heavy (13 blocks) = 15 * 2^16 of work; light at 14
    blocks has 14 * 2^16, at 15 as much as heavy, at 16 more."""
    heavy = Chain(network="main")
    for _ in range(12):
        heavy.append(heavy.build_next(timestamp=heavy.tip["timestamp"] + 1, tag="heavy"))
    light = Chain(network="main")
    for _ in range(15):                       # heights 2..16
        light.append(light.build_next(timestamp=light.tip["timestamp"] + 60, tag="light"))
    return heavy, light


def case_work_not_length(h):
    heavy, light = main_chains()
    h.check([b["difficulty"] for b in heavy.blocks[-3:]] == [16, 17, 17],
            "setup: the retarget raises main blocks 12 and 13 to difficulty 17",
            [b["difficulty"] for b in heavy.blocks])
    h.check(heavy.validate() is None and light.validate() is None,
            "setup: both main chains are valid by pclib's rules",
            (heavy.validate(), light.validate()))
    l14, l15 = light.prefix(14), light.prefix(15)
    h.check(heavy.height < l14.height and heavy.work() > l14.work(),
            "setup: heavy is shorter (13 < 14) with more work (%x > %x)" % (
                heavy.work(), l14.work()))
    h.check(l15.work() == heavy.work(), "setup: light at 15 has exactly heavy's work")
    h.check(light.height == 16 and light.work() > heavy.work(),
            "setup: light at 16 has more work than heavy")

    x = h.node("main-x", network="main")
    g = h.step("main node serves main's genesis", pclib.fetch_genesis, x.port, "main")
    h.check(g == pclib.genesis("main"), "main genesis equals pclib's (and protocol.md's)", g)
    x.offer(l14.range(2, 14))
    h.step("main-x takes the longer, lighter chain first (14 blocks)", x.wait_tip, l14.tip)
    t = x.offer(heavy.range(2, 13))
    h.check(t is not None and t["hash"] == heavy.tip["hash"],
            "main-x switches to the shorter chain with more work (13 blocks)",
            t and t.get("height"))

    y = h.node("main-y", network="main")
    y.offer(heavy.range(2, 13))
    h.step("main-y takes the heavy chain (13 blocks)", y.wait_tip, heavy.tip)
    t = y.offer(l14.range(2, 14))
    h.check(t is not None and t["hash"] == heavy.tip["hash"],
            "main-y keeps it when offered a longer chain with less work", t and t.get("height"))
    t = y.offer(l15.range(2, 15))
    h.check(t is not None and t["hash"] == heavy.tip["hash"],
            "main-y keeps it when offered a longer chain with equal work", t and t.get("height"))

    # Node to node: z holds the light 14 and meets y (heavy): z moves, y not.
    z = h.node("main-z", network="main")
    z.offer(l14.range(2, 14))
    h.step("main-z holds the light chain", z.wait_tip, l14.tip)
    pclib.introduce(z.port, [y.addr], network="main")
    h.step("main-z, meeting main-y, moves to the shorter heavier chain", z.wait_tip,
           heavy.tip, 30)
    ty = pclib.try_tip(y.port, network="main")
    h.check(ty is not None and ty["hash"] == heavy.tip["hash"], "main-y stays on it",
            ty and ty.get("height"))
    t = y.offer(light.range(2, 16))
    h.check(t is not None and t["hash"] == light.tip["hash"],
            "main-y switches once the light chain has strictly more work (16 blocks)",
            t and t.get("height"))
    h.step("and main-z follows", z.wait_tip, light.tip, 30)
    for n in (x, y, z):
        n.stop()


def main(h):
    case_extension(h)
    case_fork(h)
    case_equal_work(h)
    case_preset_port(h)
    case_work_not_length(h)


if __name__ == "__main__":
    pclib.Harness("seed_scenario").run(main)
