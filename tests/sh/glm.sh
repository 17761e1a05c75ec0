# glm.sh: logistic and Poisson regression through `cohort run`: R's numbers
# on the full churn data, identical coefficients and standard errors for 1,
# 2 and 4 workers, predict with the saved model, and bad configurations
# giving clear errors.
. "$(dirname "$0")/lib.sh"
exp=examples/logistic.yaml
set0="--set data.test_fraction=0"

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
# coefs FILE: estimate and std_error of every coefficient, one per line
coefs() { grep -o '"estimate": [^,]*, "std_error": [^,]*' "$1"; }
# near A B TOL: |A - B| <= TOL * |B|
near() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; s = b < 0 ? -b : b; exit !(d <= t * s) }'; }
num() { grep -o "\"$2\": [^,}]*" "$1" | head -n 1 | sed 's/.*: //'; }

for w in 1 2 4; do
    timeout 60 "$COHORT" run $exp --workers $w $set0 --out "$T/l$w" >/dev/null 2>"$T/l$w.err"
    check "logistic, $w workers: finishes" grep -q '"status": "finished"' "$T/l$w/summary.json"
done
coefs "$T/l1/summary.json" >"$T/ref"
check "logistic: 70 coefficients" [ "$(wc -l <"$T/ref")" -eq 70 ]
for w in 2 4; do
    check "logistic, $w workers: identical estimates and standard errors" \
        cmp -s "$T/ref" <(coefs "$T/l$w/summary.json")
done
# R 4.2: glm(churn ~ ., binomial) on all 5000 rows (tests/unit/test_glm.c)
s="$T/l2/summary.json"
check "intercept is R's (1e-8)" near "$(num "$s" estimate)" -9.3854459749951449 1e-8
check "intercept std. error is R's (1e-8)" near "$(num "$s" std_error)" 0.79831903438980312 1e-8
check "residual deviance is R's (1e-10)" near "$(num "$s" deviance)" 3053.8689295092699 1e-10
check "null deviance is R's (1e-10)" near "$(num "$s" null_deviance)" 4074.9677408085427 1e-10
check "AIC is R's (1e-10)" near "$(num "$s" aic)" 3193.8689295092699 1e-10
check "6 Fisher scoring iterations" grep -q '"fisher_iterations": 6' "$s"
check "R's names" grep -q '"name": "international_planyes"' "$s"
check "p-value and interval in summary.json" grep -q '"p_value": .*"ci_low": .*"ci_high"' "$s"
check "model.txt has R's table" grep -q "Number of Fisher Scoring iterations: 6" "$T/l2/model.txt"
check "report has the coefficient table" grep -q "Logistic regression coefficients" "$T/l2/report.html"
check "deviance curve (one round metric per IRLS round)" grep -q '"deviance"' "$T/l2/events.jsonl"
# deviance residual quantiles (R 4.2: quantile(residuals(f, "deviance")));
# 1e-9 relative; identical for 1, 2 and 4 workers
dq() { grep -o '"residual_quantiles": {[^}]*}' "$1"; }
dqv() { dq "$1" | grep -o "\"$2\": [^,}]*" | sed 's/.*: //'; }
for w in 2 4; do
    check "logistic deviance residual quantiles, $w workers: identical" \
        cmp -s <(dq "$T/l1/summary.json") <(dq "$T/l$w/summary.json")
done
check "logistic deviance residual min is R's (1e-9)" near "$(dqv "$s" min)" -2.2129441050329501 1e-9
check "logistic deviance residual median is R's (1e-9)" near "$(dqv "$s" median)" -0.30779186997622388 1e-9
check "logistic deviance residual 3Q is R's (1e-9)" near "$(dqv "$s" q3)" -0.16743418353167966 1e-9
check "model.txt prints the deviance residuals" grep -q "^Deviance Residuals" "$T/l2/model.txt"

# Poisson: customer service calls, identical for 1 and 4 workers; R's fit
printf 'name: calls\nseed: 1\ndata:\n  train: %s/data/churn.csv\n  target: number_customer_service_calls\n  test_fraction: 0\nmodel:\n  algorithm: poisson\n' "$SRC" >"$T/calls.yaml"
for w in 1 4; do
    timeout 60 "$COHORT" run "$T/calls.yaml" --workers $w --out "$T/p$w" >/dev/null 2>"$T/p$w.err"
done
coefs "$T/p1/summary.json" >"$T/pref"
check "poisson: 70 coefficients" [ "$(wc -l <"$T/pref")" -eq 70 ]
check "poisson, 1 and 4 workers: identical" cmp -s "$T/pref" <(coefs "$T/p4/summary.json")
check "poisson deviance is R's (1e-10)" near "$(num "$T/p4/summary.json" deviance)" 5668.8298918671226 1e-10
check "poisson: 5 iterations" grep -q '"fisher_iterations": 5' "$T/p4/summary.json"
check "poisson deviance residual quantiles, 1 and 4 workers: identical" \
    cmp -s <(dq "$T/p1/summary.json") <(dq "$T/p4/summary.json")
check "poisson deviance residual 1Q is R's (1e-9)" near "$(dqv "$T/p4/summary.json" q1)" -0.61556873673075807 1e-9
check "poisson deviance residual max is R's (1e-9)" near "$(dqv "$T/p4/summary.json" max)" 4.0265124517338196 1e-9

# predict with the saved model: probabilities, one row per input row
timeout 60 "$COHORT" run $exp --workers 2 --out "$T/pr" >/dev/null 2>&1
timeout 30 "$COHORT" predict --model "$T/pr/model.pb" --data data/churn.csv --out "$T/preds.csv" 2>"$T/pred.err"
check "predict writes one row per input row" [ "$(wc -l <"$T/preds.csv")" -eq 5001 ]

# predict on the link and response scales with standard errors of the fit.
# R 4.2 on the full data: predict(f, d[c(1, 2, 5000), ], type = "link" |
# "response", se.fit = TRUE); fits to 1e-9 relative, standard errors to
# 1e-8 (the covariance of the last IRLS solve, as in tests/unit/test_glm.c)
# col FILE LINE FIELD: one field of a predict CSV
col() { sed -n "${2}p" "$1" | cut -d, -f"$3"; }
timeout 60 "$COHORT" run $exp --workers 2 $set0 --set model.predict_type=link \
    --set model.predict_se=true --out "$T/lk" >/dev/null 2>&1
timeout 30 "$COHORT" predict --model "$T/lk/model.pb" --data data/churn.csv --out "$T/lk.csv" 2>/dev/null
check "predict_type link: fit,se_fit header and one row per input row" \
    sh -c "[ \"\$(head -n 1 '$T/lk.csv')\" = fit,se_fit ] && [ \$(wc -l <'$T/lk.csv') -eq 5001 ]"
check "link fit of row 1 is R's (1e-9)" near "$(col "$T/lk.csv" 2 1)" -2.3786550237386939 1e-9
check "link se of row 1 is R's (1e-8)" near "$(col "$T/lk.csv" 2 2)" 0.3591595900897343 1e-8
check "link se of row 5000 is R's (1e-8)" near "$(col "$T/lk.csv" 5001 2)" 0.51155709757693268 1e-8
timeout 60 "$COHORT" run $exp --workers 1 $set0 --set model.predict_se=true --out "$T/rs" >/dev/null 2>&1
timeout 30 "$COHORT" predict --model "$T/rs/model.pb" --data data/churn.csv --out "$T/rs.csv" 2>/dev/null
check "response fit of row 2 is R's (1e-9)" near "$(col "$T/rs.csv" 3 1)" 0.030394934232468265 1e-9
check "response se of row 2 is R's (1e-8)" near "$(col "$T/rs.csv" 3 2)" 0.010765659204537842 1e-8
timeout 60 "$COHORT" run "$T/calls.yaml" --workers 2 --set model.predict_se=true --out "$T/pse" >/dev/null 2>&1
timeout 30 "$COHORT" predict --model "$T/pse/model.pb" --data data/churn.csv --out "$T/pse.csv" 2>/dev/null
check "poisson response se of row 5000 is R's (1e-8)" near "$(col "$T/pse.csv" 5001 2)" 0.17360241385101449 1e-8
timeout 60 "$COHORT" run examples/ols.yaml --workers 2 $set0 --set model.predict_se=true --out "$T/ose" >/dev/null 2>&1
timeout 30 "$COHORT" predict --model "$T/ose/model.pb" --data data/wine.csv --out "$T/ose.csv" 2>/dev/null
# R: predict(lm(alcohol ~ ., d), d[c(1, 2, 178), ], se.fit = TRUE)
check "OLS se.fit of row 1 is R's predict.lm (1e-9)" near "$(col "$T/ose.csv" 2 2)" 0.13438567245551933 1e-9
check "OLS se.fit of row 178 is R's predict.lm (1e-9)" near "$(col "$T/ose.csv" 179 2)" 0.12070796104009028 1e-9
check "OLS fit of row 178 is R's (1e-12)" near "$(col "$T/ose.csv" 179 1)" 13.342449352968867 1e-12
expect_error "predict_se with a penalty" "model.predict_se needs an unpenalized fit" \
    "$COHORT" run examples/ols.yaml --workers 1 --set model.penalty=lasso --set model.predict_se=true
expect_error "unknown predict_type" "model.predict_type" \
    "$COHORT" run $exp --workers 1 --set model.predict_type=probability

# VIF and condition number of the logistic fit (final IRLS weights), R:
# diag(solve(cov2cor(vcov(f)[-1, -1]))), kappa(f, exact = TRUE); identical
# for 1, 2 and 4 workers. total_day_minutes and total_day_charge are almost
# collinear (VIF ~1e7), so 1e-7 there; 1e-9 elsewhere.
vifs() { grep -o '"vif": [^,]*\|"condition_number[a-z_]*": [^,}]*' "$1"; }
vifs "$T/l1/summary.json" >"$T/vref"
check "logistic: 69 VIF and 2 condition numbers" [ "$(wc -l <"$T/vref")" -eq 72 ]
for w in 2 4; do
    check "logistic VIF, $w workers: identical" cmp -s "$T/vref" <(vifs "$T/l$w/summary.json")
done
v() { sed -n "$1p" "$T/vref" | sed 's/.*: //'; }
check "international_planyes VIF is R's (1e-9)" near "$(v 55)" 1.1288627395295534 1e-9
check "total_day_minutes VIF is R's (1e-7)" near "$(v 58)" 9511413.9866056331 1e-7
gv() { grep -o "{\"term\": \"$2\"[^}]*}" "$1" | grep -o '"gvif": [^,]*' | sed 's/.*: //'; }
check "state GVIF (50 df) is car::vif's (1e-8)" near "$(gv "$T/l1/summary.json" state)" 1.400891647635202 1e-8
check "area_code GVIF (2 df) is car::vif's (1e-8)" near "$(gv "$T/l4/summary.json" area_code)" 1.0462374147291655 1e-8
check "model.txt has the GVIF table" grep -q "^Generalized VIF" "$T/l2/model.txt"
# sandwich standard errors of the GLMs (R: sqrt(diag(sandwich::vcovHC(f,
# type)))): the meat is a round after IRLS; 1e-8 relative; identical for 1
# and 3 workers
rse() { grep -o '"robust_std_error": [^,]*' "$1" | sed -n "${2}p" | sed 's/.*: //'; }
for w in 1 3; do
    timeout 60 "$COHORT" run $exp --workers $w $set0 --set model.robust=hc3 --out "$T/h$w" >/dev/null 2>&1
done
check "logistic HC3, 1 and 3 workers: identical" \
    cmp -s <(grep -o '"robust_[a-z_]*": [^,]*' "$T/h1/summary.json") <(grep -o '"robust_[a-z_]*": [^,]*' "$T/h3/summary.json")
check "logistic HC3 intercept is sandwich's (1e-8)" near "$(rse "$T/h3/summary.json" 1)" 0.85777317375272855 1e-8
check "logistic HC3 international_planyes is sandwich's (1e-8)" near "$(rse "$T/h3/summary.json" 55)" 0.13786784661136392 1e-8
check "logistic HC3 customer service calls is sandwich's (1e-8)" near "$(rse "$T/h3/summary.json" 70)" 0.040162119347673428 1e-8
timeout 60 "$COHORT" run "$T/calls.yaml" --workers 2 --set model.robust=hc0 --set model.residual_quantiles=false \
    --out "$T/ph0" >/dev/null 2>&1
check "poisson HC0 intercept is sandwich's (1e-8)" near "$(rse "$T/ph0/summary.json" 1)" 0.15989966202181904 1e-8
check "poisson HC0 churnyes is sandwich's (1e-8)" near "$(rse "$T/ph0/summary.json" 70)" 0.035397579647195442 1e-8
check "poisson with model.residual_quantiles false: no quantiles" sh -c "! grep -q residual_quantiles '$T/ph0/summary.json'"
# with prior weights w = 0.5 + ((i * 37) %% 11) / 10 (i the 0-based row):
# R's glm(..., weights = w), sandwich::vcovHC and quantile(residuals(g,
# "deviance")); 1e-8 relative
awk -F, 'NR == 1 { print $0 ",w"; next } { i = NR - 2; printf "%s,%.10g\n", $0, 0.5 + ((i * 37) % 11) / 10 }' \
    data/churn.csv >"$T/churnw.csv"
printf 'name: cw\nseed: 1\ndata:\n  train: %s\n  target: number_customer_service_calls\n  weights: w\n  test_fraction: 0\nmodel:\n  algorithm: poisson\n  robust: hc3\n' "$T/churnw.csv" >"$T/cw.yaml"
timeout 60 "$COHORT" run "$T/cw.yaml" --workers 2 --out "$T/cw" >/dev/null 2>&1
check "weighted poisson HC3 intercept is sandwich's (1e-8)" near "$(rse "$T/cw/summary.json" 1)" 0.16661684563271151 1e-8
check "weighted poisson HC3 churnyes is sandwich's (1e-8)" near "$(rse "$T/cw/summary.json" 70)" 0.038252324293669843 1e-8
check "weighted poisson deviance residual 1Q is R's (1e-8)" near "$(dqv "$T/cw/summary.json" q1)" -0.64740240061073973 1e-8
sed -e 's/target: number_customer_service_calls/target: churn\n  positive: "yes"/' -e 's/algorithm: poisson/algorithm: logistic/' \
    -e 's/robust: hc3/robust: hc2/' "$T/cw.yaml" >"$T/cwb.yaml"
timeout 60 "$COHORT" run "$T/cwb.yaml" --workers 3 --out "$T/cwb" >/dev/null 2>&1
check "weighted logistic HC2 intercept is sandwich's (1e-8)" near "$(rse "$T/cwb/summary.json" 1)" 0.88084699793065546 1e-8
check "logistic condition number is R's kappa (1e-9)" near "$(num "$T/l1/summary.json" condition_number)" 152171.67606255744 1e-9

# bad configurations
expect_error "logistic on a numeric target" "needs a binary target" \
    "$COHORT" run examples/ols.yaml --workers 1 --set model.algorithm=logistic
expect_error "poisson on a categorical target" "needs a numeric count target" \
    "$COHORT" run $exp --workers 1 --set model.algorithm=poisson
expect_error "max_iter out of range" "max_iter" \
    "$COHORT" run $exp --workers 1 --set model.max_iter=0
printf 'x,y\n1,2\n2,0\n3,-1\n4,5\n5,1\n6,2\n' >"$T/neg.csv"
printf 'name: neg\nseed: 1\ndata:\n  train: neg.csv\n  target: y\n  test_fraction: 0\nmodel:\n  algorithm: poisson\n' >"$T/neg.yaml"
expect_error "negative counts" "negative" "$COHORT" run "$T/neg.yaml" --workers 1
# OLS report: R's F statistic and p-values on wine (tests/unit/test_linear.c)
timeout 60 "$COHORT" run examples/ols.yaml --workers 2 $set0 --out "$T/o" >/dev/null 2>&1
check "OLS F statistic is R's (1e-9)" near "$(num "$T/o/summary.json" f_statistic)" 22.889015501856026 1e-9
check "OLS F p-value is R's (1e-7)" near "$(num "$T/o/summary.json" f_p_value)" 1.5214945898382489e-31 1e-7
check "OLS intercept p-value is R's (1e-7)" near "$(num "$T/o/summary.json" p_value)" 3.8447525126851708e-45 1e-7
check "OLS model.txt prints the F test" grep -q "F-statistic: 22.889 on 14 and 163 DF" "$T/o/model.txt"

# OLS diagnostics (tests/unit/test_linear.c has R's numbers): residual
# quantiles by counting rounds, VIF, condition numbers and HC3 errors from a
# second round; identical for 1, 2 and 4 workers
diag_of() { grep -o '"vif": [^,]*\|"robust_[a-z_]*": [^,]*\|"residual_quantiles": {[^}]*}\|"condition_number[a-z_]*": [^,}]*' "$1"; }
for w in 1 2 4; do
    timeout 60 "$COHORT" run examples/ols.yaml --workers $w $set0 --set model.robust=hc3 \
        --set model.residual_quantiles=true --out "$T/d$w" >/dev/null 2>"$T/d$w.err"
done
diag_of "$T/d1/summary.json" >"$T/dref"
check "OLS diagnostics: 15 VIF and 45 robust entries, quantiles, 2 condition numbers" \
    [ "$(wc -l <"$T/dref")" -eq 63 ]
for w in 2 4; do
    check "OLS diagnostics, $w workers: identical" cmp -s "$T/dref" <(diag_of "$T/d$w/summary.json")
done
# a worker killed during the residual or counting rounds: its shard goes to
# a survivor (which has no residuals cached for it) and nothing changes
COHORT_TEST_TASK_DELAY_MS=900 timeout 90 "$COHORT" run examples/ols.yaml --workers 3 $set0 \
    --set model.robust=hc3 --set model.residual_quantiles=true --set runtime.heartbeat_timeout=2 \
    --out "$T/dk" >/dev/null 2>"$T/dk.err" &
dpid=$!
sleep 2.4
kill -9 "$(child "$(child $dpid)")" 2>/dev/null
wait $dpid
check "OLS diagnostics after a worker killed mid-search: finished" grep -q '"status": "finished"' "$T/dk/summary.json"
check "OLS diagnostics after a worker killed mid-search: identical" \
    cmp -s "$T/dref" <(diag_of "$T/dk/summary.json")
s="$T/d4/summary.json"
rq() { grep -o '"residual_quantiles": {[^}]*}' "$s" | grep -o "\"$1\": [^,}]*" | sed 's/.*: //'; }
check "residual median is R's (1e-8 relative)" near "$(rq median)" -0.019684375291580819 1e-8
check "residual 1Q is R's (1e-9 relative)" near "$(rq q1)" -0.32081736837151642 1e-9
check "residual max is R's (1e-9 relative)" near "$(rq max)" 1.5579822910725947 1e-9
check "malic_acid VIF is R's (1e-9)" near "$(grep -o '"vif": [0-9][^,]*' "$s" | head -n 1 | sed 's/.*: //')" 1.7512676917846175 1e-9
check "target GVIF (2 df) is car::vif's (1e-9)" near "$(gv "$s" target)" 42.890719676277165 1e-9
check "condition number is R's kappa(fit, exact = TRUE) (1e-9)" near "$(num "$s" condition_number)" 15381.82311679861 1e-9
check "intercept HC3 std. error is sandwich's (1e-9)" near "$(num "$s" robust_std_error)" 0.81339768463737638 1e-9
check "model.txt has the residual quantiles" grep -q "Residuals (exact quantiles" "$T/d4/model.txt"
check "model.txt has the HC3 table" grep -q "HC3 robust (sandwich) standard errors" "$T/d4/model.txt"
check "report has the collinearity and robust sections" \
    grep -q "Robust standard errors (hc3)" "$T/d4/report.html"
timeout 60 "$COHORT" run examples/ols.yaml --workers 2 $set0 --set model.residual_quantiles=false \
    --out "$T/nq" >/dev/null 2>&1
check "model.residual_quantiles false: no quantiles, VIF still there" \
    sh -c "! grep -q residual_quantiles '$T/nq/summary.json' && grep -q '\"vif\"' '$T/nq/summary.json'"
printf 'name: dq\nseed: 1\ndata:\n  train: %s/data/wine.csv\n  target: alcohol\n  test_fraction: 0\nmodel:\n  algorithm: linear\n' "$SRC" >"$T/dq.yaml"
timeout 60 "$COHORT" run "$T/dq.yaml" --workers 3 --out "$T/dq" >/dev/null 2>&1
s="$T/dq/summary.json"
check "residual quantiles are on by default (3 workers; median R's to 1e-8)" \
    near "$(rq median)" -0.019684375291580819 1e-8
expect_error "robust with a penalty" "model.robust needs an unpenalized fit" \
    "$COHORT" run examples/ols.yaml --workers 1 --set model.penalty=ridge --set model.robust=hc0
expect_error "unknown robust type" "model.robust" \
    "$COHORT" run examples/ols.yaml --workers 1 --set model.robust=hc4

# penalized fits with lambda chosen by 5-fold CV: identical for 1, 2 and 4 workers
for pen in lasso elasticnet ridge; do
    for w in 1 2 4; do
        timeout 60 "$COHORT" run examples/ols.yaml --workers $w $set0 --set model.penalty=$pen \
            --out "$T/$pen$w" >/dev/null 2>"$T/$pen$w.err"
    done
    check "$pen: chosen by cross-validation" grep -q '"chosen_by": "cross-validation"' "$T/${pen}1/summary.json"
    for w in 2 4; do
        check "$pen, $w workers: identical coefficients and lambda" \
            cmp -s <(estimates "$T/${pen}1/summary.json"; num "$T/${pen}1/summary.json" lambda) \
                   <(estimates "$T/$pen$w/summary.json"; num "$T/$pen$w/summary.json" lambda)
    done
done
expect_error "unknown penalty" "model.penalty" \
    "$COHORT" run examples/ols.yaml --workers 1 --set model.penalty=lass
expect_error "l1_ratio out of range" "model.l1_ratio" \
    "$COHORT" run examples/ols.yaml --workers 1 --set model.penalty=elasticnet --set model.l1_ratio=2
check "no local worker left behind" no_orphan_workers
finish
