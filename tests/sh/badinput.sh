# badinput.sh: bad input gets a clear one-line error naming the problem and
# where it is, a non-zero exit (never a crash: status 1 or 2, not a signal),
# and no hang; hostile messages on the wire are rejected and the run goes on.
. "$(dirname "$0")/lib.sh"

# expect_error DESCRIPTION TEXT CMD...: exit 1 or 2 and stderr contains TEXT
expect_error() {
    local d=$1 text=$2
    shift 2
    timeout 60 "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    if [ $rc -ne 1 ] && [ $rc -ne 2 ]; then
        bad "$d: exit status $rc"; cat "$T/err"; return
    fi
    if grep -qF -- "$text" "$T/err"; then ok "$d"; else bad "$d: stderr lacks '$text'"; cat "$T/err"; fi
}
mkexp() { # mkexp FILE DATA [extra yaml lines...]
    local f=$1 data=$2
    shift 2
    printf 'name: bad\nseed: 1\ndata:\n  train: %s\n  target: alcohol\nmodel:\n  algorithm: linear\n' "$data" >"$f"
    for l in "$@"; do printf '%s\n' "$l" >>"$f"; done
}

mkexp "$T/e1.yaml" "$T/nope.csv"
expect_error "missing data file" "nope.csv" "$COHORT" run "$T/e1.yaml" --workers 1
: >"$T/empty.csv"
mkexp "$T/e2.yaml" "$T/empty.csv"
expect_error "empty data file" "empty" "$COHORT" run "$T/e2.yaml" --workers 1
(head -n 5 data/wine.csv; echo "1,2,3"; sed -n '6,20p' data/wine.csv) >"$T/ragged.csv"
mkexp "$T/e3.yaml" "$T/ragged.csv"
expect_error "ragged CSV row names the line" "ragged.csv:6" "$COHORT" run "$T/e3.yaml" --workers 1
(head -n 30 data/wine.csv; sed -n '31p' data/wine.csv | sed 's/^[^,]*,/13.2,abc,/'; sed -n '32,60p' data/wine.csv) >"$T/text.csv"
mkexp "$T/e4.yaml" "$T/text.csv"
expect_error "text in a numeric column names line and column" "text.csv:31" "$COHORT" run "$T/e4.yaml" --workers 1
sed 's/target: alcohol/target: alcohl/' "$T/e3.yaml" | sed "s#$T/ragged.csv#$SRC/data/wine.csv#" >"$T/e5.yaml"
expect_error "missing target column, with a suggestion" "alcohol" "$COHORT" run "$T/e5.yaml" --workers 1
mkexp "$T/e6.yaml" data/wine.csv "modle: 3"
expect_error "unknown config key with file and line" "e6.yaml:8" "$COHORT" run "$T/e6.yaml" --workers 1
mkexp "$T/e7.yaml" data/wine.csv "partition:" "  schme: iid"
expect_error "mistyped key gets a suggestion" "did you mean" "$COHORT" run "$T/e7.yaml" --workers 1
mkexp "$T/e8.yaml" data/wine.csv "seed: [1"
expect_error "YAML syntax error with line" "e8.yaml:" "$COHORT" run "$T/e8.yaml" --workers 1
head -n 4 data/wine.csv >"$T/tiny.csv"
mkexp "$T/e9.yaml" "$T/tiny.csv" "  test_fraction: 0"
sed -i 's/^data:/data:\n  test_fraction: 0/' "$T/e9.yaml"
sed -i '$d' "$T/e9.yaml"
expect_error "more workers than rows" "more workers (5) than training rows (3)" "$COHORT" run "$T/e9.yaml" --workers 5
expect_error "a misspelt model key given with --set" "did you mean 'model.intercept'" "$COHORT" run examples/ols.yaml --workers 1 --set model.intercpt=false
mkexp "$T/e10.yaml" "$SRC/data/wine.csv" "  intercpt: false"
expect_error "a misspelt model key in the file names its line" "e10.yaml:8" "$COHORT" run "$T/e10.yaml" --workers 1
expect_error "wrong type for a key" "expected" "$COHORT" run examples/ols.yaml --workers 1 --set seed=abc
expect_error "unknown algorithm lists the known ones" "(known: " "$COHORT" run examples/ols.yaml --set model.algorithm=nope
expect_error "unknown option" "unknown option" "$COHORT" run examples/ols.yaml --wrkers 2
expect_error "worker without a coordinator gives up" "no coordinator answered" \
    "$COHORT" worker --connect tcp://127.0.0.1:9 --timeout 1
expect_error "predict on a file that is not a model" "not a cohort model" \
    "$COHORT" predict --model data/wine.csv --data data/wine.csv
check "no local worker left behind after failures" no_orphan_workers

# hostile peers: garbage, wrong version, wrong experiment, unknown kind, a
# HELLO that does not decode, an oversized message; then a real worker joins
timeout 60 "$COHORT" coordinator examples/ols.yaml --bind tcp://127.0.0.1:0 --workers 1 \
    --set runtime.max_message_mb=1 --set data.test_fraction=0 --out "$T/w" >/dev/null 2>"$T/w.err" &
cpid=$!
wait_for "$T/w/endpoints.json" 10
ep=$(endpoint "$T/w")
run_id=$(json_str "$T/w/endpoints.json" run_id)
for mode in garbage version experiment kind badhello oversize; do
    timeout 10 "$COHORT_POKE" "$ep" $mode "$run_id"
done
timeout 60 "$COHORT" worker --connect "$ep" 2>/dev/null
wait $cpid
check "coordinator survives hostile peers and finishes" grep -q '"status": "finished"' "$T/w/summary.json"
check "garbage bytes rejected with a reason" grep -q "not a cohort Envelope" "$T/w.err"
check "wrong protocol version rejected" grep -q "protocol version 99" "$T/w.err"
check "wrong experiment id rejected" grep -q "someone-elses-run" "$T/w.err"
check "unknown kind rejected" grep -q "unknown message kind 77" "$T/w.err"
check "undecodable HELLO rejected" grep -q "HELLO whose payload does not decode" "$T/w.err"
finish
