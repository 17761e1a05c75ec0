# launch_modes.sh: every algorithm's example gives the same model.pb bytes
# whether its 2 workers are forked locally, started by mpirun (-np 3: the
# coordinator and 2 workers) or started by hand against a standalone
# coordinator over tcp. model.pb holds the model and the resolved config
# without the worker count or launch details, so any difference is a
# difference in the model. (modes.sh checks OLS across worker counts too.)
. "$(dirname "$0")/lib.sh"

modes() { # modes NAME CONFIG [--set ...]
    local name=$1 cfg=$2
    shift 2
    local d="$T/$name"
    mkdir -p "$d"
    timeout 120 "$COHORT" run "$cfg" --workers 2 --out "$d/local" "$@" >/dev/null 2>"$d/local.err"
    if ! grep -q '"status": "finished"' "$d/local/summary.json" 2>/dev/null; then
        bad "$name: local run failed"; tail -n 3 "$d/local.err"; return
    fi
    timeout 180 mpirun --oversubscribe -np 3 "$COHORT" run "$cfg" --out "$d/mpi" "$@" \
        >/dev/null 2>"$d/mpi.err"
    check "$name: mpirun -np 3 gives the local run's model.pb" cmp -s "$d/local/model.pb" "$d/mpi/model.pb"
    timeout 120 "$COHORT" coordinator "$cfg" --bind tcp://127.0.0.1:0 --workers 2 --out "$d/tcp" "$@" \
        >/dev/null 2>"$d/tcp.err" &
    if wait_for "$d/tcp/endpoints.json" 20; then
        local ep
        ep=$(endpoint "$d/tcp")
        timeout 120 "$COHORT" worker --connect "$ep" 2>/dev/null &
        timeout 120 "$COHORT" worker --connect "$ep" 2>/dev/null
    fi
    wait
    check "$name: standalone tcp workers give the local run's model.pb" \
        cmp -s "$d/local/model.pb" "$d/tcp/model.pb"
}

modes ols examples/ols.yaml
modes logistic examples/logistic.yaml
modes random_forest examples/churn-rf.yaml --set model.n_trees=20
modes gbt examples/churn-gbt.yaml --set model.rounds=10
modes mlp examples/mlp.yaml --set model.epochs=2
modes kmeans examples/kmeans.yaml
modes hierarchical examples/hierarchical.yaml
modes dbscan examples/dbscan.yaml
modes isolation_forest examples/isolation_forest.yaml --set model.n_trees=30
modes als examples/cf.yaml --set model.iterations=3
modes item_knn examples/cf-knn.yaml
modes qlearning examples/pricing-q.yaml --set model.rounds=5
modes synthetic examples/synthetic.yaml
modes fedavg examples/fedavg.yaml --set model.federated.rounds=3 --set model.federated.min_workers=2
check "no local worker left behind" no_orphan_workers
finish
