#!/usr/bin/env bash
# Cross-check with the official Pact tools: the `pact verifier` of PyPI's pact-python-cli
# verifies contracts/pacts/ against the same provider containers `msctl test contracts` used,
# and must reach the same verdict on every interaction (description → passed or failed), with
# Pact's exit code agreeing pact by pact. It proves the pact files are
# ordinary Pact files, and msctl's verdicts are Pact's. Either side verifying nothing is a
# failure: no pact, a pact whose interactions one side did not run, zero interactions.
#
#   scripts/verify-pacts-with-pact-cli.sh        (after `cargo build -p msctl`; needs Docker)
#   MSCTL_FILE=other/msctl.yaml scripts/verify-pacts-with-pact-cli.sh   (that stack's pacts)
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
rm -f "$out"/*.json "$out"/*.txt

if [ ! -x "$venv/bin/pact" ]; then
  echo "pact-cli: installing pact-python-cli into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet pact-python-cli
fi
echo "pact-cli: $("$venv/bin/pact" verifier --version 2>&1 | head -1)"

msctl_rc=0
"$msctl" test contracts --skip-consumers --keep --json > "$out/msctl.json" || msctl_rc=$?
# (jq reads an empty file as no input and exits 0 even with -e: check that there is a file.)
if [ ! -s "$out/msctl.json" ] || ! jq -e '.pacts | length > 0' "$out/msctl.json" >/dev/null 2>&1; then
  echo "pact-cli: msctl verified no pact (exit $msctl_rc): nothing to compare, and nothing verified is a failure" >&2
  exit 1
fi
providers_project=$(jq -r .providers_project "$out/msctl.json")
trap '"$msctl" -p "$providers_project" down --volumes >/dev/null' EXIT
msctl_total=$(jq '[.pacts[].interactions[]] | length' "$out/msctl.json")
echo "pact-cli: msctl says: exit $msctl_rc ($msctl_total interactions)"
if [ "$msctl_total" = 0 ]; then
  echo "pact-cli: msctl verified no interaction" >&2
  exit 1
fi

# One line per interaction, sorted: "<description> → passed|failed". The CLI's JSON names an
# interaction by its description only (v1.3.5: description, duration, result), and a pact's
# descriptions are unique here, so that is the key; a repeated one still compares as a count.
msctl_verdicts() {
  jq -r --arg file "$1" '.pacts[] | select(.file == $file) | .interactions[]
    | "\(.description) → \(if .result == "passed" then "passed" else "failed" end)"' \
    "$out/msctl.json" | sort
}
pact_verdicts() {
  jq -r '.interactionResults[]
    | "\(.description) → \(if .result == "OK" then "passed" else "failed" end)"' "$1" | sort
}

mismatch=0
compared=0
for row in $(jq -c '.pacts[] | {file, provider}' "$out/msctl.json"); do
  file=$(jq -r .file <<<"$row")
  provider=$(jq -r .provider <<<"$row")
  name=$(basename "$file" .json)
  provider_field() { jq -r --arg p "$provider" --arg f "$1" '.providers[] | select(.name == $p) | .[$f]' "$out/msctl.json"; }
  rc=0
  "$venv/bin/pact" verifier --file "$file" -n "$provider" --hostname "$(provider_field host)" \
    --transports "http:$(provider_field port)" \
    --transports "message:$(provider_field port)$(provider_field message_path)" \
    --state-change-url "$(provider_field state_change_url)" --no-colour \
    --json "$out/$name.json" > "$out/$name.txt" 2>&1 || rc=$?
  msctl_verdicts "$file" > "$out/$name.msctl.verdicts"
  if ! pact_verdicts "$out/$name.json" > "$out/$name.pact.verdicts" 2>/dev/null; then
    : > "$out/$name.pact.verdicts"
  fi
  ran=$(wc -l < "$out/$name.pact.verdicts")
  total=$(wc -l < "$out/$name.msctl.verdicts")
  msctl_passed=$(grep -c ' → passed$' "$out/$name.msctl.verdicts" || true)
  pact_passed=$(grep -c ' → passed$' "$out/$name.pact.verdicts" || true)
  # Pact's exit code must agree with its own verdicts: 0 exactly when every interaction passed.
  pact_all=$([ "$rc" = 0 ] && echo yes || echo no)
  verdicts_all=$([ "$pact_passed" = "$ran" ] && [ "$ran" -gt 0 ] && echo yes || echo no)
  verdict="same"
  if [ "$ran" = 0 ] || [ "$total" = 0 ] || [ "$pact_all" != "$verdicts_all" ] \
    || ! cmp -s "$out/$name.msctl.verdicts" "$out/$name.pact.verdicts"; then
    verdict="DIFFERENT"
    mismatch=1
  fi
  compared=$((compared + total))
  printf 'pact-cli: %-45s msctl %s/%s passed, pact verifier %s/%s passed (exit %s): %s\n' \
    "$name" "$msctl_passed" "$total" "$pact_passed" "$ran" "$rc" "$verdict"
  if [ "$verdict" = DIFFERENT ]; then
    diff <(sed 's/^/msctl: /' "$out/$name.msctl.verdicts") <(sed 's/^/msctl: /' "$out/$name.pact.verdicts") \
      | sed -n 's/^< msctl: /  msctl says:  /p; s/^> msctl: /  pact says:   /p' >&2 || true
  fi
done
if [ "$mismatch" = 1 ]; then
  echo "pact-cli: the official verifier disagrees with msctl; its output is in $out/" >&2
  exit 1
fi
if [ "$msctl_rc" != 0 ]; then
  echo "pact-cli: both verifiers agree, and the verification FAILED (see $out/msctl.json)" >&2
  exit 1
fi
echo "pact-cli: the official verifier agrees with msctl on all $compared interactions"
