/* Integration test support. See harness.h. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *harness_roostd_bin;
const char *harness_roostctl_bin;

void harness_init(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s ROOSTD ROOSTCTL\n", argv[0]);
        exit(2);
    }
    harness_roostd_bin = argv[1];
    harness_roostctl_bin = argv[2];
    signal(SIGPIPE, SIG_IGN);
}

double harness_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

void harness_tmpdir(char *out, size_t cap, const char *name)
{
    const char *base = getenv("TEST_TMPDIR") ? getenv("TEST_TMPDIR") : "/tmp";

    snprintf(out, cap, "%s/%s-XXXXXX", base, name);
    if (!mkdtemp(out)) {
        perror("mkdtemp");
        exit(1);
    }
}

void harness_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

void roostd_dump_log(const struct roostd_proc *p)
{
    char buf[4096];
    FILE *f = fopen(p->log_file, "r");
    size_t n;

    if (!f)
        return;
    fprintf(stderr, "---- roostd log (%s) ----\n", p->log_file);
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        fwrite(buf, 1, n, stderr);
    fprintf(stderr, "---- end of roostd log ----\n");
    fclose(f);
}

bool roostd_start(struct roostd_proc *p)
{
    const char *argv[32];
    int n = 0, fd;
    double deadline;

    if (!p->data_dir[0])
        harness_tmpdir(p->data_dir, sizeof p->data_dir, "roostd-data");
    snprintf(p->ready_file, sizeof p->ready_file, "%s.ready", p->data_dir);
    snprintf(p->log_file, sizeof p->log_file, "%s.log", p->data_dir);
    unlink(p->ready_file);
    argv[n++] = harness_roostd_bin;
    argv[n++] = "--data";
    argv[n++] = p->data_dir;
    argv[n++] = "--listen";
    argv[n++] = "127.0.0.1:0";
    argv[n++] = "--ready-file";
    argv[n++] = p->ready_file;
    argv[n++] = "--shutdown-grace";
    argv[n++] = "5";
    for (int i = 0; p->extra[i] && n < 30; i++)
        argv[n++] = p->extra[i];
    argv[n] = NULL;

    p->pid = fork();
    if (p->pid == 0) {
        fd = open(p->log_file, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 2);
            dup2(fd, 1);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    deadline = harness_now() + 10;
    while (harness_now() < deadline) {
        FILE *f = fopen(p->ready_file, "r");
        int status;

        if (f) {
            bool ok = fgets(p->addr, sizeof p->addr, f) != NULL;
            fclose(f);
            p->addr[strcspn(p->addr, "\n")] = '\0';
            if (ok && p->addr[0])
                return true;
        }
        if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
            fprintf(stderr, "roostd exited during start-up\n");
            roostd_dump_log(p);
            p->pid = 0;
            return false;
        }
        sleep_ms(20);
    }
    fprintf(stderr, "roostd did not become ready within 10 s\n");
    roostd_dump_log(p);
    kill(p->pid, SIGKILL);
    waitpid(p->pid, NULL, 0);
    p->pid = 0;
    return false;
}

int roostd_stop(struct roostd_proc *p, int sig)
{
    double deadline = harness_now() + 15;
    int status;

    if (p->pid <= 0)
        return -1;
    kill(p->pid, sig);
    while (harness_now() < deadline) {
        if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
            p->pid = 0;
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        sleep_ms(10);
    }
    kill(p->pid, SIGKILL);
    waitpid(p->pid, NULL, 0);
    p->pid = 0;
    return -1;
}

/* Reads what is available from fd into buf (keeping it NUL-terminated). */
static void drain(int fd, char *buf, size_t cap, size_t *len, bool *open)
{
    char scratch[4096];
    ssize_t r = read(fd, scratch, sizeof scratch);

    if (r <= 0) {
        *open = false;
        return;
    }
    if (buf && *len + 1 < cap) {
        size_t n = (size_t)r < cap - 1 - *len ? (size_t)r : cap - 1 - *len;
        memcpy(buf + *len, scratch, n);
        *len += n;
        buf[*len] = '\0';
    }
}

int roostctl_run(const struct roostd_proc *p, char *out, size_t out_cap, char *err,
                 size_t err_cap, const char *const *args)
{
    int opipe[2], epipe[2], status;
    const char *argv[40];
    int n = 0;
    pid_t pid;
    size_t olen = 0, elen = 0;
    bool oopen = true, eopen = true;
    double deadline = harness_now() + 30;

    if (out && out_cap)
        out[0] = '\0';
    if (err && err_cap)
        err[0] = '\0';
    argv[n++] = harness_roostctl_bin;
    if (p) {
        argv[n++] = "--server";
        argv[n++] = p->addr;
    }
    for (int i = 0; args[i] && n < 39; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    if (pipe(opipe) != 0 || pipe(epipe) != 0)
        return -1;
    pid = fork();
    if (pid == 0) {
        dup2(opipe[1], 1);
        dup2(epipe[1], 2);
        close(opipe[0]);
        close(epipe[0]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(opipe[1]);
    close(epipe[1]);
    while ((oopen || eopen) && harness_now() < deadline) {
        struct pollfd fds[2] = {{opipe[0], POLLIN, 0}, {epipe[0], POLLIN, 0}};
        if (poll(fds, 2, 200) <= 0)
            continue;
        if (oopen && fds[0].revents)
            drain(opipe[0], out, out_cap, &olen, &oopen);
        if (eopen && fds[1].revents)
            drain(epipe[0], err, err_cap, &elen, &eopen);
    }
    close(opipe[0]);
    close(epipe[0]);
    if (oopen || eopen) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -1;
    }
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

uint64_t harness_json_u64(const char *json, const char *key)
{
    char pat[64];
    const char *p;

    snprintf(pat, sizeof pat, "\"%s\":", key);
    p = strstr(json, pat);
    return p ? strtoull(p + strlen(pat), NULL, 10) : 0;
}
