/*
 * The node-wide counters (metrics.h has why relaxed atomics suffice).
 */
#include <stdatomic.h>
#include <string.h>

#include "metrics.h"

static const char *const type_names[MT_COUNT] = {
    "hello",  "ping",     "pong",  "latestBlock", "allBlock", "getBlocks",
    "blocks", "getPeers", "peers", "error",       "other",
};

static struct {
    atomic_uint_fast64_t msgs[METRICS_DIRS][MT_COUNT];
    atomic_uint_fast64_t bytes[METRICS_DIRS][MT_COUNT];
    atomic_uint_fast64_t bans;
    atomic_uint_fast64_t hashes;
    atomic_uint_fast64_t hash_rate;
    atomic_uint_fast64_t blocks_mined;
} counters; /* static storage: all-zero bits, which is zero for these atomics */

static void add(atomic_uint_fast64_t *c, uint64_t v)
{
    atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}

static uint64_t get(atomic_uint_fast64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

const char *metrics_type_name(enum metrics_type t)
{
    return (unsigned)t < MT_COUNT ? type_names[t] : "other";
}

static enum metrics_type type_of(const char *type)
{
    for (int t = 0; type != NULL && t < MT_OTHER; t++)
        if (strcmp(type, type_names[t]) == 0)
            return (enum metrics_type)t;
    return MT_OTHER;
}

void metrics_count_msg_type(enum metrics_dir dir, enum metrics_type t, size_t frame_bytes)
{
    if ((unsigned)dir >= METRICS_DIRS || (unsigned)t >= MT_COUNT)
        return;
    add(&counters.msgs[dir][t], 1);
    add(&counters.bytes[dir][t], frame_bytes);
}

void metrics_count_msg(enum metrics_dir dir, const char *type, size_t frame_bytes)
{
    metrics_count_msg_type(dir, type_of(type), frame_bytes);
}

void metrics_count_ban(void)
{
    add(&counters.bans, 1);
}

void metrics_count_hashes(uint64_t hashes, int64_t ms)
{
    add(&counters.hashes, hashes);
    if (ms > 0)
        metrics_set_hash_rate(hashes * 1000u / (uint64_t)ms);
}

void metrics_set_hash_rate(uint64_t per_second)
{
    atomic_store_explicit(&counters.hash_rate, per_second, memory_order_relaxed);
}

void metrics_count_mined(void)
{
    add(&counters.blocks_mined, 1);
}

void metrics_read(struct metrics_snapshot *out)
{
    for (int d = 0; d < METRICS_DIRS; d++)
        for (int t = 0; t < MT_COUNT; t++) {
            out->msgs[d][t] = get(&counters.msgs[d][t]);
            out->bytes[d][t] = get(&counters.bytes[d][t]);
        }
    out->bans = get(&counters.bans);
    out->hashes = get(&counters.hashes);
    out->hash_rate = get(&counters.hash_rate);
    out->blocks_mined = get(&counters.blocks_mined);
}
