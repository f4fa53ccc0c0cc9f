/* The HTTP/JSON status endpoint: libmicrohttpd on its own thread serves the run's latest
 * status (jsb_status) to GET requests. */
#include "bridge.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct jsb_http {
    struct MHD_Daemon *daemon;
    jsb_status *status;
};

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_len, void **con_cls)
{
    (void)url;
    (void)version;
    (void)upload;
    (void)upload_len;
    (void)con_cls;
    jsb_http *h = cls;
    unsigned code = MHD_HTTP_OK;
    char *body;
    if (strcmp(method, "GET") != 0) {
        code = MHD_HTTP_METHOD_NOT_ALLOWED;
        body = strdup("{\"error\":\"only GET\"}");
    } else {
        pthread_mutex_lock(&h->status->mu);
        body = strdup(h->status->json ? h->status->json : "{\"starting\":true}");
        pthread_mutex_unlock(&h->status->mu);
    }
    if (!body)
        return MHD_NO;
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(conn, code, r);
    MHD_destroy_response(r);
    return ret;
}

int jsb_http_start(const char *addr_port, jsb_status *status, jsb_http **out)
{
    const char *colon = strrchr(addr_port, ':');
    char host[64];
    char *end;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    struct sockaddr_in sa = {.sin_family = AF_INET};
    if (!colon || (size_t)(colon - addr_port) >= sizeof host || colon[1] == 0 || *end || port < 0 || port > 65535) {
        jsb_log("http: '%s' is not ADDR:PORT", addr_port);
        return -1;
    }
    snprintf(host, sizeof host, "%.*s", (int)(colon - addr_port), addr_port);
    if (inet_pton(AF_INET, host[0] ? host : "0.0.0.0", &sa.sin_addr) != 1) {
        jsb_log("http: '%s' is not an IPv4 address", host);
        return -1;
    }
    sa.sin_port = htons((uint16_t)port);
    jsb_http *h = calloc(1, sizeof *h);
    if (!h)
        return -1;
    h->status = status;
    h->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, answer, h,
                                 MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_TIMEOUT,
                                 (unsigned)10, MHD_OPTION_END);
    if (!h->daemon) {
        jsb_log("http: cannot listen on %s", addr_port);
        free(h);
        return -1;
    }
    jsb_log("status served as JSON on http://%s/", addr_port);
    *out = h;
    return 0;
}

void jsb_http_stop(jsb_http *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->daemon);
    free(h);
}
