/* Offline cache file. See cache.h for the format and its guarantees.
 *
 * CRC-32C rather than a cryptographic hash: the file is the client's own,
 * in a directory the service controls; the checksum guards against torn
 * writes, disk errors and editors, not against an attacker (who could as
 * well replace the SDK). Table-driven, one byte at a time: a 1 MiB snapshot
 * takes about a millisecond, once per configuration change.
 */
#include "cache.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "prims.h"

static uint32_t crc_table[256];
static atomic_int crc_ready;

static void crc_init(void)
{
    if (atomic_load_explicit(&crc_ready, memory_order_acquire))
        return;
    /* Idempotent: racing initializers write the same values. */
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc_table[i] = c;
    }
    atomic_store_explicit(&crc_ready, 1, memory_order_release);
}

uint32_t cache_crc32c(uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;

    crc_init();
    crc = ~crc;
    for (size_t i = 0; i < len; i++)
        crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static uint32_t header_crc(const uint8_t *h, size_t hlen)
{
    return cache_crc32c(cache_crc32c(0, h, 44), h + CACHE_HEADER_FIXED, hlen - CACHE_HEADER_FIXED);
}

roost_status cache_load(const char *path, const char *target, size_t max_bytes, struct wire_sync *m,
                        roost_error *err)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    struct stat st;
    size_t size, hlen, tlen;
    uint64_t plen;
    roost_status rc;

    if (!f) {
        if (errno == ENOENT)
            return roost_error_set(err, ROOST_ENOTFOUND, "cache file %s does not exist", path);
        return roost_error_set(err, ROOST_EIO, "cannot open cache file %s: %s", path,
                               strerror(errno));
    }
    if (fstat(fileno(f), &st) != 0) {
        rc = roost_error_set(err, ROOST_EIO, "cannot stat cache file %s: %s", path, strerror(errno));
        goto out;
    }
    if ((uint64_t)st.st_size > max_bytes) {
        rc = roost_error_set(err, ROOST_ELIMIT,
                             "cache file %s is %lld bytes, more than the %zu this client accepts",
                             path, (long long)st.st_size, max_bytes);
        goto out;
    }
    size = (size_t)st.st_size;
    if (size < CACHE_HEADER_FIXED) {
        rc = roost_error_set(err, ROOST_ECORRUPT,
                             "%s is not a Roost cache file (%zu bytes, shorter than a header)", path,
                             size);
        goto out;
    }
    if (!(buf = malloc(size))) {
        rc = roost_error_set(err, ROOST_ENOMEM, "out of memory reading cache file %s", path);
        goto out;
    }
    if (fread(buf, 1, size, f) != size) {
        rc = roost_error_set(err, ROOST_EIO, "cannot read cache file %s: %s", path,
                             ferror(f) ? strerror(errno) : "it shrank while being read");
        goto out;
    }
    if (memcmp(buf, CACHE_MAGIC, 8) != 0) {
        rc = roost_error_set(err, ROOST_ECORRUPT, "%s is not a Roost cache file (no RSTCACHE magic)",
                             path);
        goto out;
    }
    if (get32(buf + 8) != CACHE_FORMAT_VERSION && get32(buf + 8) != CACHE_FORMAT_FLAGS_ONLY) {
        rc = roost_error_set(err, ROOST_ECORRUPT,
                             "cache file %s has format version %u; this SDK reads versions %u and "
                             "%u",
                             path, get32(buf + 8), CACHE_FORMAT_FLAGS_ONLY, CACHE_FORMAT_VERSION);
        goto out;
    }
    hlen = get32(buf + 12);
    if (hlen < CACHE_HEADER_FIXED || hlen > CACHE_HEADER_FIXED + CACHE_TARGET_MAX || hlen > size) {
        rc = roost_error_set(err, ROOST_ECORRUPT, "cache file %s: header length %zu is impossible",
                             path, hlen);
        goto out;
    }
    if (header_crc(buf, hlen) != get32(buf + 44)) {
        rc = roost_error_set(err, ROOST_ECORRUPT, "cache file %s: header checksum mismatch", path);
        goto out;
    }
    tlen = hlen - CACHE_HEADER_FIXED;
    if (tlen != strlen(target) || memcmp(buf + CACHE_HEADER_FIXED, target, tlen) != 0) {
        rc = roost_error_set(err, ROOST_ECONFLICT,
                             "cache file %s was written for roostd at %.*s, not %s; its revisions "
                             "mean nothing to this server",
                             path, (int)tlen, (const char *)buf + CACHE_HEADER_FIXED, target);
        goto out;
    }
    plen = get64(buf + 32);
    if (plen != size - hlen) {
        rc = roost_error_set(err, ROOST_ECORRUPT,
                             "cache file %s is truncated or padded: the header says %llu payload "
                             "bytes, the file holds %zu",
                             path, (unsigned long long)plen, size - hlen);
        goto out;
    }
    if (cache_crc32c(0, buf + hlen, (size_t)plen) != get32(buf + 40)) {
        rc = roost_error_set(err, ROOST_ECORRUPT, "cache file %s: payload checksum mismatch", path);
        goto out;
    }
    if ((rc = wire_decode_snapshot(buf + hlen, (size_t)plen, m, err)) != ROOST_OK) {
        roost_error_prefix(err, "cache file %s: ", path);
        goto out;
    }
    if (m->revision != get64(buf + 16)) {
        rc = roost_error_set(err, ROOST_ECORRUPT,
                             "cache file %s: the header says revision %llu, the payload %llu", path,
                             (unsigned long long)get64(buf + 16), (unsigned long long)m->revision);
        wire_sync_clear(m);
        goto out;
    }
    if (get32(buf + 8) == CACHE_FORMAT_FLAGS_ONLY) {
        /* Whatever the payload holds, a version-1 writer kept flags only. */
        for (int k = 0; k < SDK_RES_KINDS; k++)
            sdk_res_list_clear(&m->res[k]);
        m->partial = true;
    }
    rc = ROOST_OK;
out:
    free(buf);
    fclose(f);
    return rc;
}

static roost_status write_all(int fd, const uint8_t *p, size_t n, const char *path,
                              roost_error *err)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return roost_error_set(err, ROOST_EIO, "cannot write %s: %s", path, strerror(errno));
        }
        p += w;
        n -= (size_t)w;
    }
    return ROOST_OK;
}

roost_status cache_store(const char *path, const char *target, const struct sdk_snapshot *s,
                         roost_error *err)
{
    static _Atomic unsigned counter;
    uint8_t header[CACHE_HEADER_FIXED + CACHE_TARGET_MAX];
    char tmp[PATH_MAX], dir[PATH_MAX];
    uint8_t *payload = NULL;
    size_t plen = 0, tlen = strlen(target), hlen;
    const char *slash;
    roost_status rc;
    int fd;

    if (tlen > CACHE_TARGET_MAX)
        return roost_error_set(err, ROOST_EINVAL, "target address longer than %u bytes",
                               CACHE_TARGET_MAX);
    if ((rc = wire_encode_snapshot(s, &payload, &plen, err)) != ROOST_OK)
        return rc;
    hlen = CACHE_HEADER_FIXED + tlen;
    memset(header, 0, sizeof header);
    memcpy(header, CACHE_MAGIC, 8);
    put32(header + 8, CACHE_FORMAT_VERSION);
    put32(header + 12, (uint32_t)hlen);
    put64(header + 16, s->revision);
    put64(header + 24, (uint64_t)sdk_wall_ms());
    put64(header + 32, plen);
    put32(header + 40, cache_crc32c(0, payload, plen));
    memcpy(header + CACHE_HEADER_FIXED, target, tlen);
    put32(header + 44, header_crc(header, hlen));

    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%u", path, (long)getpid(),
                 atomic_fetch_add(&counter, 1)) >= (int)sizeof tmp) {
        free(payload);
        return roost_error_set(err, ROOST_EINVAL, "cache path %s is too long", path);
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        free(payload);
        return roost_error_set(err, ROOST_EIO, "cannot create %s: %s", tmp, strerror(errno));
    }
    rc = write_all(fd, header, hlen, tmp, err);
    if (rc == ROOST_OK)
        rc = write_all(fd, payload, plen, tmp, err);
    free(payload);
    if (rc == ROOST_OK && fsync(fd) != 0)
        rc = roost_error_set(err, ROOST_EIO, "cannot sync %s: %s", tmp, strerror(errno));
    if (close(fd) != 0 && rc == ROOST_OK)
        rc = roost_error_set(err, ROOST_EIO, "cannot close %s: %s", tmp, strerror(errno));
    if (rc == ROOST_OK && rename(tmp, path) != 0)
        rc = roost_error_set(err, ROOST_EIO, "cannot rename %s to %s: %s", tmp, path,
                             strerror(errno));
    if (rc != ROOST_OK) {
        unlink(tmp);
        return rc;
    }
    /* The rename is durable once the directory is synced; failing that only
     * risks the previous cache after a power cut, so it is not an error. */
    slash = strrchr(path, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) + (slash == path) : 1,
             slash ? path : ".");
    if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
        if (fsync(fd) != 0) {
            /* see above: not an error */
        }
        close(fd);
    }
    return ROOST_OK;
}
