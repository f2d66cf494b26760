/*
 * peerchain-stress: deterministic regtest chains. See gen.h.
 */
#include "gen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "util.h"

static int add_page(struct gen_chain *g, json_t *arr)
{
    char *text = json_dumps(arr, JSON_COMPACT);
    if (text == NULL)
        return -1;
    char **np = realloc(g->pages, (g->n_pages + 1) * sizeof *np);
    size_t *nl = np ? realloc(g->page_len, (g->n_pages + 1) * sizeof *nl) : NULL;
    if (np)
        g->pages = np;
    if (nl == NULL) {
        free(text);
        return -1;
    }
    g->page_len = nl;
    g->pages[g->n_pages] = text;
    g->page_len[g->n_pages] = strlen(text);
    g->json_bytes += g->page_len[g->n_pages];
    g->n_pages++;
    return 0;
}

int gen_make(struct gen_chain *g, const pc_network *net, uint64_t height)
{
    struct pc_err err = {0};
    json_t *page = NULL;
    int rc = -1;
    memset(g, 0, sizeof *g);
    if (height < 1 || height > GEN_MAX_HEIGHT) {
        stress_err("chain height %llu is outside 1..%u", (unsigned long long)height,
                   GEN_MAX_HEIGHT);
        return -1;
    }
    pc_chain *c = pc_chain_new_index(net);
    if (c == NULL || pc_chain_reserve(c, height) != 0)
        goto out;
    for (uint64_t h = 2; h <= height; h++) {
        struct pc_template_base base;
        char datum[64];
        const char *item = datum;
        size_t len =
            (size_t)snprintf(datum, sizeof datum, "generated block %llu", (unsigned long long)h);
        int64_t ts = net->genesis_timestamp + (int64_t)(h - 1);
        pc_chain_template_base(c, &base);
        pc_block *b = pc_block_template(&base, &item, &len, 1, ts, &err);
        if (b == NULL || pc_mine(b, 0, 0, NULL, NULL) != 0) {
            pc_block_free(b);
            goto out;
        }
        if (page == NULL && (page = json_array()) == NULL) {
            pc_block_free(b);
            goto out;
        }
        if (json_array_append_new(page, pc_block_to_json(b)) != 0 ||
            pc_chain_append(c, b, ts, &err) != 0) {
            stress_err("generating block %llu: %s", (unsigned long long)h, err.reason);
            pc_block_free(b);
            goto out;
        }
        if (json_array_size(page) == GEN_PAGE_BLOCKS || h == height) {
            if (add_page(g, page) != 0)
                goto out;
            json_decref(page);
            page = NULL;
        }
        if ((h & 0x3fff) == 0)
            stress_progress("generating chain: %llu / %llu blocks", (unsigned long long)h,
                            (unsigned long long)height);
        if (stress_stopping)
            goto out;
    }
    g->height = pc_chain_height(c);
    g->tip = pc_block_clone(pc_chain_tip(c));
    if (g->tip == NULL)
        goto out;
    pc_hash_to_hex(&g->tip->hash, g->tip_hash);
    pc_chain_work(c, &g->work);
    rc = 0;
out:
    if (rc != 0 && !stress_stopping && err.reason[0] == '\0')
        stress_err("generating the chain: out of memory");
    json_decref(page);
    pc_chain_free(c);
    if (rc != 0)
        gen_destroy(g);
    stress_progress_done();
    return rc;
}

void gen_destroy(struct gen_chain *g)
{
    for (size_t i = 0; i < g->n_pages; i++)
        free(g->pages[i]);
    free(g->pages);
    free(g->page_len);
    pc_block_free(g->tip);
    memset(g, 0, sizeof *g);
}

double gen_parse_rate(const struct gen_chain *g, unsigned repeats)
{
    static const char head[] = "{\"type\":\"blocks\",\"payload\":{\"blocks\":";
    char tail[48];
    int tail_len = snprintf(tail, sizeof tail, ",\"tip\":%llu}}", (unsigned long long)g->height);
    size_t maxlen = 0;
    for (size_t i = 0; i < g->n_pages; i++)
        if (g->page_len[i] > maxlen)
            maxlen = g->page_len[i];
    if (g->n_pages == 0)
        return 0;
    /* The messages, built once: the timing covers json_loadb only. */
    char **msgs = calloc(g->n_pages, sizeof *msgs);
    size_t *lens = calloc(g->n_pages, sizeof *lens);
    double best = 0;
    if (msgs == NULL || lens == NULL)
        goto out;
    for (size_t i = 0; i < g->n_pages; i++) {
        lens[i] = sizeof head - 1 + g->page_len[i] + (size_t)tail_len;
        if ((msgs[i] = malloc(lens[i])) == NULL)
            goto out;
        memcpy(msgs[i], head, sizeof head - 1);
        memcpy(msgs[i] + sizeof head - 1, g->pages[i], g->page_len[i]);
        memcpy(msgs[i] + sizeof head - 1 + g->page_len[i], tail, (size_t)tail_len);
    }
    for (unsigned r = 0; r < repeats; r++) {
        uint64_t t0 = now_ns();
        for (size_t i = 0; i < g->n_pages; i++) {
            json_t *j = json_loadb(msgs[i], lens[i], JSON_REJECT_DUPLICATES, NULL);
            if (j == NULL)
                goto out;
            json_decref(j);
        }
        double rate = (double)(g->height - 1) / ((double)(now_ns() - t0) / 1e9);
        if (rate > best)
            best = rate;
    }
out:
    for (size_t i = 0; msgs != NULL && i < g->n_pages; i++)
        free(msgs[i]);
    free(msgs);
    free(lens);
    return best;
}
