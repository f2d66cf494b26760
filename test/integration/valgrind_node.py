#!/usr/bin/env python3
"""
peerchaind under valgrind memcheck: two nodes, one mining, sync; a hostile
client sends garbage and an invalid block; then both are stopped with
SIGTERM. Passes only if both exit 0 and valgrind reports no errors and no
leaked memory (definite, indirect or possible), so every thread was joined
and everything freed at shutdown.

Not a ctest (valgrind makes it slow); scripts/valgrind-check.sh runs it.

How this fails if the feature is broken: a leak on any path exercised here
(a peer banned, a block rejected, a sync, shutdown with live connections)
or a thread left running at exit shows up as a non-zero valgrind exit.
"""

import pclib
from pclib import Chain

VALGRIND = ["valgrind", "--quiet", "--error-exitcode=97", "--leak-check=full",
            "--show-leak-kinds=definite,indirect,possible",
            "--errors-for-leak-kinds=definite,indirect,possible"]


class ValgrindNode(pclib.Node):
    def argv(self):
        return VALGRIND + super().argv()


def main(h):
    a = ValgrindNode(h, "vg-a", args=["--mine", "--mine-blocks", "3", "--mine-interval-ms", "50"])
    h.nodes.append(a)
    a.start(wait=False)
    a.wait_listening(60)
    b = ValgrindNode(h, "vg-b", peers=[a.addr])
    h.nodes.append(b)
    b.start(wait=False)
    b.wait_listening(60)

    h.step("b syncs a's mined blocks", pclib.wait_until,
           lambda: (pclib.try_tip(b.port) or {}).get("height", 0) >= 4, 120, 0.5,
           "b to reach height 4")

    # Bad input on paths that free things: a garbage frame and an invalid block.
    with pclib.Client(a.port, source=pclib.ip(7), timeout=30) as c:
        c.send_raw(b"this is not json\n")
        c.wait_closed(30)
    chain = Chain(pclib.whole_chain(a.port, timeout=60))
    bad = chain.broken_next("bad-merkle")
    with pclib.Client(a.port, source=pclib.ip(8), timeout=30) as c:
        c.hello()
        c.send("latestBlock", bad)
        c.wait_closed(30)

    # An idle client still connected at shutdown.
    idle = pclib.Client(b.port, timeout=30)
    idle.hello()
    b.stop(timeout=60)
    a.stop(timeout=60)
    idle.close()


if __name__ == "__main__":
    pclib.Harness("valgrind_node").run(main)
