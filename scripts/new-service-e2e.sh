#!/usr/bin/env bash
# End to end: a service made by `msctl new service` builds, lints clean, passes its own tests,
# runs in the stack behind the gateway, and passes its journey and its contract (issue #15).
# CI runs it on every change, so a template that no longer fits kit fails here, not for users.
#
#   scripts/new-service-e2e.sh
#
# In a scratch copy of the repository (its tracked and unignored files, uncommitted changes
# included; scripts/scratch-copy.sh), building into this workspace's target/: the copy shares
# this tree's builds, so only billing compiles. Its stack runs as project `msctlnewsvc` on
# gateway port 18300 and is removed with its volumes at the end, even on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
# Always the same path, so the next run reuses this one's build of billing.
SCRATCH=/tmp/msctl-scratch-new-service
rm -rf "$SCRATCH" && mkdir -p "$SCRATCH"
PROJECT=msctlnewsvc
export GATEWAY_PORT=18300
export CARGO_TARGET_DIR=$REPO/target
export ADMIN_PASSWORD=new-service-admin-password-1
cargo build -q -p msctl
MSCTL=$REPO/target/debug/msctl
cleanup() {
  (cd "$SCRATCH" && "$MSCTL" -p "$PROJECT" down --volumes >/dev/null 2>&1) || true
  rm -rf "$SCRATCH"
}
trap cleanup EXIT
started=$SECONDS
say() { echo "new-service-e2e: [$((SECONDS - started)) s] $*"; }

source scripts/scratch-copy.sh
scratch_copy "$SCRATCH"
cd "$SCRATCH"

# The stack runs first, as it would for a team adding a service: `msctl up billing`, the next
# step `new` prints, must then give the running gateway the new route (issue #24: it did not,
# and /billing answered 404 until a full `up`).
say "msctl -p $PROJECT up (the stack as it was)"
"$MSCTL" -p "$PROJECT" up >up.log 2>&1 || { cat up.log; exit 1; }

say "msctl new service billing --db postgres --consumes order.confirmed"
"$MSCTL" new service billing --db postgres --consumes order.confirmed

say "cargo clippy -p billing --all-targets -- -D warnings"
cargo clippy -q -p billing --all-targets -- -D warnings

say "cargo test -p billing"
cargo test -q -p billing

say "msctl -p $PROJECT up billing (the step \`new\` printed)"
"$MSCTL" -p "$PROJECT" up billing >up.log 2>&1 || { cat up.log; exit 1; }
grep -q 'gateway: its routing table changed' up.log || { cat up.log; echo "up billing did not apply the routing table to the gateway"; exit 1; }
"$MSCTL" -p "$PROJECT" ps | grep -E '^billing ' || { echo "billing is not in ps"; exit 1; }

say "through the gateway, with the declared access (user)"
base=http://127.0.0.1:$GATEWAY_PORT
code=$(curl -s -o /dev/null -w '%{http_code}' "$base/billing")
[ "$code" = 401 ] || { echo "GET /billing without a token: $code, expected 401"; exit 1; }
email="e2e-$RANDOM$RANDOM@new-service.example.com"
curl -sf -X POST "$base/users" -H 'content-type: application/json' \
  -d "{\"email\":\"$email\",\"password\":\"e2e-password-1\",\"name\":\"E2E\"}" >/dev/null
token=$(curl -sf -X POST "$base/users/login" -H 'content-type: application/json' \
  -d "{\"email\":\"$email\",\"password\":\"e2e-password-1\"}" | jq -r .access_token)
code=$(curl -s -o /dev/null -w '%{http_code}' -H "authorization: Bearer $token" "$base/billing")
[ "$code" = 200 ] || { echo "GET /billing with a user's token: $code, expected 200"; exit 1; }
say "GET /billing: 401 without a token, 200 with a user's"

say "msctl test journeys billing-crud"
"$MSCTL" -p "$PROJECT" test journeys billing-crud

say "msctl test contracts --provider billing"
"$MSCTL" -p "$PROJECT" test contracts --provider billing

say "msctl down --volumes"
"$MSCTL" -p "$PROJECT" down --volumes
say "passed"
