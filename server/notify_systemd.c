/* notify_systemd: sd_notify(3) by hand. The address is a path ("/run/systemd/notify") or
 * an abstract name ("@..."); a datagram that cannot be sent is logged once and dropped:
 * the server runs the same with or without a service manager. */
#include "server/notify_systemd.h"

#include <errno.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "server/clock.h"
#include "server/log.h"

static struct sockaddr_un g_addr;
static socklen_t g_addr_len; /* 0: not under a service manager that wants notifications */
static bool g_failed_said;

void notify_systemd_init(void)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || !path[0]) return;
    size_t len = strlen(path);
    if ((path[0] != '/' && path[0] != '@') || len >= sizeof g_addr.sun_path) {
        log_warn("NOTIFY_SOCKET is not a unix socket path or @name: no readiness sent");
    } else {
        g_addr.sun_family = AF_UNIX;
        memcpy(g_addr.sun_path, path, len);
        if (path[0] == '@') g_addr.sun_path[0] = '\0'; /* abstract namespace */
        g_addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    }
    unsetenv("NOTIFY_SOCKET");
}

static void send_state(const char *text)
{
    if (g_addr_len == 0) return;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ssize_t sent = -1;
    if (fd >= 0) {
        sent = sendto(fd, text, strlen(text), MSG_NOSIGNAL, (const struct sockaddr *)&g_addr,
                      g_addr_len);
        int saved = errno;
        close(fd);
        errno = saved;
    }
    if (sent < 0 && !g_failed_said) {
        log_warn("sendto() failed while telling systemd \"%.40s\": %s", text, strerror(errno));
        g_failed_said = true;
    }
}

void notify_systemd_ready(const char *status)
{
    char text[256];
    snprintf(text, sizeof text, "READY=1\nSTATUS=%s", status);
    send_state(text);
}

void notify_systemd_reloading(void)
{
    char text[96];
    snprintf(text, sizeof text, "RELOADING=1\nMONOTONIC_USEC=%lld", (long long)clock_mono_us());
    send_state(text);
}

void notify_systemd_stopping(void)
{
    send_state("STOPPING=1\nSTATUS=draining: no new jobs start; waiting for running ones");
}
