#!/usr/bin/env bash
# Benchmark: msctl load's own request rate against wrk's, on the same GET through the gateway,
# with the same number of connections, in one run (issue #14; target: msctl >= 0.5x wrk).
#
#   bench/load-vs-wrk.sh [CONNECTIONS] [SECONDS] [ROUNDS]    # default 16, 10 s, 2 rounds
#   bench/load-vs-wrk.sh --smoke      # (or BENCH_SMOKE=1) 2 connections, 1 s, 2 rounds, the
#                                     # plain dev build of msctl: ~15 s on a running stack
#
# Two GETs, each run by wrk and by msctl load (a one-step journey, `--no-stack`), ROUNDS times,
# alternating which tool goes first (wrk first in odd rounds, msctl in even ones: ABBA):
#   1. GET /health/live, answered by the gateway itself: the cheapest request the stack has, so
#      the generator's own cost shows most;
#   2. GET /products?per_page=5, proxied to product-service and its PostgreSQL: a real route.
# Prints every run, then per GET the median rate of each tool over the rounds and the ratio.
# msctl does what wrk does not: it checks every response (status and a JSON field), records it
# in goose's metrics (a histogram per step) and runs it as a journey step (templating,
# expectations). wrk only counts. Both share the machine's cores with the stack.
#
# A failed run ends the bench with what failed and no figure: a tool's exit status, no request
# counted, any failed request (wrk: a non-2xx answer or a socket error; msctl: a response that
# missed the journey's expectations).
#
# Brings the bundled stack up under its own project and port, with the gateway's per-client
# rate limit raised (all requests come from one address), and takes it down again. A smoke run
# given BENCH_STACK=PROJECT uses that running bundled stack instead and leaves it up.
cd "$(dirname "$0")/.."
source bench/lib.sh
CONNECTIONS=${1:-16}
SECONDS_EACH=${2:-10}
ROUNDS=${3:-2}
if smoke; then CONNECTIONS=2 SECONDS_EACH=1 ROUNDS=2; fi
PROJECT=msctlloadbench
OUT=target/load-vs-wrk
export GATEWAY_PORT=${GATEWAY_PORT:-18600}
export ADMIN_PASSWORD=${ADMIN_PASSWORD:-bench-admin-password-1}
export RATE_LIMIT_PER_SECOND=${RATE_LIMIT_PER_SECOND:-1000000} RATE_LIMIT_BURST=${RATE_LIMIT_BURST:-1000000}
# The gateway's access log line per request would be the same cost for both; off, the
# figures are the generator's and the route's.
export ACCESS_LOG=${ACCESS_LOG:-false}

need_pkg wrk wrk
command -v jq >/dev/null || fail "needs jq (scripts/bootstrap.sh installs it)"

# The generator is measured as users run it, optimised: msctl's own code is opt-level 0 in
# dev builds (workspace Cargo.toml), so this builds it at 2 like its dependencies, into a copy
# (the next plain `cargo build` recompiles msctl, about a minute). MSCTL_BIN=path skips this;
# a smoke run uses the plain dev build (a rate is not a result there).
mkdir -p "$OUT"
if [ -z "${MSCTL_BIN:-}" ]; then
  if smoke; then
    cargo build -q -p msctl
    MSCTL_BIN=target/debug/msctl
  else
    cargo build -q -p msctl --config 'profile.dev.package.msctl.opt-level=2'
    cp target/debug/msctl "$OUT/msctl"
    MSCTL_BIN=$OUT/msctl
  fi
fi
MSCTL=$(realpath "$MSCTL_BIN")
bundled_stack "$OUT/up.log"
BASE="http://127.0.0.1:$GATEWAY_PORT"
echo "machine: $(nproc) cores; $CONNECTIONS connections, ${SECONDS_EACH} s per run, $ROUNDS rounds per GET"

# One-step journeys: what each msctl user repeats back to back.
journey() { # name path json-check
  cat >"$OUT/$1.yaml" <<EOF
name: $1
steps:
  - name: get
    request: { path: "$2" }
    expect:
      status: 200
      json: { $3: { exists: true } }
EOF
}
journey health-live /health/live '$.status'
journey products '/products?per_page=5' '$.items'

# Each sets RATE (requests/s) and CPU (the generator's own CPU per 1,000 requests, user +
# system, from bash's `time`: what it takes from the stack on a shared machine), or fails.
TIMEFORMAT='%U %S'
wrk_run() { # path round
  local file="$OUT/wrk.txt" n errors
  { time wrk -t 2 -c "$CONNECTIONS" -d "${SECONDS_EACH}s" "$BASE$1" >"$file"; } 2>"$OUT/wrk.time" ||
    fail "wrk on $1 (round $2) exited $?"
  n=$(awk '/requests in/ {print $1}' "$file")
  [ -n "$n" ] && [ "$n" -gt 0 ] || fail "wrk counted no request on $1 (round $2): $file"
  errors=$(grep -E "Non-2xx|Socket errors" "$file" || true)
  [ -z "$errors" ] || fail "wrk on $1 (round $2): $(echo "$errors" | sed 's/^ *//' | paste -sd ';' -) of $n requests"
  RATE=$(awk '/^Requests\/sec:/ {print $2}' "$file")
  CPU=$(tail -n 1 "$OUT/wrk.time" | awk -v n="$n" '{printf "%.1f", ($1 + $2) * 1000 / n * 1000}')
}
msctl_run() { # journey path round
  local n failed rc=0
  { time "$MSCTL" -p "$PROJECT" load "$OUT/$1.yaml" --users "$CONNECTIONS" \
    --duration "${SECONDS_EACH}s" --no-stack --threshold 'rate(failed) < 0.1%' --json \
    >"$OUT/$1.json" 2>"$OUT/$1.err"; } 2>"$OUT/msctl.time" || rc=$?
  if [ "$rc" != 0 ]; then
    show 15 "$OUT/$1.err"
    fail "msctl load on $2 (round $3) exited $rc$([ "$rc" = 99 ] && echo ': more than 0.1 % of requests failed')"
  fi
  n=$(jq '.steps | map(.count) | add // 0' "$OUT/$1.json") || fail "msctl load's --json output ($OUT/$1.json) is not the expected report"
  failed=$(jq '.steps | map(.failed) | add // 0' "$OUT/$1.json")
  [ "$n" -gt 0 ] || fail "msctl load counted no request on $2 (round $3)"
  [ "$failed" = 0 ] || fail "msctl load on $2 (round $3): $failed of $n requests failed"
  RATE=$(jq -r '(.steps | map(.count) | add) / .seconds' "$OUT/$1.json")
  CPU=$(tail -n 1 "$OUT/msctl.time" | awk -v n="$n" '{printf "%.1f", ($1 + $2) * 1000 / n * 1000}')
}

status=0
summary=()
for pair in "health-live /health/live" "products /products?per_page=5"; do
  read -r name path <<<"$pair"
  w=() wc=() m=() mc=()
  for round in $(seq "$ROUNDS"); do
    if [ $((round % 2)) = 1 ]; then order=(wrk msctl); else order=(msctl wrk); fi
    for tool in "${order[@]}"; do
      if [ "$tool" = wrk ]; then
        wrk_run "$path" "$round"
        w+=("$RATE") wc+=("$CPU")
      else
        msctl_run "$name" "$path" "$round"
        m+=("$RATE") mc+=("$CPU")
      fi
      result "$(printf '%-22s round %s  %-5s %10.0f req/s  %8.1f CPU ms/1k' "$path" "$round" "$tool" "$RATE" "$CPU")"
    done
  done
  wm=$(printf '%s\n' "${w[@]}" | median) mm=$(printf '%s\n' "${m[@]}" | median)
  wcm=$(printf '%s\n' "${wc[@]}" | median) mcm=$(printf '%s\n' "${mc[@]}" | median)
  ratio=$(awk -v m="$mm" -v w="$wm" 'BEGIN { printf "%.2f", m / w }')
  summary+=("$(printf '%-22s %10.0f %12.0f %6sx %18.0f %18.0f' "$path" "$wm" "$mm" "$ratio" "$wcm" "$mcm")")
  awk -v r="$ratio" 'BEGIN { exit !(r < 0.5) }' && status=1
done
{
  echo
  echo "median of $ROUNDS rounds:"
  printf '%-22s %10s %12s %7s %18s %18s\n' GET "wrk req/s" "msctl req/s" ratio "wrk CPU ms/1k" "msctl CPU ms/1k"
  printf '%s\n' "${summary[@]}"
  echo "target: msctl >= 0.5x wrk: $(verdict $((1 - status))) (reports: $OUT/)"
} | mark
smoke || exit $status
