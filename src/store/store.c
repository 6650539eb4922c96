/* SPDX-License-Identifier: MIT */
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <pthread.h>
#include <semaphore.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include "common/log.h"
#include "common/thread.h"
#include "common/util.h"

enum op_kind { OP_INSERT, OP_UPDATE, OP_SYNC, OP_JOB_PUT, OP_JOB_DEL, OP_META_PUT, OP_USAGE_PUT };

struct op {
        struct op *next;
        enum op_kind kind;
        /* insert */
        char *uid, *ns, *name, *backend, *jid, *status, *body;
        size_t body_len;
        int body_kind;
        int64_t created_ns, grace_s;
        int state;
        char *event_kind, *event_detail;
        double cpu_s, gpu_s; /* usage put */
        /* waiter (insert, sync): posted once the op's batch is committed (or
         * failed); the waiter alone wakes, and frees the op */
        bool waited;
        sem_t done;
        int result;
        char errtext[256];
};

struct ferry_store {
        sqlite3 *wdb; /* writer connection, used only by the writer thread after open */
        sqlite3 *rdb; /* reader connection for load/get_body, under rlock */
        pthread_mutex_t rlock;
        sqlite3_stmt *ins, *upd_jid, *upd_state, *upd_status, *upd_grace, *ins_event, *upd_time;
        sqlite3_stmt *job_ins, *job_upd, *job_del;
        pthread_t writer;
        pthread_mutex_t lock;
        pthread_cond_t cond; /* queue non-empty / stop */
        struct op *head, *tail;
        bool stop;
        /* the last group commit failed (under lock): every waiter of that
         * batch was told, its updates are retried, /healthz says so */
        bool failed;
        int64_t failed_since_ns;
        char fail_text[256];
        uint64_t commit_failures;
};

#define RETRY_MS 1000 /* between attempts while commits fail */

static const char *const migrations[] = {
    /* version 1 */
    "CREATE TABLE pods ("
    "  uid TEXT PRIMARY KEY,"
    "  namespace TEXT NOT NULL,"
    "  name TEXT NOT NULL,"
    "  backend TEXT NOT NULL,"
    "  jid TEXT,"
    "  state INTEGER NOT NULL,"
    "  status TEXT,"
    "  body BLOB,"
    "  body_kind INTEGER NOT NULL DEFAULT 0,"
    "  created_ns INTEGER NOT NULL,"
    "  updated_ns INTEGER NOT NULL);"
    "CREATE INDEX pods_state ON pods(state);"
    "CREATE TABLE events ("
    "  id INTEGER PRIMARY KEY,"
    "  uid TEXT NOT NULL,"
    "  at_ns INTEGER NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  detail TEXT);"
    "CREATE INDEX events_uid ON events(uid);",
    /* version 2: the grace period outlives a restart */
    "ALTER TABLE pods ADD COLUMN grace_s INTEGER NOT NULL DEFAULT 30;",
    /* version 3: Jobs run by ferryd (src/daemon/jobs.c) */
    "CREATE TABLE jobs ("
    "  uid TEXT PRIMARY KEY,"
    "  namespace TEXT NOT NULL,"
    "  name TEXT NOT NULL,"
    "  spec TEXT NOT NULL,"
    "  state TEXT,"
    "  created_ns INTEGER NOT NULL,"
    "  updated_ns INTEGER NOT NULL,"
    "  UNIQUE(namespace, name));",
    /* version 4: the usage ledger, one record per pod (src/daemon/ledger.c) */
    "CREATE TABLE usage ("
    "  uid TEXT PRIMARY KEY,"
    "  finished_ns INTEGER NOT NULL,"
    "  namespace TEXT NOT NULL,"
    "  tenant TEXT,"
    "  user TEXT,"
    "  cpu_s REAL NOT NULL,"
    "  gpu_s REAL NOT NULL,"
    "  reason TEXT,"
    "  profile TEXT,"
    "  record TEXT NOT NULL);"
    "CREATE INDEX usage_finished ON usage(finished_ns);",
};

static int exec(sqlite3 *db, const char *sql, ferry_error_t *err)
{
        char *msg = NULL;
        if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
                int r = ferry_errprintf(err, -EIO, "sqlite: %s", msg ? msg : "error");
                sqlite3_free(msg);
                return r;
        }
        return 0;
}

static int migrate(sqlite3 *db, ferry_error_t *err)
{
        sqlite3_stmt *st;
        int version = 0, r;

        if ((r = exec(db, "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);",
                      err)) < 0)
                return r;
        if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key='schema_version'", -1, &st,
                               NULL) != SQLITE_OK)
                return ferry_errprintf(err, -EIO, "sqlite: %s", sqlite3_errmsg(db));
        if (sqlite3_step(st) == SQLITE_ROW)
                version = (int)strtol((const char *)sqlite3_column_text(st, 0), NULL, 10);
        sqlite3_finalize(st);
        if (version > (int)FERRY_ARRAY_SIZE(migrations))
                return ferry_errprintf(err, -EPROTO,
                                       "the state database has schema version %d, newer than this "
                                       "ferryd (%d): use a newer ferryd",
                                       version, (int)FERRY_ARRAY_SIZE(migrations));
        for (int v = version; v < (int)FERRY_ARRAY_SIZE(migrations); v++) {
                char set[128];
                if ((r = exec(db, "BEGIN IMMEDIATE;", err)) < 0)
                        return r;
                if ((r = exec(db, migrations[v], err)) < 0) {
                        exec(db, "ROLLBACK;", NULL);
                        return ferry_errprefix(err, r, "migration to schema version %d", v + 1);
                }
                snprintf(set, sizeof(set),
                         "INSERT OR REPLACE INTO meta(key, value) VALUES('schema_version', '%d');",
                         v + 1);
                if ((r = exec(db, set, err)) < 0 || (r = exec(db, "COMMIT;", err)) < 0) {
                        exec(db, "ROLLBACK;", NULL);
                        return r;
                }
                log_info("store: migrated to schema version %d", v + 1);
        }
        return 0;
}

static void op_free(struct op *o)
{
        free(o->uid);
        free(o->ns);
        free(o->name);
        free(o->backend);
        free(o->jid);
        free(o->status);
        free(o->body);
        free(o->event_kind);
        free(o->event_detail);
        free(o);
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
        if (s)
                sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
        else
                sqlite3_bind_null(st, i);
}

static int run_stmt(sqlite3_stmt *st)
{
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        return rc;
}

/* An update statement: any failure fails the whole batch. */
static bool step_ok(sqlite3_stmt *st)
{
        return run_stmt(st) == SQLITE_DONE;
}

/* Apply one op inside the batch's transaction. False when the batch cannot
 * commit (the database refused a write: disk full, I/O error); a duplicate
 * insert only fails that op. */
static bool apply(struct ferry_store *s, struct op *o, int64_t now)
{
        int rc;
        bool ok = true;

        if (o->kind == OP_INSERT) {
                sqlite3_stmt *st = s->ins;
                bind_text(st, 1, o->uid);
                bind_text(st, 2, o->ns);
                bind_text(st, 3, o->name);
                bind_text(st, 4, o->backend);
                bind_text(st, 5, o->jid);
                sqlite3_bind_int(st, 6, o->state);
                bind_text(st, 7, o->status);
                sqlite3_bind_blob(st, 8, o->body, (int)o->body_len, SQLITE_STATIC);
                sqlite3_bind_int(st, 9, o->body_kind);
                sqlite3_bind_int64(st, 10, o->created_ns);
                sqlite3_bind_int64(st, 11, now);
                sqlite3_bind_int64(st, 12, o->grace_s);
                rc = run_stmt(st);
                if (rc == SQLITE_CONSTRAINT) {
                        o->result = -EEXIST;
                        snprintf(o->errtext, sizeof(o->errtext), "pod %s is already stored",
                                 o->uid);
                        return true;
                }
                if (rc != SQLITE_DONE)
                        return false;
        } else if (o->kind == OP_UPDATE) {
                if (o->jid) {
                        bind_text(s->upd_jid, 1, o->jid);
                        bind_text(s->upd_jid, 2, o->uid);
                        ok = ok && step_ok(s->upd_jid);
                }
                if (o->state >= 0) {
                        sqlite3_bind_int(s->upd_state, 1, o->state);
                        bind_text(s->upd_state, 2, o->uid);
                        ok = ok && step_ok(s->upd_state);
                }
                if (o->grace_s >= 0) {
                        sqlite3_bind_int64(s->upd_grace, 1, o->grace_s);
                        bind_text(s->upd_grace, 2, o->uid);
                        ok = ok && step_ok(s->upd_grace);
                }
                if (o->status) {
                        bind_text(s->upd_status, 1, o->status);
                        bind_text(s->upd_status, 2, o->uid);
                        ok = ok && step_ok(s->upd_status);
                }
                sqlite3_bind_int64(s->upd_time, 1, now);
                bind_text(s->upd_time, 2, o->uid);
                ok = ok && step_ok(s->upd_time);
        } else if (o->kind == OP_JOB_PUT && o->body) {
                sqlite3_stmt *st = s->job_ins;
                bind_text(st, 1, o->uid);
                bind_text(st, 2, o->ns);
                bind_text(st, 3, o->name);
                bind_text(st, 4, o->body);
                bind_text(st, 5, o->status);
                sqlite3_bind_int64(st, 6, o->created_ns);
                sqlite3_bind_int64(st, 7, now);
                rc = run_stmt(st);
                if (rc == SQLITE_CONSTRAINT) {
                        o->result = -EEXIST;
                        snprintf(o->errtext, sizeof(o->errtext),
                                 "a job named \"%s\" already exists in namespace \"%s\"", o->name,
                                 o->ns);
                        return true;
                }
                if (rc != SQLITE_DONE)
                        return false;
        } else if (o->kind == OP_JOB_PUT) {
                bind_text(s->job_upd, 1, o->status);
                sqlite3_bind_int64(s->job_upd, 2, now);
                bind_text(s->job_upd, 3, o->uid);
                ok = step_ok(s->job_upd);
        } else if (o->kind == OP_JOB_DEL) {
                bind_text(s->job_del, 1, o->uid);
                ok = step_ok(s->job_del);
        } else if (o->kind == OP_USAGE_PUT) { /* once per pod: a second put is a no-op */
                sqlite3_stmt *st = NULL;
                ok = sqlite3_prepare_v2(s->wdb,
                                        "INSERT OR IGNORE INTO usage(uid, finished_ns, namespace, "
                                        "tenant, user, cpu_s, gpu_s, reason, record, profile) "
                                        "VALUES(?,?,?,?,?,?,?,?,?,?)",
                                        -1, &st, NULL) == SQLITE_OK;
                if (ok) {
                        bind_text(st, 1, o->uid);
                        sqlite3_bind_int64(st, 2, o->created_ns);
                        bind_text(st, 3, o->ns ? o->ns : "");
                        bind_text(st, 4, o->name);
                        bind_text(st, 5, o->backend);
                        sqlite3_bind_double(st, 6, o->cpu_s);
                        sqlite3_bind_double(st, 7, o->gpu_s);
                        bind_text(st, 8, o->status);
                        bind_text(st, 9, o->body);
                        bind_text(st, 10, o->jid);
                        ok = sqlite3_step(st) == SQLITE_DONE;
                }
                sqlite3_finalize(st);
        } else if (o->kind == OP_META_PUT) { /* rare: prepared when needed */
                sqlite3_stmt *st = NULL;
                ok = sqlite3_prepare_v2(s->wdb,
                                        "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", -1,
                                        &st, NULL) == SQLITE_OK;
                if (ok) {
                        bind_text(st, 1, o->uid);
                        bind_text(st, 2, o->status);
                        ok = sqlite3_step(st) == SQLITE_DONE;
                }
                sqlite3_finalize(st);
        } else {
                return true;
        }
        if (ok && o->event_kind) {
                bind_text(s->ins_event, 1, o->uid);
                sqlite3_bind_int64(s->ins_event, 2, now);
                bind_text(s->ins_event, 3, o->event_kind);
                bind_text(s->ins_event, 4, o->event_detail);
                ok = step_ok(s->ins_event);
        }
        return ok;
}

/* One group commit of batch. False (with the reason in why) when it did
 * not commit: nothing of it is stored. */
static bool commit_batch(struct ferry_store *s, struct op *batch, char *why, size_t why_len)
{
        int64_t now = ferry_now_ns();
        bool ok = sqlite3_exec(s->wdb, "BEGIN IMMEDIATE;", NULL, NULL, NULL) == SQLITE_OK;
        for (struct op *o = batch; ok && o; o = o->next)
                ok = apply(s, o, now);
        if (ok)
                ok = sqlite3_exec(s->wdb, "COMMIT;", NULL, NULL, NULL) == SQLITE_OK;
        if (!ok) {
                snprintf(why, why_len, "%s", sqlite3_errmsg(s->wdb));
                sqlite3_exec(s->wdb, "ROLLBACK;", NULL, NULL, NULL);
        }
        return ok;
}

/* The writer: every op queued while the previous batch committed goes into
 * the next transaction (group commit). When a commit fails, every waiter of
 * the batch gets -EIO (an insert is not acknowledged), the updates go back to
 * the head of the queue for the next attempt, and the store reports itself
 * failed until a commit succeeds. */
static void *writer_main(void *arg)
{
        struct ferry_store *s = arg;

        pthread_mutex_lock(&s->lock);
        for (;;) {
                while (!s->head && !s->stop)
                        pthread_cond_wait(&s->cond, &s->lock);
                if (!s->head && s->stop)
                        break;
                struct op *batch = s->head;
                s->head = s->tail = NULL;
                pthread_mutex_unlock(&s->lock);

                char why[200] = "";
                bool ok = commit_batch(s, batch, why, sizeof(why));
                if (!ok)
                        log_err("store: the state database could not commit %s: %s",
                                s->failed ? "again" : "(pods are refused until it can)", why);

                pthread_mutex_lock(&s->lock);
                struct op *keep = NULL, *keep_tail = NULL;
                for (struct op *o = batch, *next; o; o = next) {
                        next = o->next;
                        o->next = NULL;
                        if (!ok && o->kind == OP_UPDATE && !s->stop) {
                                /* retried, in order, before anything newer */
                                if (keep_tail)
                                        keep_tail->next = o;
                                else
                                        keep = o;
                                keep_tail = o;
                                continue;
                        }
                        if (!ok && o->result == 0) {
                                o->result = -EIO;
                                snprintf(o->errtext, sizeof(o->errtext),
                                         "the state database could not commit: %s", why);
                        }
                        if (o->waited)
                                sem_post(&o->done); /* the waiter frees it */
                        else
                                op_free(o);
                }
                if (keep) {
                        keep_tail->next = s->head;
                        if (!s->head)
                                s->tail = keep_tail;
                        s->head = keep;
                }
                if (ok && s->failed)
                        log_info("store: the state database commits again");
                if (!ok) {
                        if (!s->failed)
                                s->failed_since_ns = ferry_now_ns();
                        snprintf(s->fail_text, sizeof(s->fail_text), "%s", why);
                        s->commit_failures++;
                }
                s->failed = !ok;
                if (!ok) {
                        int64_t until = ferry_monotonic_ns() + RETRY_MS * FERRY_NSEC_PER_MSEC;
                        while (!s->stop &&
                               ferry_cond_wait_until(&s->cond, &s->lock, until) != ETIMEDOUT)
                                ;
                }
        }
        pthread_mutex_unlock(&s->lock);
        return NULL;
}

static void enqueue(struct ferry_store *s, struct op *o)
{
        pthread_mutex_lock(&s->lock);
        if (s->tail)
                s->tail->next = o;
        else
                s->head = o;
        s->tail = o;
        pthread_cond_signal(&s->cond);
        pthread_mutex_unlock(&s->lock);
}

static int enqueue_wait(struct ferry_store *s, struct op *o, ferry_error_t *err)
{
        o->waited = true;
        sem_init(&o->done, 0, 0);
        enqueue(s, o);
        while (sem_wait(&o->done) < 0 && errno == EINTR)
                ;
        sem_destroy(&o->done);
        int r = o->result;
        if (r < 0)
                ferry_errprintf(err, r, "%s", o->errtext);
        op_free(o);
        return r;
}

static int prep(sqlite3 *db, const char *sql, sqlite3_stmt **st, ferry_error_t *err)
{
        if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK)
                return ferry_errprintf(err, -EIO, "sqlite prepare: %s", sqlite3_errmsg(db));
        return 0;
}

static void close_dbs(struct ferry_store *s)
{
        sqlite3_finalize(s->ins);
        sqlite3_finalize(s->upd_jid);
        sqlite3_finalize(s->upd_state);
        sqlite3_finalize(s->upd_status);
        sqlite3_finalize(s->upd_grace);
        sqlite3_finalize(s->upd_time);
        sqlite3_finalize(s->ins_event);
        sqlite3_finalize(s->job_ins);
        sqlite3_finalize(s->job_upd);
        sqlite3_finalize(s->job_del);
        sqlite3_close(s->wdb);
        sqlite3_close(s->rdb);
}

static int open_db(const char *path, sqlite3 **db, ferry_error_t *err)
{
        if (sqlite3_open_v2(path, db,
                            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                            NULL) != SQLITE_OK) {
                int r = ferry_errprintf(err, -EIO, "cannot open state database %s: %s", path,
                                        *db ? sqlite3_errmsg(*db) : "out of memory");
                sqlite3_close(*db);
                *db = NULL;
                return r;
        }
        /* it holds every pod spec, Secrets included: only ferryd's user reads
         * it (SQLite gives its -wal and -shm files the database's mode) */
        if (chmod(path, 0600) < 0 && errno != ENOENT) {
                int r = ferry_errprintf(err, -errno, "cannot chmod %s: %m", path);
                sqlite3_close(*db);
                *db = NULL;
                return r;
        }
        for (size_t i = 0; i < 2; i++) {
                char side[PATH_MAX];
                snprintf(side, sizeof(side), "%s%s", path, i ? "-shm" : "-wal");
                (void)chmod(side, 0600);
        }
        sqlite3_busy_timeout(*db, 10000);
        return 0;
}

int ferry_store_open(const char *path, struct ferry_store **ret, ferry_error_t *err)
{
        struct ferry_store *s = ferry_xcalloc(1, sizeof(*s));
        int r;

        if ((r = open_db(path, &s->wdb, err)) < 0)
                goto fail;
        if ((r = exec(s->wdb,
                      "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;",
                      err)) < 0 ||
            (r = migrate(s->wdb, err)) < 0)
                goto fail;
        if ((r = prep(s->wdb,
                      "INSERT INTO pods(uid, namespace, name, backend, jid, state, status, body, "
                      "body_kind, created_ns, updated_ns, grace_s)"
                      " VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
                      &s->ins, err)) < 0 ||
            (r = prep(s->wdb, "UPDATE pods SET jid=? WHERE uid=?", &s->upd_jid, err)) < 0 ||
            (r = prep(s->wdb,
                      "UPDATE pods SET state=?, body=CASE WHEN ?1=3 THEN NULL ELSE body END WHERE "
                      "uid=?2",
                      &s->upd_state, err)) < 0 ||
            (r = prep(s->wdb, "UPDATE pods SET status=? WHERE uid=?", &s->upd_status, err)) < 0 ||
            (r = prep(s->wdb, "UPDATE pods SET grace_s=? WHERE uid=?", &s->upd_grace, err)) < 0 ||
            (r = prep(s->wdb, "UPDATE pods SET updated_ns=? WHERE uid=?", &s->upd_time, err)) < 0 ||
            (r = prep(s->wdb, "INSERT INTO events(uid, at_ns, kind, detail) VALUES(?,?,?,?)",
                      &s->ins_event, err)) < 0 ||
            (r = prep(s->wdb,
                      "INSERT INTO jobs(uid, namespace, name, spec, state, created_ns, updated_ns)"
                      " VALUES(?,?,?,?,?,?,?)",
                      &s->job_ins, err)) < 0 ||
            (r = prep(s->wdb, "UPDATE jobs SET state=?, updated_ns=? WHERE uid=?", &s->job_upd,
                      err)) < 0 ||
            (r = prep(s->wdb, "DELETE FROM jobs WHERE uid=?", &s->job_del, err)) < 0)
                goto fail;
        if ((r = open_db(path, &s->rdb, err)) < 0)
                goto fail;
        pthread_mutex_init(&s->rlock, NULL);
        pthread_mutex_init(&s->lock, NULL);
        ferry_cond_init(&s->cond);
        if ((r = -pthread_create(&s->writer, NULL, writer_main, s)) < 0) {
                ferry_errprintf(err, r, "cannot start the store writer thread");
                goto fail;
        }
        *ret = s;
        return 0;
fail:
        close_dbs(s);
        free(s);
        return r;
}

void ferry_store_close(struct ferry_store *s)
{
        if (!s)
                return;
        pthread_mutex_lock(&s->lock);
        s->stop = true;
        pthread_cond_signal(&s->cond);
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->writer, NULL);
        close_dbs(s);
        pthread_mutex_destroy(&s->rlock);
        pthread_mutex_destroy(&s->lock);
        pthread_cond_destroy(&s->cond);
        free(s);
}

static char *dup_or_null(const char *s)
{
        return s ? ferry_xstrdup(s) : NULL;
}

int ferry_store_put_pod(struct ferry_store *s, const struct ferry_store_row *row, const char *body,
                        size_t body_len, int body_kind, ferry_error_t *err)
{
        struct op *o = ferry_xcalloc(1, sizeof(*o));
        o->kind = OP_INSERT;
        o->uid = ferry_xstrdup(row->uid);
        o->ns = ferry_xstrdup(row->namespace);
        o->name = ferry_xstrdup(row->name);
        o->backend = ferry_xstrdup(row->backend);
        o->jid = dup_or_null(row->jid);
        o->status = dup_or_null(row->status);
        o->state = row->state;
        o->created_ns = row->created_ns;
        o->grace_s = row->grace_s;
        o->body = ferry_xmalloc(body_len + 1);
        memcpy(o->body, body, body_len);
        o->body_len = body_len;
        o->body_kind = body_kind;
        o->event_kind = ferry_xstrdup("accepted");
        return enqueue_wait(s, o, err);
}

void ferry_store_update(struct ferry_store *s, const char *uid, const char *jid, int state,
                        const char *status, const char *event_kind, const char *event_detail)
{
        struct op *o = ferry_xcalloc(1, sizeof(*o));
        o->kind = OP_UPDATE;
        o->uid = ferry_xstrdup(uid);
        o->jid = dup_or_null(jid);
        o->state = state;
        o->status = dup_or_null(status);
        o->event_kind = dup_or_null(event_kind);
        o->event_detail = dup_or_null(event_detail);
        o->grace_s = -1;
        enqueue(s, o);
}

void ferry_store_update_grace(struct ferry_store *s, const char *uid, int64_t grace_s)
{
        struct op *o = ferry_xcalloc(1, sizeof(*o));
        o->kind = OP_UPDATE;
        o->uid = ferry_xstrdup(uid);
        o->state = -1;
        o->grace_s = grace_s;
        enqueue(s, o);
}

int ferry_store_sync(struct ferry_store *s)
{
        struct op *o = ferry_xcalloc(1, sizeof(*o));
        o->kind = OP_SYNC;
        return enqueue_wait(s, o, NULL);
}

int ferry_store_load(struct ferry_store *s, int (*cb)(void *ctx, const struct ferry_store_row *row),
                     void *ctx, ferry_error_t *err)
{
        sqlite3_stmt *st;
        int r = 0, rc;

        pthread_mutex_lock(&s->rlock);
        if (sqlite3_prepare_v2(
                s->rdb,
                "SELECT uid, namespace, name, backend, jid, state, status, created_ns, grace_s"
                " FROM pods"
                " WHERE state != 3 ORDER BY created_ns, rowid",
                -1, &st, NULL) != SQLITE_OK) {
                r = ferry_errprintf(err, -EIO, "sqlite: %s", sqlite3_errmsg(s->rdb));
                pthread_mutex_unlock(&s->rlock);
                return r;
        }
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                struct ferry_store_row row = {
                    .uid = (const char *)sqlite3_column_text(st, 0),
                    .namespace = (const char *)sqlite3_column_text(st, 1),
                    .name = (const char *)sqlite3_column_text(st, 2),
                    .backend = (const char *)sqlite3_column_text(st, 3),
                    .jid = (const char *)sqlite3_column_text(st, 4),
                    .state = sqlite3_column_int(st, 5),
                    .status = (const char *)sqlite3_column_text(st, 6),
                    .created_ns = sqlite3_column_int64(st, 7),
                    .grace_s = sqlite3_column_int64(st, 8),
                };
                if ((r = cb(ctx, &row)) < 0)
                        break;
        }
        if (r == 0 && rc != SQLITE_DONE)
                r = ferry_errprintf(err, -EIO, "sqlite: %s", sqlite3_errmsg(s->rdb));
        sqlite3_finalize(st);
        pthread_mutex_unlock(&s->rlock);
        return r;
}

int ferry_store_get_body(struct ferry_store *s, const char *uid, char **ret, size_t *ret_len,
                         int *ret_kind, ferry_error_t *err)
{
        sqlite3_stmt *st;
        int r = -ENOENT;

        pthread_mutex_lock(&s->rlock);
        if (sqlite3_prepare_v2(s->rdb, "SELECT body, body_kind FROM pods WHERE uid=?", -1, &st,
                               NULL) != SQLITE_OK) {
                pthread_mutex_unlock(&s->rlock);
                return ferry_errprintf(err, -EIO, "sqlite: %s", sqlite3_errmsg(s->rdb));
        }
        sqlite3_bind_text(st, 1, uid, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
                size_t n = (size_t)sqlite3_column_bytes(st, 0);
                char *b = ferry_xmalloc(n + 1);
                memcpy(b, sqlite3_column_blob(st, 0), n);
                b[n] = '\0';
                *ret = b;
                *ret_len = n;
                *ret_kind = sqlite3_column_int(st, 1);
                r = 0;
        } else {
                ferry_errprintf(err, -ENOENT, "no stored request for pod %s", uid);
        }
        sqlite3_finalize(st);
        pthread_mutex_unlock(&s->rlock);
        return r;
}

int ferry_store_count_events(struct ferry_store *s, const char *uid, const char *kind)
{
        sqlite3_stmt *st;
        int n = -EIO;

        ferry_store_sync(s);
        pthread_mutex_lock(&s->rlock);
        if (sqlite3_prepare_v2(s->rdb, "SELECT count(*) FROM events WHERE uid=? AND kind=?", -1,
                               &st, NULL) == SQLITE_OK) {
                sqlite3_bind_text(st, 1, uid, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
                if (sqlite3_step(st) == SQLITE_ROW)
                        n = sqlite3_column_int(st, 0);
                sqlite3_finalize(st);
        }
        pthread_mutex_unlock(&s->rlock);
        return n;
}

int ferry_store_health(struct ferry_store *s, ferry_error_t *err)
{
        int r = 0;
        pthread_mutex_lock(&s->lock);
        if (s->failed) {
                char t[FERRY_TIME_MAX];
                r = ferry_errprintf(err, -EIO, "the state database cannot commit since %s: %s",
                                    ferry_time_format(s->failed_since_ns, 0, t), s->fail_text);
        }
        pthread_mutex_unlock(&s->lock);
        return r;
}

uint64_t ferry_store_commit_failures(struct ferry_store *s)
{
        pthread_mutex_lock(&s->lock);
        uint64_t n = s->commit_failures;
        pthread_mutex_unlock(&s->lock);
        return n;
}

/* ---- jobs ---- */

int ferry_store_put_job(struct ferry_store *s, const struct ferry_store_job *job,
                        ferry_error_t *err)
{
        struct op *o = ferry_xcalloc(1, sizeof(*o));
        o->kind = OP_JOB_PUT;
        o->uid = ferry_xstrdup(job->uid);
        o->ns = dup_or_null(job->namespace);
        o->name = dup_or_null(job->name);
        o->body = dup_or_null(job->spec);
        o->status = dup_or_null(job->state);
        o->created_ns = job->created_ns;
        return enqueue_wait(s, o, err);
}

int ferry_store_delete_job(struct ferry_store *s, const char *uid, ferry_error_t *err)
{
        struct op *o = ferry_xcalloc(1, sizeof(*o));
        o->kind = OP_JOB_DEL;
        o->uid = ferry_xstrdup(uid);
        return enqueue_wait(s, o, err);
}

int ferry_store_load_jobs(struct ferry_store *s,
                          int (*cb)(void *ctx, const struct ferry_store_job *job), void *ctx,
                          ferry_error_t *err)
{
        sqlite3_stmt *st;
        int r = 0, rc;

        pthread_mutex_lock(&s->rlock);
        if (sqlite3_prepare_v2(s->rdb,
                               "SELECT uid, namespace, name, spec, state, created_ns FROM jobs"
                               " ORDER BY created_ns, rowid",
                               -1, &st, NULL) != SQLITE_OK) {
                r = ferry_errprintf(err, -EIO, "sqlite: %s", sqlite3_errmsg(s->rdb));
                pthread_mutex_unlock(&s->rlock);
                return r;
        }
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                struct ferry_store_job job = {
                    .uid = (const char *)sqlite3_column_text(st, 0),
                    .namespace = (const char *)sqlite3_column_text(st, 1),
                    .name = (const char *)sqlite3_column_text(st, 2),
                    .spec = (const char *)sqlite3_column_text(st, 3),
                    .state = (const char *)sqlite3_column_text(st, 4),
                    .created_ns = sqlite3_column_int64(st, 5),
                };
                if ((r = cb(ctx, &job)) < 0)
                        break;
        }
        if (r == 0 && rc != SQLITE_DONE)
                r = ferry_errprintf(err, -EIO, "sqlite: %s", sqlite3_errmsg(s->rdb));
        sqlite3_finalize(st);
        pthread_mutex_unlock(&s->rlock);
        return r;
}

void ferry_store_put_meta(struct ferry_store *s, const char *key, const char *value)
{
        struct op *o = ferry_xcalloc(1, sizeof(*o));
        o->kind = OP_META_PUT;
        o->uid = ferry_xstrdup(key);
        o->status = ferry_xstrdup(value);
        enqueue(s, o);
}

int ferry_store_get_meta(struct ferry_store *s, const char *key, char **ret)
{
        sqlite3_stmt *st;
        int r = -ENOENT;

        *ret = NULL;
        pthread_mutex_lock(&s->rlock);
        if (sqlite3_prepare_v2(s->rdb, "SELECT value FROM meta WHERE key = ?", -1, &st, NULL) !=
            SQLITE_OK) {
                pthread_mutex_unlock(&s->rlock);
                return -EIO;
        }
        bind_text(st, 1, key);
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) {
                *ret = ferry_xstrdup((const char *)sqlite3_column_text(st, 0));
                r = 0;
        }
        sqlite3_finalize(st);
        pthread_mutex_unlock(&s->rlock);
        return r;
}

void ferry_store_put_usage(struct ferry_store *s, const struct ferry_store_usage *u)
{
        struct op *o = ferry_xcalloc(1, sizeof(*o));
        o->kind = OP_USAGE_PUT;
        o->uid = ferry_xstrdup(u->uid);
        o->ns = dup_or_null(u->namespace);
        o->name = dup_or_null(u->tenant);
        o->backend = dup_or_null(u->user);
        o->status = dup_or_null(u->reason);
        o->body = ferry_xstrdup(u->record);
        o->created_ns = u->finished_ns;
        o->cpu_s = u->cpu_s;
        o->gpu_s = u->gpu_s;
        o->jid = dup_or_null(u->profile);
        enqueue(s, o);
}

int ferry_store_scan_usage(struct ferry_store *s, int64_t finished_since_ns,
                           int (*cb)(void *ctx, const char *ns, const char *record, size_t len),
                           void *ctx, ferry_error_t *err)
{
        sqlite3_stmt *st;
        int r = 0, rc;

        pthread_mutex_lock(&s->rlock);
        if (sqlite3_prepare_v2(s->rdb,
                               "SELECT namespace, record FROM usage WHERE finished_ns >= ?"
                               " ORDER BY finished_ns",
                               -1, &st, NULL) != SQLITE_OK) {
                r = ferry_errprintf(err, -EIO, "sqlite: %s", sqlite3_errmsg(s->rdb));
                pthread_mutex_unlock(&s->rlock);
                return r;
        }
        sqlite3_bind_int64(st, 1, finished_since_ns);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                const char *ns = (const char *)sqlite3_column_text(st, 0);
                const char *rec = (const char *)sqlite3_column_text(st, 1);
                if (rec &&
                    (r = cb(ctx, ns ? ns : "", rec, (size_t)sqlite3_column_bytes(st, 1))) < 0)
                        break;
        }
        if (r == 0 && rc != SQLITE_DONE)
                r = ferry_errprintf(err, -EIO, "sqlite: %s", sqlite3_errmsg(s->rdb));
        sqlite3_finalize(st);
        pthread_mutex_unlock(&s->rlock);
        return r;
}

int ferry_store_get_event(struct ferry_store *s, const char *uid, const char *kind, char **ret)
{
        sqlite3_stmt *st;
        int r = -ENOENT;

        *ret = NULL;
        pthread_mutex_lock(&s->rlock);
        if (sqlite3_prepare_v2(s->rdb,
                               "SELECT detail FROM events WHERE uid=? AND kind=? ORDER BY id DESC"
                               " LIMIT 1",
                               -1, &st, NULL) != SQLITE_OK) {
                pthread_mutex_unlock(&s->rlock);
                return -EIO;
        }
        bind_text(st, 1, uid);
        bind_text(st, 2, kind);
        if (sqlite3_step(st) == SQLITE_ROW) {
                const char *d = (const char *)sqlite3_column_text(st, 0);
                *ret = ferry_xstrdup(d ? d : "");
                r = 0;
        }
        sqlite3_finalize(st);
        pthread_mutex_unlock(&s->rlock);
        return r;
}

bool ferry_store_has_usage(struct ferry_store *s, const char *uid)
{
        sqlite3_stmt *st;
        bool has = false;
        pthread_mutex_lock(&s->rlock);
        if (sqlite3_prepare_v2(s->rdb, "SELECT 1 FROM usage WHERE uid=?", -1, &st, NULL) ==
            SQLITE_OK) {
                bind_text(st, 1, uid);
                has = sqlite3_step(st) == SQLITE_ROW;
                sqlite3_finalize(st);
        }
        pthread_mutex_unlock(&s->rlock);
        return has;
}

int ferry_store_usage_totals(struct ferry_store *s,
                             void (*cb)(void *ctx, const char *tenant, const char *profile,
                                        const char *reason, double cpu_s, double gpu_s,
                                        int64_t pods),
                             void *ctx)
{
        sqlite3_stmt *st;
        pthread_mutex_lock(&s->rlock);
        if (sqlite3_prepare_v2(s->rdb,
                               "SELECT tenant, profile, reason, SUM(cpu_s), SUM(gpu_s), COUNT(*)"
                               " FROM usage GROUP BY tenant, profile, reason",
                               -1, &st, NULL) != SQLITE_OK) {
                pthread_mutex_unlock(&s->rlock);
                return -EIO;
        }
        while (sqlite3_step(st) == SQLITE_ROW) {
                const char *t = (const char *)sqlite3_column_text(st, 0);
                const char *p = (const char *)sqlite3_column_text(st, 1);
                const char *r = (const char *)sqlite3_column_text(st, 2);
                cb(ctx, t ? t : "", p ? p : "none", r ? r : "", sqlite3_column_double(st, 3),
                   sqlite3_column_double(st, 4), sqlite3_column_int64(st, 5));
        }
        sqlite3_finalize(st);
        pthread_mutex_unlock(&s->rlock);
        return 0;
}
