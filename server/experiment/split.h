/* How an experiment's units reach its arms: the flag's `fractional` rule.
 *
 * Assignment is the flag's own business. An SDK evaluates the flag locally
 * (include/roost/engine.h) and the variant it gets is the unit's arm, so
 * every SDK, in every language, assigns the same unit to the same arm
 * without asking roostd. An experiment only *plans* a split (allocation and
 * weights, spec.h); this file connects the plan and the flag in two ways,
 * and roostd may use either:
 *
 *   experiment_split_rule   BUILDS the targeting JSON that implements the
 *                           plan, for roostd to inject into the flag (or
 *                           for a person to paste into the document).
 *   experiment_split_check  CHECKS that a flag, as compiled, implements the
 *                           plan, whatever its targeting looks like.
 *
 * The rule (allocation below 100 %):
 *
 *   {"if": [
 *     {"and": [{"var": UNIT},
 *              {"==": [{"fractional": [{"cat": ["EXP/allocation/", {"var": UNIT}]},
 *                                      ["in", A], ["out", 10000 - A]]}, "in"]}]},
 *     {"fractional": [{"cat": ["EXP/arms/", {"var": UNIT}]},
 *                     ["control", W0], ["treatment", W1], ...]},
 *     null]}
 *
 * with A and Wi in hundredths of a percent (flagd's weights are integers).
 * Design choices:
 *   - Two hashes, two salts. Whether a unit is in the experiment and which
 *     arm it gets are independent hashes of the unit (MurmurHash3 of
 *     different strings). Raising the allocation later (10 % -> 50 %) keeps
 *     every unit already in the experiment in it, in the same arm: the "in"
 *     bucket is first and only grows, and the arm hash does not depend on
 *     the allocation. A single fractional with an "out" bucket would move
 *     units between arms when the allocation changes.
 *   - The salts contain the experiment's name, not only the flag's key, so a
 *     second experiment on the same flag re-randomizes: units that were in
 *     the first one's treatment are not all in the second one's treatment
 *     (carry-over effects would bias it).
 *   - Units without the unit attribute (or with an empty one) are not in
 *     the experiment: they would all hash alike, land in one arm, and count
 *     as one giant unit.
 *   - Outside the experiment the rule gives null, so the flag evaluates to
 *     its defaultVariant with reason DEFAULT, while units in it get reason
 *     TARGETING_MATCH. The reason is how an SDK tells "in the experiment"
 *     (log an exposure) from "not in it" (do not); the flag's defaultVariant
 *     should be the control, so units outside keep today's behaviour.
 *
 * The check evaluates the compiled flag for EXPERIMENT_SPLIT_CHECK_UNITS
 * synthetic units ("roost-split-check-0", ...; the context holds only the
 * unit attribute) with the same engine the SDKs run, counts who is in the
 * experiment (TARGETING_MATCH) and in which arm, and tests those counts
 * against the plan with the sample-ratio chi-square (server/stats). A flag
 * that implements the plan passes with certainty up to a 1e-6 false alarm
 * (EXPERIMENT_SPLIT_CHECK_P); with 100,000 units a 49/51 split instead of
 * 50/50 is caught (chi-square 40, p ~ 2e-10). Because it evaluates, it
 * accepts any rule that behaves right (flagd's default fractional key, a
 * hand-written equivalent) and rejects rules that look right but are not
 * (weights swapped, a rule that also depends on another attribute, a
 * non-control defaultVariant).
 */
#ifndef ROOSTD_EXPERIMENT_SPLIT_H
#define ROOSTD_EXPERIMENT_SPLIT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "roost/engine.h"
#include "roost/status.h"
#include "server/experiment/spec.h"

#define EXPERIMENT_SPLIT_CHECK_UNITS 100000u
#define EXPERIMENT_SPLIT_CHECK_P 1e-6

/* Builds the targeting rule above for spec. *out is a new cJSON tree (the
 * caller deletes it); it is the value of the flag's "targeting" field.
 * Errors: ROOST_EINVAL (NULL, or a spec whose weights do not sum to 100),
 * ROOST_ENOMEM. */
roost_status experiment_split_rule(const struct experiment_spec *spec, cJSON **out,
                                   roost_error *err);

/* What the check saw. Counts are of the synthetic units. */
struct experiment_split_report {
    uint64_t units;                         /* evaluated */
    uint64_t in_experiment;                 /* reason TARGETING_MATCH */
    uint64_t per_arm[EXPERIMENT_MAX_ARMS];  /* of those, per arm (spec order) */
    uint64_t outside_control;               /* reason STATIC/DEFAULT, control variant */
    uint64_t outside_other;                 /* reason STATIC/DEFAULT, another variant or none */
    uint64_t errors;                        /* reason ERROR or DISABLED */
    double chi2, p;                         /* counts vs the plan; p >= CHECK_P passes */
    bool matches;
};

/* Checks that `flag` (loaded with roost_flag_load; its key must be the
 * spec's flag) splits units as spec plans. Returns ROOST_OK when it does,
 * ROOST_ECONFLICT when it does not, with a message saying how ("flag
 * 'checkout' puts 50.0 % of units in the experiment, the experiment plans
 * 10 %"; "units in the experiment get 'treatment' 90.1 %, planned 50 %"), and
 * fills *report in both cases. ROOST_EINVAL for NULL arguments or a flag
 * with another key (*report untouched).
 * Cost: EXPERIMENT_SPLIT_CHECK_UNITS evaluations (tens of milliseconds). */
roost_status experiment_split_check(const struct experiment_spec *spec, const roost_flag *flag,
                                    struct experiment_split_report *report, roost_error *err);

#endif
