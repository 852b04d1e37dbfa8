#!/usr/bin/env bash
# Benchmark: from `msctl new service` to the new service healthy in the running stack with its
# journey passed, on a warm build cache (issue #15; target: under 3 minutes on 2 cores).
#
#   bench/new-service.sh
#   bench/new-service.sh --smoke    # (or BENCH_SMOKE=1) no warm-up: the timed `up` starts the
#                                   # whole stack with billing, from nothing: ~1 min
#
# Not timed, first: a scratch copy of the repository, its workspace built, its stack up (the
# state a developer is in). Timed: `msctl new service billing --consumes order.confirmed`,
# `msctl up` (builds billing, starts its database, recreates the gateway for the new route) and
# `msctl test journeys billing-crud`. The copy's stack is removed with its volumes at the end,
# however the bench ends. A failed step (its exit status) ends the bench with what failed, and
# no time is printed.
#
# The scratch copy's path is scripts/new-service-e2e.sh's, so that each reuses the other's build
# of the copy's crates (in CI this bench runs after it, warm): never run the two at the same
# time, or set NEW_SERVICE_SCRATCH=/another/fixed/path (whose first run compiles the copy).
cd "$(dirname "$0")/.."
source bench/lib.sh
REPO=$PWD
# Always the same path: cargo tells packages apart by path, so a fixed one lets the next run
# reuse this one's build of the copy's crates.
SCRATCH=${NEW_SERVICE_SCRATCH:-/tmp/msctl-scratch-new-service}
PROJECT=msctlnewsvcbench
export GATEWAY_PORT=18400
export CARGO_TARGET_DIR=$REPO/target
export ADMIN_PASSWORD=new-service-bench-password-1
# Logs outlive the scratch copy.
OUT=$REPO/target/bench/new-service
mkdir -p "$OUT"
cargo build -q -p msctl
MSCTL=$REPO/target/debug/msctl
bench_keys
rm -rf "$SCRATCH" && mkdir -p "$SCRATCH"
on_exit '(cd "$SCRATCH" && "$MSCTL" -p "$PROJECT" down --volumes >/dev/null 2>&1); rm -rf "$SCRATCH"'
scratch_copy "$SCRATCH"
cd "$SCRATCH"

if ! smoke; then
  echo "new-service bench: warming up (the copy's workspace built, its stack up; not timed)"
  cargo build -q --workspace
  logged "$OUT/up-before.log" "msctl up (before the new service)" "$MSCTL" -p "$PROJECT" up
fi

timed t_new "$OUT/new.log" "msctl new service billing" "$MSCTL" new service billing --consumes order.confirmed
timed t_up "$OUT/up-after.log" "msctl up (with billing)" "$MSCTL" -p "$PROJECT" up
timed t_journey "$OUT/journey.log" "msctl test journeys billing-crud" "$MSCTL" -p "$PROJECT" test journeys billing-crud

total=$(echo "$t_new + $t_up + $t_journey" | bc)
{
  printf 'msctl new service      %6.1f s\n' "$t_new"
  printf 'msctl up (build, run)  %6.1f s%s\n' "$t_up" "$(smoke && echo '   (smoke: the whole stack from nothing)')"
  printf 'journey billing-crud   %6.1f s\n' "$t_journey"
  printf 'total                  %6.1f s   (target < 180 s: %s)\n' "$total" "$(verdict "$(echo "$total < 180" | bc -l)")"
} | mark
# A missed target is a result: exit 1, after the figures.
if ! smoke && [ "$(echo "$total < 180" | bc -l)" = 0 ]; then exit 1; fi
