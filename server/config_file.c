/* config_file: the JSON --config file: every flag as a key (max_queued), plus "tasks",
 * "queues" and "allow_commands". */
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "server/config_internal.h"
#include "server/tasks_internal.h"

/* "queues": {"name": {"concurrency": n | null, "paused": bool}}: initial settings (a
 * PATCH /v1/queues later is saved and wins). */
static int load_queues(struct config *cfg, json_t *value, const char *source, char *err,
                       size_t errlen)
{
    if (!json_is_object(value)) {
        snprintf(err, errlen, "%s: queues must be an object of queue settings", source);
        return -1;
    }
    cfg->queues = calloc(json_object_size(value) + 1, sizeof *cfg->queues);
    if (!cfg->queues) return -1;
    const char *name;
    json_t *q;
    json_object_foreach(value, name, q)
    {
        struct queue_decl *d = &cfg->queues[cfg->n_queues++];
        snprintf(d->name, sizeof d->name, "%s", name);
        d->concurrency = -1;
        json_t *c = json_object_get(q, "concurrency"), *p = json_object_get(q, "paused");
        bool ok = json_is_object(q) && job_queue_name_ok(name) &&
                  json_object_size(q) == (size_t)(c != NULL) + (size_t)(p != NULL);
        if (ok && c && !json_is_null(c)) {
            ok = json_is_integer(c) && json_integer_value(c) >= 1 &&
                 json_integer_value(c) <= 1000000;
            if (ok) d->concurrency = (int)json_integer_value(c);
        }
        if (ok && p) {
            ok = json_is_boolean(p);
            d->paused = json_is_true(p);
        }
        if (!ok) {
            snprintf(err, errlen,
                     "%s: queue '%.80s' must be named with 1 to 64 letters, digits, '-', '_' or "
                     "'.' and be {\"concurrency\": n >= 1 or null, \"paused\": true|false}",
                     source, name);
            return -1;
        }
    }
    return 0;
}

/* Applies the config file's top-level object (root: taken over, freed). */
static int apply_file(struct config *cfg, json_t *root, const char *source, char *err,
                      size_t errlen)
{
    if (!json_is_object(root)) {
        snprintf(err, errlen, "%s: the top level must be an object", source);
        json_decref(root);
        return -1;
    }
    const char *key;
    json_t *value;
    json_object_foreach(root, key, value)
    {
        if (strcmp(key, "tasks") == 0) {
            char why[400];
            if (tasks_load(&cfg->tasks, value, why, sizeof why) < 0) {
                snprintf(err, errlen, "%s: %s", source, why);
                json_decref(root);
                return -1;
            }
            continue;
        }
        if (strcmp(key, "queues") == 0) {
            if (load_queues(cfg, value, source, err, errlen) < 0) {
                json_decref(root);
                return -1;
            }
            continue;
        }
        if (strcmp(key, "allow_commands") == 0) {
            if (!json_is_boolean(value)) {
                snprintf(err, errlen, "%s: allow_commands must be true or false", source);
                json_decref(root);
                return -1;
            }
            cfg->allow_commands = json_is_true(value);
            continue;
        }
        char flag[64];
        size_t n = strlen(key);
        if (n >= sizeof flag) n = sizeof flag - 1;
        for (size_t i = 0; i < n; i++)
            flag[i] = key[i] == '_' ? '-' : key[i];
        flag[n] = '\0';
        const struct option_def *o = strcmp(key, "config") ? config_find_option(flag, n) : NULL;
        if (!o) {
            snprintf(err, errlen, "%s: unknown key '%s'", source, key);
            json_decref(root);
            return -1;
        }
        char text[PATH_MAX];
        if (json_is_array(value) && (o->type == OPT_ORIGINS || o->type == OPT_HOSTS)) {
            size_t i;
            json_t *item;
            json_array_foreach(value, i, item)
            {
                if (!json_is_string(item) || strchr(json_string_value(item), ',')) {
                    snprintf(err, errlen, "%s: '%s' must be an array of strings", source, key);
                    json_decref(root);
                    return -1;
                }
                if (config_set_option(cfg, o, json_string_value(item), LEVEL_FILE, source, err,
                                      errlen) < 0) {
                    json_decref(root);
                    return -1;
                }
            }
            continue;
        }
        if (json_is_string(value))
            snprintf(text, sizeof text, "%s", json_string_value(value));
        else if (json_is_integer(value))
            snprintf(text, sizeof text, "%lld", (long long)json_integer_value(value));
        else if (json_is_real(value))
            snprintf(text, sizeof text, "%.17g", json_real_value(value));
        else if (json_is_boolean(value))
            snprintf(text, sizeof text, "%s", json_is_true(value) ? "true" : "false");
        else {
            snprintf(err, errlen, "%s: '%s' must be a string or a number", source, key);
            json_decref(root);
            return -1;
        }
        if (config_set_option(cfg, o, text, LEVEL_FILE, source, err, errlen) < 0) {
            json_decref(root);
            return -1;
        }
    }
    json_decref(root);
    return 0;
}

int config_apply_text(struct config *cfg, const char *text, size_t len, const char *source,
                      char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(err, errlen, "%s: %s (line %d, column %d)", source, jerr.text, jerr.line,
                 jerr.column);
        return -1;
    }
    return apply_file(cfg, root, source, err, errlen);
}

int config_load_file(struct config *cfg, const char *path, char *err, size_t errlen)
{
    char source[PATH_MAX + 32];
    snprintf(source, sizeof source, "config file %s", path);
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(err, errlen, "%s: %s (line %d, column %d)", source, jerr.text, jerr.line,
                 jerr.column);
        return -1;
    }
    return apply_file(cfg, root, source, err, errlen);
}
