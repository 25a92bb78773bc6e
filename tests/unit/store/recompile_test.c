/* Stored programs of an older image format are compiled again at start
 * (server/recompile.h), against a real LMDB store: the images come back
 * byte for byte as this compiler writes them, as one change with a new
 * revision, and a second start finds nothing to do. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "roost/engine.h"
#include "server/document.h"
#include "server/flags.h"
#include "server/recompile.h"
#include "server/resources.h"
#include "server/store.h"
#include "testmain.h"
#include "testutil.h"

static const char DOC[] =
    "{\"metadata\": {\"flagSetId\": \"shop\", \"team\": \"web\"},"
    " \"$evaluators\": {\"staff\": {\"ends_with\": [{\"var\": \"email\"}, \"@example.com\"]}},"
    " \"flags\": {"
    "  \"banner\": {\"state\": \"ENABLED\", \"variants\": {\"on\": true, \"off\": false},"
    "             \"defaultVariant\": \"off\","
    "             \"targeting\": {\"if\": [{\"$ref\": \"staff\"}, \"on\", null]}},"
    "  \"color\": {\"state\": \"ENABLED\", \"variants\": {\"red\": \"red\", \"blue\": \"blue\"},"
    "            \"defaultVariant\": \"red\","
    "            \"targeting\": {\"fractional\": [[\"red\", 50], [\"blue\", 50]]}},"
    "  \"button\": {\"state\": \"ENABLED\", \"variants\": {\"control\": \"blue\", \"green\": \"green\"},"
    "             \"defaultVariant\": \"control\"}"
    " },"
    " \"experiments\": {\"green-button\": {\"hypothesis\": \"Green converts better.\","
    "   \"flag\": \"button\", \"control\": \"control\","
    "   \"metrics\": {\"primary\": {\"name\": \"conversion\", \"metric\": \"checkout.converted\","
    "     \"type\": \"binomial\", \"direction\": \"increase\", \"mde\": 0.05, \"mdeType\": \"relative\"}}}}"
    "}";

static char dir[256];

static int make_dir(void **state)
{
    (void)state;
    return test_mkdtemp(dir, sizeof dir, "roost-recompile");
}

static int remove_dir(void **state)
{
    (void)state;
    return test_rmtree(dir);
}

static struct store *open_store(void)
{
    struct store_options opt = {16, 100};
    struct store *st = NULL;
    roost_error err = {0};

    assert_int_equal(store_open(dir, &opt, &st, &err), ROOST_OK);
    return st;
}

static void apply_doc(struct store *st)
{
    struct flag_doc doc;
    Roost__V1__ApplyResponse r = ROOST__V1__APPLY_RESPONSE__INIT;
    roost_error err = {0};

    assert_int_equal(document_parse((const uint8_t *)DOC, strlen(DOC), 1 << 20, "doc.json", &doc,
                                     &err),
                     ROOST_OK);
    assert_int_equal(flags_apply(st, NULL, &doc, false, "test", &r, &err), ROOST_OK);
    flags_apply_response_free(&r);
    flag_doc_free(&doc);
}

static Roost__Storage__V1__FlagRecord *get_flag(struct store *st, const char *key)
{
    Roost__Storage__V1__FlagRecord *rec = NULL;
    roost_error err = {0};

    assert_int_equal(flags_get(st, key, &rec, &err), ROOST_OK);
    return rec;
}

/* The image loads and is of the format this build writes: what roostd
 * leaves alone at start. (Older formats load too, but run slower.) */
static bool current(const ProtobufCBinaryData *p)
{
    roost_flag f;
    roost_error err;
    void *copy;
    bool ok;

    if (p->len < 6 || (unsigned)(p->data[4] | p->data[5] << 8) != ROOST_IMAGE_VERSION)
        return false;
    copy = malloc(p->len);

    assert_non_null(copy);
    memcpy(copy, p->data, p->len);
    ok = roost_flag_load(&f, copy, p->len, &err) == ROOST_OK;
    free(copy);
    return ok;
}

/* Rewrites a stored flag as an older roostd would have left it: the same
 * image under format version 1, and optionally a source that no longer
 * parses. No revision changes, as none did when it was written. */
static void make_old(struct store *st, const char *key, const char *source)
{
    Roost__Storage__V1__FlagRecord *rec = get_flag(st, key);
    struct store_txn t;
    roost_error err = {0};
    uint8_t *buf;
    size_t len;

    char *saved = rec->flag->source_json;

    rec->flag->program.data[4] = 1; /* u16 version, little-endian */
    rec->flag->program.data[5] = 0;
    if (source)
        rec->flag->source_json = (char *)source;
    len = roost__storage__v1__flag_record__get_packed_size(rec);
    assert_non_null(buf = malloc(len));
    roost__storage__v1__flag_record__pack(rec, buf);
    rec->flag->source_json = saved; /* protobuf-c frees its own */
    assert_int_equal(store_begin(st, true, &t, &err), ROOST_OK);
    assert_int_equal(store_put(&t, TBL_FLAGS, key, strlen(key), buf, len, &err), ROOST_OK);
    assert_int_equal(store_commit(&t, &err), ROOST_OK);
    free(buf);
    roost__storage__v1__flag_record__free_unpacked(rec, NULL);
}

static void make_old_experiment(struct store *st, const char *name)
{
    Roost__Storage__V1__ExperimentRecord *rec = NULL;
    struct store_txn t;
    roost_error err = {0};

    assert_int_equal(store_begin(st, true, &t, &err), ROOST_OK);
    assert_int_equal(resources_get_experiment(&t, name, &rec, &err), ROOST_OK);
    assert_true(rec->auto_split);
    assert_true(rec->running_program.len > 6 && rec->idle_program.len > 6);
    rec->running_program.data[4] = 1;
    rec->running_program.data[5] = 0;
    rec->idle_program.data[4] = 1;
    rec->idle_program.data[5] = 0;
    assert_int_equal(resources_put_experiment(&t, rec, &err), ROOST_OK);
    assert_int_equal(store_commit(&t, &err), ROOST_OK);
    roost__storage__v1__experiment_record__free_unpacked(rec, NULL);
}

static ProtobufCBinaryData copy_program(const ProtobufCBinaryData *p)
{
    ProtobufCBinaryData c = {p->len, malloc(p->len)};

    assert_non_null(c.data);
    memcpy(c.data, p->data, p->len);
    return c;
}

static void old_images_are_compiled_again_as_one_change(void **state)
{
    struct store *st = open_store();
    const char *keys[] = {"banner", "color", "button"};
    ProtobufCBinaryData before[3];
    struct recompile_result rr;
    struct store_txn t;
    struct store_val v;
    roost_error err = {0};
    uint64_t rev;

    (void)state;
    apply_doc(st);
    for (int i = 0; i < 3; i++) {
        Roost__Storage__V1__FlagRecord *rec = get_flag(st, keys[i]);
        before[i] = copy_program(&rec->flag->program);
        roost__storage__v1__flag_record__free_unpacked(rec, NULL);
        make_old(st, keys[i], NULL);
        rec = get_flag(st, keys[i]);
        assert_false(current(&rec->flag->program));
        roost__storage__v1__flag_record__free_unpacked(rec, NULL);
    }
    make_old_experiment(st, "green-button");
    rev = store_revision(st);

    assert_int_equal(recompile_stored(st, NULL, &rr, &err), ROOST_OK);
    assert_int_equal(rr.flags, 3);
    assert_int_equal(rr.experiments, 1);
    assert_int_equal(rr.failed, 0);
    assert_int_equal(store_revision(st), rev + 1);
    for (int i = 0; i < 3; i++) {
        Roost__Storage__V1__FlagRecord *rec = get_flag(st, keys[i]);
        /* The compiler is deterministic: the same source, the same image. */
        assert_int_equal(rec->flag->program.len, before[i].len);
        assert_memory_equal(rec->flag->program.data, before[i].data, before[i].len);
        assert_int_equal(rec->flag->revision, rev + 1);
        roost__storage__v1__flag_record__free_unpacked(rec, NULL);
        free(before[i].data);
    }
    {
        Roost__Storage__V1__ExperimentRecord *rec = NULL;
        assert_int_equal(store_begin(st, false, &t, &err), ROOST_OK);
        assert_int_equal(resources_get_experiment(&t, "green-button", &rec, &err), ROOST_OK);
        assert_true(current(&rec->running_program));
        assert_true(current(&rec->idle_program));
        roost__storage__v1__experiment_record__free_unpacked(rec, NULL);
        store_abort(&t);
    }
    /* Resuming SDKs get the images from the change log. */
    assert_int_equal(store_begin(st, false, &t, &err), ROOST_OK);
    assert_int_equal(store_log_get(&t, rev + 1, &v, &err), ROOST_OK);
    {
        Roost__V1__ChangeEvent *ev = roost__v1__change_event__unpack(NULL, v.len, v.data);
        assert_non_null(ev);
        assert_int_equal(ev->n_upserted, 3);
        for (size_t i = 0; i < ev->n_upserted; i++)
            assert_true(current(&ev->upserted[i]->program));
        assert_string_equal(ev->actor, "roostd");
        roost__v1__change_event__free_unpacked(ev, NULL);
    }
    store_abort(&t);

    /* The next start has nothing to do and writes nothing. */
    assert_int_equal(recompile_stored(st, NULL, &rr, &err), ROOST_OK);
    assert_int_equal(rr.flags + rr.experiments + rr.failed, 0);
    assert_int_equal(store_revision(st), rev + 1);
    store_close(st);
}

static void a_source_that_no_longer_compiles_is_left_and_counted(void **state)
{
    struct store *st = open_store();
    Roost__Storage__V1__FlagRecord *rec;
    struct recompile_result rr;
    roost_error err = {0};
    uint64_t rev;

    (void)state;
    apply_doc(st);
    make_old(st, "banner", "{\"state\": \"SOMETIMES\"}");
    make_old(st, "color", NULL);
    rev = store_revision(st);
    assert_int_equal(recompile_stored(st, NULL, &rr, &err), ROOST_OK);
    assert_int_equal(rr.flags, 1);
    assert_int_equal(rr.failed, 1);
    assert_int_equal(store_revision(st), rev + 1);
    rec = get_flag(st, "banner");
    assert_false(current(&rec->flag->program));
    roost__storage__v1__flag_record__free_unpacked(rec, NULL);
    rec = get_flag(st, "color");
    assert_true(current(&rec->flag->program));
    roost__storage__v1__flag_record__free_unpacked(rec, NULL);
    store_close(st);
}

static void current_images_are_left_alone(void **state)
{
    struct store *st = open_store();
    struct recompile_result rr;
    roost_error err = {0};
    uint64_t rev;

    (void)state;
    apply_doc(st);
    rev = store_revision(st);
    assert_int_equal(recompile_stored(st, NULL, &rr, &err), ROOST_OK);
    assert_int_equal(rr.flags + rr.experiments + rr.failed, 0);
    assert_int_equal(store_revision(st), rev);
    store_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(old_images_are_compiled_again_as_one_change, make_dir,
                                        remove_dir),
        cmocka_unit_test_setup_teardown(a_source_that_no_longer_compiles_is_left_and_counted,
                                        make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(current_images_are_left_alone, make_dir, remove_dir),
    };
    return roost_run_tests("recompile", tests);
}
