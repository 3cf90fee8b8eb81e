/* loop: wait for anything (signal, submit, worker message, deadline), handle it in one
 * batch (one SQLite transaction), delete finished jobs for a moment when nothing waits, repeat. The
 * drain lives here: the first SIGTERM/SIGINT stops new work and waits up to --shutdown-grace, a
 * second one kills at once. */
#include "server/loop.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "server/clock.h"
#include "server/log.h"
#include "server/notify_systemd.h"

/* How long a saturated main loop waits to gather more events into one batch. */
#define GATHER_NS (1000 * 1000)

struct drain {
    int signals;      /* SIGTERM/SIGINT received */
    bool reload;      /* SIGHUP received */
    int64_t deadline; /* monotonic ms: terminate what still runs */
    bool soft_sent, hard_sent;
    bool unsaved_said; /* logged that the exit waits for the store */
};

static bool read_signals(int sigfd, struct drain *dr)
{
    bool child = false;
    struct signalfd_siginfo si;
    while (read(sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGCHLD)
            child = true;
        else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
            dr->signals++;
            if (dr->signals == 1) notify_systemd_stopping();
            log_info("received %s: %s", strsignal((int)si.ssi_signo),
                     dr->signals == 1 ? "draining" : "terminating every job now");
        } else if (si.ssi_signo == SIGHUP) {
            dr->reload = true;
        }
    }
    return child;
}

/* SIGHUP: loads the config again the way the server started (config file, environment,
 * flags) and applies what can change while running: the front end's tokens, allowed
 * origins and hosts, and retention. A config that does not load changes nothing. */
static void reload_config(const struct config *cfg, struct dispatch *d,
                          const struct serve_frontend *fe, void *fe_handle)
{
    log_info("received SIGHUP: reloading the token file and the config");
    notify_systemd_reloading();
    struct config fresh;
    char err[1024];
    if (config_reload(&fresh, cfg, err, sizeof err) != 0) {
        log_warn("reload failed, the current settings stay: %s", err);
        config_free(&fresh);
        notify_systemd_ready("reload failed: the current settings stay");
        return;
    }
    char later[1024];
    config_restart_changes(cfg, &fresh, later, sizeof later);
    if (later[0]) log_warn("reload: changed, but applied only at the next start: %s", later);
    fe->reload(fe_handle, &fresh);
    struct dispatch_stats st;
    dispatch_stats(d, &st);
    if (st.retain != fresh.retain || st.retain_jobs != fresh.retain_jobs)
        log_info("reload: retention is now %gs (retain) and %lld jobs (retain-jobs); 0: no limit",
                 fresh.retain, (long long)fresh.retain_jobs);
    dispatch_loop_set_retention(d, fresh.retain, fresh.retain_jobs);
    config_free(&fresh);
    log_info("reload done");
    notify_systemd_ready("reloaded");
}

static int64_t min_wait(int64_t a, int64_t b)
{
    if (a < 0) return b;
    if (b < 0) return a;
    return a < b ? a : b;
}

static void drain_step(const struct config *cfg, struct dispatch *d, struct drain *dr)
{
    if (dr->signals == 0) return;
    int64_t now = clock_mono_ms();
    if (dr->deadline == 0) {
        dispatch_loop_drain(d);
        dr->deadline = now + (int64_t)(cfg->shutdown_grace * 1000);
        int running = dispatch_loop_running(d);
        if (running)
            log_info("waiting up to %.3gs for %d running job(s)", cfg->shutdown_grace, running);
    }
    if (dr->signals > 1 && !dr->hard_sent) {
        dispatch_loop_terminate_all(d, SIGKILL, 0);
        dr->hard_sent = dr->soft_sent = true;
    } else if (now >= dr->deadline && !dr->soft_sent) {
        log_info("shutdown grace over: terminating %d job(s)", dispatch_loop_running(d));
        dispatch_loop_terminate_all(d, SIGTERM, (int64_t)(cfg->kill_grace * 1000));
        dr->soft_sent = true;
    }
}

int loop_run(const struct config *cfg, struct dispatch *d, int epoll_fd, int sigfd,
             const struct serve_frontend *fe, void *fe_handle)
{
    struct drain dr = {0};
    int64_t wake = 0;
    bool saturated = false;
    for (;;) {
        int64_t timeout = min_wait(wake, fe->next_deadline(fe_handle));
        if (dr.signals && !dr.soft_sent) {
            int64_t left = dr.deadline - clock_mono_ms();
            timeout = min_wait(timeout, left < 0 ? 0 : left);
        }
        struct epoll_event events[64];
        int n = epoll_wait(epoll_fd, events, 64, timeout > 60000 ? 60000 : (int)timeout);
        if (n < 0 && errno != EINTR) {
            log_error("epoll_wait() failed in the main loop: %s", strerror(errno));
            n = 0;
        }
        if (saturated && n > 0 && n < 64) {
            /* every worker holds its next job: gather what else arrives in a moment into
             * this batch (one commit, one wake-up for several job ends) */
            struct timespec gather = {0, GATHER_NS};
            nanosleep(&gather, NULL);
            int more = epoll_wait(epoll_fd, events + n, 64 - n, 0);
            if (more > 0) n += more;
        }
        bool reap = false;
        dispatch_loop_begin(d);
        for (int i = 0; i < n; i++) {
            uint64_t tag = events[i].data.u64;
            if (tag == 0)
                reap |= read_signals(sigfd, &dr);
            else if (tag == DISPATCH_WAKE_TAG)
                dispatch_loop_woken(d);
            else if (tag == DISPATCH_LISTEN_TAG)
                dispatch_loop_heard(d);
            else if (tag & DISPATCH_WORKER_TAG)
                dispatch_loop_worker_event(d, (int)(tag & 0xffffffffu), events[i].events);
        }
        if (reap) dispatch_loop_reap(d);
        drain_step(cfg, d, &dr);
        bool done = dr.signals && !dispatch_loop_busy(d);
        wake = dispatch_loop_end(d);
        /* a drain ends when no job is on a worker and the store holds every change (a
         * second signal does not wait for a store that cannot commit) */
        if (done && dispatch_loop_unsaved(d) > 0 && dr.signals == 1) {
            if (!dr.unsaved_said)
                log_warn("drained, but %zu changes wait for the database to commit: exiting "
                         "once they are stored (a second SIGTERM exits without them)",
                         dispatch_loop_unsaved(d));
            dr.unsaved_said = true;
            done = false;
        }
        saturated = dispatch_loop_saturated(d);
        fe->expire(fe_handle);
        if (dr.reload) { /* outside the batch: HTTP threads never wait for a reload */
            dr.reload = false;
            reload_config(cfg, d, fe, fe_handle);
        }
        if (done) return 0;
        /* last: finished jobs deleted in a short slice, if nothing waits (retention, bulk) */
        wake = min_wait(wake, dispatch_loop_clean(d));
        /* and the lease of this node among others on one PostgreSQL (none on SQLite) */
        wake = min_wait(wake, dispatch_loop_nodes(d));
    }
}
