/* Group commit for Report batches (metrics_group.h). */
#include "metrics_group.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

/* A caller's batch, on its stack while it waits. */
struct waiter {
    struct metrics_ingest_job job;
    bool done; /* its group was stored: job holds the result */
};

/* Invariants, under mu:
 *   - queue[0..nqueued) are the batches waiting for a commit, oldest first;
 *   - committing: a leader is storing a group it took from the queue (the
 *     whole queue, its own batch included); it alone clears the flag, marks
 *     its group done and wakes everyone;
 *   - a waiter whose batch is not done becomes the next leader when nobody
 *     is committing, so queued batches never wait for a caller that left. */
struct metrics_group {
    struct store *st;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct waiter *queue[METRICS_GROUP_MAX];
    size_t nqueued;
    bool committing;
    struct metrics_group_stats stats;
};

roost_status metrics_group_new(struct store *st, struct metrics_group **out, roost_error *err)
{
    struct metrics_group *g = calloc(1, sizeof *g);

    if (!g)
        return roost_error_set(err, ROOST_ENOMEM, "out of memory");
    if (pthread_mutex_init(&g->mu, NULL) != 0) {
        free(g);
        return roost_error_set(err, ROOST_EINTERNAL, "cannot create the Report commit queue");
    }
    if (pthread_cond_init(&g->cv, NULL) != 0) {
        pthread_mutex_destroy(&g->mu);
        free(g);
        return roost_error_set(err, ROOST_EINTERNAL, "cannot create the Report commit queue");
    }
    g->st = st;
    *out = g;
    return ROOST_OK;
}

void metrics_group_free(struct metrics_group *g)
{
    if (!g)
        return;
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
    free(g);
}

/* Stores the whole queue as one group. Called with mu held and committing
 * false; returns with mu held. */
static void lead_one_group(struct metrics_group *g)
{
    struct waiter *group[METRICS_GROUP_MAX];
    struct metrics_ingest_job *jobs[METRICS_GROUP_MAX];
    size_t n = g->nqueued;

    for (size_t i = 0; i < n; i++) {
        group[i] = g->queue[i];
        jobs[i] = &g->queue[i]->job;
    }
    g->nqueued = 0;
    g->committing = true;
    pthread_cond_broadcast(&g->cv); /* the queue has room again */
    pthread_mutex_unlock(&g->mu);

    metrics_ingest_many(g->st, jobs, n);

    pthread_mutex_lock(&g->mu);
    for (size_t i = 0; i < n; i++)
        group[i]->done = true;
    g->stats.batches += n;
    g->stats.commits++;
    g->committing = false;
    pthread_cond_broadcast(&g->cv);
}

roost_status metrics_group_ingest(struct metrics_group *g, const Roost__V1__ReportRequest *req,
                                  int64_t now_unix, struct metrics_ingest_result *out,
                                  roost_error *err)
{
    struct waiter w = {{req, now_unix, true, {false, 0}, ROOST_OK, {0}}, false};
    roost_status rc;

    /* In the caller's thread, so that the leader's time under the write
     * lock goes to the store alone. */
    out->duplicate = false;
    out->stored = 0;
    if ((rc = metrics_ingest_check(req, now_unix, err)) != ROOST_OK)
        return rc;
    pthread_mutex_lock(&g->mu);
    while (g->nqueued == METRICS_GROUP_MAX)
        pthread_cond_wait(&g->cv, &g->mu);
    g->queue[g->nqueued++] = &w;
    while (!w.done) {
        if (!g->committing)
            lead_one_group(g);
        else
            pthread_cond_wait(&g->cv, &g->mu);
    }
    pthread_mutex_unlock(&g->mu);
    *out = w.job.out;
    if (w.job.rc != ROOST_OK)
        *err = w.job.err;
    return w.job.rc;
}

void metrics_group_get_stats(struct metrics_group *g, struct metrics_group_stats *out)
{
    pthread_mutex_lock(&g->mu);
    *out = g->stats;
    pthread_mutex_unlock(&g->mu);
}
