#!/usr/bin/env bash
# Wall time of `msctl test contracts` (issue #13: under 3 minutes on a 2-core machine once
# images are built): consumer tests, the providers started health-gated in their own project,
# every pact verified, the project removed. One warm-up run builds what needs building, then
# RUNS timed runs; prints each, the median, and the median against the 180 s target.
#
#   bench/contracts.sh [RUNS]     # default 3; after `cargo build -p msctl`; needs jq
#   bench/contracts.sh --smoke    # (or BENCH_SMOKE=1) one run, no warm-up, product-service's
#                                 # pact only, consumer tests skipped: ~10 s
#
# A failed run (msctl's exit status, `passed` false, or no interaction verified) ends the bench
# with what failed, and its time is not printed. The providers run as `msctlbenchct-contracts`
# (`-p msctlbenchct`), never as the `shop-contracts` of CI's own `msctl test contracts`.
cd "$(dirname "$0")/.."
source bench/lib.sh
runs=${1:-3}
msctl=${MSCTL:-target/debug/msctl}
PROJECT=msctlbenchct
out=target/bench/contracts
mkdir -p "$out"
command -v jq >/dev/null || fail "needs jq (scripts/bootstrap.sh installs it)"
[ -x "$msctl" ] || fail "no msctl at $msctl (cargo build -p msctl, or MSCTL=path)"
# The stack's generated secrets from the environment (the bench's own), so that nothing is
# generated into .env, where your `shop` stack's belong.
export ADMIN_PASSWORD=${ADMIN_PASSWORD:-bench-admin-password-1}
bench_keys
args=()
if smoke; then
  runs=1
  args=(--provider product-service --skip-consumers)
fi
# msctl removes the project itself, also when a verification fails; this is for an interrupt.
on_exit '"$msctl" -p "$PROJECT-contracts" down --volumes >/dev/null 2>&1'

verify() { "$msctl" -p "$PROJECT" test contracts --json ${args[@]+"${args[@]}"} >"$1"; }
# check FILE: the run's JSON says every pact passed, with interactions verified.
check() {
  local n
  n=$(jq '[.pacts[].interactions[]] | length' "$1") || fail "msctl's --json output ($1) is not the expected report"
  [ "$(jq .passed "$1")" = true ] || fail "the verification did not pass ($1)"
  [ "$n" -gt 0 ] || fail "no interaction was verified ($1)"
  echo "$n"
}

if ! smoke; then
  echo "contracts: warm-up (builds images when needed)"
  timed t "$out/warm-up.err" "the warm-up run of msctl test contracts" verify "$out/warm-up.json"
  check "$out/warm-up.json" >/dev/null
fi
times=()
for i in $(seq "$runs"); do
  timed t "$out/run-$i.err" "msctl test contracts (run $i)" verify "$out/run-$i.json"
  n=$(check "$out/run-$i.json")
  times+=("$t")
  result "contracts: run $i: $(printf '%.1f' "$t") s ($n interactions, passed: true)"
done
m=$(printf '%s\n' "${times[@]}" | median)
result "contracts: median $(printf '%.1f' "$m") s; target 180 s: $(awk -v m="$m" 'BEGIN {printf "%.2f", m / 180}') of it ($(verdict "$(awk -v m="$m" 'BEGIN {print (m < 180) ? 1 : 0}')"))"
