# workflow.sh: workflows run steps in dependency order with references and
# comparisons, resume skips finished steps, bad workflows get clear errors;
# sweeps run locally and under mpirun, and resume after an interruption.
. "$(dirname "$0")/lib.sh"
export COHORT_DB="$T/cohort.db"

# expect_error DESCRIPTION TEXT CMD...
expect_error() {
    local d=$1 text=$2
    shift 2
    timeout 120 "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    if [ $rc -ne 1 ] && [ $rc -ne 2 ]; then bad "$d: exit $rc"; cat "$T/err"; return; fi
    if grep -qF -- "$text" "$T/err"; then ok "$d"; else bad "$d: no '$text'"; cat "$T/err"; fi
}

cat >"$T/wf.yaml" <<YAML
name: wf
workers: 2
steps:
  - name: report-b
    compare: [a, b]
    metric: test_rmse
    goal: min
  - name: a
    use: $SRC/examples/ols.yaml
  - name: b
    use: $SRC/examples/ols.yaml
    set: {model.intercept: false, workers: 1}
    after: [a]
  - name: c
    experiment:
      name: refers
      data: {train: "\${steps.a.dir}/../../../data/wine.csv", target: alcohol}
      model: {algorithm: linear}
YAML
sed -i "s#\${steps.a.dir}/../../../data/wine.csv#$SRC/data/wine.csv#" "$T/wf.yaml"
timeout 120 "$COHORT" run "$T/wf.yaml" --out "$T/wf" >"$T/wf.out" 2>"$T/wf.err"
check "workflow finishes" [ $? -eq 0 ]
check "steps in dependency order (a before b before the comparison)" \
    [ "$(grep -o '=== step [a-z-]*' "$T/wf.out" | tr '\n' ' ')" = "=== step a === step b === step c " ]
check "the comparison names a winner" grep -q "winner: a" "$T/wf.out"
check "compare summary has the ranking" grep -q '"winner": "a"' "$T/wf/report-b/summary.json"
check "the set override reached step b" grep -q 'intercept: false' "$T/wf/b/config.yaml"
check "an index page links the steps" grep -q 'href="a/report.html"' "$T/wf/index.html"

# independent steps at the same time (child processes, logs per step): same results
timeout 120 "$COHORT" run "$T/wf.yaml" --out "$T/wfp" --set parallel=3 >"$T/wfp.out" 2>&1
check "parallel workflow finishes" grep -q "workflow: 4 of 4 steps finished" "$T/wfp.out"
check "independent steps started together" grep -q "=== step c started" "$T/wfp.out"
check "each parallel step has its log" [ -s "$T/wfp/a.log" ]
check "parallel and sequential give the same model" cmp -s <(estimates "$T/wf/a/summary.json") <(estimates "$T/wfp/a/summary.json")

# resume: delete one step's results, resume runs only that one
rm -rf "$T/wf/b"
timeout 120 "$COHORT" run --resume "$T/wf" >"$T/wf2.out" 2>&1
check "resume skips finished steps" grep -q "step a: finished before, skipped" "$T/wf2.out"
check "resume reruns the missing step" grep -q '"status": "finished"' "$T/wf/b/summary.json"

# a reference to an earlier step's outputs is substituted (and is a dependency)
cat >"$T/ref.yaml" <<YAML
name: refs
steps:
  - name: second
    experiment:
      name: second
      data: {train: $SRC/data/wine.csv, test: "\${steps.first.dir}/../../wine-copy.csv", target: alcohol}
      model: {algorithm: linear}
  - name: first
    use: $SRC/examples/ols.yaml
YAML
mkdir -p "$T/refrun" && cp "$SRC/data/wine.csv" "$T/refrun/wine-copy.csv"
timeout 120 "$COHORT" run "$T/ref.yaml" --out "$T/refrun/wf" >"$T/ref.out" 2>&1
check "a \${steps.X.dir} reference orders the steps and resolves" grep -q "test: \"\?$T/refrun/wf/first/../../wine-copy.csv" "$T/refrun/wf/second/config.yaml"
# the same with a relative --out, run from another folder than the config's:
# the reference becomes an absolute path (the step resolves relative paths
# against its config's folder, where runs/... does not exist)
mkdir -p "$T/cwd/relrun" && cp "$SRC/data/wine.csv" "$T/cwd/relrun/wine-copy.csv"
(cd "$T/cwd" && timeout 120 "$COHORT" run "$T/ref.yaml" --out relrun/wf >"$T/rel.out" 2>&1)
check "a reference with a relative --out resolves from the cwd, not the config's folder" \
    eval 'grep -q "2 of 2 steps finished" "$T/rel.out" &&
          grep -q "test: \"\?$T/cwd/relrun/wf/first/../../wine-copy.csv" "$T/cwd/relrun/wf/second/config.yaml"'

printf 'name: cyc\nsteps:\n  - {name: x, use: %s, after: [y]}\n  - {name: y, use: %s, after: [x]}\n' \
    "$SRC/examples/ols.yaml" "$SRC/examples/ols.yaml" >"$T/cycle.yaml"
expect_error "a cycle in after: is named" "depend on each other in a cycle" "$COHORT" run "$T/cycle.yaml"
printf 'name: u\nsteps:\n  - {name: x, use: %s, after: [nope]}\n' "$SRC/examples/ols.yaml" >"$T/unk.yaml"
expect_error "after: an unknown step" "unknown step 'nope'" "$COHORT" run "$T/unk.yaml"
printf 'name: u\nsteps:\n  - name: x\n    experiment: {data: {train: "${steps.ghost.model}"}}\n' >"$T/ghost.yaml"
expect_error "a reference to an unknown step" "names no step 'ghost'" "$COHORT" run "$T/ghost.yaml"
printf 'name: u\nsteps:\n  - {name: a, use: %s}\n  - name: x\n    experiment: {data: {train: "${steps.a.weights}"}}\n' "$SRC/examples/ols.yaml" >"$T/out.yaml"
expect_error "a reference to an unknown output" "unknown output 'weights'" "$COHORT" run "$T/out.yaml"

# plan: validates and prints the resolved plan without running
timeout 60 "$COHORT" plan "$SRC/examples/ols.yaml" --workers 3 >"$T/plan.out" 2>&1
check "plan shows every default" grep -q "intercept: true # default" "$T/plan.out"
check "plan shows the rows per worker" [ "$(grep -c '^  worker ' "$T/plan.out")" -eq 3 ]
check "plan estimates memory and work" grep -q "memory per worker (total)" "$T/plan.out"

# sweeps: a 12-trial grid locally
timeout 300 "$COHORT" run "$SRC/examples/sweep.yaml" --out "$T/sw" >"$T/sw.out" 2>&1
check "local sweep: 12 trials finished" grep -q "12 of 12 trials finished" "$T/sw.out"
check "local sweep: the best trial is marked" grep -qE '^ \* +1 ' "$T/sw.out"
check "local sweep: sweep.json has the ranking" grep -q '"best": ' "$T/sw/sweep.json"
n=$(sqlite3 "$COHORT_DB" "select count(*) from runs where name like 'ols-sweep-t%' and status='finished'" 2>/dev/null || echo skip)
[ "$n" = skip ] || check "local sweep: every trial is in the store" [ "$n" -ge 12 ]
# resume after an interruption: remove 3 trials' results
rm -rf "$T/sw/trial-002" "$T/sw/trial-007" "$T/sw/trial-011"
timeout 300 "$COHORT" run --resume "$T/sw" >"$T/sw2.out" 2>&1
check "sweep resume reruns only the missing trials" [ "$(grep -c 'finished before, skipped' "$T/sw2.out")" -eq 9 ]
check "sweep resume completes the table" grep -q "12 of 12 trials finished" "$T/sw2.out"
expect_error "a sweep over an unknown key" "unknown key" "$COHORT" run "$SRC/examples/sweep.yaml" \
    --set 'sweep.grid={model.intercpt: [true]}' --out "$T/bad1"
expect_error "an empty grid" "sweep.grid" "$COHORT" run "$SRC/examples/sweep.yaml" \
    --set 'sweep.grid={}' --out "$T/bad2"

# the same 12-trial sweep under mpirun -np 5: 2 groups of (coordinator + 1 worker)
timeout 300 mpirun --oversubscribe --enable-recovery -np 5 "$COHORT" run "$SRC/examples/sweep.yaml" \
    --out "$T/msw" >"$T/msw.out" 2>&1
check "mpirun sweep: 12 trials finished" grep -q "12 of 12 trials finished" "$T/msw.out"
check "mpirun sweep ranks like the local one" cmp -s <(grep -o '"trial": [0-9]*, "rank": [0-9]*' "$T/sw/sweep.json") \
    <(grep -o '"trial": [0-9]*, "rank": [0-9]*' "$T/msw/sweep.json")
finish
