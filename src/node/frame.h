/*
 * The stream JSON framer: finds where each message of a TCP byte stream
 * starts and ends, without trusting read boundaries (docs/protocol.md,
 * "Transport and framing").
 *
 * A message is a JSON object. Between messages any whitespace (space, tab,
 * CR, LF) is skipped; messages may also follow each other with no separator.
 * The end of an object is found by tracking string literals (with `\`
 * escapes) and {}/[] nesting. The framer does not validate JSON: Jansson
 * does that on the complete frame. It does reject, as soon as it sees them:
 * a byte other than whitespace or '{' where a message should start, nesting
 * deeper than PC_MAX_JSON_DEPTH, a frame longer than max_bytes (it never
 * buffers more than max_bytes of one frame), and a frame with more JSON
 * values than max_values.
 *
 * Values are counted because a parsed JSON tree can be far larger than its
 * text: `[{},{},...]` costs Jansson ~80 bytes per 3 bytes of input. The count
 * (`{`, `[` and `,` outside strings: within one of the true number of values)
 * caps that blow-up per frame and lets the reader charge a message to its
 * peer's queue share by what it will cost once parsed.
 *
 * Incremental: the scan state lives in the reader, so every byte is looked at
 * once however the stream is split. Pure: no threads, no I/O; one reader per
 * connection, used by that connection's reader thread alone.
 */
#ifndef PC_NODE_FRAME_H
#define PC_NODE_FRAME_H

#include <stdbool.h>
#include <stddef.h>

#include "peerchain/errors.h"

struct frame_reader {
    char *buf;         /* the unfinished frame, from its '{'; NULL when empty */
    size_t len, cap;   /* bytes in buf, allocated size */
    size_t max_bytes;  /* frame size limit, immutable after init */
    size_t max_values; /* value limit, immutable after init */
    size_t values;     /* values counted in the current (or just returned) frame */
    unsigned depth;    /* open objects and arrays; 0 between frames */
    bool in_string;    /* inside a string literal */
    bool escaped;      /* the previous byte was a backslash inside a string */
    bool returned;     /* a frame was handed out: drop it on the next feed */
    int err;           /* sticky: once a stream failed it stays failed */
};

enum { FRAME_MORE = 0, FRAME_READY = 1 };

/* Values one frame may hold for a given frame size: max_bytes / 12, which
 * every real message stays well under (a block's JSON is ~25 bytes a value). */
#define FRAME_BYTES_PER_VALUE_MIN 12u

/* Sets up an empty reader. max_bytes >= 2; the value limit is
 * max_bytes / FRAME_BYTES_PER_VALUE_MIN (at least 64). */
void frame_init(struct frame_reader *fr, size_t max_bytes);
void frame_destroy(struct frame_reader *fr);

/*
 * Scans up to len bytes of data. *consumed gets how many were used.
 *  FRAME_READY: a complete frame; *frame and *frame_len describe it (from '{'
 *    to its matching '}', no surrounding whitespace). *frame points into data
 *    or into the reader's buffer and is valid until the next frame_feed or
 *    frame_destroy call (and, if it points into data, while data is). Call
 *    again with the rest of data (data + *consumed).
 *  FRAME_MORE: all of data was used; no complete frame yet.
 *  < 0: the stream is broken and stays so: PC_E_PROTOCOL (garbage, nesting
 *    too deep), PC_E_FRAME_TOO_LARGE (too many bytes or values), PC_E_NOMEM.
 *    err (may be NULL) says why.
 */
int frame_feed(struct frame_reader *fr, const char *data, size_t len, size_t *consumed,
               const char **frame, size_t *frame_len, struct pc_err *err);

/* The value count of the frame last returned by FRAME_READY. */
size_t frame_values(const struct frame_reader *fr);

/* Bytes of an unfinished frame held right now (0 between frames). */
size_t frame_pending(const struct frame_reader *fr);

#endif
