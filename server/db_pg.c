/* db_pg: the db.h API on PostgreSQL (libpq): the connection, its errors and transactions, and
 * getting it back when it was lost (server restart, network): the next command tries one
 * PQreset, bounded by connect_timeout, and statements prepared before prepare again. A
 * connection lost inside a transaction counts as a failed transaction: only ROLLBACK helps,
 * so no statement of it runs outside it by accident. Statements: db_pg_stmt.c. */
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/clock.h"
#include "server/db_pg_internal.h"
#include "server/log.h"

void pg_clear_error(struct pgdb *d)
{
    d->err[0] = '\0';
    d->sqlstate[0] = '\0';
    d->conn_lost = false;
}

/* msg into out on one line: libpq's have newlines, tabs, double spaces. */
static void one_line(char *out, size_t size, const char *msg)
{
    size_t n = 0;
    for (const char *p = msg; *p && n + 1 < size; p++) {
        char c = *p == '\n' || *p == '\t' || *p == '\r' ? ' ' : *p;
        if (c != ' ' || (n > 0 && out[n - 1] != ' ')) out[n++] = c;
    }
    while (n > 0 && out[n - 1] == ' ')
        n--;
    out[n] = '\0';
}

static void set_message(struct pgdb *d, const char *msg)
{
    one_line(d->err, sizeof d->err, msg);
    if (!d->err[0]) snprintf(d->err, sizeof d->err, "unknown PostgreSQL error");
}

void pg_set_error(struct pgdb *d, const char *sqlstate, bool lost, const char *fmt, ...)
{
    char msg[sizeof d->err];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    set_message(d, msg);
    snprintf(d->sqlstate, sizeof d->sqlstate, "%s", sqlstate);
    d->conn_lost = lost;
}

static bool open_tx(PGTransactionStatusType t)
{
    return t == PQTRANS_INTRANS || t == PQTRANS_INERROR || t == PQTRANS_ACTIVE;
}

PGresult *pg_check(struct pgdb *d, PGresult *res, PGTransactionStatusType before)
{
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return res;
    bool lost = PQstatus(d->conn) == CONNECTION_BAD;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (st == PGRES_EMPTY_QUERY)
        pg_set_error(d, "", false, "empty query");
    else if (primary)
        pg_set_error(d, state ? state : "", lost, "%s", primary);
    else
        pg_set_error(d, state ? state : "", lost, "%s",
                     res && *PQresultErrorMessage(res) ? PQresultErrorMessage(res)
                                                       : PQerrorMessage(d->conn));
    if (lost && open_tx(before)) d->lost_tx = true;
    PQclear(res);
    return NULL;
}

void pg_count(struct pgdb *d, const PGresult *res)
{
    const char *tag = PQcmdStatus((PGresult *)res);
    if (strncmp(tag, "INSERT ", 7) == 0 || strncmp(tag, "UPDATE ", 7) == 0 ||
        strncmp(tag, "DELETE ", 7) == 0 || strncmp(tag, "MERGE ", 6) == 0)
        d->changes = strtoll(PQcmdTuples((PGresult *)res), NULL, 10);
}

int pg_quiet(struct pgdb *d, const char *sql)
{
    PGTransactionStatusType before = PQtransactionStatus(d->conn);
    PGresult *r = PQexec(d->conn, sql);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    PQclear(r);
    if (PQstatus(d->conn) == CONNECTION_BAD && open_tx(before)) d->lost_tx = true;
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : -1;
}

static int send_busy(struct pgdb *d)
{
    char sql[64];
    snprintf(sql, sizeof sql, "SET lock_timeout = %d", d->busy_ms);
    int rc = pg_quiet(d, sql);
    /* a rollback undoes a SET made inside the transaction: again once it has ended */
    d->busy_dirty = rc < 0 || PQtransactionStatus(d->conn) != PQTRANS_IDLE;
    return rc;
}

/* The session's settings, on a new connection (and again after a reconnect). */
static int session_setup(struct pgdb *d)
{
    char sql[160];
    snprintf(sql, sizeof sql, "SET client_min_messages TO warning; SET lock_timeout = %d%s",
             d->busy_ms, d->flags & DB_READONLY ? "; SET default_transaction_read_only = on" : "");
    PGresult *r = pg_check(d, PQexec(d->conn, sql), PQTRANS_IDLE);
    if (!r) return -1;
    PQclear(r);
    d->busy_dirty = false;
    return 0;
}

/* Notices (warnings and above: client_min_messages) go to our log, not stderr. */
static void notice(void *arg, const char *message)
{
    (void)arg;
    char line[512];
    one_line(line, sizeof line, message);
    log_warn("postgresql: %s", line);
}

/* True if the server closed an idle connection (restart, idle timeout, terminated backend):
 * what it sent then (its FATAL, then the end) is read now, so the command about to run meets
 * a fresh connection rather than failing. One poll(2) of the socket when nothing came, no
 * wait; a few when something did (a notification, or the FATAL before the end). */
static bool closed_while_idle(struct pgdb *d)
{
    PGTransactionStatusType before = PQtransactionStatus(d->conn);
    for (int i = 0; i < 4; i++) {
        struct pollfd pfd = {.fd = PQsocket(d->conn), .events = POLLIN};
        if (pfd.fd >= 0 && poll(&pfd, 1, 0) <= 0) return false;
        if (pfd.fd < 0 || !PQconsumeInput(d->conn) || PQstatus(d->conn) == CONNECTION_BAD) {
            if (open_tx(before)) d->lost_tx = true;
            return true;
        }
    }
    return false;
}

int pg_ready(struct pgdb *d)
{
    pg_clear_error(d);
    if (PQstatus(d->conn) == CONNECTION_BAD || closed_while_idle(d)) {
        PQreset(d->conn); /* (blocks at most connect_timeout) */
        if (PQstatus(d->conn) != CONNECTION_OK) {
            pg_set_error(d, "08006", true, "the connection to PostgreSQL is lost: %s",
                         PQerrorMessage(d->conn));
            return -1;
        }
        d->gen++;
        if (session_setup(d) < 0) return -1;
        log_info("postgresql: reconnected to %s on %s", PQdb(d->conn), PQhost(d->conn));
    }
    if (d->lost_tx) {
        pg_set_error(d, "08006", true,
                     "the connection was lost inside a transaction, which PostgreSQL rolled "
                     "back: ROLLBACK first");
        return -1;
    }
    if (d->busy_dirty && PQtransactionStatus(d->conn) == PQTRANS_IDLE) send_busy(d);
    return 0;
}

/* True if target holds a password (to keep libpq's parse errors, which may quote it, out). */
static bool has_password(const char *target)
{
    if (strcasestr(target, "password")) return true;
    const char *scheme = strstr(target, "://");
    if (!scheme) return false;
    const char *at = strchr(scheme + 3, '@');
    const char *colon = strchr(scheme + 3, ':');
    return at && colon && colon < at;
}

/* A message that names the password `pw` is replaced: it is never shown. */
static void error_without(char *err, size_t errlen, const char *pw, const char *what,
                          const char *msg)
{
    if (pw && *pw && strstr(msg, pw))
        snprintf(err, errlen, "%s: (libpq's message not shown: it quotes the password)", what);
    else {
        char line[512];
        one_line(line, sizeof line, msg);
        snprintf(err, errlen, "%s: %s", what, line);
    }
}

/* How long a silent server or network may keep a call waiting (db_set_network_timeout). */
static int network_ms = 20000;

void db_set_network_timeout(int ms)
{
    network_ms = ms < 1000 ? 1000 : ms;
}

/* The application_name the connections give (the target may set its own). */
static char app_name[64] = "spawnpool";

void db_set_application_name(const char *name)
{
    snprintf(app_name, sizeof app_name, "%s", name);
}

/* PGPASSWORD, taken out of the environment by db_keep_password (NULL: none) */
static char *kept_password;

void db_keep_password(void)
{
    char *pw = getenv("PGPASSWORD");
    if (!pw || kept_password) return;
    kept_password = strdup(pw);
    /* the bytes themselves: /proc/PID/environ reads the environment's first copy, which
     * getenv points into; a job running as the server's user could read it there */
    memset(pw, 0, strlen(pw));
    unsetenv("PGPASSWORD");
}

int db_pg_open(struct db **out, const char *target, int flags, char *err, size_t errlen)
{
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(target, &perr);
    if (!opts) {
        if (has_password(target) || !perr)
            snprintf(err, errlen,
                     "invalid PostgreSQL connection string (libpq's message not "
                     "shown: it may quote the password)");
        else
            error_without(err, errlen, NULL, "invalid PostgreSQL connection string", perr);
        PQfreemem(perr);
        return -1;
    }
    char *pw = NULL;
    for (PQconninfoOption *o = opts; o->keyword; o++)
        if (strcmp(o->keyword, "password") == 0 && o->val) pw = strdup(o->val);
    PQconninfoFree(opts);
    /* defaults the target may override (it is expanded where dbname stands, after them):
     * connecting (and reconnecting) gives up after 2 s (libpq's least); a peer gone silent is found
     * by TCP keepalives, and a write it does not acknowledge fails, within network_ms (a node
     * blocked on a lost database must learn it in time to fence itself) */
    const char *keys[9] = {"fallback_application_name", "connect_timeout",  "keepalives_idle",
                           "keepalives_interval",       "keepalives_count", "tcp_user_timeout"};
    char idle[16], user_ms[16];
    snprintf(idle, sizeof idle, "%d", network_ms / 2000 > 0 ? network_ms / 2000 : 1);
    snprintf(user_ms, sizeof user_ms, "%d", network_ms);
    const char *vals[9] = {app_name, "2", idle, "1", "2", user_ms};
    int k = 6;
    if (kept_password) { /* (before dbname: a password in the target wins) */
        keys[k] = "password";
        vals[k++] = kept_password;
    }
    keys[k] = "dbname";
    vals[k++] = target;
    keys[k] = vals[k] = NULL;
    struct pgdb *d = calloc(1, sizeof *d);
    if (!d) {
        free(pw);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    d->base.kind = DB_POSTGRES;
    d->flags = flags;
    d->gen = 1;
    int64_t t0 = clock_mono_ms();
    d->conn = PQconnectdbParams(keys, vals, 1);
    if (!d->conn) {
        snprintf(err, errlen, "cannot connect to PostgreSQL: out of memory");
    } else if (PQstatus(d->conn) != CONNECTION_OK) {
        error_without(err, errlen, pw, "cannot connect to PostgreSQL", PQerrorMessage(d->conn));
        /* no answer, or one that turns connections away for now (starting up, shutting down,
         * in recovery): it may come up; a server that answers and refuses (a password, a
         * database that is not there) will not by waiting */
        bool timed_out = clock_mono_ms() - t0 >= 1900; /* (connect_timeout 2 s: no answer) */
        PGPing ping = timed_out ? PQPING_NO_RESPONSE : PQpingParams(keys, vals, 1);
        if (ping == PQPING_NO_RESPONSE || ping == PQPING_REJECT) {
            free(pw);
            PQfinish(d->conn);
            free(d);
            return DB_UNREACHABLE;
        }
    } else {
        PQsetNoticeProcessor(d->conn, notice, NULL);
        if (session_setup(d) == 0) {
            free(pw);
            *out = &d->base;
            return 0;
        }
        error_without(err, errlen, pw, "configuring the PostgreSQL session", d->err);
    }
    free(pw);
    PQfinish(d->conn);
    free(d);
    return -1;
}

void db_pg_close(struct db *db)
{
    PQfinish(PGDB(db)->conn);
    free(db);
}

/* True if sql is the one statement `word` (any case, a `;` and spaces around allowed). */
static bool is_statement(const char *sql, const char *word)
{
    while (*sql == ' ' || *sql == '\n' || *sql == '\t')
        sql++;
    size_t n = strlen(word);
    if (strncasecmp(sql, word, n) != 0) return false;
    for (sql += n; *sql; sql++)
        if (*sql != ' ' && *sql != ';' && *sql != '\n' && *sql != '\t') return false;
    return true;
}

int db_pg_exec(struct db *db, const char *sql)
{
    struct pgdb *d = PGDB(db);
    if (is_statement(sql, "ROLLBACK")) {
        /* a transaction the lost connection took along is rolled back already */
        if (d->lost_tx) {
            d->lost_tx = false;
            pg_clear_error(d);
            return 0;
        }
        if (PQstatus(d->conn) == CONNECTION_OK && PQtransactionStatus(d->conn) == PQTRANS_IDLE) {
            pg_clear_error(d); /* (none open: no round trip, no "no transaction" warning) */
            return 0;
        }
    }
    if (pg_ready(d) < 0) return -1;
    PGTransactionStatusType before = PQtransactionStatus(d->conn);
    PGresult *r = pg_check(d, PQexec(d->conn, sql), before);
    if (!r) return -1;
    pg_count(d, r);
    /* COMMIT of a failed transaction "succeeds" as a ROLLBACK: that is a failure here */
    bool rolled_back = strcmp(PQcmdStatus(r), "ROLLBACK") == 0 &&
                       (is_statement(sql, "COMMIT") || is_statement(sql, "END"));
    PQclear(r);
    if (rolled_back) {
        pg_set_error(d, "25P02", false, "the transaction had failed: COMMIT rolled it back");
        return -1;
    }
    return 0;
}

const char *db_pg_errmsg(struct db *db)
{
    return PGDB(db)->err;
}

bool db_pg_error_transient(struct db *db)
{
    const struct pgdb *d = PGDB(db);
    if (d->conn_lost) return true;
    const char *s = d->sqlstate;
    if (strncmp(s, "08", 2) == 0 || strncmp(s, "53", 2) == 0)
        return true; /* connection; disk,
                      * memory, too many */
    static const char *const codes[] = {"40001", "40P01", "55P03", "57P01", "57P02", "57P03"};
    for (size_t i = 0; i < sizeof codes / sizeof *codes; i++)
        if (strcmp(s, codes[i]) == 0) return true;
    return false;
}

bool db_pg_in_tx(struct db *db)
{
    struct pgdb *d = PGDB(db);
    return d->lost_tx || open_tx(PQtransactionStatus(d->conn));
}

int64_t db_pg_changes(struct db *db)
{
    return PGDB(db)->changes;
}

void db_pg_set_busy_ms(struct db *db, int ms)
{
    struct pgdb *d = PGDB(db);
    d->busy_ms = ms > 0 ? ms : 1; /* (0 would be "wait forever"; SQLite's 0 is "do not wait") */
    if (PQstatus(d->conn) == CONNECTION_OK && !d->lost_tx &&
        PQtransactionStatus(d->conn) != PQTRANS_INERROR)
        send_busy(d);
    else
        d->busy_dirty = true;
}

int db_pg_begin(struct db *db)
{
    return db_pg_exec(db, "BEGIN");
}
