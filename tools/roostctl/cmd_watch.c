/* roostctl watch: one JSON line per change, as roostd streams them.
 *
 * When the connection drops (roostd restarting), watch reconnects with
 * exponential backoff and resumes from the last revision it printed, so a
 * restart of roostd shows up as a pause in the output, never as a gap or a
 * repeated line. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "roost/v1/roost.pb-c.h"
#include "roostctl.h"
#include "tools/lib/rpcclient.h"

static const char usage[] =
    "usage: roostctl watch [--from-revision N] [--count N] [--for SECONDS]\n"
    "\n"
    "Prints one JSON line per change, with its revision. Without --from-revision\n"
    "the first line is a snapshot of the current flags; with it, only the changes\n"
    "after revision N are printed (or a snapshot, when roostd no longer keeps\n"
    "changes that old). Reconnects by itself if roostd restarts.\n"
    "\n"
    "  --from-revision N   resume after revision N\n"
    "  --count N           exit after printing N lines\n"
    "  --for SECONDS       exit after watching this long\n";

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static cJSON *keys_of_flags(Roost__V1__Flag **flags, size_t n)
{
    cJSON *a = cJSON_CreateArray();

    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(flags[i]->key));
    return a;
}

static void print_time(cJSON *o, int64_t ms)
{
    time_t sec = (time_t)(ms / 1000);
    struct tm tm;
    char buf[80];

    gmtime_r(&sec, &tm);
    snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
    cJSON_AddStringToObject(o, "time", buf);
}

/* Prints one message and sets *rev to the revision it carries; returns
 * false when it cannot be decoded. */
static bool print_message(const uint8_t *data, size_t len, uint64_t *revision)
{
    Roost__V1__SyncResponse *r = roost__v1__sync_response__unpack(NULL, len, data);
    cJSON *o;
    uint64_t rev = 0;
    bool ok = false;

    if (!r)
        return false;
    o = cJSON_CreateObject();
    if (r->kind_case == ROOST__V1__SYNC_RESPONSE__KIND_SNAPSHOT && r->snapshot) {
        rev = r->snapshot->revision;
        ok = true;
        cJSON_AddNumberToObject(o, "revision", (double)rev);
        cJSON_AddStringToObject(o, "type", "snapshot");
        cJSON_AddItemToObject(o, "flags", keys_of_flags(r->snapshot->flags, r->snapshot->n_flags));
    } else if (r->kind_case == ROOST__V1__SYNC_RESPONSE__KIND_CHANGE && r->change) {
        cJSON *removed = cJSON_CreateArray();
        rev = r->change->revision;
        ok = true;
        cJSON_AddNumberToObject(o, "revision", (double)rev);
        cJSON_AddStringToObject(o, "type", "change");
        print_time(o, r->change->time_unix_ms);
        cJSON_AddStringToObject(o, "actor", r->change->actor);
        cJSON_AddStringToObject(o, "flag_set", r->change->flag_set);
        cJSON_AddItemToObject(o, "upserted",
                              keys_of_flags(r->change->upserted, r->change->n_upserted));
        for (size_t i = 0; i < r->change->n_removed; i++)
            cJSON_AddItemToArray(removed, cJSON_CreateString(r->change->removed[i]));
        cJSON_AddItemToObject(o, "removed", removed);
    }
    if (ok)
        roostctl_print_json(o);
    else
        cJSON_Delete(o);
    roost__v1__sync_response__free_unpacked(r, NULL);
    *revision = rev;
    return ok;
}

static bool parse_num(const char *s, uint64_t *out)
{
    char *end;

    errno = 0;
    if (!s || !*s || *s == '-')
        return false;
    *out = strtoull(s, &end, 10);
    return !errno && !*end;
}

int roostctl_cmd_watch(const struct roostctl *g, int argc, char **argv)
{
    Roost__V1__SyncRequest req = ROOST__V1__SYNC_REQUEST__INIT;
    uint64_t revision = 0, count = 0, printed = 0, secs = 0;
    struct rc_channel *ch;
    struct rc_group *grp;
    roost_error err;
    double until = 0, backoff = 1;
    char client_id[64];
    int rc;

    if (roostctl_wants_help(argc, argv)) {
        fputs(usage, stdout);
        return ROOSTCTL_EXIT_OK;
    }
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--from-revision") == 0 && parse_num(v, &revision))
            i++;
        else if (strcmp(argv[i], "--count") == 0 && parse_num(v, &count) && count > 0)
            i++;
        else if (strcmp(argv[i], "--for") == 0 && parse_num(v, &secs) && secs > 0)
            i++;
        else
            return roostctl_fail(ROOSTCTL_EXIT_USAGE,
                                 "watch: unexpected or incomplete '%s' (roostctl watch --help)",
                                 argv[i]);
    }
    if (secs)
        until = now_s() + (double)secs;
    if ((rc = roostctl_connect(g, &ch)) != ROOSTCTL_EXIT_OK)
        return rc;
    if (rc_group_new(&grp, &err) != ROOST_OK) {
        rc_channel_close(ch);
        return roostctl_fail(ROOSTCTL_EXIT_FAIL, "%s", err.msg);
    }
    snprintf(client_id, sizeof client_id, "roostctl-watch-%ld", (long)getpid());
    req.client_id = client_id;

    rc = ROOSTCTL_EXIT_OK;
    for (;;) {
        struct rc_stream *s;
        struct rc_event ev;
        uint8_t buf[128];
        bool ended = false, got_any = false;
        double opened = now_s();

        req.revision = revision;
        if (rc_stream_open(grp, ch, "/roost.v1.Sync/Subscribe", buf,
                           roost__v1__sync_request__pack(&req, buf), NULL, &s, &err) != ROOST_OK) {
            rc = roostctl_fail(ROOSTCTL_EXIT_FAIL, "%s", err.msg);
            break;
        }
        while (!ended) {
            double wait = until ? until - now_s() : 1.0;
            if (until && wait <= 0) {
                rc_stream_cancel(s);
                goto done;
            }
            rc_group_next(grp, wait > 1.0 ? 1.0 : wait, &ev);
            if (ev.type == RC_MESSAGE) {
                uint64_t r;
                bool ok = print_message(ev.data, ev.len, &r);
                free(ev.data);
                if (!ok) {
                    rc = roostctl_fail(ROOSTCTL_EXIT_FAIL,
                                       "roostd sent a message that cannot be decoded");
                    rc_stream_cancel(s);
                    goto done;
                }
                revision = r;
                got_any = true;
                if (count && ++printed >= count) {
                    rc_stream_cancel(s);
                    goto done;
                }
            } else if (ev.type == RC_END) {
                char msg[1024];
                ended = true;
                if (ev.status.code != GRPC_STATUS_UNAVAILABLE) {
                    rc_status_explain(ch, &ev.status, msg, sizeof msg);
                    rc = roostctl_fail(ROOSTCTL_EXIT_FAIL, "%s", msg);
                    goto done;
                }
                /* A stream that lived a while resets the backoff. */
                if (got_any || now_s() - opened > 60)
                    backoff = 1;
                rc_status_explain(ch, &ev.status, msg, sizeof msg);
                fprintf(stderr, "roostctl: %s; retrying in %.0fs from revision %llu\n", msg,
                        backoff, (unsigned long long)revision);
            }
        }
        {
            double resume = now_s() + backoff;
            while (now_s() < resume) {
                if (until && now_s() >= until)
                    goto done;
                struct timespec ts = {0, 100 * 1000000L};
                nanosleep(&ts, NULL);
            }
        }
        backoff = backoff * 2 > 30 ? 30 : backoff * 2;
    }
done:
    rc_group_free(grp);
    rc_channel_close(ch);
    return rc;
}
