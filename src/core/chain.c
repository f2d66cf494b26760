/*
 * The chain, contextual validation and fork choice (chain.h;
 * docs/protocol.md Part 1).
 *
 * Layout: a chain is a block run (ent[h - 1] holds the hash, timestamp,
 * difficulty and cumulative work of the block at height h; in full mode
 * blocks[h - 1] is the block itself) plus a hash index mapping each block's
 * hash to its height. Invariants, kept by every function that changes a
 * chain: len >= 1 (genesis is always there), ent[i] describes the block at
 * height i + 1, whose previousHash is ent[i - 1].hash, ent[i].work =
 * ent[i - 1].work + 2^ent[i].difficulty, and the index holds exactly the len
 * hashes.
 *
 * Index mode (pc_chain_new_index) keeps no blocks[] at all, only ent[] and
 * the tip block in full (c->tip). Everything validation and fork choice read
 * (median time past, retarget windows, links, work) is in ent[], so both
 * modes share every rule. Between pc_chain_load_header and pc_chain_load_tip
 * c->tip is NULL; nothing but those two may run then.
 *
 * A branch is a block run hung off a fork height. Validation of the next
 * block reads its ancestors through a "view": heights above the fork from
 * the branch, the rest from the chain, so a branch is checked against the
 * ancestors it really builds on, not against our tip.
 *
 * Pure: time comes in as `now`; no globals, no locks. Not thread-safe.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "block_internal.h"
#include "hash_index.h"
#include "peerchain/chain.h"
#include "peerchain/limits.h"

/* What validation and fork choice need of one block. */
struct run_entry {
    pc_hash hash;
    pc_work work; /* cumulative work through this block */
    int64_t timestamp;
    uint32_t difficulty;
};

/* Blocks in height order with the cumulative work through each: the body
 * of a chain (from genesis) and of a branch (from just above its fork). */
struct block_run {
    struct run_entry *ent; /* ent[i] describes the block at the run's i-th height */
    pc_block **blocks;     /* owned; NULL for the run of an index-mode chain */
    size_t len;
    size_t cap; /* slots in ent[] (and blocks[] if kept) */
    bool has_blocks;
};

struct pc_chain {
    const pc_network *net;
    struct block_run run; /* run.ent[h - 1] is height h; run.len is the tip height */
    struct hash_index index;
    pc_block *tip; /* index mode: the tip block, owned (NULL while loading); else NULL */
    bool is_index;
};

struct pc_branch {
    uint64_t fork_height; /* the last block shared with the chain */
    pc_hash fork_hash;    /* its hash, to notice when the chain moved */
    pc_work fork_work;    /* cumulative work through the fork block */
    struct block_run run; /* run.blocks[i] is height fork_height + 1 + i */
};

/* ---- rules as pure functions ---- */

bool pc_is_retarget_height(const pc_network *net, uint64_t parent_height)
{
    uint64_t n = net->retarget_interval;
    return n != 0 && parent_height >= n + 1 && (parent_height - 1) % n == 0;
}

static int64_t chain_clamp_ts(int64_t ts)
{
    if (ts < 0)
        return 0;
    return ts > PC_MAX_SAFE_INTEGER ? PC_MAX_SAFE_INTEGER : ts;
}

uint32_t pc_retarget(const pc_network *net, uint64_t parent_height, uint32_t parent_difficulty,
                     int64_t parent_ts, int64_t window_start_ts)
{
    int64_t n = net->retarget_interval;
    int64_t actual, expected;

    /* A network is a constant, not input. */
    assert(net->target_spacing_s >= 1);
    if (!pc_is_retarget_height(net, parent_height))
        return parent_difficulty;
    /* Valid blocks have timestamps in 0..2^53-1; clamping makes any other
     * input defined without changing a valid result. actual may be
     * negative: timestamps only have to beat the median time past. */
    actual = chain_clamp_ts(parent_ts) - chain_clamp_ts(window_start_ts);
    /* Saturate so that 2 * expected cannot overflow either. */
    expected =
        net->target_spacing_s > (INT64_MAX / 4) / n ? INT64_MAX / 4 : n * net->target_spacing_s;
    if (2 * actual < expected)
        return parent_difficulty >= PC_MAX_DIFFICULTY ? PC_MAX_DIFFICULTY : parent_difficulty + 1;
    if (actual > 2 * expected) {
        uint32_t d = parent_difficulty > 0 ? parent_difficulty - 1 : 0;
        return d < net->min_difficulty ? net->min_difficulty : d;
    }
    return parent_difficulty;
}

/*
 * Selection by counting: the element with fewer than n/2 + 1 elements below
 * it and at least that many at or below it is the one at index n/2 once
 * sorted. O(n^2) compares but no copy and no allocation, which suits the
 * 11-element window (121 compares) and lets the function take const input
 * and never fail.
 */
int64_t pc_median_time(const int64_t *ts, size_t n)
{
    size_t k = n / 2;

    assert(n >= 1);
    for (size_t i = 0; i < n; i++) {
        size_t below = 0, equal = 0;
        for (size_t j = 0; j < n; j++) {
            below += ts[j] < ts[i];
            equal += ts[j] == ts[i];
        }
        if (below <= k && k < below + equal)
            return ts[i];
    }
    assert(0 && "median not found");
    return ts[0];
}

/* ---- views: a chain, or a branch hung off it ---- */

struct chain_view {
    const pc_chain *c;
    const pc_branch *br; /* NULL: the chain alone */
};

static uint64_t view_height(const struct chain_view *v)
{
    return v->br ? v->br->fork_height + v->br->run.len : v->c->run.len;
}

/* Requires 1 <= h <= view_height(v). */
static const struct run_entry *view_at(const struct chain_view *v, uint64_t h)
{
    assert(h >= 1 && h <= view_height(v));
    if (v->br && h > v->br->fork_height)
        return &v->br->run.ent[h - v->br->fork_height - 1];
    return &v->c->run.ent[h - 1];
}

static int64_t view_median_time_past(const struct chain_view *v, uint64_t h)
{
    int64_t ts[PC_MTP_WINDOW_BLOCKS];
    size_t n = 0;

    for (uint64_t k = h; k >= 1 && n < PC_MTP_WINDOW_BLOCKS; k--)
        ts[n++] = view_at(v, k)->timestamp;
    return pc_median_time(ts, n);
}

static uint32_t view_next_difficulty(const struct chain_view *v, uint64_t parent_height)
{
    const pc_network *net = v->c->net;
    const struct run_entry *parent = view_at(v, parent_height);
    const struct run_entry *start;

    if (!pc_is_retarget_height(net, parent_height))
        return parent->difficulty;
    start = view_at(v, parent_height - net->retarget_interval);
    return pc_retarget(net, parent_height, parent->difficulty, parent->timestamp, start->timestamp);
}

/* The full rule set for b as the next block of the view, in the documented
 * order (docs/protocol.md, "Validation order"). */
static int view_check_next(const struct chain_view *v, const pc_block *b, int64_t now,
                           struct pc_err *err)
{
    uint64_t ph = view_height(v);
    const struct run_entry *parent = view_at(v, ph);
    uint32_t want;
    int64_t mtp;
    int rc;

    rc = block_check_form(b, err);
    if (rc != PC_OK)
        return rc;
    if (b->height != ph + 1)
        return pc_err_set(err, PC_E_HEIGHT,
                          "block %" PRIu64 ": height is not parent height %" PRIu64 " + 1",
                          b->height, ph);
    if (!pc_hash_equal(&b->previous_hash, &parent->hash))
        return pc_err_set(err, PC_E_PREV_HASH,
                          "block %" PRIu64 ": previousHash is not the hash of block %" PRIu64,
                          b->height, ph);
    rc = block_check_proof(b, err);
    if (rc != PC_OK)
        return rc;
    want = view_next_difficulty(v, ph);
    if (b->difficulty != want)
        return pc_err_set(err, PC_E_DIFFICULTY,
                          "block %" PRIu64 ": difficulty %" PRIu32 ", expected %" PRIu32, b->height,
                          b->difficulty, want);
    mtp = view_median_time_past(v, ph);
    if (b->timestamp <= mtp)
        return pc_err_set(err, PC_E_TIME_OLD,
                          "block %" PRIu64 ": timestamp %" PRId64
                          " not after median time past %" PRId64,
                          b->height, b->timestamp, mtp);
    /* Subtract rather than add: b->timestamp is range-checked, now is not. */
    if (b->timestamp - PC_MAX_FUTURE_SECONDS > now)
        return pc_err_set(err, PC_E_TIME_FUTURE,
                          "block %" PRIu64 ": timestamp %" PRId64
                          " more than %d s after now %" PRId64,
                          b->height, b->timestamp, PC_MAX_FUTURE_SECONDS, now);
    return PC_OK;
}

/* ---- block runs ---- */

static int run_reserve(struct block_run *r, size_t need)
{
    size_t cap = r->cap ? r->cap : 16;
    struct run_entry *ent;

    if (need <= r->cap)
        return PC_OK;
    while (cap < need) {
        if (cap > SIZE_MAX / 2 / sizeof(struct run_entry))
            return PC_E_NOMEM;
        cap *= 2;
    }
    if (r->has_blocks) {
        pc_block **blocks = realloc(r->blocks, cap * sizeof *blocks);
        if (!blocks)
            return PC_E_NOMEM;
        r->blocks = blocks;
    }
    /* If this one fails, the larger blocks[] is harmless: cap still says
     * how many slots both arrays have. */
    ent = realloc(r->ent, cap * sizeof *ent);
    if (!ent)
        return PC_E_NOMEM;
    r->ent = ent;
    r->cap = cap;
    return PC_OK;
}

/* Appends an entry for a block with this hash, timestamp and difficulty on
 * top of cumulative work `below`. Requires room (reserved by the caller, so
 * this cannot fail half way). */
static void run_push_entry(struct block_run *r, const pc_hash *hash, int64_t ts,
                           uint32_t difficulty, const pc_work *below)
{
    struct run_entry *e;

    assert(r->len < r->cap);
    e = &r->ent[r->len];
    e->hash = *hash;
    e->timestamp = ts;
    e->difficulty = difficulty;
    e->work = *below;
    pc_work_add_pow2(&e->work, difficulty);
    if (r->has_blocks)
        r->blocks[r->len] = NULL;
    r->len++;
}

/* Appends b (kept if the run keeps blocks, else only described). */
static void run_push(struct block_run *r, pc_block *b, const pc_work *below)
{
    run_push_entry(r, &b->hash, b->timestamp, b->difficulty, below);
    if (r->has_blocks)
        r->blocks[r->len - 1] = b;
}

static void run_destroy(struct block_run *r)
{
    if (r->has_blocks)
        for (size_t i = 0; i < r->len; i++)
            pc_block_free(r->blocks[i]);
    free(r->blocks);
    free(r->ent);
}

/* ---- the chain ---- */

/* Appends b at height len + 1 and indexes it. In index mode b becomes the
 * tip block and the previous tip is freed. Requires room in the run and the
 * index (chain_reserve). */
static void chain_push(pc_chain *c, pc_block *b)
{
    pc_work below;
    int rc;

    assert(b->height == c->run.len + 1);
    if (c->run.len)
        below = c->run.ent[c->run.len - 1].work;
    else
        pc_work_zero(&below);
    run_push(&c->run, b, &below);
    rc = hash_index_put(&c->index, &b->hash, b->height);
    assert(rc == PC_OK); /* reserved */
    (void)rc;
    if (c->is_index) {
        pc_block_free(c->tip);
        c->tip = b;
    }
}

static int chain_reserve(pc_chain *c, size_t n)
{
    int rc = run_reserve(&c->run, n);
    if (rc != PC_OK)
        return rc;
    return hash_index_reserve(&c->index, n);
}

static pc_chain *chain_new(const pc_network *net, bool is_index)
{
    pc_chain *c = calloc(1, sizeof *c);
    pc_block *genesis = NULL;

    if (!c)
        return NULL;
    c->net = net;
    c->is_index = is_index;
    c->run.has_blocks = !is_index;
    hash_index_init(&c->index);
    genesis = pc_network_genesis(net);
    if (!genesis || chain_reserve(c, 1) != PC_OK)
        goto fail;
    chain_push(c, genesis);
    return c;
fail:
    pc_block_free(genesis);
    pc_chain_free(c);
    return NULL;
}

pc_chain *pc_chain_new(const pc_network *net)
{
    return chain_new(net, false);
}

pc_chain *pc_chain_new_index(const pc_network *net)
{
    return chain_new(net, true);
}

void pc_chain_free(pc_chain *c)
{
    if (!c)
        return;
    run_destroy(&c->run);
    hash_index_destroy(&c->index);
    pc_block_free(c->tip);
    free(c);
}

bool pc_chain_is_index(const pc_chain *c)
{
    return c->is_index;
}

int pc_chain_reserve(pc_chain *c, uint64_t height)
{
    if (height > SIZE_MAX / sizeof(struct run_entry))
        return PC_E_NOMEM;
    return chain_reserve(c, (size_t)height);
}

int pc_chain_load_header(pc_chain *c, const pc_hash *hash, int64_t ts, uint32_t difficulty)
{
    uint64_t h = c->run.len + 1;
    int rc;

    if (!c->is_index || difficulty > PC_MAX_DIFFICULTY || hash_index_get(&c->index, hash))
        return PC_E_ARG;
    rc = chain_reserve(c, c->run.len + 1);
    if (rc != PC_OK)
        return rc;
    run_push_entry(&c->run, hash, ts, difficulty, &c->run.ent[c->run.len - 1].work);
    rc = hash_index_put(&c->index, hash, h);
    assert(rc == PC_OK); /* reserved */
    /* The tip block is stale now; pc_chain_load_tip brings the new one. */
    pc_block_free(c->tip);
    c->tip = NULL;
    return PC_OK;
}

int pc_chain_load_tip(pc_chain *c, pc_block *tip)
{
    uint64_t len = c->run.len;

    if (!c->is_index || c->tip != NULL || tip->height != len ||
        !pc_hash_equal(&tip->hash, &c->run.ent[len - 1].hash) ||
        tip->timestamp != c->run.ent[len - 1].timestamp ||
        tip->difficulty != c->run.ent[len - 1].difficulty ||
        (len > 1 && !pc_hash_equal(&tip->previous_hash, &c->run.ent[len - 2].hash)))
        return PC_E_ARG;
    c->tip = tip;
    return PC_OK;
}

const pc_network *pc_chain_network(const pc_chain *c)
{
    return c->net;
}

uint64_t pc_chain_height(const pc_chain *c)
{
    return c->run.len;
}

const pc_block *pc_chain_tip(const pc_chain *c)
{
    return c->is_index ? c->tip : c->run.blocks[c->run.len - 1];
}

const pc_block *pc_chain_at(const pc_chain *c, uint64_t height)
{
    if (height < 1 || height > c->run.len)
        return NULL;
    if (c->is_index)
        return height == c->run.len ? c->tip : NULL;
    return c->run.blocks[height - 1];
}

const pc_block *pc_chain_find(const pc_chain *c, const pc_hash *h)
{
    return pc_chain_at(c, hash_index_get(&c->index, h));
}

int pc_chain_hash_at(const pc_chain *c, uint64_t height, pc_hash *out)
{
    if (height < 1 || height > c->run.len)
        return PC_E_NOT_FOUND;
    *out = c->run.ent[height - 1].hash;
    return PC_OK;
}

int pc_chain_find_height(const pc_chain *c, const pc_hash *h, uint64_t *height)
{
    uint64_t found = hash_index_get(&c->index, h);
    if (!found)
        return PC_E_NOT_FOUND;
    *height = found;
    return PC_OK;
}

void pc_chain_work(const pc_chain *c, pc_work *out)
{
    *out = c->run.ent[c->run.len - 1].work;
}

int pc_chain_work_at(const pc_chain *c, uint64_t height, pc_work *out)
{
    if (height < 1 || height > c->run.len)
        return PC_E_NOT_FOUND;
    *out = c->run.ent[height - 1].work;
    return PC_OK;
}

/* Heights outside 1..tip come from callers that may hold a peer's number:
 * clamp to the tip rather than read out of bounds. */
static uint64_t chain_clamp_height(const pc_chain *c, uint64_t height)
{
    if (height < 1)
        return 1;
    return height > c->run.len ? c->run.len : height;
}

int64_t pc_chain_median_time_past(const pc_chain *c, uint64_t height)
{
    struct chain_view v = {c, NULL};
    return view_median_time_past(&v, chain_clamp_height(c, height));
}

uint32_t pc_chain_next_difficulty(const pc_chain *c, uint64_t parent_height)
{
    struct chain_view v = {c, NULL};
    return view_next_difficulty(&v, chain_clamp_height(c, parent_height));
}

int pc_chain_check_next(const pc_chain *c, const pc_block *b, int64_t now, struct pc_err *err)
{
    struct chain_view v = {c, NULL};
    return view_check_next(&v, b, now, err);
}

int pc_chain_append(pc_chain *c, pc_block *b, int64_t now, struct pc_err *err)
{
    int rc = pc_chain_check_next(c, b, now, err);

    if (rc != PC_OK)
        return rc;
    rc = chain_reserve(c, c->run.len + 1);
    if (rc != PC_OK)
        return pc_err_set(err, rc, "block %" PRIu64 ": out of memory appending", b->height);
    chain_push(c, b);
    return PC_OK;
}

/* ---- branches ---- */

pc_branch *pc_branch_new(const pc_chain *c, uint64_t fork_height)
{
    pc_branch *br;

    if (fork_height < 1 || fork_height > c->run.len)
        return NULL;
    br = calloc(1, sizeof *br);
    if (!br)
        return NULL;
    br->fork_height = fork_height;
    br->fork_hash = c->run.ent[fork_height - 1].hash;
    br->fork_work = c->run.ent[fork_height - 1].work;
    br->run.has_blocks = true;
    return br;
}

void pc_branch_free(pc_branch *br)
{
    if (!br)
        return;
    run_destroy(&br->run);
    free(br);
}

uint64_t pc_branch_fork_height(const pc_branch *br)
{
    return br->fork_height;
}

size_t pc_branch_length(const pc_branch *br)
{
    return br->run.len;
}

const pc_block *pc_branch_tip(const pc_branch *br)
{
    return br->run.len ? br->run.blocks[br->run.len - 1] : NULL;
}

const pc_block *const *pc_branch_blocks(const pc_branch *br, size_t *n)
{
    *n = br->run.len;
    return (const pc_block *const *)br->run.blocks;
}

void pc_branch_work(const pc_branch *br, pc_work *out)
{
    *out = br->run.len ? br->run.ent[br->run.len - 1].work : br->fork_work;
}

/* The chain may have moved since the branch was started (another branch
 * adopted): the branch is only meaningful while its fork block is still
 * ours. Same block at the same height implies the same history below it,
 * so the remembered fork work is still right. */
static bool branch_fork_holds(const pc_branch *br, const pc_chain *c)
{
    return br->fork_height <= c->run.len &&
           pc_hash_equal(&c->run.ent[br->fork_height - 1].hash, &br->fork_hash);
}

static int branch_fork_error(const pc_branch *br, struct pc_err *err)
{
    return pc_err_set(err, PC_E_NO_FORK_POINT,
                      "block %" PRIu64 ": fork block is no longer in our chain", br->fork_height);
}

int pc_branch_extend(pc_branch *br, const pc_chain *c, pc_block *b, int64_t now, struct pc_err *err)
{
    struct chain_view v = {c, br};
    pc_work below;
    int rc;

    if (!branch_fork_holds(br, c))
        return branch_fork_error(br, err);
    rc = view_check_next(&v, b, now, err);
    if (rc != PC_OK)
        return rc;
    rc = run_reserve(&br->run, br->run.len + 1);
    if (rc != PC_OK)
        return pc_err_set(err, rc, "block %" PRIu64 ": out of memory extending branch", b->height);
    pc_branch_work(br, &below);
    run_push(&br->run, b, &below);
    return PC_OK;
}

bool pc_branch_beats(const pc_branch *br, const pc_chain *c)
{
    pc_work bw, cw;

    if (!branch_fork_holds(br, c))
        return false;
    pc_branch_work(br, &bw);
    pc_chain_work(c, &cw);
    return pc_work_cmp(&bw, &cw) > 0;
}

int pc_chain_adopt(pc_chain *c, pc_branch *br, pc_block ***old_out, size_t *n_old,
                   struct pc_err *err)
{
    pc_block **old = NULL;
    size_t keep, n_removed, new_len;

    if (old_out)
        *old_out = NULL;
    if (n_old)
        *n_old = 0;
    if (!branch_fork_holds(br, c))
        return branch_fork_error(br, err);
    if (!pc_branch_beats(br, c))
        return pc_err_set(err, PC_E_LESS_WORK,
                          "block %" PRIu64 ": branch does not have more work than our tip",
                          br->fork_height + br->run.len);
    keep = br->fork_height;
    n_removed = c->run.len - keep;
    new_len = keep + br->run.len;

    /* Allocate everything first: past this point nothing can fail, so the
     * chain is either untouched or fully switched. An index-mode chain has
     * no old blocks to hand back. */
    if (old_out && !c->is_index) {
        old = calloc(n_removed ? n_removed : 1, sizeof *old);
        if (!old)
            goto nomem;
    }
    /* Old entries leave the index before new ones enter, so new_len is
     * the most it will hold. */
    if (chain_reserve(c, new_len) != PC_OK)
        goto nomem;

    for (size_t i = keep; i < c->run.len; i++) {
        bool found = hash_index_del(&c->index, &c->run.ent[i].hash);
        assert(found);
        (void)found;
        if (c->is_index)
            continue; /* the old tip goes with the first chain_push */
        if (old)
            old[i - keep] = c->run.blocks[i];
        else
            pc_block_free(c->run.blocks[i]);
    }
    c->run.len = keep;
    for (size_t i = 0; i < br->run.len; i++)
        chain_push(c, br->run.blocks[i]);
    br->run.len = 0; /* the blocks are the chain's now */

    if (old) {
        *old_out = old;
        if (n_old)
            *n_old = n_removed;
    }
    return PC_OK;
nomem:
    free(old);
    return pc_err_set(err, PC_E_NOMEM, "block %" PRIu64 ": out of memory adopting branch",
                      br->fork_height + 1);
}

/* ---- whole offers ---- */

/* Is b the block we have at its height (by hash)? */
static bool chain_has_block(const pc_chain *c, const pc_block *b)
{
    return b->height >= 1 && b->height <= c->run.len &&
           pc_hash_equal(&c->run.ent[b->height - 1].hash, &b->hash);
}

int pc_chain_evaluate(const pc_chain *c, pc_block **blocks, size_t n, int64_t now, pc_branch **out,
                      struct pc_err *err)
{
    pc_branch *br = NULL;
    const pc_block *first;
    size_t k = 0;
    int rc;

    if (!out)
        return pc_err_set(err, PC_E_ARG, "evaluate: no output pointer");
    *out = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!blocks[i])
            return pc_err_set(err, PC_E_ARG, "evaluate: block %zu of the list is missing", i);
    }
    /* The list must hang together before anything else is looked at. The
     * claimed hashes are enough here: each block's own hash is recomputed
     * when it is validated, and a claim that lies fails there. */
    for (size_t i = 1; i < n; i++) {
        const pc_block *a = blocks[i - 1], *b = blocks[i];
        if (a->height == UINT64_MAX || b->height != a->height + 1 ||
            !pc_hash_equal(&b->previous_hash, &a->hash))
            return pc_err_set(err, PC_E_NOT_CONTIGUOUS,
                              "block %" PRIu64 ": does not follow block %" PRIu64 " of the list",
                              b->height, a->height);
    }
    /* Skip what we already have: a peer sending "all blocks" repeats our
     * history up to the point where it differs. */
    while (k < n && chain_has_block(c, blocks[k]))
        k++;
    if (k == n)
        return pc_err_set(err, PC_E_LESS_WORK, "evaluate: no block beyond our chain");
    first = blocks[k];
    if (first->height == 1)
        return pc_err_set(err, PC_E_GENESIS, "block 1: genesis is not this network's");
    if (first->height > c->run.len + 1 ||
        !pc_hash_equal(&c->run.ent[first->height - 2].hash, &first->previous_hash))
        return pc_err_set(err, PC_E_NO_FORK_POINT,
                          "block %" PRIu64 ": previousHash is not a block of our chain",
                          first->height);

    br = pc_branch_new(c, first->height - 1);
    if (!br)
        return pc_err_set(err, PC_E_NOMEM, "block %" PRIu64 ": out of memory for branch",
                          first->height);
    for (size_t i = k; i < n; i++) {
        rc = pc_branch_extend(br, c, blocks[i], now, err);
        if (rc != PC_OK)
            goto fail;
        blocks[i] = NULL; /* the branch owns it now */
    }
    if (!pc_branch_beats(br, c)) {
        rc = pc_err_set(err, PC_E_LESS_WORK,
                        "block %" PRIu64 ": chain does not have more work than ours",
                        pc_branch_tip(br)->height);
        goto fail;
    }
    *out = br;
    return PC_OK;
fail:
    pc_branch_free(br);
    return rc;
}

/* ---- locators ---- */

size_t pc_chain_locator(const pc_chain *c, pc_hash *out, size_t max)
{
    uint64_t h = c->run.len, step = 1;
    size_t n = 0;

    if (max > PC_LOCATOR_MAX_HASHES)
        max = PC_LOCATOR_MAX_HASHES;
    if (max == 0)
        return 0;
    /* Stop one short of max so that the last slot is always genesis. */
    while (n + 1 < max && h > 1) {
        out[n++] = c->run.ent[h - 1].hash;
        if (n >= 10)
            step *= 2;
        h = h > step ? h - step : 1;
    }
    out[n++] = c->run.ent[0].hash;
    return n;
}

uint64_t pc_chain_locate(const pc_chain *c, const pc_hash *locator, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t h = hash_index_get(&c->index, &locator[i]);
        if (h)
            return h;
    }
    return 0;
}
