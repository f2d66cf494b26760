/*
 * Durable chain storage in LMDB.
 *
 * One environment per data directory, four named databases:
 *   meta    "schema" -> u32 LE, "network" -> network id, "genesis" -> 32-byte
 *           hash, "tip" -> u64 LE height
 *   block   u64 big-endian height -> the block's compact JSON (as sent on the wire)
 *   header  u64 big-endian height -> struct pc_store_header (fixed 48 bytes)
 *   hash    32-byte block hash -> u64 LE height
 *
 * Big-endian height keys sort in height order, so a cursor walks the chain.
 * Every change of the chain (append or replacement after a fork point) is one
 * write transaction: a crash leaves the old chain or the new one, never a mix.
 * How durable a commit is when pc_store_commit returns is the store's sync
 * policy (enum pc_store_sync, docs/storage.md): fsynced (PC_STORE_SYNC_FULL,
 * the default), or written to the OS only (PC_STORE_SYNC_OS: it survives the
 * process being killed, not a power loss). Either way a block can be
 * announced once it returns without a process crash losing it.
 *
 * Threads: LMDB allows one writer and any number of readers without locks of
 * ours. In peerchaind the chain worker is the only writer; any thread may read
 * through a pc_store_reader (a read transaction; opened with MDB_NOTLS so a
 * reader need not stay on one thread, but one reader must not be used by two
 * threads at once).
 */
#ifndef PC_STORE_H
#define PC_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "peerchain/peerchain.h"

#define PC_STORE_SCHEMA 1u
#define PC_STORE_DEFAULT_MAP_BYTES                                                                 \
    (16ull << 30)                       /* address space reserved; the file grows as used */
#define PC_STORE_VERIFY_TAIL_BLOCKS 16u /* blocks re-hashed and linked at open */

struct pc_store;

/* The fixed per-height record the chain index is rebuilt from at startup. */
struct pc_store_header {
    pc_hash hash;
    int64_t timestamp;
    uint32_t difficulty;
    uint32_t reserved; /* zero */
};

/*
 * Opens (creating if needed, mode 0700) the data directory dir for network
 * net. An empty directory is initialised with net's genesis block. An existing
 * one must have our schema, network id and genesis hash, a consistent tip, and
 * its last PC_STORE_VERIFY_TAIL_BLOCKS blocks must parse, hash correctly and
 * link; otherwise PC_E_CORRUPT with a reason naming what is wrong (never a
 * silent reset). map_bytes caps the database size (0: PC_STORE_DEFAULT_MAP_BYTES);
 * it is address space, not memory. On success *out is a new store; close with
 * pc_store_close.
 */
int pc_store_open(const char *dir, const pc_network *net, size_t map_bytes, struct pc_store **out,
                  struct pc_err *err);
/* Flushes unsynced commits (PC_STORE_SYNC_OS) to disk, then closes. */
void pc_store_close(struct pc_store *s);

/*
 * The write-durability policy.
 *   PC_STORE_SYNC_FULL  every commit is fsynced before pc_store_commit
 *                       returns: nothing committed is lost, even to a
 *                       power loss.
 *   PC_STORE_SYNC_OS    a commit is written to the file (the OS page cache)
 *                       but not fsynced (LMDB's MDB_NOSYNC): a crash of the
 *                       process loses nothing, a power loss or kernel crash
 *                       may lose the commits since the last pc_store_flush
 *                       and may leave the environment damaged (open then
 *                       fails; docs/storage.md).
 */
enum pc_store_sync {
    PC_STORE_SYNC_FULL = 0,
    PC_STORE_SYNC_OS = 1,
};

/* "full" / "os"; parse returns false for anything else. */
const char *pc_store_sync_name(enum pc_store_sync sync);
bool pc_store_sync_parse(const char *name, enum pc_store_sync *out);

/* Sets the policy of an open store (opened as PC_STORE_SYNC_FULL). Going to
 * FULL flushes what is unsynced first. Writer thread only. */
int pc_store_set_sync(struct pc_store *s, enum pc_store_sync sync, struct pc_err *err);
enum pc_store_sync pc_store_get_sync(const struct pc_store *s);

/*
 * Under PC_STORE_SYNC_OS: fsyncs every commit made since the last flush, if
 * any (one mdb_env_sync); a no-op otherwise. Called periodically by the
 * writer, it bounds what a power loss can take. Writer thread only.
 */
int pc_store_flush(struct pc_store *s, struct pc_err *err);

/* Tip height as of the last commit (writer's view). */
uint64_t pc_store_tip_height(struct pc_store *s);

/*
 * Replaces everything above fork_height with blocks[0..n-1] (heights
 * fork_height+1 ...) and moves the tip, in one transaction (durable as the
 * sync policy says). An append
 * is fork_height == tip. blocks must already be valid (the caller validated
 * them); the store only checks that heights are consecutive (PC_E_ARG).
 * Writer thread only.
 */
int pc_store_commit(struct pc_store *s, uint64_t fork_height, const pc_block *const *blocks,
                    size_t n, struct pc_err *err);

/*
 * Calls fn for every height from 1 to the tip in order, with its header
 * record; stops early if fn returns non-zero (and returns that value).
 * Used to rebuild the in-memory index at startup.
 */
int pc_store_scan_headers(struct pc_store *s,
                          int (*fn)(void *ctx, uint64_t height, const struct pc_store_header *h),
                          void *ctx, struct pc_err *err);

/* ---- readers ---- */

struct pc_store_reader;

/* A read snapshot: sees one committed state until ended. */
int pc_store_reader_begin(struct pc_store *s, struct pc_store_reader **out, struct pc_err *err);
void pc_store_reader_end(struct pc_store_reader *r);

uint64_t pc_store_reader_tip(const struct pc_store_reader *r);

/* The stored JSON of the block at height: *json points into the map (not
 * NUL-terminated), valid until the reader ends. PC_E_NOT_FOUND if absent. */
int pc_store_get_json(struct pc_store_reader *r, uint64_t height, const char **json, size_t *len);

/* Parsed block at height; caller frees with pc_block_free. */
int pc_store_get_block(struct pc_store_reader *r, uint64_t height, pc_block **out,
                       struct pc_err *err);

/* Height of the block with hash h, PC_E_NOT_FOUND if not in the chain. */
int pc_store_find(struct pc_store_reader *r, const pc_hash *h, uint64_t *height);

#endif
