/* help_pages.h: the manual's pages (cli/help_pages.c), for cli/help.c. */
#ifndef SPAWNPOOL_CLI_HELP_PAGES_H
#define SPAWNPOOL_CLI_HELP_PAGES_H

#include <stddef.h>

/* One command's page: each field is text, printed under its heading. */
struct help_page {
    const char *name;
    const char *synopsis;    /* lines, each "spawnpool NAME ..." */
    const char *description; /* paragraphs, indented by 4 */
    const char *options;     /* the command's own flags */
    const char *json;        /* what --json prints for this command */
    const char *exit_status;
    const char *examples;
};

/* The pages, one per command of cli_commands (cli_help_npages of them). */
extern const struct help_page cli_help_pages[];
/* How many pages cli_help_pages holds. */
extern const size_t cli_help_npages;

#endif
