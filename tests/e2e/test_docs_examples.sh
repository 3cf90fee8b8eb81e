#!/usr/bin/env bash
# Every command the docs show is run by a test (issue 14 part 5): each fenced shell block in
# README.md and docs/*.md (```bash, ```sh, ```console, ```shell, or an unlabelled block
# whose first line is a command) must be either
#   - an example, `<!-- example: NAME -->` right before it, run by a test (`run_example NAME`
#     in tests/), or a walk-through (`<!-- walkthrough:start -->`, `<!-- cli-walkthrough:start
#     -->`) run by test_readme*.sh, or
#   - marked `<!-- not-run: REASON -->` right before it, for what cannot run here (a Docker
#     engine, another machine, the suite itself); the reasons are listed.
# Output, diagrams and config files go in ```text / ```json blocks. Then the examples of
# docs/multiprocessing.md and docs/cli.md that no feature's test owns are run here, their
# output checked against what the docs' comments say.
source "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TESTS="$ROOT/tests"

# blocks FILE...: one line per fenced block: FILE LINE LANG FIRST MARKER (separated by the unit
# separator, \037: a tab would fold empty fields), where
# FIRST is the block's first non-blank line and MARKER the last non-blank line before it
blocks() {
    awk '
        FNR == 1 {inb = 0; prev = ""}
        !inb && /^ *```/ {
            inb = 1; line = FNR; lang = $0; sub(/^ *```/, "", lang); sub(/[ \t].*/, "", lang)
            first = ""; marker = prev; next
        }
        inb && /^ *``` *$/ {
            inb = 0; printf "%s\037%d\037%s\037%s\037%s\n", FILENAME, line, lang, first, marker; prev = ""; next
        }
        inb && first == "" && $0 !~ /^[ \t]*$/ {first = $0}
        !inb && $0 !~ /^[ \t]*$/ {prev = $0}
    ' "$@"
}

# is_shell LANG FIRST: the block holds commands
is_shell() {
    case $1 in
    bash | sh | console | shell | zsh) return 0 ;;
    "") grep -qE '^[[:space:]]*(\$ |[A-Za-z_][A-Za-z0-9_]*=|(sudo|curl|make|bash|sh|docker|podman|spawnpool|systemctl|cd|for|while|if|echo|cat|jq|export|cmake|ctest|apt-get|git)( |$)|\./)' <<<"$2" ;;
    *) return 1 ;;
    esac
}

# run_by_a_test NAME: some test runs the example NAME
run_by_a_test() {
    grep -rqE "run_example +['\"]?$1(['\"]|[[:space:]]|$)" "$TESTS" --include='*.sh'
}

cd "$ROOT" || fail "no repository root"
DOCS=(README.md docs/*.md)
blocks "${DOCS[@]}" >"$T/blocks.txt"
[ "$(wc -l <"$T/blocks.txt")" -gt 20 ] || fail "found only $(wc -l <"$T/blocks.txt") fenced blocks: the parser is broken"
bad=()
shell=0
while IFS=$'\037' read -r file line lang first marker; do
    is_shell "$lang" "$first" || continue
    shell=$((shell + 1))
    where="$file:$line"
    if [[ $marker =~ ^\<!--\ example:\ ([A-Za-z0-9_-]+)\ --\>$ ]]; then
        name=${BASH_REMATCH[1]}
        [ "$lang" == bash ] || bad+=("$where: example '$name' is a \`\`\`$lang block; run_example reads \`\`\`bash ones")
        run_by_a_test "$name" || bad+=("$where: example '$name' is run by no test (no 'run_example $name' in tests/)")
    elif [[ $marker =~ ^\<!--\ (cli-)?walkthrough:start\ --\>$ ]]; then
        grep -rqF -- "$marker" "$TESTS/e2e" --include='test_*.sh' ||
            bad+=("$where: the walk-through after '$marker' is run by no test")
    elif [[ $marker =~ ^\<!--\ not-run:\ (.*[^ ])\ *--\>$ ]]; then
        echo "# not run: $where: ${BASH_REMATCH[1]}"
    else
        bad+=("$where: a \`\`\`${lang:-(unlabelled)} block of commands (\"$first\") that no test runs")
    fi
done <"$T/blocks.txt"
# every example marker stands right before a bash block, and names one example
grep -n '<!-- example: ' "${DOCS[@]}" | sed -E 's/^([^:]+:[0-9]+):<!-- example: (.*) -->$/\2 \1/' | sort >"$T/markers"
dups=$(awk '{print $1}' "$T/markers" | uniq -d)
[ -z "$dups" ] || bad+=("examples named twice (run_example runs the first only): $dups")
while read -r name where; do
    awk -F'\037' -v m="<!-- example: $name -->" '$5 == m && $3 == "bash" {f = 1} END {exit !f}' "$T/blocks.txt" ||
        bad+=("$where: the marker of example '$name' is not right before a \`\`\`bash block")
done <"$T/markers"
if [ ${#bad[@]} -gt 0 ]; then
    printf '  %s\n' "${bad[@]}" >&2
    fail "${#bad[@]} shell block(s) of the docs are neither run nor marked: put \`<!-- example: NAME -->\` right before a \`\`\`bash block and run it with \`run_example NAME\` from the feature's test (or here), or, if it cannot run here (a Docker engine, systemd, another machine), \`<!-- not-run: REASON -->\`; output and diagrams go in \`\`\`text blocks"
fi
pass "all $shell shell blocks of README.md and docs/ are run by a test or marked not-run with a reason"

# --- the examples of docs/multiprocessing.md, on a server with 3 workers (the group needs 3)
# and the config the task example's comment shows
sed -n '/^```json$/,/^```$/p' docs/multiprocessing.md | sed '1d;$d' >"$T/config.json"
jq -e '.tasks.backup' "$T/config.json" >/dev/null || fail "docs/multiprocessing.md lost its tasks config"
WORKERS=3 sp_start --config "$T/config.json"

run_example after
example_shows '[true,["succeeded","succeeded"]]'

run_example task
example_shows '"argv":["/usr/local/bin/backup","--target=db1"],"queue":"backups"}'

run_example queues
example_shows '"name": "nightly"'
example_shows '"concurrency": 1'
[ "$(jq -s 'map(select(.name? == "nightly"))[-1].queued + .[-1].running' <<<"$EXAMPLE_OUT")" == 2 ] ||
    fail "the queue's 2 jobs are not counted queued or running: $EXAMPLE_OUT"
pass "its 2 jobs are counted"

run_example lock
example_shows '"concurrency_key":"deploy","concurrency_limit":1}'
eq "two deploys" "$(grep -c '"concurrency_key":"deploy"' <<<"$EXAMPLE_OUT")" 2

run_example events
example_shows 'event: state'
grep -qE '^id: [0-9]+$' <<<"$EXAMPLE_OUT" || fail "no id: line in the events: $EXAMPLE_OUT"
grep -qE '^data: \{"id":[0-9]+,"state":"running","from":"queued","at":"[0-9T:.-]+Z","detail":"attempt 1 on worker [0-9]+"\}$' <<<"$EXAMPLE_OUT" ||
    fail "no running event shaped as the docs show: $EXAMPLE_OUT"
pass "events shaped as the docs show"

run_example group
eq "three members, queued or running" "$(grep -cE '^\{"id":[0-9]+,"state":"(queued|running)"\}$' <<<"$EXAMPLE_OUT")" 3

run_example stdin-from
eq "wc counted /usr/bin" "$(tr -d ' \n' <<<"$EXAMPLE_OUT")" "$(ls /usr/bin | wc -l)"

run_example pipeline
eq "the pipeline's last 3 squares" "$EXAMPLE_OUT" $'64\n81\n100'

run_example notify
[[ $EXAMPLE_OUT =~ ^[0-9]+$ ]] || fail "the submit with a notify_url did not print an id: $EXAMPLE_OUT"
eq "it keeps the notify_url" "$(curl -s "$BASE/v1/jobs/$EXAMPLE_OUT" | jq -r .notify_url)" https://ci.example.com/hooks/spawnpool

run_example idempotency
FIRST=$(sed -n 1p <<<"$EXAMPLE_OUT")
[[ $FIRST =~ ^[0-9]+$ ]] || fail "no id first: $EXAMPLE_OUT"
eq "the retry gets the same id" "$(sed -n 2p <<<"$EXAMPLE_OUT")" "$FIRST"
example_shows '"idempotency_mismatch"'
sp_stop

# --- the command-line client's examples of docs/cli.md, run in a directory that has what they
# name (a Makefile with test and default targets, ./train.sh, ./report.sh)
mkdir -p "$T/bin"
ln -s "$SPAWNPOOL_BIN" "$T/bin/spawnpool"
printf 'all:\n\t@echo compiled\ntest:\n\t@echo tests passed\n' >"$T/Makefile"
printf '#!/bin/sh\necho trained\n' >"$T/train.sh"
printf '#!/bin/sh\necho report written\nexec sleep 600\n' >"$T/report.sh"
chmod +x "$T/train.sh" "$T/report.sh"
sp_start
export PATH="$T/bin:$PATH" SPAWNPOOL_URL=$BASE
run_example cli
example_shows 'tests passed'
example_shows 'hi'
example_shows 'trained'
example_shows 'built'
NIGHTLY=$(curl -s "$BASE/v1/jobs?name=nightly" | jq -r '.jobs[0].state')
[[ $NIGHTLY == terminated || $NIGHTLY == canceled ]] || fail "kill did not end the nightly report: $NIGHTLY"
pass "kill ended the nightly report ($NIGHTLY)"
sp_stop

# --- the not-run line of docs/cli.md, its flags against this machine: --server over TLS,
# --cacert, --token-file
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/cert.pem" -days 1 \
    -subj /CN=localhost -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null || fail "openssl req"
printf '# tokens\ns3cret-docs\n' >"$T/tokens"
sp_start --tls-cert "$T/cert.pem" --tls-key "$T/key.pem" --token-file "$T/tokens"
LS=$(spawnpool --server "$BASE" --cacert "$T/cert.pem" --token-file "$T/tokens" ls 2>&1) ||
    fail "spawnpool --server https://... --cacert ... --token-file ... ls failed: $LS"
grep -qE '^ID +STATE' <<<"$LS" || fail "no ls table: $LS"
pass "the CLI lists over TLS with --cacert and --token-file"
if spawnpool --server "$BASE" --token-file "$T/tokens" ls >/dev/null 2>&1; then
    fail "the CLI trusted a self-signed certificate without --cacert"
fi
pass "without --cacert it refuses the certificate"
sp_stop
