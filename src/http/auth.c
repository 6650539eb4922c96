/* SPDX-License-Identifier: MIT */
#include "auth.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/log.h"
#include "common/util.h"

struct ferry_token {
        char *token;
        char **ns; /* NULL-terminated; "*" = all */
};

struct ferry_auth {
        struct ferry_token *t;
        size_t n;
};

int ferry_auth_load(const char *path, struct ferry_auth **ret, ferry_error_t *err)
{
        char *data = NULL;
        size_t len;
        struct stat st;
        int r = ferry_read_file(path, 1 << 20, &data, &len);

        if (r < 0)
                return ferry_errprintf(err, r, "cannot read token file %s: %s", path, strerror(-r));
        if (stat(path, &st) == 0 && (st.st_mode & 0077))
                log_warn("token file %s is readable by group/others (mode %o): chmod 600 it", path,
                         st.st_mode & 0777);
        struct ferry_auth *a = ferry_xcalloc(1, sizeof(*a));
        unsigned line = 0;
        char *save = NULL;
        for (char *l = strtok_r(data, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                line++;
                while (isspace((unsigned char)*l))
                        l++;
                if (!*l || *l == '#')
                        continue;
                char *tok = l;
                while (*l && !isspace((unsigned char)*l))
                        l++;
                if (*l)
                        *l++ = '\0';
                while (isspace((unsigned char)*l))
                        l++;
                char *nss = l;
                size_t e = strlen(nss);
                while (e > 0 && isspace((unsigned char)nss[e - 1]))
                        nss[--e] = '\0';
                if (strlen(tok) < 16 || !*nss) {
                        r = ferry_errprintf(err, -EINVAL,
                                            "%s:%u: expected \"TOKEN NAMESPACE[,NAMESPACE...]\" "
                                            "with a token of at least 16 characters",
                                            path, line);
                        goto fail;
                }
                a->t = ferry_xrealloc(a->t, (a->n + 1) * sizeof(*a->t));
                struct ferry_token *t = &a->t[a->n++];
                t->token = ferry_xstrdup(tok);
                t->ns = ferry_xcalloc(1, sizeof(char *));
                size_t k = 0;
                char *s2 = NULL;
                for (char *ns = strtok_r(nss, ",", &s2); ns; ns = strtok_r(NULL, ",", &s2)) {
                        while (isspace((unsigned char)*ns))
                                ns++;
                        if (strcmp(ns, "*") != 0 && !ferry_is_dns_label(ns)) {
                                r = ferry_errprintf(err, -EINVAL,
                                                    "%s:%u: \"%s\" is not a namespace name or *",
                                                    path, line, ns);
                                goto fail;
                        }
                        t->ns = ferry_xrealloc(t->ns, (k + 2) * sizeof(char *));
                        t->ns[k++] = ferry_xstrdup(ns);
                        t->ns[k] = NULL;
                }
        }
        free(data);
        if (a->n == 0) {
                ferry_auth_free(a);
                return ferry_errprintf(err, -EINVAL, "token file %s has no tokens", path);
        }
        *ret = a;
        return 0;
fail:
        free(data);
        ferry_auth_free(a);
        return r;
}

void ferry_auth_free(struct ferry_auth *a)
{
        if (!a)
                return;
        for (size_t i = 0; i < a->n; i++) {
                free(a->t[i].token);
                for (size_t k = 0; a->t[i].ns && a->t[i].ns[k]; k++)
                        free(a->t[i].ns[k]);
                free(a->t[i].ns);
        }
        free(a->t);
        free(a);
}

const struct ferry_token *ferry_auth_check(const struct ferry_auth *a, const char *header)
{
        const struct ferry_token *found = NULL;

        if (!a || !header)
                return NULL;
        if (strncasecmp(header, "Bearer ", 7) != 0)
                return NULL;
        header += 7;
        while (*header == ' ')
                header++;
        for (size_t i = 0; i < a->n; i++) /* no early exit */
                if (ferry_secret_equal(a->t[i].token, header) && !found)
                        found = &a->t[i];
        return found;
}

bool ferry_auth_allows(const void *token, const char *ns)
{
        const struct ferry_token *t = token;
        if (!t)
                return false;
        for (size_t k = 0; t->ns[k]; k++)
                if (!strcmp(t->ns[k], "*") || !strcmp(t->ns[k], ns))
                        return true;
        return false;
}
