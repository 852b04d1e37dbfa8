#!/usr/bin/env bash
# Benchmark: the order saga's latency, POST /orders -> the order reads CONFIRMED, through the
# gateway, with 50 customers ordering concurrently (issue #4; target p95 < 200 ms).
#
#   bench/saga-latency.sh [ORDERS_PER_USER] [USERS] [THINK_MS]
#
# THINK_MS (default 0): each customer's pause after an order is confirmed; 0 is a closed loop,
# orders back to back, which measures the stack's capacity as much as its latency.
#
# Brings the bundled stack up under its own project and port (so a running `shop` is not
# disturbed), with the gateway's per-user rate limit raised (the benchmark polls each order's
# status, which the default 50 requests/s per user could throttle), runs loadtests' `saga-latency`,
# prints p50/p95/p99, and takes the stack down again (volumes too).
set -euo pipefail
cd "$(dirname "$0")/.."
ORDERS_PER_USER=${1:-20}
USERS=${2:-50}
THINK_MS=${3:-0}
PROJECT=msctlsagabench
export GATEWAY_PORT=${GATEWAY_PORT:-18100}
export RATE_LIMIT_PER_SECOND=100000 RATE_LIMIT_BURST=100000 ACCESS_LOG=false

cargo build -q -p msctl -p loadtests
MSCTL=target/debug/msctl
trap '"$MSCTL" -p "$PROJECT" down --volumes >/dev/null 2>&1 || true' EXIT
"$MSCTL" -p "$PROJECT" up >/dev/null
echo "machine: $(nproc) cores; stack: $("$MSCTL" -p "$PROJECT" ps --json | grep -o '"service"' | wc -l) containers"
target/debug/saga-latency --gateway "http://127.0.0.1:$GATEWAY_PORT" \
  --users "$USERS" --orders-per-user "$ORDERS_PER_USER" --think-ms "$THINK_MS"
