/* roostctl status: what roostd reports about itself. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "roost/v1/roost.pb-c.h"
#include "roostctl.h"
#include "tools/lib/rpcclient.h"

static const char usage[] =
    "usage: roostctl status\n"
    "\n"
    "Prints roostd's version, revision, uptime, subscribers, store size and the\n"
    "counters of its sync fan-out.\n";

static void human_bytes(uint64_t b, char *out, size_t cap)
{
    if (b >= (1u << 20))
        snprintf(out, cap, "%.1f MiB", (double)b / (1u << 20));
    else
        snprintf(out, cap, "%.1f KiB", (double)b / 1024);
}

int roostctl_cmd_status(const struct roostctl *g, int argc, char **argv)
{
    Roost__V1__StatusRequest req = ROOST__V1__STATUS_REQUEST__INIT;
    Roost__V1__StatusResponse *s;
    struct rc_channel *ch;
    uint8_t buf[8], *out;
    size_t outlen;
    int rc;

    if (roostctl_wants_help(argc, argv)) {
        fputs(usage, stdout);
        return ROOSTCTL_EXIT_OK;
    }
    if (argc > 1)
        return roostctl_fail(ROOSTCTL_EXIT_USAGE, "status: unexpected '%s'", argv[1]);
    if ((rc = roostctl_connect(g, &ch)) != ROOSTCTL_EXIT_OK)
        return rc;
    rc = roostctl_call(g, ch, "/roost.v1.Admin/Status", buf,
                       roost__v1__status_request__pack(&req, buf), &out, &outlen);
    rc_channel_close(ch);
    if (rc != ROOSTCTL_EXIT_OK)
        return rc;
    if (!(s = roost__v1__status_response__unpack(NULL, outlen, out))) {
        free(out);
        return roostctl_fail(ROOSTCTL_EXIT_FAIL, "roostd sent a StatusResponse that cannot be "
                                                 "decoded (a different version?)");
    }
    free(out);
    if (g->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "version", s->version);
        cJSON_AddNumberToObject(o, "revision", (double)s->revision);
        cJSON_AddNumberToObject(o, "uptime_seconds", (double)s->uptime_seconds);
        cJSON_AddNumberToObject(o, "subscribers", s->subscribers);
        cJSON_AddNumberToObject(o, "flags", s->flags);
        cJSON_AddNumberToObject(o, "store_bytes", (double)s->store_bytes);
        cJSON_AddNumberToObject(o, "log_first_revision", (double)s->log_first_revision);
        cJSON_AddNumberToObject(o, "snapshots_sent", (double)s->snapshots_sent);
        cJSON_AddNumberToObject(o, "changes_sent", (double)s->changes_sent);
        cJSON_AddNumberToObject(o, "resyncs", (double)s->resyncs);
        cJSON_AddNumberToObject(o, "applies", (double)s->applies);
        cJSON_AddStringToObject(o, "data_dir", s->data_dir);
        cJSON_AddNumberToObject(o, "rollouts", s->rollouts);
        cJSON_AddNumberToObject(o, "experiments", s->experiments);
        cJSON_AddNumberToObject(o, "hooks_pending", (double)s->hooks_pending);
        cJSON_AddStringToObject(o, "store_id", s->store_id);
        cJSON_AddNumberToObject(o, "report_batches", (double)s->report_batches);
        cJSON_AddNumberToObject(o, "report_commits", (double)s->report_commits);
        {
            cJSON *probes = cJSON_AddArrayToObject(o, "probes");
            for (size_t i = 0; i < s->n_probes; i++) {
                cJSON *p = cJSON_CreateObject();
                cJSON_AddStringToObject(p, "name", s->probes[i]->name);
                cJSON_AddStringToObject(p, "state", s->probes[i]->state);
                cJSON_AddStringToObject(p, "circuit", s->probes[i]->circuit);
                cJSON_AddNumberToObject(p, "latency_ms", s->probes[i]->latency_ms);
                cJSON_AddNumberToObject(p, "consecutive_failures", s->probes[i]->consecutive_failures);
                cJSON_AddStringToObject(p, "detail", s->probes[i]->detail);
                cJSON_AddItemToArray(probes, p);
            }
        }
        roostctl_print_json(o);
    } else {
        char size[32];
        human_bytes(s->store_bytes, size, sizeof size);
        printf("roostd %s at %s\n", s->version, g->server);
        printf("  revision        %llu (clients can resume from %llu)\n",
               (unsigned long long)s->revision, (unsigned long long)s->log_first_revision);
        printf("  flags           %u\n", s->flags);
        printf("  subscribers     %u\n", s->subscribers);
        printf("  uptime          %llus\n", (unsigned long long)s->uptime_seconds);
        printf("  store           %s in %s (id %s)\n", size, s->data_dir,
               s->store_id[0] ? s->store_id : "unknown");
        printf("  sent            %llu snapshots, %llu changes, %llu resyncs\n",
               (unsigned long long)s->snapshots_sent, (unsigned long long)s->changes_sent,
               (unsigned long long)s->resyncs);
        printf("  applies         %llu since start\n", (unsigned long long)s->applies);
        printf("  rollouts        %u (roostctl rollout list)\n", s->rollouts);
        printf("  experiments     %u (roostctl experiment list)\n", s->experiments);
        printf("  hooks pending   %llu\n", (unsigned long long)s->hooks_pending);
        printf("  reports         %llu batches in %llu commits since start\n",
               (unsigned long long)s->report_batches, (unsigned long long)s->report_commits);
        for (size_t i = 0; i < s->n_probes; i++)
            printf("  probe %-10s%s, circuit %s, %.1f ms%s%s\n", s->probes[i]->name,
                   s->probes[i]->state, s->probes[i]->circuit, s->probes[i]->latency_ms,
                   s->probes[i]->detail[0] ? ": " : "", s->probes[i]->detail);
    }
    roost__v1__status_response__free_unpacked(s, NULL);
    return ROOSTCTL_EXIT_OK;
}
