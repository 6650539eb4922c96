/* SPDX-License-Identifier: MIT */
/* Running one probe or hook: see probe.h. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gnutls/gnutls.h>
#include <grp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "shim/probe.h"

static bool same_mnt_ns(pid_t pid)
{
        char p[64];
        struct stat a, b;
        snprintf(p, sizeof(p), "/proc/%d/ns/mnt", (int)pid);
        return stat(p, &a) == 0 && stat("/proc/self/ns/mnt", &b) == 0 && a.st_ino == b.st_ino &&
               a.st_dev == b.st_dev;
}

static bool same_exe(pid_t a, const char *exe)
{
        char p[64], buf[PATH_MAX];
        snprintf(p, sizeof(p), "/proc/%d/exe", (int)a);
        ssize_t n = readlink(p, buf, sizeof(buf) - 1);
        if (n < 0)
                return true; /* gone, or not ours to read: not the payload */
        buf[n] = '\0';
        return !strcmp(buf, exe);
}

/* Breadth-first over /proc/<pid>/task/<pid>/children: the first process in
 * another mount namespace that runs something else than the runtime itself.
 * The runtime's own children in there (bwrap's sandbox init, before it has
 * made the root and written the uid map) are still setting up: entering them
 * then finds no root and no user (a postStart hook failed with 126 so). */
pid_t probe_find_ns_pid(pid_t leader)
{
        pid_t q[64];
        size_t h = 0, n = 0;
        char lexe[PATH_MAX] = "", path[96];
        snprintf(path, sizeof(path), "/proc/%d/exe", (int)leader);
        ssize_t k = readlink(path, lexe, sizeof(lexe) - 1);
        lexe[k > 0 ? k : 0] = '\0';
        q[n++] = leader;
        while (h < n) {
                pid_t p = q[h++];
                char *text = NULL;
                size_t len;
                if (p != leader && !same_mnt_ns(p) && !same_exe(p, lexe))
                        return p;
                snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)p, (int)p);
                if (ferry_read_file(path, 4096, &text, &len) < 0)
                        continue;
                for (char *s = text; *s && n < FERRY_ARRAY_SIZE(q);) {
                        char *end;
                        long c = strtol(s, &end, 10);
                        if (end == s)
                                break;
                        q[n++] = (pid_t)c;
                        s = end;
                }
                free(text);
        }
        return 0;
}

/* The host uid/gid of pid (the container's user outside its user namespace). */
static int proc_ids(pid_t pid, uid_t *uid, gid_t *gid)
{
        char p[64], *text = NULL;
        size_t len;
        snprintf(p, sizeof(p), "/proc/%d/status", (int)pid);
        if (ferry_read_file(p, 65536, &text, &len) < 0)
                return -ESRCH;
        char *u = strstr(text, "\nUid:"), *g = strstr(text, "\nGid:");
        int r = u && g ? 0 : -EINVAL;
        if (r == 0) {
                *uid = (uid_t)strtoul(u + 5, NULL, 10);
                *gid = (gid_t)strtoul(g + 5, NULL, 10);
        }
        free(text);
        return r;
}

/* A host id as seen inside pid's user namespace (its uid_map / gid_map). */
static long inner_id(pid_t pid, const char *map, unsigned long host)
{
        char p[64];
        snprintf(p, sizeof(p), "/proc/%d/%s", (int)pid, map);
        FILE *f = fopen(p, "re");
        unsigned long in, out, count;
        long r = -1;
        while (f && r < 0 && fscanf(f, "%lu %lu %lu", &in, &out, &count) == 3)
                if (host >= out && host - out < count)
                        r = (long)(in + (host - out));
        if (f)
                fclose(f);
        return r;
}

static bool same_ns(pid_t pid, const char *ns)
{
        char p[64], q[64];
        struct stat a, b;
        snprintf(p, sizeof(p), "/proc/%d/ns/%s", (int)pid, ns);
        snprintf(q, sizeof(q), "/proc/self/ns/%s", ns);
        return stat(p, &a) == 0 && stat(q, &b) == 0 && a.st_ino == b.st_ino;
}

/* Join pid's namespaces: all of them (exec), or only its network (http/tcp).
 * Its user namespace first when it has its own: the others belong to it. */
static int enter(pid_t pid, bool all)
{
        static const char *const all_ns[] = {"user", "cgroup", "ipc", "uts", "net", "pid", "mnt"};
        int fds[7], n = 0;
        bool user = false; /* fds[0] is the user namespace */
        for (size_t i = 0; i < FERRY_ARRAY_SIZE(all_ns); i++) {
                if (!all && strcmp(all_ns[i], "net"))
                        continue;
                if (same_ns(pid, all_ns[i]))
                        continue; /* setns to our own user namespace fails */
                char p[64];
                snprintf(p, sizeof(p), "/proc/%d/ns/%s", (int)pid, all_ns[i]);
                fds[n] = open(p, O_RDONLY | O_CLOEXEC);
                if (fds[n] >= 0) {
                        user |= n == 0 && !strcmp(all_ns[i], "user");
                        n++;
                } else if (strcmp(all_ns[i], "cgroup"))
                        return -errno;
        }
        /* util-linux nsenter's two passes: as root, the others first (our
         * own privileges), the user namespace last; unprivileged, what fails
         * first works after the user namespace. mnt last of the others: it
         * sets our root and working directory to the namespace's. */
        for (int pass = 0; pass < 2; pass++)
                for (int i = 0; i < n; i++) {
                        if (fds[i] < 0 || (pass == 0 && i == 0 && user))
                                continue;
                        if (setns(fds[i], 0) < 0) {
                                if (pass == 1)
                                        return -errno;
                                continue;
                        }
                        close(fds[i]);
                        fds[i] = -1;
                }
        return 0;
}

/* Nothing of root's power stays with a probe that is uid 0 in the
 * container's user namespace: the container's own processes have none. */
static void drop_caps(void)
{
        struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
        struct __user_cap_data_struct d[2] = {{0}};
        for (int c = 0; c <= 63; c++)
                prctl(PR_CAPBSET_DROP, c, 0, 0, 0);
        syscall(SYS_capset, &h, d);
}

static void child_fail(int fd, const char *what)
{
        dprintf(fd, "%s: %s\n", what, strerror(errno));
        _exit(126);
}

/* Host, port -> a connected socket within timeout_s, or -1 with a message. */
static int dial(const struct ferry_handler *h, int64_t timeout_s, int out)
{
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
        char port[16];
        snprintf(port, sizeof(port), "%d", h->port);
        const char *host = h->host ? h->host : "127.0.0.1";
        int e = getaddrinfo(host, port, &hints, &ai);
        if (e) {
                dprintf(out, "cannot resolve %s: %s\n", host, gai_strerror(e));
                return -1;
        }
        int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        int r = fd < 0 ? -1 : connect(fd, ai->ai_addr, ai->ai_addrlen);
        if (r < 0 && errno == EINPROGRESS) {
                struct pollfd pf = {.fd = fd, .events = POLLOUT};
                int err = 0;
                socklen_t l = sizeof(err);
                r = poll(&pf, 1, (int)(timeout_s * 1000));
                if (r == 0)
                        errno = ETIMEDOUT;
                if (r > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) == 0 && err)
                        errno = err;
                r = r > 0 && !err ? 0 : -1;
        }
        if (r < 0) {
                dprintf(out, "dial tcp %s:%d: %s\n", host, h->port, strerror(errno));
                freeaddrinfo(ai);
                return -1;
        }
        freeaddrinfo(ai);
        fcntl(fd, F_SETFL, 0);
        return fd;
}

/* The request over TLS, and the answer's first line into line. As the
 * kubelet does for HTTPS probes, the server's certificate is not verified:
 * the probe asks whether the server answers, not who it is. Returns the
 * bytes read, or -1 with a message. */
static ssize_t tls_exchange(int fd, const char *host, int64_t timeout_s,
                            const struct ferry_buf *req, char *line, size_t size, int out)
{
        gnutls_certificate_credentials_t cred = NULL;
        gnutls_session_t s = NULL;
        ssize_t n = -1;
        int r;

        if ((r = gnutls_certificate_allocate_credentials(&cred)) < 0 ||
            (r = gnutls_init(&s, GNUTLS_CLIENT)) < 0 || (r = gnutls_set_default_priority(s)) < 0 ||
            (r = gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred)) < 0) {
                dprintf(out, "HTTPS probe failed: %s\n", gnutls_strerror(r));
                goto done;
        }
        struct in6_addr a6;
        struct in_addr a4;
        if (inet_pton(AF_INET, host, &a4) != 1 && inet_pton(AF_INET6, host, &a6) != 1)
                gnutls_server_name_set(s, GNUTLS_NAME_DNS, host, strlen(host));
        gnutls_transport_set_int(s, fd);
        gnutls_handshake_set_timeout(s, (unsigned)(timeout_s * 1000));
        do
                r = gnutls_handshake(s);
        while (r < 0 && !gnutls_error_is_fatal(r));
        if (r < 0) {
                dprintf(out, "HTTPS probe failed: TLS handshake: %s\n", gnutls_strerror(r));
                goto done;
        }
        for (size_t off = 0; off < req->len;) {
                ssize_t k = gnutls_record_send(s, req->data + off, req->len - off);
                if (k < 0 && !gnutls_error_is_fatal((int)k))
                        continue;
                if (k <= 0) {
                        dprintf(out, "HTTPS probe failed: cannot send: %s\n",
                                gnutls_strerror((int)k));
                        goto done;
                }
                off += (size_t)k;
        }
        n = 0;
        while ((size_t)n < size - 1) {
                ssize_t k = gnutls_record_recv(s, line + n, size - 1 - (size_t)n);
                if (k < 0 && !gnutls_error_is_fatal((int)k))
                        continue;
                if (k <= 0)
                        break;
                n += k;
                if (memchr(line, '\n', (size_t)n))
                        break;
        }
done:
        if (s)
                gnutls_deinit(s);
        if (cred)
                gnutls_certificate_free_credentials(cred);
        return n;
}

/* GET path; success for 200..399, as the kubelet. */
static int http_get(const struct ferry_handler *h, int64_t timeout_s, int out)
{
        int fd = dial(h, timeout_s, out);
        if (fd < 0)
                return 1;
        struct ferry_buf b = FERRY_BUF_INIT;
        bool host_set = false, ua_set = false;
        for (size_t i = 0; i + 1 < h->n_headers; i += 2) {
                host_set |= !strcasecmp(h->headers[i], "Host");
                ua_set |= !strcasecmp(h->headers[i], "User-Agent");
        }
        ferry_buf_printf(&b, "GET %s HTTP/1.1\r\n", h->path ? h->path : "/");
        if (!host_set)
                ferry_buf_printf(&b, "Host: %s:%d\r\n", h->host ? h->host : "127.0.0.1", h->port);
        if (!ua_set)
                ferry_buf_adds(&b, "User-Agent: kube-probe/ferry\r\n");
        for (size_t i = 0; i + 1 < h->n_headers; i += 2)
                ferry_buf_printf(&b, "%s: %s\r\n", h->headers[i], h->headers[i + 1]);
        ferry_buf_adds(&b, "Accept: */*\r\nConnection: close\r\n\r\n");
        struct timeval tv = {.tv_sec = timeout_s};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        char line[256];
        size_t n = 0;
        if (h->https) {
                ssize_t k = tls_exchange(fd, h->host ? h->host : "127.0.0.1", timeout_s, &b, line,
                                         sizeof(line), out);
                if (k < 0)
                        return 1;
                n = (size_t)k;
        } else if (ferry_write_all(fd, b.data, b.len) < 0) {
                dprintf(out, "HTTP probe failed: cannot send: %s\n", strerror(errno));
                return 1;
        }
        ferry_buf_free(&b);
        while (!h->https && n < sizeof(line) - 1) {
                ssize_t k = read(fd, line + n, sizeof(line) - 1 - n);
                if (k <= 0)
                        break;
                n += (size_t)k;
                if (memchr(line, '\n', n))
                        break;
        }
        line[n] = '\0';
        int code = 0;
        if (sscanf(line, "HTTP/%*d.%*d %d", &code) != 1) {
                dprintf(out, "HTTP probe failed: %s\n",
                        n ? "not an HTTP answer" : "no answer before the timeout");
                return 1;
        }
        if (code < 200 || code >= 400) {
                dprintf(out, "HTTP probe failed with statuscode: %d\n", code);
                return 1;
        }
        return 0;
}

pid_t probe_spawn(const struct ferry_handler *h, const struct probe_target *t, int64_t timeout_s,
                  const char *out_path)
{
        int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (out < 0)
                return -errno;
        pid_t pid = fork();
        if (pid != 0) {
                close(out);
                return pid < 0 ? -errno : pid;
        }
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        sigset_t none;
        sigemptyset(&none);
        for (int s = 1; s < NSIG; s++)
                if (s != SIGKILL && s != SIGSTOP)
                        signal(s, SIG_DFL);
        sigprocmask(SIG_SETMASK, &none, NULL);
        int null = open("/dev/null", O_RDONLY);
        dup2(null, 0);
        if (h->kind == FERRY_H_SLEEP) {
                struct timespec ts = {.tv_sec = h->seconds};
                while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                        ;
                _exit(0);
        }
        if (h->kind == FERRY_H_HTTP || h->kind == FERRY_H_TCP) {
                if (t->ns_pid > 0 && enter(t->ns_pid, false) < 0)
                        child_fail(out, "cannot enter the container's network");
                if (h->kind == FERRY_H_TCP) {
                        int fd = dial(h, timeout_s, out);
                        _exit(fd < 0 ? 1 : 0);
                }
                _exit(http_get(h, timeout_s, out));
        }
        /* exec */
        dup2(out, 1);
        dup2(out, 2);
        if (t->cg && t->cg->version && runner_cg_enter(t->cg) < 0)
                child_fail(out, "cannot enter the container's cgroup");
        if (t->enter_argv) {
                size_t n = 0, m = 0;
                while (t->enter_argv[n])
                        n++;
                char **argv = ferry_xcalloc(n + h->n_argv + 1, sizeof(char *));
                for (size_t i = 0; i < n; i++)
                        argv[m++] = t->enter_argv[i];
                for (size_t i = 0; i < h->n_argv; i++)
                        argv[m++] = h->argv[i];
                char *env[] = {(char *)"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/"
                                       "sbin:/bin",
                               NULL};
                execve(argv[0], argv, env);
                execvpe(argv[0], argv, env);
                child_fail(out, "cannot run the runtime's exec");
        }
        if (t->ns_pid > 0) {
                uid_t uid;
                gid_t gid;
                if (proc_ids(t->ns_pid, &uid, &gid) < 0)
                        child_fail(out, "the container is gone");
                bool own_userns = same_ns(t->ns_pid, "user");
                /* the ids the container has inside its user namespace, if any
                 * (read now: once in its mount namespace, /proc is its own) */
                long iu = own_userns ? (long)uid : inner_id(t->ns_pid, "uid_map", uid);
                long ig = own_userns ? (long)gid : inner_id(t->ns_pid, "gid_map", gid);
                /* no supplementary group of ours goes in (before the user
                 * namespace, where setgroups may be denied) */
                if (setgroups(1, &gid) < 0)
                        child_fail(out, "setgroups");
                if (enter(t->ns_pid, true) < 0)
                        child_fail(out, "cannot enter the container's namespaces");
                /* a new pid namespace takes effect for children */
                pid_t c = fork();
                if (c < 0)
                        child_fail(out, "fork");
                if (c > 0) {
                        int st;
                        while (waitpid(c, &st, 0) < 0 && errno == EINTR)
                                ;
                        _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
                }
                if (chdir("/") < 0 || iu < 0 || ig < 0 ||
                    setresgid((gid_t)ig, (gid_t)ig, (gid_t)ig) < 0 ||
                    setresuid((uid_t)iu, (uid_t)iu, (uid_t)iu) < 0)
                        child_fail(out, "cannot become the container's user");
                drop_caps();
        } else {
                if (t->cwd && chdir(t->cwd) < 0)
                        child_fail(out, "chdir");
                if (t->drop && t->drop() < 0)
                        child_fail(out, "cannot become the pod's user");
        }
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        environ = t->envp;
        execvp(h->argv[0], h->argv);
        dprintf(out, "exec \"%s\": %s\n", h->argv[0], strerror(errno));
        _exit(126);
}

bool probe_result(const struct ferry_handler *h, int wstatus, bool timed_out, const char *out_path,
                  char *msg, size_t size)
{
        char *text = NULL;
        size_t len = 0;
        ferry_read_file(out_path, 1 << 20, &text, &len);
        /* the first line of what it said, for a status message */
        if (text) {
                char *nl = strchr(text, '\n');
                if (nl)
                        *nl = '\0';
                if (strlen(text) > 160)
                        text[160] = '\0';
        }
        bool ok = !timed_out && WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0;
        if (ok)
                snprintf(msg, size, "ok");
        else if (timed_out)
                snprintf(msg, size, "timed out after the probe's timeoutSeconds");
        else if (h->kind == FERRY_H_EXEC)
                snprintf(msg, size, "command %s with %d%s%s",
                         WIFEXITED(wstatus) ? "exited" : "was killed by signal",
                         WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : WTERMSIG(wstatus),
                         text && *text ? ": " : "", text ? text : "");
        else
                snprintf(msg, size, "%s", text && *text ? text : "failed");
        free(text);
        return ok;
}
