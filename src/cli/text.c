/*
 * UTF-8 checking and one-line escaping of untrusted text (see text.h).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "text.h"

/* Decodes the sequence at s (n > 0 bytes available). Returns its length and
 * sets *cp, or 0 if it is not valid UTF-8. */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000}; /* against overlongs */
    size_t len;
    uint32_t c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        c &= 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        c &= 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        c &= 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3fu);
    }
    if (c < min_cp[len] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return len;
}

bool text_is_utf8(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        size_t n = utf8_next(p + i, len - i, &cp);
        if (n == 0 || cp == 0)
            return false;
        i += n;
    }
    return true;
}

/* The escape for a code point that must not reach the terminal as is, or
 * "" if it may. */
static void escape_of(uint32_t cp, char esc[16])
{
    esc[0] = '\0';
    if (cp == '\n')
        strcpy(esc, "\\n");
    else if (cp == '\t')
        strcpy(esc, "\\t");
    else if (cp == '\r')
        strcpy(esc, "\\r");
    else if (cp < 0x20 || cp == 0x7f)
        snprintf(esc, 16, "\\x%02x", (unsigned)cp);
    else if (cp >= 0x80 && cp < 0xa0) /* C1 controls: U+009B is a CSI to some terminals */
        snprintf(esc, 16, "\\u{%02x}", (unsigned)cp);
}

/* The next piece of output for the input at p[0..len): a run of printable
 * UTF-8 (borrowed) or an escape written into esc. Sets *used to the input
 * bytes it covers. */
static const char *next_piece(const unsigned char *p, size_t len, char esc[16], size_t *piece_len,
                              size_t *used)
{
    uint32_t cp;
    size_t n = utf8_next(p, len, &cp);
    if (n == 0) { /* not UTF-8: show the byte */
        snprintf(esc, 16, "\\x%02x", (unsigned)p[0]);
        *used = 1;
    } else {
        escape_of(cp, esc);
        *used = n;
    }
    if (esc[0] != '\0') {
        *piece_len = strlen(esc);
        return esc;
    }
    *piece_len = n;
    return (const char *)p;
}

char *text_clean(char *out, size_t cap, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    char esc[16];
    size_t piece_len, used, total = 0;
    for (size_t i = 0; i < len && total < cap; i += used) {
        next_piece(p + i, len - i, esc, &piece_len, &used);
        total += piece_len;
    }
    /* Leave room for "..." only when the whole text does not fit. */
    size_t room = total < cap ? cap - 1 : cap - 4;
    size_t o = 0;
    for (size_t i = 0; i < len; i += used) {
        const char *piece = next_piece(p + i, len - i, esc, &piece_len, &used);
        if (o + piece_len > room)
            break;
        memcpy(out + o, piece, piece_len);
        o += piece_len;
    }
    if (total >= cap) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}
