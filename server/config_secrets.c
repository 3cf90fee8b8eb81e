/* config_secrets: what the config reads from files and the system rather than from
 * flags: the bearer tokens and the notify_url signing secret (each made random, mode 0600,
 * when missing) and the user and group of --run-as. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/config_internal.h"
#include "server/log.h"

#define TOKEN_FILE_MAX (1 << 20) /* bytes */
#define TOKENS_MAX 1000

/* Creates path (O_EXCL, mode 0600) holding 32 random bytes as hex and a newline. */
static int make_secret_file(const char *path, const char *what, char *err, size_t errlen)
{
    unsigned char raw[32];
    char hex[2 * sizeof raw + 1];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
        snprintf(err, errlen, "getrandom() failed while making %s: %s", what, strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(hex + 2 * i, 3, "%02x", raw[i]);
    explicit_bzero(raw, sizeof raw);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int rc = fd < 0 || dprintf(fd, "%s\n", hex) < 0 ? -1 : 0;
    explicit_bzero(hex, sizeof hex);
    if (rc < 0) snprintf(err, errlen, "cannot create %s %s: %s", what, path, strerror(errno));
    if (fd >= 0) close(fd);
    return rc;
}

/* Reads the key that signs notify_url callbacks: the file's text without its trailing
 * newline. Missing, it is made with a random secret (mode 0600), by default in the data dir
 * (made here if need be, as serve does), so every server signs and receivers can check. */
int config_load_notify_secret(struct config *cfg, bool create, char *err, size_t errlen)
{
    const char *path = cfg->notify_secret_file;
    if (!path[0]) {
        if (strlen(cfg->data_dir) + 16 >= sizeof cfg->notify_secret_file) {
            snprintf(err, errlen, "--data-dir is too long");
            return -1;
        }
        snprintf(cfg->notify_secret_file, sizeof cfg->notify_secret_file, "%s/notify-secret",
                 cfg->data_dir);
        if (mkdir(cfg->data_dir, 0750) < 0 && errno != EEXIST) {
            snprintf(err, errlen, "mkdir() failed while creating the data dir %s: %s",
                     cfg->data_dir, strerror(errno));
            return -1;
        }
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat st;
    if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
        snprintf(err, errlen, "notify-secret-file %s is not a regular file", path);
        close(fd);
        return -1;
    }
    if (fd < 0 && errno == ENOENT && create) {
        if (make_secret_file(path, "notify-secret-file", err, errlen) < 0) return -1;
        log_info("made a secret in %s (it signs notify_url callbacks)", path);
        fd = open(path, O_RDONLY | O_CLOEXEC);
    }
    char buf[4097];
    ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf);
    if (n < 0) {
        snprintf(err, errlen, "cannot read notify-secret-file %s: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    close(fd);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    const char *why = n == 0                         ? "holds no secret"
                      : n >= 4096                    ? "holds 4 KiB or more (too long for a secret)"
                      : memchr(buf, '\0', (size_t)n) ? "holds a NUL byte (the secret is text)"
                                                     : NULL;
    if (!why && !(cfg->notify_secret = strndup(buf, (size_t)n))) why = "is too big (out of memory)";
    explicit_bzero(buf, sizeof buf);
    if (why) {
        snprintf(err, errlen, "notify-secret-file %s %s", path, why);
        return -1;
    }
    return 0;
}

/* Parses a user or group: a name, or a number. */
static bool parse_id(const char *s, bool group, unsigned *id)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (*s && !*end && !errno && v < 0xffffffffUL) {
        *id = (unsigned)v;
        return true;
    }
    if (group) {
        struct group *g = getgrnam(s);
        if (g) *id = g->gr_gid;
        return g != NULL;
    }
    struct passwd *pw = getpwnam(s);
    if (pw) *id = pw->pw_uid;
    return pw != NULL;
}

/* Resolves --run-as USER[:GROUP] (the group defaults to the user's primary one); jobs can
 * only change user when the server starts as root. */
int config_resolve_run_as(struct config *cfg, char *err, size_t errlen)
{
    char user[sizeof cfg->run_as];
    strcpy(user, cfg->run_as);
    char *group = strchr(user, ':');
    if (group) *group++ = '\0';
    unsigned uid, gid;
    if (!user[0] || !parse_id(user, false, &uid)) {
        snprintf(err, errlen, "--run-as: no user '%s' on this system", user);
        return -1;
    }
    if (group && group[0]) {
        if (!parse_id(group, true, &gid)) {
            snprintf(err, errlen, "--run-as: no group '%s' on this system", group);
            return -1;
        }
    } else {
        struct passwd *pw = getpwuid(uid);
        if (!pw) {
            snprintf(err, errlen, "--run-as: user %u has no passwd entry: give USER:GROUP", uid);
            return -1;
        }
        gid = pw->pw_gid;
    }
    if (geteuid() != 0 && (uid != geteuid() || gid != getegid())) {
        snprintf(err, errlen, "--run-as %s needs the server to start as root", cfg->run_as);
        return -1;
    }
    cfg->run_uid = uid;
    cfg->run_gid = gid;
    return 0;
}

/* Reads the bearer tokens (one per line; blank lines and # comments skipped). A missing file
 * is made with one random token (mode 0600), so the safe setup is also the easy one. */
int config_load_tokens(struct config *cfg, bool create, char *err, size_t errlen)
{
    /* O_NONBLOCK: a FIFO must not stall the start, or a reload in the main loop */
    int fd = open(cfg->token_file, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0 && errno == ENOENT && create) {
        if (make_secret_file(cfg->token_file, "token file", err, errlen) < 0) return -1;
        log_info("made a token in %s (send it as Authorization: Bearer ...)", cfg->token_file);
        fd = open(cfg->token_file, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    }
    if (fd < 0) {
        snprintf(err, errlen, "cannot read token file %s: %s%s", cfg->token_file, strerror(errno),
                 errno == ENOENT && !create ? " (a reload makes no new token)" : "");
        return -1;
    }
    struct stat st;
    const char *why = fstat(fd, &st) < 0            ? strerror(errno)
                      : !S_ISREG(st.st_mode)        ? "is not a regular file"
                      : st.st_size > TOKEN_FILE_MAX ? "is over 1 MiB"
                                                    : NULL;
    FILE *f = why ? NULL : fdopen(fd, "r");
    if (!f) {
        snprintf(err, errlen, "token file %s %s", cfg->token_file, why ? why : strerror(errno));
        close(fd);
        return -1;
    }
    char line[1024];
    while (!why && fgets(line, sizeof line, f)) {
        if (!strchr(line, '\n') && !feof(f)) {
            why = "has a line of over 1023 bytes (a token is one line)";
            break;
        }
        char *p = line, *end;
        while (*p == ' ' || *p == '\t')
            p++;
        end = p + strcspn(p, "\r\n");
        while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        *end = '\0';
        if (!*p || *p == '#') continue;
        if (cfg->n_tokens == TOKENS_MAX) {
            why = "holds over 1000 tokens";
            break;
        }
        char **grown = realloc(cfg->tokens, (cfg->n_tokens + 1) * sizeof *grown);
        if (grown) cfg->tokens = grown;
        if (!grown || !(grown[cfg->n_tokens] = strdup(p))) {
            why = "is too big (out of memory)";
            break;
        }
        cfg->n_tokens++;
    }
    explicit_bzero(line, sizeof line);
    fclose(f);
    if (!why && !cfg->n_tokens) why = "holds no token";
    if (why) {
        snprintf(err, errlen, "token file %s %s", cfg->token_file, why);
        return -1;
    }
    return 0;
}
