#!/usr/bin/env bash
# smoke.sh - build the project's Dockerfile with the shared container smoke tool, run the
# image, and check that the server answers GET /healthz from inside the container.
#
# Usage: tests/container/smoke.sh            (as root; the tool installs podman etc. itself)
#
# Environment (all optional):
#   SMOKE_TOOL=path      the smoke tool (default: <repo>/../shared/tools/container-smoke.sh)
#   SMOKE_TAG=spawnpool:smoke   image tag to build
#   SMOKE_PORT=18080     host port published on 127.0.0.1, mapped to the container's 8080
#   SMOKE_*              passed through to the tool (SMOKE_READY_TIMEOUT, SMOKE_VERBOSE, ...;
#                        see `container-smoke.sh --help`)
# Exit status: the tool's (0 = image built and /healthz answered 2xx), or 3 if the tool is
# missing. Everything the tool prints is shown.
set -Eeuo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
tool=${SMOKE_TOOL:-$(dirname "$repo")/shared/tools/container-smoke.sh}
tag=${SMOKE_TAG:-spawnpool:smoke}
port=${SMOKE_PORT:-18080}

if [[ ! -f $tool ]]; then
  echo "smoke.sh: FAIL: container smoke tool not found at $tool (set SMOKE_TOOL=/path/to/container-smoke.sh)" >&2
  exit 3
fi
if [[ ! -x $tool ]]; then
  echo "smoke.sh: note: $tool is not executable; running it with bash" >&2
fi
if [[ ! -f $repo/Dockerfile ]]; then
  echo "smoke.sh: FAIL: no Dockerfile at $repo/Dockerfile" >&2
  exit 2
fi

# Keep HEALTHCHECK in the image: podman's default OCI image format drops it.
export BUILDAH_FORMAT=${BUILDAH_FORMAT:-docker}

echo "smoke.sh: $tool $repo/Dockerfile $repo $tag $port:8080 /healthz" >&2
start=$SECONDS
rc=0
bash "$tool" "$repo/Dockerfile" "$repo" "$tag" "$port:8080" /healthz || rc=$?
if ((rc == 0)); then
  echo "smoke.sh: PASS: $tag answered /healthz on 127.0.0.1:$port ($((SECONDS - start))s)" >&2
else
  echo "smoke.sh: FAIL: container smoke test exited with status $rc after $((SECONDS - start))s" >&2
fi
exit "$rc"
