/* The offline cache file: what survives a round trip, and that every kind
 * of bad file (corrupt, truncated, foreign, another server's, a newer
 * format) is refused with a message that says which, never crashes, and
 * never yields a partial configuration. */
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache.h"
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
    cache_file(path, sizeof path);
    assert_int_equal(cache_store(path, TARGET, s, &err), ROOST_OK);
    assert_int_equal(load(path, TARGET, &m, &err), ROOST_OK);
    assert_true(m.is_snapshot);
    assert_int_equal(m.revision, 7);
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
