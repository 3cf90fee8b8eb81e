/* api/web_assets.h: the dashboard's files (web/), embedded at build time by
 * cmake/embed_web.cmake into web_assets.c. */
#ifndef SPAWNPOOL_API_WEB_ASSETS_H
#define SPAWNPOOL_API_WEB_ASSETS_H

#include <stddef.h>

/* One file of web/: its name (no directory), Content-Type, quoted ETag and bytes. */
struct web_asset {
    const char *name;
    const char *type;
    const char *etag;
    const unsigned char *data;
    size_t len;
};

/* Every file of web/, sorted by name (web_assets_count of them). */
extern const struct web_asset web_assets[];
/* How many web_assets there are. */
extern const size_t web_assets_count;

#endif
