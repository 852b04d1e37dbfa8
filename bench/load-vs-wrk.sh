#!/usr/bin/env bash
# Benchmark: msctl load's own request rate against wrk's, on the same GET through the gateway,
# with the same number of connections, in one run (issue #14; target: msctl >= 0.5x wrk).
#
#   bench/load-vs-wrk.sh [CONNECTIONS] [SECONDS]
#
# Two GETs, each run by wrk then by msctl load (a one-step journey, `--no-stack`):
#   1. GET /health/live, answered by the gateway itself: the cheapest request the stack has, so
#      the generator's own cost shows most;
#   2. GET /products?per_page=5, proxied to product-service and its PostgreSQL: a real route.
# msctl does what wrk does not: it checks every response (status and a JSON field), records it
# in goose's metrics (a histogram per step) and runs it as a journey step (templating,
# expectations). wrk only counts. Both share the machine's cores with the stack.
#
# Brings the bundled stack up under its own project and port, with the gateway's per-client
# rate limit raised (all requests come from one address), and takes it down again.
set -euo pipefail
cd "$(dirname "$0")/.."
CONNECTIONS=${1:-16}
SECONDS_EACH=${2:-10}
PROJECT=msctlloadbench
export GATEWAY_PORT=${GATEWAY_PORT:-18200}
export ADMIN_PASSWORD=${ADMIN_PASSWORD:-bench-admin-password-1}
export RATE_LIMIT_PER_SECOND=1000000 RATE_LIMIT_BURST=1000000
# The gateway's access log line per request would be the same cost for both; off, the
# figures are the generator's and the route's.
export ACCESS_LOG=false

if ! command -v wrk >/dev/null 2>&1; then
  echo "load-vs-wrk: installing wrk (apt-get install wrk)" >&2
  apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
fi
command -v jq >/dev/null || { echo "load-vs-wrk: needs jq (scripts/bootstrap.sh installs it)" >&2; exit 1; }

# The generator is measured as users run it, optimised: msctl's own code is opt-level 0 in
# dev builds (workspace Cargo.toml), so this builds it at 2 like its dependencies, into a copy
# (the next plain `cargo build` recompiles msctl, about a minute). MSCTL_BIN=path skips this.
mkdir -p target/load-vs-wrk
if [ -z "${MSCTL_BIN:-}" ]; then
  cargo build -q -p msctl --config 'profile.dev.package.msctl.opt-level=2'
  cp target/debug/msctl target/load-vs-wrk/msctl
  MSCTL_BIN=target/load-vs-wrk/msctl
fi
MSCTL=$(realpath "$MSCTL_BIN")
trap '"$MSCTL" -p "$PROJECT" down --volumes >/dev/null 2>&1 || true' EXIT
"$MSCTL" -p "$PROJECT" up >target/load-vs-wrk/up.log 2>&1 || { cat target/load-vs-wrk/up.log; exit 1; }
BASE="http://127.0.0.1:$GATEWAY_PORT"
echo "machine: $(nproc) cores; $CONNECTIONS connections, ${SECONDS_EACH} s per tool and GET"

# One-step journeys: what each msctl user repeats back to back.
journey() { # name path json-check
  cat >"target/load-vs-wrk/$1.yaml" <<EOF
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

# Each prints "requests/s CPU-ms-per-1000-requests": the generator's own CPU (user + system,
# from bash's `time`), which is what it takes from the stack on a shared machine.
TIMEFORMAT='%U %S'
wrk_run() { # path
  local out cpu
  out=$({ time wrk -t 2 -c "$CONNECTIONS" -d "${SECONDS_EACH}s" "$BASE$1" >target/load-vs-wrk/wrk.txt; } 2>&1)
  grep -q Non-2xx target/load-vs-wrk/wrk.txt && echo "load-vs-wrk: wrk got non-2xx answers on $1" >&2
  cpu=$(awk '{print ($1 + $2) * 1000}' <<<"$out")
  awk -v cpu="$cpu" '/^Requests\/sec:/ {rate=$2} /requests in/ {n=$1}
    END {printf "%s %.1f\n", rate, cpu / n * 1000}' target/load-vs-wrk/wrk.txt
}
msctl_run() { # journey
  local out
  out=$({ time "$MSCTL" -p "$PROJECT" load "target/load-vs-wrk/$1.yaml" --users "$CONNECTIONS" \
    --duration "${SECONDS_EACH}s" --no-stack --threshold 'rate(failed) < 0.1%' --json \
    >"target/load-vs-wrk/$1.json" 2>"target/load-vs-wrk/$1.err"; } 2>&1) || {
    echo "load-vs-wrk: msctl load $1 failed:" >&2
    cat "target/load-vs-wrk/$1.err" >&2
    exit 1
  }
  jq -r --arg cpu "$(awk '{print ($1 + $2) * 1000}' <<<"$out")" \
    '(.steps | map(.count) | add) as $n | "\($n / .seconds) \(($cpu | tonumber) / $n * 1000)"' \
    "target/load-vs-wrk/$1.json"
}

status=0
printf '%-22s %10s %12s %7s %18s %18s\n' GET "wrk req/s" "msctl req/s" ratio "wrk CPU ms/1k" "msctl CPU ms/1k"
for pair in "health-live /health/live" "products /products?per_page=5"; do
  read -r name path <<<"$pair"
  read -r w wcpu < <(wrk_run "$path")
  read -r m mcpu < <(msctl_run "$name")
  ratio=$(awk -v m="$m" -v w="$w" 'BEGIN { printf "%.2f", m / w }')
  printf '%-22s %10.0f %12.0f %6sx %18.0f %18.0f\n' "$path" "$w" "$m" "$ratio" "$wcpu" "$mcpu"
  awk -v r="$ratio" 'BEGIN { exit !(r < 0.5) }' && status=1
done
echo "target: msctl >= 0.5x wrk (reports: target/load-vs-wrk/)"
exit $status
