/* The rollout resource: one entry of a document's "rollouts" object, parsed
 * into a plain struct, and its canonical serialization.
 *
 * docs/rollouts.md is the contract; this parser enforces it strictly.
 * Unknown fields, fields that belong to another check type, weights that
 * decrease or exceed maxWeight, a last step that does not reach maxWeight,
 * gates naming probes the document does not define: all are rejected at
 * apply time with a message that starts with the JSON path of the offending
 * value ("rollouts.checkout-v2.steps[3].setWeight: ...") and says what was
 * expected. A rollout that would misbehave during an incident is refused
 * while a person is still looking at it.
 *
 * Every default is filled in by the parser, so code that uses a spec never
 * needs to know a default, and the canonical form (rollout_spec_canonical)
 * states every setting explicitly: two specs that behave the same serialize
 * to the same bytes, whatever defaults or duration spellings ("60s", "1m")
 * their documents used. roostd stores the canonical form and compares it to
 * detect a changed rollout; rollout_spec_parse accepts it back, so a stored
 * rollout can be restored without its document.
 *
 * Memory: a spec is one struct with fixed-size arrays (limits below), so the
 * decision library can read it without pointers to chase; only the hooks
 * own heap strings (struct hook_spec, hooks.h). Free with rollout_spec_free.
 */
#ifndef ROOSTD_ROLLOUT_SPEC_H
#define ROOSTD_ROLLOUT_SPEC_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "roost/status.h"
#include "server/rollout/hooks.h"

/* Limits. A document over any of them is rejected with ROOST_ELIMIT. */
#define ROLLOUT_NAME_MAX 128       /* rollout name: 1-128 of [A-Za-z0-9._-], like flag keys */
#define ROLLOUT_TEXT_MAX 128       /* service, baseline, canary */
#define ROLLOUT_MAX_STEPS 64
#define ROLLOUT_MAX_CHECKS 16
#define ROLLOUT_CHECK_NAME_MAX 64  /* [A-Za-z0-9._-] */
#define ROLLOUT_METRIC_MAX 64      /* ROOST_METRIC_MAX in include/roost/client.h */
#define ROLLOUT_MAX_BURN_WINDOWS 4
#define ROLLOUT_MAX_GATES 16
#define ROLLOUT_PROBE_NAME_MAX 128 /* PROBE_NAME_MAX in probes.h */
#define ROLLOUT_MAX_HOOKS 16
#define ROLLOUT_DURATION_MAX_MS (7LL * 24 * 3600 * 1000) /* any duration field: at most 7 days */

/* Defaults (docs/rollouts.md, "Choosing the analysis settings", explains
 * the numbers). */
#define ROLLOUT_DEFAULT_INTERVAL_MS 10000
#define ROLLOUT_DEFAULT_COUNT 6
#define ROLLOUT_DEFAULT_FAILURE_LIMIT 0
#define ROLLOUT_DEFAULT_CONSECUTIVE_ERROR_LIMIT 4
#define ROLLOUT_DEFAULT_INCONCLUSIVE_LIMIT 6
#define ROLLOUT_DEFAULT_ALPHA 0.005
/* compare of error_rate at margin 0 (the rate-ratio e-process): its alpha
 * bounds false rollbacks per attempt, where the others' bounds them per
 * weight (three analysed weights made up to 3 x 0.005). */
#define ROLLOUT_DEFAULT_ALPHA_RATE_RATIO 0.01
#define ROLLOUT_DEFAULT_EXPECTED_SAMPLES 400
#define ROLLOUT_DEFAULT_MIN_SAMPLES_ERROR_RATE 100
#define ROLLOUT_DEFAULT_MIN_SAMPLES 50
#define ROLLOUT_DEFAULT_METRIC "requests"
/* The check an analysis uses when "analysis.metrics" is omitted. */
#define ROLLOUT_DEFAULT_CHECK_NAME "errors-vs-baseline"

enum rollout_step_kind {
    ROLLOUT_STEP_SET_WEIGHT, /* weight: the canary gets this % of the traffic */
    ROLLOUT_STEP_PAUSE,      /* duration_ms, or ROLLOUT_PAUSE_UNTIL_PROMOTED */
    ROLLOUT_STEP_ANALYSIS    /* count passed runs needed */
};

#define ROLLOUT_PAUSE_UNTIL_PROMOTED (-1)

struct rollout_step {
    enum rollout_step_kind kind;
    uint32_t weight;     /* SET_WEIGHT: 0-100 */
    int64_t duration_ms; /* PAUSE: >= 0, or ROLLOUT_PAUSE_UNTIL_PROMOTED */
    uint32_t count;      /* ANALYSIS: >= 1 (analysis.count when the step does not say) */
};

enum rollout_check_type {
    ROLLOUT_CHECK_THRESHOLD, /* canary stat within [min, max], last interval */
    ROLLOUT_CHECK_RELATIVE,  /* canary stat <= maxRatio x baseline stat, last interval */
    ROLLOUT_CHECK_COMPARE,   /* always-valid test, canary vs baseline, since the weight was set */
    ROLLOUT_CHECK_BURN_RATE  /* error budget burn over long and short windows */
};

enum rollout_stat {
    ROLLOUT_STAT_ERROR_RATE, /* 1 - successes / count */
    ROLLOUT_STAT_MEAN,       /* sum / count */
    ROLLOUT_STAT_QUANTILE    /* quantile q of the sketch */
};

enum rollout_no_data {
    ROLLOUT_NO_DATA_PAUSE,  /* inconclusive; no traffic is not evidence of failure */
    ROLLOUT_NO_DATA_FAIL,
    ROLLOUT_NO_DATA_IGNORE  /* the check passes */
};

enum rollout_direction { ROLLOUT_LOWER_IS_BETTER, ROLLOUT_HIGHER_IS_BETTER };

struct rollout_burn_window {
    int64_t long_ms, short_ms; /* short < long */
    double factor;             /* > 0 */
};

struct rollout_check {
    char name[ROLLOUT_CHECK_NAME_MAX + 1];
    enum rollout_check_type type;
    char metric[ROLLOUT_METRIC_MAX + 1]; /* default "requests" */
    enum rollout_stat stat;
    double quantile;     /* STAT_QUANTILE: q in (0, 1), e.g. 0.99 for "p99" */
    char stat_name[16];  /* as written in canonical form: "error_rate", "mean", "p99", "p99.5" */
    uint64_t min_samples; /* canary samples in the judged window; below: inconclusive */
    enum rollout_no_data no_data;

    /* THRESHOLD: at least one bound. */
    bool has_min, has_max;
    double min, max;
    /* RELATIVE */
    double max_ratio;      /* > 0 */
    bool has_max_absolute; /* used when the baseline stat is 0 */
    double max_absolute;
    /* COMPARE */
    double margin;         /* in the stat's units; the canary may be this much worse */
    double alpha;          /* level of the always-valid test, (0, 0.5] */
    enum rollout_direction direction;
    uint64_t expected_samples; /* mixing parameter: canary samples where the test is sharpest */
    /* BURN_RATE (stat is always error_rate) */
    double slo;            /* (0, 1), e.g. 0.999 */
    struct rollout_burn_window windows[ROLLOUT_MAX_BURN_WINDOWS];
    size_t nwindows;       /* >= 1 */
};

struct rollout_analysis {
    int64_t interval_ms;              /* >= 1000 */
    uint32_t count;                   /* default passed runs per analysis step */
    uint32_t failure_limit;           /* failed runs tolerated per step */
    uint32_t consecutive_error_limit; /* unreadable runs in a row tolerated */
    uint32_t inconclusive_limit;      /* inconclusive runs tolerated per step */
    struct rollout_check checks[ROLLOUT_MAX_CHECKS];
    size_t nchecks;                   /* >= 1 (the default check when omitted) */
};

struct rollout_promotion {
    int64_t min_step_ms;       /* time at a weight before it is raised or promoted */
    uint64_t min_samples;      /* canary requests at a weight before it is raised or promoted */
    uint32_t max_weight;       /* 1-100, default 100 */
    bool require_confirmation; /* final promotion waits for confirm-promotion / a human */
};

enum rollout_on_down { ROLLOUT_ON_DOWN_PAUSE, ROLLOUT_ON_DOWN_ABORT };

struct rollout_gates {
    char probes[ROLLOUT_MAX_GATES][ROLLOUT_PROBE_NAME_MAX + 1];
    size_t nprobes;
    enum rollout_on_down on_down;
};

struct rollout_spec {
    char name[ROLLOUT_NAME_MAX + 1];
    char service[ROLLOUT_TEXT_MAX + 1];
    char baseline[ROLLOUT_TEXT_MAX + 1];
    char canary[ROLLOUT_TEXT_MAX + 1];
    bool auto_start;
    struct rollout_step steps[ROLLOUT_MAX_STEPS];
    size_t nsteps;                     /* >= 1 */
    struct rollout_analysis analysis;
    struct rollout_promotion promotion;
    struct rollout_gates gates;
    struct hook_spec hooks[ROLLOUT_MAX_HOOKS]; /* owned: rollout_spec_free */
    size_t nhooks;
    unsigned hook_events;              /* union of hooks[i].on (enum hook_event bits) */
};

/* True when name is a valid rollout name: 1-128 of [A-Za-z0-9._-]. */
bool rollout_name_valid(const char *name);

/* Parses one entry of a document's "rollouts" object: obj is the value,
 * name its key. probe_names[0..nprobe_names) are the names of the probes
 * the same document defines: every gates.probes entry must be one of them.
 * probe_names == NULL skips that cross-check (for restoring a stored
 * canonical spec whose document was checked when it was applied).
 *
 * On success *out is filled (defaults included) and owns its hooks: free it
 * with rollout_spec_free. On error *out is untouched and err names the path
 * and what was expected.
 * Errors: ROOST_EINVAL (invalid content or name), ROOST_ELIMIT (more steps,
 * checks, windows, gates or hooks than the limits above), ROOST_ENOMEM. */
roost_status rollout_spec_parse(const cJSON *obj, const char *name,
                                const char *const *probe_names, size_t nprobe_names,
                                struct rollout_spec *out, roost_error *err);

/* Same, from JSON text (len bytes, need not be NUL-terminated): a stored
 * canonical form or a single rollout object. Syntax errors are EINVAL. */
roost_status rollout_spec_parse_text(const char *json, size_t len, const char *name,
                                     const char *const *probe_names, size_t nprobe_names,
                                     struct rollout_spec *out, roost_error *err);

/* Frees what the spec owns (its hooks) and zeroes it. NULL is a no-op. */
void rollout_spec_free(struct rollout_spec *spec);

/* Canonical serialization: compact JSON of the rollout object (without its
 * name), keys in a fixed order, every default explicit, durations in the
 * largest exact unit ("90s", "2m", "1h30m"), numbers printed so that they
 * read back to the same double. Equal canonical text <=> same behaviour.
 * rollout_spec_parse accepts it back and yields an equal spec.
 * *json is malloc'ed, NUL-terminated; the caller frees it with free().
 * *len (may be NULL) receives its length without the NUL.
 * Errors: ROOST_EINVAL (NULL argument), ROOST_ENOMEM. */
roost_status rollout_spec_canonical(const struct rollout_spec *spec, char **json, size_t *len,
                                    roost_error *err);

/* Names used in documents and records. */
const char *rollout_check_type_name(enum rollout_check_type t);  /* "threshold", ... */
const char *rollout_no_data_name(enum rollout_no_data p);        /* "pause", "fail", "ignore" */

/* Formats a duration the way the canonical form does ("1h30m", "250ms",
 * "0s") into out (at least 32 bytes). */
void rollout_duration_format(int64_t ms, char *out, size_t cap);

#endif
