/*
 * Readable forms of the node's answers (see print.h). Every value goes
 * through show(), which turns any JSON value, or its absence, into one safe
 * line; the layouts only choose which fields go where.
 */
#include <ctype.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "peerchain/peerchain.h"

#include "print.h"
#include "text.h"

#define PRINT_VALUE_BYTES 512u   /* one shown value; longer ones end in "..." */
#define PRINT_PART_BYTES 112u    /* a value shown as one of up to four in a line */
#define PRINT_DATA_BYTES 300000u /* one data item (64 KiB, escaped up to 4x) */
#define PRINT_SHORT_HASH 16      /* hex characters of a hash in a block line */
#define PRINT_MAX_COLUMN 64      /* widest column of the peers table */

/* Any JSON value (NULL: absent) as one line of text in out. */
static const char *show(char *out, size_t cap, const json_t *v)
{
    if (v == NULL) {
        snprintf(out, cap, "?");
    } else if (json_is_string(v)) {
        text_clean(out, cap, json_string_value(v), json_string_length(v));
    } else if (json_is_integer(v)) {
        snprintf(out, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    } else if (json_is_real(v)) {
        snprintf(out, cap, "%.6g", json_real_value(v));
    } else if (json_is_boolean(v)) {
        snprintf(out, cap, "%s", json_is_true(v) ? "true" : "false");
    } else if (json_is_null(v)) {
        snprintf(out, cap, "null");
    } else if (json_is_array(v)) {
        snprintf(out, cap, "[%zu items]", json_array_size(v));
    } else {
        snprintf(out, cap, "{...}");
    }
    return out;
}

/* obj[key] if obj is an object, else NULL. */
static const json_t *field(const json_t *obj, const char *key)
{
    return json_is_object(obj) ? json_object_get(obj, key) : NULL;
}

/* A Unix time as ISO-8601 UTC; any other value as show() has it. */
static const char *show_time(char *out, size_t cap, const json_t *v)
{
    struct tm tm;
    if (json_is_integer(v) && json_integer_value(v) >= 0 &&
        json_integer_value(v) <= PC_MAX_SAFE_INTEGER) {
        time_t t = (time_t)json_integer_value(v);
        if (gmtime_r(&t, &tm) != NULL && strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) > 0)
            return out;
    }
    return show(out, cap, v);
}

/* A fraction 0..1 as a percentage with one decimal at most ("99.9%"),
 * rounded down so that "100%" means done; any other value as show() has it. */
static const char *show_progress(char *out, size_t cap, const json_t *v)
{
    if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 1)
        return show(out, cap, v);
    /* Truncation is rounding down here: the value is not negative. No floor()
     * from libm, which this program does not link. */
    long tenths = (long)(json_number_value(v) * 1000.0);
    if (tenths % 10 == 0)
        snprintf(out, cap, "%ld%%", tenths / 10);
    else
        snprintf(out, cap, "%ld.%ld%%", tenths / 10, tenths % 10);
    return out;
}

/* A data array as "N items"; any other value as show() has it. */
static const char *show_count(char *out, size_t cap, const json_t *v)
{
    if (!json_is_array(v))
        return show(out, cap, v);
    snprintf(out, cap, "%zu item%s", json_array_size(v), json_array_size(v) == 1 ? "" : "s");
    return out;
}

/* Seconds as "2d 3h 4m 5s" (leading zero units left out). */
static const char *show_duration(char *out, size_t cap, const json_t *v)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return show(out, cap, v);
    long long s = json_integer_value(v);
    long long d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60;
    if (d > 0)
        snprintf(out, cap, "%lldd %lldh %lldm %llds", d, h, m, s % 60);
    else if (h > 0)
        snprintf(out, cap, "%lldh %lldm %llds", h, m, s % 60);
    else if (m > 0)
        snprintf(out, cap, "%lldm %llds", m, s % 60);
    else
        snprintf(out, cap, "%llds", s);
    return out;
}

struct line {
    const char *key;
    char val[PRINT_VALUE_BYTES];
};

static void print_lines(FILE *out, const struct line *lines, size_t n)
{
    int width = 0;
    for (size_t i = 0; i < n; i++)
        if ((int)strlen(lines[i].key) > width)
            width = (int)strlen(lines[i].key);
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%s:%*s %s\n", lines[i].key, width - (int)strlen(lines[i].key), "",
                lines[i].val);
}

bool print_status(FILE *out, const json_t *v)
{
    char a[PRINT_PART_BYTES], b[PRINT_PART_BYTES], c[PRINT_PART_BYTES], d[PRINT_PART_BYTES];
    struct line l[9] = {{.key = "network"}, {.key = "version"}, {.key = "height"},
                        {.key = "tip"},     {.key = "work"},    {.key = "peers"},
                        {.key = "sync"},    {.key = "mining"},  {.key = "uptime"}};
    if (!json_is_object(v))
        return false;
    snprintf(l[0].val, sizeof l[0].val, "%s (%s)", show(a, sizeof a, field(v, "network")),
             show(b, sizeof b, field(v, "networkId")));
    show(l[1].val, sizeof l[1].val, field(v, "version"));
    show(l[2].val, sizeof l[2].val, field(v, "height"));
    show(l[3].val, sizeof l[3].val, field(v, "tip"));
    show(l[4].val, sizeof l[4].val, field(v, "work"));
    const json_t *peers = field(v, "peers");
    snprintf(l[5].val, sizeof l[5].val, "%s inbound, %s outbound",
             show(a, sizeof a, field(peers, "inbound")),
             show(b, sizeof b, field(peers, "outbound")));
    const json_t *sync = field(v, "sync");
    snprintf(l[6].val, sizeof l[6].val, "%s (height %s of %s, %s)",
             show(a, sizeof a, field(sync, "state")), show(b, sizeof b, field(sync, "height")),
             show(c, sizeof c, field(sync, "target")),
             show_progress(d, sizeof d, field(sync, "progress")));
    const json_t *mining = field(v, "mining");
    if (json_is_boolean(field(mining, "enabled")) && !json_is_true(field(mining, "enabled")))
        snprintf(l[7].val, sizeof l[7].val, "off");
    else
        snprintf(l[7].val, sizeof l[7].val, "%s, %s hashes/s",
                 json_is_true(field(mining, "enabled"))
                     ? "on"
                     : show(a, sizeof a, field(mining, "enabled")),
                 show(b, sizeof b, field(mining, "hashRate")));
    show_duration(l[8].val, sizeof l[8].val, field(v, "uptimeSeconds"));
    print_lines(out, l, sizeof l / sizeof l[0]);
    return true;
}

/* The first PRINT_SHORT_HASH characters of a hex hash; anything else as
 * show() has it, cut short. */
static const char *show_short_hash(char *out, size_t cap, const json_t *v)
{
    const char *s = json_string_value(v);
    size_t n = 0;
    while (s != NULL && n < PRINT_SHORT_HASH && isxdigit((unsigned char)s[n]))
        n++;
    if (n == PRINT_SHORT_HASH) {
        snprintf(out, cap, "%.*s", (int)n, s);
        return out;
    }
    show(out, cap < PRINT_SHORT_HASH + 4 ? cap : PRINT_SHORT_HASH + 4, v);
    return out;
}

/* Digits of the widest integer height among the blocks (for alignment). */
static int height_width(const json_t *arr)
{
    int width = 1;
    size_t i;
    const json_t *b;
    json_array_foreach(arr, i, b)
    {
        char tmp[32];
        const json_t *h = field(b, "height");
        if (json_is_integer(h)) {
            int n = snprintf(tmp, sizeof tmp, "%" JSON_INTEGER_FORMAT, json_integer_value(h));
            if (n > width)
                width = n;
        }
    }
    return width;
}

bool print_block_lines(FILE *out, const json_t *v)
{
    char h[PRINT_VALUE_BYTES], hash[PRINT_VALUE_BYTES], t[PRINT_VALUE_BYTES], n[32];
    if (!json_is_array(v))
        return false;
    int width = height_width(v);
    size_t i;
    const json_t *b;
    json_array_foreach(v, i, b)
    {
        fprintf(out, "%*s  %s  %s  %s\n", width, show(h, sizeof h, field(b, "height")),
                show_short_hash(hash, sizeof hash, field(b, "hash")),
                show_time(t, sizeof t, field(b, "timestamp")),
                show_count(n, sizeof n, field(b, "data")));
    }
    return true;
}

bool print_block(FILE *out, const json_t *v)
{
    char a[PRINT_PART_BYTES], b[PRINT_PART_BYTES];
    struct line l[9] = {{.key = "height"},      {.key = "hash"},    {.key = "previous hash"},
                        {.key = "merkle root"}, {.key = "time"},    {.key = "difficulty"},
                        {.key = "nonce"},       {.key = "version"}, {.key = "data"}};
    static const char *const keys[] = {"height",    "hash",       "previousHash", "merkleRoot",
                                       "timestamp", "difficulty", "nonce",        "version"};
    if (!json_is_object(v))
        return false;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        show(l[i].val, sizeof l[i].val, field(v, keys[i]));
    if (json_is_integer(field(v, "timestamp")))
        snprintf(l[4].val, sizeof l[4].val, "%s (%s)",
                 show_time(a, sizeof a, field(v, "timestamp")),
                 show(b, sizeof b, field(v, "timestamp")));
    const json_t *data = field(v, "data");
    show_count(l[8].val, sizeof l[8].val, data);
    print_lines(out, l, sizeof l / sizeof l[0]);
    if (!json_is_array(data))
        return true;
    static char item[PRINT_DATA_BYTES]; /* large: not on the stack */
    size_t i;
    const json_t *d;
    json_array_foreach(data, i, d)
    {
        fprintf(out, "  [%zu] %s\n", i, show(item, sizeof item, d));
    }
    return true;
}

/* The columns of `peers --verbose`, in order. */
static const char *const peer_keys[] = {"id", "addr", "direction", "protocol", "height", "listen"};
#define PEER_COLUMNS (sizeof peer_keys / sizeof peer_keys[0])

static void peer_widths(const json_t *arr, int width[PEER_COLUMNS])
{
    char tmp[PRINT_VALUE_BYTES];
    size_t i;
    const json_t *p;
    for (size_t c = 0; c < PEER_COLUMNS; c++)
        width[c] = (int)strlen(peer_keys[c]);
    json_array_foreach(arr, i, p)
    {
        for (size_t c = 0; c < PEER_COLUMNS; c++) {
            int n = (int)strlen(show(tmp, sizeof tmp, field(p, peer_keys[c])));
            if (n > width[c])
                width[c] = n > PRINT_MAX_COLUMN ? PRINT_MAX_COLUMN : n;
        }
    }
}

static void print_peer_row(FILE *out, const json_t *p, const int width[PEER_COLUMNS])
{
    char tmp[PRINT_VALUE_BYTES];
    for (size_t c = 0; c < PEER_COLUMNS; c++) {
        const char *s = p != NULL ? show(tmp, sizeof tmp, field(p, peer_keys[c])) : peer_keys[c];
        if (c + 1 < PEER_COLUMNS)
            fprintf(out, "%-*s  ", width[c], s);
        else
            fprintf(out, "%s\n", s);
    }
}

bool print_peers(FILE *out, const json_t *v, bool is_verbose)
{
    char tmp[PRINT_VALUE_BYTES];
    int width[PEER_COLUMNS];
    size_t i;
    const json_t *p;
    if (!json_is_array(v))
        return false;
    if (!is_verbose) {
        json_array_foreach(v, i, p)
        {
            fprintf(out, "%s\n", show(tmp, sizeof tmp, p));
        }
        return true;
    }
    peer_widths(v, width);
    print_peer_row(out, NULL, width);
    json_array_foreach(v, i, p)
    {
        print_peer_row(out, p, width);
    }
    return true;
}
