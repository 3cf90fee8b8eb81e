/* help: the manual of the client commands. One page per command, static text in a table
 * (cli/help_pages.c): `spawnpool help CMD` and `spawnpool CMD --help` print the same page,
 * and usage errors point to it. */
#include <stdarg.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/help_pages.h"

static const struct help_page *page_of(const char *name)
{
    for (size_t i = 0; i < cli_help_npages; i++)
        if (strcmp(cli_help_pages[i].name, name) == 0) return &cli_help_pages[i];
    return NULL;
}

static const char *summary_of(const char *name)
{
    for (const struct cli_command *k = cli_commands; k->name; k++)
        if (strcmp(k->name, name) == 0) return k->summary;
    return "";
}

/* Prints text's lines, each with prefix before it. */
static void indented(FILE *f, const char *prefix, const char *text)
{
    while (*text) {
        size_t n = strcspn(text, "\n");
        fprintf(f, "%s%.*s\n", prefix, (int)n, text);
        text += n + (text[n] == '\n');
    }
}

static const char global_options[] =
    "    --server URL\n"
    "        the server (default: $SPAWNPOOL_URL, else " CLI_DEFAULT_URL ")\n"
    "    --token-file F\n"
    "        the bearer token: F's first line that is not blank or a # comment, as the\n"
    "        server reads its --token-file (default: $SPAWNPOOL_TOKEN, else the file\n"
    "        $SPAWNPOOL_TOKEN_FILE)\n"
    "    --cacert F\n"
    "        CA bundle (PEM) that signed an https:// server's certificate\n"
    "    --json\n"
    "        print the API's JSON unchanged, for scripts (jq)\n"
    "    --verbose\n"
    "        each request on stderr\n";

static const char environment[] =
    "    SPAWNPOOL_URL         the server, when --server is not given\n"
    "    SPAWNPOOL_TOKEN       the bearer token itself\n"
    "    SPAWNPOOL_TOKEN_FILE  a file that holds the token (when neither\n"
    "                          --token-file nor SPAWNPOOL_TOKEN is given)\n"
    "    NO_COLOR              no colours, even on a terminal\n";

static const char exit_codes[] =
    "    0        ok\n"
    "    1        the answer is \"no\": a job did not succeed, a kill of an ended job\n"
    "    2        usage: bad flags or arguments, nothing was sent\n"
    "    3        the server answered with an error (health: a 503)\n"
    "    4        not found: no such job, queue or route\n"
    "    5        unauthorized or forbidden\n"
    "    6        the server is unreachable\n"
    "    7        wait --timeout ran out while a job was still pending\n"
    "    run (and wait ID, submit --wait) exit with the job's own status instead: its\n"
    "    exit code, 128+signal, 122 lost, 123 canceled, 124 timed out; run exits 125\n"
    "    when spawnpool itself failed (unreachable, the submit refused).\n";

bool cli_help_page(const char *command, FILE *f)
{
    const struct help_page *p = page_of(command);
    if (!p) return false;
    fprintf(f, "NAME\n    spawnpool %s - %s\n\nSYNOPSIS\n", p->name, summary_of(p->name));
    indented(f, "    ", p->synopsis);
    fputs("\nDESCRIPTION\n", f);
    fputs(p->description, f);
    fputs("\nOPTIONS\n", f);
    fputs(p->options, f);
    fputs("\nGLOBAL OPTIONS\n"
          "    Every command takes them, before or after its name, up to a '--':\n",
          f);
    fputs(global_options, f);
    fputs(p->json, f);
    fputs("\nEXIT STATUS\n", f);
    fputs(p->exit_status, f);
    fputs("\nEXAMPLES\n", f);
    fputs(p->examples, f);
    return true;
}

/* The first line of a command's synopsis (its page's, else "spawnpool CMD ..."). */
static void print_synopsis(const char *command, FILE *f)
{
    const struct help_page *p = page_of(command);
    if (!p) {
        fprintf(f, "usage: spawnpool %s ...\n", command);
        return;
    }
    const char *s = p->synopsis;
    bool first = true;
    while (*s) {
        size_t n = strcspn(s, "\n");
        fprintf(f, "%s%.*s\n", first ? "usage: " : "       ", (int)n, s);
        first = false;
        s += n + (s[n] == '\n');
    }
}

static void print_index(FILE *f)
{
    fputs("usage: spawnpool COMMAND [OPTIONS] [ARGS]\n"
          "\n"
          "The client of a spawnpool server: it speaks the HTTP API only, so it works the\n"
          "same against a server here, on another machine or in a container.\n"
          "\n"
          "COMMANDS\n",
          f);
    for (const struct cli_command *k = cli_commands; k->name; k++)
        fprintf(f, "    %-10s %s\n", k->name, k->summary);
    fputs("    serve      run the server (spawnpool serve --help: its flags)\n"
          "\n"
          "    spawnpool help COMMAND, or spawnpool COMMAND --help: that command's page.\n"
          "\n"
          "GLOBAL OPTIONS\n"
          "    Every client command takes them, before or after its name, up to a '--':\n",
          f);
    fputs(global_options, f);
    fputs("\nENVIRONMENT\n", f);
    fputs(environment, f);
    fputs("\nEXIT STATUS\n", f);
    fputs(exit_codes, f);
}

int cli_cmd_help(struct cli *c, int argc, char **argv)
{
    (void)c;
    if (argc < 2) {
        print_index(stdout);
        return CLI_OK;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) name = "help";
    if (argc > 2) return cli_usage_error("help", "one command at a time, got '%s'", argv[2]);
    if (!cli_help_page(name, stdout)) {
        fprintf(stderr, "spawnpool help: no command '%s'", name);
        if (strcmp(name, "serve") == 0)
            fprintf(stderr, " here: spawnpool serve --help\n");
        else
            fprintf(stderr, " (spawnpool help lists them)\n");
        return CLI_USAGE;
    }
    return CLI_OK;
}

int cli_usage_error(const char *command, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "spawnpool %s: ", command);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    print_synopsis(command, stderr);
    fprintf(stderr, "(spawnpool help %s)\n", command);
    return CLI_USAGE;
}
