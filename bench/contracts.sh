#!/usr/bin/env bash
# Wall time of `msctl test contracts` (issue #13: under 3 minutes on a 2-core machine once
# images are built): consumer tests, the providers started health-gated in their own project,
# every pact verified, the project removed. One warm-up run builds what needs building, then
# RUNS timed runs; prints each, the median, and the median against the 180 s target.
#
#   bench/contracts.sh [RUNS]     # default 3; after `cargo build -p msctl`; needs jq
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
msctl=${MSCTL:-target/debug/msctl}
out=target/contracts/bench.json
mkdir -p "$(dirname "$out")"
echo "contracts: warm-up (builds images when needed)"
"$msctl" test contracts >/dev/null 2>&1
times=()
for i in $(seq "$runs"); do
  start=$(date +%s%N)
  "$msctl" test contracts --json >"$out" 2>/dev/null
  end=$(date +%s%N)
  t=$(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.1f", (b - a) / 1e9}')
  times+=("$t")
  echo "contracts: run $i: $t s ($(jq '[.pacts[].interactions[]] | length' "$out") interactions, passed: $(jq .passed "$out"))"
done
printf '%s\n' "${times[@]}" | sort -n | awk '
  {a[NR] = $1}
  END {
    m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
    printf "contracts: median %.1f s; target 180 s: %.2f of it\n", m, m / 180
  }'
