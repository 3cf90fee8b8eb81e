/* config_internal.h: what the files of the config module share (config.c, config_lists.c,
 * config_secrets.c); not for use outside them. */
#ifndef SPAWNPOOL_CONFIG_INTERNAL_H
#define SPAWNPOOL_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/config.h"

/* The kinds of settings, and one setting's definition (the table is in config.c). */
enum opt_type {
    OPT_STRING,
    OPT_PATH,
    OPT_INT,
    OPT_BYTES,
    OPT_SECONDS,
    OPT_LISTEN,
    OPT_BOOL,
    OPT_LIMIT,   /* a job limit: min is its enum proto_limit */
    OPT_ORIGINS, /* repeatable: a browser origin (scheme://host[:port]) */
    OPT_HOSTS    /* repeatable: a Host name, or "*" */
};

struct option_def {
    const char *flag; /* without the leading -- */
    enum opt_type type;
    size_t offset;
    int64_t min, max; /* for OPT_INT / OPT_BYTES */
    const char *def;  /* shown in --help */
    const char *help;
};

#define OFF(f) offsetof(struct config, f)

/* Which source set a value: a later one replaces a repeatable setting's list. */
enum { LEVEL_FILE = 1, LEVEL_ENV, LEVEL_COMMAND_LINE };

/* Adds the comma-separated items of value to l (origins: scheme://host[:port]; else host
 * names or "*"), normalised; a value from another source level than l's replaces l first.
 * Returns 0, or -1 with a message naming source in err. */
int config_list_add(struct strlist *l, bool origins, const char *value, int level,
                    const char *source, char *err, size_t errlen);
/* Empties l. */
void config_list_free(struct strlist *l);
/* Reads cfg->token_file into cfg->tokens (a regular file of at most 1 MiB, 1000 tokens of a
 * line each); if create, a missing file is made with a random token. 0 or -1 with err. */
int config_load_tokens(struct config *cfg, bool create, char *err, size_t errlen);
/* Reads the notify_url signing secret into cfg->notify_secret; if create, a missing file is
 * made random (by default in the data dir). 0 or -1 with err. */
int config_load_notify_secret(struct config *cfg, bool create, char *err, size_t errlen);
/* Resolves cfg->run_as (USER[:GROUP]) into run_uid and run_gid. 0 or -1 with err. */
int config_resolve_run_as(struct config *cfg, char *err, size_t errlen);

/* config_values.c: sets o in cfg from its text value, given by source (the file, the
 * environment or the command line: level). Returns 0, or -1 with a message naming source. */
int config_set_option(struct config *cfg, const struct option_def *o, const char *value, int level,
                      const char *source, char *err, size_t errlen);
/* Writes o's value in cfg as text into out, to compare two configs. */
void config_option_text(const struct config *cfg, const struct option_def *o, char *out,
                        size_t outlen);

#endif
