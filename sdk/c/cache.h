/* The offline cache: the last configuration a client received, on disk, so
 * that a process started while roostd is unreachable serves flags within
 * milliseconds instead of defaults.
 *
 * File format (version 2, little-endian):
 *
 *   offset  size  field
 *        0     8  magic "RSTCACHE"
 *        8     4  format version (CACHE_FORMAT_VERSION)
 *       12     4  header length H (48 + target length, at most 48 + 255)
 *       16     8  revision of the configuration
 *       24     8  written at, Unix milliseconds
 *       32     8  payload length P
 *       40     4  CRC-32C of the payload
 *       44     4  CRC-32C of bytes [0, 44) and of the target
 *       48  H-48  target: the roostd address the configuration came from
 *        H     P  payload: a roost.v1.Snapshot message, as roostd sends it:
 *                 flags, rollouts, probe states and experiments
 *
 * The payload is the wire message itself, so the cache adds no second
 * encoding of flags, and loading it runs the same hostile-input decoder and
 * engine verification as the network does.
 *
 * Versions. Version 1 (SDKs before rollouts and experiments) has the same
 * layout, but its payload holds flags only. Its flags are still served
 * (they are what the service needs most while roostd is away), but its
 * revision is no base to resume from: the rollouts and experiments that
 * existed at that revision are missing, and roostd would only send what
 * changed after it. So a version-1 cache loads as `partial` and the client
 * subscribes from revision 0, which makes roostd send a whole snapshot.
 * The next write replaces it with version 2. A version-2 file read by an
 * older SDK is refused by its version check and ignored with a warning.
 *
 * Writes are atomic: a temporary file in the same directory, fsync, rename
 * over the old file, fsync of the directory. A reader sees the old file or
 * the new one, never a mixture; a crash leaves at most a stray temporary.
 *
 * A file that is not a cache, has an unknown format version, was written for
 * another roostd (its revisions mean nothing to this one), is truncated or
 * fails a checksum is refused with a message saying which, and the client
 * starts without it.
 */
#ifndef ROOST_SDK_CACHE_H
#define ROOST_SDK_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "roost/status.h"
#include "snapshot.h"
#include "wire.h"

#define CACHE_MAGIC "RSTCACHE"
#define CACHE_FORMAT_VERSION 2u
#define CACHE_FORMAT_FLAGS_ONLY 1u /* read (flags only, partial), never written */
#define CACHE_HEADER_FIXED 48u
#define CACHE_TARGET_MAX 255u

/* Reads path and decodes its snapshot into m (flags, rollouts, probes,
 * experiments, revision; m->partial for a version-1 file). max_bytes
 * bounds the file size. Fails with ENOTFOUND (no file), EIO (unreadable),
 * ECORRUPT (not a cache, an unknown format, truncated, checksum, or the
 * payload does not decode: the message says which), ECONFLICT (written for
 * another target), ELIMIT (larger than max_bytes). */
roost_status cache_load(const char *path, const char *target, size_t max_bytes, struct wire_sync *m,
                        roost_error *err);

/* Writes s atomically to path. Fails with EIO (the message names the file
 * and the system error), ENOMEM. On failure the old file is untouched. */
roost_status cache_store(const char *path, const char *target, const struct sdk_snapshot *s,
                         roost_error *err);

/* CRC-32C (Castagnoli) of len bytes, continuing from crc (start with 0). */
uint32_t cache_crc32c(uint32_t crc, const void *data, size_t len);

#endif
