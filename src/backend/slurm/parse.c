/* SPDX-License-Identifier: MIT */
/* Batch-tool output parsers and the Slurm state mapping (parse.h). Pure. */
#include "backend/slurm/parse.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/util.h"

/* ---- states ---- */

static const struct {
        enum slurm_state st;
        const char *name, *code;
} states[] = {
    {SLURM_ST_PENDING, "PENDING", "PD"},
    {SLURM_ST_CONFIGURING, "CONFIGURING", "CF"},
    {SLURM_ST_RUNNING, "RUNNING", "R"},
    {SLURM_ST_RESIZING, "RESIZING", "RS"},
    {SLURM_ST_SUSPENDED, "SUSPENDED", "S"},
    {SLURM_ST_STOPPED, "STOPPED", "ST"},
    {SLURM_ST_SIGNALING, "SIGNALING", "SI"},
    {SLURM_ST_STAGE_OUT, "STAGE_OUT", "SO"},
    {SLURM_ST_COMPLETING, "COMPLETING", "CG"},
    {SLURM_ST_COMPLETED, "COMPLETED", "CD"},
    {SLURM_ST_FAILED, "FAILED", "F"},
    {SLURM_ST_TIMEOUT, "TIMEOUT", "TO"},
    {SLURM_ST_OUT_OF_MEMORY, "OUT_OF_MEMORY", "OOM"},
    {SLURM_ST_CANCELLED, "CANCELLED", "CA"},
    {SLURM_ST_NODE_FAIL, "NODE_FAIL", "NF"},
    {SLURM_ST_PREEMPTED, "PREEMPTED", "PR"},
    {SLURM_ST_BOOT_FAIL, "BOOT_FAIL", "BF"},
    {SLURM_ST_DEADLINE, "DEADLINE", "DL"},
    {SLURM_ST_REQUEUED, "REQUEUED", "RQ"},
    {SLURM_ST_REQUEUE_HOLD, "REQUEUE_HOLD", "RH"},
    {SLURM_ST_REQUEUE_FED, "REQUEUE_FED", "RF"},
    {SLURM_ST_RESV_DEL_HOLD, "RESV_DEL_HOLD", "RD"},
    {SLURM_ST_SPECIAL_EXIT, "SPECIAL_EXIT", "SE"},
    {SLURM_ST_REVOKED, "REVOKED", "RV"},
};

enum slurm_state slurm_state_parse(const char *s)
{
        if (!s)
                return SLURM_ST_UNKNOWN;
        while (*s == ' ')
                s++;
        /* "CANCELLED by 1000", "CANCELLED+" (sacct), "COMPLETING " */
        size_t len = strcspn(s, " +");
        for (size_t i = 0; i < FERRY_ARRAY_SIZE(states); i++)
                if ((strlen(states[i].name) == len && !strncmp(s, states[i].name, len)) ||
                    (strlen(states[i].code) == len && !strncmp(s, states[i].code, len)))
                        return states[i].st;
        return SLURM_ST_UNKNOWN;
}

const char *slurm_state_name(enum slurm_state st)
{
        for (size_t i = 0; i < FERRY_ARRAY_SIZE(states); i++)
                if (states[i].st == st)
                        return states[i].name;
        return "UNKNOWN";
}

/* "ReqNodeNotAvail, UnavailableNodes:n1" -> "ReqNodeNotAvail": the leading
 * identifier, at most 40 characters. */
static void reason_word(const char *r, char *buf, size_t size)
{
        size_t n = 0;
        while (r && *r == ' ')
                r++;
        while (r && n + 1 < size && n < 40 &&
               ((r[n] >= 'A' && r[n] <= 'Z') || (r[n] >= 'a' && r[n] <= 'z') ||
                (r[n] >= '0' && r[n] <= '9') || r[n] == '_')) {
                buf[n] = r[n];
                n++;
        }
        buf[n] = '\0';
}

/* Printable ASCII only, bounded: Slurm's text goes into the pod's status. */
static void clean_copy(char *dst, size_t size, const char *src)
{
        size_t n = 0;
        for (; src && *src && n + 1 < size; src++)
                dst[n++] = (unsigned char)*src >= 0x20 && (unsigned char)*src < 0x7f ? *src : '?';
        dst[n] = '\0';
}

static void set(struct slurm_pod_state *ps, enum slurm_phase ph, const char *reason,
                const char *fmt, const char *arg)
{
        char clean[160];
        ps->phase = ph;
        clean_copy(ps->reason, sizeof(ps->reason), reason);
        clean_copy(clean, sizeof(clean), arg);
        snprintf(ps->message, sizeof(ps->message), fmt, clean);
}

void slurm_state_map(enum slurm_state st, const char *slurm_reason, struct slurm_pod_state *ret)
{
        char word[48], r[64];
        const char *rs =
            slurm_reason && strcmp(slurm_reason, "None") && *slurm_reason ? slurm_reason : NULL;

        memset(ret, 0, sizeof(*ret));
        reason_word(rs, word, sizeof(word));
        const char *name = slurm_state_name(st);
        switch (st) {
        case SLURM_ST_PENDING:
                /* waiting with Slurm's reason: SlurmResources, SlurmPriority,
                 * SlurmBeginTime, SlurmReqNodeNotAvail, ... */
                snprintf(r, sizeof(r), "Slurm%s", *word ? word : "Pending");
                set(ret, SLURM_PHASE_WAITING, r, "the Slurm job is pending (%s)",
                    rs ? rs : "no reason given");
                break;
        case SLURM_ST_CONFIGURING:
                set(ret, SLURM_PHASE_WAITING, "SlurmConfiguring",
                    "the Slurm job's nodes are being configured%s", "");
                break;
        case SLURM_ST_REQUEUED:
        case SLURM_ST_REQUEUE_FED:
                /* the same job id runs again later: still one pod */
                set(ret, SLURM_PHASE_WAITING, "SlurmJobRequeued", "the Slurm job was requeued%s",
                    rs ? "" : "");
                break;
        case SLURM_ST_REQUEUE_HOLD:
                set(ret, SLURM_PHASE_WAITING, "SlurmJobRequeueHeld",
                    "the Slurm job was requeued and is held (%s)", rs ? rs : "no reason given");
                break;
        case SLURM_ST_RESV_DEL_HOLD:
                set(ret, SLURM_PHASE_WAITING, "SlurmJobHeld",
                    "the Slurm job is held: its reservation was deleted%s", "");
                break;
        case SLURM_ST_RUNNING:
        case SLURM_ST_RESIZING:
        case SLURM_ST_COMPLETING:
        case SLURM_ST_SIGNALING:
        case SLURM_ST_STAGE_OUT:
                ret->phase = SLURM_PHASE_RUNNING;
                ret->from_files = true;
                break;
        case SLURM_ST_SUSPENDED:
        case SLURM_ST_STOPPED:
                set(ret, SLURM_PHASE_RUNNING, "SlurmJobSuspended", "the Slurm job is %s",
                    st == SLURM_ST_SUSPENDED ? "suspended" : "stopped");
                ret->from_files = true;
                break;
        case SLURM_ST_COMPLETED:
        case SLURM_ST_FAILED:
                /* exit codes and reasons from the shim's files; containers
                 * without a file ended with the job */
                set(ret, SLURM_PHASE_TERMINATED, st == SLURM_ST_FAILED ? "Error" : "Completed",
                    "the Slurm job ended %s", st == SLURM_ST_FAILED ? "FAILED" : "COMPLETED");
                ret->from_files = true;
                break;
        case SLURM_ST_TIMEOUT:
                set(ret, SLURM_PHASE_TERMINATED, "SlurmJobTimeout",
                    "the Slurm job reached its time limit%s", "");
                break;
        case SLURM_ST_OUT_OF_MEMORY:
                set(ret, SLURM_PHASE_TERMINATED, "OOMKilled", "the Slurm job ran out of memory%s",
                    "");
                break;
        case SLURM_ST_CANCELLED:
                set(ret, SLURM_PHASE_TERMINATED, "SlurmJobCancelled",
                    "the Slurm job was cancelled%s", "");
                break;
        case SLURM_ST_NODE_FAIL:
                set(ret, SLURM_PHASE_TERMINATED, "SlurmNodeFail",
                    "a node of the Slurm job failed%s", "");
                break;
        case SLURM_ST_PREEMPTED:
                set(ret, SLURM_PHASE_TERMINATED, "SlurmJobPreempted",
                    "the Slurm job was preempted%s", "");
                break;
        case SLURM_ST_BOOT_FAIL:
                set(ret, SLURM_PHASE_TERMINATED, "SlurmBootFail",
                    "the Slurm job's node failed to boot%s", "");
                break;
        case SLURM_ST_DEADLINE:
                set(ret, SLURM_PHASE_TERMINATED, "SlurmJobDeadline",
                    "the Slurm job reached its deadline%s", "");
                break;
        case SLURM_ST_SPECIAL_EXIT:
                set(ret, SLURM_PHASE_TERMINATED, "SlurmSpecialExit",
                    "the Slurm job ended in SPECIAL_EXIT%s", "");
                break;
        case SLURM_ST_REVOKED:
                set(ret, SLURM_PHASE_TERMINATED, "SlurmJobRevoked",
                    "the Slurm job was revoked (it runs on another cluster)%s", "");
                break;
        default:
                set(ret, SLURM_PHASE_WAITING, "SlurmUnknownState",
                    "Slurm reports a state ferryd does not know (%s)", name);
                break;
        }
}

/* ---- line splitting ---- */

struct lines {
        const char *p, *end;
};

/* Next line without its '\n' (and '\r'); false at the end. */
static bool next_line(struct lines *l, const char **ret, size_t *ret_len)
{
        if (l->p >= l->end)
                return false;
        const char *nl = memchr(l->p, '\n', (size_t)(l->end - l->p));
        const char *e = nl ? nl : l->end;
        *ret = l->p;
        *ret_len = (size_t)(e - l->p);
        if (*ret_len && (*ret)[*ret_len - 1] == '\r')
                (*ret_len)--;
        l->p = nl ? nl + 1 : l->end;
        return true;
}

/* Split a copy of the line on '|': fields[i] point into buf. */
static size_t split(char *buf, char **fields, size_t max)
{
        size_t n = 0;
        char *s = buf;
        for (;;) {
                char *bar = strchr(s, '|');
                if (n < max)
                        fields[n] = s;
                n++;
                if (!bar)
                        break;
                *bar = '\0';
                s = bar + 1;
        }
        return n;
}

static char *trim(char *s)
{
        while (*s == ' ' || *s == '\t')
                s++;
        size_t n = strlen(s);
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
                s[--n] = '\0';
        return s;
}

static bool all_digits(const char *s, size_t max)
{
        size_t n = strlen(s);
        return n > 0 && n <= max && strspn(s, "0123456789") == n;
}

/* ---- sbatch ---- */

int slurm_parse_sbatch(const char *out, size_t len, uint64_t *ret_id, char *cluster,
                       size_t cluster_size, ferry_error_t *err)
{
        struct lines l = {out, out + len};
        const char *line;
        size_t ll;
        bool found = false;
        uint64_t id = 0;
        char cl[128] = "";

        while (next_line(&l, &line, &ll)) {
                char buf[256];
                if (ll == 0 || ll >= sizeof(buf) || memchr(line, '\0', ll))
                        continue;
                memcpy(buf, line, ll);
                buf[ll] = '\0';
                char *t = trim(buf);
                char *semi = strchr(t, ';');
                if (semi)
                        *semi = '\0';
                if (!all_digits(t, 10))
                        continue;
                unsigned long long v = strtoull(t, NULL, 10);
                if (v == 0 || v > UINT32_MAX)
                        continue;
                const char *c = semi ? semi + 1 : "";
                if (strlen(c) >= sizeof(cl) || strpbrk(c, " ;|"))
                        continue;
                id = v;
                snprintf(cl, sizeof(cl), "%s", c);
                found = true;
        }
        if (!found)
                return ferry_errprintf(err, -EINVAL,
                                       "sbatch printed no job id (expected \"<id>\" or "
                                       "\"<id>;<cluster>\" from --parsable)");
        *ret_id = id;
        if (cluster && cluster_size)
                snprintf(cluster, cluster_size, "%s", cl);
        return 0;
}

/* ---- times ---- */

int slurm_parse_time(const char *s, int64_t *ret_s)
{
        struct tm tm = {0};
        int y, mo, d, h, mi, se;
        char tail;

        if (!s || !*s || !strcmp(s, "N/A") || !strcasecmp(s, "Unknown") || !strcasecmp(s, "None")) {
                *ret_s = -1;
                return 0;
        }
        if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%c", &y, &mo, &d, &h, &mi, &se, &tail) != 6 ||
            strlen(s) != 19)
                return -EINVAL;
        if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
            se > 60 || h < 0 || mi < 0 || se < 0)
                return -EINVAL;
        tm.tm_year = y - 1900;
        tm.tm_mon = mo - 1;
        tm.tm_mday = d;
        tm.tm_hour = h;
        tm.tm_min = mi;
        tm.tm_sec = se;
        tm.tm_isdst = -1; /* squeue and sacct print local time: let the zone decide */
        *ret_s = (int64_t)mktime(&tm);
        return 0;
}

/* ---- squeue / sacct ---- */

static void info_clear(struct slurm_job_info *j)
{
        free(j->id);
        free(j->name);
        free(j->state_text);
        free(j->reason);
        free(j->user);
}

void slurm_job_list_free(struct slurm_job_list *l)
{
        for (size_t i = 0; i < l->n; i++)
                info_clear(&l->jobs[i]);
        free(l->jobs);
        l->jobs = NULL;
        l->n = 0;
}

static bool job_id_ok(const char *s)
{
        /* 123, 123_4, 123_[1-3], 123+0 */
        size_t n = strlen(s);
        return n > 0 && n < 64 && s[0] >= '0' && s[0] <= '9' && strspn(s, "0123456789_+[]-,%") == n;
}

/* Name = the fields between the fixed left and right ones, re-joined with '|'. */
static char *join_middle(char **f, size_t from, size_t to)
{
        struct ferry_buf b = FERRY_BUF_INIT;
        ferry_buf_adds(&b, "");
        for (size_t i = from; i < to; i++) {
                if (i > from)
                        ferry_buf_addc(&b, '|');
                ferry_buf_adds(&b, f[i]);
        }
        return ferry_buf_steal(&b);
}

enum list_kind { LK_SQUEUE, LK_SACCT };

static int parse_list(enum list_kind kind, const char *out, size_t len, struct slurm_job_list *ret,
                      size_t *ret_bad, ferry_error_t *err)
{
        struct lines l = {out, out + len};
        const char *line;
        size_t ll, bad = 0, cap = 0;
        struct slurm_job_list res = {0};
        const size_t nright = kind == LK_SQUEUE ? 5 : 4; /* fields after the name */
        enum { MAXF = 128 };
        char *f[MAXF];

        while (next_line(&l, &line, &ll)) {
                if (ll == 0)
                        continue;
                if (ll > SLURM_PARSE_MAX_LINE || memchr(line, '\0', ll)) {
                        bad++;
                        continue;
                }
                char *buf = ferry_xstrndup(line, ll);
                size_t n = split(buf, f, MAXF);
                struct slurm_job_info j = {.exit_code = -1, .exit_signal = -1};
                bool ok = n >= 2 + nright && n <= MAXF;
                if (ok) {
                        char *id = trim(f[0]);
                        ok = job_id_ok(id);
                        if (kind == LK_SACCT && strchr(id, '.') && id[0] >= '0' && id[0] <= '9') {
                                free(buf); /* a step line: not a job */
                                continue;
                        }
                        if (ok) {
                                char **r = &f[n - nright];
                                j.id = ferry_xstrdup(id);
                                j.name = join_middle(f, 1, n - nright);
                                j.state_text = ferry_xstrdup(trim(r[0]));
                                j.state = slurm_state_parse(j.state_text);
                                if (kind == LK_SQUEUE) {
                                        j.reason = ferry_xstrdup(trim(r[1]));
                                        ok = slurm_parse_time(trim(r[2]), &j.start_s) == 0 &&
                                             slurm_parse_time(trim(r[3]), &j.end_s) == 0;
                                        j.user = ferry_xstrdup(trim(r[4]));
                                } else {
                                        int ec, sig;
                                        char tail;
                                        ok = sscanf(trim(r[1]), "%d:%d%c", &ec, &sig, &tail) == 2 &&
                                             ec >= 0 && ec <= 255 && sig >= 0 && sig <= 255 &&
                                             slurm_parse_time(trim(r[2]), &j.start_s) == 0 &&
                                             slurm_parse_time(trim(r[3]), &j.end_s) == 0;
                                        if (ok) {
                                                j.exit_code = ec;
                                                j.exit_signal = sig;
                                        }
                                }
                        }
                }
                free(buf);
                if (!ok) {
                        info_clear(&j);
                        bad++;
                        continue;
                }
                if (res.n >= SLURM_PARSE_MAX_JOBS) {
                        info_clear(&j);
                        slurm_job_list_free(&res);
                        return ferry_errprintf(err, -E2BIG, "%s listed more than %d jobs",
                                               kind == LK_SQUEUE ? "squeue" : "sacct",
                                               SLURM_PARSE_MAX_JOBS);
                }
                if (res.n == cap) {
                        cap = cap ? cap * 2 : 64;
                        res.jobs = ferry_xrealloc(res.jobs, cap * sizeof(*res.jobs));
                }
                res.jobs[res.n++] = j;
        }
        *ret = res;
        if (ret_bad)
                *ret_bad = bad;
        return 0;
}

int slurm_parse_squeue(const char *out, size_t len, struct slurm_job_list *ret, size_t *ret_bad,
                       ferry_error_t *err)
{
        return parse_list(LK_SQUEUE, out, len, ret, ret_bad, err);
}

int slurm_parse_sacct(const char *out, size_t len, struct slurm_job_list *ret, size_t *ret_bad,
                      ferry_error_t *err)
{
        return parse_list(LK_SACCT, out, len, ret, ret_bad, err);
}

/* Job ids compare numerically on their leading digits. */
static unsigned long long id_num(const char *id)
{
        return strtoull(id, NULL, 10);
}

const struct slurm_job_info *slurm_job_list_find(const struct slurm_job_list *l, const char *name)
{
        const struct slurm_job_info *best = NULL;
        for (size_t i = 0; name && i < l->n; i++)
                if (!strcmp(l->jobs[i].name, name) &&
                    (!best || id_num(l->jobs[i].id) > id_num(best->id)))
                        best = &l->jobs[i];
        return best;
}

/* ---- sinfo ---- */

static bool parse_i64(const char *s, int64_t *ret)
{
        if (!all_digits(s, 15))
                return false;
        *ret = strtoll(s, NULL, 10);
        return true;
}

/* "gpu:a100:2(S:0-1)", "gpu:2", "gpu:a100:1(IDX:0)", "gpu:a100:0(IDX:N/A)".
 * Adds the GPU entries of a Gres or GresUsed column to *acc (used or total). */
static bool add_gres(const char *col, struct slurm_capacity *c, bool used, bool apply)
{
        if (!*col || !strcmp(col, "(null)") || !strcmp(col, "N/A"))
                return true;
        /* split on ',' outside parentheses */
        size_t depth = 0;
        const char *s = col;
        for (const char *p = col;; p++) {
                if (*p == '(')
                        depth++;
                else if (*p == ')' && depth)
                        depth--;
                if (*p && !(*p == ',' && depth == 0))
                        continue;
                size_t n = (size_t)(p - s);
                char item[256];
                if (n == 0 || n >= sizeof(item))
                        return false;
                memcpy(item, s, n);
                item[n] = '\0';
                char *paren = strchr(item, '(');
                if (paren)
                        *paren = '\0';
                /* name[:type]:count */
                char *last = strrchr(item, ':');
                int64_t cnt;
                if (!last || !parse_i64(last + 1, &cnt))
                        return false;
                *last = '\0';
                if (ferry_str_startswith(item, "gpu") && (item[3] == '\0' || item[3] == ':') &&
                    apply) {
                        size_t k;
                        for (k = 0; k < c->n_gpus; k++)
                                if (!strcmp(c->gpus[k].type, item))
                                        break;
                        if (k == c->n_gpus) {
                                if (c->n_gpus >= 256)
                                        return false;
                                c->gpus =
                                    ferry_xrealloc(c->gpus, (c->n_gpus + 1) * sizeof(*c->gpus));
                                c->gpus[k] = (struct slurm_gpu_count){.type = ferry_xstrdup(item)};
                                c->n_gpus++;
                        }
                        if (used)
                                c->gpus[k].used += cnt;
                        else
                                c->gpus[k].total += cnt;
                }
                if (!*p)
                        break;
                s = p + 1;
        }
        return true;
}

/* Node states that take no new jobs (sinfo compact state, maybe with a
 * flag suffix: '*' not responding, '~' powered off, '#' powering up,
 * '!' powering down, '%' powering off, '$' maintenance reservation, '@' reboot, '-' planned). */
static bool node_usable(const char *st)
{
        static const char *const bad[] = {
            "down",    "drain", "drng",   "drained",      "draining",      "fail",   "failg",
            "failing", "maint", "boot",   "unk",          "unknown",       "inval",  "futr",
            "future",  "npc",   "pow_dn", "powered_down", "powering_down", "reboot", "resv_del"};
        size_t n = strlen(st);
        if (n == 0)
                return false;
        if (strpbrk(st, "*~#!%$@"))
                return false;
        for (size_t i = 0; i < FERRY_ARRAY_SIZE(bad); i++)
                if (!strncasecmp(st, bad[i], strlen(bad[i])))
                        return false;
        return true;
}

static int gpu_cmp(const void *a, const void *b)
{
        return strcmp(((const struct slurm_gpu_count *)a)->type,
                      ((const struct slurm_gpu_count *)b)->type);
}

void slurm_capacity_clear(struct slurm_capacity *c)
{
        for (size_t i = 0; i < c->n_gpus; i++)
                free(c->gpus[i].type);
        free(c->gpus);
        memset(c, 0, sizeof(*c));
}

int slurm_parse_sinfo(const char *out, size_t len, struct slurm_capacity *ret, size_t *ret_bad,
                      ferry_error_t *err)
{
        struct lines l = {out, out + len};
        const char *line;
        size_t ll, bad = 0, n_seen = 0;
        struct slurm_capacity c = {0};
        char **seen = NULL;
        char *f[16];

        while (next_line(&l, &line, &ll)) {
                if (ll == 0)
                        continue;
                if (ll > SLURM_PARSE_MAX_LINE || memchr(line, '\0', ll)) {
                        bad++;
                        continue;
                }
                char *buf = ferry_xstrndup(line, ll);
                size_t n = split(buf, f, 16);
                /* the format ends each field with '|', so 7 fields + an empty tail */
                bool ok = (n == 7 || (n == 8 && !*trim(f[7])));
                int64_t a, i, o, t, alloc, mem;
                char *host = ok ? trim(f[0]) : NULL;
                ok = ok && *host && strlen(host) < 256 &&
                     sscanf(trim(f[1]), "%" SCNd64 "/%" SCNd64 "/%" SCNd64 "/%" SCNd64, &a, &i, &o,
                            &t) == 4 &&
                     a >= 0 && i >= 0 && o >= 0 && t >= 0 && a <= 1 << 24 && i <= 1 << 24 &&
                     o <= 1 << 24 && t <= 1 << 24;
                ok = ok && parse_i64(trim(f[2]), &alloc) && parse_i64(trim(f[3]), &mem);
                /* validate the GRES columns before counting anything */
                ok = ok && add_gres(trim(f[4]), &c, false, false) &&
                     add_gres(trim(f[5]), &c, true, false);
                if (!ok) {
                        free(buf);
                        bad++;
                        continue;
                }
                bool dup = false;
                for (size_t k = 0; k < n_seen && !dup; k++)
                        dup = !strcmp(seen[k], host);
                if (dup) { /* a node in several partitions is listed once per partition */
                        free(buf);
                        continue;
                }
                if (n_seen >= SLURM_PARSE_MAX_NODES) {
                        free(buf);
                        for (size_t k = 0; k < n_seen; k++)
                                free(seen[k]);
                        free(seen);
                        slurm_capacity_clear(&c);
                        return ferry_errprintf(err, -E2BIG, "sinfo listed more than %d nodes",
                                               SLURM_PARSE_MAX_NODES);
                }
                seen = ferry_xrealloc(seen, (n_seen + 1) * sizeof(char *));
                seen[n_seen++] = ferry_xstrdup(host);
                c.nodes++;
                c.cpus_total += t;
                c.mem_total_mb += mem;
                if (node_usable(trim(f[6]))) {
                        c.usable_nodes++;
                        c.cpus_free += i;
                        c.mem_free_mb += mem > alloc ? mem - alloc : 0;
                        add_gres(trim(f[4]), &c, false, true);
                        add_gres(trim(f[5]), &c, true, true);
                }
                free(buf);
        }
        for (size_t k = 0; k < n_seen; k++)
                free(seen[k]);
        free(seen);
        if (c.n_gpus) /* qsort(NULL, 0) is undefined */
                qsort(c.gpus, c.n_gpus, sizeof(*c.gpus), gpu_cmp);
        *ret = c;
        if (ret_bad)
                *ret_bad = bad;
        return 0;
}
