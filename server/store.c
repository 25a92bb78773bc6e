/* LMDB store. See store.h for the model and its invariants.
 *
 * The revision and the start of the change log are cached in atomics so that
 * status and the sync fan-out can read them without a transaction; they are
 * updated only after a successful commit, by the single writer. */
#include "store.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Bumped when the layout changes in a way an older roostd cannot read. */
#define STORE_SCHEMA 1u

static const char *const table_names[TBL_COUNT] = {
    [TBL_META] = "meta",
    [TBL_FLAGS] = "flags",
    [TBL_LOG] = "log",
    [TBL_FLAG_SETS] = "flag_sets",
    [TBL_METRICS] = "metrics",
    [TBL_REPORTS_SEEN] = "reports_seen",
    [TBL_METRICS_RECENT] = "metrics_recent",
    [TBL_METRICS_HOURS] = "metrics_hours",
    [TBL_ROLLOUTS] = "rollouts",
    [TBL_DECISIONS] = "decisions",
    [TBL_PROBES] = "probes",
    [TBL_EXPERIMENTS] = "experiments",
    /* Added after schema 1 without bumping it: an older data directory
     * simply gets the table, empty, when it is opened (MDB_CREATE). */
    [TBL_HOOK_OUTBOX] = "hook_outbox",
};

struct store {
    MDB_env *env;
    MDB_dbi dbi[TBL_COUNT];
    struct store_options opt;
    _Atomic uint64_t revision;
    _Atomic uint64_t log_first;
    int lock_fd;
    uint8_t id[STORE_ID_LEN];
    char dir[4096];
};

void store_u64_key(uint64_t v, unsigned char out[8])
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

uint64_t store_u64_from_key(const void *key)
{
    const unsigned char *p = key;
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static roost_status lmdb_error(roost_error *err, int rc, const char *what)
{
    if (rc == MDB_MAP_FULL)
        return roost_error_set(err, ROOST_ELIMIT,
                               "%s: the store is full; restart roostd with a larger --store-max-mb",
                               what);
    if (rc == MDB_CORRUPTED || rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH)
        return roost_error_set(err, ROOST_ECORRUPT, "%s: %s", what, mdb_strerror(rc));
    return roost_error_set(err, ROOST_EIO, "%s: %s", what, mdb_strerror(rc));
}

static roost_status mkdir_p(const char *dir, roost_error *err)
{
    char path[4096];
    size_t n = strlen(dir);

    if (n == 0 || n >= sizeof path)
        return roost_error_set(err, ROOST_EINVAL, "data directory path is empty or too long");
    memcpy(path, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        char saved = path[i];
        path[i] = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST)
            return roost_error_set(err, ROOST_EIO, "cannot create data directory %s: %s", path,
                                   strerror(errno));
        path[i] = saved;
    }
    return ROOST_OK;
}

/* LMDB lets several processes share a store, but roostd caches the revision
 * and fans out changes it commits itself: a second roostd on the same
 * directory would serve stale data. An exclusive flock says so plainly; the
 * kernel drops it when the process dies, so kill -9 never leaves it behind. */
static roost_status lock_dir(struct store *st, roost_error *err)
{
    char path[4200];
    char pid[32];
    int n;

    snprintf(path, sizeof path, "%s/roostd.lock", st->dir);
    st->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (st->lock_fd < 0)
        return roost_error_set(err, ROOST_EIO, "cannot open %s: %s", path, strerror(errno));
    if (flock(st->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        n = (int)pread(st->lock_fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        close(st->lock_fd);
        return roost_error_set(err, ROOST_EIO,
                               "%s is in use by another roostd (pid %s): stop it or choose "
                               "another --data directory",
                               st->dir, pid[0] ? pid : "unknown");
    }
    n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(st->lock_fd, 0) != 0 || pwrite(st->lock_fd, pid, (size_t)n, 0) != n) {
        /* The pid is only a hint for the message above. */
    }
    return ROOST_OK;
}

static uint64_t meta_u64(struct store_txn *t, const char *key, uint64_t dflt)
{
    struct store_val v;

    if (store_get(t, TBL_META, key, strlen(key), &v, NULL) != ROOST_OK || v.len != 8)
        return dflt;
    return store_u64_from_key(v.data);
}

static roost_status meta_put_u64(struct store_txn *t, const char *key, uint64_t value,
                                 roost_error *err)
{
    unsigned char buf[8];

    store_u64_key(value, buf);
    return store_put(t, TBL_META, key, strlen(key), buf, sizeof buf, err);
}

/* 16 bytes no other store has. getrandom only blocks before the kernel's
 * pool is first seeded; where it is missing, the clock, the pid and the
 * directory's address still make two stores differ. */
static void new_store_id(struct store *st)
{
    struct timespec ts;
    uint64_t a, b;

    if (getrandom(st->id, sizeof st->id, 0) == (ssize_t)sizeof st->id)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    a = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    b = ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)st;
    memcpy(st->id, &a, 8);
    memcpy(st->id + 8, &b, 8);
}

const uint8_t *store_id(const struct store *st)
{
    return st->id;
}

/* Reads the store's id into st->id, making and writing one (in t) when the
 * store has none yet. */
static roost_status load_store_id(struct store *st, struct store_txn *t, roost_error *err)
{
    static const char key[] = "store_id";
    struct store_val v;

    if (store_get(t, TBL_META, key, sizeof key - 1, &v, NULL) == ROOST_OK && v.len == sizeof st->id) {
        memcpy(st->id, v.data, sizeof st->id);
        return ROOST_OK;
    }
    new_store_id(st);
    return store_put(t, TBL_META, key, sizeof key - 1, st->id, sizeof st->id, err);
}

/* A new store gets its schema and its id; an existing one must have our
 * schema, and gets an id if a roostd before ids opened it last. */
static roost_status check_schema(struct store *st, roost_error *err)
{
    struct store_txn t;
    roost_status rc;
    uint64_t schema;

    if ((rc = store_begin(st, true, &t, err)) != ROOST_OK)
        return rc;
    schema = meta_u64(&t, "schema", 0);
    if (schema == 0) {
        if ((rc = meta_put_u64(&t, "schema", STORE_SCHEMA, err)) != ROOST_OK) {
            store_abort(&t);
            return rc;
        }
    } else if (schema > STORE_SCHEMA) {
        store_abort(&t);
        return roost_error_set(err, ROOST_ECORRUPT,
                               "%s was written by a newer roostd (store schema %llu, this roostd "
                               "reads %u): upgrade roostd",
                               st->dir, (unsigned long long)schema, STORE_SCHEMA);
    }
    if ((rc = load_store_id(st, &t, err)) != ROOST_OK) {
        store_abort(&t);
        return rc;
    }
    atomic_store(&st->revision, meta_u64(&t, "revision", 0));
    atomic_store(&st->log_first, meta_u64(&t, "log_first", 1));
    return store_commit(&t, err);
}

roost_status store_open(const char *dir, const struct store_options *opt, struct store **out,
                        roost_error *err)
{
    struct store *st;
    MDB_txn *txn;
    roost_status rc;
    int mrc;
    int dead = 0;

    if ((rc = mkdir_p(dir, err)) != ROOST_OK)
        return rc;
    st = calloc(1, sizeof *st);
    if (!st)
        return roost_error_set(err, ROOST_ENOMEM, "out of memory opening the store");
    snprintf(st->dir, sizeof st->dir, "%s", dir);
    st->opt = *opt;
    if (st->opt.max_mb == 0)
        st->opt.max_mb = STORE_DEFAULT_MAX_MB;
    if (st->opt.log_keep == 0)
        st->opt.log_keep = STORE_DEFAULT_LOG_KEEP;

    if ((rc = lock_dir(st, err)) != ROOST_OK) {
        free(st);
        return rc;
    }
    if ((mrc = mdb_env_create(&st->env)) != 0) {
        close(st->lock_fd);
        free(st);
        return lmdb_error(err, mrc, "cannot create the LMDB environment");
    }
    mdb_env_set_maxdbs(st->env, 32);
    mdb_env_set_maxreaders(st->env, 1024);
    mdb_env_set_mapsize(st->env, st->opt.max_mb * (size_t)1024 * 1024);
    /* MDB_NOTLS: read transactions are not tied to threads, because gRPC
     * completion threads hand work between each other. */
    mrc = mdb_env_open(st->env, dir, MDB_NOTLS, 0600);
    if (mrc != 0) {
        rc = lmdb_error(err, mrc, "cannot open the store");
        roost_error_prefix(err, "%s: ", dir);
        mdb_env_close(st->env);
        close(st->lock_fd);
        free(st);
        return rc;
    }
    /* Reader slots of a process that died (kill -9) would pin old pages. */
    mdb_reader_check(st->env, &dead);

    if ((mrc = mdb_txn_begin(st->env, NULL, 0, &txn)) != 0) {
        rc = lmdb_error(err, mrc, "cannot start a transaction on the store");
        goto fail;
    }
    for (int i = 0; i < TBL_COUNT; i++) {
        if ((mrc = mdb_dbi_open(txn, table_names[i], MDB_CREATE, &st->dbi[i])) != 0) {
            mdb_txn_abort(txn);
            rc = lmdb_error(err, mrc, "cannot open a store table");
            goto fail;
        }
    }
    if ((mrc = mdb_txn_commit(txn)) != 0) {
        rc = lmdb_error(err, mrc, "cannot initialize the store");
        goto fail;
    }
    if ((rc = check_schema(st, err)) != ROOST_OK)
        goto fail;
    *out = st;
    return ROOST_OK;

fail:
    mdb_env_close(st->env);
    close(st->lock_fd);
    free(st);
    return rc;
}

void store_close(struct store *st)
{
    if (!st)
        return;
    mdb_env_close(st->env);
    close(st->lock_fd);
    free(st);
}

uint64_t store_revision(const struct store *st)
{
    return atomic_load(&st->revision);
}

uint64_t store_log_first(const struct store *st)
{
    return atomic_load(&st->log_first);
}

const char *store_dir(const struct store *st)
{
    return st->dir;
}

uint64_t store_size_bytes(struct store *st)
{
    MDB_envinfo info;
    MDB_stat stat;

    if (mdb_env_info(st->env, &info) != 0 || mdb_env_stat(st->env, &stat) != 0)
        return 0;
    return (uint64_t)(info.me_last_pgno + 1) * stat.ms_psize;
}

uint64_t store_txn_revision(struct store_txn *t)
{
    return meta_u64(t, "revision", 0);
}

uint64_t store_table_entries(struct store_txn *t, enum store_table tbl)
{
    MDB_stat stat;

    if (mdb_stat(t->txn, t->st->dbi[tbl], &stat) != 0)
        return 0;
    return stat.ms_entries;
}

roost_status store_begin(struct store *st, bool write, struct store_txn *t, roost_error *err)
{
    int mrc;

    t->st = st;
    t->write = write;
    t->txn = NULL;
    mrc = mdb_txn_begin(st->env, NULL, write ? 0 : MDB_RDONLY, &t->txn);
    if (mrc != 0) {
        t->txn = NULL;
        return lmdb_error(err, mrc, "cannot start a store transaction");
    }
    /* Under the write lock the cached revision is exact. */
    t->next_revision = atomic_load(&st->revision) + 1;
    return ROOST_OK;
}

void store_abort(struct store_txn *t)
{
    if (t->txn) {
        mdb_txn_abort(t->txn);
        t->txn = NULL;
    }
}

roost_status store_commit(struct store_txn *t, roost_error *err)
{
    int mrc = mdb_txn_commit(t->txn);

    t->txn = NULL;
    if (mrc != 0)
        return lmdb_error(err, mrc, "cannot commit to the store");
    return ROOST_OK;
}

/* Keeps at most log_keep entries: deletes from the front. Each commit adds
 * one entry, so in the steady state this removes one. */
static roost_status compact_log(struct store_txn *t, uint64_t *log_first, roost_error *err)
{
    struct store *st = t->st;
    uint64_t rev = t->next_revision;
    uint64_t first = *log_first;

    if (rev < st->opt.log_keep || rev - first + 1 <= st->opt.log_keep)
        return ROOST_OK;
    uint64_t keep_from = rev - st->opt.log_keep + 1;
    for (uint64_t r = first; r < keep_from; r++) {
        unsigned char key[8];
        roost_status rc;

        store_u64_key(r, key);
        if ((rc = store_del(t, TBL_LOG, key, sizeof key, err)) != ROOST_OK)
            return rc;
    }
    *log_first = keep_from;
    return meta_put_u64(t, "log_first", keep_from, err);
}

roost_status store_commit_change(struct store_txn *t, const void *event, size_t len,
                                 roost_error *err)
{
    struct store *st = t->st;
    unsigned char key[8];
    uint64_t log_first = atomic_load(&st->log_first);
    roost_status rc;

    store_u64_key(t->next_revision, key);
    if ((rc = store_put(t, TBL_LOG, key, sizeof key, event, len, err)) != ROOST_OK ||
        (rc = meta_put_u64(t, "revision", t->next_revision, err)) != ROOST_OK ||
        (rc = compact_log(t, &log_first, err)) != ROOST_OK) {
        store_abort(t);
        return rc;
    }
    if ((rc = store_commit(t, err)) != ROOST_OK)
        return rc;
    atomic_store(&st->log_first, log_first);
    atomic_store(&st->revision, t->next_revision);
    return ROOST_OK;
}

roost_status store_get(struct store_txn *t, enum store_table tbl, const void *key, size_t klen,
                       struct store_val *out, roost_error *err)
{
    MDB_val k = {klen, (void *)key};
    MDB_val v;
    int mrc = mdb_get(t->txn, t->st->dbi[tbl], &k, &v);

    if (mrc == MDB_NOTFOUND)
        return roost_error_set(err, ROOST_ENOTFOUND, "not found");
    if (mrc != 0)
        return lmdb_error(err, mrc, "cannot read from the store");
    out->data = v.mv_data;
    out->len = v.mv_size;
    return ROOST_OK;
}

roost_status store_put(struct store_txn *t, enum store_table tbl, const void *key, size_t klen,
                       const void *val, size_t vlen, roost_error *err)
{
    MDB_val k = {klen, (void *)key};
    MDB_val v = {vlen, (void *)val};
    int mrc;

    if (klen == 0 || klen > 511)
        return roost_error_set(err, ROOST_EINVAL, "store key length %zu is outside 1..511", klen);
    mrc = mdb_put(t->txn, t->st->dbi[tbl], &k, &v, 0);
    if (mrc != 0)
        return lmdb_error(err, mrc, "cannot write to the store");
    return ROOST_OK;
}

roost_status store_del(struct store_txn *t, enum store_table tbl, const void *key, size_t klen,
                       roost_error *err)
{
    MDB_val k = {klen, (void *)key};
    int mrc = mdb_del(t->txn, t->st->dbi[tbl], &k, NULL);

    if (mrc != 0 && mrc != MDB_NOTFOUND)
        return lmdb_error(err, mrc, "cannot delete from the store");
    return ROOST_OK;
}

roost_status store_iter_open(struct store_txn *t, enum store_table tbl, const void *prefix,
                             size_t prefix_len, struct store_iter *it, roost_error *err)
{
    int mrc = mdb_cursor_open(t->txn, t->st->dbi[tbl], &it->cur);

    if (mrc != 0) {
        it->cur = NULL;
        return lmdb_error(err, mrc, "cannot iterate the store");
    }
    it->prefix = prefix;
    it->prefix_len = prefix ? prefix_len : 0;
    it->started = false;
    it->pending = false;
    return ROOST_OK;
}

/* Positions the cursor at the first key >= (key, len); the entry found is
 * returned by the next store_iter_next. */
static void iter_position(struct store_iter *it, const void *key, size_t len)
{
    MDB_val k = {len, (void *)key};
    MDB_val v;
    int mrc = len ? mdb_cursor_get(it->cur, &k, &v, MDB_SET_RANGE)
                  : mdb_cursor_get(it->cur, &k, &v, MDB_FIRST);

    it->started = true;
    it->pending = mrc == 0;
    if (mrc != 0)
        store_iter_close(it);
}

void store_iter_seek(struct store_iter *it, const void *start, size_t start_len)
{
    if (it->cur)
        iter_position(it, start, start_len);
}

bool store_iter_next(struct store_iter *it, struct store_val *key, struct store_val *val)
{
    MDB_val k, v;
    int mrc;

    if (it->cur && !it->started)
        iter_position(it, it->prefix, it->prefix_len);
    if (!it->cur)
        return false;
    mrc = mdb_cursor_get(it->cur, &k, &v, it->pending ? MDB_GET_CURRENT : MDB_NEXT);
    it->pending = false;
    if (mrc != 0)
        return false;
    if (it->prefix_len &&
        (k.mv_size < it->prefix_len || memcmp(k.mv_data, it->prefix, it->prefix_len) != 0))
        return false;
    key->data = k.mv_data;
    key->len = k.mv_size;
    val->data = v.mv_data;
    val->len = v.mv_size;
    return true;
}

void store_iter_close(struct store_iter *it)
{
    if (it->cur) {
        mdb_cursor_close(it->cur);
        it->cur = NULL;
    }
}

roost_status store_log_get(struct store_txn *t, uint64_t rev, struct store_val *out,
                           roost_error *err)
{
    unsigned char key[8];

    store_u64_key(rev, key);
    return store_get(t, TBL_LOG, key, sizeof key, out, err);
}
