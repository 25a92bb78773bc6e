/* flagd's protocols served by roostd, checked at the wire: what OpenFeature
 * providers rely on beyond what tests/openfeature exercises — FetchAllFlags
 * and selectors, ResolveAll, error statuses, the EventStream sequence and
 * its keep-alives, tokens. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flagd/evaluation/v2/evaluation.pb-c.h"
#include "flagd/sync/v1/sync.pb-c.h"
#include "harness.h"
#include "testmain.h"

static const char doc_a[] =
    "{\"metadata\": {\"flagSetId\": \"team-a\"}, \"flags\": {"
    "\"a-bool\": {\"state\": \"ENABLED\", \"variants\": {\"on\": true, \"off\": false}, "
    "\"defaultVariant\": \"on\"},"
    "\"a-off\": {\"state\": \"DISABLED\", \"variants\": {\"on\": true, \"off\": false}, "
    "\"defaultVariant\": \"on\"}}}";
static const char doc_b[] =
    "{\"metadata\": {\"flagSetId\": \"team-b\"}, \"flags\": {"
    "\"b-color\": {\"state\": \"ENABLED\", \"variants\": {\"red\": \"#f00\", \"blue\": \"#00f\"}, "
    "\"defaultVariant\": \"red\"}}}";

static struct roostd_proc p;
static struct rc_channel *ch;

static void apply_text(const char *text)
{
    char path[700];
    const char *args[] = {"apply", "-f", path, NULL};

    snprintf(path, sizeof path, "%s/doc.json", p.data_dir);
    harness_write_file(path, text);
    assert_int_equal(roostctl_run(&p, NULL, 0, NULL, 0, args), 0);
}

static int start(void **state)
{
    roost_error err;

    (void)state;
    memset(&p, 0, sizeof p);
    p.extra[0] = "--stream-keepalive";
    p.extra[1] = "1";
    if (!roostd_start(&p))
        return -1;
    apply_text(doc_a);
    apply_text(doc_b);
    return rc_channel_open(p.addr, NULL, &ch, &err) == ROOST_OK ? 0 : -1;
}

static int stop(void **state)
{
    (void)state;
    rc_channel_close(ch);
    return roostd_stop(&p, SIGTERM) == 0 ? 0 : -1;
}

static char *fetch_all(const char *selector)
{
    Flagd__Sync__V1__FetchAllFlagsRequest req = FLAGD__SYNC__V1__FETCH_ALL_FLAGS_REQUEST__INIT;
    Flagd__Sync__V1__FetchAllFlagsResponse *r;
    struct rc_status st;
    uint8_t buf[256], *out;
    size_t outlen;
    char *json;

    req.selector = (char *)selector;
    rc_unary(ch, "/flagd.sync.v1.FlagSyncService/FetchAllFlags", buf,
             flagd__sync__v1__fetch_all_flags_request__pack(&req, buf), 5, &out, &outlen, &st);
    assert_int_equal(st.code, GRPC_STATUS_OK);
    r = flagd__sync__v1__fetch_all_flags_response__unpack(NULL, outlen, out);
    assert_non_null(r);
    json = strdup(r->flag_configuration);
    flagd__sync__v1__fetch_all_flags_response__free_unpacked(r, NULL);
    free(out);
    return json;
}

static void fetch_all_flags_returns_the_configuration_and_honours_the_selector(void **state)
{
    char *all = fetch_all(""), *b = fetch_all("team-b");

    (void)state;
    assert_non_null(strstr(all, "\"a-bool\""));
    assert_non_null(strstr(all, "\"b-color\""));
    assert_null(strstr(b, "\"a-bool\""));
    assert_non_null(strstr(b, "\"b-color\""));
    assert_non_null(strstr(b, "\"defaultVariant\""));
    free(all);
    free(b);
}

static void resolve_errors_map_to_flagd_status_codes(void **state)
{
    Flagd__Evaluation__V2__ResolveStringRequest req = FLAGD__EVALUATION__V2__RESOLVE_STRING_REQUEST__INIT;
    struct rc_status st;
    uint8_t buf[256], *out = NULL;
    size_t outlen;

    (void)state;
    req.flag_key = "no-such-flag";
    rc_unary(ch, "/flagd.evaluation.v2.Service/ResolveString", buf,
             flagd__evaluation__v2__resolve_string_request__pack(&req, buf), 5, &out, &outlen, &st);
    assert_int_equal(st.code, GRPC_STATUS_NOT_FOUND);
    assert_non_null(strstr(st.message, "FLAG_NOT_FOUND"));
    req.flag_key = "a-bool";
    rc_unary(ch, "/flagd.evaluation.v2.Service/ResolveString", buf,
             flagd__evaluation__v2__resolve_string_request__pack(&req, buf), 5, &out, &outlen, &st);
    assert_int_equal(st.code, GRPC_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(st.message, "TYPE_MISMATCH"));
}

static void disabled_flag_answers_reason_disabled_without_a_value(void **state)
{
    Flagd__Evaluation__V2__ResolveBooleanRequest req = FLAGD__EVALUATION__V2__RESOLVE_BOOLEAN_REQUEST__INIT;
    Flagd__Evaluation__V2__ResolveBooleanResponse *r;
    struct rc_status st;
    uint8_t buf[256], *out;
    size_t outlen;

    (void)state;
    req.flag_key = "a-off";
    rc_unary(ch, "/flagd.evaluation.v2.Service/ResolveBoolean", buf,
             flagd__evaluation__v2__resolve_boolean_request__pack(&req, buf), 5, &out, &outlen, &st);
    assert_int_equal(st.code, GRPC_STATUS_OK);
    r = flagd__evaluation__v2__resolve_boolean_response__unpack(NULL, outlen, out);
    assert_non_null(r);
    assert_string_equal(r->reason, "DISABLED");
    assert_int_equal(r->_value_case, FLAGD__EVALUATION__V2__RESOLVE_BOOLEAN_RESPONSE___VALUE__NOT_SET);
    flagd__evaluation__v2__resolve_boolean_response__free_unpacked(r, NULL);
    free(out);
}

static void resolve_all_returns_every_enabled_flag(void **state)
{
    Flagd__Evaluation__V2__ResolveAllRequest req = FLAGD__EVALUATION__V2__RESOLVE_ALL_REQUEST__INIT;
    Flagd__Evaluation__V2__ResolveAllResponse *r;
    struct rc_status st;
    uint8_t buf[64], *out;
    size_t outlen;
    bool bool_seen = false, color_seen = false;

    (void)state;
    rc_unary(ch, "/flagd.evaluation.v2.Service/ResolveAll", buf,
             flagd__evaluation__v2__resolve_all_request__pack(&req, buf), 5, &out, &outlen, &st);
    assert_int_equal(st.code, GRPC_STATUS_OK);
    r = flagd__evaluation__v2__resolve_all_response__unpack(NULL, outlen, out);
    assert_non_null(r);
    assert_int_equal(r->n_flags, 2);
    for (size_t i = 0; i < r->n_flags; i++) {
        if (strcmp(r->flags[i]->key, "a-bool") == 0) {
            bool_seen = r->flags[i]->value->bool_value;
        } else if (strcmp(r->flags[i]->key, "b-color") == 0) {
            color_seen = strcmp(r->flags[i]->value->string_value, "#f00") == 0;
            assert_string_equal(r->flags[i]->value->reason, "STATIC");
        }
    }
    assert_true(bool_seen && color_seen);
    flagd__evaluation__v2__resolve_all_response__free_unpacked(r, NULL);
    free(out);
}

/* Reads one EventStream message of the given type within timeout_s; returns
 * its data as the changed keys' JSON-ish presence check. */
static Flagd__Evaluation__V2__EventStreamResponse *next_event(struct rc_group *g, double timeout_s)
{
    struct rc_event ev;
    Flagd__Evaluation__V2__EventStreamResponse *r;

    rc_group_next(g, timeout_s, &ev);
    if (ev.type != RC_MESSAGE)
        return NULL;
    r = flagd__evaluation__v2__event_stream_response__unpack(NULL, ev.len, ev.data);
    free(ev.data);
    return r;
}

static bool names_key(const Flagd__Evaluation__V2__EventStreamResponse *r, const char *key)
{
    const Google__Protobuf__Struct *flags = NULL;

    for (size_t i = 0; r->data && i < r->data->n_fields; i++) {
        if (strcmp(r->data->fields[i]->key, "flags") == 0)
            flags = r->data->fields[i]->value->struct_value;
    }
    for (size_t i = 0; flags && i < flags->n_fields; i++) {
        if (strcmp(flags->fields[i]->key, key) == 0)
            return true;
    }
    return false;
}

static void event_stream_sends_ready_changes_and_keep_alives(void **state)
{
    struct rc_group *g;
    struct rc_stream *s;
    roost_error err;
    Flagd__Evaluation__V2__EventStreamResponse *r;
    bool keepalive = false, change = false;
    double deadline;

    (void)state;
    assert_int_equal(rc_group_new(&g, &err), ROOST_OK);
    assert_int_equal(rc_stream_open(g, ch, "/flagd.evaluation.v2.Service/EventStream", "", 0, NULL,
                                    &s, &err),
                     ROOST_OK);
    r = next_event(g, 5);
    assert_non_null(r);
    assert_string_equal(r->type, "provider_ready");
    flagd__evaluation__v2__event_stream_response__free_unpacked(r, NULL);
    /* A (re)connecting provider is told every key may have changed. */
    r = next_event(g, 5);
    assert_non_null(r);
    assert_string_equal(r->type, "configuration_change");
    assert_true(names_key(r, "a-bool") && names_key(r, "b-color"));
    flagd__evaluation__v2__event_stream_response__free_unpacked(r, NULL);

    apply_text("{\"metadata\": {\"flagSetId\": \"team-b\"}, \"flags\": {\"b-color\": {\"state\": "
               "\"ENABLED\", \"variants\": {\"red\": \"#f00\", \"blue\": \"#00f\"}, "
               "\"defaultVariant\": \"blue\"}}}");
    deadline = harness_now() + 5;
    while ((!keepalive || !change) && harness_now() < deadline) {
        if (!(r = next_event(g, deadline - harness_now())))
            break;
        if (strcmp(r->type, "keep_alive") == 0)
            keepalive = true;
        if (strcmp(r->type, "configuration_change") == 0) {
            assert_true(names_key(r, "b-color"));
            assert_false(names_key(r, "a-bool"));
            change = true;
        }
        flagd__evaluation__v2__event_stream_response__free_unpacked(r, NULL);
    }
    assert_true(change);
    assert_true(keepalive);
    rc_group_free(g);
}

static void flagd_calls_need_the_sdk_token(void **state)
{
    struct roostd_proc q = {0};
    struct rc_channel *c;
    Flagd__Evaluation__V2__ResolveBooleanRequest req = FLAGD__EVALUATION__V2__RESOLVE_BOOLEAN_REQUEST__INIT;
    struct rc_status st;
    uint8_t buf[64], *out = NULL;
    size_t outlen;
    char tokens[700];
    roost_error err;

    (void)state;
    harness_tmpdir(q.data_dir, sizeof q.data_dir, "roostd-flagd-auth");
    snprintf(tokens, sizeof tokens, "%s/sdk.tokens", q.data_dir);
    harness_write_file(tokens, "sdk-secret\n");
    q.extra[0] = "--sdk-token-file";
    q.extra[1] = tokens;
    assert_true(roostd_start(&q));
    req.flag_key = "x";
    assert_int_equal(rc_channel_open(q.addr, "wrong", &c, &err), ROOST_OK);
    rc_unary(c, "/flagd.evaluation.v2.Service/ResolveBoolean", buf,
             flagd__evaluation__v2__resolve_boolean_request__pack(&req, buf), 5, &out, &outlen, &st);
    assert_int_equal(st.code, GRPC_STATUS_UNAUTHENTICATED);
    rc_channel_close(c);
    assert_int_equal(rc_channel_open(q.addr, "sdk-secret", &c, &err), ROOST_OK);
    rc_unary(c, "/flagd.evaluation.v2.Service/ResolveBoolean", buf,
             flagd__evaluation__v2__resolve_boolean_request__pack(&req, buf), 5, &out, &outlen, &st);
    assert_int_equal(st.code, GRPC_STATUS_NOT_FOUND);
    rc_channel_close(c);
    assert_int_equal(roostd_stop(&q, SIGTERM), 0);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fetch_all_flags_returns_the_configuration_and_honours_the_selector),
        cmocka_unit_test(resolve_errors_map_to_flagd_status_codes),
        cmocka_unit_test(disabled_flag_answers_reason_disabled_without_a_value),
        cmocka_unit_test(resolve_all_returns_every_enabled_flag),
        cmocka_unit_test(event_stream_sends_ready_changes_and_keep_alives),
        cmocka_unit_test(flagd_calls_need_the_sdk_token),
    };

    harness_init(argc, argv);
    grpc_init();
    return roost_run_tests_setup("flagd", tests, start, stop);
}
