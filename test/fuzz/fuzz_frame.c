/*
 * libFuzzer target for the stream JSON framer (src/node/frame.c), and each
 * frame it yields through Jansson as the reader does.
 *
 * The first input byte picks the frame limit and how the rest is split into
 * reads; the target checks that framing does not depend on the split (whole
 * input vs. the chosen pieces), that no frame exceeds the limit, that each
 * starts with '{' and ends with '}' or ']', and that nothing unfinished is
 * held past the limit.
 *
 * Build and run (not part of ctest):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc/node -Iinclude \
 *     test/fuzz/fuzz_frame.c src/node/frame.c src/core/errors.c \
 *     $(pkg-config --cflags --libs jansson) -o /tmp/fuzz_frame
 *   /tmp/fuzz_frame -max_total_time=60 -max_len=4096
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "frame.h"

struct out {
    int status;
    size_t n;
    uint64_t sum; /* order-sensitive digest of every frame's bytes */
};

static void frame_seen(struct out *o, const char *f, size_t len, size_t max)
{
    if (len < 2 || len > max || f[0] != '{' || (f[len - 1] != '}' && f[len - 1] != ']'))
        abort();
    for (size_t i = 0; i < len; i++)
        o->sum = o->sum * 131 + (unsigned char)f[i];
    o->sum = o->sum * 131 + 0x100; /* frame boundary */
    o->n++;
    json_error_t je;
    json_t *j = json_loadb(f, len, JSON_REJECT_DUPLICATES, &je);
    json_decref(j);
}

static struct out run(const char *data, size_t len, size_t max, const uint8_t *cuts, size_t n_cuts)
{
    struct out o = {FRAME_MORE, 0, 0};
    struct frame_reader fr;
    frame_init(&fr, max);
    size_t off = 0, k = 0;
    while (off < len && o.status == FRAME_MORE) {
        size_t piece = n_cuts ? 1 + cuts[k++ % n_cuts] % 64 : len;
        if (piece > len - off)
            piece = len - off;
        size_t pos = 0;
        while (pos < piece && o.status == FRAME_MORE) {
            size_t used;
            const char *f;
            size_t flen;
            int s = frame_feed(&fr, data + off + pos, piece - pos, &used, &f, &flen, NULL);
            if (used > piece - pos)
                abort();
            pos += used;
            if (s < 0)
                o.status = s;
            else if (s == FRAME_READY)
                frame_seen(&o, f, flen, max);
        }
        if (frame_pending(&fr) > max)
            abort();
        off += piece;
    }
    frame_destroy(&fr);
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t max = 2 + (size_t)data[0] * 8;
    const uint8_t *cuts = data + 1;
    size_t n_cuts = size > 8 ? 8 : size - 1;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    struct out whole = run(body, len, max, NULL, 0);
    struct out split = run(body, len, max, cuts, n_cuts);
    if (whole.status != split.status || whole.n != split.n || whole.sum != split.sum)
        abort();
    return 0;
}
