/*
 * Node-wide counters for the HTTP API's /metrics and /status: messages and
 * their bytes in and out by message type, bans, and mining.
 *
 * Writers: connection readers (messages in), whoever queues a message for a
 * peer (messages out: the worker, readers answering ping, net_stop), the ban
 * path in peer.c, the miner and node_mine_block. Reader: the API.
 *
 * Relaxed atomics and no lock, on purpose: every counter only grows (the hash
 * rate is a last-value gauge), each is read on its own, no reader needs two of
 * them to agree, and nothing else is published through them, so no ordering
 * between threads is needed. A lock would put every message of every peer
 * behind one mutex for numbers that are only ever looked at from outside.
 * One instance per process (a process runs one node); 64-bit counts do not
 * wrap in practice.
 */
#ifndef PC_NODE_METRICS_H
#define PC_NODE_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* Message types with their own series; everything else counts as "other". */
enum metrics_type {
    MT_HELLO,
    MT_PING,
    MT_PONG,
    MT_LATEST_BLOCK,
    MT_ALL_BLOCK,
    MT_GET_BLOCKS,
    MT_BLOCKS,
    MT_GET_PEERS,
    MT_PEERS,
    MT_ERROR,
    MT_OTHER,
    MT_COUNT
};

enum metrics_dir { METRICS_IN, METRICS_OUT, METRICS_DIRS };

/* A copy of every counter, for one /metrics or /status answer. */
struct metrics_snapshot {
    uint64_t msgs[METRICS_DIRS][MT_COUNT];
    uint64_t bytes[METRICS_DIRS][MT_COUNT];
    uint64_t bans;
    uint64_t hashes;       /* tried by the --mine miner */
    uint64_t hash_rate;    /* hashes/s over the miner's last chunk; 0 when it is not mining */
    uint64_t blocks_mined; /* mined here and accepted (miner and API) */
};

/* The wire name of a type ("latestBlock"), "other" for MT_OTHER. */
const char *metrics_type_name(enum metrics_type t);

/* One message of wire type `type` (NULL or unknown: other), frame_bytes long
 * as sent or received. Any thread. */
void metrics_count_msg(enum metrics_dir dir, const char *type, size_t frame_bytes);
/* Same, for a type already known. */
void metrics_count_msg_type(enum metrics_dir dir, enum metrics_type t, size_t frame_bytes);
void metrics_count_ban(void);
/* The miner tried `hashes` in `ms` milliseconds (rate kept if ms > 0). */
void metrics_count_hashes(uint64_t hashes, int64_t ms);
void metrics_set_hash_rate(uint64_t per_second);
void metrics_count_mined(void);

void metrics_read(struct metrics_snapshot *out);

#endif
