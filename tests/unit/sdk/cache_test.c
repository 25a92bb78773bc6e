/* The offline cache file: what survives a round trip, and that every kind
 * of bad file (corrupt, truncated, foreign, another server's, a newer
 * format) is refused with a message that says which, never crashes, and
 * never yields a partial configuration. */
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache.h"
#include "client_internal.h"
#include "sdk_unit_util.h"

#define TARGET "roostd.example:7070"

static struct sdk_snapshot *two_flags(uint64_t revision)
{
    struct sdk_image *imgs[2] = {bool_image("alpha", "on", 1), bool_image("beta", "off", 2)};
    struct sdk_snapshot *s;

    assert_int_equal(snapshot_build(imgs, 2, NULL, NULL, revision, &s, NULL), ROOST_OK);
    return s;
}

static void cache_file(char *path, size_t cap)
{
    char dir[512];

    unit_tmpdir(dir, sizeof dir, "sdk-cache");
    snprintf(path, cap, "%s/roost.cache", dir);
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long n;

    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void spit(const char *path, const uint8_t *buf, size_t len)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    fclose(f);
}

/* Loads path; returns the status and leaves the message in err. */
static roost_status load(const char *path, const char *target, struct wire_sync *m,
                         roost_error *err)
{
    wire_sync_init(m, NULL, NULL);
    return cache_load(path, target, 1u << 20, m, err);
}

static void round_trip_keeps_every_flag_and_the_revision(void **state)
{
    struct sdk_snapshot *s = two_flags(7), *back;
    struct wire_sync m;
    roost_error err;
    char path[600];

    (void)state;
    /* The revision's store goes with it: a process started from the cache
     * resumes from (store, revision), never from a bare number. */
    s->store_id.len = SDK_STORE_ID_MAX;
    for (int i = 0; i < SDK_STORE_ID_MAX; i++)
        s->store_id.bytes[i] = (uint8_t)(0xa0 + i);
    cache_file(path, sizeof path);
    assert_int_equal(cache_store(path, TARGET, s, &err), ROOST_OK);
    assert_int_equal(load(path, TARGET, &m, &err), ROOST_OK);
    assert_true(m.is_snapshot);
    assert_int_equal(m.revision, 7);
    assert_int_equal(m.store_id.len, SDK_STORE_ID_MAX);
    assert_memory_equal(m.store_id.bytes, s->store_id.bytes, SDK_STORE_ID_MAX);
    assert_int_equal(m.nflags, 2);
    assert_int_equal(snapshot_build(m.flags, m.nflags, m.res, NULL, m.revision, &back, NULL),
                     ROOST_OK);
    m.nflags = 0;
    assert_true(roost_eval_bool(roost_flagset_find(&back->set, "alpha", 5), NULL, false, NULL));
    assert_false(roost_eval_bool(roost_flagset_find(&back->set, "beta", 4), NULL, true, NULL));
    assert_int_equal(snapshot_find(back, "beta", 4)->revision, 2);
    wire_sync_clear(&m);
    snapshot_free(back);
    snapshot_free(s);
}

/* Two flags, a rollout, two probes and two experiments. */
static struct sdk_snapshot *everything(uint64_t revision)
{
    struct sdk_image *imgs[2] = {bool_image("alpha", "on", 1), bool_image("beta", "off", 2)};
    struct sdk_res_list res[SDK_RES_KINDS] = {{0}};
    struct sdk_snapshot *s;

    unit_add_rollout(res, "checkout-v2", ROOST_ROLLOUT_PAUSED, 2500);
    unit_add_probe(res, "payments-db", ROOST_PROBE_DOWN, "connect 10.0.0.5:5432: refused");
    unit_add_probe(res, "search", ROOST_PROBE_UP, "");
    unit_add_experiment(res, "green-button", "alpha", ROOST_EXPERIMENT_RUNNING);
    unit_add_experiment(res, "old-test", "beta", ROOST_EXPERIMENT_CONCLUDED);
    assert_int_equal(snapshot_build(imgs, 2, res, NULL, revision, &s, NULL), ROOST_OK);
    unit_clear_resources(res);
    return s;
}

static void round_trip_keeps_rollouts_probes_and_experiments(void **state)
{
    struct sdk_snapshot *s = everything(9), *back;
    const struct sdk_rollout *r;
    const struct sdk_probe *p;
    const struct sdk_experiment *e;
    struct wire_sync m;
    roost_error err;
    char path[600];

    (void)state;
    cache_file(path, sizeof path);
    assert_int_equal(cache_store(path, TARGET, s, &err), ROOST_OK);
    assert_int_equal(load(path, TARGET, &m, &err), ROOST_OK);
    assert_false(m.partial);
    assert_int_equal(m.res[SDK_ROLLOUTS].n, 1);
    assert_int_equal(m.res[SDK_PROBES].n, 2);
    assert_int_equal(m.res[SDK_EXPERIMENTS].n, 2);
    assert_int_equal(snapshot_build(m.flags, m.nflags, m.res, NULL, m.revision, &back, NULL),
                     ROOST_OK);
    m.nflags = 0;
    wire_sync_clear(&m);
    /* Record for record what was written (records are compared whole). */
    for (int k = 0; k < SDK_RES_KINDS; k++) {
        assert_int_equal(back->res[k].n, s->res[k].n);
        assert_memory_equal(back->res[k].items, s->res[k].items,
                            s->res[k].n * sdk_res_size((enum sdk_res_kind)k));
    }
    r = sdk_res_find(SDK_ROLLOUTS, &back->res[SDK_ROLLOUTS], "checkout-v2", 11);
    assert_non_null(r);
    assert_int_equal(r->phase, ROOST_ROLLOUT_PAUSED);
    assert_int_equal(r->weight_bp, 2500);
    assert_string_equal(r->canary, "v2");
    p = sdk_res_find(SDK_PROBES, &back->res[SDK_PROBES], "payments-db", 11);
    assert_non_null(p);
    assert_int_equal(p->state, ROOST_PROBE_DOWN);
    assert_int_equal(p->circuit, ROOST_CIRCUIT_OPEN);
    assert_string_equal(p->detail, "connect 10.0.0.5:5432: refused");
    e = sdk_res_find(SDK_EXPERIMENTS, &back->res[SDK_EXPERIMENTS], "green-button", 12);
    assert_non_null(e);
    assert_int_equal(e->phase, ROOST_EXPERIMENT_RUNNING);
    assert_string_equal(e->unit, "targetingKey");
    /* The running experiment's flag is marked for exposures again. */
    assert_int_equal(back->nrunning, 1);
    assert_non_null(back->flag_experiment);
    snapshot_free(back);
    snapshot_free(s);
}

/* A file as SDKs before format 2 wrote it: same layout, version 1, flags
 * only. (Its payload here even holds a rollout: a version-1 reader
 * skipped such fields, and this reader must not trust them either.) */
static void write_version_1(const char *path, const struct sdk_snapshot *s)
{
    uint8_t *buf;
    size_t len, hlen;

    assert_int_equal(cache_store(path, TARGET, s, NULL), ROOST_OK);
    buf = slurp(path, &len);
    buf[8] = 1;
    hlen = buf[12] | (size_t)buf[13] << 8;
    {
        uint32_t crc = cache_crc32c(cache_crc32c(0, buf, 44), buf + 48, hlen - 48);
        for (int i = 0; i < 4; i++)
            buf[44 + i] = (uint8_t)(crc >> (8 * i));
    }
    spit(path, buf, len);
    free(buf);
}

static void version_1_cache_loads_its_flags_as_a_partial_configuration(void **state)
{
    struct sdk_snapshot *s = everything(4);
    struct wire_sync m;
    roost_error err;
    char path[600];

    (void)state;
    cache_file(path, sizeof path);
    write_version_1(path, s);
    assert_int_equal(load(path, TARGET, &m, &err), ROOST_OK);
    assert_true(m.partial); /* the client subscribes from revision 0 */
    assert_int_equal(m.revision, 4);
    assert_int_equal(m.nflags, 2);
    for (int k = 0; k < SDK_RES_KINDS; k++)
        assert_int_equal(m.res[k].n, 0);
    wire_sync_clear(&m);
    snapshot_free(s);
}

/* A client started on a version-1 cache with roostd away: serves its
 * flags, and knows it holds flags only. */
static void client_serves_a_version_1_cache_and_asks_for_everything(void **state)
{
    struct sdk_snapshot *s = everything(4);
    roost_client_options o;
    roost_client *c;
    const struct sdk_snapshot *held;
    roost_rollout_info info;
    roost_details d;
    char path[600];

    (void)state;
    cache_file(path, sizeof path);
    write_version_1(path, s);
    roost_client_options_init(&o);
    o.target = TARGET;
    o.cache_path = path;
    o.log_level = ROOST_LOG_ERROR; /* the version-1 warning is expected */
    o.connect_timeout_ms = 200;
    assert_int_equal(roost_client_new(&o, &c, NULL), ROOST_OK);
    assert_int_equal(roost_client_start(c, NULL), ROOST_OK);
    assert_int_equal(roost_client_get_state(c), ROOST_STATE_STALE);
    assert_true(roost_client_bool(c, "alpha", NULL, false, &d));
    assert_int_equal(d.revision, 4);
    assert_int_equal(roost_rollout_status(c, "checkout-v2", &info), ROOST_ENOTFOUND);
    held = hazard_current(&((struct roost_client *)c)->hz);
    assert_true(held->partial);
    roost_client_close(c, NULL);
    snapshot_free(s);
}

static void rewrite_is_atomic_and_leaves_no_temporary(void **state)
{
    struct sdk_snapshot *s1 = two_flags(1), *s2 = two_flags(2);
    struct wire_sync m;
    char path[600], dir[600];
    struct dirent *e;
    DIR *d;
    int files = 0;

    (void)state;
    cache_file(path, sizeof path);
    assert_int_equal(cache_store(path, TARGET, s1, NULL), ROOST_OK);
    assert_int_equal(cache_store(path, TARGET, s2, NULL), ROOST_OK);
    assert_int_equal(load(path, TARGET, &m, NULL), ROOST_OK);
    assert_int_equal(m.revision, 2);
    wire_sync_clear(&m);
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = '\0';
    assert_non_null(d = opendir(dir));
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            files++;
    closedir(d);
    assert_int_equal(files, 1);
    snapshot_free(s1);
    snapshot_free(s2);
}

static void missing_file_is_not_found(void **state)
{
    struct wire_sync m;
    roost_error err;

    (void)state;
    assert_int_equal(load("/nonexistent/roost.cache", TARGET, &m, &err), ROOST_ENOTFOUND);
}

static void foreign_file_is_refused(void **state)
{
    static const char text[] = "{\"this\": \"is a JSON file, not a cache\"} padding padding padding";
    struct wire_sync m;
    roost_error err;
    char path[600];

    (void)state;
    cache_file(path, sizeof path);
    spit(path, (const uint8_t *)text, sizeof text);
    assert_int_equal(load(path, TARGET, &m, &err), ROOST_ECORRUPT);
    assert_non_null(strstr(err.msg, "not a Roost cache file"));
    spit(path, (const uint8_t *)"tiny", 4);
    assert_int_equal(load(path, TARGET, &m, &err), ROOST_ECORRUPT);
    assert_non_null(strstr(err.msg, "shorter than a header"));
}

static void cache_of_another_server_is_refused(void **state)
{
    struct sdk_snapshot *s = two_flags(3);
    struct wire_sync m;
    roost_error err;
    char path[600];

    (void)state;
    cache_file(path, sizeof path);
    assert_int_equal(cache_store(path, "other-roostd:7070", s, NULL), ROOST_OK);
    assert_int_equal(load(path, TARGET, &m, &err), ROOST_ECONFLICT);
    assert_non_null(strstr(err.msg, "other-roostd:7070"));
    snapshot_free(s);
}

static void truncated_file_is_refused(void **state)
{
    struct sdk_snapshot *s = two_flags(3);
    struct wire_sync m;
    roost_error err;
    char path[600];
    uint8_t *buf;
    size_t len;

    (void)state;
    cache_file(path, sizeof path);
    assert_int_equal(cache_store(path, TARGET, s, NULL), ROOST_OK);
    buf = slurp(path, &len);
    for (size_t cut = 0; cut < len; cut += (cut < 64 ? 1 : 17)) {
        spit(path, buf, cut);
        assert_int_not_equal(load(path, TARGET, &m, &err), ROOST_OK);
        assert_int_equal(m.nflags, 0);
    }
    spit(path, buf, len - 1);
    assert_int_equal(load(path, TARGET, &m, &err), ROOST_ECORRUPT);
    assert_non_null(strstr(err.msg, "truncated"));
    free(buf);
    snapshot_free(s);
}

static void every_single_byte_corruption_is_refused(void **state)
{
    struct sdk_snapshot *s = two_flags(3);
    struct wire_sync m;
    roost_error err;
    char path[600];
    uint8_t *buf;
    size_t len;

    (void)state;
    cache_file(path, sizeof path);
    assert_int_equal(cache_store(path, TARGET, s, NULL), ROOST_OK);
    buf = slurp(path, &len);
    for (size_t i = 0; i < len; i++) {
        buf[i] ^= 0x5a;
        spit(path, buf, len);
        assert_int_not_equal(load(path, TARGET, &m, &err), ROOST_OK);
        assert_int_equal(m.nflags, 0);
        buf[i] ^= 0x5a;
    }
    free(buf);
    snapshot_free(s);
}

static void newer_format_is_refused_with_both_versions(void **state)
{
    struct sdk_snapshot *s = two_flags(3);
    struct wire_sync m;
    roost_error err;
    char path[600];
    uint8_t *buf;
    size_t len;

    (void)state;
    cache_file(path, sizeof path);
    assert_int_equal(cache_store(path, TARGET, s, NULL), ROOST_OK);
    buf = slurp(path, &len);
    buf[8] = 3;
    spit(path, buf, len);
    assert_int_equal(load(path, TARGET, &m, &err), ROOST_ECORRUPT);
    assert_non_null(strstr(err.msg, "format version 3"));
    assert_non_null(strstr(err.msg, "versions 1 and 2"));
    free(buf);
    snapshot_free(s);
}

static void garbage_sync_messages_never_crash(void **state)
{
    struct wire_sync m;
    uint8_t buf[256];
    uint64_t x = 88172645463325252ull;

    (void)state;
    wire_sync_init(&m, NULL, NULL);
    for (int round = 0; round < 20000; round++) {
        size_t len = (size_t)(x % sizeof buf);
        for (size_t i = 0; i < len; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf[i] = (uint8_t)x;
        }
        /* Valid framing with a random body, half of the time. */
        if (round % 2 && len > 2) {
            buf[0] = 0x0a + (round % 4 ? 0 : 8); /* field 1 or 2, length-delimited */
            buf[1] = (uint8_t)(len - 2 < 127 ? len - 2 : 127);
        }
        (void)wire_decode_sync_response(buf, len, &m, NULL);
        wire_sync_clear(&m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip_keeps_every_flag_and_the_revision),
        cmocka_unit_test(round_trip_keeps_rollouts_probes_and_experiments),
        cmocka_unit_test(version_1_cache_loads_its_flags_as_a_partial_configuration),
        cmocka_unit_test(client_serves_a_version_1_cache_and_asks_for_everything),
        cmocka_unit_test(rewrite_is_atomic_and_leaves_no_temporary),
        cmocka_unit_test(missing_file_is_not_found),
        cmocka_unit_test(foreign_file_is_refused),
        cmocka_unit_test(cache_of_another_server_is_refused),
        cmocka_unit_test(truncated_file_is_refused),
        cmocka_unit_test(every_single_byte_corruption_is_refused),
        cmocka_unit_test(newer_format_is_refused_with_both_versions),
        cmocka_unit_test(garbage_sync_messages_never_crash),
    };

    return roost_run_tests("sdk_cache", tests);
}
