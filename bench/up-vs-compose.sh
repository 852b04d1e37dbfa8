#!/usr/bin/env bash
# Benchmark: `msctl up` against docker compose on the same stack, in one run.
#
#   bench/up-vs-compose.sh [RUNS]     # default 5
#   bench/up-vs-compose.sh --smoke    # (or BENCH_SMOKE=1) bench/smoke-stack.yaml (3 containers),
#                                     # 2 runs, 1 no-op each: ~40 s
#
# Exports the bundled stack (msctl.yaml) as a compose file with `msctl export compose`, then
# times, on the same images:
#   cold start: images present, containers absent  (msctl up   vs  compose up -d --wait)
#   no-op:      the stack already up and unchanged  (msctl up   vs  compose up -d --wait)
# and prints the median of each, and the ratio. Each run does both tools, one after the other,
# and the order alternates run by run (msctl first in odd runs, compose first in even ones), so
# neither always gets the machine as the other left it. Targets (issue #2): no-op <= 0.3 s and
# >= 3x faster than compose; cold start no slower than compose.
#
# A failed `up` (either tool's exit status), or a stack not fully running and healthy after it
# (checked after every timed `up`, for both tools: every container of the file there, running,
# healthy where it has a healthcheck), ends the bench with what failed; no time is recorded for
# it. So does a `down` that leaves anything of the project behind.
#
# Compose v2 (`docker compose`) is used when present, with --wait. Debian bookworm ships only
# Compose v1 (`docker-compose` 1.29), which has no --wait: the script then runs `up -d` and
# polls `docker inspect` until every container is healthy (or exited 0), which is what --wait
# does, and fails at once if one exits non-zero or turns unhealthy. The poll is counted in
# compose's time, as --wait would be. Project `msctlbench`, gateway on port 18000.
cd "$(dirname "$0")/.."
source bench/lib.sh
RUNS=${1:-5}
NOOPS=3
STACK=msctl.yaml
if smoke; then RUNS=2 NOOPS=1 STACK=bench/smoke-stack.yaml; fi
PROJECT=msctlbench
OUT=target/bench/up-vs-compose
# Its own host port, so a running bundled stack (port 8000) does not collide with it.
export GATEWAY_PORT=${GATEWAY_PORT:-18000}
# Its own admin password and keys, so that `up` (a fresh volume) generates nothing into .env,
# where the secrets of your `shop` stack belong (msctl.yaml `secrets:`).
export ADMIN_PASSWORD=${ADMIN_PASSWORD:-bench-admin-password-1}
bench_keys
mkdir -p "$OUT"

if [ -z "${MSCTL:-}" ]; then
  MSCTL=target/debug/msctl
  [ -x "$MSCTL" ] || cargo build -q -p msctl
fi
[ -x "$MSCTL" ] || fail "no msctl at $MSCTL"
if docker compose version >/dev/null 2>&1; then
  COMPOSE=(docker compose) WAIT=(--wait)
elif command -v docker-compose >/dev/null; then
  COMPOSE=(docker-compose) WAIT=()
else
  fail "neither 'docker compose' nor 'docker-compose' is installed: apt-get install docker-compose"
fi
echo "peer: $("${COMPOSE[@]}" version --short 2>/dev/null || "${COMPOSE[@]}" version | head -1); stack: $STACK"

msctl() { "$MSCTL" -f "$STACK" -p "$PROJECT" "$@"; }
compose() { "${COMPOSE[@]}" -p "$PROJECT" -f "$OUT/compose.yaml" "$@"; }

cleanup() { msctl down --volumes >/dev/null 2>&1; compose down -v >/dev/null 2>&1; }
on_exit cleanup
# Both tools see the same images: msctl builds them (and the stand-ins if needed), starting nothing.
echo "preparing images with msctl build (the first run on a machine builds stand-ins)..."
logged "$OUT/build.log" "msctl build" msctl build
msctl export compose -o "$OUT/compose.yaml"
EXPECTED=$(compose config --services | wc -l)
[ "$EXPECTED" -gt 0 ] || fail "the exported compose file has no services"
cleanup
[ -z "$(project_leftovers "$PROJECT")" ] || fail "project $PROJECT cannot be removed before the first run"

# What --wait does, for Compose v1: every container ready, or return 1 (and say why) as soon as
# one cannot get there; 5 minutes at most.
compose_wait() {
  [ ${#WAIT[@]} -eq 0 ] || return 0
  local end=$(($(date +%s) + 300))
  while [ "$(date +%s)" -lt "$end" ]; do
    if stack_state "com.docker.compose.project=$PROJECT"; then
      [ -z "$STACK_PROBLEM" ] || { echo "compose_wait: $STACK_PROBLEM" >&2; return 1; }
      [ "$STACK_TOTAL" = "$EXPECTED" ] && [ "$STACK_READY" = "$EXPECTED" ] && return 0
    fi
    sleep 0.1
  done
  echo "compose_wait: not every container ready after 300 s" >&2
  return 1
}
compose_up() { compose up -d ${WAIT[@]+"${WAIT[@]}"} && compose_wait; }
msctl_up() { msctl up; }
label() { if [ "$1" = msctl ]; then echo "msctl.project=$PROJECT msctl.service"; else echo "com.docker.compose.project=$PROJECT"; fi; }
down() {
  if [ "$1" = msctl ]; then logged "$OUT/down.log" "msctl down --volumes" msctl down --volumes
  else logged "$OUT/down.log" "compose down -v" compose down -v; fi
  [ -z "$(project_leftovers "$PROJECT")" ] || fail "$1's down left containers, volumes or networks of $PROJECT"
}

declare -a cold_msctl cold_compose noop_msctl noop_compose
for i in $(seq "$RUNS"); do
  if [ $((i % 2)) = 1 ]; then order=(msctl compose); else order=(compose msctl); fi
  for tool in "${order[@]}"; do
    timed t "$OUT/$tool-cold-$i.log" "$tool: cold start (run $i)" "${tool}_up"
    stack_ready "$(label "$tool")" "$EXPECTED"
    declare -n cold=cold_$tool noop=noop_$tool
    cold+=("$t")
    for j in $(seq "$NOOPS"); do
      timed t "$OUT/$tool-noop-$i-$j.log" "$tool: no-op (run $i, $j)" "${tool}_up"
      stack_ready "$(label "$tool")" "$EXPECTED"
      noop+=("$t")
    done
    unset -n cold noop
    down "$tool"
  done
  echo "run $i/$RUNS done (${order[0]} first)" >&2
done

cm=$(printf '%s\n' "${cold_msctl[@]}" | median); cc=$(printf '%s\n' "${cold_compose[@]}" | median)
nm=$(printf '%s\n' "${noop_msctl[@]}" | median); nc=$(printf '%s\n' "${noop_compose[@]}" | median)
{
  printf '\n%s, %s containers, %s runs (median)\n' "$STACK" "$EXPECTED" "$RUNS"
  printf '%-12s %12s %12s %10s\n' case "msctl (s)" "compose (s)" "speed-up"
  printf '%-12s %12.3f %12.3f %9.2fx\n' cold-start "$cm" "$cc" "$(echo "$cc / $cm" | bc -l)"
  printf '%-12s %12.3f %12.3f %9.2fx\n' no-op "$nm" "$nc" "$(echo "$nc / $nm" | bc -l)"
  echo
  echo "targets: no-op <= 0.3 s: $(verdict "$(echo "$nm <= 0.3" | bc -l)"); no-op >= 3x compose: $(verdict "$(echo "$nc / $nm >= 3" | bc -l)"); cold start no slower: $(verdict "$(echo "$cm <= $cc" | bc -l)")"
} | mark
