#!/usr/bin/env bash
# Benchmark: `msctl up` against docker compose on the same stack, in one run.
#
#   bench/up-vs-compose.sh [RUNS]
#
# Exports the bundled stack (msctl.yaml) as a compose file with `msctl export compose`, then
# times, alternating the two tools so neither gets a warmer machine:
#   cold start: images present, containers absent  (msctl up   vs  compose up -d --wait)
#   no-op:      the stack already up and unchanged  (msctl up   vs  compose up -d --wait)
# and prints the median of each, and the ratio. Targets (issue #2): no-op <= 0.3 s and >= 3x
# faster than compose; cold start no slower than compose.
#
# Compose v2 (`docker compose`) is used when present, with --wait. Debian bookworm ships only
# Compose v1 (`docker-compose` 1.29), which has no --wait: the script then runs `up -d` and
# polls `docker inspect` until every container is healthy (or exited 0), which is what --wait
# does. The poll is counted in compose's time, as --wait would be.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
MSCTL=${MSCTL:-target/debug/msctl}
PROJECT=msctlbench
OUT=target/bench
# Its own host port, so a running bundled stack (port 8000) does not collide with it.
export GATEWAY_PORT=${GATEWAY_PORT:-18000}
# Its own admin password, so that `up` (a fresh volume) generates none into .env, where the
# password of your `shop` stack belongs (msctl.yaml `secrets:`).
export ADMIN_PASSWORD=${ADMIN_PASSWORD:-bench-admin-password-1}
mkdir -p "$OUT"

[ -x "$MSCTL" ] || cargo build -p msctl
if docker compose version >/dev/null 2>&1; then
  COMPOSE=(docker compose); WAIT=(--wait)
elif command -v docker-compose >/dev/null; then
  COMPOSE=(docker-compose); WAIT=()
else
  echo "neither 'docker compose' nor 'docker-compose' is installed: apt-get install docker-compose" >&2; exit 1
fi
echo "peer: $("${COMPOSE[@]}" version --short 2>/dev/null || "${COMPOSE[@]}" version | head -1)"

msctl() { "$MSCTL" -p "$PROJECT" "$@"; }
compose() { "${COMPOSE[@]}" -p "$PROJECT" -f "$OUT/compose.yaml" "$@"; }

# Both tools see the same images: msctl builds them once (and the stand-ins if needed).
cleanup() { msctl down --volumes >/dev/null 2>&1 || true; compose down -v >/dev/null 2>&1 || true; }
trap cleanup EXIT
cleanup
echo "preparing images with msctl up (first run may build stand-ins)..."
msctl up >/dev/null
msctl export compose -o "$OUT/compose.yaml"
msctl down --volumes >/dev/null

compose_wait() {
  [ ${#WAIT[@]} -gt 0 ] && return 0
  local ids
  ids=$(docker ps -aq --filter "label=com.docker.compose.project=$PROJECT")
  while :; do
    local pending=0
    while read -r state health code; do
      case "$state/$health" in
        running/healthy|running/none) ;;
        exited/*) [ "$code" = 0 ] || { echo "a compose container exited with $code" >&2; return 1; } ;;
        */unhealthy) echo "a compose container is unhealthy" >&2; return 1 ;;
        *) pending=1 ;;
      esac
    done < <(docker inspect -f '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}} {{.State.ExitCode}}' $ids)
    [ $pending = 0 ] && return 0
    sleep 0.1
  done
}

compose_up() { compose up -d "${WAIT[@]}" && compose_wait; }

now() { date +%s.%N; }
timed() { local t0; t0=$(now); "$@" >/dev/null 2>&1; echo "$(now) - $t0" | bc; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

declare -a cold_m cold_c noop_m noop_c
for i in $(seq "$RUNS"); do
  msctl down --volumes >/dev/null; compose down -v >/dev/null 2>&1
  cold_m+=("$(timed msctl up)")
  for j in 1 2 3; do noop_m+=("$(timed msctl up)"); done
  msctl down --volumes >/dev/null
  cold_c+=("$(timed compose_up)")
  for j in 1 2 3; do
    noop_c+=("$(timed compose_up)")
  done
  compose down -v >/dev/null 2>&1
  echo "run $i/$RUNS done" >&2
done

cm=$(printf '%s\n' "${cold_m[@]}" | median); cc=$(printf '%s\n' "${cold_c[@]}" | median)
nm=$(printf '%s\n' "${noop_m[@]}" | median); nc=$(printf '%s\n' "${noop_c[@]}" | median)
printf '\n%-12s %12s %12s %10s\n' case "msctl (s)" "compose (s)" "speed-up"
printf '%-12s %12.3f %12.3f %9.2fx\n' cold-start "$cm" "$cc" "$(echo "$cc / $cm" | bc -l)"
printf '%-12s %12.3f %12.3f %9.2fx\n' no-op "$nm" "$nc" "$(echo "$nc / $nm" | bc -l)"
echo
echo "targets: no-op <= 0.3 s: $(echo "$nm <= 0.3" | bc -l | sed 's/1/met/;s/0/MISSED/'); no-op >= 3x compose: $(echo "$nc / $nm >= 3" | bc -l | sed 's/1/met/;s/0/MISSED/'); cold start no slower: $(echo "$cm <= $cc" | bc -l | sed 's/1/met/;s/0/MISSED/')"
