#!/usr/bin/env python3
"""
A three-node cluster on fixed (pre-chosen) ports, each node given the other
two with --peer. One node is stopped with SIGTERM and one killed with SIGKILL
while the others go on growing the chain; each is restarted on the same port
with the same peers and must catch up with the cluster's tip. Last, a node is
restarted with no --peer at all, so only its peers' connectors redialling
its port can bring it back. A lone node (no peers, so nobody can hand its
chain back) checks storage: after SIGTERM it restarts on the chain it had;
after SIGKILL on a valid prefix of it, never a corrupt or foreign one.

How this fails if the feature is broken: the restarted node stays at genesis
(no redial / no sync), cannot bind its port after SIGKILL (no SO_REUSEADDR),
does not exit 0 on SIGTERM, or blocks offered to it after the restart do not
reach the others.
"""

import os
import time

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


def storage(h):
    lone = h.node("lone")
    chain = Chain().extend(6, tag="stored")
    t = lone.offer(chain.range(2, 7))
    h.check(t is not None and t["hash"] == chain.tip["hash"], "lone node takes 7 blocks",
            t and t.get("height"))
    lone.stop()
    lone.peers = []
    lone.start()
    t = pclib.try_tip(lone.port)
    h.check(t is not None and t["hash"] == chain.tip["hash"],
            "after SIGTERM and restart, the lone node has its chain from storage",
            t and t.get("height"))
    more = [chain.append(chain.build_next(tag="stored2")) for _ in range(3)]
    t = lone.offer(more)
    h.check(t is not None and t["hash"] == chain.tip["hash"], "and extends it (height 10)",
            t and t.get("height"))
    lone.kill()
    lone.start()
    full = h.step("after SIGKILL and restart, the lone node serves its chain",
                  pclib.whole_chain, lone.port)
    if full is not None:
        n = len(full)
        h.check(n >= 1 and [b["hash"] for b in full] == [b["hash"] for b in chain.blocks[:n]],
                "after SIGKILL the stored chain is a prefix of ours (height %d of %d)" % (
                    n, chain.height))
        h.info("after SIGKILL the lone node kept %d of %d blocks" % (n, chain.height))

    # A reorg must be stored as a reorg.
    fork = chain.prefix(3).extend(12, tag="stored-fork")       # 1..15 beats 1..10
    t = lone.offer(fork.range(4, 15))
    h.check(t is not None and t["hash"] == fork.tip["hash"], "the lone node reorgs to a fork",
            t and t.get("height"))
    lone.stop()
    lone.start()
    full = h.step("after the reorg and a restart, it serves its chain", pclib.whole_chain,
                  lone.port)
    if full is not None:
        h.check([b["hash"] for b in full] == [b["hash"] for b in fork.blocks],
                "the stored chain is the fork, block for block (no stale blocks of the old one)",
                len(full))

    # SIGKILL in the middle of a big write: a valid chain after restart.
    big = fork.copy().extend(1500, tag="big")
    with pclib.Client(lone.port) as c:
        c.hello()
        c.send("allBlock", big.range(16, 1000))
        c.send("allBlock", big.range(1001, big.height))
        time.sleep(0.05)
        lone.kill()
    lone.start()
    full = h.step("after SIGKILL mid-write, it restarts and serves a chain", pclib.whole_chain,
                  lone.port)
    if full is not None:
        n = len(full)
        h.check(n >= fork.height and [b["hash"] for b in full] == [b["hash"] for b in
                                                                 big.blocks[:n]],
                "that chain is a prefix of what it was given (height %d)" % n)
        h.check(Chain(full).validate() is None, "and valid", Chain(full).validate())
    lone.stop()

    # Storage of another network, and damaged storage: refuse, never crash.
    other = h.node("other-net", network="main", start=False)
    other.datadir = lone.datadir
    rc = None
    try:
        other.start()
        t = pclib.try_tip(other.port, network="main")
        h.check(t is not None and t["height"] == 1 and t["hash"] == pclib.genesis("main")["hash"]
                if t else False, "a main node on a regtest datadir either refuses or starts "
                "from main's genesis", t)
        other.stop()
    except pclib.TestFailure:
        rc = other.proc.wait(10)
        other._forget()
        h.check(rc is not None and rc > 0, "a main node on a regtest datadir refuses to start "
                "(exit %s)" % rc)
        other.check_sanitizers()
    for f in os.listdir(lone.datadir):
        if f.endswith(".mdb") and not f.startswith("lock"):
            with open(os.path.join(lone.datadir, f), "r+b") as fh:
                fh.seek(0)
                fh.write(os.urandom(8192))
    try:
        lone.start()
        full = pclib.whole_chain(lone.port)
        h.check(Chain(full).validate() is None, "on damaged storage the node serves a valid "
                "chain (or refuses to start)", len(full))
        lone.stop()
    except (pclib.TestFailure, OSError) as e:
        rc = lone.proc.wait(10)
        lone._forget()
        h.check(rc is not None and rc > 0, "on damaged storage the node refuses to start "
                "with an error exit, not a crash (exit %s)" % rc, e)
        lone.check_sanitizers()
        tail = lone.log().strip().splitlines()[-3:]
        h.info("damaged storage: %s" % tail)


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
    storage(h)


if __name__ == "__main__":
    pclib.Harness("restart").run(main)
