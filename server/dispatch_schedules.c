/* dispatch_schedules: the schedules (/v1/schedules) as the main loop runs them. Each has a
 * cron expression in a time zone (server/cron.h, server/tz.h) and a job (a submit body);
 * when its next time comes, the main loop makes the job, in the same transaction that moves
 * the schedule on to its next time, so a run is made exactly once: a batch that fails drops
 * both (like a submit), and the time comes again in the next batch.
 *
 * Overlap (the job of the last run still alive at the next time): "allow" makes another,
 * "skip" makes none (counted), "replace" terminates the old one first (in the batch's
 * journaled part, before the run is made).
 *
 * After downtime: a schedule whose time passed while the server was down runs once when it
 * starts (at most one missed run, whatever it missed), or not at all with catch_up false
 * (Kubernetes' CronJob startingDeadlineSeconds idea); then it goes on from its next time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/clock.h"
#include "server/cron.h"
#include "server/dispatch_internal.h"
#include "server/log.h"
#include "server/tz.h"

void dispatch_set_job_parser(struct dispatch *d, dispatch_job_parser fn, void *ctx)
{
    d->parse_job = fn;
    d->parse_job_ctx = ctx;
}

/* The schedule's first time after now (wall ms), 0 if it has none (paused, or never). */
static int64_t next_after(const struct sched *s, int64_t now)
{
    if (s->paused || !s->cron || !s->tz) return 0;
    int64_t t = cron_next(s->cron, s->tz, now / 1000);
    return t > 0 ? t * 1000 : 0;
}

static struct sched *find(struct dispatch *d, const char *name)
{
    for (int i = 0; i < d->n_scheds; i++)
        if (strcmp(d->scheds[i].name, name) == 0) return &d->scheds[i];
    return NULL;
}

static void sched_free(struct sched *s)
{
    cron_free(s->cron);
    tz_free(s->tz);
    free(s->job);
    memset(s, 0, sizeof *s);
}

/* A new, empty schedule at the end of the list; NULL when out of memory. */
static struct sched *add(struct dispatch *d, const char *name)
{
    struct sched *grown = realloc(d->scheds, (size_t)(d->n_scheds + 1) * sizeof *grown);
    if (!grown) return NULL;
    d->scheds = grown;
    struct sched *s = &d->scheds[d->n_scheds++];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    return s;
}

struct loading {
    struct dispatch *d;
    int64_t now;
    int failed;
};

static void load_one(void *ctx, const struct store_schedule *row)
{
    struct loading *l = ctx;
    struct sched *s = add(l->d, row->name);
    char err[200];
    if (!s || !(s->job = strdup(row->job))) {
        l->failed = 1;
        return;
    }
    if (cron_parse(row->cron, &s->cron, err, sizeof err) < 0 ||
        tz_load(row->timezone, &s->tz, err, sizeof err) < 0) /* (a zone gone from tzdata) */
        log_error("schedule %s cannot run: %s (fix it with PATCH /v1/schedules/%s)", row->name, err,
                  row->name);
    snprintf(s->cron_text, sizeof s->cron_text, "%s", row->cron);
    s->overlap = row->overlap;
    s->paused = row->paused;
    s->catch_up = row->catch_up;
    s->last_job_id = row->last_job_id;
    s->next_run_at = row->next_run_at;
    /* a time that passed while the server was down: one run now if it catches up (it stays
     * due), else none: on to its next time */
    if (s->paused || !s->cron || !s->tz)
        s->next_run_at = 0;
    else if (!s->next_run_at || (s->next_run_at <= l->now && !s->catch_up))
        s->next_run_at = next_after(s, l->now);
    if (row->next_run_at && row->next_run_at <= l->now && !row->paused && !s->catch_up)
        log_info("schedule %s: its time passed while the server was down; catch_up is false: "
                 "no run for it",
                 row->name);
    if (s->next_run_at != row->next_run_at)
        store_schedule_next(l->d->store, s->name, s->next_run_at);
}

int dispatch_load_schedules(struct dispatch *d)
{
    struct loading l = {.d = d, .now = clock_wall_ms()};
    store_begin(d->store);
    int n = store_each_schedule(d->store, NULL, load_one, &l);
    int rc = store_commit(d->store);
    return n < 0 || rc < 0 || l.failed ? -1 : 0;
}

void dispatch_free_schedules(struct dispatch *d)
{
    for (int i = 0; i < d->n_scheds; i++)
        sched_free(&d->scheds[i]);
    free(d->scheds);
    d->scheds = NULL;
    d->n_scheds = 0;
}

static bool due(const struct sched *s, int64_t now)
{
    return !s->paused && s->next_run_at > 0 && s->next_run_at <= now && !s->fired;
}

/* Whether job id is still queued, scheduled or running. */
static bool alive(struct dispatch *d, int64_t id)
{
    struct job j;
    if (id <= 0 || store_get_job(d->store, id, &j, false) != 0) return false;
    bool live = !job_state_terminal(j.state);
    job_free(&j);
    return live;
}

void dispatch_schedules_replace(struct dispatch *d, int64_t now)
{
    for (int i = 0; i < d->n_scheds; i++) {
        struct sched *s = &d->scheds[i];
        if (due(s, now) && s->overlap == OVERLAP_REPLACE && alive(d, s->last_job_id)) {
            log_info("schedule %s: terminating job %lld, its last run (overlap replace)", s->name,
                     (long long)s->last_job_id);
            dispatch_terminate_job(d, s->last_job_id);
        }
    }
}

/* Makes schedule s's job; its id, or 0 if it could not be made (logged). */
static int64_t make_job(struct dispatch *d, struct sched *s, int64_t now)
{
    struct job_spec spec;
    char err[320];
    if (!d->parse_job || d->parse_job(d->parse_job_ctx, s->job, &spec, err, sizeof err) < 0) {
        log_error("schedule %s: its job cannot be submitted now: %s", s->name,
                  d->parse_job ? err : "no parser");
        return 0;
    }
    int64_t id = 0;
    spec.schedule = strdup(s->name);
    if (spec.schedule && store_insert_jobs(d->store, &spec, 1, now, &id) < 0) id = 0;
    s->fired_priority = spec.priority;
    job_spec_free(&spec);
    return id;
}

void dispatch_schedules_fire(struct dispatch *d, int64_t now)
{
    if (!d->parse_job) return; /* (the front end has not started yet) */
    if (d->schedules_stale) {  /* changed by another node: read again before any run */
        dispatch_free_schedules(d);
        d->schedules_stale = dispatch_load_schedules(d) < 0;
    }
    for (int i = 0; i < d->n_scheds && !store_failed(d->store); i++) {
        struct sched *s = &d->scheds[i];
        if (!due(s, now)) continue;
        /* one node runs each due time: the one whose take of it changed the row */
        int taken = store_schedule_take(d->store, s->name, s->next_run_at);
        if (taken <= 0) {
            if (taken == 0) d->schedules_stale = true; /* (read again next batch) */
            break;
        }
        int64_t job = 0;
        if (s->overlap == OVERLAP_SKIP && alive(d, s->last_job_id))
            log_info("schedule %s: job %lld of its last run is still alive: this run is skipped",
                     s->name, (long long)s->last_job_id);
        else
            job = make_job(d, s, now);
        if (store_failed(d->store)) break; /* nothing of it stays: the time comes again */
        int64_t next = next_after(s, now);
        if (store_schedule_fired(d->store, s->name, now, next, job) < 0) break;
        s->fired = true;
        s->fired_job = job;
        s->fired_next = next;
    }
}

bool dispatch_schedules_settle(struct dispatch *d, bool committed)
{
    bool made = false;
    for (int i = 0; i < d->n_scheds; i++) {
        struct sched *s = &d->scheds[i];
        if (!s->fired) continue;
        s->fired = false;
        if (!committed) continue; /* dropped with the batch: it is due again */
        s->next_run_at = s->fired_next;
        if (!s->fired_job) continue;
        s->last_job_id = s->fired_job;
        made = true;
        d->stats.jobs[JOB_QUEUED]++;
        d->stats.submitted_total++;
        if (runq_push_since(&d->ready, s->fired_priority, s->fired_job, clock_mono_us()) < 0)
            log_error("out of memory while queueing job %lld: it runs after a restart",
                      (long long)s->fired_job);
    }
    return made;
}

int64_t dispatch_schedules_next(const struct dispatch *d, int64_t now)
{
    int64_t next = -1;
    for (int i = 0; i < d->n_scheds; i++) {
        const struct sched *s = &d->scheds[i];
        if (s->paused || s->next_run_at <= 0) continue;
        int64_t wait = s->next_run_at > now ? s->next_run_at - now : 0;
        if (next < 0 || wait < next) next = wait;
    }
    return next;
}

/* A change (PATCH) keeps each field it did not give as s has it now, not as the API read it
 * before: another change may have been carried out since. */
static void keep_unchanged(const struct sched *s, struct dispatch_schedule *def)
{
    if (!(def->given & SCHEDULE_GIVEN_CRON) && s->cron) {
        cron_free(def->cron);
        def->cron = NULL;
        snprintf(def->cron_text, sizeof def->cron_text, "%s", s->cron_text);
    }
    if (!(def->given & SCHEDULE_GIVEN_TIMEZONE) && s->tz) {
        tz_free(def->tz);
        def->tz = NULL;
        snprintf(def->timezone, sizeof def->timezone, "%s", tz_name(s->tz));
    }
    if (!(def->given & SCHEDULE_GIVEN_OVERLAP)) def->overlap = s->overlap;
    if (!(def->given & SCHEDULE_GIVEN_PAUSED)) def->paused = s->paused;
    if (!(def->given & SCHEDULE_GIVEN_CATCH_UP)) def->catch_up = s->catch_up;
}

void dispatch_schedule_put(struct dispatch *d, struct dispatch_cmd *cmd)
{
    struct dispatch_schedule *def = cmd->schedule;
    if (store_failed(d->store)) return dispatch_answer(d, cmd, DISPATCH_UNAVAILABLE);
    struct sched *s = find(d, def->name);
    if (s && cmd->schedule_create) return dispatch_answer(d, cmd, DISPATCH_CONFLICT);
    if (!s && !cmd->schedule_create) return dispatch_answer(d, cmd, DISPATCH_NOT_FOUND);
    if (!s && d->n_scheds >= DISPATCH_MAX_SCHEDULES)
        return dispatch_answer(d, cmd, DISPATCH_QUEUE_FULL);
    if (s) keep_unchanged(s, def);
    char *job = strdup(s && !(def->given & SCHEDULE_GIVEN_JOB) ? s->job : def->job);
    if (!job || (!s && !(s = add(d, def->name)))) {
        free(job);
        return dispatch_answer(d, cmd, DISPATCH_ERROR);
    }
    /* a new time rule, zone or pause: its next time anew; else it keeps the one it had */
    bool anew = !s->cron || !s->tz || s->paused != def->paused ||
                strcmp(tz_name(s->tz), def->timezone) != 0 ||
                strcmp(s->cron_text, def->cron_text) != 0;
    if (def->cron) { /* (NULL: kept, keep_unchanged) */
        cron_free(s->cron);
        s->cron = def->cron;
        def->cron = NULL;
    }
    if (def->tz) {
        tz_free(s->tz);
        s->tz = def->tz;
        def->tz = NULL;
    }
    free(s->job);
    s->job = job;
    snprintf(s->cron_text, sizeof s->cron_text, "%s", def->cron_text);
    s->overlap = def->overlap;
    s->paused = def->paused;
    s->catch_up = def->catch_up;
    int64_t now = clock_wall_ms();
    if (anew) s->next_run_at = next_after(s, now);
    struct store_schedule row = {.name = s->name,
                                 .cron = def->cron_text,
                                 .timezone = def->timezone,
                                 .job = s->job,
                                 .overlap = s->overlap,
                                 .paused = s->paused,
                                 .catch_up = s->catch_up,
                                 .updated_at = now,
                                 .next_run_at = s->next_run_at};
    store_schedule_put(d->store, &row);
    dispatch_answer(d, cmd, DISPATCH_OK);
}

void dispatch_schedule_delete(struct dispatch *d, struct dispatch_cmd *cmd)
{
    if (store_failed(d->store)) return dispatch_answer(d, cmd, DISPATCH_UNAVAILABLE);
    struct sched *s = find(d, cmd->schedule->name);
    if (!s) return dispatch_answer(d, cmd, DISPATCH_NOT_FOUND);
    store_schedule_delete(d->store, s->name);
    sched_free(s);
    *s = d->scheds[--d->n_scheds];
    dispatch_answer(d, cmd, DISPATCH_OK);
}
