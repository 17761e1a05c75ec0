# transformer.sh: the transformer encoder through `cohort run` on the 8x8
# digits read as 8 rows of 8 pixels: identical weights, curves and test
# metrics for 1 and 2 workers (one synchronous step per round, per-block
# gradients summed in a fixed order), the loss going down, resume from a
# checkpoint giving the same model, predict with the saved model, and bad
# configurations and inputs giving clear errors.
. "$(dirname "$0")/lib.sh"
exp=examples/digits-transformer.yaml
fast="--set model.epochs=3"

expect_error() { # expect_error DESCRIPTION TEXT CMD...: exit 1 or 2, stderr has TEXT
    local d=$1 text=$2
    shift 2
    timeout 60 "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    if [ $rc -ne 1 ] && [ $rc -ne 2 ]; then
        bad "$d: exit status $rc"; cat "$T/err"; return
    fi
    if grep -qF -- "$text" "$T/err"; then ok "$d"; else bad "$d: stderr lacks '$text'"; cat "$T/err"; fi
}
# fingerprint FILE: the weights' hash, the curves and the test metrics
fingerprint() {
    grep -o '"weights_fnv1a": "[0-9a-f]*"\|"final_[a-z_]*": [^,}]*\|"test_[a-z]*": [^,}]*' "$1"
}
epoch_losses() { grep -o '"train_loss": [^,}]*' "$1" | sed 's/.*: //'; }

for w in 1 2; do
    timeout 120 "$COHORT" run $exp --workers $w $fast --out "$T/r$w" >/dev/null 2>"$T/r$w.err"
    check "$w workers: finishes" grep -q '"status": "finished"' "$T/r$w/summary.json"
done
fingerprint "$T/r1/summary.json" >"$T/ref"
check "summary has the weights' hash and test metrics" [ "$(wc -l <"$T/ref")" -ge 4 ]
check "2 workers: identical weights, curves and test metrics" \
    cmp -s "$T/ref" <(fingerprint "$T/r2/summary.json")
check "2 workers: identical per-epoch curves" \
    cmp -s <(grep -o '"metrics": {"epoch[^}]*}' "$T/r1/events.jsonl") \
    <(grep -o '"metrics": {"epoch[^}]*}' "$T/r2/events.jsonl")
check "1 and 2 workers: the same model.pb" cmp -s "$T/r1/model.pb" "$T/r2/model.pb"
epoch_losses "$T/r2/events.jsonl" >"$T/losses"
check "3 epochs of curves" [ "$(wc -l <"$T/losses")" -eq 3 ]
check "train loss goes down" awk 'NR == 1 { f = $1 } END { exit !($1 < 0.6 * f) }' "$T/losses"
acc=$(grep -o '"test_accuracy": [0-9.]*' "$T/r2/summary.json" | sed 's/.*: //')
# ten classes: chance is 0.1; this small model reaches 0.82 in 3 epochs here
check "test accuracy $acc above 0.7" awk -v a="$acc" 'BEGIN { exit !(a > 0.7) }'
check "report has the loss curve" grep -q "Loss per epoch" "$T/r2/report.html"

# resume: a checkpoint every 40 rounds; remove the outputs, resume, compare
timeout 120 "$COHORT" run $exp --workers 2 $fast --set runtime.checkpoint_every=40 \
    --out "$T/res" >/dev/null 2>&1
rm -f "$T/res/summary.json" "$T/res/model.pb"
timeout 120 "$COHORT" run $exp --workers 2 $fast --set runtime.checkpoint_every=40 \
    --resume "$T/res" >/dev/null 2>"$T/res.err"
check "resume: same model as an uninterrupted run" \
    cmp -s "$T/ref" <(fingerprint "$T/res/summary.json" 2>/dev/null)

# class token, sinusoidal positions, 1 vs 2 workers
ct="--set model.epochs=1 --set model.pooling=cls --set model.positions=sinusoidal"
for w in 1 2; do
    timeout 120 "$COHORT" run $exp --workers $w $ct --out "$T/c$w" >/dev/null 2>&1
done
check "class token: 1 and 2 workers give the same model.pb" cmp -s "$T/c1/model.pb" "$T/c2/model.pb"
differs() { ! cmp -s "$1" "$2"; }
check "class token: a different model from mean pooling" \
    differs "$T/ref" <(fingerprint "$T/c1/summary.json")

# early stopping: patience 2 on the validation loss keeps the best epoch's weights
timeout 120 "$COHORT" run $exp --workers 2 --set model.epochs=30 --set model.early_stopping=2 \
    --set model.schedule=constant --set model.lr=0.03 --set model.d_model=16 --set model.d_ff=32 \
    --out "$T/es" >/dev/null 2>&1
best=$(grep -o '"best_epoch": [0-9]*' "$T/es/summary.json" | sed 's/.*: //')
ran=$(grep -o '"epochs": [0-9]*' "$T/es/summary.json" | head -n 1 | sed 's/.*: //')
check "early stopping: stopped before 30 epochs, 2 after the best ($best, ran $ran)" \
    awk -v b="$best" -v r="$ran" 'BEGIN { exit !(b > 0 && r < 30 && r - b == 2) }'
vmin=$(grep -o '"valid_loss": [0-9.e-]*' "$T/es/events.jsonl" | sed 's/.*: //' | sort -g | head -n 1)
tl=$(grep -o '"test_logloss": [0-9.e-]*' "$T/es/summary.json" | sed 's/.*: //')
check "early stopping: the model is the best epoch's (test logloss $tl = lowest validation loss $vmin)" \
    awk -v a="$tl" -v b="$vmin" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(b > 0 && d < 1e-5 * b) }'

# predict with the saved model
timeout 30 "$COHORT" predict --model "$T/r2/model.pb" --data data/digits.csv --out "$T/p.csv" \
    2>"$T/p.err"
check "predict writes one row per input row" [ "$(wc -l <"$T/p.csv")" -eq 1798 ]

# bad configurations and inputs
expect_error "d_model not divisible by heads" "model.d_model 30 is not divisible by model.heads 4" \
    "$COHORT" run $exp --workers 1 --set model.d_model=30
expect_error "unknown pooling" "model.pooling" "$COHORT" run $exp --workers 1 --set model.pooling=max
expect_error "unknown positions" "model.positions" \
    "$COHORT" run $exp --workers 1 --set model.positions=rotary
expect_error "unknown optimizer" "model.optimizer" \
    "$COHORT" run $exp --workers 1 --set model.optimizer=rmsprop
expect_error "columns that do not divide into positions" \
    "64 feature columns do not divide into model.max_length 7 positions" \
    "$COHORT" run $exp --workers 1 --set model.max_length=7
expect_error "tokens without a vocabulary" "model.vocab" \
    "$COHORT" run $exp --workers 1 --set model.input=tokens
expect_error "a pixel that is not a token id" "is not a whole number in 0..9" \
    "$COHORT" run $exp --workers 1 --set model.input=tokens --set model.vocab=10 \
    --set model.max_length=64
expect_error "batch larger than the training rows" "larger than the 1438 training rows" \
    "$COHORT" run $exp --workers 2 --set model.batch_size=5000
expect_error "a diverging learning rate names the step and where" "non-finite" \
    "$COHORT" run $exp --workers 2 --set model.optimizer=sgd --set model.lr=1e9 \
    --set model.schedule=constant --set model.warmup_steps=0
# an empty sequence: a row whose every pixel is missing
head -n 1 data/digits.csv >"$T/empty.csv"
sed -n 2,300p data/digits.csv >>"$T/empty.csv"
echo "$(printf ',%.0s' $(seq 64))3" >>"$T/empty.csv"
expect_error "an empty sequence names its row" "row 300 is an empty sequence" \
    "$COHORT" run $exp --workers 1 --set data.train="$T/empty.csv" --set data.test_fraction=0
# sequences in long form: digits as (id, position, 8 pixels) rows, image i
# keeping its first 8 - i % 3 rows (lengths 6 to 8, so padding and masks
# matter), the lines in reverse order (grouped by id, not adjacent); the
# training table holds the id and the label only
awk -F, 'NR > 1 { id = NR - 1; keep = 8 - id % 3
    for (p = 0; p < keep; p++) { line = "img" id "," p
        for (j = 0; j < 8; j++) line = line "," $(p * 8 + j + 1)
        print line } }' data/digits.csv | sort -r >"$T/seq_rows.csv"
{ echo "id,position,c0,c1,c2,c3,c4,c5,c6,c7"; cat "$T/seq_rows.csv"; } >"$T/seq.csv"
{ echo "id,digit"; awk -F, 'NR > 1 { print "img" NR - 1 "," $65 }' data/digits.csv; } >"$T/labels.csv"
sq="--set data.train=$T/labels.csv --set data.target=digit --set model.sequences=$T/seq.csv"
sq="$sq --set model.epochs=3"
for w in 1 2; do
    timeout 120 "$COHORT" run $exp --workers $w $sq --out "$T/s$w" >/dev/null 2>"$T/s$w.err"
    check "sequence file, $w workers: finishes" grep -q '"status": "finished"' "$T/s$w/summary.json"
done
check "sequence file: 1 and 2 workers give the same model.pb" cmp -s "$T/s1/model.pb" "$T/s2/model.pb"
check "sequence file: max_length 8 from the longest sequence" \
    grep -q '"max_length": 8' "$T/s1/summary.json"
acc=$(grep -o '"test_accuracy": [0-9.]*' "$T/s2/summary.json" | sed 's/.*: //')
check "sequence file: test accuracy $acc above 0.6 (rows cut from the bottom)" \
    awk -v a="$acc" 'BEGIN { exit !(a > 0.6) }'
timeout 30 "$COHORT" predict --model "$T/s2/model.pb" --data "$T/labels.csv" --out "$T/sp.csv" \
    2>"$T/sp.err"
check "sequence file: predict reads the sequences" [ "$(wc -l <"$T/sp.csv")" -eq 1798 ]
expect_error "sequence longer than model.max_length names the sequence" \
    "has more than model.max_length 7 elements" \
    "$COHORT" run $exp --workers 1 $sq --set model.max_length=7
{ cat "$T/labels.csv"; echo "nosuch,3"; } >"$T/labels2.csv"
expect_error "an id without rows is an empty sequence" "sequence id 'nosuch' has no rows" \
    "$COHORT" run $exp --workers 1 $sq --set data.train="$T/labels2.csv" --set data.test_fraction=0
expect_error "a table column that is not the id" "column 'pixel_0_1' of the training data is not used" \
    "$COHORT" run $exp --workers 1 $sq --set data.train=data/digits.csv --set data.target=target \
    --set model.id_column=pixel_0_0
expect_error "no id column" "has no column 'user'" \
    "$COHORT" run $exp --workers 1 $sq --set model.id_column=user
check "no local worker left behind" no_orphan_workers
finish
