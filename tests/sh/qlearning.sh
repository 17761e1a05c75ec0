# qlearning.sh: Q-learning end to end: the same tables (model.pb bytes and
# summary.json) for 1, 2 and 4 workers, the quality targets of issue 9 on
# the example configs (pricing >= 97% of the optimum, FrozenLake 4x4, Taxi
# and CliffWalking >= 99%), the outputs (policy.csv, report sections), and
# bad configurations with clear errors.
. "$(dirname "$0")/lib.sh"

expect_error() { # expect_error DESCRIPTION TEXT CMD...
    local d=$1 text=$2
    shift 2
    timeout 60 "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    if [ $rc -eq 0 ] || [ $rc -ge 124 ]; then
        bad "$d: exit status $rc"; cat "$T/err"; return
    fi
    if grep -qF -- "$text" "$T/err"; then ok "$d"; else bad "$d: stderr lacks '$text'"; cat "$T/err"; fi
}
stable() { grep -v -e '"run_id"' -e '"workers"' -e '"wall_seconds"' -e '"seconds_to_target"' "$1"; }
same_for_workers() { # NAME CONFIG [--set ...]
    local name=$1 cfg=$2
    shift 2
    local w
    for w in 1 2 4; do
        if ! timeout 120 "$COHORT" run "$cfg" --workers $w --out "$T/$name-$w" "$@" >"$T/$name-$w.log" 2>&1; then
            bad "$name: run with $w workers failed"; cat "$T/$name-$w.log"; return
        fi
    done
    if cmp -s "$T/$name-1/model.pb" "$T/$name-2/model.pb" &&
        cmp -s "$T/$name-1/model.pb" "$T/$name-4/model.pb" &&
        stable "$T/$name-1/summary.json" >"$T/a" && stable "$T/$name-4/summary.json" >"$T/c" &&
        cmp -s "$T/a" "$T/c"; then
        ok "$name: identical Q tables (model.pb) for 1, 2 and 4 workers"
    else
        bad "$name: results differ between worker counts"; diff "$T/a" "$T/c" | head -5
    fi
}
num() { grep -o "\"$2\": [^,}]*" "$1" | head -n 1 | sed 's/.*: //'; }
at_least() { # FILE FRACTION: policy_return >= FRACTION of optimal_return (or gap <= (1-F)|opt|)
    local p o
    p=$(num "$1" policy_return)
    o=$(num "$1" optimal_return)
    [ -n "$p" ] && [ -n "$o" ] && awk -v p="$p" -v o="$o" -v f="$2" 'BEGIN { a = o < 0 ? -o : o; exit !(o - p <= (1 - f) * a + 1e-12) }'
}

same_for_workers pricing examples/pricing-q.yaml --set model.rounds=30
same_for_workers taxi2q examples/taxi-q.yaml --set model.learner=double_q --set model.rounds=10 \
    --set model.groups=5
same_for_workers lakeboltz examples/frozenlake-q.yaml --set model.exploration=boltzmann \
    --set model.learner=expected_sarsa --set model.rounds=10

# quality targets of issue 9 on the full examples
timeout 120 "$COHORT" run examples/pricing-q.yaml --workers 2 --out "$T/p" >/dev/null 2>&1
check "pricing: greedy policy >= 97% of the optimal return ($(num "$T/p/summary.json" policy_return) vs $(num "$T/p/summary.json" optimal_return))" at_least "$T/p/summary.json" 0.97
check "pricing: optimal return equals the NumPy backward induction 1080.3791196328" \
    awk -v a="$(num "$T/p/summary.json" optimal_return)" 'BEGIN { d = a - 1080.3791196328; exit !(d < 1e-9 && d > -1e-9) }'
timeout 120 "$COHORT" run examples/frozenlake-q.yaml --workers 2 --out "$T/f" >/dev/null 2>&1
check "summary.json metrics hold the policy's exact return and gap" \
    grep -q '"metrics": {"policy_return": [0-9.e-]*, "optimal_return": [0-9.e-]*, "optimality_gap": ' "$T/p/summary.json"
check "frozenlake 4x4: >= 99% of the optimum 0.7442 ($(num "$T/f/summary.json" policy_return))" at_least "$T/f/summary.json" 0.99
timeout 120 "$COHORT" run examples/taxi-q.yaml --workers 2 --out "$T/x" >/dev/null 2>&1
check "taxi: >= 99% of the optimum 7.93 ($(num "$T/x/summary.json" policy_return))" at_least "$T/x/summary.json" 0.99
timeout 120 "$COHORT" run examples/taxi-q.yaml --workers 2 --out "$T/cliff" --set model.env=cliffwalking >/dev/null 2>&1
check "cliffwalking: >= 99% of the optimum -13 ($(num "$T/cliff/summary.json" policy_return))" at_least "$T/cliff/summary.json" 0.99

# outputs
check "policy.csv has a row per state (1641 + header)" test "$(wc -l <"$T/p/policy.csv")" = 1642
check "report has the learning curve" grep -q "Return per sync period" "$T/p/report.html"
check "report has the learned vs optimal price table" grep -q "Price policy in season 0" "$T/p/report.html"
check "summary.json has optimality_gap" grep -q '"optimality_gap": ' "$T/p/summary.json"
printf 'state\n0\n1640\n' >"$T/states.csv"
timeout 30 "$COHORT" predict --model "$T/p/model.pb" --data "$T/states.csv" --out "$T/pred.csv" >/dev/null 2>&1
s0=$(awk -F, 'NR == 2 { print $4 }' "$T/p/policy.csv")
check "cohort predict gives the greedy action of a state (policy.csv says $s0)" \
    test "$(sed -n 2p "$T/pred.csv")" = "$s0"

# a coordinator killed mid-run resumes from its checkpoint to the same tables
COHORT_TEST_TASK_DELAY_MS=300 timeout 120 "$COHORT" run examples/pricing-q.yaml --workers 2 \
    --out "$T/int" --set model.rounds=30 >/dev/null 2>&1 &
tpid=$!
wait_rounds "$T/int" 3
kill -9 "$(child $tpid)"
wait $tpid 2>/dev/null
check "the killed pricing run left a checkpoint" [ -s "$T/int/checkpoints/latest.pb" ]
timeout 120 "$COHORT" run --resume "$T/int" >/dev/null 2>"$T/res.err"
check "resume starts after a checkpointed round" grep -q "resuming .* after round [1-9]" "$T/res.err"
check "the resumed Q tables equal the uninterrupted run's (model.pb bytes)" \
    cmp -s "$T/pricing-2/model.pb" "$T/int/model.pb"

# bad configurations
P=examples/pricing-q.yaml
expect_error "negative inventory" "model.pricing.inventory: the seller needs at least one unit (got -5)" \
    "$COHORT" run $P --workers 1 --out "$T/b1" --set model.pricing.inventory=-5
expect_error "zero price levels" "at least one price level" \
    "$COHORT" run $P --workers 1 --out "$T/b2" --set "model.pricing.prices=[]"
expect_error "season rows not summing to one" "row 2 sums to 0.9" \
    "$COHORT" run $P --workers 1 --out "$T/b3" --set "model.pricing.season_transition=[0.5,0.5,0.5,0.4]"
expect_error "state space too large" "too large for a table" \
    "$COHORT" run $P --workers 1 --out "$T/b4" --set model.pricing.inventory=100000
expect_error "unknown learner" "model.learner" \
    "$COHORT" run $P --workers 1 --out "$T/b5" --set model.learner=dqn
expect_error "unknown key" "unknown key" \
    "$COHORT" run $P --workers 1 --out "$T/b6" --set model.pricing.stock=3
finish
