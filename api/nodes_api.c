/* nodes_api: GET /v1/nodes, the nodes that share the store (server/store_nodes.c): each with
 * its lease, whether it is alive by --node-timeout, when it was declared dead, the jobs that
 * run there, and which one answered. */
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "server/clock.h"

struct nodes_listing {
    struct api *a;
    struct text *t;
    int n;
};

/* One node's object (strings of n are valid during the call only: written now). */
static void node_text(void *ctx, const struct store_node *n)
{
    struct nodes_listing *l = ctx;
    struct text *t = l->t;
    bool self = strcmp(n->name, l->a->cfg->node) == 0;
    bool alive = n->alive, shared = store_output_shared(l->a->store);
    int64_t heartbeat = n->heartbeat_at;
    if (self && !shared) { /* SQLite: the only node, which answers: no lease to renew there */
        alive = true;
        heartbeat = clock_wall_ms();
    }
    if (l->n++) text_add(t, ",", 1);
    text_add(t, "{\"name\":", 8);
    text_json_string(t, n->name);
    text_add(t, ",\"url\":", 7);
    text_json_string(t, n->url ? n->url : "");
    text_add(t, ",\"version\":", 11);
    text_json_string(t, n->version ? n->version : "");
    api_text_time(t, "started_at", n->started_at);
    api_text_time(t, "heartbeat_at", heartbeat);
    text_addf(t, ",\"alive\":%s", alive ? "true" : "false");
    api_text_time(t, "dead_since", n->rescued_at); /* (null while not declared dead) */
    text_addf(t, ",\"epoch\":%lld,\"running\":%lld,\"this\":%s}", (long long)n->epoch,
              (long long)n->running, self ? "true" : "false");
}

enum MHD_Result api_nodes(struct api *a, struct MHD_Connection *c)
{
    static const char *const no_params[] = {NULL};
    struct api_error e;
    if (api_query_check(c, no_params, &e) < 0) return api_send_error(c, &e);
    struct text t = {0};
    struct nodes_listing l = {.a = a, .t = &t};
    text_add(&t, "{\"nodes\":[", 10);
    int64_t timeout_ms = (int64_t)(a->cfg->node_timeout * 1000);
    if (store_each_node(a->store, timeout_ms, node_text, &l) < 0) {
        text_free(&t);
        return api_send_internal(c, "reading the nodes");
    }
    text_add(&t, "]}", 2);
    return api_send_text_json(c, 200, &t, NULL);
}
