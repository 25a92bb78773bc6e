/* Sync propagation benchmark: time from an acknowledged apply until each of
 * N subscribers has received the change, and roostd's memory per idle
 * subscriber.
 *
 *   propagation --server HOST:PORT --pid PID [--subscribers N] [--channels C]
 *               [--changes K] [--json]
 *
 * One process holds all N streams on one completion queue (spread over C
 * connections), as a load generator would. For every change the clock
 * starts when the Apply call returns — the moment a user's `roostctl apply`
 * reports success — and stops as each stream delivers the change, so the
 * figures include the client's own processing: an upper bound on what one
 * subscriber sees. Memory: roostd's VmRSS before and after opening the N
 * idle streams. */
#include <errno.h>
#include <grpc/grpc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "roost/v1/roost.pb-c.h"
#include "tools/lib/rpcclient.h"

struct sub {
    uint64_t revision;
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static long rss_kb(long pid)
{
    char path[64], line[256];
    long kb = -1;
    FILE *f;

    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    if (!(f = fopen(path, "r")))
        return -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    }
    fclose(f);
    return kb;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *v, size_t n, double p)
{
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

static uint64_t apply_change(struct rc_channel *ch, int i)
{
    Roost__V1__ApplyRequest req = ROOST__V1__APPLY_REQUEST__INIT;
    Roost__V1__ApplyResponse *r;
    struct rc_status st;
    char doc[512];
    uint8_t *buf, *out;
    size_t len, outlen;
    uint64_t rev;

    snprintf(doc, sizeof doc,
             "{\"flags\": {\"bench\": {\"state\": \"ENABLED\", \"variants\": {\"a\": \"a%d\", "
             "\"b\": \"b\"}, \"defaultVariant\": \"a\"}}, \"metadata\": {\"flagSetId\": "
             "\"bench\"}}",
             i);
    req.document.data = (uint8_t *)doc;
    req.document.len = strlen(doc);
    req.source_name = "bench";
    len = roost__v1__apply_request__get_packed_size(&req);
    buf = malloc(len);
    roost__v1__apply_request__pack(&req, buf);
    rc_unary(ch, "/roost.v1.Admin/Apply", buf, len, 10, &out, &outlen, &st);
    free(buf);
    if (st.code != GRPC_STATUS_OK) {
        fprintf(stderr, "propagation: apply failed: %s\n", st.message);
        exit(1);
    }
    r = roost__v1__apply_response__unpack(NULL, outlen, out);
    rev = r ? r->revision : 0;
    if (r)
        roost__v1__apply_response__free_unpacked(r, NULL);
    free(out);
    return rev;
}

static uint64_t message_revision(const uint8_t *data, size_t len)
{
    Roost__V1__SyncResponse *r = roost__v1__sync_response__unpack(NULL, len, data);
    uint64_t rev = 0;

    if (r) {
        rev = r->kind_case == ROOST__V1__SYNC_RESPONSE__KIND_SNAPSHOT ? r->snapshot->revision
                                                                       : r->change->revision;
        roost__v1__sync_response__free_unpacked(r, NULL);
    }
    return rev;
}

int main(int argc, char **argv)
{
    const char *server = "127.0.0.1:7070";
    long pid = 0;
    int nsubs = 100, nchannels = 0, changes = 20;
    bool json = false;
    struct rc_channel **chans, *admin;
    struct rc_group *g;
    struct sub *subs;
    double *lat;
    size_t nlat = 0;
    roost_error err;
    long rss0, rss1;
    int ready = 0;

    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : "";
        if (strcmp(argv[i], "--server") == 0) server = argv[++i];
        else if (strcmp(argv[i], "--pid") == 0) pid = atol(argv[++i]);
        else if (strcmp(argv[i], "--subscribers") == 0) nsubs = atoi(argv[++i]);
        else if (strcmp(argv[i], "--channels") == 0) nchannels = atoi(argv[++i]);
        else if (strcmp(argv[i], "--changes") == 0) changes = atoi(argv[++i]);
        else if (strcmp(argv[i], "--json") == 0) json = true;
        else {
            fprintf(stderr, "usage: propagation --server HOST:PORT --pid PID [--subscribers N] "
                            "[--channels C] [--changes K] [--json]\n");
            return 2;
        }
        (void)v;
    }
    if (nchannels <= 0)
        nchannels = nsubs < 50 ? nsubs : 50;
    grpc_init();
    chans = calloc((size_t)nchannels, sizeof *chans);
    subs = calloc((size_t)nsubs, sizeof *subs);
    lat = calloc((size_t)nsubs * (size_t)changes, sizeof *lat);
    rc_channel_open(server, NULL, &admin, &err);
    for (int c = 0; c < nchannels; c++)
        rc_channel_open(server, NULL, &chans[c], &err);
    rc_group_new(&g, &err);

    apply_change(admin, 0); /* something to snapshot */
    usleep(300 * 1000);
    rss0 = pid ? rss_kb(pid) : -1;
    for (int i = 0; i < nsubs; i++) {
        Roost__V1__SyncRequest req = ROOST__V1__SYNC_REQUEST__INIT;
        uint8_t buf[64];
        struct rc_stream *s;
        req.client_id = "bench";
        rc_stream_open(g, chans[i % nchannels], "/roost.v1.Sync/Subscribe", buf,
                       roost__v1__sync_request__pack(&req, buf), &subs[i], &s, &err);
    }
    /* Everyone has its snapshot before the clock starts. */
    {
        double deadline = now_s() + 60;
        while (ready < nsubs && now_s() < deadline) {
            struct rc_event ev;
            rc_group_next(g, 1.0, &ev);
            if (ev.type == RC_MESSAGE) {
                ((struct sub *)ev.user)->revision = message_revision(ev.data, ev.len);
                free(ev.data);
                ready++;
            } else if (ev.type == RC_END) {
                fprintf(stderr, "propagation: a stream ended: %s\n", ev.status.message);
                return 1;
            }
        }
        if (ready < nsubs) {
            fprintf(stderr, "propagation: only %d of %d subscribers got a snapshot\n", ready,
                    nsubs);
            return 1;
        }
    }
    usleep(500 * 1000);
    rss1 = pid ? rss_kb(pid) : -1;

    for (int k = 1; k <= changes; k++) {
        uint64_t rev = apply_change(admin, k);
        double t0 = now_s(), deadline = t0 + 30;
        int got = 0;

        while (got < nsubs && now_s() < deadline) {
            struct rc_event ev;
            rc_group_next(g, 1.0, &ev);
            if (ev.type != RC_MESSAGE)
                continue;
            struct sub *s = ev.user;
            s->revision = message_revision(ev.data, ev.len);
            free(ev.data);
            if (s->revision == rev) {
                lat[nlat++] = (now_s() - t0) * 1e3;
                got++;
            }
        }
        if (got < nsubs) {
            fprintf(stderr, "propagation: change %d reached only %d of %d subscribers in 30 s\n",
                    k, got, nsubs);
            return 1;
        }
        usleep(50 * 1000);
    }
    qsort(lat, nlat, sizeof *lat, cmp_double);
    {
        double per_sub_kb = rss0 > 0 && rss1 > 0 ? (double)(rss1 - rss0) / nsubs : -1;
        if (json)
            printf("{\"subscribers\":%d,\"channels\":%d,\"changes\":%d,\"p50_ms\":%.2f,"
                   "\"p99_ms\":%.2f,\"max_ms\":%.2f,\"rss_per_idle_subscriber_kb\":%.1f}\n",
                   nsubs, nchannels, changes, pct(lat, nlat, 0.5), pct(lat, nlat, 0.99),
                   lat[nlat - 1], per_sub_kb);
        else
            printf("subscribers %d over %d connections, %d changes: p50 %.2f ms, p99 %.2f ms, "
                   "max %.2f ms; roostd memory per idle subscriber %.1f KiB\n",
                   nsubs, nchannels, changes, pct(lat, nlat, 0.5), pct(lat, nlat, 0.99),
                   lat[nlat - 1], per_sub_kb);
    }
    rc_group_free(g);
    for (int c = 0; c < nchannels; c++)
        rc_channel_close(chans[c]);
    rc_channel_close(admin);
    free(chans);
    free(subs);
    free(lat);
    grpc_shutdown();
    return 0;
}
