/* receiver: a minimal HTTP endpoint for the notify_url test. Prints its port on the first
 * line, then one line per POST body it receives (flushed). It answers 500 to the first
 * FAIL requests and 200 after. With DIR, request N (from 0) is also kept as it came:
 * DIR/N.head (request line and headers) and DIR/N.body. Usage: receiver FAIL [DIR] */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

/* Writes n bytes to path (made whole under a temporary name, then renamed). */
static void keep(const char *path, const char *data, size_t n)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return;
    fwrite(data, 1, n, f);
    if (fclose(f) == 0) rename(tmp, path);
}

int main(int argc, char **argv)
{
    int fail = argc > 1 ? atoi(argv[1]) : 0;
    const char *dir = argc > 2 ? argv[2] : NULL;
    int srv = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    if (srv < 0 || bind(srv, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(srv, 16) < 0 ||
        getsockname(srv, (struct sockaddr *)&addr, &len) < 0)
        return 1;
    printf("%d\n", ntohs(addr.sin_port));
    fflush(stdout);
    for (int served = 0;; served++) {
        int c = accept(srv, NULL, NULL);
        if (c < 0) continue;
        char buf[65536];
        size_t got = 0;
        char *body = NULL;
        long want = -1;
        while (got < sizeof buf - 1) { /* headers, then Content-Length bytes */
            ssize_t n = read(c, buf + got, sizeof buf - 1 - got);
            if (n <= 0) break;
            got += (size_t)n;
            buf[got] = '\0';
            if (!body && (body = strstr(buf, "\r\n\r\n"))) {
                body += 4;
                char *cl = strcasestr(buf, "Content-Length:");
                want = cl ? atol(cl + 15) : 0;
            }
            if (body && (long)(got - (size_t)(body - buf)) >= want) break;
        }
        if (body && dir) { /* the body file first: the test waits for the head file */
            char path[4096];
            snprintf(path, sizeof path, "%s/%d.body", dir, served);
            keep(path, body, got - (size_t)(body - buf));
            snprintf(path, sizeof path, "%s/%d.head", dir, served);
            keep(path, buf, (size_t)(body - buf));
        }
        if (body) {
            fwrite(body, 1, got - (size_t)(body - buf), stdout);
            fputc('\n', stdout);
            fflush(stdout);
        }
        const char *answer = served < fail ? "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n"
                                             "Connection: close\r\n\r\n"
                                           : "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"
                                             "Connection: close\r\n\r\n";
        (void)!write(c, answer, strlen(answer));
        close(c);
    }
}
