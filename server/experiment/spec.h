/* The experiment resource: one entry of a document's "experiments" object,
 * parsed into a plain struct, and its canonical serialization.
 *
 * docs/experiments.md is the contract; this parser enforces it strictly.
 * An experiment is decided from statistics, so a mistake in its document
 * (weights that do not add up, a control that is not a variant, a level of
 * 1.5) would quietly produce wrong conclusions weeks later. Every such
 * mistake is refused at apply time with a message that starts with the JSON
 * path of the offending value ("experiments.new-checkout.weights: weights
 * sum to 95, expected 100") and says what was expected.
 *
 * Arms are the variants of one flag. The caller passes what the document's
 * flags are (key, value type, variant names) so the parser can check the
 * flag exists, the control is one of its variants and the weights name
 * exactly its variants. The parser does not look inside the flag's
 * targeting: whether the flag really splits units the way the experiment
 * plans is split.h's business (it evaluates the compiled flag).
 *
 * Every default is filled in by the parser, so code that uses a spec never
 * needs to know one, and the canonical form (experiment_spec_canonical)
 * states every setting explicitly: two specs that behave the same serialize
 * to the same bytes. roostd stores the canonical form and compares it to
 * detect a changed experiment; experiment_spec_parse accepts it back
 * (without the flag list), so a stored experiment can be restored without
 * its document.
 *
 * Percentages (allocation, weights) are kept as integer hundredths of a
 * percent ("basis points of the population", 5000 = 50 %): flagd's
 * `fractional` takes integer weights, and sums of decimal fractions would
 * not add up exactly in binary. Documents may give up to two decimals
 * (33.33); more is refused rather than rounded.
 *
 * Memory: a spec is one struct with fixed-size arrays (limits below) and no
 * pointers, so it can be copied, compared field by field and handed to the
 * analysis without ownership questions. There is nothing to free.
 */
#ifndef ROOSTD_EXPERIMENT_SPEC_H
#define ROOSTD_EXPERIMENT_SPEC_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "roost/client.h"
#include "roost/engine.h"
#include "roost/status.h"

/* Limits. A document over any of them is rejected with ROOST_ELIMIT. */
#define EXPERIMENT_NAME_MAX 128        /* 1-128 of [A-Za-z0-9._-], like flag keys */
#define EXPERIMENT_HYPOTHESIS_MAX 1024 /* bytes of UTF-8 text */
#define EXPERIMENT_FLAG_KEY_MAX ROOST_SCOPE_KEY_MAX
#define EXPERIMENT_ARM_NAME_MAX ROOST_ARM_MAX /* SDKs report outcomes per arm name */
#define EXPERIMENT_MAX_ARMS 8                 /* control + up to 7 treatments */
#define EXPERIMENT_MAX_METRICS 32             /* primary + secondary + guardrails */
#define EXPERIMENT_METRIC_NAME_MAX 64         /* [A-Za-z0-9._-] */
#define EXPERIMENT_METRIC_MAX ROOST_METRIC_MAX /* the reported metric's name */
#define EXPERIMENT_UNIT_MAX 128               /* context attribute path */
#define EXPERIMENT_MAX_SAMPLE 1000000000000ULL /* minSamplePerArm: 10^12 */
#define EXPERIMENT_DURATION_MAX_MS (366LL * 24 * 3600 * 1000) /* maxDuration: a year */

/* Defaults (docs/experiments.md explains each). */
#define EXPERIMENT_DEFAULT_UNIT "targetingKey"
#define EXPERIMENT_DEFAULT_ALPHA 0.05
#define EXPERIMENT_DEFAULT_POWER 0.8
#define EXPERIMENT_DEFAULT_MIN_SAMPLE 100 /* sequential; fixed needs it given */
#define EXPERIMENT_DEFAULT_MAX_DURATION_MS (30LL * 24 * 3600 * 1000)

/* 100 % in the integer unit of allocation and weights. */
#define EXPERIMENT_PERCENT_SCALE 100u /* hundredths of a percent per percent */
#define EXPERIMENT_WHOLE 10000u       /* 100 % */

enum experiment_method {
    EXPERIMENT_SEQUENTIAL, /* always-valid (mSPRT): read at any time, stop early */
    EXPERIMENT_FIXED       /* one fixed-horizon test once every arm reached minSamplePerArm */
};

enum experiment_metric_type {
    EXPERIMENT_BINOMIAL, /* successes / count of the reported outcomes */
    EXPERIMENT_MEAN      /* sum / count of the reported values */
};

enum experiment_direction {
    EXPERIMENT_INCREASE, /* higher is better */
    EXPERIMENT_DECREASE  /* lower is better */
};

enum experiment_role {
    EXPERIMENT_PRIMARY,   /* decides the conclusion */
    EXPERIMENT_SECONDARY, /* reported, Benjamini-Hochberg adjusted, never decides */
    EXPERIMENT_GUARDRAIL  /* harm stops the experiment */
};

struct experiment_metric {
    char name[EXPERIMENT_METRIC_NAME_MAX + 1];  /* unique within the experiment */
    char metric[EXPERIMENT_METRIC_MAX + 1];     /* reported metric name (default: name) */
    enum experiment_role role;
    enum experiment_metric_type type;
    enum experiment_direction direction;
    double mde;        /* > 0: the smallest effect worth detecting */
    bool mde_relative; /* mde is a fraction of the control's value (0.05 = 5 %), else in
                          the metric's units (a rate difference for binomial metrics) */
    double alpha;      /* (0, 0.5] */
    double power;      /* [0.5, 0.999] */
};

struct experiment_arm {
    char name[EXPERIMENT_ARM_NAME_MAX + 1]; /* a variant of the flag */
    uint32_t weight;                        /* share of the experiment's units, in
                                               hundredths of a percent (1-10000) */
};

struct experiment_spec {
    char name[EXPERIMENT_NAME_MAX + 1];
    char hypothesis[EXPERIMENT_HYPOTHESIS_MAX + 1];
    char flag[EXPERIMENT_FLAG_KEY_MAX + 1];
    char unit[EXPERIMENT_UNIT_MAX + 1]; /* context attribute units are hashed on */
    uint32_t allocation;                /* share of all units in the experiment, 1-10000 */
    /* arms[0] is the control; the others are the treatments, in the flag's
     * variant order. Weights sum to EXPERIMENT_WHOLE. */
    struct experiment_arm arms[EXPERIMENT_MAX_ARMS];
    size_t narms; /* >= 2 */
    /* metrics[0] is the primary, then the secondary metrics, then the
     * guardrails, each group in document order. */
    struct experiment_metric metrics[EXPERIMENT_MAX_METRICS];
    size_t nmetrics; /* >= 1 */
    enum experiment_method method;
    uint64_t min_sample_per_arm; /* observations of the primary metric per arm */
    int64_t max_duration_ms;     /* > 0 */
    bool early_win;              /* stop early on a clear primary win (sequential) */
    bool harm_stop;              /* stop at once on guardrail harm */
};

/* What the caller knows of one flag of the document: the arms are its
 * variants. Strings are borrowed for the call. */
struct experiment_flag_info {
    const char *key;
    roost_value_type type;         /* named in messages */
    const char *const *variants;   /* in document order */
    size_t nvariants;
};

/* True when name is a valid experiment name: 1-128 of [A-Za-z0-9._-]. */
bool experiment_name_valid(const char *name);

/* Parses one entry of a document's "experiments" object: obj is the value,
 * name its key. flags[0..nflags) are the document's flags; `flag` must name
 * one of them and the arms are exactly its variants. flags == NULL skips
 * every check against the flag (for restoring a stored canonical spec,
 * whose flag was checked when it was applied): "weights" is then required
 * and gives the arms.
 *
 * On success *out is filled, defaults included. On error *out is untouched
 * and err names the path and what was expected.
 * Errors: ROOST_EINVAL (invalid content, name, unknown flag, arms that do
 * not match the flag's variants, weights that do not sum to 100, no primary
 * metric...), ROOST_ELIMIT (more arms or metrics than the limits above, a
 * text too long). */
roost_status experiment_spec_parse(const cJSON *obj, const char *name,
                                   const struct experiment_flag_info *flags, size_t nflags,
                                   struct experiment_spec *out, roost_error *err);

/* Same, from JSON text (len bytes, need not be NUL-terminated): a stored
 * canonical form or a single experiment object. Syntax errors are EINVAL;
 * ENOMEM when the text cannot be parsed for lack of memory. */
roost_status experiment_spec_parse_text(const char *json, size_t len, const char *name,
                                        const struct experiment_flag_info *flags, size_t nflags,
                                        struct experiment_spec *out, roost_error *err);

/* Canonical serialization: compact JSON of the experiment object (without
 * its name), keys in a fixed order, every default explicit, percentages
 * with at most two decimals, durations in the largest exact units
 * ("14d", "1d12h"), other numbers printed so that they read back to the
 * same double. Equal canonical text <=> same behaviour. experiment_spec_parse
 * accepts it back and yields an equal spec.
 * *json is malloc'ed, NUL-terminated; the caller frees it with free().
 * *len (may be NULL) receives its length without the NUL.
 * Errors: ROOST_EINVAL (NULL argument), ROOST_ENOMEM. */
roost_status experiment_spec_canonical(const struct experiment_spec *spec, char **json,
                                       size_t *len, roost_error *err);

/* The same object as a cJSON tree (the caller deletes it), for embedding in
 * larger documents. Errors: ROOST_EINVAL, ROOST_ENOMEM. */
roost_status experiment_spec_to_json(const struct experiment_spec *spec, cJSON **out,
                                     roost_error *err);

/* Index of the arm with this name, or -1. */
int experiment_spec_arm(const struct experiment_spec *spec, const char *name);

/* Index of the metric with this name, or -1. */
int experiment_spec_metric(const struct experiment_spec *spec, const char *name);

/* Names used in documents, records and the analysis JSON. */
const char *experiment_method_name(enum experiment_method m);       /* "sequential", "fixed" */
const char *experiment_metric_type_name(enum experiment_metric_type t); /* "binomial", "mean" */
const char *experiment_direction_name(enum experiment_direction d);  /* "increase", "decrease" */
const char *experiment_role_name(enum experiment_role r); /* "primary", "secondary", "guardrail" */

/* Durations: one or more <digits><unit>, units d, h, m, s, each at most
 * once and from the largest to the smallest ("14d", "1d12h", "90m"); "0"
 * alone is zero. false (and *ms untouched) on anything else or overflow.
 * Days exist here (and not in rollout durations) because experiments run
 * for weeks. */
bool experiment_duration_parse(const char *text, int64_t *ms);

/* Formats ms (>= 0, whole seconds are printed exactly; milliseconds below a
 * second are dropped) the way the canonical form does into out (>= 32
 * bytes). */
void experiment_duration_format(int64_t ms, char *out, size_t cap);

/* Formats a percentage in hundredths ("50", "33.33", "0.5") into out
 * (>= 16 bytes). */
void experiment_percent_format(uint32_t hundredths, char *out, size_t cap);

#endif
