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
 * deeper than PC_MAX_JSON_DEPTH, and a frame longer than max_bytes (it never
 * buffers more than max_bytes of one frame).
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
    char *buf;        /* the unfinished frame, from its '{'; NULL when empty */
    size_t len, cap;  /* bytes in buf, allocated size */
    size_t max_bytes; /* frame size limit, immutable after init */
    unsigned depth;   /* open objects and arrays; 0 between frames */
    bool in_string;   /* inside a string literal */
    bool escaped;     /* the previous byte was a backslash inside a string */
    bool returned;    /* a frame was handed out: drop it on the next feed */
    int err;          /* sticky: once a stream failed it stays failed */
};

enum { FRAME_MORE = 0, FRAME_READY = 1 };

/* Sets up an empty reader. max_bytes >= 2. */
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
 *    too deep), PC_E_FRAME_TOO_LARGE, PC_E_NOMEM. err (may be NULL) says why.
 */
int frame_feed(struct frame_reader *fr, const char *data, size_t len, size_t *consumed,
               const char **frame, size_t *frame_len, struct pc_err *err);

/* Bytes of an unfinished frame held right now (0 between frames). */
size_t frame_pending(const struct frame_reader *fr);

#endif
