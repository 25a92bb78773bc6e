/* A real HTTP server on 127.0.0.1 for tests of webhooks and HTTP probes
 * (libmicrohttpd, one thread per connection, so a handler told to be slow
 * never holds up another request). It answers every request with the
 * configured status, body and delay, and records what it received. */
#ifndef ROOST_TESTS_TEST_HTTP_SERVER_H
#define ROOST_TESTS_TEST_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#define THS_MAX_REQUESTS 64

struct ths_request {
    char method[16];
    char path[256];
    char idempotency_key[256];
    char content_type[128];
    char rollout[128];     /* Roost-Rollout */
    char hook_event[64];   /* Roost-Hook-Event */
    char x_team[128];      /* X-Team, the custom header the tests send */
    char body[8192];       /* truncated */
};

struct ths;

/* Starts on a free port; fails the test (cmocka) when it cannot. */
struct ths *ths_start(void);
int ths_port(const struct ths *s);
/* Every request from now on: status, body, after delay_ms. The first
 * `fail_first` requests answer fail_status instead of status. */
void ths_respond(struct ths *s, int status, const char *body, int delay_ms);
void ths_fail_first(struct ths *s, int fail_first, int fail_status);
/* Requests completed (answered) so far. */
int ths_count(struct ths *s);
/* A copy of request i (0-based, in arrival order); false when there is none. */
bool ths_request(struct ths *s, int i, struct ths_request *out);
void ths_stop(struct ths *s);

#endif
