/* help_pages: the text of the client's manual, one page per command (printed by cli/help.c).
 * Each page lists every flag its command takes (tests/e2e/test_cli_help.sh checks run's and
 * submit's against the options[] of cli/submit_opts.c). Option lines are indented by 4 and
 * start with '-'; their explanation is indented by 8. */
#include "cli/help_pages.h"

/* ---- the submit options, shared by run and submit ----------------------------------------- */

#define SUBMIT_OPTIONS                                                                             \
    "    --shell 'CMD'\n"                                                                          \
    "        run CMD with /bin/sh -c on the server (the job's \"command\") instead of\n"           \
    "        -- COMMAND ARG...\n"                                                                  \
    "    --task NAME\n"                                                                            \
    "        submit the server's task template NAME (spawnpool tasks lists them)\n"                \
    "    --param K=V\n"                                                                            \
    "        a parameter of the --task template; repeatable\n"                                     \
    "    --name NAME\n"                                                                            \
    "        a free label of the job (spawnpool ls --name NAME finds it)\n"                        \
    "    --queue Q\n"                                                                              \
    "        the named queue (letters, digits, -_.); default \"default\"\n"                        \
    "    --priority N\n"                                                                           \
    "        integer, higher first (FIFO among equals); default 0\n"                               \
    "    --timeout S\n"                                                                            \
    "        seconds > 0 (fractions allowed): then SIGTERM, and SIGKILL after the server's\n"      \
    "        --kill-grace; the job ends timed_out\n"                                               \
    "    --at TIME\n"                                                                              \
    "        start no earlier than TIME (RFC 3339, e.g. 2026-12-01T09:00:00Z); the job is\n"       \
    "        scheduled until then\n"                                                               \
    "    --delay S\n"                                                                              \
    "        start no earlier than S seconds from now, or a span: 90s, 30m, 1.5h, 2d\n"            \
    "        (scheduled until then)\n"                                                             \
    "    --env NAME=VALUE\n"                                                                       \
    "        added to the job's environment (the server's, not yours); repeatable\n"               \
    "    --cwd DIR\n"                                                                              \
    "        the job's working directory on the server's machine. Default: when the\n"             \
    "        server URL is a loopback address (127.*, localhost, [::1]) your current\n"            \
    "        directory, else the server's --job-dir\n"                                             \
    "    --after ID[,ID...]\n"                                                                     \
    "        start only once these jobs succeeded (a failed one cancels this job);\n"              \
    "        repeatable\n"                                                                         \
    "    --max-attempts N\n"                                                                       \
    "        run again after failed, lost or timed_out, up to N attempts in all (1-100)\n"         \
    "    --key KEY\n"                                                                              \
    "        a concurrency key: at most --key-limit running jobs share it\n"                       \
    "    --key-limit N\n"                                                                          \
    "        the limit of --key (default 1)\n"                                                     \
    "    --group G\n"                                                                              \
    "        a gang group: its jobs start together, once --group-size of them are queued\n"        \
    "    --group-size N\n"                                                                         \
    "        the size of --group\n"                                                                \
    "    --limit K=N\n"                                                                            \
    "        a per-job limit, an integer: nofile, nproc, core, as, memory, pids (bytes for\n"      \
    "        core, as and memory); repeatable; at most the server's own --limit-K\n"               \
    "    --cpu CPUS\n"                                                                             \
    "        a CPU limit (limits.cpu): 0.5 is half a CPU, 2 two (cgroup cpu.max); at most\n"       \
    "        the server's --limit-cpu, else its machine's CPUs\n"                                  \
    "    --max-output BYTES\n"                                                                     \
    "        output kept per stream (K, M, G allowed), at most the server's --max-output;\n"       \
    "        the rest is dropped and the job says truncated\n"                                     \
    "    --retry-backoff S\n"                                                                      \
    "        seconds before the first retry (--max-attempts), doubling per attempt up to\n"        \
    "        the server's --retry-backoff-max (0: at once)\n"                                      \
    "    --stdin-file F|-\n"                                                                       \
    "        the job's stdin from file F (- : from your stdin, even a terminal). UTF-8\n"          \
    "        text only (the API carries it as a JSON string), at most 64 MiB and the\n"            \
    "        server's --max-body\n"                                                                \
    "    --no-stdin\n"                                                                             \
    "        run only: do not forward stdin (the job reads /dev/null)\n"                           \
    "    --idempotency-key KEY\n"                                                                  \
    "        the same key within 24 h returns the first job instead of a new one\n"                \
    "    --notify-url URL\n"                                                                       \
    "        the server POSTs the ended job there (signed, see the README)\n"                      \
    "    --detach\n"                                                                               \
    "        run only: on Ctrl-C leave the job running and exit 128+signal\n"                      \
    "    --wait\n"                                                                                 \
    "        submit only: wait for the job and exit with its status, as run does\n"                \
    "    --quiet\n"                                                                                \
    "        submit only, with --wait: print nothing, only the exit status tells\n"                \
    "    -h, --help\n"                                                                             \
    "        this page\n"

#define JOB_STATUS                                                                                 \
    "    the job's exit code when it exited (succeeded: 0)\n"                                      \
    "    128+N    a signal N ended it (terminated by kill or Ctrl-C: 143 for SIGTERM)\n"           \
    "    122      the job is lost (its worker or the server died while it ran)\n"                  \
    "    123      the job was canceled before it started\n"                                        \
    "    124      the job timed out (as timeout(1) exits)\n"

#define GENERIC_STATUS                                                                             \
    "    2        usage: bad flags or arguments, nothing was sent\n"                               \
    "    3        the server answered with an error\n"                                             \
    "    4        not found: no such job, queue or route\n"                                        \
    "    5        unauthorized or forbidden: no token, a wrong one\n"                              \
    "    6        the server is unreachable (connection refused, DNS, TLS)\n"

const struct help_page cli_help_pages[] = {
    {
        "run",
        "spawnpool run [OPTIONS] [--] COMMAND [ARG...]\n"
        "spawnpool run [OPTIONS] --shell 'CMD'\n"
        "spawnpool run [OPTIONS] --task NAME [--param K=V]...\n",
        "    Submits the command as a job, streams its stdout and stderr live to yours, and\n"
        "    exits with its exit status, as if it ran here. COMMAND is exec'd on the server\n"
        "    directly (no shell) and looked up in the server's PATH; --shell runs a shell\n"
        "    command.\n"
        "\n"
        "    Options, the global ones (below) too, stop at the first word of the command or\n"
        "    at '--': `spawnpool run mkdir --verbose d` keeps mkdir's --verbose.\n"
        "\n"
        "    Working directory: when the server URL is a loopback address and --cwd is not\n"
        "    given, the job starts in your current directory (the server shares this\n"
        "    machine's files); otherwise in the server's --job-dir.\n"
        "\n"
        "    Stdin: when your stdin is not a terminal it is read to its end and sent with\n"
        "    the job (echo hi | spawnpool run -- cat), unless --no-stdin. It must be UTF-8\n"
        "    text: the API carries it as a JSON string. --stdin-file F|- sends a file.\n"
        "\n"
        "    Ctrl-C (SIGINT; SIGTERM and SIGHUP too) asks the server to terminate the job:\n"
        "    SIGTERM to its process group, SIGKILL after its grace. A second Ctrl-C sends\n"
        "    SIGKILL at once. With --detach Ctrl-C leaves the job running instead and exits\n"
        "    128+signal; spawnpool logs -f ID follows it again.\n",
        SUBMIT_OPTIONS,
        "    --json has no effect: the output is the job's own.\n",
        JOB_STATUS "    125      spawnpool itself failed: the server is unreachable, refused the\n"
                   "             submit (bad field, 401, 429, ...) or went away\n"
                   "    128+N    with --detach, the signal N that detached it\n"
                   "    2        usage: bad flags or arguments, nothing was sent\n",
        "    spawnpool run -- make test\n"
        "    echo hi | spawnpool run -- cat\n"
        "    spawnpool run --timeout 60 --env CI=1 -- ./build.sh --release\n"
        "    spawnpool run --shell 'ls | wc -l'\n"
        "    spawnpool run --limit memory=536870912 --limit nofile=256 -- python3 job.py\n"
        "    spawnpool run --cwd /srv/app --queue deploy -- ./deploy.sh prod\n",
    },
    {
        "submit",
        "spawnpool submit [OPTIONS] [--] COMMAND [ARG...]\n"
        "spawnpool submit [OPTIONS] --shell 'CMD'\n"
        "spawnpool submit [OPTIONS] --task NAME [--param K=V]...\n",
        "    Submits the command as a job and prints its id; it runs in the background on\n"
        "    the server. With --wait it then waits for the job to end and exits with its\n"
        "    status, as run does (without its output: spawnpool logs ID shows it).\n"
        "    --quiet with --wait prints nothing.\n"
        "\n"
        "    Unlike run, submit does not forward your stdin; give it with --stdin-file F|-\n"
        "    (UTF-8 text). The working directory defaults as for run: your current one when\n"
        "    the server URL is a loopback address, else the server's --job-dir.\n"
        "\n"
        "    Options, global ones too, stop at the first word of the command (or at '--').\n",
        SUBMIT_OPTIONS,
        "    --json prints the API's answer to the submit (the job) instead of the id; with\n"
        "    --wait, the ended job.\n",
        "    0        submitted (with --wait: the job succeeded)\n"
        "    with --wait, the job's status as for run:\n" JOB_STATUS GENERIC_STATUS,
        "    spawnpool submit -- ./nightly-report.sh\n"
        "    ID=$(spawnpool submit --name build --queue ci -- make -j8)\n"
        "    spawnpool submit --wait --quiet -- make test && echo passed\n"
        "    spawnpool submit --after $ID --shell 'make install'\n"
        "    spawnpool submit --task backup --param db=orders\n"
        "    spawnpool submit --json -- true | jq .state\n",
    },
    {
        "ls",
        "spawnpool ls [--state S[,S...]] [--queue Q] [--name N|'PREFIX*'] [--rerun-of ID]\n"
        "             [--schedule NAME]\n"
        "             [--created-after T] [--created-before T] [--finished-after T]\n"
        "             [--limit N] [--before ID]\n",
        "    Lists jobs, newest first, as a table: ID STATE NAME/COMMAND QUEUE STARTED\n"
        "    DURATION EXIT. NAME/COMMAND is the job's name, else its command on one line.\n"
        "    The filters combine (a job must pass each); the server answers every\n"
        "    combination from an index. A time T is RFC 3339 (2026-11-27T12:00:00Z,\n"
        "    2026-11-27T13:00:00+01:00) or a span ago: a number and s, m, h, d or w (90s,\n"
        "    30m, 1.5h, 2d, 1w).\n",
        "    --state S[,S...]\n"
        "        only jobs in one of these states: queued, running, scheduled, succeeded,\n"
        "        failed, terminated, timed_out, canceled, lost\n"
        "    --queue Q\n"
        "        only jobs of queue Q\n"
        "    --name N|'PREFIX*'\n"
        "        only jobs named N; with a '*' at the end, whose name starts with PREFIX\n"
        "    --rerun-of ID\n"
        "        only the reruns of job ID\n"
        "    --schedule NAME\n"
        "        only the jobs schedule NAME made (spawnpool schedules lists them)\n"
        "    --created-after T\n"
        "        only jobs submitted after T\n"
        "    --created-before T\n"
        "        only jobs submitted before T\n"
        "    --finished-after T\n"
        "        only jobs that ended after T\n"
        "    --limit N\n"
        "        at most N jobs (1-1000; the server's default 100)\n"
        "    --before ID\n"
        "        only jobs older than ID: the page after one that ended with ID\n"
        "    -h, --help\n"
        "        this page\n",
        "    --json prints the API's answer unchanged: {\"jobs\": [...], \"next_before\": "
        "ID|null}.\n",
        "    0        listed (also when no job matched)\n" GENERIC_STATUS,
        "    spawnpool ls\n"
        "    spawnpool ls --state running\n"
        "    spawnpool ls --state failed,timed_out --finished-after 1h\n"
        "    spawnpool ls --name 'build-*' --created-after 2026-11-27T00:00:00Z\n"
        "    spawnpool ls --queue ci --limit 20\n"
        "    spawnpool ls --json --state failed | jq -r '.jobs[].id'\n",
    },
    {
        "show",
        "spawnpool show ID...\n",
        "    Shows each job with every field the API gives: command, state, exit code or\n"
        "    signal, error, times, node and worker, attempts, queue, limits,\n"
        "    dependencies.\n",
        "    -h, --help\n"
        "        this page\n",
        "    --json prints each job as the API gives it.\n",
        "    0        every job was shown\n" GENERIC_STATUS,
        "    spawnpool show 42\n"
        "    spawnpool show --json 42 | jq .exit_code\n",
    },
    {
        "wait",
        "spawnpool wait ID... [--any] [--timeout S]\n",
        "    Waits until the jobs end (join), then prints how each ended. Without --timeout\n"
        "    it waits as long as it takes.\n",
        "    --any\n"
        "        return as soon as one of the jobs ended\n"
        "    --timeout S\n"
        "        give up after S seconds (exit 7)\n"
        "    -h, --help\n"
        "        this page\n",
        "    --json prints the jobs as the API gives them.\n",
        "    With one ID, the job's status as for run:\n" JOB_STATUS
        "    With several: 0 if all succeeded (--any: if one that ended succeeded), else 1.\n"
        "    7        the timeout ran out: a job is still queued or running\n" GENERIC_STATUS,
        "    spawnpool wait 42\n"
        "    spawnpool wait 42 43 44 && echo all succeeded\n"
        "    spawnpool wait --any --timeout 60 42 43\n",
    },
    {
        "logs",
        "spawnpool logs ID [-f|--follow] [--stderr] [--offset N]\n",
        "    Prints a job's output: its stdout, raw bytes as captured (up to the server's\n"
        "    --max-output per stream). With --follow it streams while the job runs and\n"
        "    returns when it ends.\n",
        "    -f, --follow\n"
        "        stream the output live until the job ends\n"
        "    --stderr\n"
        "        the job's stderr instead of its stdout\n"
        "    --offset N\n"
        "        start at byte N\n"
        "    -h, --help\n"
        "        this page\n",
        "    --json has no effect: the output is raw bytes.\n",
        "    0        printed\n" GENERIC_STATUS,
        "    spawnpool logs 42\n"
        "    spawnpool logs -f 42\n"
        "    spawnpool logs --stderr 42 | tail\n",
    },
    {
        "kill",
        "spawnpool kill ID... [--signal SIG] [--grace S]\n",
        "    Terminates jobs: the signal goes to the job's whole process group (or cgroup),\n"
        "    then SIGKILL after the grace. A queued job is canceled instead.\n",
        "    --signal SIG\n"
        "        the signal, by name (TERM or SIGTERM) or number; default SIGTERM\n"
        "    --grace S\n"
        "        seconds before SIGKILL (0-3600); default the server's --kill-grace\n"
        "    -h, --help\n"
        "        this page\n",
        "    --json prints the API's answer for each job.\n",
        "    0        every job was terminated or canceled\n"
        "    1        a job had already ended\n" GENERIC_STATUS,
        "    spawnpool kill 42\n"
        "    spawnpool kill --signal INT --grace 30 42 43\n",
    },
    {
        "rm",
        "spawnpool rm ID...\n",
        "    Forgets finished jobs: their rows, events and output. A queued or running job\n"
        "    is refused (kill it first).\n",
        "    -h, --help\n"
        "        this page\n",
        "    --json has no effect (a deleted job has no answer body).\n",
        "    0        every job was removed\n"
        "    1        a job had not finished (the others were still removed)\n" GENERIC_STATUS,
        "    spawnpool rm 42\n"
        "    spawnpool ls --json --state succeeded | jq -r '.jobs[].id' | xargs -r spawnpool rm\n",
    },
    {
        "clean",
        "spawnpool clean [--state S[,S...]] [--queue Q] [--name N|'PREFIX*'] [--rerun-of ID]\n"
        "                [--schedule NAME]\n"
        "                [--created-after T] [--created-before T] [--finished-after T]\n"
        "                [--before ID]\n"
        "spawnpool clean --all\n",
        "    Deletes every finished job the filters match (all of them together), with its\n"
        "    events and output, in one request (DELETE /v1/jobs?...). The filters are\n"
        "    those of ls (see spawnpool ls --help for T). Queued, running and scheduled\n"
        "    jobs are never touched, and a finished job is kept while it is still needed:\n"
        "    a job that has not ended waits for it (after, stdin_from), its idempotency key\n"
        "    is less than 24 h old, or its notify_url callback is not delivered yet. The\n"
        "    server deletes old jobs by itself too: see its --retain and --retain-jobs.\n",
        "    --state S[,S...]\n"
        "        only jobs in one of these finished states: succeeded, failed,\n"
        "        terminated, timed_out, canceled, lost\n"
        "    --queue Q\n"
        "        only jobs of queue Q\n"
        "    --name N|'PREFIX*'\n"
        "        only jobs named N; with a '*' at the end, whose name starts with PREFIX\n"
        "    --rerun-of ID\n"
        "        only the reruns of job ID\n"
        "    --schedule NAME\n"
        "        only the jobs schedule NAME made\n"
        "    --created-after T, --created-before T\n"
        "        only jobs submitted after, before T\n"
        "    --finished-after T\n"
        "        only jobs that ended after T\n"
        "    --before ID\n"
        "        only jobs with a smaller id\n"
        "    --all\n"
        "        every finished job (needed when no other filter is given)\n"
        "    -h, --help\n"
        "        this page\n",
        "    --json prints the API's answer: {\"deleted\": n, \"kept\": k}.\n",
        "    0        the matching jobs were deleted (those still needed were "
        "kept)\n" GENERIC_STATUS,
        "    spawnpool clean --state failed,timed_out --name 'nightly-*'\n"
        "    spawnpool clean --finished-after 2d --schedule backup\n"
        "    spawnpool clean --before 1000\n"
        "    spawnpool clean --all\n",
    },
    {
        "rerun",
        "spawnpool rerun ID...\n",
        "    Runs each job again: a new job with the same spec (command, env, cwd, stdin,\n"
        "    queue, priority, timeout, limits, attempts, dependencies), whose rerun_of says\n"
        "    which job it repeats. Not its idempotency key (that names the first job), nor\n"
        "    its run_at (it runs now), nor its schedule (it is no schedule's run). A\n"
        "    member of a group is refused: alone it would wait for the others forever.\n"
        "    Prints the new ids, one per line.\n",
        "    -h, --help\n"
        "        this page\n",
        "    --json prints the API's answer for each: the new job.\n",
        "    0        every job was rerun\n" GENERIC_STATUS,
        "    spawnpool rerun 42\n"
        "    spawnpool wait $(spawnpool rerun 42)\n"
        "    spawnpool ls --json --state failed | jq -r '.jobs[].id' | xargs -r spawnpool rerun\n",
    },
    {
        "set",
        "spawnpool set ID... [--priority N] [--queue Q]\n",
        "    Changes a queued job's priority, its queue, or both: it waits again where it\n"
        "    waited, by the new values. Once a worker holds it, or it runs or ran, the job\n"
        "    is refused (exit 1).\n",
        "    --priority N\n"
        "        the new priority, an integer from -1000000000 to 1000000000 (higher first)\n"
        "    --queue Q\n"
        "        the new queue (letters, digits, -_.)\n"
        "    -h, --help\n"
        "        this page\n",
        "    --json prints the API's answer for each: the job as it is now.\n",
        "    0        every job was changed\n"
        "    1        a job was no longer waiting (the others were still changed)\n" GENERIC_STATUS,
        "    spawnpool set 42 --priority 10\n"
        "    spawnpool set 42 43 --queue urgent --priority 5\n",
    },
    {
        "queues",
        "spawnpool queues\n",
        "    Lists the named queues that have jobs or settings: name, queued and running\n"
        "    jobs, concurrency limit, paused.\n",
        "    -h, --help\n"
        "        this page\n",
        "    --json prints the API's answer unchanged: {\"queues\": [...]}.\n",
        "    0        listed\n" GENERIC_STATUS,
        "    spawnpool queues\n"
        "    spawnpool queues --json | jq -r '.queues[].name'\n",
    },
    {
        "schedules",
        "spawnpool schedules\n",
        "    Lists the schedules: name, cron expression, time zone, next run, the job of the\n"
        "    last run, how many runs it made and skipped, its overlap rule, paused.\n",
        "    -h, --help\n"
        "        this page\n",
        "    --json prints the API's answer unchanged: {\"schedules\": [...]}, each with\n"
        "    its next_runs.\n",
        "    0        listed\n" GENERIC_STATUS,
        "    spawnpool schedules\n"
        "    spawnpool schedules --json | jq -r '.schedules[] | [.name, .next_run_at] | @tsv'\n",
    },
    {
        "schedule",
        "spawnpool schedule add NAME --cron EXPR [--timezone TZ] [--overlap allow|skip|replace]\n"
        "                      [--paused] [--no-catch-up] [SUBMIT OPTIONS] -- COMMAND ARG...\n"
        "spawnpool schedule set NAME [--cron EXPR] [--tz TZ] [--overlap O] "
        "[--catch-up|--no-catch-up]\n"
        "spawnpool schedule show|pause|resume|rm NAME\n",
        "    add: makes a job at each time EXPR names (5 fields: minute hour day-of-month\n"
        "    month day-of-week, or @hourly, @daily, @weekly, @monthly, @yearly), in TZ (an\n"
        "    IANA zone; default UTC). The job is what `spawnpool submit` would send with the\n"
        "    same options (--name, --queue, --timeout, --env, --shell, --task ...), except\n"
        "    --after, --at, --delay, --group and --idempotency-key. show prints it with its\n"
        "    next run times; set changes the fields it is given (a new cron or zone works out\n"
        "    the next run anew; its job: rm and add); pause and resume stop and restart its\n"
        "    runs; rm removes it (the jobs it made stay, and `spawnpool ls --schedule NAME`\n"
        "    finds them).\n",
        "    --cron EXPR\n"
        "        when to run (required for add)\n"
        "    --timezone TZ, --tz TZ\n"
        "        the zone EXPR is read in, e.g. Europe/Berlin (default UTC)\n"
        "    --overlap allow|skip|replace\n"
        "        when the last run's job is still queued, scheduled or running: start another "
        "(allow,\n"
        "        the default), make none this time (skip), or terminate it first (replace)\n"
        "    --paused\n"
        "        add it paused (no runs until `schedule resume`)\n"
        "    --catch-up\n"
        "        set: run one missed time after downtime again (the default)\n"
        "    --no-catch-up\n"
        "        after the server was down over one of its times, do not run it late (the\n"
        "        default runs one missed time at start)\n"
        "    -h, --help\n"
        "        this page\n",
        "    --json prints the API's answer (the schedule) unchanged.\n",
        "    0        done\n" GENERIC_STATUS,
        "    spawnpool schedule add nightly --cron '0 3 * * *' --tz Europe/Berlin -- make backup\n"
        "    spawnpool schedule add tick --cron '*/5 * * * *' --overlap skip --shell 'poll.sh'\n"
        "    spawnpool schedule pause nightly\n",
    },
    {
        "queue",
        "spawnpool queue pause NAME\n"
        "spawnpool queue resume NAME\n"
        "spawnpool queue set NAME [--concurrency N|none] [--paused true|false]\n",
        "    Changes a queue's settings, which the server saves: pause (its queued jobs wait;\n"
        "    running ones go on), resume, or a limit on how many of its jobs run at once.\n",
        "    --concurrency N|none\n"
        "        set: at most N of its jobs running at once; none: no limit\n"
        "    --paused true|false\n"
        "        set: pause or resume it as well\n"
        "    -h, --help\n"
        "        this page\n",
        "    --json prints the queue as the API answers.\n",
        "    0        changed\n" GENERIC_STATUS,
        "    spawnpool queue pause nightly\n"
        "    spawnpool queue set nightly --concurrency 1\n"
        "    spawnpool queue set ci --concurrency none --paused false\n",
    },
    {
        "workers",
        "spawnpool workers\n",
        "    Lists the worker processes of the pool: index, pid, state (idle, busy,\n"
        "    starting), the job it runs, jobs done, when it started.\n",
        "    -h, --help\n"
        "        this page\n",
        "    --json prints the API's answer unchanged: {\"workers\": [...]}.\n",
        "    0        listed\n" GENERIC_STATUS,
        "    spawnpool workers\n",
    },
    {
        "nodes",
        "spawnpool nodes\n",
        "    Lists the nodes that share the server's database (several `spawnpool serve` on one\n"
        "    PostgreSQL: docs/cluster.md; on SQLite the server alone): name, the one that\n"
        "    answered marked (this), alive (yes; no: its lease is older than --node-timeout;\n"
        "    dead: declared dead, its jobs recovered), the jobs running there, its last\n"
        "    heartbeat, the URL it advertises (--advertise-url).\n",
        "    -h, --help\n"
        "        this page\n",
        "    --json prints the API's answer unchanged: {\"nodes\": [...]}, each with its\n"
        "    version, started_at, epoch, dead_since and this.\n",
        "    0        listed\n" GENERIC_STATUS,
        "    spawnpool nodes\n"
        "    spawnpool nodes --json | jq -r '.nodes[] | select(.alive | not) | .name'\n",
    },
    {
        "tasks",
        "spawnpool tasks\n",
        "    Lists the task templates of the server's config: name, argv, params and the\n"
        "    defaults a job takes from them (submit with run/submit --task NAME).\n",
        "    -h, --help\n"
        "        this page\n",
        "    --json prints the API's answer unchanged: {\"allow_commands\": ..., \"tasks\": "
        "[...]}.\n",
        "    0        listed\n" GENERIC_STATUS,
        "    spawnpool tasks\n",
    },
    {
        "events",
        "spawnpool events [--job ID] [--queue Q] [--since EVENT_ID]\n",
        "    Prints state changes as they happen, one line each (the event's id, when, the\n"
        "    job, the state it left and its new one, the detail), until interrupted. The\n"
        "    first column is what --since takes to go on where a stream stopped.\n",
        "    --job ID\n"
        "        only this job's\n"
        "    --queue Q\n"
        "        only the jobs of queue Q\n"
        "    --since EVENT_ID\n"
        "        first the events after EVENT_ID (what a dropped stream missed)\n"
        "    -h, --help\n"
        "        this page\n",
        "    --json prints one JSON object per line (the event's data).\n",
        "    0        the stream ended\n" GENERIC_STATUS,
        "    spawnpool events\n"
        "    spawnpool events --queue nightly\n"
        "    spawnpool events --json | jq -c 'select(.state == \"failed\")'\n",
    },
    {
        "health",
        "spawnpool health\n",
        "    Says whether the server is up, and how busy: status, workers, queued and\n"
        "    running jobs, the kill mechanism, the store.\n",
        "    -h, --help\n"
        "        this page\n",
        "    --json prints /healthz's answer unchanged.\n",
        "    0        healthy\n"
        "    3        the server answered 503: no worker ready, or the store cannot commit\n"
        "    6        the server is unreachable\n"
        "    5        unauthorized\n",
        "    spawnpool health\n"
        "    until spawnpool health >/dev/null 2>&1; do sleep 0.5; done\n",
    },
    {
        "help",
        "spawnpool help [COMMAND]\n",
        "    Without COMMAND: the commands, the global options, the environment and the\n"
        "    exit codes. With one: that command's page (as spawnpool COMMAND --help).\n",
        "    -h, --help\n"
        "        this page\n",
        "    --json has no effect.\n",
        "    0        printed\n"
        "    2        no such command\n",
        "    spawnpool help\n"
        "    spawnpool help run\n",
    },
};

const size_t cli_help_npages = sizeof cli_help_pages / sizeof cli_help_pages[0];
