#!/usr/bin/env bash
# longpoll_rss.sh [BIN]: the master's resident memory idle, with 2000 /wait long-polls open,
# once they are answered (connections still open) and once the server has closed them.
# Prints one line per moment; BIN defaults to build/spawnpool. Not part of the test suite.
BIN=${1:-$(cd "$(dirname "$0")/../.." && pwd)/build/spawnpool}
ulimit -n 8192
d=$(mktemp -d); "$BIN" serve --listen 127.0.0.1:0 --data-dir "$d" --workers 1 --max-long-polls 4000 --max-connections 4096 --max-connections-per-address 0 >"$d/out" 2>"$d/err" & M=$!
until grep -q listening "$d/out" 2>/dev/null; do sleep 0.05; done
B=$(sed -n 's/^spawnpool: listening on //p' "$d/out"); P=${B##*:}
rss() { awk '/^VmRSS/ {print $2}' /proc/$M/status; }
ID=$(curl -s --json '{"argv":["sleep","600"]}' $B/v1/jobs | jq .id)
echo "idle: $(rss) kB"
IDLE_FDS=$(ls /proc/$M/fd | wc -l)
FDS=()
for i in $(seq 2000); do exec {fd}<>/dev/tcp/127.0.0.1/$P; printf 'GET /v1/jobs/%s/wait?timeout=60 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' $ID >&$fd; FDS+=($fd); done
until [ "$(curl -s $B/metrics | awk '$1=="spawnpool_long_polls"{print $2}')" -ge 2000 ]; do sleep 0.1; done
echo "2000 waiting: $(rss) kB"
curl -s -X POST $B/v1/jobs/$ID/terminate >/dev/null
until [ "$(curl -s $B/metrics | awk '$1=="spawnpool_long_polls"{print $2}')" -eq 0 ]; do sleep 0.1; done
echo "answered, connections open: $(rss) kB"
for fd in "${FDS[@]}"; do exec {fd}>&-; done
# the server has noticed every close when its fds are back to what it holds idle (the
# trim runs in the thread that closes the connections that end the burst)
until [ "$(ls /proc/$M/fd | wc -l)" -le $((IDLE_FDS + 1)) ]; do sleep 0.05; done
echo "closed: $(rss) kB, fds $(ls /proc/$M/fd | wc -l)"
kill $M; wait $M; rm -rf "$d"
