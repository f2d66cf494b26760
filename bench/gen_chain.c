/*
 * Writes a valid regtest chain of N blocks into a data directory, for
 * measuring peerchaind's startup time and memory on a long chain
 * (docs/storage.md). Blocks are mined on the spot (regtest difficulty is
 * low), one second apart from genesis, and committed in batches.
 *
 * Build (from the repository root, after a normal build in build/):
 *   cc -O2 -Iinclude -Isrc/store bench/gen_chain.c build/libpc_store.a \
 *      build/libpeerchain.a $(pkg-config --libs lmdb jansson libsodium) -o gen_chain
 * Run:  ./gen_chain DATADIR N
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peerchain/peerchain.h"
#include "store.h"

#define BATCH_BLOCKS 10000u

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s DATADIR N\n", argv[0]);
        return 2;
    }
    unsigned long long want = strtoull(argv[2], NULL, 10);
    const pc_network *net = pc_network_find("regtest");
    struct pc_store *s = NULL;
    struct pc_err err = {0};
    pc_block **batch = calloc(BATCH_BLOCKS, sizeof *batch);
    pc_chain *c = NULL;
    size_t n = 0;
    int rc = 1;
    if (pc_crypto_init() != 0 || batch == NULL)
        goto out;
    if (pc_store_open(argv[1], net, 0, &s, &err) != 0) {
        fprintf(stderr, "open: %s\n", err.reason);
        goto out;
    }
    if (pc_store_tip_height(s) != 1) {
        fprintf(stderr, "%s already holds a chain\n", argv[1]);
        goto out;
    }
    c = pc_chain_new_index(net);
    if (c == NULL)
        goto out;
    for (unsigned long long h = 2; h <= want; h++) {
        struct pc_template_base base;
        char datum[64];
        const char *item = datum;
        size_t len = (size_t)snprintf(datum, sizeof datum, "generated block %llu", h);
        pc_chain_template_base(c, &base);
        int64_t ts = pc_chain_tip(c)->timestamp + 1;
        pc_block *b = pc_block_template(&base, &item, &len, 1, ts, &err);
        if (b == NULL || pc_mine(b, 0, 0, NULL, NULL) != 0) {
            pc_block_free(b);
            goto out;
        }
        /* The store needs its own copy: the index chain frees all but the tip. */
        batch[n] = pc_block_clone(b);
        if (batch[n] == NULL || pc_chain_append(c, b, ts, &err) != 0) {
            fprintf(stderr, "block %llu: %s\n", h, err.reason);
            pc_block_free(b);
            goto out;
        }
        if (++n == BATCH_BLOCKS || h == want) {
            if (pc_store_commit(s, h - n, (const pc_block *const *)batch, n, &err) != 0) {
                fprintf(stderr, "commit: %s\n", err.reason);
                goto out;
            }
            pc_blocks_free(batch, n);
            batch = calloc(BATCH_BLOCKS, sizeof *batch);
            if (batch == NULL)
                goto out;
            n = 0;
        }
    }
    printf("%s: %llu blocks\n", argv[1], (unsigned long long)pc_store_tip_height(s));
    rc = 0;
out:
    if (batch != NULL)
        pc_blocks_free(batch, n);
    pc_chain_free(c);
    pc_store_close(s);
    return rc;
}
