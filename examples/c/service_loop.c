/* A tiny service on libroost: for each simulated request it builds an
 * evaluation context, asks whether the new checkout is on for this user,
 * "handles" the request (slower and a little more error-prone on one arm,
 * so the outcomes show something), and records the outcome against the
 * flag's variant. Events (READY, STALE, changes) are printed as they come.
 *
 *   roostd --data /tmp/roost &
 *   roostctl apply -f examples/flags.json
 *   bazel run //examples/c:service_loop -- --target 127.0.0.1:7070 --requests 20000
 *
 * Stop roostd while it runs: the service keeps serving (STALE), outcomes
 * wait, and arrive once roostd is back. With --cache FILE a restart while
 * roostd is down serves the last configuration immediately.
 */
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "roost/client.h"

static atomic_bool stop;

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&stop, true);
}

static void on_event(void *user, const roost_event *ev)
{
    (void)user;
    printf("event %-21s state=%-9s revision=%llu %s", roost_event_type_name(ev->type),
           roost_client_state_name(ev->state), (unsigned long long)ev->revision, ev->message);
    for (size_t i = 0; i < ev->nkeys; i++)
        printf("%s%s", i ? "," : " [", ev->keys[i]);
    printf("%s\n", ev->nkeys ? "]" : "");
}

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"target", required_argument, NULL, 't'}, {"token", required_argument, NULL, 'k'},
        {"cache", required_argument, NULL, 'c'},  {"requests", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    roost_client_options o;
    roost_client *client;
    roost_context *ctx;
    roost_series *series[2];
    roost_client_stats st;
    roost_error err;
    long requests = 10000, on_count = 0;
    unsigned seed = 42;
    int opt;

    roost_client_options_init(&o);
    o.target = "127.0.0.1:7070";
    o.service = "example-shop";
    o.environment = "dev";
    o.version = "0.1.0";
    o.on_event = on_event;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 't': o.target = optarg; break;
        case 'k': o.token = optarg; break;
        case 'c': o.cache_path = optarg; break;
        case 'n': requests = atol(optarg); break;
        default:
            fprintf(stderr, "usage: %s [--target HOST:PORT] [--token T] [--cache FILE] "
                            "[--requests N]\n",
                    argv[0]);
            return opt == 'h' ? 0 : 2;
        }
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    if (roost_client_new(&o, &client, &err) != ROOST_OK ||
        roost_client_start(client, &err) != ROOST_OK) {
        fprintf(stderr, "example: %s\n", err.msg);
        return 1;
    }
    if (roost_client_wait_ready(client, 2000) != ROOST_OK)
        printf("roostd not reachable yet: serving defaults until it is\n");
    /* Resolve the two series once; recording is then a few nanoseconds. */
    roost_series_get(client, ROOST_SCOPE_FLAG, "new-checkout", "on", "latency_ms", &series[1]);
    roost_series_get(client, ROOST_SCOPE_FLAG, "new-checkout", "off", "latency_ms", &series[0]);
    if (roost_context_new(4, 0, &ctx) != ROOST_OK)
        return 1;

    for (long i = 0; i < requests && !atomic_load(&stop); i++) {
        char user[32], email[64];
        roost_details d;
        bool on, ok;
        double latency;

        snprintf(user, sizeof user, "user-%ld", i % 5000);
        snprintf(email, sizeof email, "%s@%s", user, i % 50 == 0 ? "example.com" : "mail.test");
        roost_context_clear(ctx);
        roost_context_set_targeting_key(ctx, user);
        roost_context_set_string(ctx, "email", email);
        roost_context_stamp(ctx);

        on = roost_client_bool(client, "new-checkout", roost_context_ctx(ctx), false, &d);

        /* "Handle" the request: the new checkout is a bit slower. */
        latency = (on ? 14.0 : 12.0) + (double)(rand_r(&seed) % 1000) / 100.0;
        ok = rand_r(&seed) % 1000 >= (on ? 12 : 10);
        roost_series_observe(series[on], latency, ok);
        on_count += on;
        if (i % 1000 == 1)
            printf("request %ld: new-checkout=%s (variant %s, reason %s, revision %llu)\n", i,
                   on ? "on" : "off", d.variant[0] ? d.variant : "-",
                   roost_reason_name(d.reason), (unsigned long long)d.revision);
        sleep_us(200);
    }

    roost_client_get_stats(client, &st);
    printf("new-checkout was on for %ld of %llu requests; recorded %llu outcomes, %llu "
           "pending; closing (flushes them)\n",
           on_count, (unsigned long long)st.observations, (unsigned long long)st.observations,
           (unsigned long long)st.pending_outcomes);
    roost_context_free(ctx);
    if (roost_client_close(client, &err) != ROOST_OK) {
        fprintf(stderr, "example: %s\n", err.msg);
        return 1;
    }
    return 0;
}
