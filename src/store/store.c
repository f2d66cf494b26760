/*
 * LMDB chain storage (see store.h for the layout and the thread rules).
 *
 * Invariants of a committed state, checked in part at every open:
 *   - meta "tip" = T >= 1, and block, header and hash entries exist for
 *     exactly the heights 1..T;
 *   - header(h).hash is the hash of block(h), and hash(header(h).hash) = h;
 *   - block(h).previousHash = header(h-1).hash.
 * pc_store_commit keeps them by deleting and writing in one transaction.
 */
#include "store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lmdb.h>

struct pc_store {
    MDB_env *env;
    MDB_dbi meta, block, header, hash;
    const pc_network *net;   /* immutable */
    uint64_t tip;            /* writer thread only: tip as of the last commit */
    enum pc_store_sync sync; /* writer thread only */
    uint64_t unsynced;       /* writer thread only: commits not yet fsynced (SYNC_OS) */
};

struct pc_store_reader {
    struct pc_store *s;
    MDB_txn *txn;
    uint64_t tip;
};

static void height_key(uint64_t h, uint8_t out[8])
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)(h & 0xff);
        h >>= 8;
    }
}

static void put_u64le(uint64_t v, uint8_t out[8])
{
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64le(const uint8_t in[8])
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | in[i];
    return v;
}

static int lmdb_fail(struct pc_err *err, int rc, const char *what)
{
    int code = (rc == MDB_INVALID || rc == MDB_CORRUPTED || rc == MDB_VERSION_MISMATCH)
                   ? PC_E_CORRUPT
                   : PC_E_STORE;
    return pc_err_set(err, code, "%s: %s", what, mdb_strerror(rc));
}

static int get_meta(MDB_txn *txn, MDB_dbi dbi, const char *name, MDB_val *val)
{
    MDB_val key = {strlen(name), (void *)name};
    return mdb_get(txn, dbi, &key, val);
}

static int put_meta(MDB_txn *txn, MDB_dbi dbi, const char *name, const void *data, size_t len)
{
    MDB_val key = {strlen(name), (void *)name};
    MDB_val val = {len, (void *)data};
    return mdb_put(txn, dbi, &key, &val, 0);
}

static int read_tip(MDB_txn *txn, MDB_dbi meta, uint64_t *tip)
{
    MDB_val v;
    int rc = get_meta(txn, meta, "tip", &v);
    if (rc != 0)
        return rc;
    if (v.mv_size != 8)
        return MDB_CORRUPTED;
    *tip = get_u64le(v.mv_data);
    return 0;
}

/* Writes block b at its height: JSON, header record and hash index. */
static int put_block(struct pc_store *s, MDB_txn *txn, const pc_block *b, struct pc_err *err)
{
    int ret = PC_OK;
    /* Most blocks fit on the stack; larger ones get a buffer of their size. */
    char small[2048], *big = NULL, *text = small;
    size_t len = pc_block_write_json(b, small, sizeof small);
    if (len > sizeof small) {
        if ((big = malloc(len)) == NULL)
            return pc_err_set(err, PC_E_NOMEM, "store: cannot encode block %llu",
                              (unsigned long long)b->height);
        pc_block_write_json(b, big, len);
        text = big;
    }

    uint8_t key[8], hb[8];
    height_key(b->height, key);
    put_u64le(b->height, hb);
    struct pc_store_header rec;
    memset(&rec, 0, sizeof rec);
    rec.hash = b->hash;
    rec.timestamp = b->timestamp;
    rec.difficulty = b->difficulty;

    MDB_val k = {sizeof key, key};
    MDB_val vjson = {len, text};
    MDB_val vhdr = {sizeof rec, &rec};
    MDB_val khash = {sizeof b->hash.b, (void *)b->hash.b};
    MDB_val vh = {sizeof hb, hb};
    int rc = mdb_put(txn, s->block, &k, &vjson, 0);
    if (rc == 0)
        rc = mdb_put(txn, s->header, &k, &vhdr, 0);
    if (rc == 0)
        rc = mdb_put(txn, s->hash, &khash, &vh, 0);
    if (rc != 0)
        ret = lmdb_fail(err, rc, "store: write block");
    free(big);
    return ret;
}

/* Removes the block at height h (all three entries). */
static int del_block(struct pc_store *s, MDB_txn *txn, uint64_t h, struct pc_err *err)
{
    uint8_t key[8];
    height_key(h, key);
    MDB_val k = {sizeof key, key}, v;
    int rc = mdb_get(txn, s->header, &k, &v);
    if (rc != 0 || v.mv_size != sizeof(struct pc_store_header))
        return pc_err_set(err, PC_E_CORRUPT, "store: header %llu missing", (unsigned long long)h);
    struct pc_store_header rec;
    memcpy(&rec, v.mv_data, sizeof rec);
    MDB_val khash = {sizeof rec.hash.b, rec.hash.b};
    rc = mdb_del(txn, s->hash, &khash, NULL);
    if (rc == 0)
        rc = mdb_del(txn, s->header, &k, NULL);
    if (rc == 0)
        rc = mdb_del(txn, s->block, &k, NULL);
    if (rc != 0)
        return lmdb_fail(err, rc, "store: delete block");
    return PC_OK;
}

/* Parses the stored JSON at height h. */
static int load_block(struct pc_store *s, MDB_txn *txn, uint64_t h, pc_block **out,
                      struct pc_err *err)
{
    uint8_t key[8];
    height_key(h, key);
    MDB_val k = {sizeof key, key}, v;
    int rc = mdb_get(txn, s->block, &k, &v);
    if (rc == MDB_NOTFOUND)
        return pc_err_set(err, PC_E_NOT_FOUND, "store: no block at height %llu",
                          (unsigned long long)h);
    if (rc != 0)
        return lmdb_fail(err, rc, "store: read block");
    json_error_t jerr;
    json_t *j = json_loadb(v.mv_data, v.mv_size, 0, &jerr);
    if (j == NULL)
        return pc_err_set(err, PC_E_CORRUPT, "store: block %llu is not JSON: %s",
                          (unsigned long long)h, jerr.text);
    int ret = pc_block_from_json(j, out, err);
    json_decref(j);
    return ret;
}

/* Re-checks the last few blocks below the tip: parse, hash, PoW, key height,
 * header record, hash index and links. */
static int verify_tail(struct pc_store *s, MDB_txn *txn, uint64_t tip, struct pc_err *err)
{
    uint64_t lo = tip > PC_STORE_VERIFY_TAIL_BLOCKS ? tip - PC_STORE_VERIFY_TAIL_BLOCKS + 1 : 1;
    pc_hash child_prev;
    int ret = PC_OK;
    uint8_t key[8];

    height_key(tip + 1, key);
    MDB_val k = {sizeof key, key}, v;
    if (mdb_get(txn, s->block, &k, &v) == 0)
        return pc_err_set(err, PC_E_CORRUPT, "store: block above tip %llu",
                          (unsigned long long)tip);

    for (uint64_t h = tip; h >= lo; h--) {
        pc_block *b = NULL;
        struct pc_err e2;
        ret = load_block(s, txn, h, &b, &e2);
        if (ret != PC_OK)
            return pc_err_set(err, PC_E_CORRUPT, "store: block %llu: %s", (unsigned long long)h,
                              e2.reason);
        if (b->height != h)
            ret = pc_err_set(err, PC_E_CORRUPT, "store: block at key %llu says height %llu",
                             (unsigned long long)h, (unsigned long long)b->height);
        else if (pc_block_check(b, &e2) != PC_OK)
            ret = pc_err_set(err, PC_E_CORRUPT, "store: %s", e2.reason);
        else if (h < tip && !pc_hash_equal(&b->hash, &child_prev))
            ret = pc_err_set(err, PC_E_CORRUPT, "store: block %llu does not link to %llu",
                             (unsigned long long)h + 1, (unsigned long long)h);
        if (ret == PC_OK) {
            height_key(h, key);
            k.mv_size = sizeof key;
            k.mv_data = key;
            struct pc_store_header rec;
            if (mdb_get(txn, s->header, &k, &v) != 0 || v.mv_size != sizeof rec)
                ret = pc_err_set(err, PC_E_CORRUPT, "store: header %llu missing",
                                 (unsigned long long)h);
            else if (memcpy(&rec, v.mv_data, sizeof rec), !pc_hash_equal(&rec.hash, &b->hash))
                ret = pc_err_set(err, PC_E_CORRUPT, "store: header %llu does not match block",
                                 (unsigned long long)h);
        }
        if (ret == PC_OK) {
            MDB_val kh = {sizeof b->hash.b, b->hash.b};
            if (mdb_get(txn, s->hash, &kh, &v) != 0 || v.mv_size != 8 || get_u64le(v.mv_data) != h)
                ret = pc_err_set(err, PC_E_CORRUPT, "store: hash index wrong for block %llu",
                                 (unsigned long long)h);
        }
        child_prev = b->previous_hash;
        pc_block_free(b);
        if (ret != PC_OK || h == 1)
            break;
    }
    return ret;
}

/* Initialises an empty environment with the genesis block. */
static int init_empty(struct pc_store *s, MDB_txn *txn, struct pc_err *err)
{
    MDB_stat st;
    int rc = mdb_stat(txn, s->block, &st);
    if (rc != 0)
        return lmdb_fail(err, rc, "store: stat");
    if (st.ms_entries != 0)
        return pc_err_set(err, PC_E_CORRUPT, "store: blocks present but no metadata");
    pc_block *g = pc_network_genesis(s->net);
    if (g == NULL)
        return pc_err_set(err, PC_E_NOMEM, "store: out of memory");
    uint8_t schema[4] = {PC_STORE_SCHEMA & 0xff, 0, 0, 0}, tip[8];
    put_u64le(1, tip);
    int ret = put_block(s, txn, g, err);
    if (ret == PC_OK) {
        rc = put_meta(txn, s->meta, "schema", schema, sizeof schema);
        if (rc == 0)
            rc = put_meta(txn, s->meta, "network", s->net->id, strlen(s->net->id));
        if (rc == 0)
            rc = put_meta(txn, s->meta, "genesis", g->hash.b, sizeof g->hash.b);
        if (rc == 0)
            rc = put_meta(txn, s->meta, "tip", tip, sizeof tip);
        if (rc != 0)
            ret = lmdb_fail(err, rc, "store: write metadata");
    }
    pc_block_free(g);
    return ret;
}

/* Checks an existing environment's metadata against our network. */
static int check_meta(struct pc_store *s, MDB_txn *txn, struct pc_err *err)
{
    MDB_val v;
    if (get_meta(txn, s->meta, "schema", &v) != 0 || v.mv_size != 4)
        return pc_err_set(err, PC_E_CORRUPT, "store: schema record missing");
    uint32_t schema = ((const uint8_t *)v.mv_data)[0] | ((const uint8_t *)v.mv_data)[1] << 8;
    if (schema != PC_STORE_SCHEMA)
        return pc_err_set(err, PC_E_CORRUPT, "store: schema %u, this build reads %u", schema,
                          PC_STORE_SCHEMA);
    if (get_meta(txn, s->meta, "network", &v) != 0)
        return pc_err_set(err, PC_E_CORRUPT, "store: network record missing");
    if (v.mv_size != strlen(s->net->id) || memcmp(v.mv_data, s->net->id, v.mv_size) != 0)
        return pc_err_set(
            err, PC_E_CORRUPT, "store: data directory belongs to network '%.*s', not '%s'",
            (int)(v.mv_size < 64 ? v.mv_size : 64), (const char *)v.mv_data, s->net->id);
    pc_block *g = pc_network_genesis(s->net);
    if (g == NULL)
        return pc_err_set(err, PC_E_NOMEM, "store: out of memory");
    int ret = PC_OK;
    if (get_meta(txn, s->meta, "genesis", &v) != 0 || v.mv_size != sizeof g->hash.b ||
        memcmp(v.mv_data, g->hash.b, sizeof g->hash.b) != 0)
        ret = pc_err_set(err, PC_E_CORRUPT, "store: genesis differs from network '%s'", s->net->id);
    pc_block_free(g);
    return ret;
}

int pc_store_open(const char *dir, const pc_network *net, size_t map_bytes, struct pc_store **out,
                  struct pc_err *err)
{
    int ret = PC_OK, rc;
    MDB_txn *txn = NULL;
    *out = NULL;
    if (dir == NULL || *dir == '\0' || net == NULL)
        return pc_err_set(err, PC_E_ARG, "store: no data directory given");
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return pc_err_set(err, PC_E_IO, "store: cannot create %s: %s", dir, strerror(errno));
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return pc_err_set(err, PC_E_IO, "store: %s is not a directory", dir);

    struct pc_store *s = calloc(1, sizeof *s);
    if (s == NULL)
        return pc_err_set(err, PC_E_NOMEM, "store: out of memory");
    s->net = net;
    if ((rc = mdb_env_create(&s->env)) != 0) {
        ret = lmdb_fail(err, rc, "store: create environment");
        goto out;
    }
    if ((rc = mdb_env_set_maxdbs(s->env, 4)) != 0 ||
        (rc = mdb_env_set_mapsize(s->env, map_bytes ? map_bytes : PC_STORE_DEFAULT_MAP_BYTES)) !=
            0) {
        ret = lmdb_fail(err, rc, "store: configure environment");
        goto out;
    }
    if ((rc = mdb_env_open(s->env, dir, MDB_NOTLS, 0600)) != 0) {
        ret = lmdb_fail(err, rc, "store: open data directory");
        goto out;
    }
    int dead = 0;
    mdb_reader_check(s->env, &dead); /* clears slots of readers killed without closing */

    if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0) {
        ret = lmdb_fail(err, rc, "store: begin");
        goto out;
    }
    if ((rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &s->meta)) != 0 ||
        (rc = mdb_dbi_open(txn, "block", MDB_CREATE, &s->block)) != 0 ||
        (rc = mdb_dbi_open(txn, "header", MDB_CREATE, &s->header)) != 0 ||
        (rc = mdb_dbi_open(txn, "hash", MDB_CREATE, &s->hash)) != 0) {
        ret = lmdb_fail(err, rc, "store: open databases");
        goto out;
    }
    MDB_val v;
    if (get_meta(txn, s->meta, "schema", &v) == MDB_NOTFOUND)
        ret = init_empty(s, txn, err);
    else
        ret = check_meta(s, txn, err);
    if (ret == PC_OK && (rc = read_tip(txn, s->meta, &s->tip)) != 0)
        ret = pc_err_set(err, PC_E_CORRUPT, "store: tip record missing or damaged");
    if (ret == PC_OK && s->tip == 0)
        ret = pc_err_set(err, PC_E_CORRUPT, "store: tip height 0");
    if (ret == PC_OK)
        ret = verify_tail(s, txn, s->tip, err);
    if (ret != PC_OK)
        goto out;
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc != 0)
        ret = lmdb_fail(err, rc, "store: commit");
out:
    if (txn != NULL)
        mdb_txn_abort(txn);
    if (ret != PC_OK)
        pc_store_close(s);
    else
        *out = s;
    return ret;
}

void pc_store_close(struct pc_store *s)
{
    if (s == NULL)
        return;
    if (s->env != NULL) {
        /* mdb_env_close does not sync: a clean stop leaves nothing unsynced.
         * A failure has no one left to tell; the data is in the OS anyway. */
        if (s->unsynced != 0)
            (void)mdb_env_sync(s->env, 1);
        mdb_env_close(s->env);
    }
    free(s);
}

const char *pc_store_sync_name(enum pc_store_sync sync)
{
    return sync == PC_STORE_SYNC_OS ? "os" : "full";
}

bool pc_store_sync_parse(const char *name, enum pc_store_sync *out)
{
    if (name == NULL)
        return false;
    if (strcmp(name, "full") == 0)
        *out = PC_STORE_SYNC_FULL;
    else if (strcmp(name, "os") == 0)
        *out = PC_STORE_SYNC_OS;
    else
        return false;
    return true;
}

int pc_store_flush(struct pc_store *s, struct pc_err *err)
{
    if (s->unsynced == 0)
        return PC_OK;
    int rc = mdb_env_sync(s->env, 1);
    if (rc != 0)
        return lmdb_fail(err, rc, "store: sync");
    s->unsynced = 0;
    return PC_OK;
}

int pc_store_set_sync(struct pc_store *s, enum pc_store_sync sync, struct pc_err *err)
{
    if (sync != PC_STORE_SYNC_FULL && sync != PC_STORE_SYNC_OS)
        return pc_err_set(err, PC_E_ARG, "store: unknown sync policy %d", (int)sync);
    if (sync == PC_STORE_SYNC_FULL) {
        int ret = pc_store_flush(s, err);
        if (ret != PC_OK)
            return ret;
    }
    /* MDB_NOSYNC: mdb_txn_commit writes data and meta pages with pwrite (no
     * MDB_WRITEMAP: a stray write of ours cannot reach the file) but skips
     * both fdatasyncs. MDB_NOMETASYNC would keep one fdatasync per commit,
     * which is the cost we avoid. */
    int rc = mdb_env_set_flags(s->env, MDB_NOSYNC, sync == PC_STORE_SYNC_OS ? 1 : 0);
    if (rc != 0)
        return lmdb_fail(err, rc, "store: set sync policy");
    s->sync = sync;
    return PC_OK;
}

enum pc_store_sync pc_store_get_sync(const struct pc_store *s)
{
    return s->sync;
}

uint64_t pc_store_tip_height(struct pc_store *s)
{
    return s->tip;
}

int pc_store_commit(struct pc_store *s, uint64_t fork_height, const pc_block *const *blocks,
                    size_t n, struct pc_err *err)
{
    if (fork_height < 1 || fork_height > s->tip)
        return pc_err_set(err, PC_E_ARG, "store: fork height %llu outside 1..%llu",
                          (unsigned long long)fork_height, (unsigned long long)s->tip);
    for (size_t i = 0; i < n; i++)
        if (blocks[i] == NULL || blocks[i]->height != fork_height + 1 + i)
            return pc_err_set(err, PC_E_ARG, "store: block %zu of %zu has the wrong height", i, n);
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc != 0)
        return lmdb_fail(err, rc, "store: begin");
    int ret = PC_OK;
    for (uint64_t h = s->tip; h > fork_height && ret == PC_OK; h--)
        ret = del_block(s, txn, h, err);
    for (size_t i = 0; i < n && ret == PC_OK; i++)
        ret = put_block(s, txn, blocks[i], err);
    uint64_t new_tip = fork_height + n;
    if (ret == PC_OK) {
        uint8_t tip[8];
        put_u64le(new_tip, tip);
        if ((rc = put_meta(txn, s->meta, "tip", tip, sizeof tip)) != 0)
            ret = lmdb_fail(err, rc, "store: write tip");
    }
    if (ret != PC_OK) {
        mdb_txn_abort(txn);
        return ret;
    }
    if ((rc = mdb_txn_commit(txn)) != 0)
        return lmdb_fail(err, rc, "store: commit");
    s->tip = new_tip;
    if (s->sync == PC_STORE_SYNC_OS)
        s->unsynced++;
    return PC_OK;
}

int pc_store_scan_headers(struct pc_store *s,
                          int (*fn)(void *ctx, uint64_t height, const struct pc_store_header *h),
                          void *ctx, struct pc_err *err)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    int ret = PC_OK;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0)
        return lmdb_fail(err, rc, "store: begin read");
    uint64_t tip;
    if (read_tip(txn, s->meta, &tip) != 0) {
        ret = pc_err_set(err, PC_E_CORRUPT, "store: tip record missing");
        goto out;
    }
    if ((rc = mdb_cursor_open(txn, s->header, &cur)) != 0) {
        ret = lmdb_fail(err, rc, "store: cursor");
        goto out;
    }
    MDB_val k, v;
    uint64_t expect = 1;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && expect <= tip;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT), expect++) {
        uint8_t want[8];
        height_key(expect, want);
        if (k.mv_size != 8 || memcmp(k.mv_data, want, 8) != 0 ||
            v.mv_size != sizeof(struct pc_store_header)) {
            ret = pc_err_set(err, PC_E_CORRUPT, "store: header index broken at height %llu",
                             (unsigned long long)expect);
            goto out;
        }
        struct pc_store_header rec;
        memcpy(&rec, v.mv_data, sizeof rec);
        if ((ret = fn(ctx, expect, &rec)) != 0)
            goto out;
    }
    if (expect != tip + 1)
        ret = pc_err_set(err, PC_E_CORRUPT, "store: %llu headers for tip %llu",
                         (unsigned long long)expect - 1, (unsigned long long)tip);
out:
    if (cur != NULL)
        mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return ret;
}

int pc_store_reader_begin(struct pc_store *s, struct pc_store_reader **out, struct pc_err *err)
{
    *out = NULL;
    struct pc_store_reader *r = calloc(1, sizeof *r);
    if (r == NULL)
        return pc_err_set(err, PC_E_NOMEM, "store: out of memory");
    r->s = s;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &r->txn);
    if (rc != 0) {
        free(r);
        return lmdb_fail(err, rc, "store: begin read");
    }
    if (read_tip(r->txn, s->meta, &r->tip) != 0) {
        mdb_txn_abort(r->txn);
        free(r);
        return pc_err_set(err, PC_E_CORRUPT, "store: tip record missing");
    }
    *out = r;
    return PC_OK;
}

void pc_store_reader_end(struct pc_store_reader *r)
{
    if (r == NULL)
        return;
    mdb_txn_abort(r->txn);
    free(r);
}

uint64_t pc_store_reader_tip(const struct pc_store_reader *r)
{
    return r->tip;
}

int pc_store_get_json(struct pc_store_reader *r, uint64_t height, const char **json, size_t *len)
{
    uint8_t key[8];
    height_key(height, key);
    MDB_val k = {sizeof key, key}, v;
    int rc = mdb_get(r->txn, r->s->block, &k, &v);
    if (rc == MDB_NOTFOUND)
        return PC_E_NOT_FOUND;
    if (rc != 0)
        return PC_E_STORE;
    *json = v.mv_data;
    *len = v.mv_size;
    return PC_OK;
}

int pc_store_get_block(struct pc_store_reader *r, uint64_t height, pc_block **out,
                       struct pc_err *err)
{
    *out = NULL;
    return load_block(r->s, r->txn, height, out, err);
}

int pc_store_find(struct pc_store_reader *r, const pc_hash *h, uint64_t *height)
{
    MDB_val k = {sizeof h->b, (void *)h->b}, v;
    int rc = mdb_get(r->txn, r->s->hash, &k, &v);
    if (rc == MDB_NOTFOUND)
        return PC_E_NOT_FOUND;
    if (rc != 0 || v.mv_size != 8)
        return PC_E_STORE;
    *height = get_u64le(v.mv_data);
    return PC_OK;
}
