#!/usr/bin/env bash
# Benchmark: the order saga's latency, POST /orders -> the customer has the CONFIRMED order,
# through the gateway, with 50 customers ordering concurrently (issue #4; target p95 < 200 ms).
#
#   bench/saga-latency.sh [ORDERS_PER_USER] [USERS] [THINK_MS]
#
# Each customer places an order, waits for its outcome (GET /orders/{id}?wait=, answered when
# the saga settles), pauses about THINK_MS (jittered +-50 %), and orders again. Without THINK_MS
# the script runs two workloads on one stack and prints both:
#   1. customers pausing ~1 s between orders: the target's figure (exit status 1 if missed);
#   2. customers ordering back to back: a closed loop, which measures the stack's capacity (by
#      Little's law, latency = customers / throughput), printed for reference.
#
# Brings the bundled stack up as it ships, under its own project and port (so a running `shop`
# is not disturbed), and takes it down again (volumes too).
set -euo pipefail
cd "$(dirname "$0")/.."
ORDERS_PER_USER=${1:-20}
USERS=${2:-50}
PROJECT=msctlsagabench
export GATEWAY_PORT=${GATEWAY_PORT:-18100}
# Its own admin password (saga-latency reads it from here), so that `up` (a fresh volume)
# generates none into .env, where the password of your `shop` stack belongs (`secrets:`).
export ADMIN_PASSWORD=${ADMIN_PASSWORD:-bench-admin-password-1}

cargo build -q -p msctl -p loadtests
MSCTL=target/debug/msctl
trap '"$MSCTL" -p "$PROJECT" down --volumes >/dev/null 2>&1 || true' EXIT
mkdir -p target
"$MSCTL" -p "$PROJECT" up >target/saga-latency-up.log 2>&1 || { cat target/saga-latency-up.log; exit 1; }
echo "machine: $(nproc) cores; stack: $("$MSCTL" -p "$PROJECT" ps --json | grep -o '"service"' | wc -l) containers"
run() {
  target/debug/saga-latency --gateway "http://127.0.0.1:$GATEWAY_PORT" \
    --users "$USERS" --orders-per-user "$ORDERS_PER_USER" --think-ms "$1"
}
if [ $# -ge 3 ]; then
  run "$3"
else
  status=0
  run 1000 || status=$?
  echo "-- for reference, the same customers ordering back to back (the stack's capacity):"
  run 0 || true
  exit $status
fi
