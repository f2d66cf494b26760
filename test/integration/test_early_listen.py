#!/usr/bin/env python3
"""
peerchaind binds and listens on its P2P port (and writes --port-file) before
it opens the chain store, but accepts nobody until the chain worker holds
the chain: a peer that connects in between waits in the kernel's backlog.

A node with a stored chain is restarted while the test holds LMDB's lock
(so its store open waits): its port file must appear all the same, a peer
that connects then must get no answer (and not be closed) until the lock is
released, and then be answered by the stored chain (its hello and
latestBlock carry the stored tip, never genesis or a half-loaded state). A node whose store is refused
after it has started listening must still exit non-zero with the store's
reason, and leave the port closed.

How this fails if the feature is broken: no port file while the store is
held (listening after the chain is opened), an answer while it is held
(accepting before the chain is loaded), a height other than the stored one, or
a store failure after listening hangs the node or leaves the port open.
"""

import fcntl
import os
import socket
import time

import pclib
from pclib import Chain


def wait_port_file(node, timeout=10.0):
    """The port from node's port file, polled every millisecond."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(node.port_file) as f:
                txt = f.read().strip()
            if txt:
                return int(txt)
        except (FileNotFoundError, ValueError):
            pass
        if node.proc.poll() is not None:
            raise pclib.TestFailure("%s exited (%s) before listening" %
                                    (node.name, node.proc.returncode))
        time.sleep(0.001)
    raise pclib.TestFailure("%s wrote no port file within %.0f s" % (node.name, timeout))


def take_lock(f, timeout=10.0):
    """A write lock on byte 0 of f, without blocking for ever (a node left
    running by a failed step holds a shared lock there)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 0)
            return True
        except OSError:
            if time.monotonic() > deadline:
                raise pclib.TestFailure("lock.mdb still locked after %.0f s" % timeout)
            time.sleep(0.05)


def early_peer(h, node, chain):
    # While we hold a write lock on byte 0 of LMDB's lock.mdb, the node's
    # store open waits for it (LMDB takes a shared fcntl lock there, with
    # F_SETLKW): the node is stopped between listening and loading its chain.
    lockf = open(os.path.join(node.datadir, "lock.mdb"), "r+b")
    if not h.step("the test takes LMDB's lock", take_lock, lockf):
        lockf.close()
        return
    held = True
    try:
        node.start(wait=False)
        port = h.step("the node writes its port file before it opens its chain",
                      wait_port_file, node)
        if port is None:
            node.kill()  # it may be waiting for our lock, or broken: not reused
            return
        with pclib.Client(port, timeout=20.0) as c:
            c.send_hello()
            early = c.recv(1.0)
            h.check(early is None and not c.closed,
                    "while the chain is not loaded, a connecting peer waits (no answer, "
                    "not closed)", early if early is not None else "closed")
            fcntl.lockf(lockf, fcntl.LOCK_UN, 1, 0)
            held = False
            hello = h.step("once the chain is loaded, the waiting peer gets hello",
                           c.wait_for, "hello", 20.0)
            h.check(hello is not None and hello.get("height") == chain.height,
                    "its hello carries the stored height %d" % chain.height,
                    hello and hello.get("height"))
            tip = h.step("and latestBlock", c.latest_block)
            h.check(tip is not None and tip.get("hash") == chain.tip["hash"],
                    "latestBlock is the stored tip", tip and tip.get("height"))
    finally:
        if held:
            fcntl.lockf(lockf, fcntl.LOCK_UN, 1, 0)
        lockf.close()
    node.wait_listening()  # sets node.port
    node.stop()


def refused_store(h, good):
    bad = h.node("damaged", args=["--no-api"], start=False)
    os.makedirs(bad.datadir, mode=0o700)
    with open(os.path.join(bad.datadir, "data.mdb"), "wb") as f:
        f.write(b"\x5a" * 16384)  # not an LMDB file
    bad.start(wait=False)
    try:
        rc = bad.proc.wait(15)
    except Exception:  # noqa: B902 - any hang is the failure
        bad.kill()
        h.check(False, "a refused store: the node exits", "still running after 15 s")
        return
    bad._forget()
    h.check(rc not in (0, None), "a refused store: the node exits non-zero", "exit %s" % rc)
    errors = [ln for ln in bad.log().splitlines() if "ERROR" in ln]
    h.check(any("cannot open the chain" in ln for ln in errors),
            "a refused store: it says why", errors[-3:])
    try:
        with open(bad.port_file) as f:
            port = int(f.read().strip())
    except (OSError, ValueError):
        port = None
    if port is not None:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(5.0)
        try:
            s.connect(("127.0.0.1", port))
            closed = False
        except OSError:
            closed = True
        finally:
            s.close()
        h.check(closed, "a refused store: the port it had bound is closed after it exits")


def main(h):
    node = h.node("stored", args=["--no-api"])
    chain = Chain().extend(600, tag="early")
    t = None
    for first in range(2, chain.height + 1, 500):  # allBlock offers are capped
        t = node.offer(chain.range(first, min(first + 499, chain.height)))
    h.check(t is not None and t["hash"] == chain.tip["hash"],
            "the node takes %d blocks" % chain.height, t and t.get("height"))
    node.stop()
    for i in range(3):
        h.info("restart %d" % (i + 1))
        early_peer(h, node, chain)
        if node.running():
            node.kill()
    refused_store(h, node)


if __name__ == "__main__":
    pclib.Harness("early_listen").run(main)
