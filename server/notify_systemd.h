/* notify_systemd: the sd_notify protocol of a Type=notify systemd service, without
 * libsystemd: one datagram per state change to the unix socket named by $NOTIFY_SOCKET. */
#ifndef SPAWNPOOL_NOTIFY_SYSTEMD_H
#define SPAWNPOOL_NOTIFY_SYSTEMD_H

/* Reads $NOTIFY_SOCKET and removes it from the environment (so workers and jobs do not see
 * it); call before any fork or thread. Without it every call below does nothing. */
void notify_systemd_init(void);
/* READY=1 with a STATUS= line: the API answers (at start, and after a reload). */
void notify_systemd_ready(const char *status);
/* RELOADING=1 with MONOTONIC_USEC=now: a SIGHUP reload began (READY=1 ends it). */
void notify_systemd_reloading(void);
/* STOPPING=1: the drain began; the service manager waits for the exit. */
void notify_systemd_stopping(void);

#endif
