/* conns: every open HTTP connection, and the deadlines libmicrohttpd lacks. A client gets
 * --head-timeout to send a request's head and --body-timeout for its body; one that
 * trickles a byte now and then is cut off then (MHD's own timeout only counts silence).
 * Connections waiting for a head, and those sending a body, sit in two FIFO lists ordered
 * by deadline (every deadline of a list is now + the same timeout), so one thread only
 * looks at the list heads. Near --max-connections, the connection that has waited longest
 * for its head (at least EVICT_AGE_MS) is closed to make room: clients from many addresses
 * that connect and send nothing cannot keep every slot from those that send a request. */
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "api/internal.h"
#include "server/clock.h"
#include "server/log.h"

/* How long a connection must have waited for its head before it may be evicted: a client
 * that sends its request right away is never the one closed. */
#define EVICT_AGE_MS 1000
/* Open connections that count as a burst whose memory is given back once it is over. */
#define TRIM_AFTER_PEAK 256

/* MHD keeps the socket open until after its CLOSED notification, which takes the lock
 * first: under the lock, a listed connection's fd is still its own. */
struct conn {
    int fd;
    enum conn_phase phase;
    int64_t deadline; /* monotonic ms, in a list */
    struct conn *prev, *next;
    bool cors;       /* the current request came from an allowed browser origin */
    unsigned status; /* of the current request's answer, 0 until queued (the access log) */
    uint64_t bytes;  /* of its body given to MHD so far */
};

static struct conn_list *list_of(struct conns *cs, enum conn_phase phase)
{
    return phase == CONN_HEAD ? &cs->head : phase == CONN_BODY ? &cs->body : NULL;
}

static void unlink_conn(struct conns *cs, struct conn *c)
{
    struct conn_list *l = list_of(cs, c->phase);
    if (!l) return;
    if (c->prev)
        c->prev->next = c->next;
    else
        l->first = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        l->last = c->prev;
    c->prev = c->next = NULL;
}

/* Moves c to phase (and its list's tail, with that list's deadline); call with the lock. */
static void set_phase(struct conns *cs, struct conn *c, enum conn_phase phase)
{
    unlink_conn(cs, c);
    c->phase = phase;
    struct conn_list *l = list_of(cs, phase);
    if (!l) return;
    c->deadline = clock_mono_ms() + (phase == CONN_HEAD ? cs->head_ms : cs->body_ms);
    c->prev = l->last;
    if (l->last)
        l->last->next = c;
    else {
        l->first = c;
        pthread_cond_signal(&cs->wake); /* the sweeper may be waiting for nothing */
    }
    l->last = c;
}

/* Cuts c off (call with the lock): MHD sees end of file, closes the connection and frees
 * it; no answer is possible before the head is complete, and a half-sent body cannot be
 * trusted. */
static void cut_off(struct conns *cs, struct conn *c, atomic_uint_fast64_t *counter)
{
    unlink_conn(cs, c);
    c->phase = CONN_EXPIRED;
    cs->closing++;
    if (shutdown(c->fd, SHUT_RDWR) < 0 && errno != ENOTCONN)
        log_warn("shutdown() failed while cutting off a slow client: %m");
    atomic_fetch_add(counter, 1);
}

/* While more than evict_above connections are live, closes the one that has waited longest
 * for its head, if it has waited EVICT_AGE_MS. Returns when the next one may be due, or -1. */
static int64_t evict_excess(struct conns *cs, int64_t now)
{
    struct conn *c;
    while (cs->open - cs->closing > cs->evict_above && (c = cs->head.first)) {
        int64_t since = c->deadline - cs->head_ms;
        if (now - since < EVICT_AGE_MS) return since + EVICT_AGE_MS;
        cut_off(cs, c, &cs->evicted);
    }
    return -1;
}

static struct conn *conn_of(struct MHD_Connection *mc)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info ? info->socket_context : NULL;
}

void conns_notify(void *cls, struct MHD_Connection *mc, void **socket_context,
                  enum MHD_ConnectionNotificationCode code)
{
    struct conns *cs = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        struct conn *c = calloc(1, sizeof *c);
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!c || !info) { /* no deadline for this one: better than refusing it */
            free(c);
            *socket_context = NULL;
            return;
        }
        c->fd = info->connect_fd;
        pthread_mutex_lock(&cs->lock);
        set_phase(cs, c, CONN_HEAD);
        cs->open++;
        if (cs->open > cs->peak_open) cs->peak_open = cs->open;
        if (cs->open - cs->closing > cs->evict_above) {
            evict_excess(cs, clock_mono_ms());
            pthread_cond_signal(&cs->wake); /* the rest when they are old enough */
        }
        pthread_mutex_unlock(&cs->lock);
        *socket_context = c;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context) {
        struct conn *c = *socket_context;
        pthread_mutex_lock(&cs->lock);
        unlink_conn(cs, c);
        cs->open--;
        if (c->phase == CONN_EXPIRED) cs->closing--;
        /* after a burst (2000 long-polls answered and closed), what the connections used is
         * free but kept by malloc's per-thread arenas: give it back to the system */
        bool trim = cs->peak_open >= TRIM_AFTER_PEAK && cs->open <= cs->peak_open / 8;
        if (trim) cs->peak_open = cs->open;
        pthread_mutex_unlock(&cs->lock);
        free(c);
        *socket_context = NULL;
        if (trim) malloc_trim(0);
    }
}

void conns_set_phase(struct conns *cs, struct MHD_Connection *mc, enum conn_phase phase)
{
    struct conn *c = conn_of(mc);
    if (!c) return;
    pthread_mutex_lock(&cs->lock);
    if (c->phase != CONN_EXPIRED) set_phase(cs, c, phase);
    if (phase == CONN_HEAD) { /* the next request decides for itself */
        c->cors = false;
        c->status = 0;
        c->bytes = 0;
    }
    pthread_mutex_unlock(&cs->lock);
}

void conns_set_cors(struct MHD_Connection *mc, bool cors)
{
    struct conn *c = conn_of(mc);
    if (c) c->cors = cors; /* only the thread handling the request touches it */
}

void conns_note_answer(struct MHD_Connection *mc, unsigned status)
{
    struct conn *c = conn_of(mc);
    if (c) c->status = status; /* only the thread handling the request touches it */
}

void conns_count_bytes(struct MHD_Connection *mc, uint64_t n)
{
    struct conn *c = conn_of(mc);
    if (c) c->bytes += n;
}

void conns_answer(struct MHD_Connection *mc, unsigned *status, uint64_t *bytes)
{
    struct conn *c = conn_of(mc);
    *status = c ? c->status : 0;
    *bytes = c ? c->bytes : 0;
}

bool conns_cors(struct MHD_Connection *mc)
{
    struct conn *c = conn_of(mc);
    return c && c->cors;
}

/* Cuts off the connections of l whose deadline passed; returns the next deadline or -1. */
static int64_t expire_list(struct conns *cs, struct conn_list *l, int64_t now,
                           atomic_uint_fast64_t *counter)
{
    struct conn *c;
    while ((c = l->first) && c->deadline <= now)
        cut_off(cs, c, counter);
    return c ? c->deadline : -1;
}

static void *sweeper(void *arg)
{
    struct conns *cs = arg;
    pthread_mutex_lock(&cs->lock);
    while (!cs->stop) {
        int64_t now = clock_mono_ms();
        int64_t a = expire_list(cs, &cs->head, now, &cs->expired_head);
        int64_t b = expire_list(cs, &cs->body, now, &cs->expired_body);
        int64_t e = evict_excess(cs, now);
        int64_t next = a < 0 ? b : b < 0 ? a : (a < b ? a : b);
        next = next < 0 ? e : e < 0 ? next : (next < e ? next : e);
        if (next < 0) {
            pthread_cond_wait(&cs->wake, &cs->lock);
        } else {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            int64_t wait_ms = next - clock_mono_ms();
            if (wait_ms < 1) wait_ms = 1;
            ts.tv_sec += wait_ms / 1000;
            ts.tv_nsec += (wait_ms % 1000) * 1000000;
            if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
            pthread_cond_timedwait(&cs->wake, &cs->lock, &ts);
        }
    }
    pthread_mutex_unlock(&cs->lock);
    return NULL;
}

int conns_start(struct conns *cs, double head_timeout, double body_timeout, int max_connections)
{
    int reserve = max_connections / 16 > 8 ? max_connections / 16 : 8;
    cs->evict_above = max_connections > 2 * reserve ? max_connections - reserve : max_connections;
    cs->head_ms = (int64_t)(head_timeout * 1000);
    cs->body_ms = (int64_t)(body_timeout * 1000);
    pthread_mutex_init(&cs->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&cs->wake, &attr);
    pthread_condattr_destroy(&attr);
    int rc = pthread_create(&cs->thread, NULL, sweeper, cs);
    if (rc != 0) {
        log_error("pthread_create() failed while starting the connection deadlines: %s",
                  strerror(rc));
        return -1;
    }
    return 0;
}

void conns_stop(struct conns *cs)
{
    pthread_mutex_lock(&cs->lock);
    cs->stop = true;
    pthread_cond_signal(&cs->wake);
    pthread_mutex_unlock(&cs->lock);
    pthread_join(cs->thread, NULL);
    pthread_cond_destroy(&cs->wake);
    pthread_mutex_destroy(&cs->lock);
}
