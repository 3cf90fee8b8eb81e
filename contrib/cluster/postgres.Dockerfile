# PostgreSQL 15 from Debian's packages, on the base our Dockerfile uses: the database of
# contrib/cluster/compose.yaml without pulling an image from a registry (`postgres:15` from
# Docker Hub works the same, with POSTGRES_USER=spawnpool and POSTGRES_DB=spawnpool).
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15 \
 && rm -rf /var/lib/apt/lists/* \
 && install -d -o postgres -g postgres -m 0700 /var/lib/postgresql/data
COPY postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint.sh
USER postgres
ENV PGDATA=/var/lib/postgresql/data
VOLUME ["/var/lib/postgresql/data"]
EXPOSE 5432
HEALTHCHECK --interval=5s --timeout=3s --retries=12 \
  CMD /usr/lib/postgresql/15/bin/pg_isready -h 127.0.0.1 -U spawnpool -d spawnpool || exit 1
ENTRYPOINT ["/bin/sh", "/usr/local/bin/postgres-entrypoint.sh"]
