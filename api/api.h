/* api: the HTTP front end (libmicrohttpd + jansson): routes of API.md, strict JSON,
 * long-poll waits, output streaming, metrics. It never forks; it calls dispatch and store. */
#ifndef SPAWNPOOL_API_H
#define SPAWNPOOL_API_H

#include "server/serve.h"

/* The hooks serve_run uses to start, tick and stop the HTTP front end. */
extern const struct serve_frontend api_frontend;

#endif
