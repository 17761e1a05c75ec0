# fedavg_flow.sh: upload flow control (docs/protocol.md). With 16 silos
# finishing together, the coordinator never has more than
# federated.upload_slots updates granted and not yet taken, and no update
# comes without a grant; the weights are the same with 1 slot, 2 slots or
# none (the sums do not depend on the order); a silo killed right after its
# grant does not stall the round (its slot is freed when it is seen dead:
# its process exit in local mode, its heartbeat over tcp, or the round's
# deadline); a silo that hangs after its grant loses it after
# runtime.grant_timeout; mpirun and standalone tcp workers follow the
# protocol too.
. "$(dirname "$0")/lib.sh"
export COHORT_DB="$T/cohort.db"

fnv() { json_str "$1/summary.json" weights_fnv; }
finished() { grep -q '"status": "finished"' "$1/summary.json" 2>/dev/null; }
part() { grep -o '"participation": \[[^]]*\]' "$1/summary.json"; }
# engine RUN: one line per round: "round slots max_inflight ungranted received"
engine() {
    grep '"topic": "round.end"' "$1/events.jsonl" | sed -n \
        's/.*"round": \([0-9]*\),.*"received": \([0-9]*\),.*"upload_slots": \([0-9]*\), "max_inflight": \([0-9]*\), "ungranted": \([0-9]*\).*/\1 \3 \4 \5 \2/p'
}
# bounded RUN K: every training round ran with K slots, had 1..K uploads in
# flight at most, and took no update without a grant (round 0, the silos'
# statistics, runs without flow control)
bounded() {
    engine "$1" | awk -v k="$2" '
        $1 == 0 { if ($2 != 0) bad = 1; next }
        { n++; if ($2 != k || $3 < 1 || $3 > k || $4 != 0) bad = 1 }
        END { exit !(n > 0 && !bad) }'
}
# received RUN ROUND: updates taken in that round
received() { engine "$1" | awk -v r="$2" '$1 == r { print $5 }'; }

cat >"$T/digits.yaml" <<YAML
name: digits-flow
seed: 11
workers: 16
data:
  train: $SRC/data/digits.csv
  target: target
  test_fraction: 0.25
partition:
  scheme: iid
model:
  algorithm: fedavg
  layers: [32]
  classes: 10
  lr: 0.05
  federated:
    rounds: 5
    local_epochs: 1
    batch_size: 10
    min_workers: 5
    round_timeout: 30
YAML
D="$T/digits.yaml"
run() { # run OUT [ARGS...]
    local out=$1
    shift
    timeout 120 "$COHORT" run "$D" --out "$T/$out" "$@" >"$T/$out.log" 2>&1
}

# --- the bound, and the same weights whatever it is ---------------------------------
run k2
run k1 --set model.federated.upload_slots=1
run k5 --set model.federated.upload_slots=5
run off --set model.federated.upload_slots=0
check "16 silos, default 2 slots: the run finishes" finished "$T/k2"
check "at most 2 uploads in flight in every round, none ungranted: $(engine "$T/k2" | tr '\n' ';')" \
    bounded "$T/k2" 2
check "1 slot: at most 1 in flight: $(engine "$T/k1" | tr '\n' ';')" bounded "$T/k1" 1
check "5 slots: at most 5 in flight: $(engine "$T/k5" | tr '\n' ';')" bounded "$T/k5" 5
check "upload_slots 0: no flow control" eval 'engine "$T/off" | awk "\$2 != 0 { exit 1 }"'
check "the same weights with 1, 2, 5 slots and none" \
    eval '[ -n "$(fnv "$T/off")" ] && [ "$(fnv "$T/k1")" = "$(fnv "$T/off")" ] &&
          [ "$(fnv "$T/k2")" = "$(fnv "$T/off")" ] && [ "$(fnv "$T/k5")" = "$(fnv "$T/off")" ]'
check "the default is not written into the resolved config (model.pb unchanged)" \
    eval '! grep -q upload_slots "$T/k2/config.yaml"'
run e1 --set model.federated.upload_slots=-1
check "a negative upload_slots is refused, naming the key" \
    grep -q "model.federated.upload_slots.*out of range" "$T/e1.log"

# --- a silo killed as soon as it is granted its upload (local: seen dead at once) ----------
COHORT_TEST_DIE_ON_GRANT=3 run die --set model.federated.upload_slots=1
check "local, 1 slot, the granted silo killed: the run finishes" finished "$T/die"
check "the dead silo is named" grep -q "lost: killed by signal 9" "$T/die.log"
check "its round still took the 15 other updates ($(received "$T/die" 1))" \
    [ "$(received "$T/die" 1)" = 15 ]
check "still at most 1 in flight" bounded "$T/die" 1
check "the dead silo never took part" eval 'part "$T/die" | grep -q "^\"participation\": \[5, 5, 5, 0, 5"'

# --- a silo that hangs on its grant, its heartbeat alive: the grant is revoked ----------------
COHORT_TEST_HANG_ON_GRANT=3:12 run hang --set model.federated.upload_slots=1 \
    --set runtime.grant_timeout=1 --set model.federated.round_timeout=8 \
    --set model.federated.rounds=2
check "local, 1 slot, a silo hung 12 s on its grant: the run finishes" finished "$T/hang"
check "its grant was revoked after runtime.grant_timeout, and the log says so" \
    grep -q "has not sent it (runtime.grant_timeout)" "$T/hang.log"
check "the slot served the 15 others: 15 updates in round 1 ($(received "$T/hang" 1))" \
    [ "$(received "$T/hang" 1)" = 15 ]
check "round.end counts the revoked grant" \
    eval 'grep "\"round\": 1," "$T/hang/events.jsonl" | grep "round.end" | grep -q "\"revoked\": [1-9]"'
check "a bad runtime.grant_timeout is refused, naming the key" \
    eval 'run e2 --set runtime.grant_timeout=0; grep -q "runtime.grant_timeout.*out of range" "$T/e2.log"'

# --- standalone tcp: a granted silo killed (seen dead by its heartbeat) ----------------------
# tcp N OUT ARGS...: a standalone coordinator and N workers on loopback
tcp() {
    local n=$1 out=$2
    shift 2
    timeout 120 "$COHORT" coordinator "$D" --bind tcp://127.0.0.1:0 --workers "$n" \
        --out "$T/$out" "$@" >"$T/$out.log" 2>&1 &
    local cpid=$!
    if wait_for "$T/$out/endpoints.json" 20; then
        local ep i
        ep=$(endpoint "$T/$out")
        for i in $(seq "$n"); do
            timeout 120 "$COHORT" worker --connect "$ep" 2>>"$T/$out.workers.log" &
        done
    fi
    wait $cpid
    wait
}
export COHORT_TEST_DIE_ON_GRANT=3
tcp 12 thb --set workers=12 --set model.federated.upload_slots=1 \
    --set runtime.heartbeat_timeout=2 --set model.federated.round_timeout=60
check "tcp, 1 slot, the granted silo killed: the run finishes" finished "$T/thb"
check "its heartbeat stopped, so it was lost" grep -q "lost: no heartbeat" "$T/thb.log"
check "and its slot went to the others: 11 updates in round 1 ($(received "$T/thb" 1))" \
    [ "$(received "$T/thb" 1)" = 11 ]
check "tcp: at most 1 in flight" bounded "$T/thb" 1

# --- standalone tcp: the dead silo is seen by nobody; the round's deadline closes it ---------
tcp 12 tdl --set workers=12 --set model.federated.rounds=2 --set runtime.heartbeat_timeout=60 \
    --set model.federated.round_timeout=3
unset COHORT_TEST_DIE_ON_GRANT
check "tcp, a dead silo holding a slot till the deadline: the run finishes" finished "$T/tdl"
check "the other slot served the rest: 11 updates in round 1 ($(received "$T/tdl" 1))" \
    [ "$(received "$T/tdl" 1)" = 11 ]
check "round 1 closed at its 3 s deadline" \
    eval 'grep "\"round\": 1," "$T/tdl/events.jsonl" | grep "round.end" |
          grep -q "\"gather_seconds\": [3-9]\."'
check "tcp: at most 2 in flight" bounded "$T/tdl" 2

# --- mpirun: 12 silos, the weights of the local run -------------------------------------------
run l12 --set workers=12
timeout 180 mpirun --oversubscribe -np 13 "$COHORT" run "$D" --set workers=12 --out "$T/mpi" \
    >"$T/mpi.log" 2>&1
check "mpirun -np 13: the run finishes" finished "$T/mpi"
check "mpirun: at most 2 in flight, none ungranted" bounded "$T/mpi" 2
check "mpirun: the local run's weights" \
    eval '[ -n "$(fnv "$T/l12")" ] && [ "$(fnv "$T/mpi")" = "$(fnv "$T/l12")" ]'
check "no orphan workers" no_orphan_workers
finish
