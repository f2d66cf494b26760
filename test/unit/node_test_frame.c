/*
 * The stream JSON framer (src/node/frame.c): TCP reads are not messages.
 * Every stream here is also fed in every split the test can afford (one byte
 * at a time, and at each cut point), and must frame the same way.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "frame.h"
#include "peerchain/limits.h"

#define MAX_FRAMES 64

/* What a stream framed into: the frames (concatenated, each followed by a
 * '|' marker) and the final status. */
struct result {
    char *text;
    size_t len, cap;
    int n_frames;
    int status; /* FRAME_MORE at the end, or the error code */
    size_t pending;
};

static void res_add(struct result *r, const char *s, size_t n)
{
    if (r->len + n + 2 > r->cap) {
        r->cap = (r->len + n + 2) * 2;
        r->text = realloc(r->text, r->cap);
        if (r->text == NULL)
            abort();
    }
    memcpy(r->text + r->len, s, n);
    r->len += n;
    r->text[r->len++] = '|';
    r->text[r->len] = '\0';
}

static void res_init(struct result *r)
{
    memset(r, 0, sizeof *r);
    r->status = FRAME_MORE;
    r->cap = 64;
    r->text = calloc(1, r->cap);
    if (r->text == NULL)
        abort();
}

/* Feeds data[0..len) to fr as one read, collecting frames into r. */
static void feed_piece(struct frame_reader *fr, const char *data, size_t len, struct result *r)
{
    size_t pos = 0;
    while (pos < len && r->status == FRAME_MORE) {
        size_t used;
        const char *f;
        size_t flen;
        int s = frame_feed(fr, data + pos, len - pos, &used, &f, &flen, NULL);
        pos += used;
        if (s < 0) {
            r->status = s;
        } else if (s == FRAME_READY) {
            res_add(r, f, flen);
            r->n_frames++;
        }
    }
}

/* Feeds data through one reader in pieces cut at cuts[0..n_cuts) (ascending). */
static struct result run_cuts(const char *data, size_t len, const size_t *cuts, size_t n_cuts,
                              size_t max_bytes)
{
    struct result r;
    res_init(&r);
    struct frame_reader fr;
    frame_init(&fr, max_bytes);
    size_t start = 0;
    for (size_t k = 0; k <= n_cuts; k++) {
        size_t end = k < n_cuts ? cuts[k] : len;
        feed_piece(&fr, data + start, end - start, &r);
        start = end;
    }
    r.pending = frame_pending(&fr);
    frame_destroy(&fr);
    return r;
}

/* Feeds data in pieces of `piece` bytes (0 = all at once). */
static struct result run(const char *data, size_t len, size_t piece, size_t max_bytes)
{
    struct result r;
    res_init(&r);
    struct frame_reader fr;
    frame_init(&fr, max_bytes);
    for (size_t off = 0; off < len;) {
        size_t n = piece == 0 || piece > len - off ? len - off : piece;
        feed_piece(&fr, data + off, n, &r);
        off += n;
    }
    r.pending = frame_pending(&fr);
    frame_destroy(&fr);
    return r;
}

static bool same(const struct result *a, const struct result *b)
{
    return a->status == b->status && a->n_frames == b->n_frames && a->len == b->len &&
           memcmp(a->text, b->text, a->len) == 0;
}

/* Runs data whole, byte by byte, and split in two at every cut point; checks
 * all agree, and returns the whole-feed result. */
static struct result run_all_splits(const char *data, size_t max_bytes)
{
    size_t len = strlen(data);
    struct result whole = run(data, len, 0, max_bytes);
    struct result bytes = run(data, len, 1, max_bytes);
    CHECK(same(&whole, &bytes));
    free(bytes.text);
    for (size_t cut = 1; cut < len; cut++) {
        struct result a = run_cuts(data, len, &cut, 1, max_bytes);
        if (!same(&a, &whole)) {
            fprintf(stderr, "split at %zu of \"%s\" differs\n", cut, data);
            CHECK(0);
        }
        free(a.text);
    }
    return whole;
}

static void expect(const char *data, int status, int n_frames, const char *frames)
{
    struct result r = run_all_splits(data, PC_DEFAULT_MAX_FRAME_BYTES);
    if (r.status != status || r.n_frames != n_frames ||
        (frames != NULL && strcmp(r.text, frames) != 0))
        fprintf(stderr, "input: %s\n  got status %d, %d frames: %s\n", data, r.status, r.n_frames,
                r.text);
    CHECK_EQ_INT(r.status, status);
    CHECK_EQ_INT(r.n_frames, n_frames);
    if (frames != NULL)
        CHECK_EQ_STR(r.text, frames);
    free(r.text);
}

static void test_table(void)
{
    /* clang-format off */
    static const struct { const char *in; int status; int n; const char *frames; } rows[] = {
        {"", FRAME_MORE, 0, ""},
        {" \t\r\n ", FRAME_MORE, 0, ""},
        {"{}", FRAME_MORE, 1, "{}|"},
        {"{\"type\":\"ping\"}\n", FRAME_MORE, 1, "{\"type\":\"ping\"}|"},
        {"{\"a\":1}{\"b\":2}", FRAME_MORE, 2, "{\"a\":1}|{\"b\":2}|"},
        {"{\"a\":1}\n{\"b\":2}\n", FRAME_MORE, 2, "{\"a\":1}|{\"b\":2}|"},
        {" \r\n\t{\"a\":1} \t\r\n {\"b\":2}  ", FRAME_MORE, 2, "{\"a\":1}|{\"b\":2}|"},
        {"{\"s\":\"}{][\"}", FRAME_MORE, 1, "{\"s\":\"}{][\"}|"},
        {"{\"s\":\"a\\\"}b\"}", FRAME_MORE, 1, "{\"s\":\"a\\\"}b\"}|"},
        {"{\"s\":\"\\\\\"}{}", FRAME_MORE, 2, "{\"s\":\"\\\\\"}|{}|"},
        {"{\"s\":\"\\\\\\\"}\"}", FRAME_MORE, 1, "{\"s\":\"\\\\\\\"}\"}|"},
        {"{\"s\":\"\\u007b\"}", FRAME_MORE, 1, "{\"s\":\"\\u007b\"}|"},
        {"{\"a\":[1,{\"b\":[]}]}", FRAME_MORE, 1, "{\"a\":[1,{\"b\":[]}]}|"},
        {"{\"u\":\"h\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}", FRAME_MORE, 1,
         "{\"u\":\"h\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}|"},
        {"{\"a\":", FRAME_MORE, 0, ""},
        {"{\"a\":\"}", FRAME_MORE, 0, ""},
        /* garbage */
        {"x", PC_E_PROTOCOL, 0, ""},
        {"[1,2]", PC_E_PROTOCOL, 0, ""},
        {"\"str\"", PC_E_PROTOCOL, 0, ""},
        {"123", PC_E_PROTOCOL, 0, ""},
        {"\xef\xbb\xbf{}", PC_E_PROTOCOL, 0, ""},
        {"{}x{}", PC_E_PROTOCOL, 1, "{}|"},
        {"{}\n}", PC_E_PROTOCOL, 1, "{}|"},
        {"{}\v{}", PC_E_PROTOCOL, 1, "{}|"},
        {"{\"a\":1}GET / HTTP/1.1\r\n", PC_E_PROTOCOL, 1, "{\"a\":1}|"},
        /* brackets out of order end the frame; Jansson rejects it later */
        {"{]", FRAME_MORE, 1, "{]|"},
    };
    /* clang-format on */
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        expect(rows[i].in, rows[i].status, rows[i].n, rows[i].frames);
}

static char *nested(int depth, char open, char close)
{
    char *s = malloc((size_t)depth * 2 + 8); /* {"": + pairs + } + NUL */
    if (s == NULL)
        abort();
    size_t k = 0;
    s[k++] = '{';
    s[k++] = '"';
    s[k++] = '"';
    s[k++] = ':';
    for (int i = 1; i < depth; i++)
        s[k++] = open;
    for (int i = 1; i < depth; i++)
        s[k++] = close;
    s[k++] = '}';
    s[k] = '\0';
    return s;
}

static void test_depth(void)
{
    /* depth counts the outer object: 64 levels pass, 65 fail */
    char *ok = nested(PC_MAX_JSON_DEPTH, '[', ']');
    struct result r = run(ok, strlen(ok), 1, PC_DEFAULT_MAX_FRAME_BYTES);
    CHECK_EQ_INT(r.status, FRAME_MORE);
    CHECK_EQ_INT(r.n_frames, 1);
    free(r.text);
    free(ok);

    char *deep = nested(PC_MAX_JSON_DEPTH + 1, '[', ']');
    r = run(deep, strlen(deep), 0, PC_DEFAULT_MAX_FRAME_BYTES);
    CHECK_EQ_INT(r.status, PC_E_PROTOCOL);
    CHECK_EQ_INT(r.n_frames, 0);
    free(r.text);
    free(deep);

    /* mixed {} and [] count together, and the error comes before the end */
    char mixed[256];
    size_t k = 0;
    for (int i = 0; i < PC_MAX_JSON_DEPTH + 1; i++)
        mixed[k++] = i % 2 ? '[' : '{';
    mixed[k] = '\0';
    r = run(mixed, k, 0, PC_DEFAULT_MAX_FRAME_BYTES);
    CHECK_EQ_INT(r.status, PC_E_PROTOCOL);
    free(r.text);

    /* braces inside strings do not count */
    char str[512] = "{\"s\":\"";
    for (int i = 0; i < 200; i++)
        strcat(str, "{");
    strcat(str, "\"}");
    r = run(str, strlen(str), 0, PC_DEFAULT_MAX_FRAME_BYTES);
    CHECK_EQ_INT(r.status, FRAME_MORE);
    CHECK_EQ_INT(r.n_frames, 1);
    free(r.text);
}

static void test_size_limit(void)
{
    /* A frame of exactly max bytes passes; one more byte fails. */
    size_t max = 100;
    char buf[256];
    memset(buf, 0, sizeof buf);
    strcpy(buf, "{\"s\":\"");
    size_t k = strlen(buf);
    while (k < max - 2)
        buf[k++] = 'a';
    buf[k++] = '"';
    buf[k++] = '}';
    CHECK_EQ_INT(k, max);
    struct result r = run(buf, k, 1, max);
    CHECK_EQ_INT(r.status, FRAME_MORE);
    CHECK_EQ_INT(r.n_frames, 1);
    free(r.text);
    r = run(buf, k, 0, max - 1);
    CHECK_EQ_INT(r.status, PC_E_FRAME_TOO_LARGE);
    free(r.text);

    /* An unfinished frame fails as soon as it passes the limit, and the
     * reader never holds more than the limit. */
    struct frame_reader fr;
    frame_init(&fr, max);
    int s = FRAME_MORE;
    size_t fed = 0, used;
    const char *f;
    size_t flen;
    struct pc_err err;
    s = frame_feed(&fr, "{\"s\":\"", 6, &used, &f, &flen, &err);
    fed += used;
    while (s == FRAME_MORE && fed < 10 * max) {
        s = frame_feed(&fr, "a", 1, &used, &f, &flen, &err);
        fed += used;
        CHECK(frame_pending(&fr) <= max);
        CHECK(fr.cap <= max);
    }
    CHECK_EQ_INT(s, PC_E_FRAME_TOO_LARGE);
    CHECK_EQ_INT(err.code, PC_E_FRAME_TOO_LARGE);
    CHECK_EQ_INT(fed, max); /* the byte past the limit was refused */
    /* sticky */
    CHECK_EQ_INT(frame_feed(&fr, "{}", 2, &used, &f, &flen, NULL), PC_E_FRAME_TOO_LARGE);
    frame_destroy(&fr);

    /* A big blob in one feed is refused without copying it. */
    size_t big = 1 << 20;
    char *blob = malloc(big);
    memset(blob, 'a', big);
    blob[0] = '{';
    blob[1] = '"';
    frame_init(&fr, 4096);
    s = frame_feed(&fr, blob, big, &used, &f, &flen, NULL);
    CHECK_EQ_INT(s, PC_E_FRAME_TOO_LARGE);
    CHECK(fr.cap == 0 && fr.buf == NULL);
    frame_destroy(&fr);
    free(blob);
}

/* The value count: reported per frame, and a frame of cheap text that would
 * parse into a huge tree ([{},{},...]) is refused before it is buffered whole. */
static void test_value_limit(void)
{
    struct frame_reader fr;
    const char *f;
    size_t flen, used;
    struct pc_err err;

    frame_init(&fr, 1200); /* 100 values */
    const char *msg = "{\"type\":\"x\",\"payload\":[1,2,{\"a\":\"{,[\"}]}";
    CHECK_EQ_INT(frame_feed(&fr, msg, strlen(msg), &used, &f, &flen, &err), FRAME_READY);
    /* '{' + ',' + '[' + ',' + ',' + '{' = 6; the braces and comma inside the string do not count */
    CHECK_EQ_INT(frame_values(&fr), 6);
    frame_destroy(&fr);

    char buf[1200];
    size_t k = 0;
    buf[k++] = '{';
    buf[k++] = '"';
    buf[k++] = 'p';
    buf[k++] = '"';
    buf[k++] = ':';
    buf[k++] = '[';
    while (k + 4 < sizeof buf - 2) {
        memcpy(buf + k, "{},", 3);
        k += 3;
    }
    buf[k++] = '{';
    buf[k++] = '}';
    buf[k++] = ']';
    buf[k++] = '}';
    frame_init(&fr, 1200);
    CHECK_EQ_INT(frame_feed(&fr, buf, k, &used, &f, &flen, &err), PC_E_FRAME_TOO_LARGE);
    CHECK(strstr(err.reason, "values") != NULL);
    frame_destroy(&fr);
    /* byte by byte: refused at the 101st value, long before the frame ends */
    frame_init(&fr, 1200);
    size_t fed = 0;
    int s = FRAME_MORE;
    while (s == FRAME_MORE && fed < k) {
        s = frame_feed(&fr, buf + fed, 1, &used, &f, &flen, &err);
        fed += used;
    }
    CHECK_EQ_INT(s, PC_E_FRAME_TOO_LARGE);
    CHECK(fed < 400);
    frame_destroy(&fr);
}

/* A 4 MiB frame fed one byte at a time frames in linear time: the test would
 * time out (minutes) if every feed rescanned the frame. */
static void test_large_bytewise(void)
{
    size_t max = PC_DEFAULT_MAX_FRAME_BYTES;
    char *big = malloc(max);
    memset(big, 'x', max);
    memcpy(big, "{\"d\":\"", 6);
    big[max - 2] = '"';
    big[max - 1] = '}';
    struct frame_reader fr;
    frame_init(&fr, max);
    int frames = 0;
    for (size_t i = 0; i < max; i++) {
        size_t used;
        const char *f;
        size_t flen;
        int s = frame_feed(&fr, big + i, 1, &used, &f, &flen, NULL);
        if (s == FRAME_READY) {
            frames++;
            CHECK_EQ_INT(flen, max);
            CHECK(memcmp(f, big, max) == 0);
        } else if (s != FRAME_MORE) {
            CHECK(0);
            break;
        }
    }
    CHECK_EQ_INT(frames, 1);
    /* the big buffer is let go after the frame */
    size_t used;
    const char *f;
    size_t flen;
    CHECK_EQ_INT(frame_feed(&fr, " ", 1, &used, &f, &flen, NULL), FRAME_MORE);
    CHECK(fr.cap <= 64 * 1024);
    frame_destroy(&fr);
    free(big);
}

/* A frame within one feed points into the input (no copy); one that spans
 * feeds comes from the reader's buffer. Both stay valid until the next feed. */
static void test_zero_copy(void)
{
    struct frame_reader fr;
    frame_init(&fr, 1024);
    const char *in = "{\"a\":1} {\"b\":2}";
    size_t used;
    const char *f;
    size_t flen;
    CHECK_EQ_INT(frame_feed(&fr, in, strlen(in), &used, &f, &flen, NULL), FRAME_READY);
    CHECK(f == in);
    CHECK_EQ_INT(used, 7);
    CHECK_EQ_INT(frame_feed(&fr, in + used, strlen(in) - used, &used, &f, &flen, NULL),
                 FRAME_READY);
    CHECK(flen == 7 && memcmp(f, "{\"b\":2}", 7) == 0);
    CHECK_EQ_INT(frame_feed(&fr, "{\"c\"", 4, &used, &f, &flen, NULL), FRAME_MORE);
    CHECK_EQ_INT(frame_pending(&fr), 4);
    CHECK_EQ_INT(frame_feed(&fr, ":3}", 3, &used, &f, &flen, NULL), FRAME_READY);
    CHECK(flen == 7 && memcmp(f, "{\"c\":3}", 7) == 0);
    CHECK_EQ_INT(frame_pending(&fr), 0);
    frame_destroy(&fr);
}

/* xorshift: reproducible pseudo-random input. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Random and mutated inputs never crash, never hand out more than max bytes,
 * and frame the same whole and byte by byte. */
static void test_random(void)
{
    static const char alphabet[] = "{}[]\"\\:, \n\tab01\xc3\xa9";
    static const char *const seeds[] = {
        "{\"type\":\"hello\",\"payload\":{\"network\":\"x\",\"n\":[1,2,{\"a\":\"}\"}]}}\n",
        "{\"s\":\"\\\"\\\\\"}{\"t\":[[[]]]}",
        "  {\"a\":\"\xe2\x82\xac\"}\r\n{}",
    };
    int runs = 0;
    for (int i = 0; i < 600; i++) {
        char buf[300];
        size_t len = rnd() % (sizeof buf - 1);
        if (i % 3 == 0) {
            for (size_t k = 0; k < len; k++)
                buf[k] = (char)(rnd() & 0xff);
        } else if (i % 3 == 1) {
            for (size_t k = 0; k < len; k++)
                buf[k] = alphabet[rnd() % (sizeof alphabet - 1)];
            if (len > 0)
                buf[0] = '{';
        } else {
            const char *s = seeds[rnd() % 3];
            len = strlen(s);
            memcpy(buf, s, len);
            for (int m = 0; m < 3; m++) /* mutate a few bytes */
                buf[rnd() % len] = alphabet[rnd() % (sizeof alphabet - 1)];
        }
        size_t max = 16 + rnd() % 128;
        struct result a = run(buf, len, 0, max);
        struct result b = run(buf, len, 1, max);
        struct result c = run(buf, len, 1 + rnd() % 17, max);
        CHECK(same(&a, &b));
        CHECK(same(&a, &c));
        CHECK(a.pending <= max);
        free(a.text);
        free(b.text);
        free(c.text);
        runs++;
    }
    CHECK_EQ_INT(runs, 600);
}

int main(void)
{
    test_table();
    test_depth();
    test_size_limit();
    test_value_limit();
    test_zero_copy();
    test_large_bytewise();
    test_random();
    return check_summary();
}
