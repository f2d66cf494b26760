/*
 * peerchain-stress: clock, samples, messages and the results document.
 * See util.h.
 */
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "peerchain/peerchain.h"

volatile sig_atomic_t stress_stopping;
bool stress_quiet;
static bool progress_shown;

uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double ns_to_ms(uint64_t ns)
{
    return (double)ns / 1e6;
}

void sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000u, .tv_nsec = (long)(ms % 1000u) * 1000000L};
    nanosleep(&ts, NULL);
}

void stress_err(const char *fmt, ...)
{
    va_list ap;
    stress_progress_done();
    fputs("peerchain-stress: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void stress_progress(const char *fmt, ...)
{
    va_list ap;
    /* Progress is for a person watching: not in logs, not with --quiet. */
    if (stress_quiet || !isatty(STDERR_FILENO))
        return;
    fputs("\r\033[K", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fflush(stderr);
    progress_shown = true;
}

void stress_progress_done(void)
{
    if (progress_shown) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        progress_shown = false;
    }
}

int samples_init(struct samples *s, size_t cap)
{
    memset(s, 0, sizeof *s);
    if (cap > STRESS_MAX_SAMPLES)
        cap = STRESS_MAX_SAMPLES;
    s->v = malloc((cap ? cap : 1) * sizeof *s->v);
    if (s->v == NULL)
        return -1;
    s->cap = cap;
    return 0;
}

void samples_destroy(struct samples *s)
{
    free(s->v);
    memset(s, 0, sizeof *s);
}

void samples_add(struct samples *s, double x)
{
    if (s->n < s->cap)
        s->v[s->n++] = x;
    else
        s->dropped++;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double samples_pct(struct samples *s, double p)
{
    if (s->n == 0)
        return 0;
    qsort(s->v, s->n, sizeof *s->v, cmp_double);
    size_t rank = (size_t)(p / 100.0 * (double)s->n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > s->n)
        rank = s->n;
    return s->v[rank - 1];
}

double samples_min(struct samples *s)
{
    return samples_pct(s, 0);
}

double samples_max(struct samples *s)
{
    return samples_pct(s, 100);
}

int results_init(struct results *r, const char *scenario)
{
    r->doc = json_pack("{s:s, s:s, s:{}, s:{}}", "scenario", scenario, "version", PC_VERSION_STRING,
                       "params", "figures");
    if (r->doc == NULL)
        return -1;
    r->params = json_object_get(r->doc, "params");
    r->figures = json_object_get(r->doc, "figures");
    return 0;
}

void results_destroy(struct results *r)
{
    json_decref(r->doc);
    r->doc = NULL;
}

void results_param_int(struct results *r, const char *name, long long v)
{
    json_object_set_new(r->params, name, json_integer(v));
}

void results_param_str(struct results *r, const char *name, const char *v)
{
    json_object_set_new(r->params, name, json_string(v));
}

void results_figure(struct results *r, const char *name, double value, const char *unit)
{
    json_object_set_new(r->figures, name, json_pack("{s:f, s:s}", "value", value, "unit", unit));
}

void results_print(const struct results *r)
{
    const char *name;
    json_t *f;
    stress_progress_done();
    printf("%s (peerchain %s)\n", json_string_value(json_object_get(r->doc, "scenario")),
           PC_VERSION_STRING);
    json_object_foreach(r->figures, name, f)
    {
        double v = json_real_value(json_object_get(f, "value"));
        const char *unit = json_string_value(json_object_get(f, "unit"));
        printf("  %-36s %14.3f %s\n", name, v, unit ? unit : "");
    }
    fflush(stdout);
}

int results_write(const struct results *r, const char *path)
{
    if (json_dump_file(r->doc, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0) {
        stress_err("cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}
