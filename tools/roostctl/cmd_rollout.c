/* roostctl rollout: commands for people (start, pause, resume, promote,
 * abort, retry), status (with a live --watch line) and the history of
 * decisions. The decisions themselves are roostd's. */
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
    "usage: roostctl rollout list\n"
    "       roostctl rollout status NAME [--watch [--for SECONDS]]\n"
    "       roostctl rollout history NAME [--limit N]\n"
    "       roostctl rollout start|pause|resume|promote|abort|retry NAME [--reason TEXT]\n"
    "\n"
    "status --watch keeps one progress line up to date (step, weight, time in step,\n"
    "last verdict) and prints each new decision; it exits 0 when the rollout is\n"
    "promoted and 1 when it is rolled back.\n";

static void fmt_ago(int64_t seconds, char *out, size_t cap)
{
    if (seconds < 0)
        seconds = 0;
    if (seconds < 120)
        snprintf(out, cap, "%llds", (long long)seconds);
    else if (seconds < 7200)
        snprintf(out, cap, "%lldm%02llds", (long long)seconds / 60, (long long)seconds % 60);
    else
        snprintf(out, cap, "%lldh%02lldm", (long long)seconds / 3600,
                 (long long)(seconds % 3600) / 60);
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static cJSON *info_json(const Roost__V1__RolloutInfo *in)
{
    cJSON *o = cJSON_CreateObject(), *recent = cJSON_CreateArray();
    const Roost__V1__Rollout *r = in->rollout;

    cJSON_AddStringToObject(o, "name", r->name);
    cJSON_AddStringToObject(o, "flag_set", r->flag_set);
    cJSON_AddStringToObject(o, "service", r->service);
    cJSON_AddStringToObject(o, "baseline", r->baseline);
    cJSON_AddStringToObject(o, "canary", r->canary);
    cJSON_AddStringToObject(o, "phase", r->phase);
    cJSON_AddNumberToObject(o, "step", r->step);
    cJSON_AddNumberToObject(o, "steps", in->steps);
    cJSON_AddStringToObject(o, "step_description", in->step_description);
    cJSON_AddNumberToObject(o, "canary_weight_percent", r->canary_weight_bp / 100.0);
    cJSON_AddNumberToObject(o, "attempt", in->attempt);
    cJSON_AddNumberToObject(o, "step_started_unix_ms", (double)in->step_started_unix_ms);
    cJSON_AddNumberToObject(o, "next_decision_unix_ms", (double)in->next_decision_unix_ms);
    if (in->paused_reason[0])
        cJSON_AddStringToObject(o, "reason", in->paused_reason);
    cJSON_AddNumberToObject(o, "revision", (double)r->revision);
    for (size_t i = 0; i < in->n_recent; i++)
        cJSON_AddItemToArray(recent, roostctl_decision_json(in->recent[i]));
    cJSON_AddItemToObject(o, "recent", recent);
    return o;
}

/* One line: what a person glancing at a terminal wants to know. */
static void progress_line(const Roost__V1__RolloutInfo *in, char *out, size_t cap)
{
    const Roost__V1__Rollout *r = in->rollout;
    char ago[32], next[64] = "";
    int64_t now = now_ms();

    fmt_ago(in->step_started_unix_ms ? (now - in->step_started_unix_ms) / 1000 : 0, ago,
            sizeof ago);
    if (in->next_decision_unix_ms > now) {
        char in_s[32];
        fmt_ago((in->next_decision_unix_ms - now + 999) / 1000, in_s, sizeof in_s);
        snprintf(next, sizeof next, ", next decision in %s", in_s);
    }
    snprintf(out, cap, "%s  %s  step %u/%u %s  canary %.4g%%  %s in step%s%s%s", r->name, r->phase,
             r->step + (r->step < in->steps ? 1 : 0), in->steps, in->step_description,
             r->canary_weight_bp / 100.0, ago, next, in->paused_reason[0] ? "  — " : "",
             in->paused_reason);
}

static void print_info(const Roost__V1__RolloutInfo *in)
{
    const Roost__V1__Rollout *r = in->rollout;
    char line[512];

    progress_line(in, line, sizeof line);
    printf("%s\n", line);
    printf("  %s: %s -> %s (flag set \"%s\", attempt %u)\n", r->service[0] ? r->service : "service",
           r->baseline, r->canary, r->flag_set, in->attempt);
    if (in->n_recent) {
        printf("  recent decisions:\n");
        for (size_t i = 0; i < in->n_recent; i++) {
            printf("    ");
            roostctl_print_decision(in->recent[i]);
        }
    }
}

static int get_info(const struct roostctl *g, struct rc_channel *ch, const char *name,
                    Roost__V1__RolloutInfo **out)
{
    Roost__V1__GetRolloutRequest req = ROOST__V1__GET_ROLLOUT_REQUEST__INIT;
    uint8_t buf[512], *resp;
    size_t len;
    int rc;

    req.name = (char *)name;
    if (roost__v1__get_rollout_request__get_packed_size(&req) > sizeof buf)
        return roostctl_fail(ROOSTCTL_EXIT_USAGE, "rollout name too long");
    rc = roostctl_call(g, ch, "/roost.v1.Admin/GetRollout", buf,
                       roost__v1__get_rollout_request__pack(&req, buf), &resp, &len);
    if (rc != ROOSTCTL_EXIT_OK)
        return rc;
    *out = roost__v1__rollout_info__unpack(NULL, len, resp);
    free(resp);
    if (!*out || !(*out)->rollout)
        return roostctl_fail(ROOSTCTL_EXIT_FAIL, "roostd sent a RolloutInfo that cannot be decoded");
    return ROOSTCTL_EXIT_OK;
}

static int cmd_list(const struct roostctl *g, struct rc_channel *ch)
{
    Roost__V1__ListRolloutsRequest req = ROOST__V1__LIST_ROLLOUTS_REQUEST__INIT;
    Roost__V1__ListRolloutsResponse *r;
    uint8_t buf[8], *resp;
    size_t len;
    int rc = roostctl_call(g, ch, "/roost.v1.Admin/ListRollouts", buf,
                           roost__v1__list_rollouts_request__pack(&req, buf), &resp, &len);

    if (rc != ROOSTCTL_EXIT_OK)
        return rc;
    r = roost__v1__list_rollouts_response__unpack(NULL, len, resp);
    free(resp);
    if (!r)
        return roostctl_fail(ROOSTCTL_EXIT_FAIL, "roostd sent a list that cannot be decoded");
    if (g->json) {
        cJSON *a = cJSON_CreateArray();
        for (size_t i = 0; i < r->n_rollouts; i++)
            cJSON_AddItemToArray(a, info_json(r->rollouts[i]));
        roostctl_print_json(a);
    } else if (r->n_rollouts == 0) {
        printf("no rollouts; add one beside the flags of a document and 'roostctl apply' it "
               "(docs/rollouts.md)\n");
    } else {
        for (size_t i = 0; i < r->n_rollouts; i++) {
            char line[512];
            progress_line(r->rollouts[i], line, sizeof line);
            printf("%s\n", line);
        }
    }
    roost__v1__list_rollouts_response__free_unpacked(r, NULL);
    return ROOSTCTL_EXIT_OK;
}

static int cmd_status(const struct roostctl *g, struct rc_channel *ch, const char *name,
                      bool watch, uint64_t for_s)
{
    Roost__V1__RolloutInfo *in;
    uint64_t last_seq = 0;
    int64_t until = for_s ? now_ms() + (int64_t)for_s * 1000 : 0;
    bool tty = isatty(1);
    int rc;

    if ((rc = get_info(g, ch, name, &in)) != ROOSTCTL_EXIT_OK)
        return rc;
    if (!watch) {
        if (g->json)
            roostctl_print_json(info_json(in));
        else
            print_info(in);
        roost__v1__rollout_info__free_unpacked(in, NULL);
        return ROOSTCTL_EXIT_OK;
    }
    for (;;) {
        const char *phase = in->rollout->phase;
        bool done = strcmp(phase, "promoted") == 0 || strcmp(phase, "rolled_back") == 0;
        char line[512];

        /* New decisions, oldest first, above the progress line. */
        for (size_t i = in->n_recent; i-- > 0;) {
            if (in->recent[i]->seq <= last_seq)
                continue;
            if (g->json) {
                roostctl_print_json(roostctl_decision_json(in->recent[i]));
            } else {
                if (tty)
                    printf("\r\033[K");
                roostctl_print_decision(in->recent[i]);
            }
            last_seq = in->recent[i]->seq;
        }
        if (!g->json) {
            progress_line(in, line, sizeof line);
            printf(tty ? "\r\033[K%s" : "%s\n", line);
            fflush(stdout);
        }
        if (done || (until && now_ms() >= until)) {
            if (!g->json && tty)
                printf("\n");
            roost__v1__rollout_info__free_unpacked(in, NULL);
            return done && strcmp(phase, "rolled_back") == 0 ? ROOSTCTL_EXIT_FAIL
                                                             : ROOSTCTL_EXIT_OK;
        }
        roost__v1__rollout_info__free_unpacked(in, NULL);
        sleep(1);
        if ((rc = get_info(g, ch, name, &in)) != ROOSTCTL_EXIT_OK)
            return rc;
    }
}

static int cmd_command(const struct roostctl *g, struct rc_channel *ch, const char *cmd,
                       const char *name, const char *reason)
{
    Roost__V1__RolloutCommandRequest req = ROOST__V1__ROLLOUT_COMMAND_REQUEST__INIT;
    Roost__V1__RolloutInfo *in;
    uint8_t *buf, *resp;
    size_t len, rlen;
    int rc;

    req.name = (char *)name;
    req.command = (char *)cmd;
    req.reason = (char *)(reason ? reason : "");
    len = roost__v1__rollout_command_request__get_packed_size(&req);
    if (!(buf = malloc(len ? len : 1)))
        return roostctl_fail(ROOSTCTL_EXIT_FAIL, "out of memory");
    roost__v1__rollout_command_request__pack(&req, buf);
    rc = roostctl_call(g, ch, "/roost.v1.Admin/RolloutCommand", buf, len, &resp, &rlen);
    free(buf);
    if (rc != ROOSTCTL_EXIT_OK)
        return rc;
    in = roost__v1__rollout_info__unpack(NULL, rlen, resp);
    free(resp);
    if (!in || !in->rollout)
        return roostctl_fail(ROOSTCTL_EXIT_FAIL, "roostd sent a RolloutInfo that cannot be decoded");
    if (g->json)
        roostctl_print_json(info_json(in));
    else
        print_info(in);
    roost__v1__rollout_info__free_unpacked(in, NULL);
    return ROOSTCTL_EXIT_OK;
}

int roostctl_cmd_rollout(const struct roostctl *g, int argc, char **argv)
{
    static const char *const commands[] = {"start", "pause", "resume", "promote", "abort", "retry"};
    const char *sub, *name = NULL, *reason = NULL;
    bool watch = false, is_command = false;
    unsigned long limit = 0, for_s = 0;
    struct rc_channel *ch;
    int rc;

    if (roostctl_wants_help(argc, argv)) {
        fputs(usage, stdout);
        return ROOSTCTL_EXIT_OK;
    }
    if (argc < 2)
        return roostctl_fail(ROOSTCTL_EXIT_USAGE, "rollout: which action?\n%s", usage);
    sub = argv[1];
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        is_command |= strcmp(sub, commands[i]) == 0;
    if (!is_command && strcmp(sub, "list") && strcmp(sub, "status") && strcmp(sub, "history"))
        return roostctl_fail(ROOSTCTL_EXIT_USAGE, "rollout: unknown action '%s'\n%s", sub, usage);
    for (int i = 2; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end;
        if (strcmp(argv[i], "--watch") == 0 && strcmp(sub, "status") == 0) {
            watch = true;
        } else if (strcmp(argv[i], "--for") == 0 && v) {
            errno = 0;
            for_s = strtoul(v, &end, 10);
            if (errno || *end || !for_s)
                return roostctl_fail(ROOSTCTL_EXIT_USAGE, "--for: '%s' is not a number of seconds", v);
            i++;
        } else if (strcmp(argv[i], "--limit") == 0 && v) {
            errno = 0;
            limit = strtoul(v, &end, 10);
            if (errno || *end || !limit || limit > 10000)
                return roostctl_fail(ROOSTCTL_EXIT_USAGE, "--limit: '%s' is not a number from 1 to 10000", v);
            i++;
        } else if (strcmp(argv[i], "--reason") == 0 && v && is_command) {
            reason = v;
            i++;
        } else if (argv[i][0] != '-' && !name) {
            name = argv[i];
        } else {
            return roostctl_fail(ROOSTCTL_EXIT_USAGE, "rollout %s: unexpected '%s'\n%s", sub,
                                 argv[i], usage);
        }
    }
    if (strcmp(sub, "list") != 0 && !name)
        return roostctl_fail(ROOSTCTL_EXIT_USAGE, "rollout %s: which rollout? give its NAME", sub);
    if ((rc = roostctl_connect(g, &ch)) != ROOSTCTL_EXIT_OK)
        return rc;
    if (strcmp(sub, "list") == 0)
        rc = cmd_list(g, ch);
    else if (strcmp(sub, "status") == 0)
        rc = cmd_status(g, ch, name, watch, for_s);
    else if (strcmp(sub, "history") == 0)
        rc = roostctl_history(g, ch, "/roost.v1.Admin/RolloutHistory", name, (uint32_t)limit);
    else
        rc = cmd_command(g, ch, sub, name, reason);
    rc_channel_close(ch);
    return rc;
}
