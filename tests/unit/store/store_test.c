/* The LMDB store and the flag apply on top of it, against a real LMDB file
 * in a temporary directory. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/flags.h"
#include "server/store.h"
#include "testmain.h"
#include "testutil.h"

static char dir[256];

static int make_dir(void **state)
{
    (void)state;
    return test_mkdtemp(dir, sizeof dir, "roost-store");
}

static int remove_dir(void **state)
{
    (void)state;
    return test_rmtree(dir);
}

static struct store *open_store(uint64_t keep)
{
    struct store_options opt = {16, keep};
    struct store *st = NULL;
    roost_error err = {0};

    assert_int_equal(store_open(dir, &opt, &st, &err), ROOST_OK);
    return st;
}

/* Commits one change whose event is the text "change <rev>". */
static uint64_t commit_one(struct store *st, const char *key)
{
    struct store_txn t;
    char ev[64];
    roost_error err;

    assert_int_equal(store_begin(st, true, &t, &err), ROOST_OK);
    assert_int_equal(store_put(&t, TBL_META, key, strlen(key), "v", 1, &err), ROOST_OK);
    snprintf(ev, sizeof ev, "change %llu", (unsigned long long)t.next_revision);
    assert_int_equal(store_commit_change(&t, ev, strlen(ev), &err), ROOST_OK);
    return store_revision(st);
}

static void new_store_starts_at_revision_zero(void **state)
{
    struct store *st = open_store(100);

    (void)state;
    assert_int_equal(store_revision(st), 0);
    assert_int_equal(store_log_first(st), 1);
    store_close(st);
}

static void revision_strictly_increases(void **state)
{
    struct store *st = open_store(100);
    uint64_t last = 0;

    (void)state;
    for (int i = 0; i < 20; i++) {
        uint64_t r = commit_one(st, "k");
        assert_true(r == last + 1);
        last = r;
    }
    store_close(st);
}

static void aborted_write_leaves_nothing(void **state)
{
    struct store *st = open_store(100);
    struct store_txn t;
    struct store_val v;
    roost_error err;

    (void)state;
    commit_one(st, "a");
    assert_int_equal(store_begin(st, true, &t, &err), ROOST_OK);
    assert_int_equal(store_put(&t, TBL_META, "b", 1, "x", 1, &err), ROOST_OK);
    store_abort(&t);
    assert_int_equal(store_revision(st), 1);
    assert_int_equal(store_begin(st, false, &t, &err), ROOST_OK);
    assert_int_equal(store_get(&t, TBL_META, "b", 1, &v, &err), ROOST_ENOTFOUND);
    assert_int_equal(store_log_get(&t, 2, &v, &err), ROOST_ENOTFOUND);
    assert_int_equal(store_txn_revision(&t), 1);
    store_abort(&t);
    store_close(st);
}

static void change_log_replays_exactly_the_missed_changes(void **state)
{
    struct store *st = open_store(100);
    struct store_txn t;
    struct store_val v;
    roost_error err;
    uint64_t seen = 4;

    (void)state;
    for (int i = 0; i < 10; i++)
        commit_one(st, "k");
    assert_int_equal(store_begin(st, false, &t, &err), ROOST_OK);
    for (uint64_t r = seen + 1; r <= store_revision(st); r++) {
        char want[64];
        assert_int_equal(store_log_get(&t, r, &v, &err), ROOST_OK);
        snprintf(want, sizeof want, "change %llu", (unsigned long long)r);
        assert_int_equal(v.len, strlen(want));
        assert_memory_equal(v.data, want, v.len);
    }
    assert_int_equal(store_log_get(&t, 11, &v, &err), ROOST_ENOTFOUND);
    store_abort(&t);
    store_close(st);
}

static void change_log_is_compacted_to_its_limit(void **state)
{
    struct store *st = open_store(5);
    struct store_txn t;
    struct store_val v;
    roost_error err;

    (void)state;
    for (int i = 0; i < 12; i++)
        commit_one(st, "k");
    assert_int_equal(store_revision(st), 12);
    assert_int_equal(store_log_first(st), 8);
    assert_int_equal(store_begin(st, false, &t, &err), ROOST_OK);
    assert_int_equal(store_table_entries(&t, TBL_LOG), 5);
    assert_int_equal(store_log_get(&t, 7, &v, &err), ROOST_ENOTFOUND);
    for (uint64_t r = 8; r <= 12; r++)
        assert_int_equal(store_log_get(&t, r, &v, &err), ROOST_OK);
    store_abort(&t);
    store_close(st);
}

static void reopen_keeps_revision_log_and_data(void **state)
{
    struct store *st = open_store(5);
    struct store_txn t;
    struct store_val v;
    roost_error err;

    (void)state;
    for (int i = 0; i < 7; i++)
        commit_one(st, "kept");
    store_close(st);
    st = open_store(5);
    assert_int_equal(store_revision(st), 7);
    assert_int_equal(store_log_first(st), 3);
    assert_int_equal(store_begin(st, false, &t, &err), ROOST_OK);
    assert_int_equal(store_get(&t, TBL_META, "kept", 4, &v, &err), ROOST_OK);
    assert_int_equal(store_log_get(&t, 7, &v, &err), ROOST_OK);
    store_abort(&t);
    assert_int_equal(commit_one(st, "k"), 8);
    store_close(st);
}

/* Revisions count from 1 in every new directory; the id tells histories
 * apart (Sync resumes only within one). */
static void store_id_is_kept_across_reopens_and_differs_between_directories(void **state)
{
    struct store *st = open_store(5);
    uint8_t first[STORE_ID_LEN], other[STORE_ID_LEN], zero[STORE_ID_LEN] = {0};
    char dir2[256];
    struct store_options opt = {16, 5};
    roost_error err = {0};

    (void)state;
    memcpy(first, store_id(st), STORE_ID_LEN);
    assert_memory_not_equal(first, zero, STORE_ID_LEN);
    commit_one(st, "k");
    store_close(st);
    st = open_store(5);
    assert_memory_equal(store_id(st), first, STORE_ID_LEN);
    store_close(st);

    assert_int_equal(test_mkdtemp(dir2, sizeof dir2, "roost-store2"), 0);
    assert_int_equal(store_open(dir2, &opt, &st, &err), ROOST_OK);
    memcpy(other, store_id(st), STORE_ID_LEN);
    store_close(st);
    assert_int_equal(test_rmtree(dir2), 0);
    assert_memory_not_equal(other, first, STORE_ID_LEN);
}

static void second_server_on_same_directory_is_refused(void **state)
{
    struct store_options opt = {16, 100};
    struct store *st = open_store(100), *other = NULL;
    roost_error err = {0};

    (void)state;
    assert_int_equal(store_open(dir, &opt, &other, &err), ROOST_EIO);
    assert_non_null(strstr(err.msg, "in use by another roostd"));
    store_close(st);
}

/* ---- applying flag documents ----------------------------------------- */

static struct flag_def def(const char *key, const char *json)
{
    struct flag_def f = {0};
    static char *const vars[] = {"on", "off"};

    f.key = strdup(key);
    f.source_json = strdup(json);
    f.program = (uint8_t *)strdup(json); /* opaque bytes to the store */
    f.program_len = strlen(json);
    f.enabled = true;
    f.type = "boolean";
    f.default_variant = strdup("on");
    f.nvariants = 2;
    f.variants = malloc(2 * sizeof *f.variants);
    f.variants[0] = strdup(vars[0]);
    f.variants[1] = strdup(vars[1]);
    return f;
}

static void doc_init(struct flag_doc *d, const char *set, size_t n)
{
    memset(d, 0, sizeof *d);
    d->flag_set = strdup(set);
    d->flags = calloc(n, sizeof *d->flags);
    d->nflags = 0;
}

static void apply_reports_added_changed_removed(void **state)
{
    struct store *st = open_store(100);
    Roost__V1__ApplyResponse r;
    struct flag_doc d;
    roost_error err;

    (void)state;
    doc_init(&d, "default", 2);
    d.flags[d.nflags++] = def("a", "{\"a\":1}");
    d.flags[d.nflags++] = def("b", "{\"b\":1}");
    assert_int_equal(flags_apply(st, NULL, &d, false, "test", &r, &err), ROOST_OK);
    assert_int_equal(r.revision, 1);
    assert_int_equal(r.n_added, 2);
    flags_apply_response_free(&r);
    flag_doc_free(&d);

    doc_init(&d, "default", 2);
    d.flags[d.nflags++] = def("b", "{\"b\":2}");
    d.flags[d.nflags++] = def("c", "{\"c\":1}");
    assert_int_equal(flags_apply(st, NULL, &d, false, "test", &r, &err), ROOST_OK);
    assert_int_equal(r.revision, 2);
    assert_int_equal(r.n_added, 1);
    assert_string_equal(r.added[0], "c");
    assert_int_equal(r.n_changed, 1);
    assert_string_equal(r.changed[0], "b");
    assert_int_equal(r.n_removed, 1);
    assert_string_equal(r.removed[0], "a");
    flags_apply_response_free(&r);

    /* The same document again changes nothing and keeps the revision. */
    assert_int_equal(flags_apply(st, NULL, &d, false, "test", &r, &err), ROOST_OK);
    assert_int_equal(r.revision, 2);
    assert_int_equal(r.n_added + r.n_changed + r.n_removed, 0);
    assert_int_equal(store_revision(st), 2);
    flags_apply_response_free(&r);
    flag_doc_free(&d);
    assert_int_equal(flags_count(st), 2);
    store_close(st);
}

static void apply_dry_run_changes_nothing(void **state)
{
    struct store *st = open_store(100);
    Roost__V1__ApplyResponse r;
    struct flag_doc d;
    roost_error err;

    (void)state;
    doc_init(&d, "default", 1);
    d.flags[d.nflags++] = def("a", "{}");
    assert_int_equal(flags_apply(st, NULL, &d, true, "test", &r, &err), ROOST_OK);
    assert_int_equal(r.n_added, 1);
    assert_int_equal(r.revision, 0);
    assert_int_equal(store_revision(st), 0);
    assert_int_equal(flags_count(st), 0);
    flags_apply_response_free(&r);
    flag_doc_free(&d);
    store_close(st);
}

static void apply_leaves_other_flag_sets_alone_and_refuses_their_keys(void **state)
{
    struct store *st = open_store(100);
    Roost__V1__ApplyResponse r;
    struct flag_doc d;
    roost_error err;

    (void)state;
    doc_init(&d, "team-a", 1);
    d.flags[d.nflags++] = def("a", "{}");
    assert_int_equal(flags_apply(st, NULL, &d, false, "test", &r, &err), ROOST_OK);
    flags_apply_response_free(&r);
    flag_doc_free(&d);

    doc_init(&d, "team-b", 1);
    d.flags[d.nflags++] = def("b", "{}");
    assert_int_equal(flags_apply(st, NULL, &d, false, "test", &r, &err), ROOST_OK);
    assert_int_equal(r.n_removed, 0);
    flags_apply_response_free(&r);
    flag_doc_free(&d);

    doc_init(&d, "team-b", 2);
    d.flags[d.nflags++] = def("b", "{}");
    d.flags[d.nflags++] = def("a", "{}");
    assert_int_equal(flags_apply(st, NULL, &d, false, "test", &r, &err), ROOST_ECONFLICT);
    assert_non_null(strstr(err.msg, "belongs to flag set 'team-a'"));
    assert_int_equal(store_revision(st), 2);
    flag_doc_free(&d);
    assert_int_equal(flags_count(st), 2);
    store_close(st);
}

static void apply_rejects_duplicate_keys(void **state)
{
    struct store *st = open_store(100);
    Roost__V1__ApplyResponse r;
    struct flag_doc d;
    roost_error err;

    (void)state;
    doc_init(&d, "default", 2);
    d.flags[d.nflags++] = def("a", "{}");
    d.flags[d.nflags++] = def("a", "{}");
    assert_int_equal(flags_apply(st, NULL, &d, false, "test", &r, &err), ROOST_EINVAL);
    assert_non_null(strstr(err.msg, "flags.a"));
    assert_int_equal(store_revision(st), 0);
    flag_doc_free(&d);
    store_close(st);
}

static void delete_removes_one_flag_as_one_change(void **state)
{
    struct store *st = open_store(100);
    Roost__V1__ApplyResponse r;
    Roost__Storage__V1__FlagRecord *rec;
    struct flag_doc d;
    roost_error err;
    uint64_t rev;

    (void)state;
    doc_init(&d, "default", 2);
    d.flags[d.nflags++] = def("a", "{}");
    d.flags[d.nflags++] = def("b", "{}");
    assert_int_equal(flags_apply(st, NULL, &d, false, "test", &r, &err), ROOST_OK);
    flags_apply_response_free(&r);
    flag_doc_free(&d);
    assert_int_equal(flags_delete(st, NULL, "a", "test", &rev, &err), ROOST_OK);
    assert_int_equal(rev, 2);
    assert_int_equal(flags_get(st, "a", &rec, &err), ROOST_ENOTFOUND);
    assert_non_null(strstr(err.msg, "does not exist"));
    assert_int_equal(flags_get(st, "b", &rec, &err), ROOST_OK);
    assert_string_equal(rec->summary->default_variant, "on");
    assert_int_equal(rec->flag->revision, 1);
    roost__storage__v1__flag_record__free_unpacked(rec, NULL);
    assert_int_equal(flags_delete(st, NULL, "a", "test", &rev, &err), ROOST_ENOTFOUND);
    store_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(new_store_starts_at_revision_zero, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(revision_strictly_increases, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(aborted_write_leaves_nothing, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(change_log_replays_exactly_the_missed_changes, make_dir,
                                        remove_dir),
        cmocka_unit_test_setup_teardown(change_log_is_compacted_to_its_limit, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(reopen_keeps_revision_log_and_data, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(
            store_id_is_kept_across_reopens_and_differs_between_directories, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(second_server_on_same_directory_is_refused, make_dir,
                                        remove_dir),
        cmocka_unit_test_setup_teardown(apply_reports_added_changed_removed, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(apply_dry_run_changes_nothing, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(apply_leaves_other_flag_sets_alone_and_refuses_their_keys,
                                        make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(apply_rejects_duplicate_keys, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(delete_removes_one_flag_as_one_change, make_dir,
                                        remove_dir),
    };
    return roost_run_tests("store", tests);
}
