#!/usr/bin/env python3
"""
peerchaind's command line: --help and --version exit 0; a bad flag exits 2
with a one-line error on stderr (and never starts a node); the naivechain
environment variables P2P_PORT and PEERS are honoured, flags win over them;
SIGINT and SIGTERM both shut down cleanly with exit 0.

How this fails if the CLI is broken: a bad value is silently accepted (the
process keeps running: the 10 s bound kills it and fails the check), the exit
code is 1 or a crash, the error is a usage dump, or the env vars are ignored.
"""

import os
import signal
import subprocess

import pclib
from pclib import Chain


def run(h, args, env=None, timeout=10):
    e = dict(os.environ)
    if env:
        e.update(env)
    try:
        p = subprocess.run([h.peerchaind] + args, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=timeout, env=e,
                           preexec_fn=pclib._child_setup)
    except subprocess.TimeoutExpired as ex:
        return None, ex.stdout or b"", ex.stderr or b""
    return p.returncode, p.stdout, p.stderr


def unsafe_datadir(h):
    """A data directory other users may write to is refused before anything
    is opened in it: in one, another user could plant a FIFO at the cookie's
    temporary name (found in review: the node hung in open()) or replace
    .lock, .cookie or data.mdb."""
    d = os.path.join(h.tmp, "world-writable")
    os.makedirs(d)
    os.chmod(d, 0o777)
    rc, _, err = run(h, ["--network", "regtest", "--bind", "127.0.0.1", "--p2p-port", "0",
                         "--api-port", "0", "--datadir", d])
    h.check(rc == 1, "a world-writable --datadir: exit 1", "rc %s, stderr %r" % (rc, err[-300:]))
    h.check(b"writable by others" in err, "a world-writable --datadir: the error says why",
            err[-300:])
    h.check(not os.path.exists(os.path.join(d, "data.mdb")),
            "a world-writable --datadir: nothing was created in it", os.listdir(d))


def main(h):
    unsafe_datadir(h)
    for flag in ("--help", "--version"):
        rc, out, err = run(h, [flag])
        h.check(rc == 0, "%s exits 0" % flag, "rc %s, stderr %r" % (rc, err[:200]))
        h.check(len(out.strip()) > 0, "%s prints something on stdout" % flag, out[:200])
    rc, out, _ = run(h, ["--version"])
    h.check(b"0.1.0" in out, "--version names version 0.1.0", out[:100])
    rc, out, _ = run(h, ["--help"])
    for flag in (b"--network", b"--p2p-port", b"--peer", b"--mine", b"--max-inbound"):
        h.check(flag in out, "--help mentions %s" % flag.decode(), None)

    # If a bad flag were ignored, the node would still listen on loopback
    # only, keep its chain in our temp dir and not serve the API.
    safe = ["--bind", "127.0.0.1", "--datadir", os.path.join(h.tmp, "bad-flags"), "--no-api"]
    bad = [
        (["--no-such-flag"] + safe + ["--p2p-port", "0"], "unknown flag"),
        (safe + ["--p2p-port", "70000"], "--p2p-port 70000"),
        (safe + ["--p2p-port", "abc"], "--p2p-port abc"),
        (safe + ["--p2p-port", "-1"], "--p2p-port -1"),
        (safe + ["--p2p-port", "80x"], "--p2p-port 80x"),
        (safe + ["--p2p-port", ""], "--p2p-port ''"),
        (safe + ["--p2p-port", "0", "--max-inbound", "-1"], "--max-inbound -1"),
        (safe + ["--p2p-port", "0", "--max-inbound", "99999999999999999999"],
         "--max-inbound overflowing"),
        (safe + ["--p2p-port", "0", "--network", "nosuchnet"], "--network nosuchnet"),
        (safe + ["--p2p-port", "0", "--peer"], "--peer with no value"),
        (safe + ["--p2p-port", "0", "--mine-interval-ms", "x"], "--mine-interval-ms x"),
        (safe + ["--p2p-port", "0", "--ban-seconds", "-5"], "--ban-seconds -5"),
        (safe + ["--p2p-port", "0", "--handshake-timeout-ms", "1e3"],
         "--handshake-timeout-ms 1e3"),
        (safe + ["--p2p-port", "0", "--api-port", "70000"], "--api-port 70000"),
        (safe + ["--p2p-port", "0", "--log-level", "loud"], "--log-level loud"),
        (safe + ["--p2p-port", "0", "--bind", "not-an-ip"], "--bind not-an-ip"),
        (safe + ["--p2p-port", "0", "--peer", "127.0.0.1"], "--peer without a port"),
        (safe + ["--p2p-port", "0", "--peer", "127.0.0.1:99999"], "--peer port 99999"),
        (safe + ["--p2p-port", "0", "--max-frame-bytes", "0"], "--max-frame-bytes 0"),
        (safe + ["--p2p-port", "0", "stray-argument"], "a stray argument"),
    ]
    for args, label in bad:
        rc, out, err = run(h, args)
        lines = [l for l in err.decode("utf-8", "replace").splitlines() if l.strip()]
        h.check(rc == 2, "%s: exits 2" % label, "rc %s (None = still running after 10 s), "
                "stderr %r" % (rc, err[:300]))
        h.check(len(lines) == 1, "%s: one-line error on stderr" % label, lines[:5])

    many = safe + ["--p2p-port", "0"]
    for i in range(65):
        many += ["--peer", "127.0.0.1:%d" % (1000 + i)]
    rc, out, err = run(h, many)
    lines = [l for l in err.decode("utf-8", "replace").splitlines() if l.strip()]
    h.check(rc == 2 and len(lines) == 1, "65 --peer flags (limit 64): exit 2, one line",
            (rc, lines[:3]))

    # Start-up failures that are not flag errors: a non-zero exit, no hang.
    import socket
    taken = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        rc, out, err = run(h, safe + ["--p2p-port", str(taken.getsockname()[1])])
        h.check(rc not in (0, None), "a port already in use: non-zero exit, no hang",
                (rc, err[-200:]))
    finally:
        taken.close()
    rc, out, err = run(h, safe + ["--p2p-port", "0", "--port-file",
                                  os.path.join(h.tmp, "no-such-dir", "port")])
    h.check(rc not in (0, None), "an unwritable --port-file: non-zero exit, no hang",
            (rc, err[-200:]))

    # P2P_PORT: no --p2p-port flag, the node listens on the env port.
    port = pclib.free_port()
    n = h.node("env-port", use_port_flag=False, env={"P2P_PORT": str(port)}, start=False)
    if h.step("node starts with P2P_PORT and no --p2p-port", n.start):
        h.check(n.port == port, "P2P_PORT=%d is the bound port" % port, n.port)
        h.step("it answers on that port", pclib.tip_of, port)
        h.check(n.stop(signal.SIGINT) == 0, "SIGINT gives exit 0")

    # Flag wins over env.
    port_env, port_flag = pclib.free_port(), pclib.free_port()
    n = h.node("flag-wins", port=port_flag, env={"P2P_PORT": str(port_env)}, start=False)
    if h.step("node starts with both P2P_PORT and --p2p-port", n.start):
        h.check(n.port == port_flag, "--p2p-port wins over P2P_PORT", n.port)
        n.stop()

    # Flag order does not matter: --port-file before --peer.
    pf = os.path.join(h.tmp, "order.port")
    o = subprocess.Popen([h.peerchaind, "--port-file", pf, "--network", "regtest", "--bind",
                          "127.0.0.1", "--p2p-port", "0", "--datadir",
                          os.path.join(h.tmp, "order"), "--no-api", "--peer", "127.0.0.1:1"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, preexec_fn=pclib._child_setup)
    try:
        h.step("--port-file given before --peer is written", pclib.wait_until,
               lambda: os.path.exists(pf), 10, what="the port file")
    finally:
        o.terminate()
        try:
            rc = o.wait(10)
        except subprocess.TimeoutExpired:
            o.kill()
            rc = o.wait(10)
        h.check(rc == 0, "that node exits 0 on SIGTERM", rc)

    # PEERS (comma-separated): a node given two peers by env joins both.
    chain = Chain().extend(3, tag="cli")
    a = h.node("peer-a")
    c = h.node("peer-c")
    h.step("peer-a loads 4 blocks", lambda: (a.offer(chain.range(2, 4)), a.wait_tip(chain.tip)))
    b = h.node("env-peers", env={"PEERS": "%s,%s" % (a.addr, c.addr)}, start=False)
    if h.step("node starts with PEERS=a,c", b.start):
        h.step("the PEERS node syncs from peer-a", b.wait_tip, chain.tip, 30)
        h.step("and peer-c gets the tip through it (it dialled c too)", c.wait_tip, chain.tip, 30)
    for x in (a, b, c):
        if x.running():
            x.stop()


if __name__ == "__main__":
    pclib.Harness("cli").run(main)
