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

# the images that run the binary have every shared library it links: the package of each one
# (ldd + dpkg -S) is installed by the Dockerfile's runtime stage and by the systemd test's image
# (libpq5 once missed the latter, and only that container test failed)
# (the libraries it names itself, NEEDED: theirs come with their packages' dependencies; the
# ASan run of CI tests a binary that also names libasan, which neither image builds with)
if command -v ldd >/dev/null && command -v dpkg >/dev/null && command -v readelf >/dev/null; then
    NEEDED=$(readelf -d "$SPAWNPOOL_BIN" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
    PKGS=$(ldd "$SPAWNPOOL_BIN" | awk '$3 ~ /^\// {print $1, $3}' | while read -r name lib; do
        grep -qxF "$name" <<<"$NEEDED" || continue
        dpkg -S "$(readlink -f "$lib")" 2>/dev/null || dpkg -S "$lib" 2>/dev/null
    done | cut -d: -f1 | sort -u | grep -Ev '^(libc6|libgcc-s1|libstdc\+\+6)$' \
        | grep -Ev '^lib(a|ub|l|t)san[0-9]*$') # (a sanitizer build's runtime: the images build none)
    [ -n "$PKGS" ] || fail "found no packages of the binary's libraries"
    for image in Dockerfile tests/container/systemd.Dockerfile; do
        for pkg in $PKGS; do
            grep -qw -- "$pkg" "$ROOT/$image" || fail "$image does not install $pkg (the binary links a library of it)"
        done
    done
    pass "both images install the packages of every library the binary links: $(echo $PKGS)"
fi
