/*
 * Error codes: their fixed messages, their stable short names, and the
 * code-plus-reason carrier (errors.h).
 *
 * The names are part of the wire protocol (the `code` of an `error` message)
 * and of metrics labels, so once released a name never changes, like the
 * code's number. Pure; static tables; safe from any thread.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "peerchain/errors.h"

struct errors_entry {
    const char *name;
    const char *message;
};

/* Indexed by -code. Designated initialisers keep each row next to its code;
 * a gap would show up as a NULL name, which the unit test rejects. */
static const struct errors_entry errors_table[] = {
    [-PC_OK] = {"ok", "success"},
    [-PC_E_NOMEM] = {"no-memory", "out of memory"},
    [-PC_E_ARG] = {"bad-argument", "invalid argument"},
    [-PC_E_JSON] = {"bad-json", "text is not valid JSON"},
    [-PC_E_MISSING] = {"missing-field", "a required field is missing"},
    [-PC_E_TYPE] = {"bad-type", "a field has the wrong JSON type"},
    [-PC_E_RANGE] = {"out-of-range", "a number is outside its allowed range"},
    [-PC_E_HEX] = {"bad-hex", "a hash is not 64 lowercase hex characters"},
    [-PC_E_TOO_LARGE] = {"too-large", "a string, array or block exceeds its limit"},
    [-PC_E_VERSION] = {"bad-version", "block version not accepted"},
    [-PC_E_HEIGHT] = {"bad-height", "height is not the parent's height plus one"},
    [-PC_E_PREV_HASH] = {"bad-previous-hash", "previousHash is not the parent's hash"},
    [-PC_E_MERKLE] = {"bad-merkle-root", "merkleRoot does not match the data"},
    [-PC_E_HASH] = {"bad-hash", "hash is not the hash of the header"},
    [-PC_E_POW] = {"bad-proof-of-work", "hash does not meet the block's difficulty"},
    [-PC_E_DIFFICULTY] = {"bad-difficulty", "difficulty is not the expected one"},
    [-PC_E_TIME_OLD] = {"time-too-old", "timestamp is not after the median time past"},
    [-PC_E_TIME_FUTURE] = {"time-too-new", "timestamp is too far in the future"},
    [-PC_E_GENESIS] = {"bad-genesis", "genesis block differs from the network's"},
    [-PC_E_NOT_FOUND] = {"not-found", "not found"},
    [-PC_E_NO_FORK_POINT] = {"no-fork-point", "blocks do not link onto our chain"},
    [-PC_E_NOT_CONTIGUOUS] = {"not-contiguous", "blocks do not link to each other"},
    [-PC_E_LESS_WORK] = {"less-work", "competing chain does not have more work"},
    [-PC_E_CANCELLED] = {"cancelled", "operation cancelled"},
    [-PC_E_EXHAUSTED] = {"exhausted", "mining ran out of attempts"},
    [-PC_E_UTF8] = {"bad-utf8", "data string is not valid UTF-8 or contains NUL"},
    [-PC_E_IO] = {"io", "system call failed"},
    [-PC_E_PROTOCOL] = {"protocol", "peer broke the wire protocol"},
    [-PC_E_FRAME_TOO_LARGE] = {"frame-too-large", "frame exceeds the maximum size"},
    [-PC_E_NETWORK] = {"wrong-network", "peer is on another network"},
    [-PC_E_SELF] = {"self-connection", "connection to ourselves"},
    [-PC_E_BANNED] = {"banned", "peer address is banned"},
    [-PC_E_LIMIT] = {"limit", "a configured limit was reached"},
    [-PC_E_TIMEOUT] = {"timeout", "peer did not answer in time"},
    [-PC_E_SHUTDOWN] = {"shutdown", "the node is shutting down"},
    [-PC_E_DUPLICATE] = {"duplicate", "block already known"},
    [-PC_E_STORE] = {"store", "storage failure"},
    [-PC_E_CORRUPT] = {"corrupt", "stored data is damaged or foreign"},
};

#define ERRORS_COUNT (sizeof errors_table / sizeof errors_table[0])

static const struct errors_entry *errors_lookup(int code)
{
    if (code > 0 || code < -(int)(ERRORS_COUNT - 1))
        return NULL;
    return &errors_table[-code];
}

const char *pc_strerror(int code)
{
    const struct errors_entry *e = errors_lookup(code);
    return e ? e->message : "unknown error";
}

const char *pc_errname(int code)
{
    const struct errors_entry *e = errors_lookup(code);
    return e ? e->name : "unknown";
}

int pc_err_set(struct pc_err *err, int code, const char *fmt, ...)
{
    if (!err)
        return code;
    err->code = code;
    err->reason[0] = '\0';
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->reason, sizeof err->reason, fmt, ap);
        va_end(ap);
    }
    /* A reason reaches logs and peers as one line: fold any line break a
     * formatted value might carry. */
    for (char *p = err->reason; *p; p++) {
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    }
    /* Never empty on failure (errors.h). */
    if (code != PC_OK && err->reason[0] == '\0')
        snprintf(err->reason, sizeof err->reason, "%s", pc_strerror(code));
    return code;
}
