#!/usr/bin/env python3
"""
Blocks at the edges of the rules, offered over the wire (include/peerchain/
limits.h and block.h until docs/protocol.md Part 1 is written):

  accepted: empty data (merkle = 32 zero bytes), odd item counts (the odd
  node carried up), Unicode sent raw and as \\u escapes (surrogate pairs),
  quotes/backslashes/newlines/braces in data, exactly 1000 items, one item of
  exactly 65536 bytes, exactly 1 MiB of data, a nonce near 2^53-1;
  rejected (and the sender banned): 1001 items, a 65537-byte item, 1 MiB + 1
  in all, a non-string item, nonce 2^53, difficulty and height as strings.

Then paging: a chain longer than one 2000-block page is served in pages by
allBlock and synced by a fresh node; blocks of 1 MiB are served in pages that
each fit in one 4 MiB frame.

How this fails if the rules are wrong: an edge block is refused (merkle over
the wrong bytes, off-by-one limit), a too-big block is accepted, a page of big
blocks overflows a frame, or a fresh node stops at 2000 blocks.
"""

import json
import signal
import time

import pclib
from pclib import Chain

MAX_ITEMS = 1000
MAX_ITEM = 65536
MAX_DATA = 1048576
FRAME = 4 * 1024 * 1024


class Ctx:
    def __init__(self, h):
        self.h = h
        self.node = h.node("blocks")
        self.chain = Chain()
        self.n_ip = 0

    def ip(self):
        self.n_ip += 1
        return pclib.ip(100 + self.n_ip)


def offer_text(ctx, label, text, expect_ok, tip_if_ok=None, rule=None):
    """Sends one allBlock/latestBlock frame as raw text from a fresh
    address; checks acceptance (tip moves to tip_if_ok) or rejection (error,
    close, tip unchanged)."""
    h = ctx.h
    src = ctx.ip()
    before = ctx.chain.tip["hash"]
    with pclib.Client(ctx.node.port, source=src, timeout=20) as c:
        c.hello()
        c.send_raw(text)
        if expect_ok:
            try:
                got = c.latest_block(20)
            except pclib.TestFailure as e:
                got = None
                h.info("%s: %s" % (label, e))
            h.check(got is not None and got["hash"] == tip_if_ok["hash"],
                    "%s: accepted (tip moves to it)" % label, got and got.get("hash"))
            if got is not None and got["hash"] == tip_if_ok["hash"]:
                ctx.chain.append(tip_if_ok)
            return
        closed, seen = c.wait_closed(20)
    errs = [m.get("payload") for m in seen if m.get("type") == "error"]
    h.check(errs and closed, "%s: rejected with error and disconnect" % label,
            [m.get("type") for m in seen])
    t = pclib.try_tip(ctx.node.port)
    h.check(t is not None and t["hash"] == before, "%s: tip unchanged" % label,
            t and t.get("height"))
    if rule is not None:
        # At score 100 the code is 'banned'; the failed rule is in the reason.
        e = errs[-1] if errs and isinstance(errs[-1], dict) else {}
        h.check(e.get("code") == rule or rule in str(e.get("reason", "")),
                "%s: rejected for the intended rule %s" % (label, rule), e)


def block_with(ctx, data, **over):
    c = ctx.chain
    b = pclib.make_block(c.height + 1, c.next_timestamp(), c.tip["hash"], data,
                         c.tip["difficulty"])
    if over:
        b.update(over)
        pclib.mine(b, start_nonce=b["nonce"] if "nonce" in over else 0)
    return b


def msg(b, ensure_ascii=True):
    return json.dumps({"type": "latestBlock", "payload": b}, separators=(",", ":"),
                      ensure_ascii=ensure_ascii) + "\n"


def edge_blocks(ctx):
    h = ctx.h
    good = [
        ("empty data", []),
        ("three items (odd node carried up)", ["a", "b", "c"]),
        ("five items", ["1", "2", "3", "4", "5"]),
        ("quotes, backslashes, newline, tab, braces",
         ['say "hi"\\', "line\nbreak\ttab", "}{][", "\\u0041 is not A here"]),
        ("an empty string item", [""]),
    ]
    for label, data in good:
        b = block_with(ctx, data)
        h.check(b["merkleRoot"] == pclib.merkle_root(data), "pclib merkle for %s" % label)
        offer_text(ctx, "valid block, %s" % label, msg(b), True, b)
    uni = ["h\u00e9llo", "\u65e5\u672c\u8a9e", "\U0001F600 grin", "\u00ff\u0100\u07ff\u0800"]
    b = block_with(ctx, uni)
    offer_text(ctx, "valid block, Unicode as \\u escapes (surrogate pairs)", msg(b, True), True, b)
    b = block_with(ctx, uni[::-1])
    offer_text(ctx, "valid block, Unicode as raw UTF-8", msg(b, False), True, b)
    b = block_with(ctx, ["x"] * MAX_ITEMS)
    offer_text(ctx, "valid block, exactly %d items" % MAX_ITEMS, msg(b), True, b)
    b = block_with(ctx, ["y" * MAX_ITEM])
    offer_text(ctx, "valid block, one item of exactly %d bytes" % MAX_ITEM, msg(b), True, b)
    b = block_with(ctx, ["z" * MAX_ITEM] * (MAX_DATA // MAX_ITEM))
    offer_text(ctx, "valid block, exactly %d data bytes" % MAX_DATA, msg(b), True, b)
    # Multi-byte characters count as bytes, not characters: 32768 two-byte
    # characters are 65536 bytes (allowed).
    b = block_with(ctx, ["\u00e9" * (MAX_ITEM // 2)])
    offer_text(ctx, "valid block, 65536 bytes of 2-byte characters", msg(b), True, b)
    c = ctx.chain
    b = pclib.make_block(c.height + 1, c.next_timestamp(), c.tip["hash"], ["big nonce"],
                         c.tip["difficulty"], start_nonce=pclib.MAX_SAFE_INTEGER - 200000)
    h.check(b["nonce"] <= pclib.MAX_SAFE_INTEGER, "pclib found a nonce below 2^53", b["nonce"])
    offer_text(ctx, "valid block, nonce near 2^53-1 (%d)" % b["nonce"], msg(b), True, b)

    bad = [
        ("%d items" % (MAX_ITEMS + 1), ["x"] * (MAX_ITEMS + 1)),
        ("an item of %d bytes" % (MAX_ITEM + 1), ["y" * (MAX_ITEM + 1)]),
        ("an item of 32769 2-byte characters (65538 bytes)", ["\u00e9" * (MAX_ITEM // 2 + 1)]),
        ("%d data bytes in all" % (MAX_DATA + 1), ["z" * MAX_ITEM] * (MAX_DATA // MAX_ITEM) + ["!"]),
    ]
    for label, data in bad:
        b = block_with(ctx, data)
        offer_text(ctx, "invalid block, %s" % label, msg(b), False, rule="too-large")
    b = block_with(ctx, ["n"])
    b["data"] = [1]
    offer_text(ctx, "invalid block, a number as a data item", msg(b), False, rule="bad-type")
    b = block_with(ctx, ["n"])
    text = msg(b).replace('"nonce":%d' % b["nonce"], '"nonce":9007199254740992')
    offer_text(ctx, "invalid block, nonce 2^53", text, False, rule="out-of-range")
    b = block_with(ctx, ["s"])
    text = msg(b).replace('"difficulty":4', '"difficulty":"4"')
    offer_text(ctx, "invalid block, difficulty as a string", text, False, rule="bad-type")
    b = block_with(ctx, ["s"])
    text = msg(b).replace('"height":%d' % b["height"], '"height":%d.0' % b["height"])
    offer_text(ctx, "invalid block, height as %d.0" % b["height"], text, False, rule="bad-type")
    b = block_with(ctx, ["u"])
    text = msg(b).replace('"hash":"%s"' % b["hash"], '"hash":"%s"' % b["hash"].upper())
    offer_text(ctx, "invalid block, hash in uppercase hex", text, False, rule="bad-hex")
    b = block_with(ctx, ["m"])
    del b["merkleRoot"]
    offer_text(ctx, "invalid block, merkleRoot missing", msg(b), False, rule="missing-field")


def time_rules(ctx):
    """Timestamps: strictly after the median of the last 11 (equal is too
    old, +1 is fine, going backwards above the median is fine), and at most
    7200 s ahead of the node's clock (a minute inside is fine). Same machine,
    so the clocks agree to well within the minute of slack."""
    h = ctx.h
    c = ctx.chain
    b = block_with(ctx, ["mtp+1"])
    b["timestamp"] = c.mtp() + 1
    pclib.mine(b)
    h.check(b["timestamp"] < c.tip["timestamp"], "setup: median + 1 is below the parent's time",
            (b["timestamp"], c.tip["timestamp"]))
    offer_text(ctx, "valid block, timestamp = median time past + 1, below its parent's", msg(b),
               True, b)
    b = block_with(ctx, ["mtp"])
    b["timestamp"] = ctx.chain.mtp()
    pclib.mine(b)
    offer_text(ctx, "invalid block, timestamp = median time past", msg(b), False,
               rule="time-too-old")
    b = block_with(ctx, ["near future"])
    b["timestamp"] = int(time.time()) + pclib.MAX_FUTURE_SECONDS - 60
    pclib.mine(b)
    offer_text(ctx, "valid block, timestamp now + 7200 - 60", msg(b), True, b)
    b = block_with(ctx, ["far future"])
    b["timestamp"] = int(time.time()) + pclib.MAX_FUTURE_SECONDS + 60
    pclib.mine(b)
    # Too far ahead is dropped but not held against the sender (it may become
    # valid as clocks move): no error, no disconnect, tip unchanged.
    before = ctx.chain.tip["hash"]
    with pclib.Client(ctx.node.port, source=ctx.ip(), timeout=20) as c:
        c.hello()
        c.send_raw(msg(b))
        got = h.step("block at now + 7200 + 60: the sender is still served", c.latest_block, 20)
        h.check(got is not None and got["hash"] == before,
                "block at now + 7200 + 60: not accepted (tip unchanged)", got and got.get("height"))


def fork_context(h):
    """A fork is validated against its own ancestors, not our chain's: a
    fork whose timestamps would be too old against our chain's median but
    are fine on the fork is adopted; a fork block that is fine against our
    chain's median but too old on the fork is rejected."""
    node = h.node("fork-ctx")
    ours = Chain()
    for i in range(20):                       # our chain: 1000 s steps
        p = ours.tip
        ours.append(pclib.make_block(p["height"] + 1, p["timestamp"] + 1000, p["hash"],
                                     ["ours %d" % i], 4))
    node.offer(ours.range(2, ours.height))
    h.step("fork-ctx loads a 21-block chain with 1000 s steps", node.wait_tip, ours.tip)
    fork = Chain()
    for i in range(24):                       # the fork: 1 s steps from genesis
        p = fork.tip
        fork.append(pclib.make_block(p["height"] + 1, p["timestamp"] + 1, p["hash"],
                                     ["fork %d" % i], 4))
    h.check(fork.at(15)["timestamp"] <= ours.mtp(14),
            "setup: fork timestamps are below our chain's median at the same height")
    t = node.offer(fork.range(2, fork.height))
    h.check(t is not None and t["hash"] == fork.tip["hash"],
            "a heavier fork valid on its own ancestors is adopted", t and t.get("height"))
    # The other way round: node2 holds the 1 s-step chain (median at 13 is
    # genesis + 7). A branch forking at 2 with huge timestamps has a median
    # near genesis + 100000 at 13; its block 14 at genesis + 50000 is fine
    # against node2's chain but too old on its own branch.
    node2 = h.node("fork-ctx2")
    node2.offer(fork.range(2, fork.height))
    h.step("fork-ctx2 loads the 1 s-step chain", node2.wait_tip, fork.tip)
    g_ts = fork.at(1)["timestamp"]
    bad = fork.prefix(2)
    for i in range(11):                       # heights 3..13
        p = bad.tip
        bad.append(pclib.make_block(p["height"] + 1, g_ts + 100000 + i, p["hash"],
                                    ["high %d" % i], 4))
    h.check(fork.mtp(13) < g_ts + 50000 <= bad.mtp(13),
            "setup: block 14's time is above node2's median, not above the branch's",
            (fork.mtp(13), g_ts + 50000, bad.mtp(13)))
    bad.blocks.append(pclib.make_block(14, g_ts + 50000, bad.tip["hash"],
                                       ["too old on its branch"], 4))
    for i in range(15):
        p = bad.tip
        bad.blocks.append(pclib.make_block(p["height"] + 1, g_ts + 100020 + i, p["hash"],
                                           ["after %d" % i], 4))
    h.check(bad.validate() is not None and "14" in bad.validate() and
            bad.height > fork.height,
            "setup: the longer branch is invalid by pclib's rules at 14", bad.validate())
    src = "127.0.0.60"
    with pclib.Client(node2.port, source=src) as c:
        c.hello()
        c.send("allBlock", bad.range(2, bad.height))
        closed, seen = c.wait_closed(15)
    errs = [m.get("payload") for m in seen if m.get("type") == "error"]
    h.check(closed and errs and "time-too-old" in json.dumps(errs),
            "a fork block too old on its own branch is rejected (time-too-old)", errs)
    t = pclib.try_tip(node2.port)
    h.check(t is not None and t["hash"] == fork.tip["hash"], "and the tip is unchanged",
            t and t.get("height"))
    node.stop()
    node2.stop()


def max_frame_seen(port, payload, pages=100):
    """Pages through allBlock from `payload`; returns (blocks, biggest page
    re-serialised compactly, which is the size of the node's frame to within
    escaping differences, and the (count, bytes) of each page)."""
    out, biggest = [], 0
    with pclib.Client(port, timeout=30) as c:
        c.hello()
        sizes = []
        frm = payload.get("from", 1)
        for _ in range(pages):
            c.send("allBlock", {"from": frm, "limit": 2000})
            page = c.wait_for("allBlock", 30, pred=lambda p: isinstance(p, list))
            if not page:
                break
            size = len(json.dumps({"type": "allBlock", "payload": page}, separators=(",", ":"),
                                  ensure_ascii=False).encode("utf-8"))
            sizes.append((len(page), size))
            biggest = max(biggest, size)
            out.extend(page)
            frm = page[-1]["height"] + 1
    return out, biggest, sizes


def paging(ctx):
    h = ctx.h
    node = ctx.node
    # 1 MiB blocks: each page must fit in one 4 MiB frame.
    for i in range(5):
        b = block_with(ctx, [("%d" % i) * MAX_ITEM] * (MAX_DATA // MAX_ITEM))
        offer_text(ctx, "1 MiB block %d" % (i + 1), msg(b), True, b)
    blocks, biggest, sizes = max_frame_seen(node.port, {"from": 1})
    h.info("allBlock pages (blocks, approx bytes): %s" % sizes)
    h.check([b["hash"] for b in blocks] == [b["hash"] for b in ctx.chain.blocks],
            "paging allBlock returns the whole chain of big blocks", len(blocks))
    h.check(biggest <= FRAME, "every allBlock page fits in one 4 MiB frame", biggest)
    with pclib.Client(node.port, timeout=30) as c:
        c.hello()
        first = c.all_blocks({}, 30)
    h.check(first and first[0]["height"] == 1 and len(first) < len(ctx.chain.blocks),
            "allBlock {} stops early when big blocks would overflow a frame",
            first and len(first))
    fresh = h.node("blocks-fresh", peers=[node.addr])
    h.step("a fresh node syncs the big blocks (pages fit in frames)", fresh.wait_tip,
           ctx.chain.tip, 60)
    fresh.stop()

    # Longer than one 2000-block page.
    n_more = 2100
    more = []
    for _ in range(n_more):
        more.append(ctx.chain.append(ctx.chain.build_next(data=["p"])))
    for i in range(0, n_more, 700):
        node.offer(more[i:i + 700])
    h.step("node takes %d more blocks in allBlock offers of 700" % n_more, node.wait_tip,
           ctx.chain.tip, 60)
    with pclib.Client(node.port, timeout=30) as c:
        c.hello()
        page = c.all_blocks({}, 30)
        h.check(page and len(page) <= 2000 and page[0]["height"] == 1,
                "allBlock {} returns at most 2000 blocks from genesis", page and len(page))
        page = c.all_blocks({"from": 5, "limit": 3}, 30)
        h.check([b["height"] for b in page] == [5, 6, 7], "allBlock {from:5,limit:3}",
                [b["height"] for b in page])
        page = c.all_blocks({"from": 1, "limit": 5000}, 30)
        h.check(page and len(page) <= 2000, "allBlock limit is capped at 2000",
                page and len(page))
    full = h.step("paging with from past the last block reads the whole chain",
                  pclib.whole_chain, node.port)
    if full:
        h.check([b["hash"] for b in full] == [b["hash"] for b in ctx.chain.blocks],
                "the paged chain is the chain, block for block (%d blocks)" % ctx.chain.height)
    fresh = h.node("blocks-fresh2", peers=[node.addr])
    h.step("a fresh node syncs all %d blocks (more than one getBlocks page)" % ctx.chain.height,
           fresh.wait_tip, ctx.chain.tip, 90)
    fresh.stop()
    # SIGTERM in the middle of a sync: still a clean exit 0 (checked by stop).
    for i in range(3):
        fresh = h.node("blocks-midsync%d" % i, peers=[node.addr])
        time.sleep(0.05 * i)
        fresh.stop()


def main(h):
    ctx = Ctx(h)
    edge_blocks(ctx)
    time_rules(ctx)
    fork_context(h)
    paging(ctx)
    ctx.node.stop()


if __name__ == "__main__":
    pclib.Harness("blocks").run(main)
