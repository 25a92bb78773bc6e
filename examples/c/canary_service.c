/* A service on libroost's release paths: every simulated request is routed
 * between the baseline and the canary of a rollout (sticky per user) and
 * its outcome reported for that arm with the request helpers; the checkout
 * page shows the button colour of an experiment (evaluating its flag logs
 * the user's exposure) and conversions are credited to the user's arm with
 * roost_track. A status line shows what the client holds: the rollout's
 * phase and weight, the payments probe, the split so far.
 *
 *   roostd --data /tmp/roost &
 *   roostctl apply -f examples/rollout.json && roostctl rollout start checkout-v2
 *   roostctl apply -f examples/c/experiment.json && roostctl experiment start green-button
 *   bazel run //examples/c:canary_service -- --target 127.0.0.1:7070
 *   roostctl rollout status checkout-v2 --watch     # in another terminal
 *
 * The canary here fails 3 % of requests against the baseline's 1 %, so
 * roostd's analysis rolls it back after a step or two; --healthy makes the
 * canary as good as the baseline, and the rollout goes through.
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

/* Changes name flags, rollouts, probes and experiments in separate lists. */
static void print_list(const char *kind, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("%s%s", i ? "," : kind, names[i]);
}

static void on_event(void *user, const roost_event *ev)
{
    (void)user;
    printf("event %s: %s", roost_event_type_name(ev->type), ev->message);
    print_list(" flags=", ev->keys, ev->nkeys);
    print_list(" rollouts=", ev->rollouts, ev->nrollouts);
    print_list(" probes=", ev->probes, ev->nprobes);
    print_list(" experiments=", ev->experiments, ev->nexperiments);
    printf("\n");
}

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

static void status_line(roost_client *c, long i, const long routed[2])
{
    roost_rollout_info r;
    roost_probe_info p;
    char rollout[96] = "checkout-v2 unknown", probe[96] = "payments-api unknown";

    if (roost_rollout_status(c, "checkout-v2", &r) == ROOST_OK)
        snprintf(rollout, sizeof rollout, "checkout-v2 %s at %.1f %%",
                 roost_rollout_phase_name(r.phase), r.canary_weight_bp / 100.0);
    if (roost_probe_status(c, "payments-api", &p) == ROOST_OK)
        snprintf(probe, sizeof probe, "payments-api %s (%.1f ms)", roost_probe_state_name(p.state),
                 p.latency_ms);
    printf("request %6ld  %s  canary got %ld of %ld  %s\n", i, rollout, routed[1],
           routed[0] + routed[1], probe);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"target", required_argument, NULL, 't'}, {"requests", required_argument, NULL, 'n'},
        {"healthy", no_argument, NULL, 'H'},      {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    roost_client_options o;
    roost_client *client;
    roost_context *ctx;
    roost_error err;
    long requests = 200000, routed[2] = {0, 0};
    double canary_errors = 0.03;
    unsigned seed = 7;
    int opt;

    roost_client_options_init(&o);
    o.target = "127.0.0.1:7070";
    o.service = "checkout";
    o.environment = "dev";
    o.on_event = on_event;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 't': o.target = optarg; break;
        case 'n': requests = atol(optarg); break;
        case 'H': canary_errors = 0.01; break;
        default:
            fprintf(stderr, "usage: %s [--target HOST:PORT] [--requests N] [--healthy]\n",
                    argv[0]);
            return opt == 'h' ? 0 : 2;
        }
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    if (roost_client_new(&o, &client, &err) != ROOST_OK ||
        roost_client_start(client, &err) != ROOST_OK || roost_context_new(4, 0, &ctx) != ROOST_OK) {
        fprintf(stderr, "example: %s\n", err.msg);
        return 1;
    }
    if (roost_client_wait_ready(client, 2000) != ROOST_OK)
        printf("roostd not reachable yet: every request goes to the baseline until it is\n");

    for (long i = 0; i < requests && !atomic_load(&stop); i++) {
        char user[32], colour[16];
        roost_request req;
        roost_arm arm;
        bool ok, converted;

        snprintf(user, sizeof user, "user-%ld", i % 20000);
        roost_context_clear(ctx);
        roost_context_set_targeting_key(ctx, user);

        /* Which version serves this user; the timer starts. */
        arm = roost_request_begin(client, "checkout-v2", roost_context_ctx(ctx), &req, NULL);
        routed[arm]++;
        /* The page: the experiment's flag picks the button colour (and
         * logs this user's exposure if they are in the experiment). */
        roost_client_string(client, "checkout-button", roost_context_ctx(ctx), "blue", colour,
                            sizeof colour, NULL);
        /* "Handle" it: the canary is a bit slower, maybe less reliable. */
        sleep_us(arm == ROOST_ARM_CANARY ? 300 : 200);
        ok = (double)rand_r(&seed) / RAND_MAX >= (arm == ROOST_ARM_CANARY ? canary_errors : 0.01);
        roost_request_end(&req, ok);
        /* One conversion outcome per user (their first visit), as a
         * binomial metric wants; green converts a little better. Ignored
         * (ECONFLICT) when the user is not in a running experiment. */
        if (i < 20000) {
            converted = (double)rand_r(&seed) / RAND_MAX <
                        (strcmp(colour, "green") == 0 ? 0.12 : 0.10);
            roost_track(client, "green-button", roost_context_ctx(ctx), "checkout.converted",
                        converted, converted);
        }
        if (i % 5000 == 0)
            status_line(client, i, routed);
    }
    roost_context_free(ctx);
    if (roost_client_close(client, &err) != ROOST_OK) {
        fprintf(stderr, "example: %s\n", err.msg);
        return 1;
    }
    return 0;
}
