# lib.sh: helpers for the multi-process tests (sourced, not run).
# Every external command runs under `timeout` so a hang fails the test.
set -u
COHORT=${COHORT_BIN:?COHORT_BIN is set by ctest}
SRC=${COHORT_SRC:?COHORT_SRC is set by ctest}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
T=$(mktemp -d /tmp/cohort-test.XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$SRC"
PASS=0
FAIL=0

ok() { PASS=$((PASS + 1)); echo "ok - $*"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL - $*"; }
check() { # check DESCRIPTION COMMAND...
    local d=$1
    shift
    if "$@"; then ok "$d"; else bad "$d"; fi
}
finish() {
    echo "$PASS passed, $FAIL failed"
    [ "$FAIL" -eq 0 ]
}
# json_str FILE KEY: the first "KEY": "value" string in FILE
json_str() { grep -o "\"$2\": *\"[^\"]*\"" "$1" | head -n 1 | sed 's/.*: *"\(.*\)"/\1/'; }
# estimates FILE: the coefficient estimates of a summary.json, one per line
estimates() { grep -o '"estimate": [^,]*' "$1"; }
# wait_for FILE SECONDS: wait until FILE exists
wait_for() {
    local i=0
    while [ ! -s "$1" ] && [ $i -lt $(($2 * 10)) ]; do sleep 0.1; i=$((i + 1)); done
    [ -s "$1" ]
}
# wait_rounds RUN_DIR N [SECONDS]: wait until the run's events.jsonl has N
# round.end events (at most SECONDS, default 30); fails on the timeout
wait_rounds() {
    local i=0 n
    while :; do
        n=$(grep -c '"topic": "round.end"' "$1/events.jsonl" 2>/dev/null)
        [ "${n:-0}" -ge "$2" ] && return 0
        [ $i -ge $((${3:-30} * 20)) ] && return 1
        sleep 0.05
        i=$((i + 1))
    done
}
# endpoint RUN_DIR: the coordinator's task endpoint from endpoints.json
endpoint() { json_str "$1/endpoints.json" tasks; }
# no_workers_left PATTERN: no process whose command line matches is alive
no_workers_left() { ! pgrep -f "$1" >/dev/null; }
# child PID: the process that `timeout` started (the real cohort process)
child() { pgrep -P "$1" | head -n 1; }
# alive PID: the process exists and is not a zombie (an orphan's zombie may
# wait for an init that does not reap in some containers)
alive() { local s; s=$(ps -o stat= -p "$1" 2>/dev/null) && [ -n "$s" ] && [ "${s#Z}" = "$s" ]; }
# no_orphan_workers: no local worker process was left without its
# coordinator (reparented to init), alive or zombie. Workers of runs in other
# tests still have their coordinator as parent and do not count.
no_orphan_workers() {
    local p
    for p in $(pgrep -f "cohort worker --connect ipc:///tmp/cohort-"); do
        [ "$(ps -o ppid= -p "$p" | tr -d ' ')" = 1 ] && return 1
    done
    return 0
}
