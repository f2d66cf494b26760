/*
 * peerchain-cli's readable output of a node's answers (docs/api.md shapes).
 *
 * The answer is not trusted: a field may be missing, of another type or
 * full of control characters. Each field is shown as what it is ("?" when
 * missing), strings go through text_clean, and only a wrong top-level shape
 * (an array where an object belongs) is an error, left to the caller.
 *
 * Each function returns true, or false without printing anything if v is
 * not of the expected top-level type.
 */
#ifndef PC_CLI_PRINT_H
#define PC_CLI_PRINT_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

/* GET /status: aligned `key: value` lines. */
bool print_status(FILE *out, const json_t *v);

/* GET /blocks: one line per block: height, short hash, ISO-8601 UTC time,
 * number of data items. */
bool print_block_lines(FILE *out, const json_t *v);

/* One block in full, data items one per line. */
bool print_block(FILE *out, const json_t *v);

/* GET /peers: one address per line; verbose: a table of the peer objects. */
bool print_peers(FILE *out, const json_t *v, bool is_verbose);

#endif
