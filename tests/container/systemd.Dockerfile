# The systemd test's image (tests/container/systemd.sh): Debian 12 booting systemd, with
# what `make install PREFIX=/usr/local DESTDIR=stage` put in stage/ copied over /.
FROM debian:bookworm
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      systemd systemd-sysv curl jq ca-certificates procps \
      libmicrohttpd12 libjansson4 libsqlite3-0 libcurl4 zlib1g libpq5 tzdata \
 && rm -rf /var/lib/apt/lists/*
COPY stage/ /
# the user from the installed sysusers.d snippet (no path given: proves it is on the search
# path), the unit enabled as an operator would; graces short for the test's stop (the unit's
# TimeoutStopSec=45 still covers them)
RUN systemd-sysusers \
 && id spawnpool \
 && systemctl enable spawnpool.service \
 && jq '.shutdown_grace = 3 | .kill_grace = 2' /usr/local/etc/spawnpool/spawnpool.json \
      >/tmp/c.json && mv /tmp/c.json /usr/local/etc/spawnpool/spawnpool.json
STOPSIGNAL SIGRTMIN+3
CMD ["/sbin/init"]
