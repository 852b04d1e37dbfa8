#!/usr/bin/env bash
# Every benchmark in bench/ in its smoke mode (BENCH_SMOKE=1), one after another, so that a bench
# cannot rot unseen (issue #24). A smoke run does the bench's real work end to end (real
# containers where the bench uses them) with tiny counts, and fails on a failed run exactly as a
# full run does; its figures are marked [smoke] and are not results. Prints each bench's wall
# time and the total, and exits 1 naming every bench that failed (all of them run regardless).
#
#   scripts/bench-smoke.sh [NAME...]     # default: every bench/*.sh; NAME as in bench/NAME.sh
#
# Needs what scripts/test.sh has done before it: target/debug built (`cargo build --workspace`)
# and the stand-in images built. The three benches that need the bundled stack running and
# nothing else (load-vs-wrk, saga-latency, service-memory) share one: this script starts it as
# project msctlbenchsmoke (gateway on port 18700, its own admin password and identity keys, the
# gateway's rate limit raised, access log off) before the first of them and removes it with its
# volumes after the last, and on any exit. After each bench, nothing of a bench's project
# (msctl*bench*) may be left on the engine and none of its processes may still run, or that
# bench fails.
set -uo pipefail
cd "$(dirname "$0")/.."
export BENCH_SMOKE=1
MSCTL=target/debug/msctl
SHARED=(load-vs-wrk saga-latency service-memory)
SHARED_PROJECT=msctlbenchsmoke
source bench/keys.sh

if [ $# -gt 0 ]; then
  names=("$@")
else
  names=()
  for f in bench/*.sh; do
    n=$(basename "$f" .sh)
    case $n in lib | keys) continue ;; esac # sourced, not benches
    names+=("$n")
  done
fi
for n in "${names[@]}"; do [ -f "bench/$n.sh" ] || { echo "bench-smoke: no bench/$n.sh" >&2; exit 2; }; done
is_shared() { local s; for s in "${SHARED[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }
# The benches that share the stack last, together, so the stack is up once.
ordered=()
for n in "${names[@]}"; do is_shared "$n" || ordered+=("$n"); done
for n in "${names[@]}"; do is_shared "$n" && ordered+=("$n"); done

shared_state=down # down | up | failed
shared_down() {
  [ "$shared_state" = down ] && return 0
  "$MSCTL" -p "$SHARED_PROJECT" down --volumes >/dev/null 2>&1
  shared_state=down
}
trap shared_down EXIT
trap 'echo "bench-smoke: interrupted" >&2; exit 130' INT
trap 'echo "bench-smoke: terminated" >&2; exit 143' TERM

shared_up() {
  export GATEWAY_PORT=18700 ADMIN_PASSWORD=bench-smoke-admin-password-1 ACCESS_LOG=false
  export RATE_LIMIT_PER_SECOND=1000000 RATE_LIMIT_BURST=1000000
  # Its own identity keys: `up` generates nothing into .env.
  bench_keys || return 1
  export BENCH_STACK=$SHARED_PROJECT
  shared_state=up
  "$MSCTL" -p "$SHARED_PROJECT" down --volumes >/dev/null 2>&1
  "$MSCTL" -p "$SHARED_PROJECT" up >target/bench-smoke-shared-up.log 2>&1 || {
    tail -n 15 target/bench-smoke-shared-up.log | sed 's/^/    /' >&2
    return 1
  }
}

# What a bench may have left: anything labelled with a bench project (but the shared stack while
# it is meant to run), and its processes.
leftovers() {
  local keep=$1
  {
    for kind in "ps -a" "volume ls" "network ls"; do
      docker $kind --format '{{.Label "msctl.project"}} {{.Label "com.docker.compose.project"}}'
    done
  } 2>/dev/null | tr ' ' '\n' | grep -E '^msctl[a-z0-9]*bench' | grep -vx "$keep" | sort -u | sed 's/^/project /'
  pgrep -af -- '-p msctl[a-z0-9]*bench|bench-backend 19100|target/bench/gateway/nginx.conf|saga-latency --gateway|memory-burst --gateway' |
    grep -v pgrep | sed 's/^/process /'
}

now() { date +%s.%N; }
mkdir -p target
started=$(now)
results=() failed=()
for n in "${ordered[@]}"; do
  if is_shared "$n" && [ "$shared_state" = down ]; then
    echo "bench-smoke: starting the shared bundled stack ($SHARED_PROJECT) for ${SHARED[*]}"
    t0=$(now)
    if shared_up; then
      results+=("$(printf '%-22s %7.1f s  %s' "(shared stack up)" "$(echo "$(now) - $t0" | bc)" ok)")
    else
      shared_state=failed
      echo "bench-smoke: the shared stack did not come up (target/bench-smoke-shared-up.log)" >&2
      results+=("$(printf '%-22s %7.1f s  %s' "(shared stack up)" "$(echo "$(now) - $t0" | bc)" FAILED)")
    fi
  fi
  echo "bench-smoke: bench/$n.sh --smoke"
  t0=$(now)
  if is_shared "$n" && [ "$shared_state" = failed ]; then
    rc="not run (no shared stack)"
  else
    bash "bench/$n.sh" </dev/null 2>&1 | sed -u 's/^/  /'
    rc=${PIPESTATUS[0]}
  fi
  t=$(echo "$(now) - $t0" | bc)
  keep=-
  if is_shared "$n" && [ "$shared_state" = up ]; then keep=$SHARED_PROJECT; fi
  left=$(leftovers "$keep")
  if [ -n "$left" ]; then
    echo "bench-smoke: $n left this behind:" >&2
    echo "$left" | sed 's/^/    /' >&2
    [ "$rc" != 0 ] || rc="passed, but left containers, volumes or processes behind"
  fi
  if [ "$rc" = 0 ]; then
    status=passed
  else
    case $rc in [0-9]*) status="FAILED (exit $rc)" ;; *) status="FAILED: $rc" ;; esac
    failed+=("$n")
  fi
  echo "bench-smoke: $n: $status in $(printf '%.1f' "$t") s"
  results+=("$(printf '%-22s %7.1f s  %s' "$n" "$t" "$status")")
done
if [ "$shared_state" != down ]; then
  t0=$(now)
  shared_down
  results+=("$(printf '%-22s %7.1f s' "(shared stack down)" "$(echo "$(now) - $t0" | bc)")")
fi

echo
echo "bench-smoke: wall time per bench (smoke runs; not results):"
printf '  %s\n' "${results[@]}"
printf 'bench-smoke: total %.0f s\n' "$(echo "$(now) - $started" | bc)"
if [ ${#failed[@]} -gt 0 ]; then
  echo "bench-smoke: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "bench-smoke: all ${#ordered[@]} benches passed"
