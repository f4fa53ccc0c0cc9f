/* stan_child.c - the nats-server child process (see stan_child.h). */
#include "stan_child.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct stan_child {
    pid_t pid;
    stan_child_events ev;
    uv_pipe_t out;
    uv_signal_t sigchld;
    char line[4096];
    size_t len;
    int closed_handles;
};

static void emit_lines(stan_child *c, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\n' || c->len == sizeof c->line - 1) {
            c->line[c->len] = '\0';
            if (c->len && c->ev.line)
                c->ev.line(c->line, c->ev.ud);
            c->len = 0;
            if (p[i] == '\n')
                continue;
        }
        c->line[c->len++] = p[i];
    }
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    (void)h;
    b->base = malloc(hint);
    b->len = b->base ? hint : 0;
}

static void on_output(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    stan_child *c = s->data;
    if (n > 0)
        emit_lines(c, b->base, (size_t)n);
    else if (n < 0)
        uv_read_stop(s);
    free(b->base);
}

static void on_sigchld(uv_signal_t *h, int sig)
{
    stan_child *c = h->data;
    int status;
    (void)sig;
    if (c->pid > 0 && waitpid(c->pid, &status, WNOHANG) == c->pid) {
        c->pid = -1;
        if (c->ev.exited)
            c->ev.exited(status, c->ev.ud);
    }
}

int stan_child_start(uv_loop_t *loop, const char *bin, char *const argv[], const stan_child_events *ev,
                     stan_child **out, char *err, size_t errcap)
{
    int fds[2];
    stan_child *c = calloc(1, sizeof *c);
    if (!c || pipe2(fds, O_CLOEXEC)) {
        snprintf(err, errcap, "cannot start %s: %s", bin, strerror(errno));
        free(c);
        return -1;
    }
    c->ev = *ev;
    /* SIGCHLD is watched before the fork so that an early exit is not missed */
    uv_signal_init(loop, &c->sigchld);
    c->sigchld.data = c;
    uv_signal_start(&c->sigchld, on_sigchld, SIGCHLD);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        /* only async-signal-safe calls until exec: the parent has threads */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        signal(SIGPIPE, SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execv(bin, argv);
        static const char msg[] = "stan-server: cannot run the nats-server binary\n";
        (void)!write(2, msg, sizeof msg - 1);
        _exit(127);
    }
    int saved = errno;
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        snprintf(err, errcap, "cannot start %s: %s", bin, strerror(saved));
        uv_close((uv_handle_t *)&c->sigchld, (uv_close_cb)free);
        return -1;
    }
    c->pid = pid;
    uv_pipe_init(loop, &c->out, 0);
    c->out.data = c;
    uv_pipe_open(&c->out, fds[0]);
    uv_read_start((uv_stream_t *)&c->out, on_alloc, on_output);
    *out = c;
    return 0;
}

static void handle_closed(uv_handle_t *h)
{
    stan_child *c = h->data;
    if (++c->closed_handles == 2)
        free(c);
}

void stan_child_stop(stan_child *c, int timeout_ms)
{
    if (!c)
        return;
    if (c->pid > 0) {
        kill(c->pid, SIGTERM);
        int status;
        struct timespec tick = {0, 2000000};
        for (int waited = 0; waitpid(c->pid, &status, WNOHANG) != c->pid; waited += 2) {
            if (waited >= timeout_ms) {
                kill(c->pid, SIGKILL);
                waitpid(c->pid, &status, 0);
                break;
            }
            nanosleep(&tick, NULL);
        }
        c->pid = -1;
    }
    /* its last words (shutdown messages) are still in the pipe */
    int fd = -1;
    uv_fileno((uv_handle_t *)&c->out, &fd);
    char buf[4096];
    ssize_t n;
    while (fd >= 0 && (n = read(fd, buf, sizeof buf)) > 0)
        emit_lines(c, buf, (size_t)n);
    if (c->len) {
        char nl = '\n';
        emit_lines(c, &nl, 1);
    }
    uv_signal_stop(&c->sigchld);
    uv_close((uv_handle_t *)&c->sigchld, handle_closed);
    uv_close((uv_handle_t *)&c->out, handle_closed);
}

int stan_wait_for_port(const char *host, int port, int timeout_ms, int *waited_ms)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    *waited_ms = 0;
    if (getaddrinfo(host, ps, &hints, &ai))
        return 0;   /* nats-server will say what is wrong with the address */
    int last = 0;
    struct timespec tick = {0, 5000000}, t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0), one = 1;
        if (fd < 0) {
            last = 0;
            break;
        }
        /* as nats-server binds: SO_REUSEADDR, so only a listener (not TIME_WAIT) is in the way */
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        last = bind(fd, ai->ai_addr, ai->ai_addrlen) ? errno : 0;
        close(fd);
        if (last != EADDRINUSE || *waited_ms >= timeout_ms)
            break;
        nanosleep(&tick, NULL);
        clock_gettime(CLOCK_MONOTONIC, &now);
        *waited_ms = (int)((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000);
    }
    freeaddrinfo(ai);
    return last == EADDRINUSE ? last : 0;
}
