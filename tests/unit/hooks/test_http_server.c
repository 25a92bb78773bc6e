/* Test HTTP server. See test_http_server.h. */
#include "test_http_server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testmain.h"

struct ths {
    struct MHD_Daemon *d;
    int port;
    pthread_mutex_t mu;
    int status, fail_first, fail_status, delay_ms, arrived;
    char body[1024];
    int count; /* answered */
    struct ths_request req[THS_MAX_REQUESTS];
};

/* One request in flight: its record is filled as headers and body arrive. */
struct pending {
    struct ths_request r;
    size_t body_len;
};

static void copy_header(struct MHD_Connection *c, const char *name, char *out, size_t cap)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);

    snprintf(out, cap, "%s", v ? v : "");
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
    struct ths *s = cls;
    struct pending *p = *con_cls;
    struct MHD_Response *resp;
    enum MHD_Result ret;
    int status, delay, index;
    char body[1024];

    (void)version;
    if (!p) {
        if (!(p = calloc(1, sizeof *p)))
            return MHD_NO;
        snprintf(p->r.method, sizeof p->r.method, "%s", method);
        snprintf(p->r.path, sizeof p->r.path, "%s", url);
        copy_header(c, "Idempotency-Key", p->r.idempotency_key, sizeof p->r.idempotency_key);
        copy_header(c, "Content-Type", p->r.content_type, sizeof p->r.content_type);
        copy_header(c, "Roost-Rollout", p->r.rollout, sizeof p->r.rollout);
        copy_header(c, "Roost-Hook-Event", p->r.hook_event, sizeof p->r.hook_event);
        copy_header(c, "X-Team", p->r.x_team, sizeof p->r.x_team);
        *con_cls = p;
        return MHD_YES;
    }
    if (*upload_size) {
        size_t room = sizeof p->r.body - 1 - p->body_len;
        size_t n = *upload_size < room ? *upload_size : room;
        memcpy(p->r.body + p->body_len, upload, n);
        p->body_len += n;
        *upload_size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&s->mu);
    index = s->arrived++;
    status = index < s->fail_first ? s->fail_status : s->status;
    delay = s->delay_ms;
    snprintf(body, sizeof body, "%s", s->body);
    pthread_mutex_unlock(&s->mu);
    if (delay > 0) {
        struct timespec ts = {delay / 1000, (long)(delay % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    pthread_mutex_lock(&s->mu);
    if (s->count < THS_MAX_REQUESTS)
        s->req[s->count] = p->r;
    s->count++;
    pthread_mutex_unlock(&s->mu);
    resp = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    ret = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    free(*con_cls);
    *con_cls = NULL;
}

struct ths *ths_start(void)
{
    struct ths *s = calloc(1, sizeof *s);
    struct sockaddr_in addr;
    const union MHD_DaemonInfo *info;

    assert_non_null(s);
    pthread_mutex_init(&s->mu, NULL);
    s->status = 200;
    snprintf(s->body, sizeof s->body, "ok\n");
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    s->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                                MHD_USE_ERROR_LOG,
                            0, NULL, NULL, handle, s, MHD_OPTION_SOCK_ADDR, &addr,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, s, MHD_OPTION_END);
    assert_non_null(s->d);
    info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    assert_non_null(info);
    s->port = info->port;
    assert_true(s->port > 0);
    return s;
}

int ths_port(const struct ths *s)
{
    return s->port;
}

void ths_respond(struct ths *s, int status, const char *body, int delay_ms)
{
    pthread_mutex_lock(&s->mu);
    s->status = status;
    snprintf(s->body, sizeof s->body, "%s", body);
    s->delay_ms = delay_ms;
    pthread_mutex_unlock(&s->mu);
}

void ths_fail_first(struct ths *s, int fail_first, int fail_status)
{
    pthread_mutex_lock(&s->mu);
    s->fail_first = fail_first;
    s->fail_status = fail_status;
    pthread_mutex_unlock(&s->mu);
}

int ths_count(struct ths *s)
{
    int n;

    pthread_mutex_lock(&s->mu);
    n = s->count;
    pthread_mutex_unlock(&s->mu);
    return n;
}

bool ths_request(struct ths *s, int i, struct ths_request *out)
{
    bool ok;

    pthread_mutex_lock(&s->mu);
    ok = i >= 0 && i < s->count && i < THS_MAX_REQUESTS;
    if (ok)
        *out = s->req[i];
    pthread_mutex_unlock(&s->mu);
    return ok;
}

void ths_stop(struct ths *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->d);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
