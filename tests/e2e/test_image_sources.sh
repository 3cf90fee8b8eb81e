#!/usr/bin/env bash
# The container image builds from what it is given: every top-level directory whose sources
# CMakeLists.txt compiles into the binary is COPYed by the Dockerfile's build stage and let
# through by .dockerignore's allowlist. (A new module directory once missed both, and only
# the container build failed.) No server needed: this reads the three files.
source "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

# top-level dirs of the .c files listed in the root CMakeLists.txt (build-dir files aside)
DIRS=$(grep -v '^[[:space:]]*#' "$ROOT/CMakeLists.txt" | grep -o '[A-Za-z0-9_./{}$]*\.c\b' \
    | grep -v '^\$' | awk -F/ 'NF > 1 {print $1}' | sort -u)
[ -n "$DIRS" ] || fail "found no source directories in CMakeLists.txt"
grep -qx cli <<<"$DIRS" || fail "the source directories found ($DIRS) miss cli/"
for f in CMakeLists.txt main.c; do
    grep -Eq "^COPY .*\b$f\b" "$ROOT/Dockerfile" || fail "Dockerfile does not COPY $f"
    grep -qx "!$f" "$ROOT/.dockerignore" || fail ".dockerignore does not let $f through"
done
# and every other top-level directory CMakeLists.txt reads from (migrations/ and web/ embedded
# by cmake/embed_*.cmake, contrib/'s unit template given to configure_file, ...): the image's
# cmake fails on a file it names that the context lacks (contrib/ once did)
for d in $(cd "$ROOT" && ls -d */ | tr -d /); do
    grep -v '^[[:space:]]*#' "$ROOT/CMakeLists.txt" | grep -Eq "(^|[[:space:]\"(/}])$d/" && DIRS="$DIRS $d"
done
grep -qw contrib <<<"$DIRS" || fail "CMakeLists.txt's contrib/ files were not found: $DIRS"
for d in $(tr ' ' '\n' <<<"$DIRS" | sort -u); do
    grep -Eq "^COPY $d/ $d/" "$ROOT/Dockerfile" || fail "Dockerfile does not COPY $d/"
    grep -qx "!$d/" "$ROOT/.dockerignore" || fail ".dockerignore does not let $d/ through"
done
pass "Dockerfile and .dockerignore carry every source directory: $(echo $DIRS)"
