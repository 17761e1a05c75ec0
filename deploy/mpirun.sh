#!/usr/bin/env bash
# Runs an experiment under mpirun with the options cohort expects:
# --enable-recovery (a dead rank must not take the others down), root
# permission when run as root, and oversubscription on small machines.
# usage: deploy/mpirun.sh NP FILE.yaml [cohort run options...]
set -euo pipefail
np=${1:?usage: deploy/mpirun.sh NP FILE.yaml [options]}
shift
here=$(cd "$(dirname "$0")/.." && pwd)
exe=${COHORT:-$here/build/cohort}
extra=()
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
if [ "$np" -gt "$(nproc)" ]; then
  extra+=(--oversubscribe)
fi
exec mpirun --enable-recovery "${extra[@]}" ${HOSTFILE:+--hostfile "$HOSTFILE"} -np "$np" "$exe" run "$@"
