/* fuzz_config: the config file. Every input is the text of a --config file, applied over
 * the defaults by the server's own loader (settings, "tasks" templates, "queues",
 * "allow_commands"), then freed: ASan reports any leak or overrun on the error paths.
 * Invariants: a rejected file says why; an accepted one leaves every setting in its
 * documented range and every template with an argv and known params. */
#include <string.h>

#include "server/config.h"
#include "tests/fuzz/fuzz_common.h"

static void check_accepted(const struct config *c)
{
    FUZZ_REQUIRE(c->workers >= 1 && c->http_threads >= 1 && c->max_connections >= 1);
    FUZZ_REQUIRE(c->listen_port >= 0 && c->listen_port <= 65535);
    FUZZ_REQUIRE(c->max_body > 0 && c->max_batch > 0 && c->max_queued > 0);
    FUZZ_REQUIRE(c->shutdown_grace >= 0 && c->kill_grace >= 0 && c->retry_backoff >= 0);
    FUZZ_REQUIRE(strlen(c->listen_host) < sizeof c->listen_host);
    FUZZ_REQUIRE(!strcmp(c->kill_mechanism, "auto") || !strcmp(c->kill_mechanism, "cgroup") ||
                 !strcmp(c->kill_mechanism, "pgroup"));
    FUZZ_REQUIRE(!strcmp(c->durability, "normal") || !strcmp(c->durability, "full"));
    FUZZ_REQUIRE(!(c->limits.set >> PROTO_LIMITS));
    for (int k = 0; k < PROTO_LIMITS; k++)
        if (c->limits.set & (1u << k))
            FUZZ_REQUIRE(c->limits.v[k] >= job_limit_min(k) && c->limits.v[k] <= job_limit_max(k));
    for (size_t i = 0; i < c->tasks.n; i++) {
        const struct task_template *t = &c->tasks.tasks[i];
        FUZZ_REQUIRE(t->name && t->argv.len > 0 && t->argv.data[t->argv.len - 1] == '\0');
        FUZZ_REQUIRE(tasks_find(&c->tasks, t->name) != NULL);
        FUZZ_REQUIRE(t->argv.data[0] != '\0'); /* argv[0] names a program */
        for (size_t k = 0; k < t->n_params; k++)
            FUZZ_REQUIRE(t->params[k] && t->params[k][0]);
        FUZZ_REQUIRE(!t->queue || job_queue_name_ok(t->queue)); /* jobs inherit them unchecked */
        FUZZ_REQUIRE(!t->cwd || t->cwd[0] == '/');
        for (int k = 0; k < PROTO_LIMITS; k++)
            if (t->limits.set & (1u << k))
                FUZZ_REQUIRE(t->limits.v[k] >= job_limit_min(k) &&
                             t->limits.v[k] <= job_limit_max(k));
        FUZZ_REQUIRE(t->timeout >= 0 &&
                     (t->max_attempts == 0 || (t->max_attempts >= 1 && t->max_attempts <= 100)));
    }
    for (size_t i = 0; i < c->n_queues; i++)
        FUZZ_REQUIRE(job_queue_name_ok(c->queues[i].name) &&
                     (c->queues[i].concurrency == -1 || c->queues[i].concurrency >= 1));
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static struct config cfg;
    char err[1024] = "";
    config_defaults(&cfg);
    if (config_apply_text(&cfg, (const char *)data, size, "config file fuzz", err, sizeof err) == 0)
        check_accepted(&cfg);
    else /* the message names the file */
        FUZZ_REQUIRE(strncmp(err, "config file fuzz: ", 18) == 0 && err[18] != '\0');
    config_free(&cfg);
    return 0;
}
