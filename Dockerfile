# spawnpool container image.
#
#   docker build -t spawnpool .
#   docker run -d --name spawnpool -p 127.0.0.1:8080:8080 -v spawnpool-data:/var/lib/spawnpool spawnpool
#   curl -s --retry 10 --retry-all-errors --retry-delay 1 http://127.0.0.1:8080/healthz
#   T=$(docker exec spawnpool grep -m1 -v '^#' /var/lib/spawnpool/token)
#   curl -s -H "Authorization: Bearer $T" http://127.0.0.1:8080/v1/jobs
#
# With podman the same commands work with `podman`, but build with
# `podman build --format docker -t spawnpool .`: its default OCI format drops the HEALTHCHECK.
#
# The server runs as PID 1 (it reaps orphans and drains on SIGTERM itself), as the
# unprivileged user `spawnpool` (uid/gid 10001); jobs run as that user too. The API needs
# a bearer token: on first start the server writes a random one to
# /var/lib/spawnpool/token in the volume, or mount your own file there. /healthz stays open
# (the HEALTHCHECK uses it).
#
# The image's settings are ENV variables, not flags in CMD, so a command of your own keeps
# them (a flag beats its SPAWNPOOL_<FLAG> variable): `docker run ... spawnpool serve
# --workers 8` still listens on 0.0.0.0:8080 with the token and data in the volume; `-e
# SPAWNPOOL_WORKERS=8` does the same. All flags: `docker run --rm spawnpool --help`.
#
# Stopping: `docker stop` / `podman stop` send SIGTERM and SIGKILL 10 s later. The image's
# SPAWNPOOL_SHUTDOWN_GRACE=4 (running jobs get 4 s to finish) plus SPAWNPOOL_KILL_GRACE=3
# (then SIGTERM, SIGKILL 3 s later) fits in those 10 s, so every job ends recorded
# `terminated` (or finished), never `lost`. For longer jobs raise both together, e.g.
# `docker run --stop-timeout 130 -e SPAWNPOOL_SHUTDOWN_GRACE=120 ...` (or `docker stop -t 130`):
# the stop timeout must exceed shutdown grace + kill grace by a couple of seconds.

# ---------------------------------------------------------------- build stage
FROM debian:bookworm AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config libmicrohttpd-dev libjansson-dev libsqlite3-dev libcurl4-openssl-dev zlib1g-dev libpq-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt main.c ./
COPY cmake/ cmake/
COPY migrations/ migrations/
COPY pool/ pool/
COPY server/ server/
COPY api/ api/
COPY cli/ cli/
COPY web/ web/
COPY contrib/ contrib/
COPY tests/ tests/
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSPAWNPOOL_WERROR=ON \
 && cmake --build build -j2 --target spawnpool \
 && strip build/spawnpool \
 && build/spawnpool --version

# ---------------------------------------------------------------- runtime stage
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libmicrohttpd12 libjansson4 libsqlite3-0 libcurl4 zlib1g libpq5 curl tzdata \
 && rm -rf /var/lib/apt/lists/*

# Fixed ids, so a bind-mounted data dir can be chowned to 10001:10001 on the host.
# work/ is the jobs' default cwd (the server's cwd); it sits inside the volume, so files
# that jobs leave there persist with their output. With a bind mount instead of a named
# volume, create <dir>/work owned by 10001 as well (or pass --job-dir).
RUN groupadd --gid 10001 spawnpool \
 && useradd --uid 10001 --gid spawnpool --home-dir /var/lib/spawnpool --no-create-home \
      --no-log-init --shell /usr/sbin/nologin spawnpool \
 && install -d -o spawnpool -g spawnpool -m 0750 /var/lib/spawnpool /var/lib/spawnpool/work

COPY --from=build /src/build/spawnpool /usr/local/bin/spawnpool

USER spawnpool:spawnpool
WORKDIR /var/lib/spawnpool/work
VOLUME ["/var/lib/spawnpool"]
EXPOSE 8080
# Defaults as environment, so that `IMAGE serve --workers 8` (a replaced CMD) keeps them;
# flags on the command line still win. The graces fit the engines' 10 s stop timeout (above):
# 4 s + 3 s, and 3 s left for the last commits and the exit.
ENV SPAWNPOOL_LISTEN=0.0.0.0:8080 \
    SPAWNPOOL_DATA_DIR=/var/lib/spawnpool \
    SPAWNPOOL_TOKEN_FILE=/var/lib/spawnpool/token \
    SPAWNPOOL_SHUTDOWN_GRACE=4 \
    SPAWNPOOL_KILL_GRACE=3
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["/usr/local/bin/spawnpool"]
CMD ["serve"]
