#!/usr/bin/env bash
# Benchmark: the order saga's latency, POST /orders -> the customer has the CONFIRMED order,
# through the gateway, with 50 customers ordering concurrently (issue #4; target p95 < 200 ms).
#
#   bench/saga-latency.sh [ORDERS_PER_USER] [USERS] [THINK_MS]
#   bench/saga-latency.sh --smoke     # (or BENCH_SMOKE=1) 3 customers, 3 orders each, both
#                                     # workloads: ~5 s on a running stack
#
# Each customer places an order, waits for its outcome (GET /orders/{id}?wait=, answered when
# the saga settles), pauses about THINK_MS (jittered +-50 %), and orders again. Without THINK_MS
# the script runs two workloads on one stack and prints both:
#   1. customers pausing ~1 s between orders: the target's figure (exit status 1 if missed);
#   2. customers ordering back to back: a closed loop, which measures the stack's capacity (by
#      Little's law, latency = customers / throughput), printed for reference.
# A run in which an order was not confirmed, or that ends without its report (saga-latency's
# own error), fails the bench and prints no figure for it; a missed target is a result.
#
# Brings the bundled stack up as it ships, under its own project and port (so a running `shop`
# is not disturbed), and takes it down again (volumes too). A smoke run given BENCH_STACK=PROJECT
# uses that running bundled stack instead and leaves it up (scripts/bench-smoke.sh shares one).
cd "$(dirname "$0")/.."
source bench/lib.sh
ORDERS_PER_USER=${1:-20}
USERS=${2:-50}
PAUSE=1000
if smoke; then ORDERS_PER_USER=3 USERS=3 PAUSE=200; fi
PROJECT=msctlsagabench
export GATEWAY_PORT=${GATEWAY_PORT:-18100}
# Its own admin password (saga-latency reads it from here) and identity keys, so that `up` (a
# fresh volume) generates nothing into .env, where the secrets of your `shop` stack belong.
export ADMIN_PASSWORD=${ADMIN_PASSWORD:-bench-admin-password-1}
OUT=target/bench/saga
mkdir -p "$OUT"

cargo build -q -p msctl -p loadtests
MSCTL=target/debug/msctl
bundled_stack "$OUT/up.log"
echo "machine: $(nproc) cores; stack: project $PROJECT, $(docker ps -q --filter "label=msctl.project=$PROJECT" | wc -l) containers"

# run THINK_MS WHAT: one saga-latency run. Its report is printed only when every order was
# confirmed; sets MISSED=1 when the p95 target was missed.
run() {
  local file="$OUT/think-$1.txt" rc=0 line orders not_confirmed
  target/debug/saga-latency --gateway "http://127.0.0.1:$GATEWAY_PORT" \
    --users "$USERS" --orders-per-user "$ORDERS_PER_USER" --think-ms "$1" >"$file" 2>"$file.err" || rc=$?
  line=$(grep '^saga latency, ' "$file" || true)
  if [ -z "$line" ]; then
    show 5 "$file.err"
    fail "saga-latency ($2) exited $rc without a report"
  fi
  orders=$(sed -n 's/.* \([0-9][0-9]*\) orders in .*/\1/p' <<<"$line")
  not_confirmed=$(sed -n 's/.*(\([0-9][0-9]*\) not confirmed).*/\1/p' <<<"$line")
  [ -n "$orders" ] && [ -n "$not_confirmed" ] || fail "saga-latency's report ($file) is not in the expected form"
  [ "$not_confirmed" = 0 ] || fail "saga-latency ($2): $not_confirmed of $((orders + not_confirmed)) orders were not confirmed"
  [ "$orders" -gt 0 ] || fail "saga-latency ($2): no order was confirmed"
  # Every order confirmed: exit 1 now means the p95 target was missed; anything else is a failure.
  case $rc in
    0) MISSED=0 ;;
    1) MISSED=1 ;;
    *) fail "saga-latency ($2) exited $rc" ;;
  esac
  mark <"$file"
}
if [ $# -ge 3 ]; then
  run "$3" "pausing ~$3 ms"
  smoke || exit "$MISSED"
else
  run "$PAUSE" "pausing ~$PAUSE ms"
  missed=$MISSED
  result "-- for reference, the same customers ordering back to back (the stack's capacity):"
  run 0 "back to back"
  smoke || exit "$missed"
fi
