/* roostctl apply -f FILE: sends a configuration document to roostd and
 * prints what changed. The server validates; this side only reads the
 * file, so the same messages reach every client. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "roost/v1/roost.pb-c.h"
#include "roostctl.h"
#include "tools/lib/rpcclient.h"

/* Larger than any document roostd accepts by default; roostd gives the
 * precise limit. */
#define APPLY_FILE_MAX (64u << 20)

static const char usage[] =
    "usage: roostctl apply -f FILE [--dry-run]\n"
    "\n"
    "Applies a configuration document: the whole desired state of its flag set\n"
    "(metadata.flagSetId, or \"default\"). Flags of the set that the document no\n"
    "longer has are removed; other sets are not touched. Use '-f -' for stdin.\n"
    "\n"
    "  -f, --file FILE   the document (flagd flag-definition JSON)\n"
    "  --dry-run         validate and show what would change, change nothing\n";

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    size_t cap = 65536, n = 0;
    uint8_t *buf;

    if (!f) {
        roostctl_fail(ROOSTCTL_EXIT_FAIL, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    buf = malloc(cap);
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
        if (n == cap) {
            uint8_t *nb = cap >= APPLY_FILE_MAX ? NULL : realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                roostctl_fail(ROOSTCTL_EXIT_FAIL, "%s is larger than %u MiB", path,
                              APPLY_FILE_MAX >> 20);
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    if (buf && ferror(f)) {
        roostctl_fail(ROOSTCTL_EXIT_FAIL, "cannot read %s: %s", path, strerror(errno));
        free(buf);
        buf = NULL;
    }
    if (f != stdin)
        fclose(f);
    *len = n;
    return buf;
}

static cJSON *string_array(char **v, size_t n)
{
    cJSON *a = cJSON_CreateArray();

    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(v[i]));
    return a;
}

static void print_names(const char *mark, const char *kind, const char *what, char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("  %s %s %s (%s)\n", mark, kind, v[i], what);
}

static void print_result(const struct roostctl *g, const Roost__V1__ApplyResponse *r,
                         const char *source, bool dry_run)
{
    if (g->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "revision", (double)r->revision);
        cJSON_AddStringToObject(o, "flag_set", r->flag_set);
        cJSON_AddBoolToObject(o, "dry_run", dry_run);
        cJSON_AddItemToObject(o, "added", string_array(r->added, r->n_added));
        cJSON_AddItemToObject(o, "changed", string_array(r->changed, r->n_changed));
        cJSON_AddItemToObject(o, "removed", string_array(r->removed, r->n_removed));
        cJSON_AddItemToObject(o, "rollouts_added", string_array(r->rollouts_added, r->n_rollouts_added));
        cJSON_AddItemToObject(o, "rollouts_changed",
                              string_array(r->rollouts_changed, r->n_rollouts_changed));
        cJSON_AddItemToObject(o, "rollouts_removed",
                              string_array(r->rollouts_removed, r->n_rollouts_removed));
        cJSON_AddItemToObject(o, "probes_added", string_array(r->probes_added, r->n_probes_added));
        cJSON_AddItemToObject(o, "probes_changed", string_array(r->probes_changed, r->n_probes_changed));
        cJSON_AddItemToObject(o, "probes_removed", string_array(r->probes_removed, r->n_probes_removed));
        cJSON_AddItemToObject(o, "experiments_added",
                              string_array(r->experiments_added, r->n_experiments_added));
        cJSON_AddItemToObject(o, "experiments_changed",
                              string_array(r->experiments_changed, r->n_experiments_changed));
        cJSON_AddItemToObject(o, "experiments_removed",
                              string_array(r->experiments_removed, r->n_experiments_removed));
        cJSON_AddItemToObject(o, "warnings", string_array(r->warnings, r->n_warnings));
        roostctl_print_json(o);
        return;
    }
    size_t total = r->n_added + r->n_changed + r->n_removed + r->n_rollouts_added +
                   r->n_rollouts_changed + r->n_rollouts_removed + r->n_probes_added +
                   r->n_probes_changed + r->n_probes_removed + r->n_experiments_added +
                   r->n_experiments_changed + r->n_experiments_removed;
    if (total == 0)
        printf("%s: no changes to flag set \"%s\" (revision %llu)\n", source, r->flag_set,
               (unsigned long long)r->revision);
    else if (dry_run)
        printf("%s: would change flag set \"%s\" (dry run, nothing applied):\n", source,
               r->flag_set);
    else
        printf("%s: applied to flag set \"%s\" at revision %llu\n", source, r->flag_set,
               (unsigned long long)r->revision);
    print_names("+", "flag", "added", r->added, r->n_added);
    print_names("~", "flag", "changed", r->changed, r->n_changed);
    print_names("-", "flag", "removed", r->removed, r->n_removed);
    print_names("+", "rollout", "added", r->rollouts_added, r->n_rollouts_added);
    print_names("~", "rollout", "changed", r->rollouts_changed, r->n_rollouts_changed);
    print_names("-", "rollout", "removed", r->rollouts_removed, r->n_rollouts_removed);
    print_names("+", "probe", "added", r->probes_added, r->n_probes_added);
    print_names("~", "probe", "changed", r->probes_changed, r->n_probes_changed);
    print_names("-", "probe", "removed", r->probes_removed, r->n_probes_removed);
    print_names("+", "experiment", "added", r->experiments_added, r->n_experiments_added);
    print_names("~", "experiment", "changed", r->experiments_changed, r->n_experiments_changed);
    print_names("-", "experiment", "removed", r->experiments_removed, r->n_experiments_removed);
    if (total)
        printf("%zu added, %zu changed, %zu removed\n",
               r->n_added + r->n_rollouts_added + r->n_probes_added + r->n_experiments_added,
               r->n_changed + r->n_rollouts_changed + r->n_probes_changed +
                   r->n_experiments_changed,
               r->n_removed + r->n_rollouts_removed + r->n_probes_removed +
                   r->n_experiments_removed);
    for (size_t i = 0; i < r->n_warnings; i++)
        fprintf(stderr, "warning: %s\n", r->warnings[i]);
}

int roostctl_cmd_apply(const struct roostctl *g, int argc, char **argv)
{
    Roost__V1__ApplyRequest req = ROOST__V1__APPLY_REQUEST__INIT;
    Roost__V1__ApplyResponse *resp;
    struct rc_channel *ch;
    const char *file = NULL, *base;
    uint8_t *doc, *out, *reqbuf;
    size_t doclen, outlen, reqlen;
    bool dry_run = false;
    int rc;

    if (roostctl_wants_help(argc, argv)) {
        fputs(usage, stdout);
        return ROOSTCTL_EXIT_OK;
    }
    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "--file") == 0) && i + 1 < argc)
            file = argv[++i];
        else if (strcmp(argv[i], "--dry-run") == 0)
            dry_run = true;
        else
            return roostctl_fail(ROOSTCTL_EXIT_USAGE, "apply: unexpected '%s'\n%s", argv[i], usage);
    }
    if (!file)
        return roostctl_fail(ROOSTCTL_EXIT_USAGE, "apply: which document? pass -f FILE\n%s",
                             usage);
    if (!(doc = read_file(file, &doclen)))
        return ROOSTCTL_EXIT_FAIL;
    base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
    req.document.data = doc;
    req.document.len = doclen;
    req.source_name = (char *)(strcmp(file, "-") == 0 ? "stdin" : base);
    req.dry_run = dry_run;
    reqlen = roost__v1__apply_request__get_packed_size(&req);
    reqbuf = malloc(reqlen);
    if (!reqbuf) {
        free(doc);
        return roostctl_fail(ROOSTCTL_EXIT_FAIL, "out of memory");
    }
    roost__v1__apply_request__pack(&req, reqbuf);
    free(doc);
    if ((rc = roostctl_connect(g, &ch)) != ROOSTCTL_EXIT_OK) {
        free(reqbuf);
        return rc;
    }
    rc = roostctl_call(g, ch, "/roost.v1.Admin/Apply", reqbuf, reqlen, &out, &outlen);
    free(reqbuf);
    if (rc == ROOSTCTL_EXIT_OK) {
        if (!(resp = roost__v1__apply_response__unpack(NULL, outlen, out))) {
            rc = roostctl_fail(ROOSTCTL_EXIT_FAIL, "roostd sent an ApplyResponse that cannot be "
                                                   "decoded (a different version?)");
        } else {
            print_result(g, resp, req.source_name, dry_run);
            roost__v1__apply_response__free_unpacked(resp, NULL);
        }
        free(out);
    }
    rc_channel_close(ch);
    return rc;
}
