/* config_internal.h: what the files of the config module share (config.c, config_file.c,
 * config_values.c, config_lists.c, config_secrets.c); not for use outside them. */
#ifndef SPAWNPOOL_CONFIG_INTERNAL_H
#define SPAWNPOOL_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/config.h"

/* The kinds of settings (how config_set_option reads the text). */
enum opt_type {
    OPT_STRING,
    OPT_PATH,
    OPT_INT,
    OPT_BYTES,
    OPT_SECONDS,
    OPT_LISTEN,
    OPT_BOOL,
    OPT_LIMIT,   /* a job limit: min is its enum proto_limit */
    OPT_AGE,     /* seconds with an s/m/h/d suffix, or off (0); at most max seconds */
    OPT_COUNT,   /* a count from min to max, or off (0) */
    OPT_ORIGINS, /* repeatable: a browser origin (scheme://host[:port]) */
    OPT_HOSTS    /* repeatable: a Host name, or "*" */
};

/* One setting's definition (the table is in config.c). */
struct option_def {
    const char *flag; /* without the leading -- */
    enum opt_type type;
    size_t offset;
    int64_t min, max; /* for OPT_INT / OPT_BYTES / OPT_COUNT; max for OPT_AGE */
    const char *def;  /* shown in --help */
    const char *help;
};

#define OFF(f) offsetof(struct config, f)

/* Which source set a value: a later one replaces a repeatable setting's list. */
enum { LEVEL_FILE = 1, LEVEL_ENV, LEVEL_COMMAND_LINE };

/* config.c: the option named name (len bytes, without the leading --), or NULL. */
const struct option_def *config_find_option(const char *name, size_t len);

/* config_file.c: applies the JSON config file at path over cfg. 0, or -1 with err. */
int config_load_file(struct config *cfg, const char *path, char *err, size_t errlen);

/* config_values.c: sets o in cfg from its text value, given by source (the file, the
 * environment or the command line: level). Returns 0, or -1 with a message naming source. */
int config_set_option(struct config *cfg, const struct option_def *o, const char *value, int level,
                      const char *source, char *err, size_t errlen);
/* Writes o's value in cfg as text into out, to compare two configs. */
void config_option_text(const struct config *cfg, const struct option_def *o, char *out,
                        size_t outlen);
/* A decimal integer into *out. 0, or -1 if s is not one. */
int config_parse_int(const char *s, int64_t *out);
/* A size in bytes, with an optional K, M or G suffix (binary; KiB, KB also). 0 or -1. */
int config_parse_bytes(const char *s, int64_t *out);
/* An age in seconds: a number with an optional s, m, h or d suffix (plain: seconds), or
 * "off" (0); at most max seconds. 0 or -1. */
int config_parse_age(const char *s, double max, double *out);

/* config_lists.c: adds the comma-separated items of value to l (origins: scheme://host[:port];
 * else host names or "*"), normalised; a value from another source level than l's replaces l
 * first. Returns 0, or -1 with a message naming source in err. */
int config_list_add(struct strlist *l, bool origins, const char *value, int level,
                    const char *source, char *err, size_t errlen);
/* Empties l. */
void config_list_free(struct strlist *l);
/* config_secrets.c: reads cfg->token_file into cfg->tokens (a regular file of at most 1 MiB,
 * 1000 tokens of a line each); if create, a missing file is made with a random token. 0 or -1
 * with err. */
int config_load_tokens(struct config *cfg, bool create, char *err, size_t errlen);
/* Reads the notify_url signing secret into cfg->notify_secret; if create, a missing file is
 * made random (by default in the data dir). 0 or -1 with err. */
int config_load_notify_secret(struct config *cfg, bool create, char *err, size_t errlen);
/* Resolves cfg->run_as (USER[:GROUP]) into run_uid and run_gid. 0 or -1 with err. */
int config_resolve_run_as(struct config *cfg, char *err, size_t errlen);

#endif
