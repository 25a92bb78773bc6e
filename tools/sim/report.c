/* Timelines, outcomes and statistics; see report.h. */
#include "tools/sim/report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- small writers ------------------------------------------------------------ */

static void json_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

/* A number, or null when it is not finite (JSON has no NaN). */
static void json_num(FILE *out, double x)
{
    if (isfinite(x))
        fprintf(out, "%.6g", x);
    else
        fputs("null", out);
}

/* "41s" or "41.5s". */
static void fmt_time(char *out, size_t cap, int64_t ms)
{
    if (ms % 1000 == 0)
        snprintf(out, cap, "%llds", (long long)(ms / 1000));
    else
        snprintf(out, cap, "%.1fs", (double)ms / 1000.0);
}

/* ---- one run -------------------------------------------------------------------- */

void sim_printer_init(struct sim_printer *pr, FILE *out, bool json, int64_t t0_ms)
{
    pr->out = out;
    pr->json = json;
    pr->first = true;
    pr->t0_ms = t0_ms;
    pr->decisions = 0;
}

void sim_print_run_begin(struct sim_printer *pr, const struct sim_scenario *sc, const char *policy,
                         uint64_t seed)
{
    pr->first = true;
    pr->decisions = 0;
    if (pr->json) {
        fputs("{\"scenario\":", pr->out);
        json_str(pr->out, sc->name);
        fputs(",\"policy\":", pr->out);
        json_str(pr->out, policy);
        fprintf(pr->out, ",\"seed\":%llu,\"decisions\":[", (unsigned long long)seed);
        return;
    }
    fprintf(pr->out, "%s (%s), seed %llu\n", sc->name, policy, (unsigned long long)seed);
}

void sim_print_event(void *user, const struct sim_event *ev)
{
    struct sim_printer *pr = user;
    int64_t rel = ev->at_ms - pr->t0_ms;
    char t[32];

    pr->decisions++;
    if (!pr->json) {
        fmt_time(t, sizeof t, rel);
        fprintf(pr->out, "%8s  %s\n", t, ev->summary);
        return;
    }
    if (!pr->first)
        fputc(',', pr->out);
    pr->first = false;
    if (ev->record && ev->record_len) {
        /* The library's record, byte for byte as roostd stores it. */
        fwrite(ev->record, 1, ev->record_len, pr->out);
        return;
    }
    fprintf(pr->out, "{\"at_s\":%.3f,\"weight_from\":%u,\"weight_to\":%u,\"phase\":", (double)rel / 1000.0,
            ev->weight_from, ev->weight_to);
    json_str(pr->out, sim_phase_name(ev->phase));
    fputs(",\"summary\":", pr->out);
    json_str(pr->out, ev->summary);
    fputc('}', pr->out);
}

void sim_outcome_text(const struct sim_scenario *sc, const struct sim_outcome *o, char *out,
                      size_t cap)
{
    char t[32], span[64] = "";
    size_t n;

    fmt_time(t, sizeof t, o->end_ms);
    switch (o->phase) {
    case SIM_PROMOTED:
        n = (size_t)snprintf(out, cap, "promoted at %s", t);
        break;
    case SIM_ROLLED_BACK:
        n = (size_t)snprintf(out, cap, "rolled back at %s", t);
        break;
    case SIM_PAUSED:
        n = (size_t)snprintf(out, cap, "paused for a person at %s (weight %u)", t, o->weight);
        break;
    default:
        n = (size_t)snprintf(out, cap, "still running at the end of the simulation, %s (weight %u)", t,
                             o->weight);
        break;
    }
    if (n >= cap)
        return;
    if (sc->onset_ms > 0) {
        fmt_time(t, sizeof t, sc->onset_ms);
        snprintf(span, sizeof span, " from the onset at %s", t);
    }
    snprintf(out + n, cap - n,
             "; canary served %llu requests%s, %llu failed, %.1f beyond the baseline's error rate",
             (unsigned long long)o->canary_requests, span, (unsigned long long)o->canary_errors,
             o->excess_errors);
}

void sim_print_run_end(struct sim_printer *pr, const struct sim_scenario *sc,
                       const struct sim_outcome *o)
{
    char line[512];

    if (!pr->json) {
        sim_outcome_text(sc, o, line, sizeof line);
        fprintf(pr->out, "outcome: %s; %u decisions\n", line, pr->decisions);
        return;
    }
    fputs("],\"outcome\":{\"phase\":", pr->out);
    json_str(pr->out, sim_phase_name(o->phase));
    fprintf(pr->out,
            ",\"at_s\":%.3f,\"weight\":%u,\"max_weight\":%u,\"requests\":%llu,"
            "\"canary_requests\":%llu,\"canary_errors\":%llu,\"excess_errors\":",
            (double)o->end_ms / 1000.0, o->weight, o->max_weight, (unsigned long long)o->requests,
            (unsigned long long)o->canary_requests, (unsigned long long)o->canary_errors);
    json_num(pr->out, o->excess_errors);
    fputs(",\"onset_s\":", pr->out);
    json_num(pr->out, sc->onset_ms < 0 ? NAN : (double)sc->onset_ms / 1000.0);
    fputs("}}\n", pr->out);
}

/* ---- many runs ---------------------------------------------------------------------- */

void sim_stats_init(struct sim_stats *st)
{
    memset(st, 0, sizeof *st);
}

void sim_stats_free(struct sim_stats *st)
{
    if (!st)
        return;
    free(st->runs);
    memset(st, 0, sizeof *st);
}

roost_status sim_stats_add(struct sim_stats *st, const struct sim_outcome *o, roost_error *err)
{
    if (st->n == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 256;
        struct sim_outcome *r = realloc(st->runs, cap * sizeof *r);
        if (!r)
            return roost_error_set(err, ROOST_ENOMEM, "out of memory for %zu runs' outcomes", cap);
        st->runs = r;
        st->cap = cap;
    }
    st->runs[st->n++] = *o;
    return ROOST_OK;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts v[0..n) in place and describes it. */
static void dist(double *v, size_t n, struct sim_dist *d)
{
    double sum = 0;

    d->n = n;
    if (!n) {
        d->mean = d->p50 = d->p90 = d->max = NAN;
        return;
    }
    qsort(v, n, sizeof *v, cmp_double);
    for (size_t i = 0; i < n; i++)
        sum += v[i];
    d->mean = sum / (double)n;
    d->p50 = v[(size_t)(0.5 * (double)(n - 1))];
    d->p90 = v[(size_t)(0.9 * (double)(n - 1))];
    d->max = v[n - 1];
}

/* Upper end of the Wilson score interval (z = 1.96) for x of n. */
static double wilson_hi(size_t x, size_t n)
{
    double z = 1.959964, p, c, h;

    if (!n)
        return NAN;
    p = (double)x / (double)n;
    c = p + z * z / (2.0 * (double)n);
    h = z * sqrt(p * (1 - p) / (double)n + z * z / (4.0 * (double)n * (double)n));
    return (c + h) / (1 + z * z / (double)n);
}

roost_status sim_stats_summarize(const struct sim_stats *st, const struct sim_scenario *sc,
                                 struct sim_summary *s, roost_error *err)
{
    double *rb = malloc((st->n ? st->n : 1) * sizeof *rb), *pr = malloc((st->n ? st->n : 1) * sizeof *pr);
    double *req = malloc((st->n ? st->n : 1) * sizeof *req), *ex = malloc((st->n ? st->n : 1) * sizeof *ex);
    size_t nrb = 0, npr = 0;
    int64_t onset = sc->onset_ms > 0 ? sc->onset_ms : 0;

    memset(s, 0, sizeof *s);
    if (!rb || !pr || !req || !ex) {
        free(rb);
        free(pr);
        free(req);
        free(ex);
        return roost_error_set(err, ROOST_ENOMEM, "out of memory for statistics");
    }
    s->runs = st->n;
    for (size_t i = 0; i < st->n; i++) {
        const struct sim_outcome *o = &st->runs[i];
        switch (o->phase) {
        case SIM_ROLLED_BACK:
            s->rolled_back++;
            rb[nrb] = (double)(o->end_ms - onset) / 1000.0;
            req[nrb] = (double)o->canary_requests;
            ex[nrb] = o->excess_errors;
            nrb++;
            break;
        case SIM_PROMOTED:
            s->promoted++;
            pr[npr++] = (double)o->end_ms / 1000.0;
            break;
        case SIM_PAUSED:
            s->paused++;
            break;
        case SIM_RUNNING:
            s->unfinished++;
            break;
        }
    }
    dist(pr, npr, &s->promote_s);
    dist(req, nrb, &s->blast_requests);
    dist(ex, nrb, &s->blast_excess);
    dist(rb, nrb, &s->rollback_s);
    s->rollback_rate = st->n ? (double)s->rolled_back / (double)st->n : NAN;
    s->rollback_rate_hi95 = wilson_hi(s->rolled_back, st->n);
    free(rb);
    free(pr);
    free(req);
    free(ex);
    return ROOST_OK;
}

static void json_dist(FILE *out, const char *key, const struct sim_dist *d)
{
    fprintf(out, ",\"%s\":{\"n\":%zu,\"mean\":", key, d->n);
    json_num(out, d->mean);
    fputs(",\"p50\":", out);
    json_num(out, d->p50);
    fputs(",\"p90\":", out);
    json_num(out, d->p90);
    fputs(",\"max\":", out);
    json_num(out, d->max);
    fputc('}', out);
}

static double pct(size_t x, size_t n)
{
    return n ? 100.0 * (double)x / (double)n : 0.0;
}

void sim_print_summary(FILE *out, bool json, const struct sim_scenario *sc, const char *policy,
                       uint64_t seed, const struct sim_summary *s)
{
    if (json) {
        fputs("{\"scenario\":", out);
        json_str(out, sc->name);
        fputs(",\"policy\":", out);
        json_str(out, policy);
        fputs(",\"expect\":", out);
        json_str(out, sim_expect_name(sc->expect));
        fprintf(out, ",\"first_seed\":%llu,\"runs\":%zu,\"rolled_back\":%zu,\"promoted\":%zu,"
                     "\"paused\":%zu,\"unfinished\":%zu,\"rollback_rate\":",
                (unsigned long long)seed, s->runs, s->rolled_back, s->promoted, s->paused,
                s->unfinished);
        json_num(out, s->rollback_rate);
        fputs(",\"rollback_rate_hi95\":", out);
        json_num(out, s->rollback_rate_hi95);
        fputs(",\"onset_s\":", out);
        json_num(out, sc->onset_ms < 0 ? NAN : (double)sc->onset_ms / 1000.0);
        json_dist(out, "rollback_s", &s->rollback_s);
        json_dist(out, "promote_s", &s->promote_s);
        json_dist(out, "blast_canary_requests", &s->blast_requests);
        json_dist(out, "blast_excess_errors", &s->blast_excess);
        fputs("}\n", out);
        return;
    }
    fprintf(out, "%s (%s): %zu runs, seeds %llu-%llu, expect %s\n", sc->name, policy, s->runs,
            (unsigned long long)seed, (unsigned long long)(seed + s->runs - (s->runs ? 1 : 0)),
            sim_expect_name(sc->expect));
    fprintf(out, "  outcomes      rolled back %zu (%.2f %%, 95 %% upper bound %.2f %%), promoted %zu, "
                 "paused %zu, unfinished %zu\n",
            s->rolled_back, pct(s->rolled_back, s->runs), 100.0 * s->rollback_rate_hi95, s->promoted,
            s->paused, s->unfinished);
    if (s->rollback_s.n) {
        fprintf(out, "  rolled back   p50 %.0fs, p90 %.0fs, mean %.1fs after the %s\n", s->rollback_s.p50,
                s->rollback_s.p90, s->rollback_s.mean, sc->onset_ms > 0 ? "onset" : "start");
        fprintf(out, "  blast radius  canary requests mean %.0f, p90 %.0f; errors beyond the "
                     "baseline's mean %.1f, p90 %.1f\n",
                s->blast_requests.mean, s->blast_requests.p90, s->blast_excess.mean,
                s->blast_excess.p90);
    }
    if (s->promote_s.n)
        fprintf(out, "  promoted      p50 %.0fs, p90 %.0fs, mean %.1fs after the start\n", s->promote_s.p50,
                s->promote_s.p90, s->promote_s.mean);
}
