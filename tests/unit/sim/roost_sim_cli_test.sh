#!/bin/sh
# roost-sim virtual, end to end through its command line, on two small
# scenarios (testdata/): the same seed gives the same timeline, a healthy
# canary is promoted, a canary with 5x the baseline's error rate is rolled
# back with a record naming the check, --runs prints statistics, and
# mistakes in the command line or the scenario file exit 2 with a message
# that names the option or the JSON path.
#
#   roost_sim_cli_test.sh ROOST_SIM TESTDATA_DIR SHTEST
set -u

sim=$1
data=$2
. "$3"

healthy=$data/healthy.json
bad=$data/five-x-errors.json

# ---- help and usage ---------------------------------------------------------
begin help_and_usage_errors_exit_0_and_2
expect_exit "help_exits_0" 0 "$sim" --help && expect_in "help_names_the_virtual_mode" "$tmp/out" "roost-sim virtual SCENARIO.json"
expect_exit "virtual_help_exits_0" 0 "$sim" virtual --help && expect_in "virtual_help_lists_runs" "$tmp/out" "--runs N"
expect_exit "no_mode_is_a_usage_error" 2 "$sim"
expect_exit "unknown_mode_is_a_usage_error" 2 "$sim" replay "$healthy" && expect_in "unknown_mode_is_named" "$tmp/err" "unknown mode 'replay'"
expect_exit "missing_scenario_is_a_usage_error" 2 "$sim" virtual && expect_in "missing_scenario_is_said" "$tmp/err" "missing the scenario file"
expect_exit "bad_runs_value_is_a_usage_error" 2 "$sim" virtual "$healthy" --runs 0 && expect_in "bad_runs_names_the_option" "$tmp/err" "--runs: expected a whole number"
expect_exit "unknown_option_is_a_usage_error" 2 "$sim" virtual "$healthy" --fast && expect_in "unknown_option_is_named" "$tmp/err" "unknown option '--fast'"

end

# ---- scenario errors name the file and the JSON path --------------------------
begin scenario_errors_exit_2_and_name_the_json_path
expect_exit "missing_file_exits_2" 2 "$sim" virtual "$data/no-such-file.json" && expect_in "missing_file_is_named" "$tmp/err" "no-such-file.json"
expect_exit "negative_rate_exits_2" 2 "$sim" virtual "$data/bad-rate.json" && expect_in "negative_rate_names_its_path" "$tmp/err" "bad-rate.json: traffic.rate: expected a number from 0"
expect_exit "misspelt_field_exits_2" 2 "$sim" virtual "$data/typo.json" && expect_in "misspelt_field_suggests_the_right_one" "$tmp/err" "incidents[0]: unknown field 'durration'"
expect_exit "invalid_rollout_exits_2" 2 "$sim" virtual "$data/bad-rollout.json" && expect_in "invalid_rollout_uses_the_rollout_parser_path" "$tmp/err" "rollouts.r.steps[1].setWeight"
printf '{"traffic": ' >"$tmp/truncated.json"
expect_exit "invalid_json_exits_2" 2 "$sim" virtual "$tmp/truncated.json" && expect_in "invalid_json_gives_line_and_column" "$tmp/err" "line 1, column"

end

# ---- determinism ------------------------------------------------------------------
begin same_seed_gives_the_same_timeline_and_statistics
"$sim" virtual "$healthy" --seed 7 --json >"$tmp/a.json" 2>&1
"$sim" virtual "$healthy" --seed 7 --json >"$tmp/b.json" 2>&1
if cmp -s "$tmp/a.json" "$tmp/b.json" && [ -s "$tmp/a.json" ]; then
    ok "same_seed_gives_the_same_timeline"
else
    not_ok "same_seed_gives_the_same_timeline" "$(diff "$tmp/a.json" "$tmp/b.json" | head -20)"
fi
"$sim" virtual "$healthy" --seed 8 --json >"$tmp/c.json" 2>&1
if cmp -s "$tmp/a.json" "$tmp/c.json"; then
    not_ok "another_seed_gives_another_run"
else
    ok "another_seed_gives_another_run"
fi
"$sim" virtual "$bad" --runs 20 --seed 3 >"$tmp/s1.txt" 2>&1
"$sim" virtual "$bad" --runs 20 --seed 3 >"$tmp/s2.txt" 2>&1
if cmp -s "$tmp/s1.txt" "$tmp/s2.txt"; then
    ok "same_seeds_give_the_same_statistics"
else
    not_ok "same_seeds_give_the_same_statistics" "$(diff "$tmp/s1.txt" "$tmp/s2.txt")"
fi

end

# ---- outcomes -------------------------------------------------------------------------
begin healthy_canary_is_promoted_through_every_weight
expect_exit "healthy_run_exits_0" 0 "$sim" virtual "$healthy" --seed 1
expect_in "healthy_canary_is_promoted" "$tmp/out" "outcome: promoted at"
expect_in "healthy_canary_visits_weight_50" "$tmp/out" "weight 10 -> 50"
expect_in "healthy_canary_reaches_weight_100" "$tmp/out" "weight 50 -> 100"
end

begin five_times_error_canary_is_rolled_back_with_its_record

expect_exit "bad_run_exits_0" 0 "$sim" virtual "$bad" --seed 1 --json
expect_in "five_times_errors_are_rolled_back" "$tmp/out" '"outcome":{"phase":"rolled_back"'
expect_in "rollback_record_is_the_librarys" "$tmp/out" '"event":"rolled_back"'
expect_in "rollback_record_names_the_check" "$tmp/out" '"verdict":"failed"'
expect_in "rollback_sets_weight_zero" "$tmp/out" '"weight":0'
end

begin runs_print_statistics

expect_exit "statistics_run_exits_0" 0 "$sim" virtual "$bad" --runs 30
expect_in "statistics_count_the_runs" "$tmp/out" "30 runs, seeds 1-30"
expect_in "statistics_report_time_to_roll_back" "$tmp/out" "rolled back   p50"
expect_in "statistics_report_blast_radius" "$tmp/out" "blast radius"
end

summary
