/*
 * The stream JSON framer (see frame.h for the contract).
 *
 * Invariants between calls:
 *  - depth == 0 && !in_string: between frames; buf holds nothing of value.
 *  - depth > 0: inside a frame whose first len bytes are in buf, and
 *    len <= max_bytes.
 * Bytes of the current frame are copied into buf once per call (one memcpy
 * of the scanned run), after the limit check, so buf never grows past
 * max_bytes. A frame that starts and ends inside one call's data is handed
 * out in place, with no copy.
 *
 * No locks: a frame_reader belongs to one connection's reader thread.
 */
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "peerchain/limits.h"

#define FRAME_INITIAL_CAP 4096u
#define FRAME_KEEP_CAP (64u * 1024u) /* larger buffers are freed after a frame */

void frame_init(struct frame_reader *fr, size_t max_bytes)
{
    memset(fr, 0, sizeof *fr);
    fr->max_bytes = max_bytes < 2 ? 2 : max_bytes;
    fr->max_values = fr->max_bytes / FRAME_BYTES_PER_VALUE_MIN;
    if (fr->max_values < 64)
        fr->max_values = 64;
}

size_t frame_values(const struct frame_reader *fr)
{
    return fr->values;
}

void frame_destroy(struct frame_reader *fr)
{
    free(fr->buf);
    fr->buf = NULL;
    fr->len = fr->cap = 0;
}

size_t frame_pending(const struct frame_reader *fr)
{
    return fr->depth > 0 ? fr->len : 0;
}

static int frame_fail(struct frame_reader *fr, int code, struct pc_err *err, const char *what,
                      unsigned char c)
{
    fr->err = code;
    if (code == PC_E_FRAME_TOO_LARGE && what != NULL)
        return pc_err_set(err, code, "frame holds more than %zu JSON values", fr->max_values);
    if (code == PC_E_FRAME_TOO_LARGE)
        return pc_err_set(err, code, "frame larger than %zu bytes", fr->max_bytes);
    if (code == PC_E_NOMEM)
        return pc_err_set(err, code, "out of memory buffering a frame");
    return pc_err_set(err, code, "%s (byte 0x%02x)", what, c);
}

/* Makes room for `more` bytes; the caller has checked len + more <= max_bytes. */
static int frame_reserve(struct frame_reader *fr, size_t more)
{
    size_t need = fr->len + more;
    if (need <= fr->cap)
        return 0;
    size_t cap = fr->cap ? fr->cap : FRAME_INITIAL_CAP;
    if (cap > fr->max_bytes)
        cap = fr->max_bytes;
    while (cap < need)
        cap = cap > fr->max_bytes / 2 ? fr->max_bytes : cap * 2;
    if (cap < need)
        cap = need;
    char *nb = realloc(fr->buf, cap);
    if (nb == NULL)
        return PC_E_NOMEM;
    fr->buf = nb;
    fr->cap = cap;
    return 0;
}

/* Forgets the frame handed out by the previous call. */
static void frame_reset(struct frame_reader *fr)
{
    fr->returned = false;
    fr->len = 0;
    if (fr->cap > FRAME_KEEP_CAP) {
        free(fr->buf);
        fr->buf = NULL;
        fr->cap = 0;
    }
}

static bool is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int frame_feed(struct frame_reader *fr, const char *data, size_t len, size_t *consumed,
               const char **frame, size_t *frame_len, struct pc_err *err)
{
    const unsigned char *d = (const unsigned char *)data;
    size_t i = 0;
    *consumed = 0;
    if (fr->err != 0)
        return pc_err_set(err, fr->err, "stream already failed");
    if (fr->returned)
        frame_reset(fr);

    /* Inside a frame, [start, i) of data belongs to it and is not in buf yet. */
    size_t start = 0;
    if (fr->depth == 0) {
        /* Between frames: skip whitespace up to the next '{'. */
        while (i < len && is_ws(d[i]))
            i++;
        if (i == len) {
            *consumed = len;
            return FRAME_MORE;
        }
        if (d[i] != '{')
            return frame_fail(fr, PC_E_PROTOCOL, err, "garbage where a message should start", d[i]);
        fr->depth = 1;
        fr->len = 0;
        fr->values = 1;
        start = i++;
    }
    bool done = false;
    for (; i < len; i++) {
        if (fr->len + (i - start) + 1 > fr->max_bytes)
            return frame_fail(fr, PC_E_FRAME_TOO_LARGE, err, NULL, 0);
        unsigned char c = d[i];
        if (fr->in_string) {
            if (fr->escaped)
                fr->escaped = false;
            else if (c == '\\')
                fr->escaped = true;
            else if (c == '"')
                fr->in_string = false;
            continue;
        }
        if (c == '"') {
            fr->in_string = true;
        } else if (c == '{' || c == '[' || c == ',') {
            if (++fr->values > fr->max_values)
                return frame_fail(fr, PC_E_FRAME_TOO_LARGE, err, "too many values", c);
            if (c != ',' && ++fr->depth > PC_MAX_JSON_DEPTH)
                return frame_fail(fr, PC_E_PROTOCOL, err, "JSON nested too deep", c);
        } else if (c == '}' || c == ']') {
            if (--fr->depth == 0) {
                i++;
                done = true;
                break;
            }
        }
    }
    *consumed = i;

    if (done && fr->len == 0) {
        /* The whole frame is in this call's data: hand it out in place. */
        *frame = data + start;
        *frame_len = i - start;
        fr->returned = true;
        return FRAME_READY;
    }
    size_t run = i - start;
    if (run > 0) {
        if (frame_reserve(fr, run) != 0)
            return frame_fail(fr, PC_E_NOMEM, err, NULL, 0);
        memcpy(fr->buf + fr->len, data + start, run);
        fr->len += run;
    }
    if (!done)
        return FRAME_MORE;
    *frame = fr->buf;
    *frame_len = fr->len;
    fr->returned = true;
    return FRAME_READY;
}
