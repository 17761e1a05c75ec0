#!/usr/bin/env bash
# Installs the Debian 12 packages cohort needs to build, test and run.
# Idempotent: installs only what is missing.
# Usage: deploy/install-deps.sh [--test] [--bench]
#   --test   also what the test suite drives: headless Chromium for reports,
#            and python3-xgboost, which loads the GBT model's XGBoost JSON
#            export (the interop check; numerical references are stored in
#            the tests and need no peer)
#   --bench  also the peers the benchmarks compare against (numpy, R, ...)
set -euo pipefail

build_pkgs=(build-essential cmake pkg-config
  libopenmpi-dev openmpi-bin
  libzmq3-dev libprotobuf-c-dev protobuf-c-compiler
  libopenblas-dev liblapacke-dev
  libyaml-dev libsqlite3-dev zlib1g-dev
  clang libclang-rt-14-dev procps)
test_pkgs=(chromium python3-xgboost)
bench_pkgs=(python3-numpy python3-sklearn python3-xgboost r-base-core hyperfine
  dataset-fashion-mnist python3-torch python3-scipy python3-fastcluster python3-psutil
  r-cran-ranger r-cran-dbscan r-cran-data.table)

want=("${build_pkgs[@]}")
for arg in "$@"; do
  case "$arg" in
    --test) want+=("${test_pkgs[@]}") ;;
    --bench) want+=("${bench_pkgs[@]}") ;;
    *) echo "install-deps: unknown option $arg (use --test, --bench)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=sudo
  else
    echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
else
  SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y --no-install-recommends "${missing[@]}" >/tmp/cohort-apt.log 2>&1; then
  $SUDO apt-get update >>/tmp/cohort-apt.log 2>&1 || true
  if ! $SUDO apt-get install -y --no-install-recommends "${missing[@]}" >>/tmp/cohort-apt.log 2>&1; then
    echo "install-deps: apt-get could not install: ${missing[*]}" >&2
    echo "install-deps: see /tmp/cohort-apt.log; on a non-Debian system install the equivalents by hand" >&2
    exit 1
  fi
fi
