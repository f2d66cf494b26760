#!/usr/bin/env python3
"""
Durable storage (docs/storage.md): the chain survives restarts and crashes.

1. A restart keeps the chain (a lone node, no peer to hand it back).
2. SIGKILL at random moments while a node syncs a few thousand blocks from a
   peer, and while a node mines, at least 20 kills in all (seeded RNG; the
   seed is printed, PC_SEED=N replays it). After each kill the node restarts
   on the same data directory, alone, and its whole chain must be valid
   (checked here in Python), equal to the chain before that round or the one
   it was fetching (never a mix), and hold every block a watching client saw
   announced with latestBlock before the kill: a block is on disk before
   anyone hears of it. Then both nodes catch up with their peer.
3. The data directory is guarded: two nodes on one directory (the second
   exits 1), a regtest directory opened as main (exit 1, a clear reason), a
   damaged data.mdb (an error exit with the store's reason, never a silent
   reset).

How this fails if storage is broken: a restarted node starts from genesis or
from a chain that mixes old and new blocks or is invalid, an announced block
is missing after a crash, or a wrong directory is opened, reset or shared.
"""

import os
import random
import shutil
import threading
import time

import pclib
from pclib import Chain

SYNC_ROUNDS = 12
SYNC_BLOCKS_PER_ROUND = 2000
MINE_ROUNDS = 10
# A sync of SYNC_BLOCKS_PER_ROUND blocks takes some tens of ms: kills land
# within this long after the node logs that it started.
SYNC_KILL_WINDOW_S = 0.08


def validate(blocks):
    """Full validation of a whole chain, linear in its length (the rules of
    pclib's Chain.validate). None or 'height H: reason'."""
    if not blocks:
        return "no blocks"
    c = Chain(blocks)
    if c.blocks[0] != pclib.genesis("regtest"):
        return "genesis differs"
    now = int(time.time())
    for i in range(1, len(c.blocks)):
        b, p = c.blocks[i], c.blocks[i - 1]
        r = pclib.check_block_context_free(b)
        if r:
            return "height %d: %s" % (b["height"], r)
        if b["height"] != p["height"] + 1 or b["previousHash"] != p["hash"]:
            return "height %d: does not link" % b["height"]
        if b["difficulty"] != c.next_difficulty(p["height"]):
            return "height %d: difficulty" % b["height"]
        if b["timestamp"] <= c.mtp(p["height"]):
            return "height %d: time-old" % b["height"]
        if b["timestamp"] > now + pclib.MAX_FUTURE_SECONDS:
            return "height %d: time-future" % b["height"]
    return None


class Watcher:
    """A hello'd client that records every latestBlock announcement (hash and
    height) until stopped or the node goes away."""

    def __init__(self, port):
        self.seen = []
        self.stop_ev = threading.Event()
        self.c = pclib.Client(port, timeout=5)
        self.c.hello()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        try:
            while not self.stop_ev.is_set() and not self.c.closed:
                m = self.c.recv(0.2)
                if m is None:
                    continue
                if m.get("type") == "latestBlock" and isinstance(m.get("payload"), dict):
                    b = m["payload"]
                    self.seen.append((b.get("height"), b.get("hash")))
                elif m.get("type") == "ping":
                    self.c.send("pong", m.get("payload"))
        except (OSError, ValueError):
            pass

    def stop(self):
        self.stop_ev.set()
        self.t.join(5)
        self.c.close()
        return list(self.seen)


def check_round(h, label, node, old, new, announced):
    """Reads the restarted node's whole chain and checks it. `new` may be
    None (mining: any valid extension of old). Returns the chain read."""
    got = h.step("%s: the node restarts and serves its chain" % label,
                 pclib.whole_chain, node.port)
    if got is None:
        return old
    hashes = [b["hash"] for b in got]
    h.check(validate(got) is None, "%s: the stored chain is valid" % label, validate(got))
    if new is not None:
        is_old = hashes == [b["hash"] for b in old]
        is_new = hashes == [b["hash"] for b in new]
        h.check(is_old or is_new, "%s: the chain is the old one or the new one, not a mix" % label,
                "height %d (old %d, new %d)" % (len(got), len(old), len(new)))
    else:
        h.check(hashes[:len(old)] == [b["hash"] for b in old],
                "%s: the chain still holds everything it had before" % label,
                "height %d, before %d" % (len(got), len(old)))
    have = set(hashes)
    missing = [hh for _, hh in announced if hh not in have]
    h.check(not missing, "%s: every block announced before the kill is stored (%d announced)" %
            (label, len(announced)), "missing %d, e.g. %s" % (len(missing), missing[:2]))
    return got


def case_restart_keeps_chain(h):
    node = h.node("keep", args=["--no-api"])
    chain = Chain().extend(30, tag="keep")
    node.offer(chain.range(2, 31))
    h.step("the node takes 30 blocks", node.wait_tip, chain.tip)
    node.stop()
    node.start()
    got = h.step("after a restart it serves its chain", pclib.whole_chain, node.port)
    h.check(got is not None and [b["hash"] for b in got] == [b["hash"] for b in chain.blocks],
            "the restarted node has the whole chain, block for block (no peer gave it back)")
    node.stop()


def start_watch_kill(node, delay, mark):
    """Starts the node, watches its announcements as soon as it listens, and
    SIGKILLs it `delay` seconds after its log shows `mark` (polled every
    2 ms; a sync begins and ends within tens of ms). Returns what the watcher
    saw."""
    size = len(node.log())
    node.start(wait=False)
    t0 = time.monotonic()
    w = None
    while w is None and time.monotonic() - t0 < 10 and node.proc.poll() is None:
        try:
            with open(node.port_file) as f:
                node.port = int(f.read().strip())
            w = Watcher(node.port)
        except (OSError, ValueError, pclib.TestFailure):
            time.sleep(0.002)
    while mark not in node.log()[size:] and time.monotonic() - t0 < 10:
        time.sleep(0.002)
    time.sleep(delay)
    node.kill()
    return w.stop() if w is not None else []


def case_kills_while_syncing(h, rng, src, chain):
    node = h.node("syncer", args=["--no-api"], start=False)
    old = Chain().blocks
    kept = {"old": 0, "new": 0}
    for r in range(SYNC_ROUNDS):
        chain.extend(SYNC_BLOCKS_PER_ROUND, tag="r%d" % r)
        top = chain.height
        src.offer(chain.range(top - SYNC_BLOCKS_PER_ROUND + 1, top))
        if h.step("round %d: the source has height %d" % (r, top), src.wait_tip, chain.tip,
                  30) is None:
            return
        node.peers = [src.addr]
        delay = rng.uniform(0.0, SYNC_KILL_WINDOW_S)
        announced = start_watch_kill(node, delay, "sync started")
        node.peers = []
        node.start()
        got = check_round(h, "sync kill %d after %.3f s" % (r + 1, delay), node, old,
                          chain.blocks, announced)
        kept["new" if len(got) == chain.height else "old"] += 1
        node.stop()
        # Catch up before the next round, so every round kills a sync of
        # the same SYNC_BLOCKS_PER_ROUND blocks.
        node.peers = [src.addr]
        node.start()
        h.step("round %d: the node catches up" % r, node.wait_tip, chain.tip, 30)
        node.stop()
        old = chain.blocks[:]
    h.info("sync kills: %d kept the old chain, %d the new one" % (kept["old"], kept["new"]))
    node.peers = [src.addr]
    node.start()
    h.step("the syncing node catches up with its peer (height %d)" % chain.height, node.wait_tip,
           chain.tip, 60)
    return node


def case_kills_while_mining(h, rng, src, chain):
    node = h.node("miner", args=["--no-api"], start=False)
    old = Chain().blocks
    total = 0
    for r in range(MINE_ROUNDS):
        node.extra = ["--no-api", "--mine", "--mine-interval-ms", "2"]
        delay = rng.uniform(0.0, 0.5)
        announced = start_watch_kill(node, delay, "mined block")
        total += len(announced)
        node.extra = ["--no-api"]
        node.start()
        old = check_round(h, "mining kill %d after %.3f s" % (r + 1, delay), node, old, None,
                          announced)
        node.stop()
    h.info("mining kills: %d announcements seen, height %d at the end" % (total, len(old)))
    h.check(total > 0, "the watcher saw mined blocks announced")
    # The source's chain has far more work: the miner reorgs onto it.
    node.peers = [src.addr]
    node.start()
    h.step("the mining node catches up with its peer (height %d)" % chain.height, node.wait_tip,
           chain.tip, 60)
    return node


def expect_refusal(h, label, node, want_code, want_text):
    node.start(wait=False)
    try:
        rc = node.proc.wait(15)
    except Exception:  # noqa: B902 - any hang is the failure
        node.kill()
        h.check(False, "%s: the node exits" % label, "still running after 15 s")
        return
    node._forget()
    text = node.log()
    ok_code = rc == want_code if want_code is not None else rc not in (0, None) and rc > 0
    h.check(ok_code, "%s: exits %s" % (label, want_code if want_code is not None else "non-zero"),
            "exit %s" % rc)
    last = [ln for ln in text.splitlines() if "ERROR" in ln]
    h.check(any(want_text in ln for ln in last), "%s: says why (%r)" % (label, want_text), last[-3:])


def case_guards(h, running):
    # Two nodes on one data directory: the second refuses.
    dup = h.node("dup", args=["--no-api"], start=False)
    dup.datadir = running.datadir
    expect_refusal(h, "a second node on the same data directory", dup, 1, "in use")
    h.check(running.running(), "the first node keeps running")
    running.stop()

    # A regtest directory opened as main.
    foreign = h.node("foreign", args=["--no-api"], network="main", start=False)
    shutil.copytree(running.datadir, foreign.datadir)
    os.unlink(os.path.join(foreign.datadir, ".lock"))
    expect_refusal(h, "a regtest data directory opened as main", foreign, 1, "belongs to network")

    # A damaged data.mdb: refused, and left as it was (no reset).
    bad = h.node("damaged", args=["--no-api"], start=False)
    shutil.copytree(running.datadir, bad.datadir)
    path = os.path.join(bad.datadir, "data.mdb")
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.write(b"\x5a" * 8192)      # both LMDB meta pages
    expect_refusal(h, "a damaged data.mdb", bad, None, "store:")
    with open(path, "rb") as f:
        head = f.read(8192)
    h.check(os.path.getsize(path) == size and head == b"\x5a" * 8192,
            "the damaged file is left as it was (no silent reset)")


def main(h):
    seed = int(os.environ.get("PC_SEED", random.SystemRandom().randrange(1 << 32)))
    h.info("seed %d (PC_SEED=%d replays the kill times)" % (seed, seed))
    rng = random.Random(seed)
    t0 = time.monotonic()
    case_restart_keeps_chain(h)

    src = h.node("source", args=["--no-api"])
    chain = Chain()
    syncer = case_kills_while_syncing(h, rng, src, chain)
    miner = case_kills_while_mining(h, rng, src, chain)
    if miner is not None and miner.running():
        miner.stop()
    if syncer is not None and syncer.running():
        case_guards(h, syncer)
    src.stop()
    h.info("%.1f s" % (time.monotonic() - t0))


if __name__ == "__main__":
    pclib.Harness("persistence").run(main)
