/*
 * libFuzzer target for the block JSON codec: arbitrary bytes through
 * json_loadb and pc_block_from_json / pc_blocks_from_json, then, for
 * anything that decodes, the context-free checks and a round trip that must
 * reproduce the same JSON. Crashes, sanitizer reports and round-trip
 * mismatches (abort) are findings.
 *
 * Not built by CMake (clang only). Build and run from the repository root
 * (new inputs go to the first, scratch, directory; the seeds stay as they are):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude \
 *     test/fuzz/fuzz_block_json.c src/core/[a-z]*.c \
 *     $(pkg-config --cflags --libs jansson libsodium) -o fuzz_block_json
 *   mkdir -p /tmp/pc-corpus
 *   ./fuzz_block_json -max_total_time=60 -max_len=65536 /tmp/pc-corpus \
 *     test/fuzz/corpus/block_json
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peerchain/peerchain.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (pc_crypto_init() != PC_OK)
        abort();
    return 0;
}

/* A block that decoded must encode, and decode again to the same JSON. */
static void fuzz_round_trip(const pc_block *b)
{
    char pre[PC_PREIMAGE_MAX_BYTES];
    json_t *j = pc_block_to_json(b), *j2 = NULL;
    pc_block *b2 = NULL;
    struct pc_err err;

    if (pc_block_preimage(b, pre) >= PC_PREIMAGE_MAX_BYTES)
        abort();
    (void)pc_block_check(b, &err);
    if (!j)
        abort(); /* decoded data is valid UTF-8, so encoding cannot fail */
    if (pc_block_from_json(j, &b2, &err) != PC_OK)
        abort();
    j2 = pc_block_to_json(b2);
    if (!j2 || !json_equal(j, j2))
        abort();
    json_decref(j2);
    json_decref(j);
    pc_block_free(b2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t jerr;
    json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY, &jerr);
    struct pc_err err;

    if (!j)
        return 0;
    if (json_is_array(j)) {
        pc_block **blocks = NULL;
        size_t n = 0;
        if (pc_blocks_from_json(j, 16, &blocks, &n, &err) == PC_OK) {
            for (size_t i = 0; i < n; i++)
                fuzz_round_trip(blocks[i]);
            pc_blocks_free(blocks, n);
        } else if (blocks || n) {
            abort(); /* failure must return nothing */
        }
    } else {
        pc_block *b = NULL;
        if (pc_block_from_json(j, &b, &err) == PC_OK) {
            fuzz_round_trip(b);
            pc_block_free(b);
        } else if (b || err.reason[0] == '\0') {
            abort(); /* failure: no block, and a reason */
        }
    }
    json_decref(j);
    return 0;
}
