/* Report batches stored together, against a real store: one transaction
 * keeps each batch's own result (a batch refused by validation or by an
 * overflowing merge is refused alone, a repeat within the group is a
 * duplicate, the rest are stored), and concurrent callers of the group
 * commit (metrics_group.h) each get their batch stored exactly once. */
#include <pthread.h>

#include "metrics_test_util.h"
#include "server/metrics_group.h"

static const int64_t M = T_NOW / 60 - 30;

static struct batch *counted(const char *client, uint64_t seq, const char *metric, uint64_t count)
{
    struct batch *b = batch_new(client, seq, "api", "prod", "v1");

    batch_add(b, KIND_FLAG, "f", "on", metric, M, 0, NULL, 0, 0)->count = count;
    return b;
}

static uint64_t count_of(const char *metric)
{
    struct window *w = window_new();
    uint64_t n = window_get(w, st, KIND_FLAG, "f", "on", metric, M * 60, M * 60 + 60)->count;

    free(w);
    return n;
}

static void a_group_keeps_each_batch_its_own_result(void **state)
{
    struct batch *b[3] = {counted("a", 1, "y", 3), counted("b", 1, "y", 4),
                          counted("a", 1, "y", 3)};
    struct metrics_ingest_job job[3];
    struct metrics_ingest_job *jobs[3];

    (void)state;
    for (int i = 0; i < 3; i++) {
        job[i] = (struct metrics_ingest_job){&b[i]->req, T_NOW, false, {false, 0}, ROOST_OK, {0}};
        jobs[i] = &job[i];
    }
    metrics_ingest_many(st, jobs, 3);
    assert_int_equal(job[0].rc, ROOST_OK);
    assert_false(job[0].out.duplicate);
    assert_int_equal(job[0].out.stored, 1);
    assert_int_equal(job[1].rc, ROOST_OK);
    assert_false(job[1].out.duplicate);
    /* ("a", 1) again in the same transaction: seen, not added. */
    assert_int_equal(job[2].rc, ROOST_OK);
    assert_true(job[2].out.duplicate);
    assert_int_equal(job[2].out.stored, 0);
    assert_int_equal(count_of("y"), 7);
    assert_int_equal(table_rows(st, TBL_REPORTS_SEEN), 2 * 2); /* marker + time index each */
    for (int i = 0; i < 3; i++)
        free(b[i]);
}

static void a_refused_batch_is_refused_alone(void **state)
{
    struct batch *full = counted("c", 1, "x", UINT64_MAX - 5);
    /* stored; refused by its merge (the row would pass 2^64); stored;
     * refused by validation (a count of 0); a repeat of the first */
    struct batch *b[5] = {counted("a", 1, "y", 3), counted("c", 2, "x", 10),
                          counted("b", 1, "y", 4), counted("d", 1, "y", 0),
                          counted("a", 1, "y", 3)};
    struct metrics_ingest_job job[5];
    struct metrics_ingest_job *jobs[5];

    (void)state;
    batch_ingest(st, full, T_NOW);
    for (int i = 0; i < 5; i++) {
        job[i] = (struct metrics_ingest_job){&b[i]->req, T_NOW, false, {false, 0}, ROOST_OK, {0}};
        jobs[i] = &job[i];
    }
    metrics_ingest_many(st, jobs, 5);
    assert_int_equal(job[0].rc, ROOST_OK);
    assert_false(job[0].out.duplicate);
    assert_int_equal(job[1].rc, ROOST_EINVAL);
    assert_non_null(strstr(job[1].err.msg, "count would overflow"));
    assert_int_equal(job[1].out.stored, 0);
    assert_int_equal(job[2].rc, ROOST_OK);
    assert_int_equal(job[3].rc, ROOST_EINVAL);
    assert_non_null(strstr(job[3].err.msg, "count"));
    assert_int_equal(job[4].rc, ROOST_OK);
    assert_true(job[4].out.duplicate);
    assert_int_equal(count_of("y"), 7);
    assert_int_equal(count_of("x"), UINT64_MAX - 5);
    assert_int_equal(table_rows(st, TBL_REPORTS_SEEN), 3 * 2); /* c1, a1, b1 */
    free(full);
    for (int i = 0; i < 5; i++)
        free(b[i]);
}

#define THREADS 8
#define PER_THREAD 40

struct sender {
    struct metrics_group *g;
    struct batch *b[PER_THREAD];
    unsigned stored, duplicates, failed;
};

/* Sends its batches, then the first one again (an SDK retrying a batch
 * whose acknowledgement it lost). */
static void *send_all(void *arg)
{
    struct sender *s = arg;

    for (int i = 0; i <= PER_THREAD; i++) {
        struct metrics_ingest_result res;
        roost_error err = {0};
        if (metrics_group_ingest(s->g, &s->b[i % PER_THREAD]->req, T_NOW, &res, &err) != ROOST_OK)
            s->failed++;
        else if (res.duplicate)
            s->duplicates++;
        else
            s->stored++;
    }
    return NULL;
}

static void concurrent_reports_share_commits_and_count_once(void **state)
{
    static struct sender s[THREADS];
    pthread_t t[THREADS];
    struct metrics_group *g;
    struct metrics_group_stats gs;
    roost_error err = {0};
    char client[32];

    (void)state;
    assert_int_equal(metrics_group_new(st, &g, &err), ROOST_OK);
    for (int k = 0; k < THREADS; k++) {
        s[k] = (struct sender){g, {NULL}, 0, 0, 0};
        snprintf(client, sizeof client, "client-%d", k);
        for (int i = 0; i < PER_THREAD; i++)
            s[k].b[i] = counted(client, (uint64_t)i + 1, "z", 1);
    }
    for (int k = 0; k < THREADS; k++)
        assert_int_equal(pthread_create(&t[k], NULL, send_all, &s[k]), 0);
    for (int k = 0; k < THREADS; k++)
        pthread_join(t[k], NULL);
    for (int k = 0; k < THREADS; k++) {
        assert_int_equal(s[k].failed, 0);
        assert_int_equal(s[k].stored, PER_THREAD);
        assert_int_equal(s[k].duplicates, 1);
        for (int i = 0; i < PER_THREAD; i++)
            free(s[k].b[i]);
    }
    assert_int_equal(count_of("z"), THREADS * PER_THREAD);
    assert_int_equal(table_rows(st, TBL_REPORTS_SEEN), 2 * THREADS * PER_THREAD);
    metrics_group_get_stats(g, &gs);
    assert_int_equal(gs.batches, THREADS * (PER_THREAD + 1));
    assert_true(gs.commits >= 1 && gs.commits <= gs.batches);
    print_message("%llu batches in %llu commits\n", (unsigned long long)gs.batches,
                  (unsigned long long)gs.commits);
    metrics_group_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_group_keeps_each_batch_its_own_result, store_setup,
                                        store_teardown),
        cmocka_unit_test_setup_teardown(a_refused_batch_is_refused_alone, store_setup,
                                        store_teardown),
        cmocka_unit_test_setup_teardown(
            concurrent_reports_share_commits_and_count_once, store_setup, store_teardown),
    };
    return roost_run_tests("metrics_group", tests);
}
