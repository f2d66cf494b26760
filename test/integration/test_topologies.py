#!/usr/bin/env python3
"""
Five nodes in a line (n1-n2-n3-n4-n5) and five in a full mesh. Blocks enter
at different nodes (mined by a node with --mine --mine-blocks k, or built in
Python and offered to one node) and every node must end on the same tip.

The line proves multi-hop relay: a block offered at n1 reaches n5 only if
each node announces its new tip onward. Peer exchange would turn a line into
a mesh, so every node gets --max-outbound 1 and the first node
--max-outbound 0 (if the node refuses 0, the test says so and goes on with a
line that may grow shortcuts); the test checks the shape with getPeers.

How this fails if relay is broken: the far end never reaches the tip; with a
broken fork choice the mesh splits between two tips.
"""

import time

import pclib
from pclib import Chain


def tips(nodes):
    return [pclib.try_tip(n.port) for n in nodes]


def wait_all_agree(h, nodes, what, timeout=60.0, min_height=1, hash_=None, stable_s=0.0):
    """Waits until every node reports the same tip (with hash_ if given, and
    height >= min_height), and, if stable_s, the same tip again stable_s
    later. Returns the tip or None (one failed check)."""
    def agreed():
        ts = tips(nodes)
        if any(t is None for t in ts):
            return None
        hs = {t["hash"] for t in ts}
        if len(hs) != 1 or ts[0]["height"] < min_height:
            return None
        if hash_ is not None and ts[0]["hash"] != hash_:
            return None
        if stable_s:
            time.sleep(stable_s)
            again = tips(nodes)
            if any(t is None or t["hash"] != ts[0]["hash"] for t in again):
                return None
        return ts[0]
    try:
        t = pclib.wait_until(agreed, timeout, interval=0.5, what=what)
    except pclib.TestFailure as e:
        ts = tips(nodes)
        h.check(False, what, "%s; tips: %s" % (e, [(n.name, t and t["height"], t and t["hash"][:12])
                                                  for n, t in zip(nodes, ts)]))
        return None
    h.check(True, what + " (height %d)" % t["height"])
    return t


def offer_and_spread(h, nodes, at, chain, label):
    b = chain.build_next(tag=label)
    chain.append(b)
    at.offer([b])
    return wait_all_agree(h, nodes, "block %d offered at %s reaches all %d nodes (%s)" % (
        b["height"], at.name, len(nodes), label), hash_=b["hash"])


def line(h):
    names = ["line%d" % i for i in range(1, 6)]
    nodes = []
    fallback = False
    n1 = h.node(names[0], args=["--max-outbound", "0"], start=False)
    try:
        n1.start()
    except pclib.TestFailure as e:
        fallback = True
        h.info("node refused --max-outbound 0 (%s); the line may gain shortcuts" % e)
        n1 = h.node(names[0] + "b")
    nodes.append(n1)
    for i in range(1, 5):
        args = ["--max-outbound", "1"]
        if i == 2:   # the middle node mines 3 blocks
            args += ["--mine", "--mine-blocks", "3", "--mine-interval-ms", "100"]
        nodes.append(h.node(names[i], args=args, peers=[nodes[i - 1].addr]))

    # The shape: each node's handshaked peers are exactly its neighbours.
    def shape_ok():
        for i, n in enumerate(nodes):
            want = set()
            if i > 0:
                want.add(nodes[i - 1].addr)
            if i < 4:
                want.add(nodes[i + 1].addr)
            got = {a for a in pclib.get_peers(n.port) if not a.endswith(":0")}
            if fallback:
                if not want <= got:
                    return False
            elif got != want:
                return False
        return True
    h.step("the five nodes form a line (getPeers lists exactly the neighbours)",
           pclib.wait_until, shape_ok, 30, interval=0.5, what="line shape")

    t = wait_all_agree(h, nodes, "line: n3's 3 mined blocks reach all five", min_height=4,
                       stable_s=1.5)
    if t is None:
        return
    h.check(t["height"] == 4, "line: exactly the 3 mined blocks (height 4)", t["height"])
    blocks = h.step("line: read the mined chain", pclib.whole_chain, nodes[0].port)
    if blocks is None:
        return
    chain = Chain(blocks)
    h.check(chain.validate() is None, "line: the mined chain is valid by pclib's rules",
            chain.validate())
    offer_and_spread(h, nodes, nodes[0], chain, "line n1 end")
    offer_and_spread(h, nodes, nodes[4], chain, "line n5 end")
    offer_and_spread(h, nodes, nodes[1], chain, "line n2")
    for n in nodes:
        n.stop()


def wait_all_stable(h, nodes, what, min_height, timeout=60.0, stable_s=2.0):
    """Every node at height >= min_height and unchanged stable_s later (the
    miners are done). Two concurrent miners may leave an equal-work split,
    which the spec allows, so agreement is not required here."""
    def stable():
        ts = tips(nodes)
        if any(t is None or t["height"] < min_height for t in ts):
            return None
        time.sleep(stable_s)
        again = tips(nodes)
        if any(a is None or a["hash"] != t["hash"] for a, t in zip(again, ts)):
            return None
        return ts
    return h.step(what, pclib.wait_until, stable, timeout, interval=0.5, what=what)


def churn(h, nodes, label):
    """A settled cluster keeps its connections: no node keeps dialling (for
    instance dropping a duplicate link and redialling it in a loop). Counted
    from the nodes' logs ('connected (outbound)' lines) over 5 s."""
    def outbound_connects():
        return sum(len([l for l in n.log().splitlines()
                        if "connected" in l and "outbound" in l and "disconnected" not in l])
                   for n in nodes)
    c1 = outbound_connects()
    time.sleep(5.0)
    c2 = outbound_connects()
    if c1 == 0:
        h.info("%s: no 'connected (outbound)' log lines to count; churn not checked" % label)
        return
    h.check(c2 == c1, "%s: no reconnect churn once settled (outbound connects %d, 5 s later %d)"
            % (label, c1, c2))


def mesh(h):
    nodes = []
    for i in range(5):
        args = []
        if i in (1, 3):   # two miners at once: forks happen and must resolve
            args = ["--mine", "--mine-blocks", "2", "--mine-interval-ms", "100"]
        nodes.append(h.node("mesh%d" % (i + 1), args=args, peers=[n.addr for n in nodes]))
    ts = wait_all_stable(h, nodes, "mesh: mesh2 and mesh4 mine 2 blocks each; all settle",
                         min_height=3)
    if ts is None:
        return
    h.info("mesh tips after mining: %s" % [(t["height"], t["hash"][:12]) for t in ts])
    # Extend the tip mesh5 holds: with one more block that chain has strictly
    # the most work, so everyone must converge on it even after a split.
    blocks = h.step("mesh: read mesh5's chain", pclib.whole_chain, nodes[4].port)
    if blocks is None:
        return
    chain = Chain(blocks)
    h.check(chain.validate() is None, "mesh: the mined chain is valid by pclib's rules",
            chain.validate())
    churn(h, nodes, "mesh")
    offer_and_spread(h, nodes, nodes[4], chain, "mesh at n5")
    offer_and_spread(h, nodes, nodes[0], chain, "mesh at n1")
    offer_and_spread(h, nodes, nodes[2], chain, "mesh at n3")
    for n in nodes:
        n.stop()


def mining_race(h):
    """Three miners with no pause race on a 4-node mesh (forks and reorgs
    all the time); once they stop, one more block settles it everywhere and
    the chain everyone holds is valid."""
    nodes = []
    for i in range(4):
        args = ["--mine", "--mine-blocks", "6", "--mine-interval-ms", "0"] if i < 3 else []
        nodes.append(h.node("race%d" % (i + 1), args=args, peers=[n.addr for n in nodes]))
    ts = wait_all_stable(h, nodes, "race: three miners of 6 blocks each finish and settle",
                         min_height=7, timeout=90)
    if ts is None:
        return
    h.info("race tips: %s" % [(t["height"], t["hash"][:12]) for t in ts])
    blocks = h.step("race: read race4's chain", pclib.whole_chain, nodes[3].port)
    if blocks is None:
        return
    chain = Chain(blocks)
    h.check(chain.validate() is None, "race: the chain race4 holds is valid by pclib's rules",
            chain.validate())
    offer_and_spread(h, nodes, nodes[3], chain, "race settled")
    full = h.step("race: read race1's chain", pclib.whole_chain, nodes[0].port)
    if full is not None:
        h.check([b["hash"] for b in full] == [b["hash"] for b in chain.blocks],
                "race: race1 holds the same chain, block for block")
    for n in nodes:
        n.stop()


def main(h):
    line(h)
    mesh(h)
    mining_race(h)


if __name__ == "__main__":
    pclib.Harness("topologies").run(main)
