#!/usr/bin/env bash
# Benchmark: every service's memory (RSS) idle, right after a burst, and idle again (issue #12,
# item 9; target: every service under 60 MiB idle after the burst, user-service included).
#
#   bench/service-memory.sh [LOGINS=1000] [ORDERS=1000] [CONCURRENCY=20]
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
# service misses it or the burst had failures. The stack is taken down (volumes too) at the
# end unless KEEP=1.
#
# RSS is the service process's VmRSS (each service image runs one process, under docker-init),
# read from the host's /proc at the host PIDs `docker top` gives (needs root, which msctl's
# stand-ins need anyway); where /proc is not readable, `docker stats` (the cgroup's usage,
# cache included) instead, and the table says so.
#
# The gateway's per-client rate limit (50/s, burst 100 in msctl.yaml) would refuse most of a
# burst from one client: the script raises it (RATE_LIMIT_PER_SECOND / RATE_LIMIT_BURST, which
# msctl.yaml interpolates) for this stack. The admin account that creates the burst's products:
# ADMIN_EMAIL / ADMIN_PASSWORD from the environment, else from `.env` (which msctl reads too),
# else the stack's defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
LOGINS=${1:-1000}
ORDERS=${2:-1000}
CONCURRENCY=${3:-20}
PROJECT=${MEMBENCH_PROJECT:-msctlmembench}
SETTLE=${SETTLE_SECONDS:-10}
TARGET_MIB=60
SERVICES=(gateway user-service product-service order-service payment-service notification-service)
export GATEWAY_PORT=${GATEWAY_PORT:-18200}
export RATE_LIMIT_PER_SECOND=${RATE_LIMIT_PER_SECOND:-100000}
export RATE_LIMIT_BURST=${RATE_LIMIT_BURST:-100000}
BIN=${CARGO_TARGET_DIR:-target}/debug
OUT=target/bench/memory
mkdir -p "$OUT"

cargo build -q -p msctl -p loadtests
MSCTL=$BIN/msctl

dotenv() { # the value of $1 in .env, if any
  [ -f .env ] || return 0
  sed -n -E "s/^[[:space:]]*(export[[:space:]]+)?$1=[\"']?([^\"']*)[\"']?[[:space:]]*$/\2/p" .env | tail -1
}

down() { "$MSCTL" -p "$PROJECT" down --volumes >/dev/null 2>&1 || true; }
if [ "${KEEP:-0}" != 1 ]; then trap down EXIT; fi
down
"$MSCTL" -p "$PROJECT" up >"$OUT/up.log" 2>&1 || { cat "$OUT/up.log"; exit 1; }
# `up` may have written a generated admin password into .env: read it after.
ADMIN_EMAIL=${ADMIN_EMAIL:-$(dotenv ADMIN_EMAIL)}
ADMIN_PASSWORD=${ADMIN_PASSWORD:-$(dotenv ADMIN_PASSWORD)}
export ADMIN_EMAIL=${ADMIN_EMAIL:-admin@shop.local}
export ADMIN_PASSWORD=${ADMIN_PASSWORD:-admin-password-1}

container() { docker ps -q --filter "label=msctl.project=$PROJECT" --filter "label=msctl.service=$1" | head -1; }
# The container's processes as host PIDs, but its init (docker-init, when `init: true`).
service_pids() {
  local pid
  for pid in $(docker top "$1" -eo pid | tail -n +2); do
    grep -qx 'Name:[[:space:]]*docker-init' "/proc/$pid/status" 2>/dev/null || echo "$pid"
  done
}
if [ -r "/proc/$(docker inspect -f '{{.State.Pid}}' "$(container gateway)")/status" ]; then
  SOURCE="VmRSS of the service's process, from the host's /proc"
else
  SOURCE="docker stats: the cgroup's usage, cache included"
fi
rss_kib() { # RSS of service $1's process(es), KiB; empty if it is not running
  local id
  id=$(container "$1")
  [ -n "$id" ] || return 0
  if [ "${SOURCE:0:5}" = VmRSS ]; then
    for pid in $(service_pids "$id"); do cat "/proc/$pid/status"; done |
      awk '/^VmRSS:/ { kib += $2 } END { print kib + 0 }'
  else
    docker stats --no-stream --format '{{.MemUsage}}' "$id" | awk '{
      v = $1; n = v + 0
      if (v ~ /GiB/) n *= 1048576; else if (v ~ /MiB/) n *= 1024; else if (v ~ /kB|KiB/) n *= 1
      else n /= 1024
      printf "%d\n", n }'
  fi
}
declare -A IDLE BURST AGAIN
measure() { # into the associative array named $1
  local -n into=$1
  for s in "${SERVICES[@]}"; do into[$s]=$(rss_kib "$s"); done
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo); stack: project $PROJECT, $(docker ps -q --filter "label=msctl.project=$PROJECT" | wc -l) containers"
sleep "$SETTLE"
measure IDLE
status=0
"$BIN/memory-burst" --gateway "http://127.0.0.1:$GATEWAY_PORT" \
  --logins "$LOGINS" --orders "$ORDERS" --concurrency "$CONCURRENCY" || status=1
measure BURST
sleep "$SETTLE"
measure AGAIN

mib() { if [ -n "$1" ]; then awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; else echo -; fi; }
echo
echo "RSS, MiB ($SOURCE); burst: $LOGINS logins at $CONCURRENCY concurrent, $ORDERS orders; idle again: ${SETTLE} s after"
printf '| %-20s | %8s | %11s | %10s | %-21s |\n' service idle "after burst" "idle again" "< $TARGET_MIB MiB idle again"
printf '|%s|%s|%s|%s|%s|\n' "----------------------" "---------:" "------------:" "-----------:" "-----------------------"
for s in "${SERVICES[@]}"; do
  if [ -z "${AGAIN[$s]}" ]; then verdict="not running"; status=1
  elif [ "${AGAIN[$s]}" -lt $((TARGET_MIB * 1024)) ]; then verdict=met
  else verdict=MISSED; status=1; fi
  printf '| %-20s | %8s | %11s | %10s | %-21s |\n' "$s" "$(mib "${IDLE[$s]}")" "$(mib "${BURST[$s]}")" "$(mib "${AGAIN[$s]}")" "$verdict"
done
exit $status
