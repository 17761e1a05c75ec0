# mlp.sh: the multilayer perceptron through `cohort run` on the churn data:
# identical weights, curves and test metrics for 1, 2 and 4 workers (one
# synchronous step per round, per-block gradients summed in a fixed order),
# the loss going down, resume from a checkpoint giving the same model,
# predict with the saved model, early stopping, bf16/fp16 storage and
# half-precision tensors on the wire (identical across workers, accuracy
# kept, bytes halved, fp16 loss scale resumed), embeddings of categorical
# columns, local SGD (identical across workers, resume), and bad
# configurations giving clear errors.
. "$(dirname "$0")/lib.sh"
exp=examples/mlp.yaml
fast="--set model.epochs=4"

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
# epoch_losses FILE: train_loss of every epoch, one per line
epoch_losses() { grep -o '"train_loss": [^,}]*' "$1" | sed 's/.*: //'; }

for w in 1 2 4; do
    timeout 60 "$COHORT" run $exp --workers $w $fast --out "$T/r$w" >/dev/null 2>"$T/r$w.err"
    check "$w workers: finishes" grep -q '"status": "finished"' "$T/r$w/summary.json"
done
fingerprint "$T/r1/summary.json" >"$T/ref"
check "summary has the weights' hash and test metrics" [ "$(wc -l <"$T/ref")" -ge 5 ]
for w in 2 4; do
    check "$w workers: identical weights, curves and test metrics" \
        cmp -s "$T/ref" <(fingerprint "$T/r$w/summary.json")
    check "$w workers: identical per-epoch curves" \
        cmp -s <(grep -o '"metrics": {"epoch[^}]*}' "$T/r1/events.jsonl") \
        <(grep -o '"metrics": {"epoch[^}]*}' "$T/r$w/events.jsonl")
done
epoch_losses "$T/r2/events.jsonl" >"$T/losses"
check "4 epochs of curves" [ "$(wc -l <"$T/losses")" -eq 4 ]
check "train loss goes down" awk 'NR == 1 { f = $1 } END { exit !($1 < 0.75 * f) }' "$T/losses"
check "validation curve recorded" grep -q '"valid_loss": [0-9]' "$T/r2/events.jsonl"
acc=$(grep -o '"test_accuracy": [0-9.]*' "$T/r2/summary.json" | sed 's/.*: //')
# the majority class is 86%; logistic regression gets 0.87 on this split
check "test accuracy $acc above 0.89" awk -v a="$acc" 'BEGIN { exit !(a > 0.89) }'
check "report has the loss curve" grep -q "Loss per epoch" "$T/r2/report.html"

# resume: stop after round 100 (a checkpoint every 50 rounds), then resume
timeout 60 "$COHORT" run $exp --workers 2 $fast --set runtime.checkpoint_every=50 \
    --out "$T/res" >/dev/null 2>&1
rm -f "$T/res/summary.json" "$T/res/model.pb"
timeout 60 "$COHORT" run $exp --workers 2 $fast --set runtime.checkpoint_every=50 \
    --resume "$T/res" >/dev/null 2>"$T/res.err"
check "resume: same model as an uninterrupted run" \
    cmp -s "$T/ref" <(fingerprint "$T/res/summary.json" 2>/dev/null)
check "resume: model.pb byte-identical to the uninterrupted run's (wire bytes kept in the checkpoint)" \
    cmp -s "$T/r2/model.pb" "$T/res/model.pb"

# early stopping: patience 3 on the validation loss, the best epoch's weights
es="--set model.epochs=40 --set model.early_stopping=3 --set model.schedule=constant --set model.lr=0.01"
for w in 1 2; do
    timeout 120 "$COHORT" run $exp --workers $w $es --out "$T/es$w" >/dev/null 2>&1
done
best=$(grep -o '"best_epoch": [0-9]*' "$T/es2/summary.json" | sed 's/.*: //')
ran=$(grep -o '"epochs": [0-9]*' "$T/es2/summary.json" | head -n 1 | sed 's/.*: //')
check "early stopping: stopped before 40 epochs, 3 after the best ($best, ran $ran)" \
    awk -v b="$best" -v r="$ran" 'BEGIN { exit !(b > 0 && r < 40 && r - b == 3) }'
vmin=$(grep -o '"valid_loss": [0-9.e-]*' "$T/es2/events.jsonl" | sed 's/.*: //' | sort -g | head -n 1)
tl=$(grep -o '"test_logloss": [0-9.e-]*' "$T/es2/summary.json" | sed 's/.*: //')
# (to 1e-6 relative: the epoch's validation runs the float32 network in
# batches, the final metrics go through predict)
check "early stopping: the model is the best epoch's (test logloss $tl = lowest validation loss $vmin)" \
    awk -v a="$tl" -v b="$vmin" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(b > 0 && d < 1e-6 * b) }'
check "early stopping: the same model for 1 and 2 workers" \
    cmp -s <(fingerprint "$T/es1/summary.json") <(fingerprint "$T/es2/summary.json")
timeout 120 "$COHORT" run $exp --workers 2 $es --set runtime.checkpoint_every=50 --out "$T/esr" >/dev/null 2>&1
rm -f "$T/esr/summary.json" "$T/esr/model.pb"
timeout 120 "$COHORT" run $exp --workers 2 $es --set runtime.checkpoint_every=50 --resume "$T/esr" \
    >/dev/null 2>&1
check "early stopping: resumed from a checkpoint, the same model" \
    cmp -s <(fingerprint "$T/es2/summary.json") <(fingerprint "$T/esr/summary.json" 2>/dev/null)
expect_error "early stopping without held-out rows" "holds out no rows" \
    "$COHORT" run $exp --workers 1 --set model.early_stopping=2 --set data.test_fraction=0

# predict with the saved model
timeout 30 "$COHORT" predict --model "$T/r2/model.pb" --data data/churn.csv --out "$T/p.csv" 2>"$T/p.err"
check "predict writes one row per input row" [ "$(wc -l <"$T/p.csv")" -eq 5001 ]

# mixed precision: bf16 and fp16 (dynamic loss scaling) storage, and
# tensors on the wire at that precision, the same bytes for 1 and 2 workers
wire_bytes() { grep -o '"wire_bytes_per_step": [0-9]*' "$1" | sed 's/.*: //'; }
for pr in bf16 fp16; do
    for w in 1 2; do
        timeout 60 "$COHORT" run $exp --workers $w $fast --set model.precision=$pr \
            --out "$T/$pr$w" >/dev/null 2>"$T/$pr$w.err"
    done
    check "$pr: 1 and 2 workers give the same weights, curves and metrics" \
        cmp -s <(fingerprint "$T/${pr}1/summary.json") <(fingerprint "$T/${pr}2/summary.json")
    check "$pr: a different model than fp32" \
        [ "$(grep -o '"weights_fnv1a": "[0-9a-f]*"' "$T/${pr}1/summary.json")" != \
          "$(grep -o '"weights_fnv1a": "[0-9a-f]*"' "$T/r1/summary.json")" ]
    a=$(grep -o '"test_accuracy": [0-9.]*' "$T/${pr}2/summary.json" | sed 's/.*: //')
    check "$pr: test accuracy $a within 0.01 of fp32's $acc" \
        awk -v a="$a" -v b="$acc" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 0.01) }'
    b16=$(wire_bytes "$T/${pr}1/summary.json") b32=$(wire_bytes "$T/r1/summary.json")
    check "$pr: $b16 bytes per step on the wire, under 55% of fp32's $b32" \
        awk -v a="$b16" -v b="$b32" 'BEGIN { exit !(a > 0 && a < 0.55 * b) }'
done
check "fp16: the loss scale and the skipped steps are reported" \
    grep -q '"loss_scale": [0-9]*, "skipped_steps": [0-9]' "$T/fp162/summary.json"
check "fp16: the loss scale per epoch in the curves" grep -q '"loss_scale": ' "$T/fp162/events.jsonl"
timeout 60 "$COHORT" run $exp --workers 2 $fast --set model.precision=fp16 \
    --set runtime.checkpoint_every=50 --out "$T/fpr" >/dev/null 2>&1
rm -f "$T/fpr/summary.json" "$T/fpr/model.pb"
timeout 60 "$COHORT" run $exp --workers 2 $fast --set model.precision=fp16 \
    --set runtime.checkpoint_every=50 --resume "$T/fpr" >/dev/null 2>&1
check "fp16: resumed (loss scale from the checkpoint), the same model" \
    cmp -s <(fingerprint "$T/fp162/summary.json") <(fingerprint "$T/fpr/summary.json" 2>/dev/null)
for w in 1 2; do
    timeout 60 "$COHORT" run $exp --workers $w $fast --set model.wire_precision=bf16 \
        --out "$T/wire$w" >/dev/null 2>&1
done
check "fp32 compute, bf16 wire: 1 and 2 workers identical" \
    cmp -s <(fingerprint "$T/wire1/summary.json") <(fingerprint "$T/wire2/summary.json")
check "fp32 compute, bf16 wire: fewer bytes" \
    awk -v a="$(wire_bytes "$T/wire1/summary.json")" -v b="$(wire_bytes "$T/r1/summary.json")" \
    'BEGIN { exit !(a < 0.55 * b) }'
for w in 1 2; do
    timeout 60 "$COHORT" run $exp --workers $w $fast --set model.wire_precision=fp16 \
        --set model.loss_scale_window=20 --out "$T/wf$w" >/dev/null 2>&1
done
check "fp32 compute, fp16 wire (loss-scaled): 1 and 2 workers identical" \
    cmp -s <(fingerprint "$T/wf1/summary.json") <(fingerprint "$T/wf2/summary.json")
a=$(grep -o '"test_accuracy": [0-9.]*' "$T/wf2/summary.json" | sed 's/.*: //')
check "fp32 compute, fp16 wire: test accuracy $a within 0.01 of fp32's" \
    awk -v a="$a" -v b="$acc" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 0.01) }'
timeout 30 "$COHORT" predict --model "$T/bf162/model.pb" --data data/churn.csv --out "$T/pb.csv" 2>/dev/null
check "predict with a bf16 model" [ "$(wc -l <"$T/pb.csv")" -eq 5001 ]

# embeddings of categorical columns instead of one-hot
for w in 1 2; do
    timeout 60 "$COHORT" run $exp --workers $w $fast --set 'model.embeddings={state: 4, area_code: 2}' --out "$T/emb$w" >/dev/null 2>"$T/emb$w.err"
done
check "embeddings: 2 columns embedded" grep -q '"embeddings": 2' "$T/emb1/summary.json"
check "embeddings: 1 and 2 workers identical" \
    cmp -s <(fingerprint "$T/emb1/summary.json") <(fingerprint "$T/emb2/summary.json")
a=$(grep -o '"test_accuracy": [0-9.]*' "$T/emb2/summary.json" | sed 's/.*: //')
check "embeddings: test accuracy $a above 0.89" awk -v a="$a" 'BEGIN { exit !(a > 0.89) }'
check "embeddings: fewer parameters than one-hot (51 states -> 4 numbers)" \
    awk -v a="$(grep -o '"parameters": [0-9]*' "$T/emb1/summary.json" | sed 's/.*: //')" \
    -v b="$(grep -o '"parameters": [0-9]*' "$T/r1/summary.json" | sed 's/.*: //')" \
    'BEGIN { exit !(a < b) }'
timeout 30 "$COHORT" predict --model "$T/emb2/model.pb" --data data/churn.csv --out "$T/pe.csv" 2>/dev/null
check "embeddings: predict with the saved model" [ "$(wc -l <"$T/pe.csv")" -eq 5001 ]
timeout 60 "$COHORT" run $exp --workers 2 $fast --set model.embeddings=auto --out "$T/emba" >/dev/null 2>&1
check "embeddings: auto embeds state (26) and area_code (2), not the yes/no plans" \
    grep -q "input column 1: dimension 26" "$T/emba/model.txt"
check "embeddings: auto, exactly two columns" grep -q '"embeddings": 2' "$T/emba/summary.json"

# local SGD: 4 SGD steps on every block between averages over the block tree
loc="--set model.local_steps=4 --set model.optimizer=sgd --set model.lr=0.2 --set model.batch_size=8
     --set model.warmup_steps=0 --set model.schedule=constant --set model.epochs=8"
for w in 1 2; do
    timeout 60 "$COHORT" run $exp --workers $w $loc --out "$T/loc$w" >/dev/null 2>"$T/loc$w.err"
done
check "local SGD: 2 workers give the 1-worker weights, curves and metrics" \
    cmp -s <(fingerprint "$T/loc1/summary.json") <(fingerprint "$T/loc2/summary.json")
epoch_losses "$T/loc2/events.jsonl" >"$T/loclosses"
check "local SGD: 8 epochs (one round each), the train loss falls by a third" \
    awk 'NR == 1 { f = $1 } END { exit !(NR == 8 && $1 < 0.67 * f) }' "$T/loclosses"
check "local SGD: a different model than synchronous SGD" \
    [ "$(grep -o '"weights_fnv1a": "[0-9a-f]*"' "$T/loc1/summary.json")" != \
      "$(grep -o '"weights_fnv1a": "[0-9a-f]*"' "$T/r1/summary.json")" ]
timeout 60 "$COHORT" run $exp --workers 2 $loc --set runtime.checkpoint_every=3 --out "$T/locr" >/dev/null 2>&1
rm -f "$T/locr/summary.json" "$T/locr/model.pb"
timeout 60 "$COHORT" run $exp --workers 2 $loc --set runtime.checkpoint_every=3 --resume "$T/locr" \
    >/dev/null 2>&1
check "local SGD: resumed from a checkpoint, the same model" \
    cmp -s <(fingerprint "$T/loc1/summary.json") <(fingerprint "$T/locr/summary.json" 2>/dev/null)
for w in 1 2; do
    timeout 60 "$COHORT" run $exp --workers $w $loc --set model.precision=bf16 --out "$T/locb$w" \
        >/dev/null 2>&1
done
check "local SGD in bf16: 1 and 2 workers identical" \
    cmp -s <(fingerprint "$T/locb1/summary.json") <(fingerprint "$T/locb2/summary.json")

# bad configurations
expect_error "local SGD with Adam" "model.optimizer must be sgd" \
    "$COHORT" run $exp --workers 1 --set model.local_steps=4
expect_error "local SGD with fp16" "use bf16" "$COHORT" run $exp --workers 1 --set model.local_steps=4 \
    --set model.optimizer=sgd --set model.precision=fp16
expect_error "local steps 0" "model.local_steps" "$COHORT" run $exp --workers 1 --set model.local_steps=0
expect_error "unknown precision" "model.precision" "$COHORT" run $exp --workers 1 --set model.precision=fp8
expect_error "unknown wire precision" "model.wire_precision" \
    "$COHORT" run $exp --workers 1 --set model.wire_precision=int8
expect_error "a loss scale without fp16" "is for model.precision: fp16 or model.wire_precision: fp16" \
    "$COHORT" run $exp --workers 1 --set model.precision=bf16 --set model.loss_scale=1024
expect_error "a loss scale below 1" "model.loss_scale" \
    "$COHORT" run $exp --workers 1 --set model.precision=fp16 --set model.loss_scale=0.5
expect_error "embedding of an unknown column" "'nosuch' is not a feature column" \
    "$COHORT" run $exp --workers 1 --set 'model.embeddings={nosuch: 3}'
expect_error "embedding of a numeric column" "column 'total_day_calls' is numeric" \
    "$COHORT" run $exp --workers 1 --set 'model.embeddings={total_day_calls: 3}'
expect_error "embedding dimension 0" "model.embeddings.state" \
    "$COHORT" run $exp --workers 1 --set 'model.embeddings={state: 0}'
expect_error "embeddings neither auto nor a map" "must be auto or a map" "$COHORT" run $exp --workers 1 --set model.embeddings=4
expect_error "unknown activation" "model.activation" "$COHORT" run $exp --workers 1 --set model.activation=swish
expect_error "unknown optimizer" "model.optimizer" "$COHORT" run $exp --workers 1 --set model.optimizer=rmsprop
expect_error "a zero-width layer" "is not a layer width" "$COHORT" run $exp --workers 1 --set 'model.layers=[64,0]'
expect_error "a fractional width" "is not a layer width" "$COHORT" run $exp --workers 1 --set 'model.layers=[6.5]'
expect_error "batch larger than the training rows" "larger than the 4000 training rows" \
    "$COHORT" run $exp --workers 2 --set model.batch_size=5000
expect_error "classes that disagree with the target" "model.classes is 3" \
    "$COHORT" run $exp --workers 1 --set model.classes=3
expect_error "a diverging learning rate names the step and the layer" "non-finite" \
    "$COHORT" run $exp --workers 2 --set model.optimizer=sgd --set model.lr=1e8 --set model.dropout=0 \
    --set model.schedule=constant --set model.warmup_steps=0
grep -q "layer\|parameter" "$T/err" && ok "divergence message names where" || bad "divergence message: $(cat "$T/err")"
check "no local worker left behind" no_orphan_workers
finish
