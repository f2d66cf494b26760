#!/usr/bin/env python3
"""
pclib's independent block builder against docs/protocol.md's known-answer
vectors (merkle roots, header preimages and hashes, genesis, work, leading
zero bits, locator shape), and the node's genesis against the vector.

Every other integration test builds its blocks with pclib, so if pclib and
the spec drift apart those tests would test the wrong thing; this one fails
first and says which vector.
"""

import pclib


def main(h):
    for ok, msg in pclib.self_test():
        h.check(ok, "pclib: " + msg)
    node = h.node("vectors")
    g = h.step("fetch the node's genesis", pclib.fetch_genesis, node.port)
    vec = pclib._vectors_from_protocol_md()
    h.check(vec is not None and g == vec["block"], "node's genesis is protocol.md's regtest "
            "genesis vector", g)
    with pclib.Client(node.port) as c:
        hello = c.wait_for("hello", 10)
    h.check(hello.get("genesis") == (vec or {}).get("hash"), "node's hello names that genesis",
            hello.get("genesis"))
    h.check(hello.get("work") == "10", "a genesis-only regtest node says work '10' (2^4)",
            hello.get("work"))
    node.stop()


if __name__ == "__main__":
    pclib.Harness("vectors").run(main)
