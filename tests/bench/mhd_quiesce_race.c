/* mhd_quiesce_race: shows why api/http.c does not call MHD_quiesce_daemon. With a thread pool
 * and epoll (as spawnpool runs MHD), MHD_quiesce_daemon removes the listen socket from each
 * pool thread's epoll set from the calling thread, while a pool thread that is awake removes it
 * too (it sees was_quiesced); whichever comes second gets ENOENT, and libmicrohttpd 0.9.75 to
 * 0.9.77 MHD_PANICs on it: "Failed to remove listen FD from epoll set", abort(), exit 134.
 * spawnpool's pool threads are awake at that moment when an event stream or a resumed
 * long-poll is being served as the drain ends (test_readyz.sh failed so once, under load).
 * Here streams that never have data keep both pool threads busy; the program repeats
 * start, quiesce, stop and aborts within seconds with the MHD of Debian 12 (0.9.75).
 *   cmake -S tests/bench -B tests/bench/build && cmake --build tests/bench/build
 *   tests/bench/build/mhd_quiesce_race 3000   # exit 134: the race; 0: no panic */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static ssize_t no_data_yet(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)cls;
    (void)pos;
    (void)buf;
    (void)max;
    return 0; /* MHD asks again at once: a busy pool thread */
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *data,
                               size_t *data_size, void **con_cls)
{
    (void)cls, (void)url, (void)method, (void)version, (void)data, (void)data_size, (void)con_cls;
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 1024, no_data_yet, NULL, NULL);
    enum MHD_Result rc = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return rc;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 3000;
    for (int i = 0; i < rounds; i++) {
        struct MHD_Daemon *d = MHD_start_daemon(
            MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME, 0, NULL,
            NULL, handler, NULL, MHD_OPTION_THREAD_POOL_SIZE, 2u, MHD_OPTION_END);
        if (!d) return 2;
        int port = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port;
        int fds[4];
        for (int k = 0; k < 4; k++) {
            fds[k] = socket(AF_INET, SOCK_STREAM, 0);
            struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
            sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
            if (connect(fds[k], (struct sockaddr *)&sa, sizeof sa) == 0)
                (void)!write(fds[k], req, sizeof req - 1);
        }
        usleep(5000 + (unsigned)(rand() % 5000));
        int fd = MHD_quiesce_daemon(d);
        MHD_stop_daemon(d);
        close(fd);
        for (int k = 0; k < 4; k++)
            close(fds[k]);
    }
    printf("no panic in %d rounds\n", rounds);
    return 0;
}
