#!/usr/bin/env python3
"""
--sync-writes (docs/storage.md, "Durability"): the store's write-durability
policy.

1. Bad values are refused before anything starts: exit code 2 and one line
   naming the flag and the allowed values; nothing is created in the data
   directory.
2. The policy in force is in the startup log: `os` by default on regtest,
   `full` when asked for.
3. Under `os` (commits written to the OS, not fsynced per commit) a block
   that POST /mineBlock acknowledged survives SIGKILL of the node right after
   the answer: after a restart on the same data directory the node's tip is
   that block, hash for hash, and its whole chain links. Several rounds, each
   killing the node at once after the last answer.
4. A clean stop under `os` exits 0 and the chain is there at the next start.

How this fails if the policy is broken: a bad value starts a node or exits
with another code; the log does not say the policy; a block answered with 200
is gone (or the chain is shorter) after kill -9 and a restart.
"""

import json
import os
import subprocess
import urllib.error
import urllib.request

import pclib

KILL_ROUNDS = 5
BLOCKS_PER_ROUND = 20


def api(node, method, path, body=None, timeout=10.0):
    """One HTTP request to the node's API on 127.0.0.1: (status, JSON)."""
    url = "http://127.0.0.1:%d%s" % (node.api_port, path)
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if method == "POST":
        with open(os.path.join(node.datadir, ".cookie")) as f:
            req.add_header("Authorization", "Bearer " + f.read().strip())
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def mine(node, text):
    st, b = api(node, "POST", "/mineBlock", {"data": text})
    if st != 200:
        raise pclib.TestFailure("mineBlock answered %s: %s" % (st, b))
    return b


def block_at(node, height):
    st, b = api(node, "GET", "/blocks/%d" % height)
    return b if st == 200 else None


def case_bad_values(h):
    for bad in ("", "FULL", "fsync", "none", "os,full"):
        n = pclib.Node(h, "bad", args=["--no-api", "--sync-writes", bad])
        r = subprocess.run(n.argv(), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=15)
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        h.check(r.returncode == 2, "--sync-writes %r: exit code 2" % bad, "exit %s" % r.returncode)
        h.check(len(lines) == 1 and "--sync-writes" in lines[0] and "full or os" in lines[0],
                "--sync-writes %r: one line naming the flag and the values" % bad, lines[:3])
        h.check(not os.path.exists(os.path.join(n.datadir, "data.mdb")),
                "--sync-writes %r: no store created" % bad)
    n = pclib.Node(h, "noval", args=["--no-api", "--sync-writes"])
    r = subprocess.run(n.argv()[:-2], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=15)
    h.check(r.returncode == 2 and "needs a value" in r.stderr,
            "--sync-writes without a value: exit code 2", (r.returncode, r.stderr.strip()))
    r = subprocess.run([h.peerchaind, "--help"], capture_output=True, text=True, timeout=15)
    h.check(r.returncode == 0 and "--sync-writes" in r.stdout, "--help lists --sync-writes")


def policy_line(node):
    """The startup line naming the policy. The node writes its port file
    (which is when a test starts talking to it) before it opens the store
    and logs the policy, so wait a bounded time for the line."""
    def line():
        lines = [ln for ln in node.log().splitlines() if "--sync-writes" in ln and "INFO" in ln]
        return lines[-1] if lines else ""
    try:
        return pclib.wait_until(line, 10, interval=0.05, what="the --sync-writes log line")
    except pclib.TestFailure:
        return ""


def case_log(h):
    n = h.node("full", args=["--no-api", "--sync-writes", "full"])
    h.check("--sync-writes full" in policy_line(n), "the log says --sync-writes full",
            policy_line(n))
    n.stop()
    d = h.node("default", args=["--no-api"])
    h.check("--sync-writes os" in policy_line(d), "regtest defaults to --sync-writes os",
            policy_line(d))
    d.stop()


def case_kill_after_ack(h):
    node = h.node("killed", args=["--sync-writes", "os"])
    last = None
    for rnd in range(KILL_ROUNDS):
        if rnd > 0:
            node.start()
            got = block_at(node, last["height"])
            h.check(got is not None and got["hash"] == last["hash"],
                    "round %d: the block acknowledged before kill -9 is there after the "
                    "restart (height %d)" % (rnd, last["height"]),
                    got and got.get("hash"))
            st, latest = api(node, "GET", "/blocks/latest")
            h.check(st == 200 and latest["hash"] == last["hash"],
                    "round %d: it is the tip" % rnd, latest)
        for i in range(BLOCKS_PER_ROUND):
            last = mine(node, "round %d block %d" % (rnd, i))
        node.kill()  # at once after the last 200: no clean close, no fsync
    node.start()
    chain = pclib.whole_chain(node.port)
    want = 1 + KILL_ROUNDS * BLOCKS_PER_ROUND
    ok = chain is not None and len(chain) == want and all(
        chain[i]["previousHash"] == chain[i - 1]["hash"] for i in range(1, len(chain)))
    h.check(ok, "after %d kills the whole chain of %d blocks is there and links" % (
        KILL_ROUNDS, want), chain and len(chain))
    h.check(chain is not None and chain[-1]["hash"] == last["hash"],
            "the last acknowledged block is the tip")
    node.stop()

    # A clean stop under os: exit 0 (checked by stop), and the chain is kept.
    node.start()
    tip = block_at(node, want)
    h.check(tip is not None and tip["hash"] == last["hash"],
            "after a clean stop and start the chain is kept")
    node.stop()


def main(h):
    case_bad_values(h)
    case_log(h)
    case_kill_after_ack(h)


if __name__ == "__main__":
    pclib.Harness("sync_writes").run(main)
