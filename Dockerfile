# spawnpool container image.
#
#   docker build -t spawnpool .
#   docker run -d -p 8080:8080 -v spawnpool-data:/var/lib/spawnpool spawnpool
#   curl http://127.0.0.1:8080/healthz
#
# The server runs as PID 1 (it reaps orphans and drains on SIGTERM itself), as the
# unprivileged user `spawnpool` (uid/gid 10001); jobs run as that user too. The API needs
# a bearer token: on first start the server writes a random one to
# /var/lib/spawnpool/token in the volume (`docker exec ... cat /var/lib/spawnpool/token`),
# or mount your own file there. /healthz stays open (the HEALTHCHECK uses it).
# Settings: append flags to the command (`docker run ... spawnpool serve --workers 8 ...`)
# or set SPAWNPOOL_<FLAG> environment variables (see `docker run --rm spawnpool --help`).

# ---------------------------------------------------------------- build stage
FROM debian:bookworm AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config libmicrohttpd-dev libjansson-dev libsqlite3-dev libcurl4-openssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY cmake/ cmake/
COPY migrations/ migrations/
COPY pool/ pool/
COPY server/ server/
COPY api/ api/
COPY tests/ tests/
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSPAWNPOOL_WERROR=ON \
 && cmake --build build -j2 --target spawnpool \
 && strip build/spawnpool \
 && build/spawnpool --version

# ---------------------------------------------------------------- runtime stage
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libmicrohttpd12 libjansson4 libsqlite3-0 libcurl4 curl \
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
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["/usr/local/bin/spawnpool"]
CMD ["serve", "--listen", "0.0.0.0:8080", "--data-dir", "/var/lib/spawnpool", \
     "--token-file", "/var/lib/spawnpool/token"]
