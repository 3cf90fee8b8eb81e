/* openapi_api: GET /v1/openapi.json, the OpenAPI 3.1 document of this API (api/openapi.json,
 * embedded at build time by cmake/embed_file.cmake). Like /healthz it needs no token: it
 * says nothing the source does not. */
#include "api/internal.h"

extern const char api_openapi_json[];
extern const size_t api_openapi_json_len;

enum MHD_Result api_openapi(struct MHD_Connection *c)
{
    static const char *const no_params[] = {NULL};
    struct api_error e;
    if (api_query_check(c, no_params, &e) < 0) return api_send_error(c, &e);
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        api_openapi_json_len, (void *)api_openapi_json, MHD_RESPMEM_PERSISTENT);
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json; charset=utf-8");
    enum MHD_Result rc = api_queue_response(c, 200, resp);
    MHD_destroy_response(resp);
    return rc;
}
