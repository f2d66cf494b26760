"""
Shared helpers for peerchain's integration tests: start and stop real
`peerchaind` processes on 127.0.0.1, talk the wire protocol to them, and build
regtest blocks independently of the C code.

Written from docs/protocol.md (the spec), not from the node's sources, so that
a misunderstanding in the node shows up as a failing test rather than being
copied into the test. Python 3 standard library only.

Invariants every test relies on:
  - All traffic goes to 127.0.0.0/8. `Client` refuses any other address.
  - Every wait is bounded in time and every loop in count.
  - Every process a test starts is stopped by its PID (SIGTERM, bounded wait,
    SIGKILL only as a last resort, which fails the test), also when the test
    raises. Processes also get PR_SET_PDEATHSIG so that they die with the
    test if the test itself is killed (ctest timeout). Because that signal
    fires when the *thread* that forked exits, start nodes from the main
    thread only.
"""

import atexit
import ctypes
import hashlib
import json
import os
import random
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

# ---------------------------------------------------------------- constants

REGTEST_NAME = "regtest"
REGTEST_ID = "peerchain-regtest-1"
REGTEST_DIFFICULTY = 4
REGTEST_GENESIS_TS = 1767225600
REGTEST_GENESIS_DATA = ["peerchain genesis: regtest"]
ZERO_HASH = "0" * 64

BLOCK_VERSION = 1
MAX_SAFE_INTEGER = 2**53 - 1
MTP_WINDOW = 11
MAX_FUTURE_SECONDS = 7200
MAX_JSON_DEPTH = 64
PROTOCOL_VERSION = 1

SANITIZER_MARKERS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "WARNING: ThreadSanitizer",
    "runtime error:",
)

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PROTOCOL_MD = os.path.join(REPO, "docs", "protocol.md")


class TestFailure(Exception):
    """A check that cannot continue (timeouts, protocol breakage)."""


# ---------------------------------------------------------- block building

def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def merkle_root(items):
    """docs/protocol.md: leaf = SHA256(0x00 || item), node = SHA256(0x01 ||
    left || right) over raw digests, an odd node at the end of a level is
    carried up unchanged, no items gives 32 zero bytes."""
    if not items:
        return ZERO_HASH
    level = [hashlib.sha256(b"\x00" + s.encode("utf-8")).digest() for s in items]
    while len(level) > 1:
        nxt = []
        for i in range(0, len(level) - 1, 2):
            nxt.append(hashlib.sha256(b"\x01" + level[i] + level[i + 1]).digest())
        if len(level) % 2 == 1:
            nxt.append(level[-1])
        level = nxt
    return level[0].hex()


def preimage(b):
    return (str(b["version"]) + str(b["height"]) + str(b["timestamp"]) + b["merkleRoot"] +
            b["previousHash"] + str(b["difficulty"]) + str(b["nonce"]))


def block_hash(b):
    return sha256_hex(preimage(b).encode("ascii"))


def leading_zero_bits(hex_hash):
    n = int(hex_hash, 16)
    return 256 - n.bit_length()


def meets_difficulty(hex_hash, difficulty):
    return leading_zero_bits(hex_hash) >= difficulty


def mine(b, start_nonce=0, max_attempts=50_000_000, want_valid=True):
    """Sets b's nonce and hash so that the hash meets (want_valid) or fails
    (not want_valid) b's difficulty. Bounded by max_attempts. The preimage
    ends with the nonce, so the SHA-256 state of everything before it is
    computed once and copied per attempt (as Part 1 "Mining" describes)."""
    d = b["difficulty"]
    b["nonce"] = 0
    head = preimage(b)[:-1].encode("ascii")        # all but the nonce "0"
    base = hashlib.sha256(head)
    top = 256 - d                                  # digest < 2^top meets d
    for nonce in range(start_nonce, start_nonce + max_attempts):
        h = base.copy()
        h.update(str(nonce).encode("ascii"))
        dig = h.digest()
        if (int.from_bytes(dig, "big") >> top == 0) == want_valid:
            b["nonce"] = nonce
            b["hash"] = dig.hex()
            assert b["hash"] == block_hash(b)
            return b
    raise TestFailure("mine: no nonce within %d attempts" % max_attempts)


def make_block(height, timestamp, previous_hash, data, difficulty, version=BLOCK_VERSION,
               start_nonce=0):
    b = {
        "version": version,
        "height": height,
        "timestamp": timestamp,
        "previousHash": previous_hash,
        "merkleRoot": merkle_root(data),
        "nonce": 0,
        "difficulty": difficulty,
        "data": list(data),
        "hash": "",
    }
    return mine(b, start_nonce)


def check_block_context_free(b):
    """Returns None if b passes the context-free rules this library knows,
    else a one-line reason. Used to self-test the builder."""
    if b["version"] != BLOCK_VERSION:
        return "version"
    if b["merkleRoot"] != merkle_root(b["data"]):
        return "merkle"
    if b["hash"] != block_hash(b):
        return "hash"
    if not meets_difficulty(b["hash"], b["difficulty"]):
        return "pow"
    return None


def median_time(ts):
    s = sorted(ts)
    return s[len(s) // 2]


def protocol_vectors():
    """The known-answer vectors of docs/protocol.md: every line of the fenced
    blocks tagged `vectors`, as (kind, input, expected) string triples.
    STYLE.md: vectors live in protocol.md and the tests read them there."""
    try:
        with open(PROTOCOL_MD, encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return []
    out = []
    in_block = False
    for line in text.splitlines():
        if line.strip() == "```vectors":
            in_block = True
            continue
        if in_block and line.strip().startswith("```"):
            in_block = False
            continue
        if not in_block or not line.strip() or line.lstrip().startswith("#"):
            continue
        left, sep, expected = line.partition(" => ")
        if not sep:
            continue
        kind, _, inp = left.partition(" ")
        out.append((kind, inp, expected))
    return out


def _vectors_from_protocol_md():
    """The regtest genesis vector ({"nonce", "hash"}) or None."""
    for kind, inp, expected in protocol_vectors():
        if kind == "genesis" and inp == "regtest":
            g = json.loads(expected)
            return {"nonce": g["nonce"], "hash": g["hash"], "block": g}
    return None


def locator_heights(tip_height, max_hashes=64):
    """Part 1 "Block locator": the tip, the 9 below it one by one, then the
    step doubling each time, genesis (1) last; at most max_hashes, the last
    slot holding genesis if the limit is reached first."""
    out = []
    h, step = tip_height, 1
    while h > 1 and len(out) < max_hashes - 1:
        out.append(h)
        if len(out) >= 10:
            step *= 2
        h -= step
    out.append(1)
    return out


NETWORKS = {
    # Part 1 "Networks": id, genesis/minimum difficulty, retarget interval N,
    # target spacing T, genesis timestamp and data.
    "regtest": {"id": REGTEST_ID, "difficulty": 4, "min_difficulty": 4, "N": 0, "T": 1,
                "ts": 1767225600, "data": ["peerchain genesis: regtest"]},
    "main": {"id": "peerchain-main-1", "difficulty": 16, "min_difficulty": 16, "N": 10,
             "T": 60, "ts": 1767225600, "data": ["peerchain genesis: main 2026-01-01"]},
}
_GENESIS = {}


def genesis(network="regtest"):
    """A network's genesis computed here from its parameters: the first
    nonce from 0 that meets the genesis difficulty (Part 1). Checked against
    protocol.md's vector by self_test and against the node by the tests."""
    if network not in _GENESIS:
        p = NETWORKS[network]
        _GENESIS[network] = make_block(1, p["ts"], ZERO_HASH, p["data"], p["difficulty"])
    g = _GENESIS[network]
    return dict(g, data=list(g["data"]))


def regtest_genesis():
    return genesis("regtest")


def retarget(network, parent_height, parent_difficulty, parent_ts, window_start_ts):
    """Part 1 "Difficulty retarget": the expected difficulty of the block
    after a parent at parent_height."""
    p = NETWORKS[network]
    n = p["N"]
    if n == 0 or parent_height < n + 1 or (parent_height - 1) % n != 0:
        return parent_difficulty
    actual = parent_ts - window_start_ts
    expected = n * p["T"]
    if 2 * actual < expected:
        return min(parent_difficulty + 1, 255)
    if actual > 2 * expected:
        return max(parent_difficulty - 1, p["min_difficulty"])
    return parent_difficulty


class Chain:
    """A chain built in Python: a list of block dicts from genesis, on
    regtest (fixed difficulty 4) unless network says otherwise."""

    def __init__(self, blocks=None, network="regtest"):
        self.network = network
        self.blocks = [dict(b) for b in blocks] if blocks else [genesis(network)]

    def copy(self):
        return Chain(self.blocks, self.network)

    def prefix(self, height):
        """A new Chain holding blocks 1..height."""
        return Chain(self.blocks[:height], self.network)

    def next_difficulty(self, parent_height=None):
        ph = self.height if parent_height is None else parent_height
        p = self.at(ph)
        n = NETWORKS[self.network]["N"]
        start = self.at(ph - n)["timestamp"] if n and ph - n >= 1 else p["timestamp"]
        return retarget(self.network, ph, p["difficulty"], p["timestamp"], start)

    @property
    def tip(self):
        return self.blocks[-1]

    @property
    def height(self):
        return self.tip["height"]

    def at(self, height):
        return self.blocks[height - 1]

    def range(self, first, last):
        """Blocks with heights first..last inclusive."""
        return [dict(b) for b in self.blocks[first - 1:last]]

    def mtp(self, height=None):
        """Median time past of the (up to) 11 blocks ending at height."""
        h = self.height if height is None else height
        window = self.blocks[max(0, h - MTP_WINDOW):h]
        return median_time([b["timestamp"] for b in window])

    def work(self, height=None):
        h = self.height if height is None else height
        return sum(2**b["difficulty"] for b in self.blocks[:h])

    def work_hex(self, height=None):
        return format(self.work(height), "x")

    def next_timestamp(self):
        """Parent + 60 s (regtest chains start in the past of any real
        clock), but never closer than an hour to the 2-hour future limit
        (then just above the median: timestamps may go backwards)."""
        ts = min(self.tip["timestamp"] + 60, int(time.time()) + 3600)
        return max(ts, self.mtp() + 1)

    def build_next(self, data=None, timestamp=None, difficulty=None, tag=""):
        """A valid next block (not appended). data defaults to something
        unique so that forks built from the same parent differ."""
        if data is None:
            data = ["block %d %s %08x" % (self.height + 1, tag, random.getrandbits(32))]
        return make_block(self.height + 1,
                          self.next_timestamp() if timestamp is None else timestamp,
                          self.tip["hash"], data,
                          self.next_difficulty() if difficulty is None else difficulty)

    def append(self, b):
        if b["previousHash"] != self.tip["hash"] or b["height"] != self.height + 1:
            raise ValueError("block does not link onto this chain")
        self.blocks.append(dict(b))
        return b

    def extend(self, n, tag=""):
        for _ in range(n):
            self.append(self.build_next(tag=tag))
        return self

    def validate(self, now=None):
        """Full validation of the whole chain per the rules known here.
        Returns None or 'height H: reason'."""
        now = int(time.time()) if now is None else now
        if self.blocks[0] != genesis(self.network):
            return "genesis differs"
        for i in range(1, len(self.blocks)):
            b, p = self.blocks[i], self.blocks[i - 1]
            r = check_block_context_free(b)
            if r:
                return "height %d: %s" % (b["height"], r)
            if b["height"] != p["height"] + 1:
                return "height %d: height" % b["height"]
            if b["previousHash"] != p["hash"]:
                return "height %d: previousHash" % b["height"]
            if b["difficulty"] != self.next_difficulty(p["height"]):
                return "height %d: difficulty" % b["height"]
            if b["timestamp"] <= Chain(self.blocks[:i], self.network).mtp():
                return "height %d: time-old" % b["height"]
            if b["timestamp"] > now + MAX_FUTURE_SECONDS:
                return "height %d: time-future" % b["height"]
        return None

    # ---- deliberately broken next blocks (each breaks exactly one rule) ----

    def broken_next(self, kind):
        """A next block that breaks one rule. kind is one of BROKEN_KINDS."""
        b = self.build_next(tag="broken-" + kind)
        if kind == "bad-hash":
            # A valid header whose hash field is some other value that still
            # has the leading zero bits, so only the recomputation catches it.
            b["hash"] = "0000" + sha256_hex(b"not the hash")[4:]
        elif kind == "bad-pow":
            mine(b, want_valid=False)
        elif kind == "bad-merkle":
            b["merkleRoot"] = sha256_hex(b"not the merkle root")
            mine(b)
        elif kind == "bad-height":
            b["height"] = self.height + 2
            mine(b)
        elif kind == "bad-version":
            b["version"] = BLOCK_VERSION + 1
            mine(b)
        elif kind == "wrong-difficulty":
            b["difficulty"] = self.next_difficulty() + 1
            mine(b)
        elif kind == "time-old":
            b["timestamp"] = self.mtp()
            mine(b)
        elif kind == "time-future":
            b["timestamp"] = int(time.time()) + MAX_FUTURE_SECONDS + 3600
            mine(b)
        elif kind == "bad-data-type":
            b["data"] = [1, 2]
        else:
            raise ValueError(kind)
        return b


BROKEN_KINDS = ("bad-hash", "bad-pow", "bad-merkle", "bad-height", "bad-version",
                "wrong-difficulty", "time-old", "time-future")


def self_test():
    """Checks the builder against itself and, when present, the spec's
    vectors. Returns a list of (ok, message)."""
    out = []
    g = regtest_genesis()
    out.append((check_block_context_free(g) is None, "genesis passes the context-free rules"))
    out.append((g["merkleRoot"] == merkle_root(REGTEST_GENESIS_DATA), "genesis merkle root"))
    vec = _vectors_from_protocol_md()
    if vec is None:
        out.append((False, "protocol.md has a regtest genesis vector"))
    else:
        out.append((g == vec["block"], "genesis equals protocol.md's vector (nonce %s hash %s)"
                    % (vec["nonce"], vec["hash"])))
    for kind, inp, expected in protocol_vectors():
        if kind == "genesis" and inp in NETWORKS:
            out.append((genesis(inp) == json.loads(expected),
                        "pclib's %s genesis equals protocol.md's vector" % inp))
    n_vec = 0
    for kind, inp, expected in protocol_vectors():
        if kind == "merkle":
            got = merkle_root(json.loads(inp))
        elif kind == "header":
            b = json.loads(inp)
            got = "preimage %s hash %s" % (preimage(b), block_hash(b))
        elif kind == "work":
            got = format(sum(2**d for d in json.loads(inp)), "x")
        elif kind == "zeros":
            got = str(leading_zero_bits(inp))
        else:
            continue
        n_vec += 1
        out.append((got == expected, "vector %s %s" % (kind, inp[:60])))
    out.append((n_vec >= 20, "read %d merkle/header/work/zeros vectors from protocol.md" % n_vec))
    out.append((locator_heights(30) == list(range(30, 20, -1)) + [19, 15, 7, 1],
                "locator heights for a tip at 30 match protocol.md's example"))
    out.append((locator_heights(1) == [1] and locator_heights(2) == [2, 1],
                "locators near genesis"))
    # Merkle shapes: empty, one, odd carried up unchanged.
    out.append((merkle_root([]) == ZERO_HASH, "merkle of [] is 32 zero bytes"))
    la = hashlib.sha256(b"\x00a").digest()
    lb = hashlib.sha256(b"\x00b").digest()
    lc = hashlib.sha256(b"\x00c").digest()
    ab = hashlib.sha256(b"\x01" + la + lb).digest()
    out.append((merkle_root(["a"]) == la.hex(), "merkle of one item is its leaf"))
    out.append((merkle_root(["a", "b", "c"]) == hashlib.sha256(b"\x01" + ab + lc).hexdigest(),
                "merkle of three carries the odd leaf up"))
    c = Chain().extend(12)
    out.append((c.validate() is None, "a 13-block built chain validates"))
    for kind in BROKEN_KINDS:
        bad = c.copy()
        bad.blocks.append(c.broken_next(kind))
        r = bad.validate()
        out.append((r is not None, "broken block '%s' is invalid here (%s)" % (kind, r)))
    # MTP uses index n//2 of the sorted window.
    out.append((median_time([5, 1, 3, 2]) == 3, "median of 4 is sorted[2]"))
    return out


# ------------------------------------------------------------ JSON framing

class FrameReader:
    """Incremental splitter of a byte stream into JSON objects, written from
    the spec's framing rules: skip whitespace between objects, find the end by
    tracking strings (with backslash escapes) and {}/[] nesting. Anything else
    between objects raises ValueError (the node sends only objects + LF)."""

    def __init__(self, max_bytes=64 * 1024 * 1024):
        self.buf = bytearray()
        self.pos = 0          # scan position inside the current object
        self.depth = 0
        self.in_str = False
        self.esc = False
        self.max_bytes = max_bytes

    def feed(self, data):
        self.buf += data
        if len(self.buf) > self.max_bytes:
            raise ValueError("frame over %d bytes" % self.max_bytes)

    def frames(self):
        """Yields complete objects (as raw bytes) available so far."""
        while True:
            if self.depth == 0 and not self.in_str:
                # Skip whitespace to the start of the next object.
                i = 0
                while i < len(self.buf) and self.buf[i] in b" \t\r\n":
                    i += 1
                del self.buf[:i]
                self.pos = 0
                if not self.buf:
                    return
                if self.buf[0] != ord("{"):
                    raise ValueError("garbage from node: %r" % bytes(self.buf[:40]))
            end = None
            buf = self.buf
            i = self.pos
            n = len(buf)
            while i < n:
                ch = buf[i]
                if self.in_str:
                    if self.esc:
                        self.esc = False
                    elif ch == 0x5C:
                        self.esc = True
                    elif ch == 0x22:
                        self.in_str = False
                elif ch == 0x22:
                    self.in_str = True
                elif ch in (0x7B, 0x5B):
                    self.depth += 1
                elif ch in (0x7D, 0x5D):
                    self.depth -= 1
                    if self.depth == 0:
                        end = i + 1
                        break
                i += 1
            if end is None:
                self.pos = n
                return
            frame = bytes(buf[:end])
            del self.buf[:end]
            self.pos = 0
            yield frame


# ------------------------------------------------------------------ client

def _check_loopback(host):
    if not host.startswith("127."):
        raise ValueError("tests talk to 127.0.0.0/8 only, not %r" % host)


class Client:
    """One TCP connection to a node, optionally from a chosen 127.0.0.x source
    address (bans are per IP). Messages are read through FrameReader."""

    def __init__(self, port, host="127.0.0.1", source=None, timeout=10.0, network="regtest"):
        _check_loopback(host)
        self.network = network
        if source is not None:
            _check_loopback(source)
        self.port = port
        self.source = source
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if source is not None:
            self.sock.bind((source, 0))
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.reader = FrameReader()
        self.pending = []      # parsed messages read but not yet consumed
        self.closed = False    # peer closed (EOF or reset)
        self.peer_hello = None
        self.nonce = "%016x" % random.getrandbits(64)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- sending ----

    def send_raw(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.sock.sendall(data)

    def send(self, mtype, payload=None, newline=True):
        msg = {"type": mtype, "payload": {} if payload is None else payload}
        self.send_raw(json.dumps(msg, separators=(",", ":")) + ("\n" if newline else ""))

    def send_hello(self, height=1, work=None, genesis=None, network=None, version=1,
                   port=0, nonce=None, agent="pclib/1"):
        """Our hello; by default a node of the client's network holding
        only genesis (so the node never syncs from us)."""
        net = NETWORKS[self.network]
        if network is None:
            network = net["id"]
        if genesis is None:
            genesis = globals()["genesis"](self.network)["hash"]
        if work is None:
            work = format(2**net["difficulty"] * height, "x")
        self.send("hello", {"network": network, "genesis": genesis, "version": version,
                            "height": height, "work": work, "port": port,
                            "nonce": self.nonce if nonce is None else nonce, "agent": agent})

    # ---- receiving ----

    def _fill(self, timeout):
        """Reads once (waiting up to timeout). Returns False on timeout."""
        if self.closed:
            return False
        r, _, _ = select.select([self.sock], [], [], max(0.0, timeout))
        if not r:
            return False
        try:
            data = self.sock.recv(1 << 16)
        except (ConnectionResetError, ConnectionAbortedError):
            data = b""
        except socket.timeout:
            return False
        if not data:
            self.closed = True
            return False
        self.reader.feed(data)
        for frame in self.reader.frames():
            self.pending.append(json.loads(frame.decode("utf-8")))
        return True

    def recv(self, timeout=10.0):
        """Next message, or None on timeout or EOF."""
        deadline = time.monotonic() + timeout
        while not self.pending:
            left = deadline - time.monotonic()
            if left <= 0 or self.closed:
                return None
            self._fill(min(left, 1.0))
        return self.pending.pop(0)

    def wait_for(self, mtype, timeout=10.0, pred=None):
        """Skips messages until one of type mtype (and pred(payload)) arrives;
        answers pings on the way. Returns its payload; raises on timeout/EOF."""
        deadline = time.monotonic() + timeout
        seen = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TestFailure("no %s within %.0f s (saw %s)" % (mtype, timeout, seen[-8:]))
            m = self.recv(left)
            if m is None:
                if self.closed:
                    raise TestFailure("connection closed while waiting for %s (saw %s)" %
                                      (mtype, seen[-8:]))
                continue
            t = m.get("type")
            if t == "hello" and self.peer_hello is None:
                self.peer_hello = m.get("payload")
            if t == "ping" and mtype != "ping":
                try:
                    self.send("pong", m.get("payload"))
                except OSError:
                    pass
            if t == mtype and (pred is None or pred(m.get("payload"))):
                return m.get("payload")
            seen.append(t if t != "error" else ("error", m.get("payload")))

    def wait_closed(self, timeout=10.0):
        """Reads until EOF. Returns (closed, messages seen)."""
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            m = self.recv(min(1.0, deadline - time.monotonic()))
            if m is not None:
                seen.append(m)
            elif self.closed:
                return True, seen
        return self.closed, seen

    def hello(self, **kw):
        """Handshake as a peerchain peer with genesis-only work (so the node
        never syncs from us). Returns the node's hello payload."""
        self.send_hello(**kw)
        if self.peer_hello is None:
            self.peer_hello = self.wait_for("hello")
        return self.peer_hello

    def latest_block(self, timeout=10.0):
        self.send("latestBlock", {})
        return self.wait_for("latestBlock", timeout)

    def all_blocks(self, payload=None, timeout=10.0):
        self.send("allBlock", {} if payload is None else payload)
        return self.wait_for("allBlock", timeout, pred=lambda p: isinstance(p, list))


def tip_of(port, timeout=10.0, network="regtest"):
    """The node's tip block, read by a fresh hello'd client at 127.0.0.1."""
    with Client(port, timeout=timeout, network=network) as c:
        c.hello()
        return c.latest_block(timeout)


def try_tip(port, timeout=5.0, network="regtest"):
    try:
        return tip_of(port, timeout, network)
    except (OSError, TestFailure, ValueError):
        return None


def whole_chain(port, timeout=20.0, network="regtest"):
    """All blocks of the node's chain via allBlock pages."""
    out = []
    with Client(port, timeout=timeout, network=network) as c:
        c.hello()
        for _ in range(10000):
            page = c.all_blocks({"from": len(out) + 1, "limit": 2000}, timeout)
            if not page:
                break
            out.extend(page)
        return out


def offer_blocks(port, blocks, source=None, seed_mode=False, barrier=True, network="regtest"):
    """Offers blocks to a node as one allBlock array over a new client
    connection (a hello'd peer unless seed_mode). With barrier, then asks
    latestBlock and waits for the answer: a node handles one peer's messages
    in order, so the answer comes after the offer was processed (and reading
    it means we never close with unread data, which would send an RST).
    Returns the answered tip or None (closed, e.g. an invalid offer)."""
    with Client(port, source=source, network=network) as c:
        if not seed_mode:
            c.hello()
        c.send("allBlock", blocks)
        if not barrier:
            return None
        try:
            return c.latest_block(20.0)
        except (TestFailure, OSError):
            return None


def get_peers(port, timeout=10.0, network="regtest"):
    """The node's `peers` answer to getPeers (a list of "host:port")."""
    with Client(port, timeout=timeout, network=network) as c:
        c.hello()
        c.send("getPeers", {})
        p = c.wait_for("peers", timeout)
    if not isinstance(p, dict) or not isinstance(p.get("peers"), list):
        raise TestFailure("malformed peers payload: %r" % (p,))
    return p["peers"]


def introduce(port, addrs, wait_get_peers=5.0, network="regtest"):
    """Tells the node at port about addrs with a `peers` message, as peer
    exchange does, so that it dials them. Waits (bounded) for the node's own
    getPeers first, then sends `peers` regardless. Returns whether the node
    asked getPeers."""
    with Client(port, network=network) as c:
        c.hello()
        try:
            c.wait_for("getPeers", wait_get_peers)
            asked = True
        except TestFailure:
            asked = False
        c.send("peers", {"peers": list(addrs)})
        c.recv(0.5)   # let it read before we close
    return asked


def wait_until(pred, timeout, interval=0.25, what="condition"):
    """Polls pred() until it returns a true value (returned); raises
    TestFailure naming `what` on timeout. Bounded in time and count."""
    deadline = time.monotonic() + timeout
    last = None
    for _ in range(int(timeout / max(interval, 0.01)) + 2):
        try:
            last = pred()
        except (OSError, TestFailure, ValueError) as e:
            last = None
            err = e
        else:
            err = None
        if last:
            return last
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    raise TestFailure("timed out after %.0f s waiting for %s%s" % (
        timeout, what, (" (last error: %s)" % err) if err else ""))


def wait_tip(port, height=None, hash_=None, timeout=30.0, what=None, network="regtest"):
    """Waits until the node's tip has the given hash (or height)."""
    def ok():
        t = try_tip(port, network=network)
        if t is None:
            return None
        if hash_ is not None and t.get("hash") != hash_:
            return None
        if height is not None and t.get("height") != height:
            return None
        return t
    return wait_until(ok, timeout, what=what or ("tip %s/%s on port %d" % (height, hash_, port)))


class TcpProxy:
    """A loopback TCP relay: listens on 127.0.0.1:<ephemeral> and forwards
    each connection to 127.0.0.1:target_port. Lets a node dial itself under
    another address (so only the hello nonce can tell), and counts the
    connections it relays. Threads are daemons; close() stops accepting and
    shuts every relayed socket down."""

    def __init__(self, target_port):
        self.target = target_port
        self.ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(16)
        self.port = self.ls.getsockname()[1]
        self.accepted = 0
        self.socks = []
        self.mu = threading.Lock()
        self.closing = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        for _ in range(10000):          # bounded
            try:
                a, _ = self.ls.accept()
            except OSError:
                return
            try:
                b = socket.create_connection(("127.0.0.1", self.target), timeout=5)
                b.settimeout(None)
            except OSError:
                a.close()
                continue
            with self.mu:
                if self.closing:
                    a.close()
                    b.close()
                    return
                self.accepted += 1
                self.socks += [a, b]
            for x, y in ((a, b), (b, a)):
                threading.Thread(target=self._pump, args=(x, y), daemon=True).start()

    @staticmethod
    def _pump(src, dst):
        try:
            while True:
                d = src.recv(65536)
                if not d:
                    break
                dst.sendall(d)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        with self.mu:
            self.closing = True
            socks = list(self.socks)
        try:
            self.ls.close()
        except OSError:
            pass
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def free_port():
    """A port that was free a moment ago: bind 127.0.0.1:0, read, close.
    Racy by nature (another process may take it before the node binds it);
    on a test machine the kernel hands out ephemeral ports round-robin, so a
    collision within the next second is very unlikely, and a node that cannot
    bind fails the test loudly rather than silently."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def ip(i):
    """The i-th hostile source address, 127.0.0.2 upward, then 127.1.x.y."""
    if i < 250:
        return "127.0.0.%d" % (i + 2)
    i -= 250
    return "127.%d.%d.%d" % (1 + i // 62500, (i // 250) % 250 + 1, i % 250 + 2)


# -------------------------------------------------------------- processes

_PR_SET_PDEATHSIG = 1
try:
    _libc = ctypes.CDLL(None, use_errno=True)
except OSError:
    _libc = None


def _child_setup():
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


_live = {}   # pid -> Popen, every process still running, for emergency cleanup
_live_mu = threading.Lock()


def _emergency_cleanup():
    with _live_mu:
        procs = list(_live.values())
    for p in procs:
        if p.poll() is None:
            try:
                p.send_signal(signal.SIGTERM)
                p.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                try:
                    p.kill()
                    p.wait(5)
                except (OSError, subprocess.TimeoutExpired):
                    pass


atexit.register(_emergency_cleanup)


class Node:
    """One peerchaind process. args are extra flags; the harness adds
    --network regtest --bind 127.0.0.1 --p2p-port --port-file."""

    def __init__(self, harness, name, args=(), port=0, peers=(), env=None, network="regtest",
                 bind="127.0.0.1", use_port_flag=True):
        self.h = harness
        self.name = name
        self.extra = list(args)
        self.req_port = port
        self.peers = list(peers)
        self.env = env
        self.network = network
        self.bind = bind
        self.use_port_flag = use_port_flag
        self.dir = tempfile.mkdtemp(prefix=name + "-", dir=harness.tmp)
        self.port_file = os.path.join(self.dir, "port")
        self.api_port_file = os.path.join(self.dir, "api-port")
        self.api_port = None
        self.log_path = os.path.join(self.dir, "stderr.log")
        # Each node keeps its chain in its own temp dir (never $HOME), kept
        # across restarts of the same Node so that storage is exercised.
        self.datadir = os.path.join(self.dir, "data")
        self.proc = None
        self.port = None
        self.runs = 0

    def argv(self):
        a = [self.h.peerchaind, "--network", self.network, "--bind", self.bind,
             "--log-level", "debug", "--datadir", self.datadir]
        if self.use_port_flag:
            a += ["--p2p-port", str(self.req_port)]
        for p in self.peers:
            a += ["--peer", p]
        a += self.api_args()
        # --port-file last: test_cli checks the flag order separately.
        return a + self.extra + ["--port-file", self.port_file]

    def has_api(self):
        return "--no-api" not in self.extra

    def api_args(self):
        """The HTTP API on an ephemeral port (many nodes share 127.0.0.1),
        written to api_port_file; unless the test chose a port itself (a flag
        in args, or HTTP_PORT in env) or turned the API off."""
        if not self.has_api():
            return []
        chose = any(x == "--api-port" or x.startswith("--api-port=") for x in self.extra)
        chose = chose or bool(self.env and "HTTP_PORT" in self.env)
        return ([] if chose else ["--api-port", "0"]) + ["--api-port-file", self.api_port_file]

    def start(self, wait=True):
        if self.proc is not None and self.proc.poll() is None:
            raise TestFailure("%s already running" % self.name)
        for f in (self.port_file, self.api_port_file):
            try:
                os.unlink(f)
            except FileNotFoundError:
                pass
        self.runs += 1
        env = dict(os.environ)
        if self.env:
            env.update(self.env)
        logf = open(self.log_path, "ab")
        logf.write(("==== run %d: %s\n" % (self.runs, " ".join(self.argv()))).encode())
        logf.flush()
        self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=logf,
                                     stderr=logf, env=env, preexec_fn=_child_setup)
        logf.close()
        with _live_mu:
            _live[self.proc.pid] = self.proc
        self.h.nodes.append(self) if self not in self.h.nodes else None
        if wait:
            self.wait_listening()
        return self

    def wait_listening(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise TestFailure("%s exited with %s before listening" % (
                    self.name, self.proc.returncode))
            try:
                with open(self.port_file) as f:
                    txt = f.read().strip()
                if txt and self.has_api():
                    with open(self.api_port_file) as f:
                        self.api_port = int(f.read().strip())
                if txt:
                    self.port = int(txt)
                    return self.port
            except (FileNotFoundError, ValueError):
                pass
            time.sleep(0.05)
        raise TestFailure("%s wrote no port file within %.0f s" % (self.name, timeout))

    @property
    def addr(self):
        return "127.0.0.1:%d" % self.port

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def _forget(self):
        with _live_mu:
            _live.pop(self.proc.pid, None)

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Stops by PID with sig and checks a clean exit (code 0, no
        sanitizer report). Records checks in the harness; returns the code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                self._forget()
                self.h.check(False, "%s exits within %.0f s of %s" % (
                    self.name, timeout, signal.Signals(sig).name), "had to SIGKILL it")
                return self.proc.returncode
        self._forget()
        rc = self.proc.returncode
        self.h.check(rc == 0, "%s exits 0 after %s" % (self.name, signal.Signals(sig).name),
                     "exit code %s" % rc)
        self.check_sanitizers()
        return rc

    def kill(self):
        """SIGKILL on purpose (a crash test); no exit-code check."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._forget()
        self.check_sanitizers()

    def log(self):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def check_sanitizers(self):
        text = self.log()
        bad = [m for m in SANITIZER_MARKERS if m in text]
        self.h.check(not bad, "%s log has no sanitizer report" % self.name, ", ".join(bad))

    # ---- wire shortcuts ----

    def tip(self, timeout=10.0):
        return tip_of(self.port, timeout, self.network)

    def offer(self, blocks, **kw):
        kw.setdefault("network", self.network)
        return offer_blocks(self.port, blocks, **kw)

    def wait_tip(self, block, timeout=30.0):
        return wait_tip(self.port, height=block["height"], hash_=block["hash"], timeout=timeout,
                        what="%s to reach height %d %s" % (self.name, block["height"],
                                                           block["hash"][:16]),
                        network=self.network)


# ---------------------------------------------------------------- harness

class Harness:
    """Counts checks, owns the temp dir and every node; prints one line per
    check and 'N passed, M failed' at the end; exit code 1 on any failure."""

    def __init__(self, name):
        self.name = name
        bin_dir = None
        argv = sys.argv[1:]
        for i, a in enumerate(argv):
            if a == "--bin-dir" and i + 1 < len(argv):
                bin_dir = argv[i + 1]
            elif a.startswith("--bin-dir="):
                bin_dir = a.split("=", 1)[1]
        if bin_dir is None:
            bin_dir = os.environ.get("PC_BIN_DIR", os.path.join(REPO, "build"))
        self.peerchaind = os.path.join(os.path.abspath(bin_dir), "peerchaind")
        self.tmp = tempfile.mkdtemp(prefix="pc-it-%s-" % name)
        self.keep_tmp = os.environ.get("PC_KEEP_TMP") == "1"
        self.nodes = []
        self.passed = 0
        self.failed = 0
        self.t0 = time.monotonic()
        signal.signal(signal.SIGTERM, self._on_signal)

    def _on_signal(self, signum, frame):
        raise SystemExit("killed by signal %d" % signum)

    def check(self, cond, what, detail=None):
        if cond:
            self.passed += 1
            print("ok   %s" % what, flush=True)
        else:
            self.failed += 1
            print("FAIL %s%s" % (what, (": %s" % (detail,)) if detail is not None else ""), flush=True)
        return bool(cond)

    def info(self, msg):
        print("     %s" % msg, flush=True)

    def node(self, name, args=(), start=True, **kw):
        n = Node(self, name, args, **kw)
        self.nodes.append(n)
        if start:
            n.start()
        return n

    def step(self, label, fn, *a, **kw):
        """Runs fn; an exception is one failed check named `label` (the test
        goes on with the next step). Returns fn's result or None."""
        try:
            r = fn(*a, **kw)
        except (TestFailure, OSError, ValueError, KeyError, TypeError, AssertionError) as e:
            self.check(False, label, "%s: %s" % (type(e).__name__, e))
            return None
        self.check(True, label)
        return r

    def finish(self):
        for n in self.nodes:
            if n.running():
                n.stop()
        if self.failed:
            for n in self.nodes:
                text = n.log()
                lines = text.splitlines()
                print("---- %s log (%s, last 150 of %d lines) ----" % (
                    n.name, n.log_path, len(lines)))
                for line in lines[-150:]:
                    print("  " + line)
        print("%s: %d passed, %d failed (%.1f s)" % (self.name, self.passed, self.failed,
                                                     time.monotonic() - self.t0))
        print("%d passed, %d failed" % (self.passed, self.failed), flush=True)
        if not self.failed and not self.keep_tmp:
            import shutil
            shutil.rmtree(self.tmp, ignore_errors=True)
        return 1 if self.failed else 0

    def run(self, main):
        """Runs main(self) and exits with the verdict. An exception ends the
        test as one failed check; every node is still stopped by PID."""
        if not os.access(self.peerchaind, os.X_OK):
            self.check(False, "peerchaind exists at %s" % self.peerchaind)
            sys.exit(self.finish())
        try:
            main(self)
        except BaseException as e:  # noqa: B902 - report anything, then clean up
            self.check(False, "test body ran to the end", "%s: %s" % (type(e).__name__, e))
            traceback.print_exc()
        sys.exit(self.finish())


def fetch_genesis(port, network="regtest"):
    """The node's genesis block via allBlock {"from":1,"limit":1}."""
    with Client(port, network=network) as c:
        c.hello()
        page = c.all_blocks({"from": 1, "limit": 1})
    if not page:
        raise TestFailure("node returned no genesis")
    return page[0]


if __name__ == "__main__":
    # `python3 pclib.py` self-tests the block builder (no node needed).
    results = self_test()
    failed = 0
    for ok, msg in results:
        print(("ok   " if ok else "FAIL ") + msg)
        failed += 0 if ok else 1
    g = regtest_genesis()
    print("     regtest genesis: nonce %d hash %s merkle %s" % (g["nonce"], g["hash"],
                                                               g["merkleRoot"]))
    print("%d passed, %d failed" % (len(results) - failed, failed))
    sys.exit(1 if failed else 0)
