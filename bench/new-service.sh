#!/usr/bin/env bash
# Benchmark: from `msctl new service` to the new service healthy in the running stack with its
# journey passed, on a warm build cache (issue #15; target: under 3 minutes on 2 cores).
#
#   bench/new-service.sh
#
# Not timed, first: a scratch copy of the repository, its workspace built, its stack up (the
# state a developer is in). Timed: `msctl new service billing --consumes order.confirmed`,
# `msctl up` (builds billing, starts its database, recreates the gateway for the new route) and
# `msctl test journeys billing-crud`. The copy's stack is removed with its volumes at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
# Always the same path: cargo tells packages apart by path, so a fixed one lets the next run
# reuse this one's build of the copy's crates.
SCRATCH=/tmp/msctl-scratch-new-service
rm -rf "$SCRATCH" && mkdir -p "$SCRATCH"
PROJECT=msctlnewsvcbench
export GATEWAY_PORT=18400
export CARGO_TARGET_DIR=$REPO/target
export ADMIN_PASSWORD=new-service-bench-password-1
cargo build -q -p msctl
MSCTL=$REPO/target/debug/msctl
trap '(cd "$SCRATCH" && "$MSCTL" -p "$PROJECT" down --volumes >/dev/null 2>&1) || true; rm -rf "$SCRATCH"' EXIT
source scripts/scratch-copy.sh
scratch_copy "$SCRATCH"
cd "$SCRATCH"

echo "new-service bench: warming up (the copy's workspace built, its stack up; not timed)"
cargo build -q --workspace
"$MSCTL" -p "$PROJECT" up >up-before.log 2>&1 || { cat up-before.log; exit 1; }

t0=$(date +%s.%N)
"$MSCTL" new service billing --consumes order.confirmed >new.log
t1=$(date +%s.%N)
"$MSCTL" -p "$PROJECT" up >up-after.log 2>&1 || { cat up-after.log; exit 1; }
t2=$(date +%s.%N)
"$MSCTL" -p "$PROJECT" test journeys billing-crud >journey.log 2>&1 || { cat journey.log; exit 1; }
t3=$(date +%s.%N)

awk -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" 'BEGIN {
  printf "msctl new service      %6.1f s\n", b - a
  printf "msctl up (build, run)  %6.1f s\n", c - b
  printf "journey billing-crud   %6.1f s\n", d - c
  printf "total                  %6.1f s   (target < 180 s: %s)\n", d - a, (d - a < 180) ? "met" : "MISSED"
  exit (d - a < 180) ? 0 : 1
}'
