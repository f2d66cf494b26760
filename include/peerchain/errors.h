/*
 * peerchain error codes.
 *
 * Every function that can fail returns an int: 0 (PC_OK) on success or one of
 * the negative codes below. The list is append-only: a code's number never
 * changes once released, because codes appear in logs, in `error` messages
 * sent to peers and in tests. pc_strerror() gives the fixed one-line meaning;
 * struct pc_err carries the code plus a reason specific to the case (which
 * field, which height), for logs and for the peer.
 *
 * Thread safety: everything here is pure; pc_strerror() returns static text.
 */
#ifndef PEERCHAIN_ERRORS_H
#define PEERCHAIN_ERRORS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum pc_status {
    PC_OK = 0,
    PC_E_NOMEM = -1,            /* allocation failed */
    PC_E_ARG = -2,              /* invalid argument from the caller (a bug, or a bad flag) */
    PC_E_JSON = -3,             /* text is not valid JSON */
    PC_E_MISSING = -4,          /* a required field is absent */
    PC_E_TYPE = -5,             /* a field has the wrong JSON type */
    PC_E_RANGE = -6,            /* an integer is outside its allowed range */
    PC_E_HEX = -7,              /* a hash is not 64 lowercase hex characters */
    PC_E_TOO_LARGE = -8,        /* a string, array or block exceeds its limit */
    PC_E_VERSION = -9,          /* block version not accepted */
    PC_E_HEIGHT = -10,          /* height is not parent height + 1 */
    PC_E_PREV_HASH = -11,       /* previousHash is not the parent's hash */
    PC_E_MERKLE = -12,          /* merkleRoot does not match the data */
    PC_E_HASH = -13,            /* hash is not the hash of the header */
    PC_E_POW = -14,             /* hash does not have `difficulty` leading zero bits */
    PC_E_DIFFICULTY = -15,      /* difficulty is not the one the rules expect */
    PC_E_TIME_OLD = -16,        /* timestamp not later than the median of the last 11 */
    PC_E_TIME_FUTURE = -17,     /* timestamp more than 2 hours ahead of our clock */
    PC_E_GENESIS = -18,         /* genesis block differs from the network's */
    PC_E_NOT_FOUND = -19,       /* no such block / height / peer */
    PC_E_NO_FORK_POINT = -20,   /* competing blocks do not link onto our chain */
    PC_E_NOT_CONTIGUOUS = -21,  /* blocks in a segment do not link to each other */
    PC_E_LESS_WORK = -22,       /* competing chain does not have strictly more work */
    PC_E_CANCELLED = -23,       /* operation cancelled (mining) */
    PC_E_EXHAUSTED = -24,       /* mining ran out of attempts / nonce space */
    PC_E_UTF8 = -25,            /* data string is not valid UTF-8 or contains NUL */
    PC_E_IO = -26,              /* system call failed (errno in the reason) */
    PC_E_PROTOCOL = -27,        /* peer broke the wire protocol */
    PC_E_FRAME_TOO_LARGE = -28, /* a frame exceeded the maximum frame size */
    PC_E_NETWORK = -29,         /* peer is on another network or genesis */
    PC_E_SELF = -30,            /* connection to ourselves */
    PC_E_BANNED = -31,          /* peer address is banned */
    PC_E_LIMIT = -32,           /* a configured limit was reached (peers, queue) */
    PC_E_TIMEOUT = -33,         /* peer did not answer in time */
    PC_E_SHUTDOWN = -34,        /* the node is shutting down */
    PC_E_DUPLICATE = -35,       /* block already known */
    PC_E_STORE = -36,           /* storage failure (reason says which) */
    PC_E_CORRUPT = -37,         /* stored data is damaged or foreign */
};

/* Static, one-line meaning of a code. Unknown codes give "unknown error". */
const char *pc_strerror(int code);

/* The stable short name of a code, e.g. "bad-merkle-root" for PC_E_MERKLE.
 * Used as the `code` field of wire `error` messages and metrics labels. */
const char *pc_errname(int code);

#define PC_ERR_REASON_BYTES 160

/* A failure with its reason. Functions that fill one accept NULL. */
struct pc_err {
    int code;                         /* PC_OK or a PC_E_* code */
    char reason[PC_ERR_REASON_BYTES]; /* NUL-terminated, one line, never empty on failure */
};

/* Sets err (if not NULL) to code and a printf-formatted reason; returns code,
 * so that `return pc_err_set(err, PC_E_HEIGHT, "height %llu", h);` reads well. */
int pc_err_set(struct pc_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#ifdef __cplusplus
}
#endif
#endif
