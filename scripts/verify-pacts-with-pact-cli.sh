#!/usr/bin/env bash
# Cross-check with the official Pact tools: the `pact verifier` of PyPI's pact-python-cli
# verifies contracts/pacts/ against the same provider containers `msctl test contracts` used,
# and must reach the same result, pact by pact (passed or failed, and how many interactions
# passed). It proves the pact files are ordinary Pact files, and msctl's verdicts are Pact's.
#
#   scripts/verify-pacts-with-pact-cli.sh        (after `cargo build -p msctl`; needs Docker)
#
# Cost: ~10 s to install the CLI into target/pact-cli-venv (once per machine), then one msctl
# verification (providers started, ~1 min) and one pact verifier run per pact (seconds).
set -euo pipefail
cd "$(dirname "$0")/.."
export PACT_DO_NOT_TRACK=true
msctl=${MSCTL:-target/debug/msctl}
venv=target/pact-cli-venv
out=target/contracts/cross-check
mkdir -p "$out"

if [ ! -x "$venv/bin/pact" ]; then
  echo "pact-cli: installing pact-python-cli into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet pact-python-cli
fi
echo "pact-cli: $("$venv/bin/pact" verifier --version 2>&1 | head -1)"

msctl_verdict=$("$msctl" test contracts --skip-consumers --keep --json > "$out/msctl.json" && echo ok || echo failed)
providers_project=$(jq -r .providers_project "$out/msctl.json")
trap '"$msctl" -p "$providers_project" down --volumes >/dev/null' EXIT
echo "pact-cli: msctl says: $msctl_verdict ($(jq -r '[.pacts[].interactions[]] | length' "$out/msctl.json") interactions)"

mismatch=0
for row in $(jq -c '.pacts[] | {file, provider, msctl_ok: ([.interactions[] | select(.result == "passed")] | length), total: (.interactions | length)}' "$out/msctl.json"); do
  file=$(jq -r .file <<<"$row")
  provider=$(jq -r .provider <<<"$row")
  name=$(basename "$file" .json)
  host=$(jq -r --arg p "$provider" '.providers[] | select(.name == $p) | .host' "$out/msctl.json")
  port=$(jq -r --arg p "$provider" '.providers[] | select(.name == $p) | .port' "$out/msctl.json")
  state_url=$(jq -r --arg p "$provider" '.providers[] | select(.name == $p) | .state_change_url' "$out/msctl.json")
  message_path=$(jq -r --arg p "$provider" '.providers[] | select(.name == $p) | .message_path' "$out/msctl.json")
  rc=0
  "$venv/bin/pact" verifier --file "$file" -n "$provider" --hostname "$host" \
    --transports "http:$port" --transports "message:$port$message_path" \
    --state-change-url "$state_url" --no-colour --json "$out/$name.json" > "$out/$name.txt" 2>&1 || rc=$?
  pact_ok=$(jq '[.interactionResults[] | select(.result == "OK")] | length' "$out/$name.json" 2>/dev/null || echo 0)
  total=$(jq -r .total <<<"$row")
  msctl_ok=$(jq -r .msctl_ok <<<"$row")
  verdict="same"
  # Same verdict: the same interactions pass; Pact's exit code agrees; and something ran
  # (pact exits 0 when it verified nothing).
  pact_passed=$([ "$rc" = 0 ] && echo yes || echo no)
  msctl_passed=$([ "$msctl_ok" = "$total" ] && echo yes || echo no)
  if [ "$pact_ok" != "$msctl_ok" ] || [ "$pact_passed" != "$msctl_passed" ] || [ "$total" = 0 ]; then
    verdict="DIFFERENT"
    mismatch=1
  fi
  printf 'pact-cli: %-45s msctl %s/%s passed, pact verifier %s/%s passed (exit %s): %s\n' \
    "$name" "$msctl_ok" "$total" "$pact_ok" "$total" "$rc" "$verdict"
done
if [ "$mismatch" = 1 ]; then
  echo "pact-cli: the official verifier disagrees with msctl; its output is in $out/" >&2
  exit 1
fi
if [ "$msctl_verdict" != ok ]; then
  echo "pact-cli: both verifiers agree, and the verification FAILED (see $out/msctl.json)" >&2
  exit 1
fi
echo "pact-cli: the official verifier agrees with msctl on every pact"
