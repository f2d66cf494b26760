#!/usr/bin/env python3
"""
A three-node cluster on fixed (pre-chosen) ports, each node given the other
two with --peer. One node is stopped with SIGTERM and one killed with SIGKILL
while the others go on growing the chain; each is restarted on the same port
with the same peers and must catch up with the cluster's tip (there is no
storage yet: a restarted node starts from genesis and syncs). Last, a node is
restarted with no --peer at all, so only its peers' connectors redialling
its port can bring it back.

How this fails if the feature is broken: the restarted node stays at genesis
(no redial / no sync), cannot bind its port after SIGKILL (no SO_REUSEADDR),
does not exit 0 on SIGTERM, or blocks offered to it after the restart do not
reach the others.
"""

import pclib
from pclib import Chain


def grow(h, chain, at, n, label):
    blocks = [chain.append(chain.build_next(tag=label)) for _ in range(n)]
    at.offer(blocks)
    return blocks[-1]


def agree(h, nodes, block, what, timeout=60):
    for n in nodes:
        h.step("%s: %s reaches height %d" % (what, n.name, block["height"]), n.wait_tip, block,
               timeout)


def main(h):
    ports = [pclib.free_port() for _ in range(3)]
    addrs = ["127.0.0.1:%d" % p for p in ports]
    nodes = []
    for i in range(3):
        nodes.append(h.node("r%d" % (i + 1), port=ports[i],
                            peers=[a for j, a in enumerate(addrs) if j != i]))
    r1, r2, r3 = nodes
    for n, p in zip(nodes, ports):
        h.check(n.port == p, "%s listens on its pre-chosen port %d" % (n.name, p), n.port)

    chain = Chain()
    tip = grow(h, chain, r1, 3, "start")
    agree(h, nodes, tip, "cluster up")

    # SIGTERM mid-run, the cluster moves on, restart with the same peers.
    r3.stop()
    tip = grow(h, chain, r2, 3, "while r3 is down")
    agree(h, [r1, r2], tip, "r3 down")
    r3.start()
    h.check(r3.port == ports[2], "r3 restarted on the same port", r3.port)
    agree(h, [r3], tip, "r3 restarted after SIGTERM")
    tip = grow(h, chain, r3, 1, "offered at restarted r3")
    agree(h, [r1, r2], tip, "block offered at restarted r3 spreads")

    # SIGKILL mid-run (no clean shutdown), same again.
    r2.kill()
    tip = grow(h, chain, r1, 2, "while r2 is dead")
    agree(h, [r1, r3], tip, "r2 killed")
    h.step("r2 restarts on its port after SIGKILL (address reusable)", r2.start)
    if r2.running():
        h.check(r2.port == ports[1], "r2 restarted on the same port", r2.port)
        agree(h, [r2], tip, "r2 restarted after SIGKILL")
        full = h.step("read r2's whole chain", pclib.whole_chain, r2.port)
        if full is not None:
            h.check([b["hash"] for b in full] == [b["hash"] for b in chain.blocks],
                    "r2's chain after the restart is the cluster's chain, block for block")

    # Restart r3 with no --peer: only r1's and r2's connectors can reach it.
    r3.stop()
    tip = grow(h, chain, r1, 1, "while r3 is down again")
    agree(h, [r1, r2], tip, "r3 down again")
    r3.peers = []
    r3.start()
    agree(h, [r3], tip, "r3 restarted with no --peer, redialled by its peers", timeout=90)
    for n in nodes:
        if n.running():
            n.stop()


if __name__ == "__main__":
    pclib.Harness("restart").run(main)
