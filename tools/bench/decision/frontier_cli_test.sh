#!/bin/sh
# bench_frontier end to end through its command line: --help, usage and
# scenario mistakes exit 2 with a message naming what was wrong, and on a
# small run (100 bad, 400 healthy) the output is deterministic, has a row
# per policy and alpha, and keeps the property the frontier rests on: the
# same seeds at a smaller alpha roll back no more healthy canaries and no
# bad canary sooner, for Roost and for both oracles.
#
#   frontier_cli_test.sh BENCH_FRONTIER BAD.json HEALTHY.json SHTEST
set -u

bin=$1
bad=$2
healthy=$3
. "$4"

small="--runs 100 --healthy-runs 400 --alphas 0.01,0.001"

begin help_and_usage_errors_exit_0_and_2
expect_exit "help_exits_0" 0 "$bin" --help && expect_in "help_names_both_files" "$tmp/out" "BAD.json HEALTHY.json"
expect_exit "one_file_is_a_usage_error" 2 "$bin" "$bad"
expect_exit "third_file_is_named" 2 "$bin" "$bad" "$healthy" "$bad" && expect_in "third_file_message" "$tmp/err" "is a third"
expect_exit "alpha_of_one_is_refused" 2 "$bin" --alphas 0.01,1 "$bad" "$healthy" && expect_in "alpha_message_names_option" "$tmp/err" "--alphas: expected numbers in (0, 1)"
expect_exit "ratio_of_one_is_refused" 2 "$bin" --ratio 1 "$bad" "$healthy" && expect_in "ratio_message_names_option" "$tmp/err" "--ratio: expected a number above 1"
expect_exit "swapped_files_are_refused" 2 "$bin" "$healthy" "$bad" && expect_in "swapped_files_message" "$tmp/err" "the first scenario must expect \"rollback\""
expect_exit "unknown_option_is_named" 2 "$bin" --fast "$bad" "$healthy" && expect_in "unknown_option_message" "$tmp/err" "unknown option '--fast'"
end

begin table_has_a_row_per_policy_and_alpha
# shellcheck disable=SC2086 # $small is a list of options
expect_exit "small_run_exits_0" 0 "$bin" $small "$bad" "$healthy"
cp "$tmp/out" "$tmp/first"
expect_in "flagger_row" "$tmp/out" "| Flagger default | – |"
expect_in "roost_row" "$tmp/out" "| Roost | 0.001 |"
expect_in "oracle_row" "$tmp/out" "| *oracle SPRT* | 0.01 |"
expect_in "oracle_told_the_baseline_row" "$tmp/out" "| *oracle SPRT, baseline known* | 0.001 |"
# shellcheck disable=SC2086
expect_exit "second_run_exits_0" 0 "$bin" $small "$bad" "$healthy"
if cmp -s "$tmp/out" "$tmp/first"; then ok "same_seeds_same_table"; else not_ok "same_seeds_same_table" "$(diff "$tmp/first" "$tmp/out")"; fi
end

begin smaller_alpha_is_slower_and_rolls_back_fewer_healthy_canaries
# shellcheck disable=SC2086
expect_exit "json_run_exits_0" 0 "$bin" $small --json "$bad" "$healthy"
lines=$(wc -l <"$tmp/out")
if [ "$lines" = 7 ]; then ok "json_has_one_line_per_policy_and_alpha"; else not_ok "json_has_one_line_per_policy_and_alpha (got $lines lines)" "$(cat "$tmp/out")"; fi
for policy in '"Roost"' '"oracle"' '"oracle, baseline known"'; do
    loose=$(grep -F "\"policy\":$policy,\"alpha\":0.01," "$tmp/out")
    strict=$(grep -F "\"policy\":$policy,\"alpha\":0.001," "$tmp/out")
    field() { printf '%s\n' "$1" | sed -n "s/.*\"$2\":\([0-9.e+-]*\).*/\1/p"; }
    fl=$(field "$loose" false_rollbacks); fs=$(field "$strict" false_rollbacks)
    tl=$(field "$loose" rollback_p50_s); ts=$(field "$strict" rollback_p50_s)
    if [ -n "$fl" ] && [ -n "$fs" ] && [ "$fs" -le "$fl" ]; then
        ok "$policy false rollbacks $fs <= $fl"
    else
        not_ok "$policy false rollbacks at 0.001 ($fs) above those at 0.01 ($fl)" "$loose
$strict"
    fi
    if [ -n "$tl" ] && [ -n "$ts" ] && awk -v a="$ts" -v b="$tl" 'BEGIN { exit !(a >= b) }'; then
        ok "$policy time to roll back $ts s >= $tl s"
    else
        not_ok "$policy rolled back sooner at 0.001 ($ts s) than at 0.01 ($tl s)" "$loose
$strict"
    fi
done
end

summary
