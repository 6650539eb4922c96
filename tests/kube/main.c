/* SPDX-License-Identifier: MIT */
/*
 * kube-apiserver-double: a Kubernetes API server double for tests. Usage in
 * doc/kube-double.md. main() is the init steps in order and their teardown.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

#include "double.h"

#define MAX_FILE (4u * 1024 * 1024)

struct options {
        const char *listen;
        const char *cert, *key, *client_ca, *ca;
        const char *token;
        const char *load;
        const char *state_out;
        const char *kubeconfig_out, *kc_client_cert, *kc_client_key;
        unsigned watch_timeout_s, compact_after, bookmark_interval_s;
        const char *identities[32], *allow[32];
        size_t n_identities, n_allow;
};

static void usage(FILE *f)
{
        fputs("usage: kube-apiserver-double --listen 127.0.0.1:PORT|unix:PATH\n"
              "         [--tls-cert F --tls-key F [--client-ca F] [--tls-ca F]] [--token TOKEN]\n"
              "         [--load DIR] [--state-out FILE] [--kubeconfig-out FILE\n"
              "         [--kubeconfig-client-cert F --kubeconfig-client-key F]]\n"
              "         [--watch-timeout-s N] [--compact-after N] [--bookmark-interval-s N]\n"
              "         [--identity TOKEN=USER[:GROUP,...]]... [--allow "
              "user|group=NAME:VERB:RES[/SUB]]...\n"
              "PORT 0 picks a free port. Prints \"ready URL\" on stdout once it serves;\n"
              "SIGTERM or SIGINT stops it (and writes --state-out). See doc/kube-double.md.\n",
              f);
}

static int parse_uint(const char *s, unsigned *ret)
{
        char *end;
        errno = 0;
        unsigned long v = strtoul(s, &end, 10);
        if (errno || !*s || *end || v > 100000000ul)
                return -EINVAL;
        *ret = (unsigned)v;
        return 0;
}

static int parse_args(int argc, char **argv, struct options *o)
{
        static const struct option longopts[] = {
            {"listen", required_argument, NULL, 'l'},
            {"tls-cert", required_argument, NULL, 'c'},
            {"tls-key", required_argument, NULL, 'k'},
            {"client-ca", required_argument, NULL, 'C'},
            {"tls-ca", required_argument, NULL, 'A'},
            {"token", required_argument, NULL, 't'},
            {"load", required_argument, NULL, 'L'},
            {"state-out", required_argument, NULL, 's'},
            {"kubeconfig-out", required_argument, NULL, 'o'},
            {"kubeconfig-client-cert", required_argument, NULL, 'x'},
            {"kubeconfig-client-key", required_argument, NULL, 'y'},
            {"watch-timeout-s", required_argument, NULL, 'w'},
            {"compact-after", required_argument, NULL, 'H'},
            {"bookmark-interval-s", required_argument, NULL, 'b'},
            {"identity", required_argument, NULL, 'I'},
            {"allow", required_argument, NULL, 'P'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
        };
        *o = (struct options){
            .watch_timeout_s = 1800, .compact_after = 10000, .bookmark_interval_s = 5};
        int ch, idx = 0;
        while ((ch = getopt_long(argc, argv, "h", longopts, &idx)) != -1) {
                int r = 0;
                switch (ch) {
                case 'l': o->listen = optarg; break;
                case 'c': o->cert = optarg; break;
                case 'k': o->key = optarg; break;
                case 'C': o->client_ca = optarg; break;
                case 'A': o->ca = optarg; break;
                case 't': o->token = optarg; break;
                case 'L': o->load = optarg; break;
                case 's': o->state_out = optarg; break;
                case 'o': o->kubeconfig_out = optarg; break;
                case 'x': o->kc_client_cert = optarg; break;
                case 'y': o->kc_client_key = optarg; break;
                case 'w': r = parse_uint(optarg, &o->watch_timeout_s); break;
                case 'H': r = parse_uint(optarg, &o->compact_after); break;
                case 'b': r = parse_uint(optarg, &o->bookmark_interval_s); break;
                case 'I':
                        if (o->n_identities < FERRY_ARRAY_SIZE(o->identities))
                                o->identities[o->n_identities++] = optarg;
                        break;
                case 'P':
                        if (o->n_allow < FERRY_ARRAY_SIZE(o->allow))
                                o->allow[o->n_allow++] = optarg;
                        break;
                case 'h': usage(stdout); exit(0);
                default: usage(stderr); return -EINVAL;
                }
                if (r < 0) {
                        fprintf(stderr, "kube-apiserver-double: --%s needs a number\n",
                                longopts[idx].name);
                        return r;
                }
        }
        if (!o->listen || optind != argc) {
                usage(stderr);
                return -EINVAL;
        }
        if (!o->cert != !o->key) {
                fprintf(stderr, "kube-apiserver-double: --tls-cert and --tls-key go together\n");
                return -EINVAL;
        }
        if (o->client_ca && !o->cert) {
                fprintf(stderr,
                        "kube-apiserver-double: --client-ca needs --tls-cert and --tls-key\n");
                return -EINVAL;
        }
        if (!o->compact_after || !o->watch_timeout_s) {
                fprintf(stderr, "kube-apiserver-double: --compact-after and --watch-timeout-s must "
                                "be at least 1\n");
                return -EINVAL;
        }
        return 0;
}

static char *read_or_die(const char *path)
{
        char *data = NULL;
        size_t len;
        if (!path)
                return NULL;
        int r = ferry_read_file(path, MAX_FILE, &data, &len);
        if (r < 0) {
                fprintf(stderr, "kube-apiserver-double: cannot read %s: %s\n", path, strerror(-r));
                exit(1);
        }
        return data;
}

/* ---- --load DIR: *.json files, each one object or a List, created in name order ---- */
static int load_one(struct kd_store *st, json_t *obj, const char *file)
{
        const char *kind = json_string_value(json_object_get(obj, "kind"));
        const char *av = json_string_value(json_object_get(obj, "apiVersion"));
        int r = kd_res_find_kind(av ? av : "", kind ? kind : "");
        if (r < 0) {
                fprintf(stderr, "kube-apiserver-double: %s: the double does not serve %s %s\n",
                        file, av ? av : "?", kind ? kind : "?");
                return -EINVAL;
        }
        struct kd_err e = {0};
        json_t *out = NULL;
        if (kd_create(st, (enum kd_res)r, kd_meta_str(obj, "namespace"), obj, true, &out, &e) < 0) {
                fprintf(stderr, "kube-apiserver-double: %s: %s\n", file, e.message);
                return -EINVAL;
        }
        json_decref(out);
        return 0;
}

static int load_dir(struct kd_store *st, const char *dir)
{
        struct dirent **names = NULL;
        int n = scandir(dir, &names, NULL, alphasort);
        if (n < 0) {
                fprintf(stderr, "kube-apiserver-double: cannot read %s: %s\n", dir,
                        strerror(errno));
                return -errno;
        }
        int r = 0;
        for (int i = 0; i < n; i++) {
                size_t l = strlen(names[i]->d_name);
                if (r == 0 && l > 5 && !strcmp(names[i]->d_name + l - 5, ".json")) {
                        _cleanup_free_ char *path = ferry_xasprintf("%s/%s", dir, names[i]->d_name);
                        json_error_t je;
                        json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
                        if (!j) {
                                fprintf(stderr, "kube-apiserver-double: %s:%d: %s\n", path, je.line,
                                        je.text);
                                r = -EINVAL;
                        } else if (json_is_array(json_object_get(j, "items")) &&
                                   strstr(json_string_value(json_object_get(j, "kind")) ?: "",
                                          "List")) {
                                size_t k;
                                json_t *it;
                                json_array_foreach(json_object_get(j, "items"), k, it) if (r == 0)
                                    r = load_one(st, it, path);
                        } else {
                                r = load_one(st, j, path);
                        }
                        json_decref(j);
                }
                free(names[i]);
        }
        free(names);
        return r;
}

/* ---- the kubeconfig ferry-node reads ---- */
static void yaml_b64(struct ferry_buf *b, const char *key, const char *pem, int indent)
{
        if (!pem)
                return;
        char *s = kd_base64(pem, strlen(pem), false);
        ferry_buf_printf(b, "%*s%s: %s\n", indent, "", key, s);
        free(s);
}

static int write_kubeconfig(const struct options *o, const char *url, const char *ca_pem)
{
        struct ferry_buf b = FERRY_BUF_INIT;
        _cleanup_free_ char *cc = read_or_die(o->kc_client_cert),
                            *ck = read_or_die(o->kc_client_key);
        ferry_buf_adds(
            &b, "# written by kube-apiserver-double\napiVersion: v1\nkind: Config\nclusters:\n"
                "- name: kube-apiserver-double\n  cluster:\n");
        ferry_buf_printf(&b, "    server: %s\n", url);
        if (ferry_str_startswith(url, "https:"))
                yaml_b64(&b, "certificate-authority-data", ca_pem, 4);
        ferry_buf_adds(
            &b,
            "contexts:\n- name: kube-apiserver-double\n  context:\n    cluster: "
            "kube-apiserver-double\n"
            "    user: ferry-node\n    namespace: default\ncurrent-context: kube-apiserver-double\n"
            "preferences: {}\nusers:\n- name: ferry-node\n  user:\n");
        bool any = false;
        if (o->token) {
                ferry_buf_printf(&b, "    token: %s\n", o->token);
                any = true;
        }
        if (cc && ck) {
                yaml_b64(&b, "client-certificate-data", cc, 4);
                yaml_b64(&b, "client-key-data", ck, 4);
                any = true;
        }
        if (!any)
                ferry_buf_adds(&b, "    {}\n");
        int r = ferry_write_file_atomic(o->kubeconfig_out, b.data, b.len, 0600, false);
        if (r < 0)
                fprintf(stderr, "kube-apiserver-double: cannot write %s: %s\n", o->kubeconfig_out,
                        strerror(-r));
        ferry_buf_free(&b);
        return r;
}

static int write_state(struct kd_store *st, const char *path)
{
        pthread_mutex_lock(&st->mu);
        json_t *dump = kd_store_dump(st);
        pthread_mutex_unlock(&st->mu);
        char *s = json_dumps(dump, JSON_INDENT(1));
        json_decref(dump);
        int r = ferry_write_file_atomic(path, s, strlen(s), 0644, false);
        if (r < 0)
                fprintf(stderr, "kube-apiserver-double: cannot write %s: %s\n", path, strerror(-r));
        free(s);
        return r;
}

int main(int argc, char **argv)
{
        struct options o;
        if (parse_args(argc, argv, &o) < 0)
                return 2;
        /* a test that dies takes its double with it */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        sigset_t sigs;
        sigemptyset(&sigs);
        sigaddset(&sigs, SIGINT);
        sigaddset(&sigs, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &sigs, NULL);
        signal(SIGPIPE, SIG_IGN);

        _cleanup_free_ char *cert = read_or_die(o.cert), *key = read_or_die(o.key),
                            *client_ca = read_or_die(o.client_ca), *ca = read_or_die(o.ca);
        struct kd_store st;
        kd_store_init(&st, o.compact_after);
        st.ca_pem = ferry_xstrdup(ca ? ca : cert ? cert : "");
        pthread_mutex_lock(&st.mu);
        kd_bootstrap(&st);
        int r = o.load ? load_dir(&st, o.load) : 0;
        pthread_mutex_unlock(&st.mu);
        if (r < 0) {
                kd_store_fini(&st);
                return 1;
        }

        struct kd_server_config cfg = {.listen = o.listen,
                                       .token = o.token,
                                       .cert_pem = cert,
                                       .key_pem = key,
                                       .client_ca_pem = client_ca,
                                       .watch_timeout_s = o.watch_timeout_s,
                                       .bookmark_interval_s = o.bookmark_interval_s,
                                       .identities = o.identities,
                                       .n_identities = o.n_identities,
                                       .allow = o.allow,
                                       .n_allow = o.n_allow};
        struct kd_server *srv = NULL;
        char url[300];
        ferry_error_t err;
        r = kd_server_start(&st, &cfg, &srv, url, sizeof(url), &err);
        if (r < 0) {
                fprintf(stderr, "kube-apiserver-double: %s\n", err.text);
                kd_store_fini(&st);
                return 1;
        }
        if (o.kubeconfig_out && write_kubeconfig(&o, url, st.ca_pem) < 0) {
                kd_server_stop(srv);
                kd_store_fini(&st);
                return 1;
        }
        printf("ready %s\n", url);
        fflush(stdout);

        int sig = 0;
        sigwait(&sigs, &sig);

        kd_server_stop(srv);
        r = o.state_out ? write_state(&st, o.state_out) : 0;
        kd_store_fini(&st);
        return r < 0 ? 1 : 0;
}
