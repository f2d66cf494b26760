/*
 * Text that came from elsewhere (a node's answer, a block's data, argv),
 * checked as UTF-8 and made safe to show on one terminal line.
 *
 * A node is not trusted to send printable text: an `error` string or a
 * block's data may hold newlines, escape sequences that drive the terminal,
 * or bytes that are not UTF-8. text_clean keeps valid printable UTF-8 and
 * writes everything else as a visible escape (\n, \t, \xNN, \u{NN}).
 *
 * Pure functions; safe from any thread.
 */
#ifndef PC_CLI_TEXT_H
#define PC_CLI_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* True if s[0..len) is valid UTF-8 (no overlongs, surrogates or code points
 * past U+10FFFF) with no NUL. */
bool text_is_utf8(const char *s, size_t len);

/* Writes s[0..len) into out (cap bytes, NUL-terminated, cap >= 4) with
 * every control character (C0, DEL, C1), NUL and invalid byte escaped.
 * When it does not fit, ends with "..." instead. Returns out. */
char *text_clean(char *out, size_t cap, const char *s, size_t len);

#endif
