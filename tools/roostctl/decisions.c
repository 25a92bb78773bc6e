/* Decision records as roostctl shows them, for rollouts and experiments
 * alike: one line per decision, or the record as JSON with the numbers it
 * was made on; and the history command both have. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "roost/v1/roost.pb-c.h"
#include "roostctl.h"
#include "tools/lib/rpcclient.h"

void roostctl_fmt_time(int64_t unix_ms, char *out, size_t cap)
{
    time_t s = (time_t)(unix_ms / 1000);
    struct tm tm;

    if (!unix_ms) {
        snprintf(out, cap, "-");
        return;
    }
    gmtime_r(&s, &tm);
    snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

struct cJSON *roostctl_decision_json(const Roost__V1__Decision *d)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *details = d->details_json[0] ? cJSON_Parse(d->details_json) : NULL;
    char t[40];

    roostctl_fmt_time(d->time_unix_ms, t, sizeof t);
    cJSON_AddNumberToObject(o, "seq", (double)d->seq);
    cJSON_AddStringToObject(o, "time", t);
    cJSON_AddStringToObject(o, "actor", d->actor);
    cJSON_AddStringToObject(o, "kind", d->kind);
    cJSON_AddStringToObject(o, "summary", d->summary);
    if (d->revision)
        cJSON_AddNumberToObject(o, "revision", (double)d->revision);
    /* The numbers the decision was made on, as the record holds them. */
    cJSON_AddItemToObject(o, "details", details ? details : cJSON_CreateNull());
    return o;
}

void roostctl_print_decision(const Roost__V1__Decision *d)
{
    char t[40];

    roostctl_fmt_time(d->time_unix_ms, t, sizeof t);
    printf("%s  %-10s  %s\n", t, d->actor, d->summary);
}

int roostctl_history(const struct roostctl *g, struct rc_channel *ch, const char *method,
                     const char *name, uint32_t limit)
{
    Roost__V1__HistoryRequest req = ROOST__V1__HISTORY_REQUEST__INIT;
    Roost__V1__HistoryResponse *r;
    uint8_t buf[512], *resp;
    size_t len;
    int rc;

    req.name = (char *)name;
    req.limit = limit;
    rc = roostctl_call(g, ch, method, buf, roost__v1__history_request__pack(&req, buf), &resp, &len);
    if (rc != ROOSTCTL_EXIT_OK)
        return rc;
    r = roost__v1__history_response__unpack(NULL, len, resp);
    free(resp);
    if (!r)
        return roostctl_fail(ROOSTCTL_EXIT_FAIL, "roostd sent a history that cannot be decoded");
    /* Oldest first, like a log; roostd sends the newest first. */
    if (g->json) {
        cJSON *a = cJSON_CreateArray();
        for (size_t i = r->n_decisions; i-- > 0;)
            cJSON_AddItemToArray(a, roostctl_decision_json(r->decisions[i]));
        roostctl_print_json(a);
    } else if (r->n_decisions == 0) {
        printf("%s: no decisions yet\n", name);
    } else {
        for (size_t i = r->n_decisions; i-- > 0;)
            roostctl_print_decision(r->decisions[i]);
    }
    roost__v1__history_response__free_unpacked(r, NULL);
    return ROOSTCTL_EXIT_OK;
}
