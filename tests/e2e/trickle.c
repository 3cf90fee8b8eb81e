/* trickle: a slow-loris client for test_slow_clients.sh. Opens COUNT connections from
 * SOURCE (a local address, so a per-address limit can be told apart from the test's own
 * client) and feeds each one byte per interval, forever: in "head" mode a request head that
 * never ends, in "body" mode a complete head promising a body that never completes.
 * Prints "connected N" once every connect() has been tried, then "open N closed M" each
 * interval (closed: the server ended the connection), until killed.
 *
 * Usage: trickle HOST PORT SOURCE COUNT head|body [INTERVAL_MS]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int open_one(const struct sockaddr_in *to, const struct sockaddr_in *from)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (bind(fd, (const struct sockaddr *)from, sizeof *from) < 0 ||
        connect(fd, (const struct sockaddr *)to, sizeof *to) < 0) {
        close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

/* True if the server has closed fd (or reset it). */
static int closed_by_server(int fd)
{
    char buf[512];
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 0) <= 0) return 0;
    ssize_t n = read(fd, buf, sizeof buf);
    return n == 0 || (n < 0 && errno != EAGAIN);
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: trickle HOST PORT SOURCE COUNT head|body [INTERVAL_MS]\n");
        return 2;
    }
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
    struct sockaddr_in from = {.sin_family = AF_INET};
    if (inet_pton(AF_INET, argv[1], &to.sin_addr) != 1 ||
        inet_pton(AF_INET, argv[3], &from.sin_addr) != 1) {
        fprintf(stderr, "trickle: HOST and SOURCE must be IPv4 addresses\n");
        return 2;
    }
    int count = atoi(argv[4]);
    int body = strcmp(argv[5], "body") == 0;
    int interval_ms = argc > 6 ? atoi(argv[6]) : 1000;
    char head[256];
    snprintf(head, sizeof head,
             body ? "POST /v1/jobs HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                    "Content-Length: 100000\r\n\r\n{\"argv\": [\"true\"], \"name\": \""
                  : "GET /healthz HTTP/1.1\r\nHost: %s\r\nX-Slow: ",
             argv[1]);
    int *fds = calloc((size_t)count, sizeof *fds);
    if (!fds) return 1;
    int open_n = 0, closed = 0;
    for (int i = 0; i < count; i++) {
        fds[i] = open_one(&to, &from);
        if (fds[i] < 0) {
            closed++;
            continue;
        }
        open_n++;
        /* the first bytes at once; the rest one per interval */
        if (send(fds[i], head, body ? strlen(head) : 20, MSG_NOSIGNAL) < 0) {
            close(fds[i]);
            fds[i] = -1;
            open_n--, closed++;
        }
    }
    printf("connected %d\n", count);
    fflush(stdout);
    size_t at = 20;
    for (;;) {
        struct timespec ts = {interval_ms / 1000, (long)(interval_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        char byte = body ? 'a' : (at < strlen(head) ? head[at] : 'a');
        at++;
        for (int i = 0; i < count; i++) {
            if (fds[i] < 0) continue;
            if (closed_by_server(fds[i]) || send(fds[i], &byte, 1, MSG_NOSIGNAL) < 0) {
                close(fds[i]);
                fds[i] = -1;
                open_n--, closed++;
            }
        }
        printf("open %d closed %d\n", open_n, closed);
        fflush(stdout);
    }
}
