/* SPDX-License-Identifier: MIT */
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

extern char **environ;

static void capture(int *fd, struct ferry_buf *b, size_t max, int *trunc)
{
        char chunk[16384];
        ssize_t n = read(*fd, chunk, sizeof(chunk));

        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return;
        if (n <= 0) {
                close(*fd);
                *fd = -1;
                return;
        }
        size_t room = b->len < max ? max - b->len : 0;
        size_t take = (size_t)n < room ? (size_t)n : room;
        if (take < (size_t)n)
                *trunc = 1;
        ferry_buf_add(b, chunk, take);
}

int ferry_spawn_run(const char *const argv[], const char *const envp[], const char *in,
                    size_t in_len, int timeout_ms, size_t out_max, struct ferry_spawn_result *ret,
                    ferry_error_t *err)
{
        int pin[2] = {-1, -1}, pout[2] = {-1, -1}, perr[2] = {-1, -1};
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        struct ferry_buf ob = FERRY_BUF_INIT, eb = FERRY_BUF_INIT;
        sigset_t none;
        pid_t pid;
        int r;

        memset(ret, 0, sizeof(*ret));
        ret->exit_code = -1;
        if (pipe2(pin, O_CLOEXEC) < 0 || pipe2(pout, O_CLOEXEC) < 0 || pipe2(perr, O_CLOEXEC) < 0) {
                r = -errno;
                for (int i = 0; i < 2; i++) {
                        if (pin[i] >= 0)
                                close(pin[i]);
                        if (pout[i] >= 0)
                                close(pout[i]);
                        if (perr[i] >= 0)
                                close(perr[i]);
                }
                return ferry_errprintf(err, r, "cannot create pipes: %s", strerror(-r));
        }
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, pin[0], 0);
        posix_spawn_file_actions_adddup2(&fa, pout[1], 1);
        posix_spawn_file_actions_adddup2(&fa, perr[1], 2);
        posix_spawnattr_init(&attr);
        sigemptyset(&none);
        posix_spawnattr_setsigmask(&attr, &none);
        {
                sigset_t def;
                sigemptyset(&def);
                sigaddset(&def, SIGPIPE);
                sigaddset(&def, SIGTERM);
                sigaddset(&def, SIGINT);
                sigaddset(&def, SIGCHLD);
                posix_spawnattr_setsigdefault(&attr, &def);
        }
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
        r = posix_spawnp(&pid, argv[0], &fa, &attr, (char *const *)argv,
                         envp ? (char *const *)envp : environ);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        close(pin[0]);
        close(pout[1]);
        close(perr[1]);
        if (r != 0) {
                close(pin[1]);
                close(pout[0]);
                close(perr[0]);
                return ferry_errprintf(err, -r, "cannot run %s: %s", argv[0], strerror(r));
        }

        int fin = pin[1], fout = pout[0], ferr_ = perr[0];
        size_t in_off = 0;
        if (!in || in_len == 0) {
                close(fin);
                fin = -1;
        } else {
                fcntl(fin, F_SETFL, O_NONBLOCK);
        }
        int64_t deadline =
            timeout_ms > 0 ? ferry_monotonic_ns() + (int64_t)timeout_ms * 1000000 : 0;
        while (fout >= 0 || ferr_ >= 0) {
                struct pollfd pf[3];
                int n = 0, wait_ms = -1;
                if (fout >= 0)
                        pf[n++] = (struct pollfd){.fd = fout, .events = POLLIN};
                if (ferr_ >= 0)
                        pf[n++] = (struct pollfd){.fd = ferr_, .events = POLLIN};
                if (fin >= 0)
                        pf[n++] = (struct pollfd){.fd = fin, .events = POLLOUT};
                if (deadline) {
                        int64_t left = deadline - ferry_monotonic_ns();
                        if (left <= 0) {
                                kill(pid, SIGKILL);
                                ret->timed_out = 1;
                                break;
                        }
                        wait_ms = (int)(left / 1000000) + 1;
                }
                if (poll(pf, (nfds_t)n, wait_ms) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                for (int i = 0; i < n; i++) {
                        if (!pf[i].revents)
                                continue;
                        if (pf[i].fd == fout)
                                capture(&fout, &ob, out_max, &ret->out_truncated);
                        else if (pf[i].fd == ferr_)
                                capture(&ferr_, &eb, out_max, &ret->err_truncated);
                        else if (pf[i].fd == fin) {
                                ssize_t w = write(fin, in + in_off, in_len - in_off);
                                if (w > 0)
                                        in_off += (size_t)w;
                                if ((w < 0 && errno != EAGAIN && errno != EINTR) ||
                                    in_off >= in_len) {
                                        close(fin);
                                        fin = -1;
                                }
                        }
                }
        }
        if (fin >= 0)
                close(fin);
        if (fout >= 0)
                close(fout);
        if (ferr_ >= 0)
                close(ferr_);

        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (WIFEXITED(status))
                ret->exit_code = WEXITSTATUS(status);
        else if (WIFSIGNALED(status))
                ret->term_signal = WTERMSIG(status);
        ret->out_len = ob.len;
        ret->out = ferry_buf_steal(&ob);
        ret->err_len = eb.len;
        ret->err = ferry_buf_steal(&eb);
        return 0;
}

void ferry_spawn_result_free(struct ferry_spawn_result *r)
{
        free(r->out);
        free(r->err);
        r->out = r->err = NULL;
}
