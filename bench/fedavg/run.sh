#!/bin/bash
# bench/fedavg/run.sh [iid|shards|memory|all]: issue 8's Fashion-MNIST lines.
#   iid     10 silos IID, 2NN, E=1, B=10, 30 rounds: accuracy per round
#   shards  10 silos `shards`, 100 rounds (ROUNDS=...), FedAvg vs FedProx vs FedYogi
#   memory  coordinator peak RSS with 10 and 100 silos (a 6000-row subset, 2 rounds)
#   peer    the same IID federation in PyTorch (peer_torch.py), ROUNDS rounds
# Results (accuracy curves, time split, bytes, RSS) are printed as Markdown
# for BENCHMARKS.md. Uses COHORT (default build/cohort) and OUT (/tmp/fedavg-bench).
set -eu
cd "$(dirname "$0")/../.."
COHORT=${COHORT:-build/cohort}
OUT=${OUT:-/tmp/fedavg-bench}
ROUNDS=${ROUNDS:-100}
mkdir -p "$OUT"
export COHORT_DB="$OUT/db.sqlite"

# curve RUN: "round accuracy" lines from summary.json
curve() {
    /usr/bin/python3 - "$1" <<'PY'
import json, sys
s = json.load(open(sys.argv[1] + "/summary.json"))
acc = s["federated"]["round_test_accuracy"]
first = next((i + 1 for i, a in enumerate(acc) if a >= 0.87), None)
print(f"final {acc[-1]:.4f}  max {max(acc):.4f}  first round >= 0.87: {first}  first >= 0.80: "
      f"{next((i + 1 for i, a in enumerate(acc) if a >= 0.80), None)}")
print("curve (every 5 rounds): " + " ".join(f"{i + 1}:{a:.3f}" for i, a in enumerate(acc)
                                          if (i + 1) % 5 == 0 or i == 0))
PY
}
# split RUN: median local / transfer / aggregate seconds per round, bytes per round
split() {
    /usr/bin/python3 - "$1" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1] + "/events.jsonl")]
ends = [r for r in rows if r.get("topic") == "round.end"]
m = [e["data"]["metrics"] for e in ends]
m = [x for x in m if "local_seconds" in x]
med = lambda k: statistics.median(x[k] for x in m)
loc, tr, ag = med("local_seconds"), med("transfer_seconds"), med("aggregate_seconds")
tot = loc + tr + ag
print(f"median per round: local {loc:.3f} s, transfer+wait {tr:.3f} s, aggregation {ag:.4f} s; "
      f"communication+aggregation = {100 * (tr + ag) / tot:.1f}% of the round; "
      f"bytes in {med('bytes_in'):.0f}, out {med('bytes_out'):.0f} per round")
PY
}

iid() {
    /usr/bin/time -v "$COHORT" run examples/fmnist-fedavg-iid.yaml --out "$OUT/iid" \
        >"$OUT/iid.log" 2>&1
    echo "### IID, 10 silos, FedAvg"
    curve "$OUT/iid"
    split "$OUT/iid"
}

# VARIANTS: space-separated STRATEGY[:KEY=VAL,...] (keys under model.federated),
# e.g. "fedavg fedprox:mu=0.1 fedyogi:server_lr=0.03,tau=0.001". PIN prefixes
# every cohort run (e.g. "nice -n 10 taskset -c 1" to keep it on one core).
# SEED (default: the example's 42) runs another seed, tagged "-seedN".
# Each run's per-round curve goes to $OUT/shards-TAG.csv (round,accuracy,loss).
shards() {
    [ -s "$OUT/fmnist-train.csv" ] || /usr/bin/python3 bench/fedavg/fmnist_csv.py "$OUT"
    for v in ${VARIANTS:-fedavg fedprox fedyogi}; do
        s=${v%%:*}
        tag=$(echo "$v" | tr ':,=' '_-_')${SEED:+-seed$SEED}
        sets=(${SEED:+--set seed=$SEED})
        if [ "$s" != "$v" ]; then
            IFS=, read -ra kv <<<"${v#*:}"
            for x in "${kv[@]}"; do sets+=(--set "model.federated.$x"); done
        fi
        $PIN "$COHORT" run examples/fmnist-fedavg-shards.yaml --out "$OUT/shards-$tag" \
            --set data.train="$OUT/fmnist-train.csv" --set data.test="$OUT/fmnist-t10k.csv" \
            --set model.federated.strategy="$s" --set model.federated.rounds="$ROUNDS" \
            "${sets[@]}" >"$OUT/shards-$tag.log" 2>&1
        /usr/bin/python3 - "$OUT/shards-$tag" >"$OUT/shards-$tag.csv" <<'PY'
import json, sys
f = json.load(open(sys.argv[1] + "/summary.json"))["federated"]
print("round,test_accuracy,test_loss")
for i, (a, l) in enumerate(zip(f["round_test_accuracy"], f["round_test_loss"])):
    print(f"{i + 1},{a:.4f},{l:.4f}")
PY
        echo "### shards, 10 silos, $v, $ROUNDS rounds"
        curve "$OUT/shards-$tag"
        split "$OUT/shards-$tag"
    done
}

# memory: the coordinator runs standalone (`cohort coordinator`) so that
# bench/peak.py, which samples a process tree, sees it alone; the workers
# are started apart. /usr/bin/time -v's maximum RSS is the exact high-water
# mark (peak.py samples every 50 ms and adds time's own ~2 MB).
# rss_trace.py samples VmRSS every 10 ms into $OUT/mem-N-S.trace and places
# the peaks in the rounds. SILOS and STRATS choose the runs. DELAY=MS holds
# every task MS ms in the workers (COHORT_TEST_TASK_DELAY_MS) so that the
# tasks' sending and the updates' arrival are apart in the trace.
memory() {
    [ -s "$OUT/fmnist-train.csv" ] || /usr/bin/python3 bench/fedavg/fmnist_csv.py "$OUT"
    head -n 6001 "$OUT/fmnist-train.csv" >"$OUT/fmnist-6k.csv"
    for n in ${SILOS:-10 100}; do
        for s in ${STRATS:-fedavg median}; do
            rm -rf "$OUT/mem-$n-$s"
            /usr/bin/python3 bench/peak.py "$OUT/mem-$n-$s.log" \
                /usr/bin/time -v "$COHORT" coordinator examples/fmnist-fedavg-iid.yaml \
                --bind tcp://127.0.0.1:0 --workers $n --out "$OUT/mem-$n-$s" \
                --set data.train="$OUT/fmnist-6k.csv" --set data.test="$OUT/fmnist-6k.csv" \
                --set model.federated.rounds=2 --set model.federated.strategy=$s \
                --set runtime.join_timeout=600 --set runtime.heartbeat_timeout=120 \
                >"$OUT/mem-$n-$s.peak" &
            ppid_=$!
            while [ ! -s "$OUT/mem-$n-$s/endpoints.json" ]; do sleep 0.1; done
            cpid=$(pgrep -P "$(pgrep -P $ppid_ | head -1)" | head -1)
            /usr/bin/python3 bench/fedavg/rss_trace.py sample "$cpid" "$OUT/mem-$n-$s.trace" &
            ep=$(grep -o '"tasks": *"[^"]*"' "$OUT/mem-$n-$s/endpoints.json" | sed 's/.*"\(tcp[^"]*\)"/\1/')
            for i in $(seq $n); do
                COHORT_TEST_TASK_DELAY_MS=${DELAY:-0} "$COHORT" worker --connect "$ep" >/dev/null 2>&1 &
            done
            wait $ppid_ || true
            wait
            rss=$(grep "Maximum resident" "$OUT/mem-$n-$s.log" | grep -o '[0-9]*$')
            echo "coordinator peak RSS, $n silos, $s: time -v $rss KiB, peak.py $(cut -d' ' -f2 "$OUT/mem-$n-$s.peak") KiB"
            /usr/bin/python3 bench/fedavg/rss_trace.py report "$OUT/mem-$n-$s.trace" "$OUT/mem-$n-$s/events.jsonl" ${DELAY:-0}
        done
    done
}

peer() {
    /usr/bin/python3 bench/fedavg/peer_torch.py "${ROUNDS}"
}

case "${1:-all}" in
iid) iid ;;
shards) shards ;;
memory) memory ;;
peer) peer ;;
all) iid; shards; memory ;;
esac
