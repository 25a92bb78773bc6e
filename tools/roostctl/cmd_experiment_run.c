/* roostctl experiment create | start | stop | conclude | results | history | list:
 * the experiment lifecycle on roostd. The command's entry point; `plan`,
 * which runs offline, is handed to cmd_experiment.c. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "roost/v1/roost.pb-c.h"
#include "roostctl.h"
#include "tools/lib/rpcclient.h"

static const char usage[] =
    "usage: roostctl experiment create -f FILE       apply a document with experiments (drafts)\n"
    "       roostctl experiment list\n"
    "       roostctl experiment start NAME [--reason TEXT]\n"
    "       roostctl experiment stop NAME [--reason TEXT]\n"
    "       roostctl experiment conclude NAME --ship ARM | --roll-back | --inconclusive\n"
    "       roostctl experiment results NAME [--no-refresh]\n"
    "       roostctl experiment history NAME [--limit N]   every decision, oldest first\n"
    "       roostctl experiment plan ...               (offline; see its --help)\n"
    "\n"
    "results takes a fresh look at the data (one more always-valid analysis) and\n"
    "prints effects and intervals per metric and arm, or the analysis JSON with\n"
    "--json. Every transition is a decision record holding those numbers.\n";

static cJSON *info_json(const Roost__V1__ExperimentInfo *in)
{
    cJSON *o = cJSON_CreateObject(), *recent = cJSON_CreateArray();
    cJSON *analysis = in->analysis_json[0] ? cJSON_Parse(in->analysis_json) : NULL;

    cJSON_AddStringToObject(o, "name", in->experiment->name);
    cJSON_AddStringToObject(o, "flag_set", in->experiment->flag_set);
    cJSON_AddStringToObject(o, "flag", in->experiment->flag);
    cJSON_AddStringToObject(o, "phase", in->experiment->phase);
    cJSON_AddStringToObject(o, "hypothesis", in->hypothesis);
    cJSON_AddNumberToObject(o, "started_unix_ms", (double)in->started_unix_ms);
    cJSON_AddNumberToObject(o, "stopped_unix_ms", (double)in->stopped_unix_ms);
    if (in->conclusion[0])
        cJSON_AddStringToObject(o, "conclusion", in->conclusion);
    if (in->ship_arm[0])
        cJSON_AddStringToObject(o, "ship_arm", in->ship_arm);
    cJSON_AddItemToObject(o, "analysis", analysis ? analysis : cJSON_CreateNull());
    for (size_t i = 0; i < in->n_recent; i++)
        cJSON_AddItemToArray(recent, roostctl_decision_json(in->recent[i]));
    cJSON_AddItemToObject(o, "recent", recent);
    return o;
}

static void print_header(const Roost__V1__ExperimentInfo *in)
{
    char started[40], stopped[40];

    roostctl_fmt_time(in->started_unix_ms, started, sizeof started);
    roostctl_fmt_time(in->stopped_unix_ms, stopped, sizeof stopped);
    printf("%s  %s  flag %s  started %s  stopped %s%s%s%s%s\n", in->experiment->name,
           in->experiment->phase, in->experiment->flag, started, stopped,
           in->conclusion[0] ? "  concluded: " : "", in->conclusion,
           in->ship_arm[0] ? " " : "", in->ship_arm);
    if (in->hypothesis[0])
        printf("  hypothesis: %s\n", in->hypothesis);
}

static Roost__V1__ExperimentInfo *decode_info(const uint8_t *buf, size_t len)
{
    Roost__V1__ExperimentInfo *in = roost__v1__experiment_info__unpack(NULL, len, buf);

    if (in && !in->experiment) {
        roost__v1__experiment_info__free_unpacked(in, NULL);
        in = NULL;
    }
    if (!in)
        roostctl_fail(ROOSTCTL_EXIT_FAIL, "roostd sent an ExperimentInfo that cannot be decoded");
    return in;
}

static int show(const struct roostctl *g, const Roost__V1__ExperimentInfo *in, bool results)
{
    cJSON *analysis;
    int rc = ROOSTCTL_EXIT_OK;

    if (g->json && !results) {
        roostctl_print_json(info_json(in));
        return rc;
    }
    if (!g->json)
        print_header(in);
    if (!results) {
        for (size_t i = 0; i < in->n_recent && i < 5; i++)
            printf("  %s: %s\n", in->recent[i]->kind, in->recent[i]->summary);
        return rc;
    }
    if (!in->analysis_json[0]) {
        if (g->json)
            roostctl_print_json(cJSON_CreateNull());
        else
            printf("  no analysis yet: start the experiment and let exposures arrive\n");
        return rc;
    }
    if (!(analysis = cJSON_Parse(in->analysis_json)))
        return roostctl_fail(ROOSTCTL_EXIT_FAIL, "the stored analysis is not valid JSON");
    rc = roostctl_experiment_print_results(g, analysis);
    cJSON_Delete(analysis);
    return rc;
}

static int get(const struct roostctl *g, struct rc_channel *ch, const char *name, bool analyze,
               Roost__V1__ExperimentInfo **out)
{
    Roost__V1__GetExperimentRequest req = ROOST__V1__GET_EXPERIMENT_REQUEST__INIT;
    uint8_t buf[512], *resp;
    size_t len;
    int rc;

    req.name = (char *)name;
    req.analyze = analyze;
    if (roost__v1__get_experiment_request__get_packed_size(&req) > sizeof buf)
        return roostctl_fail(ROOSTCTL_EXIT_USAGE, "experiment name too long");
    rc = roostctl_call(g, ch, "/roost.v1.Admin/GetExperiment", buf,
                       roost__v1__get_experiment_request__pack(&req, buf), &resp, &len);
    if (rc != ROOSTCTL_EXIT_OK)
        return rc;
    *out = decode_info(resp, len);
    free(resp);
    return *out ? ROOSTCTL_EXIT_OK : ROOSTCTL_EXIT_FAIL;
}

static int list(const struct roostctl *g, struct rc_channel *ch)
{
    Roost__V1__ListExperimentsRequest req = ROOST__V1__LIST_EXPERIMENTS_REQUEST__INIT;
    Roost__V1__ListExperimentsResponse *r;
    uint8_t buf[8], *resp;
    size_t len;
    int rc = roostctl_call(g, ch, "/roost.v1.Admin/ListExperiments", buf,
                           roost__v1__list_experiments_request__pack(&req, buf), &resp, &len);

    if (rc != ROOSTCTL_EXIT_OK)
        return rc;
    r = roost__v1__list_experiments_response__unpack(NULL, len, resp);
    free(resp);
    if (!r)
        return roostctl_fail(ROOSTCTL_EXIT_FAIL, "roostd sent a list that cannot be decoded");
    if (g->json) {
        cJSON *a = cJSON_CreateArray();
        for (size_t i = 0; i < r->n_experiments; i++)
            cJSON_AddItemToArray(a, info_json(r->experiments[i]));
        roostctl_print_json(a);
    } else if (r->n_experiments == 0) {
        printf("no experiments; add one beside the flags of a document and apply it "
               "(docs/experiments.md)\n");
    } else {
        for (size_t i = 0; i < r->n_experiments; i++)
            print_header(r->experiments[i]);
    }
    roost__v1__list_experiments_response__free_unpacked(r, NULL);
    return ROOSTCTL_EXIT_OK;
}

static int command(const struct roostctl *g, struct rc_channel *ch, const char *cmd,
                   const char *name, const char *conclusion, const char *arm, const char *reason)
{
    Roost__V1__ExperimentCommandRequest req = ROOST__V1__EXPERIMENT_COMMAND_REQUEST__INIT;
    Roost__V1__ExperimentInfo *in;
    uint8_t *buf, *resp;
    size_t len, rlen;
    int rc;

    req.name = (char *)name;
    req.command = (char *)cmd;
    req.conclusion = (char *)(conclusion ? conclusion : "");
    req.arm = (char *)(arm ? arm : "");
    req.reason = (char *)(reason ? reason : "");
    len = roost__v1__experiment_command_request__get_packed_size(&req);
    if (!(buf = malloc(len ? len : 1)))
        return roostctl_fail(ROOSTCTL_EXIT_FAIL, "out of memory");
    roost__v1__experiment_command_request__pack(&req, buf);
    rc = roostctl_call(g, ch, "/roost.v1.Admin/ExperimentCommand", buf, len, &resp, &rlen);
    free(buf);
    if (rc != ROOSTCTL_EXIT_OK)
        return rc;
    in = decode_info(resp, rlen);
    free(resp);
    if (!in)
        return ROOSTCTL_EXIT_FAIL;
    rc = show(g, in, false);
    roost__v1__experiment_info__free_unpacked(in, NULL);
    return rc;
}

int roostctl_experiment_run(const struct roostctl *g, int argc, char **argv)
{
    const char *sub, *name = NULL, *reason = NULL, *arm = NULL, *conclusion = NULL;
    bool refresh = true;
    unsigned long limit = 0;
    struct rc_channel *ch;
    int rc;

    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? ROOSTCTL_EXIT_USAGE : ROOSTCTL_EXIT_OK;
    }
    sub = argv[1];
    if (strcmp(sub, "plan") == 0) /* offline: cmd_experiment.c */
        return roostctl_cmd_experiment(g, argc, argv);
    if (roostctl_wants_help(argc, argv)) {
        fputs(usage, stdout);
        return ROOSTCTL_EXIT_OK;
    }
    if (strcmp(sub, "create") == 0) /* a document with experiments, applied */
        return roostctl_cmd_apply(g, argc - 1, argv + 1);
    if (strcmp(sub, "list") && strcmp(sub, "start") && strcmp(sub, "stop") &&
        strcmp(sub, "conclude") && strcmp(sub, "results") && strcmp(sub, "history"))
        return roostctl_fail(ROOSTCTL_EXIT_USAGE, "experiment: unknown subcommand '%s'\n%s", sub,
                             usage);
    for (int i = 2; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--reason") == 0 && v) {
            reason = argv[++i];
        } else if (strcmp(argv[i], "--ship") == 0 && v) {
            conclusion = "ship";
            arm = argv[++i];
        } else if (strcmp(argv[i], "--roll-back") == 0) {
            conclusion = "roll_back";
        } else if (strcmp(argv[i], "--inconclusive") == 0) {
            conclusion = "inconclusive";
        } else if (strcmp(argv[i], "--no-refresh") == 0) {
            refresh = false;
        } else if (strcmp(argv[i], "--limit") == 0 && v) {
            char *end;
            errno = 0;
            limit = strtoul(argv[++i], &end, 10);
            if (errno || *end || !limit || limit > 10000)
                return roostctl_fail(ROOSTCTL_EXIT_USAGE,
                                     "--limit: '%s' is not a number from 1 to 10000", argv[i]);
        } else if (argv[i][0] != '-' && !name) {
            name = argv[i];
        } else {
            return roostctl_fail(ROOSTCTL_EXIT_USAGE, "experiment %s: unexpected '%s'\n%s", sub,
                                 argv[i], usage);
        }
    }
    if (strcmp(sub, "list") != 0 && !name)
        return roostctl_fail(ROOSTCTL_EXIT_USAGE, "experiment %s: which experiment? give its NAME",
                             sub);
    if (strcmp(sub, "conclude") == 0 && !conclusion)
        return roostctl_fail(ROOSTCTL_EXIT_USAGE,
                             "experiment conclude: say how: --ship ARM, --roll-back or "
                             "--inconclusive");
    if ((rc = roostctl_connect(g, &ch)) != ROOSTCTL_EXIT_OK)
        return rc;
    if (strcmp(sub, "list") == 0) {
        rc = list(g, ch);
    } else if (strcmp(sub, "history") == 0) {
        rc = roostctl_history(g, ch, "/roost.v1.Admin/ExperimentHistory", name, (uint32_t)limit);
    } else if (strcmp(sub, "results") == 0) {
        Roost__V1__ExperimentInfo *in;
        if ((rc = get(g, ch, name, refresh, &in)) == ROOSTCTL_EXIT_OK) {
            rc = show(g, in, true);
            roost__v1__experiment_info__free_unpacked(in, NULL);
        }
    } else {
        rc = command(g, ch, sub, name, conclusion, arm, reason);
    }
    rc_channel_close(ch);
    return rc;
}
