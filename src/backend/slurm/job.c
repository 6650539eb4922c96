/* SPDX-License-Identifier: MIT */
/*
 * Pod + site -> struct slurm_job (job.h): pure, no I/O. The rules are in
 * doc/slurm-backend.md; the short version: the batch script holds only the
 * two admin paths, every sbatch option is its own argv item built from
 * numbers, admin-written names or pod values that passed the site's
 * allow-list and a character check, and the pod itself becomes a run spec
 * for ferry-shim.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "backend/slurm/job.h"
#include "backend/slurm/job_internal.h"
#include "common/util.h"

#define ANN_PREFIX "slurm-job.vk.io/"
#define ANN_MAX_BYTES 4096
#define ANN_MAX_TOKENS 64
#define PRE_EXEC_MAX_BYTES 65536
#define MAX_BINDS 32
#define UID_MAX_LEN 128

void slurm_strv_free(char **v, size_t n)
{
        for (size_t i = 0; v && i < n; i++)
                free(v[i]);
        free(v);
}

struct strv {
        char **v;
        size_t n;
};

static void strv_push(struct strv *s, char *owned)
{
        s->v = ferry_xrealloc(s->v, (s->n + 2) * sizeof(char *));
        s->v[s->n++] = owned;
        s->v[s->n] = NULL;
}

bool slurm_abs_path_ok(const char *p)
{
        if (!p || p[0] != '/' || strlen(p) > 4096)
                return false;
        if (!p[1])
                return true;
        for (const char *s = p + 1;;) {
                const char *e = strchr(s, '/');
                size_t len = e ? (size_t)(e - s) : strlen(s);
                if (len == 0 && e) /* "//" */
                        return false;
                if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
                        return false;
                if (!e)
                        break;
                s = e + 1;
        }
        for (const char *s = p; *s; s++)
                if ((unsigned char)*s < 0x20 || *s == 0x7f)
                        return false;
        return true;
}

/* ---- sbatch options ---- */

/* Short options of sbatch and their long names (for the allow-list and to
 * emit every option as one "--name[=value]" item). */
static const struct {
        char c;
        const char *name;
} short_opts[] = {
    {'A', "account"},   {'a', "array"},         {'B', "extra-node-info"},
    {'b', "begin"},     {'C', "constraint"},    {'c', "cpus-per-task"},
    {'D', "chdir"},     {'d', "dependency"},    {'e', "error"},
    {'F', "nodefile"},  {'G', "gpus"},          {'H', "hold"},
    {'h', "help"},      {'I', "immediate"},     {'i', "input"},
    {'J', "job-name"},  {'k', "no-kill"},       {'L', "licenses"},
    {'M', "clusters"},  {'m', "distribution"},  {'N', "nodes"},
    {'n', "ntasks"},    {'O', "overcommit"},    {'o', "output"},
    {'p', "partition"}, {'Q', "quiet"},         {'q', "qos"},
    {'S', "core-spec"}, {'s', "oversubscribe"}, {'t', "time"},
    {'V', "version"},   {'v', "verbose"},       {'W', "wait"},
    {'w', "nodelist"},  {'x', "exclude"},
};

/* Options ferryd sets itself or that would break one-job-per-pod, finding
 * jobs by name, or the shim's files. Never allowed, whatever the site says. */
static const char *const reserved_opts[] = {
    "job-name",     "chdir",  "output",      "error",    "input",     "wrap",         "uid",
    "gid",          "export", "export-file", "parsable", "test-only", "get-user-env", "container",
    "container-id", "array",  "wait",        "clusters", "help",      "usage",        "version",
};

static const char *short_to_long(char c)
{
        for (size_t i = 0; i < FERRY_ARRAY_SIZE(short_opts); i++)
                if (short_opts[i].c == c)
                        return short_opts[i].name;
        return NULL;
}

static char long_to_short(const char *name)
{
        for (size_t i = 0; i < FERRY_ARRAY_SIZE(short_opts); i++)
                if (!strcmp(short_opts[i].name, name))
                        return short_opts[i].c;
        return 0;
}

const char *slurm_flag_reserved(const char *opt)
{
        const char *name;
        size_t len;

        if (opt[0] != '-')
                return NULL;
        if (opt[1] != '-') {
                name = opt[1] && !opt[2] ? short_to_long(opt[1]) : NULL;
                if (!name)
                        return NULL;
                len = strlen(name);
        } else {
                name = opt + 2;
                len = strcspn(name, "=");
        }
        for (size_t i = 0; i < FERRY_ARRAY_SIZE(reserved_opts); i++) {
                size_t rl = strlen(reserved_opts[i]);
                /* exact, or an abbreviation getopt_long would expand (>= 3 chars) */
                if ((len == rl || (len >= 3 && len < rl)) && !strncmp(name, reserved_opts[i], len))
                        return reserved_opts[i];
        }
        return NULL;
}

int slurm_time_parse(const char *s, int64_t *ret_s)
{
        long long v[4] = {0};
        int n = 0;
        long long days = -1;
        const char *p = s;

        if (!strcasecmp(s, "UNLIMITED") || !strcasecmp(s, "INFINITE") || !strcmp(s, "0") ||
            !strcmp(s, "-1")) {
                *ret_s = -1;
                return 0;
        }
        if (!*s || strlen(s) > 32)
                return -EINVAL;
        const char *dash = strchr(s, '-');
        if (dash) {
                char *end;
                days = strtoll(s, &end, 10);
                if (end != dash || end == s || days < 0 || days > 365000)
                        return -EINVAL;
                p = dash + 1;
        }
        for (;;) {
                char *end;
                if (*p < '0' || *p > '9' || n == 3)
                        return -EINVAL;
                v[n++] = strtoll(p, &end, 10);
                if (v[n - 1] > 100000000)
                        return -EINVAL;
                if (*end == '\0')
                        break;
                if (*end != ':')
                        return -EINVAL;
                p = end + 1;
        }
        int64_t sec;
        if (days >= 0) { /* D-H, D-H:M, D-H:M:S */
                sec = days * 86400 + v[0] * 3600 + (n > 1 ? v[1] * 60 : 0) + (n > 2 ? v[2] : 0);
        } else if (n == 1) { /* M */
                sec = v[0] * 60;
        } else if (n == 2) { /* M:S */
                sec = v[0] * 60 + v[1];
        } else { /* H:M:S */
                sec = v[0] * 3600 + v[1] * 60 + v[2];
        }
        *ret_s = sec > 0 ? sec : -1;
        return 0;
}

/* ---- annotations ---- */

/* Characters a token may hold: printable ASCII without quotes, '$', '`' and
 * '\' (nothing interprets them here, but a value that carries shell syntax is
 * a sign of a copy-paste from upstream's script-pasting, and refusing it is
 * clearer than passing it on literally). */
static bool token_char_ok(unsigned char ch)
{
        return ch > 0x20 && ch < 0x7f && !strchr("'\"`$\\", ch);
}

static int tokenize(const char *key, const char *val, struct strv *out, ferry_error_t *err)
{
        if (strlen(val) > ANN_MAX_BYTES)
                return ferry_errprintf(err, -E2BIG, "annotation %s is longer than %d bytes", key,
                                       ANN_MAX_BYTES);
        for (const char *p = val; *p;) {
                if (strchr(" \t\n\r\v\f", *p)) {
                        p++;
                        continue;
                }
                size_t len = 0;
                while (p[len] && !strchr(" \t\n\r\v\f", p[len])) {
                        if (!token_char_ok((unsigned char)p[len]))
                                return ferry_errprintf(
                                    err, -EINVAL,
                                    "annotation %s: \"%.*s\" contains %s; values are taken "
                                    "literally (no shell), so write them without quotes, "
                                    "'$', '`' or '\\'",
                                    key, (int)strcspn(p, " \t\n\r\v\f"), p,
                                    (unsigned char)p[len] < 0x20 || (unsigned char)p[len] >= 0x7f
                                        ? "a control or non-ASCII character"
                                        : "a forbidden character");
                        len++;
                }
                if (out->n >= ANN_MAX_TOKENS)
                        return ferry_errprintf(err, -E2BIG, "annotation %s has more than %d words",
                                               key, ANN_MAX_TOKENS);
                strv_push(out, ferry_xstrndup(p, len));
                p += len;
        }
        return 0;
}

static bool in_list(char *const *v, size_t n, const char *s)
{
        for (size_t i = 0; i < n; i++)
                if (!strcmp(v[i], s))
                        return true;
        return false;
}

static void list_join(struct ferry_buf *b, char *const *v, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                if (i)
                        ferry_buf_adds(b, ", ");
                ferry_buf_adds(b, v[i]);
        }
        if (!n)
                ferry_buf_adds(b, "none");
}

struct tr {
        const struct ferry_pod *pod;
        const struct slurm_site *site;
        struct slurm_job *j;
        struct strv user_flags; /* checked --name[=value] items from the flags annotation */
        char *user_time;        /* --time from the annotation */
        ferry_error_t *err;
};

static int flags_annotation(struct tr *t, const char *val)
{
        const char *key = ANN_PREFIX "flags";
        struct strv tok = {0};
        int r = tokenize(key, val, &tok, t->err);

        for (size_t i = 0; r == 0 && i < tok.n; i++) {
                const char *tk = tok.v[i];
                char written[64];
                const char *name, *value = NULL;
                _cleanup_free_ char *lname = NULL;

                if (tk[0] != '-' || !tk[1] || !strcmp(tk, "--")) {
                        r = ferry_errprintf(t->err, -EINVAL,
                                            "annotation %s: \"%s\" is not an sbatch option "
                                            "(only options are accepted, e.g. --time=00:30:00)",
                                            key, tk);
                        break;
                }
                if (tk[1] == '-') {
                        size_t nl = strcspn(tk + 2, "=");
                        lname = ferry_xstrndup(tk + 2, nl);
                        if (tk[2 + nl] == '=')
                                value = tk + 3 + nl;
                        snprintf(written, sizeof(written), "--%.60s", lname);
                        name = lname;
                } else {
                        snprintf(written, sizeof(written), "-%c", tk[1]);
                        name = short_to_long(tk[1]);
                        if (tk[2])
                                value = tk + 2;
                }
                if (!value && i + 1 < tok.n && tok.v[i + 1][0] != '-')
                        value = tok.v[++i];
                const char *res = slurm_flag_reserved(written);
                if (res) {
                        r = ferry_errprintf(t->err, -EPERM,
                                            "annotation %s: option %s is reserved: a pod may never "
                                            "set --%s (ferryd sets it, or it would break one job "
                                            "per pod)",
                                            key, written, res);
                        break;
                }
                /* allowed as written, or under its other spelling */
                bool ok = in_list(t->site->allowed_flags, t->site->n_allowed_flags, written);
                if (!ok && name) {
                        char alt[72];
                        char sc = long_to_short(name);
                        if (tk[1] == '-' && sc) {
                                snprintf(alt, sizeof(alt), "-%c", sc);
                                ok = in_list(t->site->allowed_flags, t->site->n_allowed_flags, alt);
                        } else if (tk[1] != '-') {
                                snprintf(alt, sizeof(alt), "--%s", name);
                                ok = in_list(t->site->allowed_flags, t->site->n_allowed_flags, alt);
                        }
                }
                if (!ok) {
                        struct ferry_buf b = FERRY_BUF_INIT;
                        list_join(&b, t->site->allowed_flags, t->site->n_allowed_flags);
                        r = ferry_errprintf(t->err, -EPERM,
                                            "annotation %s: option %s is not allowed by this site "
                                            "(allowed: %s)",
                                            key, written, b.data);
                        ferry_buf_free(&b);
                        break;
                }
                if (!name) {
                        r = ferry_errprintf(t->err, -EINVAL,
                                            "annotation %s: option %s is not a known short "
                                            "option of sbatch; write it in its long form",
                                            key, written);
                        break;
                }
                if (value && !*value) {
                        r = ferry_errprintf(t->err, -EINVAL,
                                            "annotation %s: option %s has an "
                                            "empty value",
                                            key, written);
                        break;
                }
                /* the scheduling choices become fields (the flavor's are replaced) */
                if (!strcmp(name, "partition") || !strcmp(name, "account") ||
                    !strcmp(name, "qos")) {
                        if (!value || strchr(value, ',')) {
                                r = ferry_errprintf(t->err, -EINVAL,
                                                    "annotation %s: option %s needs one value", key,
                                                    written);
                                break;
                        }
                        char **f = !strcmp(name, "partition") ? &t->j->partition
                                   : !strcmp(name, "account") ? &t->j->account
                                                              : &t->j->qos;
                        free(*f);
                        *f = ferry_xstrdup(value);
                } else if (!strcmp(name, "time")) {
                        int64_t s;
                        if (!value || slurm_time_parse(value, &s) < 0) {
                                r = ferry_errprintf(t->err, -EINVAL,
                                                    "annotation %s: \"%s\" is not a Slurm time "
                                                    "limit (minutes, [D-]HH:MM:SS, D-HH, ...)",
                                                    key, value ? value : "");
                                break;
                        }
                        free(t->user_time);
                        t->user_time = ferry_xstrdup(value);
                } else {
                        strv_push(&t->user_flags, value ? ferry_xasprintf("--%s=%s", name, value)
                                                        : ferry_xasprintf("--%s", name));
                }
        }
        slurm_strv_free(tok.v, tok.n);
        return r;
}

/* Apptainer options that would bypass the other checks. */
static const char *const reserved_rt_opts[] = {
    "--bind", "-B", "--mount", "--env", "--env-file", "--no-eval", "--containall", "-C", "--nv"};

static int runtime_options_annotation(struct tr *t, const char *val)
{
        const char *key = ANN_PREFIX "singularity-options";
        struct strv tok = {0};
        int r = tokenize(key, val, &tok, t->err);
        struct strv out = {0};

        for (size_t i = 0; r == 0 && i < tok.n; i++) {
                const char *tk = tok.v[i];
                _cleanup_free_ char *name = ferry_xstrndup(tk, strcspn(tk, "="));
                const char *value = tk[strlen(name)] == '=' ? tk + strlen(name) + 1 : NULL;
                bool separate = false;
                if (tk[0] != '-' || !tk[1] || !strcmp(tk, "--")) {
                        r = ferry_errprintf(t->err, -EINVAL,
                                            "annotation %s: \"%s\" is not an option", key, tk);
                        break;
                }
                for (size_t k = 0; k < FERRY_ARRAY_SIZE(reserved_rt_opts); k++)
                        if (!strcmp(name, reserved_rt_opts[k])) {
                                r = ferry_errprintf(t->err, -EPERM,
                                                    "annotation %s: option %s is set by ferryd "
                                                    "(binds come from volumes and %ssingularity-"
                                                    "mounts, env from the pod)",
                                                    key, name, ANN_PREFIX);
                                break;
                        }
                if (r < 0)
                        break;
                if (!in_list(t->site->allowed_runtime_options, t->site->n_allowed_runtime_options,
                             name)) {
                        struct ferry_buf b = FERRY_BUF_INIT;
                        list_join(&b, t->site->allowed_runtime_options,
                                  t->site->n_allowed_runtime_options);
                        r = ferry_errprintf(t->err, -EPERM,
                                            "annotation %s: option %s is not allowed by this site "
                                            "(allowed: %s)",
                                            key, name, b.data);
                        ferry_buf_free(&b);
                        break;
                }
                if (!value && i + 1 < tok.n && tok.v[i + 1][0] != '-') {
                        value = tok.v[++i];
                        separate = true;
                }
                if (separate && name[1] != '-') { /* short option: two items */
                        strv_push(&out, ferry_xstrdup(name));
                        strv_push(&out, ferry_xstrdup(value));
                } else if (value)
                        strv_push(&out, ferry_xasprintf("%s=%s", name, value));
                else
                        strv_push(&out, ferry_xstrdup(name));
        }
        slurm_strv_free(tok.v, tok.n);
        if (r < 0) {
                slurm_strv_free(out.v, out.n);
                return r;
        }
        t->j->runtime_options = out.v;
        t->j->n_runtime_options = out.n;
        return 0;
}

static bool under_root(const char *p, const char *root)
{
        size_t l = strlen(root);
        while (l > 1 && root[l - 1] == '/')
                l--;
        if (l == 1 && root[0] == '/')
                return true;
        return !strncmp(p, root, l) && (p[l] == '\0' || p[l] == '/');
}

static int add_bind(struct tr *t, const char *spec)
{
        const char *key = ANN_PREFIX "singularity-mounts";
        _cleanup_free_ char *copy = ferry_xstrdup(spec);
        char *parts[3] = {0};
        int n = 0;

        for (char *s = copy, *save = NULL; n < 4 && (s = strtok_r(s, ":", &save)); s = NULL) {
                if (n == 3)
                        return ferry_errprintf(t->err, -EINVAL,
                                               "annotation %s: bind \"%s\" has too many ':' "
                                               "fields (src[:dst[:ro|rw]])",
                                               key, spec);
                parts[n++] = s;
        }
        if (n == 0 || strstr(spec, "::") || spec[strlen(spec) - 1] == ':')
                return ferry_errprintf(t->err, -EINVAL,
                                       "annotation %s: bind \"%s\" must look like "
                                       "src[:dst[:ro|rw]]",
                                       key, spec);
        const char *src = parts[0], *dst = n > 1 ? parts[1] : parts[0];
        bool ro = false;
        if (n == 3) {
                if (!strcmp(parts[2], "ro"))
                        ro = true;
                else if (strcmp(parts[2], "rw"))
                        return ferry_errprintf(t->err, -EINVAL,
                                               "annotation %s: bind \"%s\": the option must be "
                                               "ro or rw, not \"%s\"",
                                               key, spec, parts[2]);
        }
        if (!slurm_abs_path_ok(src) || !slurm_abs_path_ok(dst) || !strcmp(dst, "/"))
                return ferry_errprintf(t->err, -EINVAL,
                                       "annotation %s: bind \"%s\": both paths must be absolute "
                                       "without \".\" or \"..\" components (and not /)",
                                       key, spec);
        bool ok = false;
        for (size_t i = 0; i < t->site->n_allowed_mount_roots && !ok; i++)
                ok = under_root(src, t->site->allowed_mount_roots[i]);
        if (!ok) {
                struct ferry_buf b = FERRY_BUF_INIT;
                list_join(&b, t->site->allowed_mount_roots, t->site->n_allowed_mount_roots);
                int r = ferry_errprintf(t->err, -EPERM,
                                        "annotation %s: %s is not under a directory this site "
                                        "lets pods mount (allowed_mount_roots: %s)",
                                        key, src, b.data);
                ferry_buf_free(&b);
                return r;
        }
        if (t->j->n_binds >= MAX_BINDS)
                return ferry_errprintf(t->err, -E2BIG, "annotation %s: more than %d binds", key,
                                       MAX_BINDS);
        t->j->binds = ferry_xrealloc(t->j->binds, (t->j->n_binds + 1) * sizeof(*t->j->binds));
        t->j->binds[t->j->n_binds++] =
            (struct runner_bind){.src = ferry_xstrdup(src), .dst = ferry_xstrdup(dst), .ro = ro};
        return 0;
}

static int mounts_annotation(struct tr *t, const char *val)
{
        const char *key = ANN_PREFIX "singularity-mounts";
        struct strv tok = {0};
        int r = tokenize(key, val, &tok, t->err);

        for (size_t i = 0; r == 0 && i < tok.n; i++) {
                const char *spec = tok.v[i];
                if (!strcmp(spec, "--bind") || !strcmp(spec, "-B")) {
                        if (i + 1 == tok.n) {
                                r = ferry_errprintf(t->err, -EINVAL,
                                                    "annotation %s: %s without a value", key, spec);
                                break;
                        }
                        spec = tok.v[++i];
                } else if (ferry_str_startswith(spec, "--bind=")) {
                        spec += 7;
                } else if (spec[0] == '-') {
                        r = ferry_errprintf(t->err, -EINVAL,
                                            "annotation %s: \"%s\" is neither --bind nor a bind "
                                            "(src[:dst[:ro|rw]])",
                                            key, spec);
                        break;
                }
                _cleanup_free_ char *copy = ferry_xstrdup(spec);
                for (char *s = copy, *save = NULL; r == 0 && (s = strtok_r(s, ",", &save));
                     s = NULL)
                        r = add_bind(t, s);
                if (r == 0 && (!*spec || strstr(spec, ",,") || spec[strlen(spec) - 1] == ',' ||
                               spec[0] == ','))
                        r = ferry_errprintf(t->err, -EINVAL, "annotation %s: empty bind in \"%s\"",
                                            key, spec);
        }
        slurm_strv_free(tok.v, tok.n);
        return r;
}

static int image_root_annotation(struct tr *t, const char *val)
{
        const char *key = ANN_PREFIX "image-root";
        struct strv tok = {0};
        int r = tokenize(key, val, &tok, t->err);

        if (r == 0 && tok.n != 1)
                r = ferry_errprintf(t->err, -EINVAL, "annotation %s must be one word", key);
        if (r == 0 && (strstr(tok.v[0], "/../") || ferry_str_startswith(tok.v[0], "../") ||
                       (strlen(tok.v[0]) >= 3 && !strcmp(tok.v[0] + strlen(tok.v[0]) - 3, "/.."))))
                r = ferry_errprintf(t->err, -EINVAL, "annotation %s: \"..\" is not allowed", key);
        if (r == 0) {
                bool ok = false;
                for (size_t i = 0; i < t->site->n_allowed_image_roots && !ok; i++)
                        ok = ferry_str_startswith(tok.v[0], t->site->allowed_image_roots[i]);
                if (!ok) {
                        struct ferry_buf b = FERRY_BUF_INIT;
                        list_join(&b, t->site->allowed_image_roots, t->site->n_allowed_image_roots);
                        r = ferry_errprintf(t->err, -EPERM,
                                            "annotation %s: \"%s\" does not start with an image "
                                            "root this site allows (allowed_image_roots: %s)",
                                            key, tok.v[0], b.data);
                        ferry_buf_free(&b);
                }
        }
        if (r == 0) {
                free(t->j->image_root);
                t->j->image_root = ferry_xstrdup(tok.v[0]);
        }
        slurm_strv_free(tok.v, tok.n);
        return r;
}

static void note(struct slurm_job *j, char *owned)
{
        j->notes = ferry_xrealloc(j->notes, (j->n_notes + 2) * sizeof(char *));
        j->notes[j->n_notes++] = owned;
        j->notes[j->n_notes] = NULL;
}

static int annotations(struct tr *t)
{
        const struct ferry_pod *pod = t->pod;
        int r = 0;

        for (size_t i = 0; r == 0 && i < pod->n_annotations; i++) {
                const char *k = pod->annotations[i].key, *v = pod->annotations[i].value;
                if (!ferry_str_startswith(k, ANN_PREFIX))
                        continue;
                v = v ? v : "";
                const char *what = k + strlen(ANN_PREFIX);
                if (!strcmp(what, "flavor"))
                        ; /* chosen in pick_flavor */
                else if (!strcmp(what, "flags"))
                        r = flags_annotation(t, v);
                else if (!strcmp(what, "singularity-options"))
                        r = runtime_options_annotation(t, v);
                else if (!strcmp(what, "singularity-mounts"))
                        r = mounts_annotation(t, v);
                else if (!strcmp(what, "image-root"))
                        r = image_root_annotation(t, v);
                else if (!strcmp(what, "pre-exec")) {
                        if (!t->site->allow_pre_exec)
                                r = ferry_errprintf(t->err, -EPERM,
                                                    "annotation %s is refused: this site does not "
                                                    "run shell snippets from pods (the admin can "
                                                    "set allow_pre_exec: true)",
                                                    k);
                        else if (!*v || strlen(v) > PRE_EXEC_MAX_BYTES)
                                r = ferry_errprintf(t->err, -E2BIG,
                                                    "annotation %s is empty or longer than %d "
                                                    "bytes",
                                                    k, PRE_EXEC_MAX_BYTES);
                        else /* annotation keys are unique (a JSON object) */
                                t->j->spec->pre_exec = ferry_xstrdup(v);
                } else
                        note(t->j, ferry_xasprintf("annotation %s is not used by the Slurm "
                                                   "backend",
                                                   k));
        }
        return r;
}

/* ---- resources ---- */

static int64_t ceil_div(int64_t a, int64_t b)
{
        return a <= 0 ? 0 : (a + b - 1) / b;
}

/* One container's amount of an extended resource: limit, else request, else 0. */
static int64_t ext_amount(const struct ferry_container *c, const char *name)
{
        if (!strcmp(name, "nvidia.com/gpu"))
                return c->limits.gpus >= 0     ? c->limits.gpus
                       : c->requests.gpus >= 0 ? c->requests.gpus
                                               : 0;
        for (size_t i = 0; i < c->limits.n_extended; i++)
                if (!strcmp(c->limits.extended[i].name, name))
                        return c->limits.extended[i].count;
        for (size_t i = 0; i < c->requests.n_extended; i++)
                if (!strcmp(c->requests.extended[i].name, name))
                        return c->requests.extended[i].count;
        return 0;
}

static int64_t sat_add(int64_t a, int64_t b)
{
        return a > INT64_MAX - b ? INT64_MAX : a + b;
}

/* What the pod holds while it runs: max(largest init container, sum of containers). */
static int64_t pod_amount(const struct ferry_pod *pod,
                          int64_t (*f)(const struct ferry_container *, const void *),
                          const void *arg)
{
        int64_t init = 0, sum = 0;
        for (size_t i = 0; i < pod->n_init; i++) {
                int64_t v = f(&pod->init[i], arg);
                init = v > init ? v : init;
        }
        for (size_t i = 0; i < pod->n_containers; i++)
                sum = sat_add(sum, f(&pod->containers[i], arg));
        return sum > init ? sum : init;
}

static int64_t cpu_of(const struct ferry_container *c, const void *site)
{
        const struct slurm_site *s = site;
        int64_t v = c->limits.cpu_milli >= 0 ? c->limits.cpu_milli : c->requests.cpu_milli;
        return v >= 0 ? v : s->default_cpu_milli > 0 ? s->default_cpu_milli : 0;
}

static int64_t mem_of(const struct ferry_container *c, const void *site)
{
        const struct slurm_site *s = site;
        int64_t v = c->limits.memory_bytes >= 0 ? c->limits.memory_bytes : c->requests.memory_bytes;
        return v >= 0 ? v : s->default_memory_bytes > 0 ? s->default_memory_bytes : 0;
}

static int64_t ext_of(const struct ferry_container *c, const void *name)
{
        return ext_amount(c, name);
}

static int name_cmp(const void *a, const void *b)
{
        const char *x = *(const char *const *)a, *y = *(const char *const *)b;
        /* nvidia.com/gpu first, then by name */
        bool gx = !strcmp(x, "nvidia.com/gpu"), gy = !strcmp(y, "nvidia.com/gpu");
        if (gx != gy)
                return gx ? -1 : 1;
        return strcmp(x, y);
}

static void add_name(const char ***v, size_t *n, const char *s)
{
        for (size_t i = 0; i < *n; i++)
                if (!strcmp((*v)[i], s))
                        return;
        *v = ferry_xrealloc(*v, (*n + 1) * sizeof(char *));
        (*v)[(*n)++] = s;
}

/* GPUs and other extended resources -> one --gres list. Sets *ret_gpu when
 * the pod asks for any accelerator. */
static int gres(struct tr *t, bool *ret_gpu)
{
        const struct ferry_pod *pod = t->pod;
        const struct slurm_site *s = t->site;
        const char **names = NULL;
        size_t n = 0;
        int r = 0;
        struct {
                const char *gres;
                int64_t count;
        } *acc = NULL;
        size_t n_acc = 0;

        *ret_gpu = false;
        add_name(&names, &n, "nvidia.com/gpu");
        for (size_t i = 0; i < pod->n_init + pod->n_containers; i++) {
                const struct ferry_container *c = ferry_pod_container_at(pod, i);
                for (size_t k = 0; k < c->limits.n_extended; k++)
                        add_name(&names, &n, c->limits.extended[k].name);
                for (size_t k = 0; k < c->requests.n_extended; k++)
                        add_name(&names, &n, c->requests.extended[k].name);
        }
        qsort(names, n, sizeof(*names), name_cmp);
        for (size_t i = 0; i < n; i++) {
                int64_t want = pod_amount(pod, ext_of, names[i]);
                if (want <= 0)
                        continue;
                const struct slurm_gres_map *m = NULL;
                for (size_t k = 0; k < s->n_gres && !m; k++)
                        if (!strcmp(s->gres[k].resource, names[i]))
                                m = &s->gres[k];
                const char *g = m ? m->gres : !strcmp(names[i], "nvidia.com/gpu") ? "gpu" : NULL;
                if (!g) {
                        struct ferry_buf b = FERRY_BUF_INIT;
                        for (size_t k = 0; k < s->n_gres; k++)
                                ferry_buf_printf(&b, "%s%s", k ? ", " : "", s->gres[k].resource);
                        r = ferry_errprintf(t->err, -EINVAL,
                                            "the pod asks for %lld %s, which this site does not "
                                            "map to a Slurm GRES (mapped: %s)",
                                            (long long)want, names[i],
                                            b.data ? b.data : "nvidia.com/gpu");
                        ferry_buf_free(&b);
                        break;
                }
                if (m && m->max_per_job >= 0 && want > m->max_per_job) {
                        r = ferry_errprintf(t->err, -E2BIG,
                                            "the pod asks for %lld %s, more than this site gives "
                                            "one job (%lld)",
                                            (long long)want, names[i], (long long)m->max_per_job);
                        break;
                }
                if (ferry_str_startswith(names[i], "nvidia.com/"))
                        *ret_gpu = true;
                size_t a;
                for (a = 0; a < n_acc; a++)
                        if (!strcmp(acc[a].gres, g))
                                break;
                if (a == n_acc) {
                        acc = ferry_xrealloc(acc, (n_acc + 1) * sizeof(*acc));
                        acc[n_acc].gres = g;
                        acc[n_acc++].count = 0;
                }
                acc[a].count = sat_add(acc[a].count, want);
        }
        if (r == 0 && n_acc) {
                struct ferry_buf b = FERRY_BUF_INIT;
                for (size_t a = 0; a < n_acc; a++)
                        ferry_buf_printf(&b, "%s%s:%lld", a ? "," : "", acc[a].gres,
                                         (long long)acc[a].count);
                t->j->gres = ferry_buf_steal(&b);
        }
        free(acc);
        free(names);
        return r;
}

/* ---- flavor, uid ---- */

static const struct slurm_flavor *find_flavor(const struct slurm_site *s, const char *name)
{
        for (size_t i = 0; name && i < s->n_flavors; i++)
                if (!strcmp(s->flavors[i].name, name))
                        return &s->flavors[i];
        return NULL;
}

static int pick_flavor(struct tr *t, bool gpu, const struct slurm_flavor **ret)
{
        const struct slurm_site *s = t->site;
        const char *want = ferry_pod_annotation(t->pod, ANN_PREFIX "flavor");
        const struct slurm_flavor *f = NULL;

        if (want) {
                f = find_flavor(s, want);
                if (!f) {
                        struct ferry_buf b = FERRY_BUF_INIT;
                        for (size_t i = 0; i < s->n_flavors; i++)
                                ferry_buf_printf(&b, "%s%s", i ? ", " : "", s->flavors[i].name);
                        int r = ferry_errprintf(t->err, -EINVAL,
                                                "annotation %sflavor: unknown flavor \"%.64s\" "
                                                "(known: %s)",
                                                ANN_PREFIX, want, b.data ? b.data : "none");
                        ferry_buf_free(&b);
                        return r;
                }
        }
        for (size_t i = 0; !f && gpu && i < s->n_flavors; i++)
                if (s->flavors[i].for_gpu)
                        f = &s->flavors[i];
        if (!f)
                f = find_flavor(s, s->default_flavor);
        *ret = f;
        return 0;
}

static int pick_uid(struct tr *t, const struct slurm_flavor *f)
{
        const struct slurm_site *s = t->site;
        int64_t site_uid = f && f->uid >= 0 ? f->uid : s->default_uid;
        int64_t ras = t->pod->run_as_user;

        if (s->uid_policy && !strcmp(s->uid_policy, "pod")) {
                if (ras == 0)
                        return ferry_errprintf(t->err, -EPERM,
                                               "securityContext.runAsUser 0: this site never runs "
                                               "Slurm jobs as root");
                t->j->uid = ras > 0 ? ras : site_uid;
                return 0;
        }
        t->j->uid = site_uid;
        if (ras >= 0) {
                if (site_uid >= 0)
                        note(t->j, ferry_xasprintf("securityContext.runAsUser %lld is ignored: "
                                                   "this site runs jobs as uid %lld "
                                                   "(uid_policy fixed)",
                                                   (long long)ras, (long long)site_uid));
                else
                        note(t->j, ferry_xasprintf("securityContext.runAsUser %lld is ignored: "
                                                   "this site runs jobs as ferryd's user "
                                                   "(uid_policy fixed)",
                                                   (long long)ras));
        }
        return 0;
}

/* ---- script, checks ---- */

char *slurm_shell_quote(const char *s)
{
        struct ferry_buf b = FERRY_BUF_INIT;
        ferry_buf_addc(&b, '\'');
        for (; *s; s++) {
                if (*s == '\'')
                        ferry_buf_adds(&b, "'\\''");
                else
                        ferry_buf_addc(&b, *s);
        }
        ferry_buf_addc(&b, '\'');
        return ferry_buf_steal(&b);
}

static bool uid_ok(const char *uid)
{
        size_t n = uid ? strlen(uid) : 0;
        if (n == 0 || n > UID_MAX_LEN || uid[0] == '.' || uid[0] == '-')
                return false;
        return strspn(uid, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
               n;
}

static int no_dirs(void *ctx, const char *dir, struct runner_dirent **ret, size_t *ret_n)
{
        return -ENOENT;
}

void slurm_job_rtconf(const struct slurm_job *j, const struct slurm_site *site,
                      struct runner_rtconf *ret)
{
        memset(ret, 0, sizeof(*ret));
        ret->kind = j->runtime;
        ret->workdir = j->workdir;
        ret->network = true; /* jobs share the node's network, as upstream */
        ret->image_root = j->image_root;
        ret->rt_options = j->runtime_options;
        ret->n_rt_options = j->n_runtime_options;
        ret->binds = j->binds;
        ret->n_binds = j->n_binds;
        const char *bin = site->runtime_path;
        switch (j->runtime) {
        case RUNNER_RT_APPTAINER:
        case RUNNER_RT_SINGULARITY: ret->apptainer = bin; break;
        case RUNNER_RT_ENROOT: ret->enroot = bin; break;
        case RUNNER_RT_BWRAP: ret->bwrap = bin; break;
        case RUNNER_RT_PODMAN: ret->podman = bin; break;
        default: break;
        }
        ret->hostfs.list = no_dirs;
}

/* Build every container's exec now, so a pod the runtime cannot honour is
 * refused at create time with the reason (not in the job's log later). */
static int check_runtime(const struct slurm_job *j, const struct slurm_site *site,
                         ferry_error_t *err)
{
        struct runner_rtconf rc;
        slurm_job_rtconf(j, site, &rc);
        for (size_t i = 0; i < j->spec->n_c; i++) {
                struct runner_exec e;
                int r = runner_exec_build(&rc, j->spec, i, &e, err);
                if (r < 0)
                        return ferry_errprefix(err, r, "runtime %s refuses the pod", site->runtime);
                runner_exec_clear(&e);
        }
        return 0;
}

static void push_opt(struct slurm_job *j, char *owned)
{
        j->sbatch_argv = ferry_xrealloc(j->sbatch_argv, (j->n_sbatch_argv + 2) * sizeof(char *));
        j->sbatch_argv[j->n_sbatch_argv++] = owned;
        j->sbatch_argv[j->n_sbatch_argv] = NULL;
}

int slurm_job_from_pod(const struct ferry_pod *pod, const struct slurm_site *site,
                       struct slurm_job **ret, ferry_error_t *err)
{
        struct slurm_job *j = ferry_xcalloc(1, sizeof(*j));
        struct tr t = {.pod = pod, .site = site, .j = j, .err = err};
        const struct slurm_flavor *f = NULL;
        bool gpu = false;
        int r;

        j->cpus = j->memory_mb = j->time_limit_min = -1;
        j->uid = -1;
        if (!uid_ok(pod->uid)) {
                r = ferry_errprintf(err, -EINVAL,
                                    "pod uid \"%.64s\" is not usable as a Slurm job name (letters, "
                                    "digits, '.', '_', '-'; at most %d)",
                                    pod->uid ? pod->uid : "", UID_MAX_LEN);
                goto fail;
        }
        if (runner_runtime_parse(site->runtime, &j->runtime) < 0) {
                r = ferry_errprintf(err, -EINVAL, "unknown runtime \"%s\"", site->runtime);
                goto fail;
        }
        j->name = ferry_xstrdup(pod->uid);
        j->workdir = ferry_xasprintf("%s/%s", site->workdir_root, pod->uid);
        j->image_root = site->image_root ? ferry_xstrdup(site->image_root) : NULL;

        /* the pod itself: a run spec the shim runs, checked against the runtime */
        if ((r = runner_runspec_from_pod(pod, &j->spec, err)) < 0)
                goto fail;
        if ((r = gres(&t, &gpu)) < 0 || (r = pick_flavor(&t, gpu, &f)) < 0)
                goto fail;
        if (f) {
                j->flavor = ferry_xstrdup(f->name);
                j->partition = f->partition ? ferry_xstrdup(f->partition) : NULL;
                j->account = f->account ? ferry_xstrdup(f->account) : NULL;
                j->qos = f->qos ? ferry_xstrdup(f->qos) : NULL;
        }
        const char *acct = slurm_site_tenant_account(site, pod->namespace);
        if (acct) { /* the tenant's account, for Slurm's fair share and sacct */
                free(j->account);
                j->account = ferry_xstrdup(acct);
        }
        if ((r = annotations(&t)) < 0 || (r = pick_uid(&t, f)) < 0)
                goto fail;
        if ((r = check_runtime(j, site, err)) < 0)
                goto fail;

        /* resources */
        int64_t cpu_milli = pod_amount(pod, cpu_of, site);
        int64_t mem = pod_amount(pod, mem_of, site);
        j->cpus = ceil_div(cpu_milli, 1000);
        if (j->cpus < 1)
                j->cpus = 1;
        j->memory_mb = mem > 0 ? ceil_div(mem, 1 << 20) : -1;

        /* time: the annotation, else activeDeadlineSeconds, else the flavor's cap */
        int64_t tsec = -1;
        if (t.user_time)
                slurm_time_parse(t.user_time, &tsec);
        else if (pod->deadline_seconds > 0)
                tsec = pod->deadline_seconds;
        if (f && f->max_time_s > 0 && (tsec < 0 || tsec > f->max_time_s)) {
                if (tsec > f->max_time_s)
                        note(j, ferry_xasprintf("time limit capped at the flavor's %lld minutes",
                                                (long long)ceil_div(f->max_time_s, 60)));
                tsec = f->max_time_s;
        }
        j->time_limit_min = tsec > 0 ? ceil_div(tsec, 60) : -1;

        /* sbatch options, one item each */
        push_opt(j, ferry_xasprintf("--job-name=%s", j->name));
        push_opt(j, ferry_xasprintf("--chdir=%s", j->workdir));
        push_opt(j, ferry_xasprintf("--output=%s/slurm-%%j.out", j->workdir));
        if (j->partition)
                push_opt(j, ferry_xasprintf("--partition=%s", j->partition));
        if (j->account)
                push_opt(j, ferry_xasprintf("--account=%s", j->account));
        if (j->qos)
                push_opt(j, ferry_xasprintf("--qos=%s", j->qos));
        push_opt(j, ferry_xasprintf("--cpus-per-task=%lld", (long long)j->cpus));
        if (j->memory_mb > 0)
                push_opt(j, ferry_xasprintf("--mem=%lldM", (long long)j->memory_mb));
        if (j->gres)
                push_opt(j, ferry_xasprintf("--gres=%s", j->gres));
        if (j->time_limit_min > 0)
                push_opt(j, ferry_xasprintf("--time=%lld", (long long)j->time_limit_min));
        if (j->uid >= 0)
                push_opt(j, ferry_xasprintf("--uid=%lld", (long long)j->uid));
        for (size_t i = 0; f && i < f->n_extra_flags; i++)
                push_opt(j, ferry_xstrdup(f->extra_flags[i]));
        for (size_t i = 0; i < t.user_flags.n; i++)
                push_opt(j, ferry_xstrdup(t.user_flags.v[i]));

        /* the script: admin paths only */
        char *qs = slurm_shell_quote(site->shim_path), *qw = slurm_shell_quote(j->workdir);
        j->script = ferry_xasprintf("#!/bin/sh\nexec %s %s\n", qs, qw);
        free(qs);
        free(qw);

        slurm_strv_free(t.user_flags.v, t.user_flags.n);
        free(t.user_time);
        *ret = j;
        return 0;
fail:
        slurm_strv_free(t.user_flags.v, t.user_flags.n);
        free(t.user_time);
        slurm_job_free(j);
        return r;
}

void slurm_job_free(struct slurm_job *j)
{
        if (!j)
                return;
        free(j->name);
        slurm_strv_free(j->sbatch_argv, j->n_sbatch_argv);
        free(j->script);
        free(j->workdir);
        free(j->partition);
        free(j->account);
        free(j->qos);
        free(j->gres);
        free(j->flavor);
        slurm_strv_free(j->runtime_options, j->n_runtime_options);
        for (size_t i = 0; i < j->n_binds; i++) {
                free(j->binds[i].src);
                free(j->binds[i].dst);
        }
        free(j->binds);
        free(j->image_root);
        slurm_strv_free(j->notes, j->n_notes);
        runner_runspec_free(j->spec);
        free(j);
}

static void json_str_or_null(struct ferry_buf *b, const char *s)
{
        if (s)
                ferry_buf_add_json_str(b, s);
        else
                ferry_buf_adds(b, "null");
}

void slurm_job_to_json(struct ferry_buf *b, const struct slurm_job *j)
{
        ferry_buf_adds(b, "{\n  \"name\": ");
        json_str_or_null(b, j->name);
        ferry_buf_adds(b, ",\n  \"workdir\": ");
        json_str_or_null(b, j->workdir);
        ferry_buf_adds(b, ",\n  \"sbatch_argv\": ");
        ferry_buf_add_json_strv(b, j->sbatch_argv, j->n_sbatch_argv);
        ferry_buf_adds(b, ",\n  \"script\": ");
        json_str_or_null(b, j->script);
        ferry_buf_adds(b, ",\n  \"flavor\": ");
        json_str_or_null(b, j->flavor);
        ferry_buf_adds(b, ", \"partition\": ");
        json_str_or_null(b, j->partition);
        ferry_buf_adds(b, ", \"account\": ");
        json_str_or_null(b, j->account);
        ferry_buf_adds(b, ", \"qos\": ");
        json_str_or_null(b, j->qos);
        ferry_buf_printf(b,
                         ",\n  \"cpus\": %lld, \"memory_mb\": %lld, \"time_limit_min\": %lld, "
                         "\"gres\": ",
                         (long long)j->cpus, (long long)j->memory_mb, (long long)j->time_limit_min);
        json_str_or_null(b, j->gres);
        ferry_buf_printf(b, ", \"uid\": %lld,\n  \"runtime\": \"%s\", \"image_root\": ",
                         (long long)j->uid, runner_runtime_name(j->runtime));
        json_str_or_null(b, j->image_root);
        ferry_buf_adds(b, ",\n  \"runtime_options\": ");
        ferry_buf_add_json_strv(b, j->runtime_options, j->n_runtime_options);
        ferry_buf_adds(b, ",\n  \"binds\": [");
        for (size_t i = 0; i < j->n_binds; i++) {
                ferry_buf_adds(b, i ? ", {\"src\": " : "{\"src\": ");
                ferry_buf_add_json_str(b, j->binds[i].src);
                ferry_buf_adds(b, ", \"dst\": ");
                ferry_buf_add_json_str(b, j->binds[i].dst);
                ferry_buf_printf(b, ", \"ro\": %s}", j->binds[i].ro ? "true" : "false");
        }
        ferry_buf_adds(b, "],\n  \"pre_exec\": ");
        json_str_or_null(b, j->spec ? j->spec->pre_exec : NULL);
        ferry_buf_adds(b, ",\n  \"notes\": ");
        ferry_buf_add_json_strv(b, j->notes, j->n_notes);
        ferry_buf_adds(b, "\n}\n");
}
