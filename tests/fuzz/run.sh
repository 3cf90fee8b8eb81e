#!/usr/bin/env bash
# usage: tests/fuzz/run.sh [SECONDS] [TARGET...]
# Builds the libFuzzer targets with clang, ASan and UBSan (in build-fuzz/) and runs each for
# SECONDS (default 60), one after the other; TARGETs are body, query, config, frames, cron
# (default: all). FUZZ_JOBS=2 runs two targets at once. Each starts from its seeds in
# tests/fuzz/corpus/TARGET and keeps what it learns in build-fuzz/corpus/TARGET (reused by the
# next run). Prints one line per target: executions, speed, coverage, corpus, findings.
# Exits 1 if any target found a crash, leak, UB or broken invariant; the input is saved in
# build-fuzz/findings/TARGET/ and the line says how to replay it.
set -Eeuo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(body query config frames cron)
build=${FUZZ_BUILD:-build-fuzz}
jobs=${FUZZ_JOBS:-1}

if ! command -v clang >/dev/null || ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
    echo "fuzzing needs clang and libFuzzer: apt-get install clang libclang-rt-14-dev" >&2
    exit 2
fi
CC=clang cmake -S . -B "$build" -DSPAWNPOOL_FUZZ=ON -DSPAWNPOOL_WERROR=ON >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null

run_one() {
    local t=$1 bin="$build/tests/fuzz/fuzz_$1" work="$build/corpus/$1" found="$build/findings/$1"
    local log="$build/fuzz_$1.log" seeds="tests/fuzz/corpus/$1"
    mkdir -p "$work" "$found"
    if [ "$t" = frames ]; then # seeds of the current protocol version
        seeds="$build/seeds/frames"
        mkdir -p "$seeds"
        "$build/tests/fuzz/frame_seeds" "$seeds" || { echo "$t: frame_seeds failed" >&2; return 2; }
    fi
    local dict=()
    [ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")
    local rc=0
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
        "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$found/" "${dict[@]}" "$work" "$seeds" >"$log" 2>&1 || rc=$?
    local runs cov corp
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || true)
    # (every pipeline here ends in "|| true": under set -e a missing line must not end the
    # run before the FAILED line below is printed)
    corp=$(find "$work" -type f | wc -l)
    local speed=$(( ${runs:-0} / (seconds > 0 ? seconds : 1) ))
    if [ "$rc" -eq 0 ]; then
        printf '%-7s %10s runs %8s/s  cov %5s  corpus %5s  findings 0\n' \
            "$t" "${runs:-?}" "$speed" "${cov:-?}" "$corp"
    else
        local crash
        crash=$(grep -o "Test unit written to .*" "$log" | tail -1 | sed 's/Test unit written to //' || true)
        local why
        why=$(grep -m1 -E 'ERROR|invariant failed|runtime error' "$log" || echo "see $log")
        printf '%-7s FAILED (exit %s): %s\n' "$t" "$rc" "$why"
        printf '        input: %s\n        replay: %s %s\n        log: %s\n' "${crash:-?}" "$bin" "${crash:-INPUT}" "$log"
    fi
    return "$rc"
}

echo "fuzzing ${targets[*]} for ${seconds}s each (ASan + UBSan; logs in $build/fuzz_*.log)"
failed=0
pids=()
for t in "${targets[@]}"; do
    [ -f "tests/fuzz/fuzz_$t.c" ] || { echo "unknown target '$t' (body, query, config, frames, cron)" >&2; exit 2; }
    if [ "$jobs" -gt 1 ]; then
        run_one "$t" &
        pids+=($!)
        if [ ${#pids[@]} -ge "$jobs" ]; then
            wait "${pids[0]}" || failed=1
            pids=("${pids[@]:1}")
        fi
    else
        run_one "$t" || failed=1
    fi
done
for p in "${pids[@]}"; do wait "$p" || failed=1; done
exit "$failed"
