/*
 * peerchain-stress: small shared pieces. A monotonic clock, bounded sample
 * sets with percentiles, the run-wide stop flag that SIGINT sets, and the
 * results document every scenario fills (printed as a table, written as JSON
 * with --json).
 *
 * Single-threaded unless said otherwise: scenario threads only touch their
 * own sample sets and the stop flag.
 */
#ifndef PC_STRESS_UTIL_H
#define PC_STRESS_UTIL_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define STRESS_MAX_SAMPLES 1000000u /* one sample set never holds more */

/* Set by the SIGINT/SIGTERM handler; every wait loop checks it. */
extern volatile sig_atomic_t stress_stopping;

/* Nanoseconds on CLOCK_MONOTONIC. */
uint64_t now_ns(void);
double ns_to_ms(uint64_t ns);
/* Sleeps ms milliseconds (or less if a signal arrives). */
void sleep_ms(unsigned ms);

/* One line to stderr: "peerchain-stress: ...". */
void stress_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A progress line (stderr, overwritten in place), unless quiet. */
void stress_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void stress_progress_done(void);
extern bool stress_quiet;

/* A bounded set of samples (doubles). Adding past the cap counts a drop. */
struct samples {
    double *v;
    size_t n, cap;
    size_t dropped;
};
int samples_init(struct samples *s, size_t cap); /* 0 or -1 (no memory) */
void samples_destroy(struct samples *s);
void samples_add(struct samples *s, double x);
/* Percentile p in [0, 100] by nearest rank over the sorted samples; sorts
 * in place. 0 for an empty set. */
double samples_pct(struct samples *s, double p);
double samples_min(struct samples *s);
double samples_max(struct samples *s);

/*
 * The results of one run: a JSON object
 *   {"scenario": ..., "version": ..., "params": {...},
 *    "figures": {"name": {"value": x, "unit": "ms"}, ...}}
 * Figures keep their insertion order for the table.
 */
struct results {
    json_t *doc;     /* owned */
    json_t *params;  /* borrowed from doc */
    json_t *figures; /* borrowed from doc */
};
int results_init(struct results *r, const char *scenario); /* 0 or -1 */
void results_destroy(struct results *r);
void results_param_int(struct results *r, const char *name, long long v);
void results_param_str(struct results *r, const char *name, const char *v);
void results_figure(struct results *r, const char *name, double value, const char *unit);
/* Prints the figures as a table on stdout. */
void results_print(const struct results *r);
/* Writes the document to path. 0 or -1 (with a one-line error). */
int results_write(const struct results *r, const char *path);

#endif
