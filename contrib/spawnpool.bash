# bash completion for spawnpool: subcommands, each one's flags, job ids (show, wait, logs,
# kill, rm, rerun, set, --rerun-of), queue names (queue, --queue) and states (--state, after
# each comma of a list). Ids and queues are asked of the server with the client itself
# (`spawnpool ls --json --limit 50`, `spawnpool queues --json`) and read with jq; without jq,
# or when the server does not answer, nothing is offered and nothing is printed. Installed by
# `make install` as share/bash-completion/completions/spawnpool.

_spawnpool_global_flags="--server --token-file --cacert --json --verbose --help"
_spawnpool_submit_flags="--shell --task --param --name --queue --priority --timeout --env --cwd
    --after --max-attempts --key --key-limit --group --group-size --limit --at --delay --stdin-file
    --no-stdin --idempotency-key --notify-url --max-output --retry-backoff --cpu --detach --wait
    --quiet"

# _spawnpool_flags CMD: the flags of a subcommand (its own, then the global ones)
_spawnpool_flags() {
    local own=
    case $1 in
    run | submit) own=$_spawnpool_submit_flags ;;
    ls) own="--state --queue --name --rerun-of --schedule --created-after --created-before --finished-after
        --limit --before" ;;
    clean) own="--state --queue --name --rerun-of --schedule --created-after --created-before --finished-after
        --before --all" ;;
    wait) own="--any --timeout" ;;
    logs) own="-f --follow --stderr --offset" ;;
    kill) own="--signal --grace" ;;
    set) own="--priority --queue" ;;
    queue) own="--concurrency --paused" ;;
    schedule) own="--cron --timezone --tz --overlap --paused --catch-up --no-catch-up $_spawnpool_submit_flags" ;;
    events) own="--job --queue --since" ;;
    esac
    echo "$own $_spawnpool_global_flags"
}

# _spawnpool_ask ARGS...: runs the client with the --server/--token-file/--cacert of the line
# being completed; quiet, and bounded in time when timeout(1) is there
_spawnpool_ask() {
    local bin=${COMP_WORDS[0]:-spawnpool} i globals=()
    for ((i = 1; i < ${#COMP_WORDS[@]} - 1; i++)); do
        case ${COMP_WORDS[i]} in
        --server | --token-file | --cacert) globals+=("${COMP_WORDS[i]}" "${COMP_WORDS[i + 1]}") ;;
        --server=* | --token-file=* | --cacert=*) globals+=("${COMP_WORDS[i]}") ;;
        --) break ;;
        esac
    done
    bin=${bin/#\~/$HOME} # ~/bin/spawnpool as typed (no eval: the line is not run)
    if command -v timeout >/dev/null 2>&1; then
        timeout 3 "$bin" "$@" "${globals[@]}" 2>/dev/null
    else
        "$bin" "$@" "${globals[@]}" 2>/dev/null
    fi
}

_spawnpool_ask_serve() {
    local bin=${COMP_WORDS[0]:-spawnpool}
    bin=${bin/#\~/$HOME}
    "$bin" serve --help 2>/dev/null | sed -n 's/^  \(--[a-z0-9-]*\).*/\1/p'
}

_spawnpool_job_ids() {
    command -v jq >/dev/null 2>&1 || return 0
    _spawnpool_ask ls --json --limit 50 | jq -r '.jobs[]?.id' 2>/dev/null
}

_spawnpool_queues() {
    command -v jq >/dev/null 2>&1 || return 0
    _spawnpool_ask queues --json | jq -r '.queues[]?.name' 2>/dev/null
}

# _spawnpool_action CMD_AT: for `CMD ACTION NAME`, sets the caller's sub (the first word after
# the command, not a flag) and n (how many such words come before the one being typed)
_spawnpool_action() {
    local i
    sub= n=0
    for ((i = $1 + 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
        -*) ;;
        *) [ -z "$sub" ] && sub=${COMP_WORDS[i]}; n=$((n + 1)) ;;
        esac
    done
}

_spawnpool_commands() {
    echo "run submit ls show wait logs kill rm rerun set clean queues queue schedules schedule workers nodes tasks events health help serve"
}

_spawnpool() {
    local cur=${COMP_WORDS[COMP_CWORD]}
    local prev=
    ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
    COMPREPLY=()

    # the subcommand: the first word after the program that is not a global option or its value
    local cmd= cmd_at=0 i w
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        case $w in
        --server | --token-file | --cacert) ((i++)) ;;
        -*) ;;
        *) cmd=$w cmd_at=$i; break ;;
        esac
    done
    if [ -z "$cmd" ]; then
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "--help --version" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$(_spawnpool_commands)" -- "$cur"))
        fi
        return 0
    fi

    # the server's flags, as its --help lists them
    if [ "$cmd" = serve ]; then
        [[ $cur == -* ]] && COMPREPLY=($(compgen -W "--help $(_spawnpool_ask_serve)" -- "$cur"))
        return 0
    fi

    # after `run/submit ... --`, or the command's first word, it is the job's command line
    if [ "$cmd" = run ] || [ "$cmd" = submit ]; then
        for ((i = cmd_at + 1; i < COMP_CWORD; i++)); do
            if [ "${COMP_WORDS[i]}" = -- ]; then
                COMPREPLY=($(compgen -c -- "$cur"))
                [ "$i" -lt $((COMP_CWORD - 1)) ] && COMPREPLY=($(compgen -f -- "$cur"))
                return 0
            fi
        done
    fi

    # the value of a flag
    case $prev in
    --server) return 0 ;;
    --token-file | --cacert | --stdin-file)
        COMPREPLY=($(compgen -f -- "$cur"))
        return 0
        ;;
    --cwd)
        COMPREPLY=($(compgen -d -- "$cur"))
        return 0
        ;;
    --queue)
        COMPREPLY=($(compgen -W "$(_spawnpool_queues)" -- "$cur"))
        return 0
        ;;
    --state)
        # a list: complete the state after the last comma
        local states="succeeded failed terminated timed_out canceled lost"
        [ "$cmd" = clean ] || states="queued running scheduled $states" # (clean: finished ones)
        local done_part=
        [[ $cur == *,* ]] && done_part=${cur%,*},
        COMPREPLY=($(compgen -P "$done_part" -W "$states" -- "${cur##*,}"))
        return 0
        ;;
    --created-after | --created-before | --finished-after)
        COMPREPLY=($(compgen -W "10m 1h 1d 1w" -- "$cur"))
        return 0
        ;;
    --signal)
        COMPREPLY=($(compgen -W "SIGTERM SIGINT SIGHUP SIGKILL SIGQUIT SIGUSR1 SIGUSR2" -- "$cur"))
        return 0
        ;;
    --limit)
        if [ "$cmd" = run ] || [ "$cmd" = submit ]; then
            COMPREPLY=($(compgen -W "nofile= nproc= core= as= memory= pids= cpu=" -- "$cur"))
            compopt -o nospace 2>/dev/null
        fi
        return 0
        ;;
    --paused)
        COMPREPLY=($(compgen -W "true false" -- "$cur"))
        return 0
        ;;
    --concurrency)
        COMPREPLY=($(compgen -W "none" -- "$cur"))
        return 0
        ;;
    --after | --job | --before | --rerun-of)
        COMPREPLY=($(compgen -W "$(_spawnpool_job_ids)" -- "$cur"))
        return 0
        ;;
    --shell | --task | --param | --name | --priority | --timeout | --env | --max-attempts | \
        --key | --key-limit | --group | --group-size | --idempotency-key | --notify-url | \
        --max-output | --retry-backoff | --cpu | --offset | --grace | --since)
        return 0
        ;;
    esac

    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$(_spawnpool_flags "$cmd")" -- "$cur"))
        return 0
    fi

    case $cmd in
    show | wait | logs | kill | rm | rerun | set)
        COMPREPLY=($(compgen -W "$(_spawnpool_job_ids)" -- "$cur"))
        ;;
    queue)
        # queue pause|resume|set NAME
        local sub n
        _spawnpool_action "$cmd_at"
        if [ -z "$sub" ]; then
            COMPREPLY=($(compgen -W "pause resume set" -- "$cur"))
        elif [ "$n" -eq 1 ]; then
            COMPREPLY=($(compgen -W "$(_spawnpool_queues)" -- "$cur"))
        fi
        ;;
    schedule)
        # schedule add|show|set|pause|resume|rm NAME (names of existing ones for all but add)
        local sub n
        _spawnpool_action "$cmd_at"
        if [ -z "$sub" ]; then
            COMPREPLY=($(compgen -W "add show set pause resume rm" -- "$cur"))
        elif [ "$n" -eq 1 ] && [ "$sub" != add ]; then
            COMPREPLY=($(compgen -W "$(_spawnpool_ask schedules --json |
                jq -r '.schedules[]?.name' 2>/dev/null)" -- "$cur"))
        fi
        ;;
    help)
        COMPREPLY=($(compgen -W "$(_spawnpool_commands)" -- "$cur"))
        ;;
    run | submit)
        COMPREPLY=($(compgen -c -- "$cur"))
        ;;
    esac
    return 0
}
complete -F _spawnpool spawnpool
