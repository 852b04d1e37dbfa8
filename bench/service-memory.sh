#!/usr/bin/env bash
# Benchmark: every service's memory (RSS) idle, right after a burst, and idle again (issue #12,
# item 9; target: every service under 60 MiB idle after the burst, user-service included).
#
#   bench/service-memory.sh [LOGINS=1000] [ORDERS=1000] [CONCURRENCY=20]
#   bench/service-memory.sh --smoke   # (or BENCH_SMOKE=1) 4 logins, 4 orders, 2 at a time, 1 s
#                                     # settles, no target judged: ~10 s on a running stack
#
# Brings the bundled stack up under its own project and port (MEMBENCH_PROJECT, default
# msctlmembench; GATEWAY_PORT, default 18200), fresh (its volumes removed first, so "idle" is a
# service that has done nothing but start), then:
#   1. idle:        10 s after `up` (SETTLE_SECONDS), every service's RSS;
#   2. burst:       LOGINS logins of one customer, CONCURRENCY at a time (argon2id, 19 MiB
#                   each, in the user service), then ORDERS orders by CONCURRENCY customers,
#                   each followed to its outcome; RSS right after;
#   3. idle again:  SETTLE_SECONDS later, RSS again.
# and prints the table (MiB), marking the 60 MiB target on the idle-again column; exit 1 if a
# service misses it. A failed run prints no table and exits 1 with what failed: a login or an
# order of the burst failed, a service has no running container, or its memory cannot be read
# (no process found, /proc unreadable, no VmRSS, a zero reading). The stack is taken down
# (volumes too) at the end unless KEEP=1. A smoke run given BENCH_STACK=PROJECT measures that
# running bundled stack instead (not fresh) and leaves it up (scripts/bench-smoke.sh).
#
# RSS is the service process's VmRSS (each service image runs one process, under docker-init),
# read from the host's /proc at the host PIDs `docker top` gives (needs root, which msctl's
# stand-ins need anyway); where /proc is not readable, `docker stats` (the cgroup's usage,
# cache included) instead, and the table says so.
#
# The gateway's per-client rate limit (50/s, burst 100 in msctl.yaml) would refuse most of a
# burst from one client: the script raises it (RATE_LIMIT_PER_SECOND / RATE_LIMIT_BURST, which
# msctl.yaml interpolates) for this stack. The admin account that creates the burst's products:
# ADMIN_EMAIL / ADMIN_PASSWORD from the environment, else the bench's own password, which `up`
# gives the fresh stack (so that it generates nothing into .env, where your `shop`'s belongs).
cd "$(dirname "$0")/.."
source bench/lib.sh
LOGINS=${1:-1000}
ORDERS=${2:-1000}
CONCURRENCY=${3:-20}
SETTLE=${SETTLE_SECONDS:-10}
if smoke; then LOGINS=4 ORDERS=4 CONCURRENCY=2 SETTLE=1; fi
PROJECT=${MEMBENCH_PROJECT:-msctlmembench}
TARGET_MIB=60
SERVICES=(gateway user-service product-service order-service payment-service notification-service)
export GATEWAY_PORT=${GATEWAY_PORT:-18200}
export RATE_LIMIT_PER_SECOND=${RATE_LIMIT_PER_SECOND:-100000}
export RATE_LIMIT_BURST=${RATE_LIMIT_BURST:-100000}
export ADMIN_EMAIL=${ADMIN_EMAIL:-admin@shop.local}
export ADMIN_PASSWORD=${ADMIN_PASSWORD:-bench-admin-password-1}
BIN=${CARGO_TARGET_DIR:-target}/debug
OUT=target/bench/memory
mkdir -p "$OUT"

cargo build -q -p msctl -p loadtests
MSCTL=$BIN/msctl

if [ "${KEEP:-0}" = 1 ] && ! { smoke && [ -n "${BENCH_STACK:-}" ]; }; then
  # bundled_stack removes the stack at the end; KEEP=1 keeps it: bring it up here instead.
  bench_keys
  logged "$OUT/up.log" "msctl up of the bundled stack as $PROJECT" "$MSCTL" -p "$PROJECT" up
else
  bundled_stack "$OUT/up.log"
fi

container() { # the running container of service $1 (one), or fail
  local ids
  ids=$(docker ps -q --filter "label=msctl.project=$PROJECT" --filter "label=msctl.service=$1")
  [ -n "$ids" ] || fail "$1 has no running container in $PROJECT"
  echo "${ids%%$'\n'*}"
}
# The container's processes as host PIDs, but its init (docker-init, when `init: true`).
service_pids() {
  local pid top
  top=$(docker top "$1" -eo pid) || fail "docker top $1 failed"
  for pid in $(tail -n +2 <<<"$top"); do
    grep -qx 'Name:[[:space:]]*docker-init' "/proc/$pid/status" 2>/dev/null || echo "$pid"
  done
}
gateway_pid=$(docker inspect -f '{{.State.Pid}}' "$(container gateway)")
if [ -r "/proc/$gateway_pid/status" ]; then
  SOURCE="VmRSS of the service's process, from the host's /proc"
else
  SOURCE="docker stats: the cgroup's usage, cache included"
fi
# rss_kib SERVICE: its RSS in KiB, into RSS; a reading that cannot be made fails the bench
# (never a 0 that would pass for "under the target").
rss_kib() {
  local id pids pid v kib=0
  id=$(container "$1")
  if [ "${SOURCE:0:5}" = VmRSS ]; then
    pids=$(service_pids "$id")
    [ -n "$pids" ] || fail "no process of $1 found in its container ($id)"
    for pid in $pids; do
      v=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
      [ -n "$v" ] || fail "cannot read the VmRSS of $1's process $pid (/proc/$pid/status)"
      kib=$((kib + v))
    done
  else
    v=$(docker stats --no-stream --format '{{.MemUsage}}' "$id") || fail "docker stats $1 failed"
    kib=$(awk '{
      v = $1; n = v + 0
      if (v ~ /GiB/) n *= 1048576; else if (v ~ /MiB/) n *= 1024; else if (v ~ /kB|KiB/) n *= 1
      else n /= 1024
      printf "%d\n", n }' <<<"$v")
  fi
  [ -n "$kib" ] && [ "$kib" -gt 0 ] || fail "$1's memory reads as ${kib:-nothing} KiB"
  RSS=$kib
}
declare -A IDLE BURST AGAIN
measure() { # into the associative array named $1
  local -n into=$1
  local s
  for s in "${SERVICES[@]}"; do
    rss_kib "$s"
    into[$s]=$RSS
  done
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo); stack: project $PROJECT, $(docker ps -q --filter "label=msctl.project=$PROJECT" | wc -l) containers"
sleep "$SETTLE"
measure IDLE
"$BIN/memory-burst" --gateway "http://127.0.0.1:$GATEWAY_PORT" \
  --logins "$LOGINS" --orders "$ORDERS" --concurrency "$CONCURRENCY" >"$OUT/burst.txt" 2>&1 || {
  show 20 "$OUT/burst.txt"
  fail "the burst failed (memory-burst exited non-zero: a login or an order failed)"
}
measure BURST
mark <"$OUT/burst.txt"
sleep "$SETTLE"
measure AGAIN

status=0
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
{
  echo
  echo "RSS, MiB ($SOURCE); burst: $LOGINS logins at $CONCURRENCY concurrent, $ORDERS orders; idle again: ${SETTLE} s after"
  printf '| %-20s | %8s | %11s | %10s | %-21s |\n' service idle "after burst" "idle again" "< $TARGET_MIB MiB idle again"
  printf '|%s|%s|%s|%s|%s|\n' "----------------------" "---------:" "------------:" "-----------:" "-----------------------"
  for s in "${SERVICES[@]}"; do
    printf '| %-20s | %8s | %11s | %10s | %-21s |\n' "$s" "$(mib "${IDLE[$s]}")" "$(mib "${BURST[$s]}")" \
      "$(mib "${AGAIN[$s]}")" "$(verdict "$([ "${AGAIN[$s]}" -lt $((TARGET_MIB * 1024)) ] && echo 1 || echo 0)")"
  done
} | mark
if ! smoke; then
  for s in "${SERVICES[@]}"; do [ "${AGAIN[$s]}" -lt $((TARGET_MIB * 1024)) ] || status=1; done
fi
exit $status
