# curve.sh: standalone silos over CURVE: an admitted worker trains (same
# model as in the clear), a worker without the keys or with an unknown key
# is refused, and the refusal is a clear message, not a hang.
. "$(dirname "$0")/lib.sh"
export COHORT_DB="$T/cohort.db"
exp=examples/ols.yaml
set0="--set data.test_fraction=0 --set runtime.join_timeout=4"
cd "$T"
check "keygen writes a keypair and a public key" timeout 10 "$COHORT" keygen coord
timeout 10 "$COHORT" keygen silo >/dev/null
timeout 10 "$COHORT" keygen stranger >/dev/null
check "the secret key file is private (0600)" [ "$(stat -c %a coord.key)" = 600 ]
mkdir -p admitted && cp silo.pub admitted/
cd "$SRC"

timeout 60 "$COHORT" run $exp --workers 1 --set data.test_fraction=0 --out "$T/ref" >/dev/null 2>&1
timeout 60 "$COHORT" coordinator $exp --bind tcp://127.0.0.1:0 --workers 1 $set0 --out "$T/c" \
    --curve-key "$T/coord.key" --curve-clients "$T/admitted" >/dev/null 2>"$T/c.err" &
cpid=$!
wait_for "$T/c/endpoints.json" 10
ep=$(endpoint "$T/c")
timeout 30 "$COHORT" worker --connect "$ep" --curve-server "$T/coord.pub" --curve-key "$T/silo.key" \
    2>"$T/w.err"
wait $cpid
check "an admitted worker trains over CURVE" grep -q '"status": "finished"' "$T/c/summary.json"
check "the model is the same as in the clear" cmp -s <(estimates "$T/ref/summary.json") <(estimates "$T/c/summary.json")

timeout 60 "$COHORT" coordinator $exp --bind tcp://127.0.0.1:0 --workers 1 $set0 --out "$T/d" \
    --curve-key "$T/coord.key" --curve-clients "$T/admitted" >/dev/null 2>"$T/d.err" &
cpid=$!
wait_for "$T/d/endpoints.json" 10
ep=$(endpoint "$T/d")
timeout 30 "$COHORT" worker --connect "$ep" --curve-server "$T/coord.pub" --curve-key "$T/stranger.key" \
    --timeout 3 2>"$T/s.err"
src=$?
timeout 30 "$COHORT" worker --connect "$ep" --timeout 3 2>"$T/p.err"
prc=$?
wait $cpid
crc=$?
check "a worker with an unknown key gives up with a message" grep -q "no coordinator answered" "$T/s.err"
check "and a non-zero status" [ $src -ne 0 ]
check "a worker without CURVE gives up too" [ $prc -ne 0 ]
check "the coordinator logs the refused key" grep -q "refused a connection from an unknown CURVE key" "$T/d.err"
check "and stops at its join timeout, saying so" [ $crc -ne 0 ]
check "the coordinator names what is missing" grep -q "only 0 of 1 workers connected" "$T/d.err"
expect_usage() { timeout 10 "$COHORT" coordinator $exp --bind tcp://127.0.0.1:0 --curve-clients "$T/admitted" 2>&1 | grep -q "needs --curve-key"; }
check "--curve-clients without --curve-key is an error" expect_usage
finish
