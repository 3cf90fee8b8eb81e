# wait.sh: what the container tests share (sourced). wait_until SECONDS COMMAND...: polls the
# command (every 0.2 s) until it succeeds; returns 1 if it never does within SECONDS. A test
# waits for what the container reports, never for a fixed time.
wait_until() {
    local end=$((SECONDS + $1))
    shift
    until "$@"; do
        ((SECONDS < end)) || return 1
        sleep 0.2
    done
}
