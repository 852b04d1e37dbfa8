#!/usr/bin/env bash
# schemathesis against every service's published OpenAPI document (docs/api/*.openapi.snap),
# through the gateway of the running stack, as a user and as an admin (issue #12). The only
# check is the one that matters at the edge: no request, however malformed, gets a 5xx.
#
#   scripts/schemathesis.sh            (the stack is up: `msctl up`; scripts/e2e.sh runs it)
#
# Whose data it touches: a user it registers itself (schemathesis-<random>@example.com) acts on
# its own account and orders; the admin (the bootstrap admin, password from ADMIN_PASSWORD or
# the project's .env) only reads, and creates and changes products and payments — never
# anything under /users, so it cannot delete or change the bootstrap admin or another user.
# Stateful testing (which follows ids from responses) is off: ids are random, so no request
# can land on someone else's data by chance.
#
# Bounded: --max-examples per operation (SCHEMATHESIS_EXAMPLES, default 8) and a time budget
# per run (SCHEMATHESIS_MAX_TIME, default 15 s: fuzzing repeats until the budget is spent,
# so each of the ten runs takes it all); about 2.7 minutes in all. Requests are paced
# under the gateway's rate limit (50/s per client) so no run measures 429s.
#
# Environment: GATEWAY (default http://127.0.0.1:${GATEWAY_PORT:-8000}); reports (JUnit) in
# target/schemathesis/.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=4.32.5
GATEWAY=${GATEWAY:-http://127.0.0.1:${GATEWAY_PORT:-8000}}
EXAMPLES=${SCHEMATHESIS_EXAMPLES:-8}
MAX_TIME=${SCHEMATHESIS_MAX_TIME:-15}
OUT=target/schemathesis
VENV=target/schemathesis-venv
mkdir -p "$OUT"

if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -q "$VERSION"; then
  echo "schemathesis: installing $VERSION (PyPI) into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "schemathesis==$VERSION"
fi

admin_password() {
  if [ -n "${ADMIN_PASSWORD:-}" ]; then echo "$ADMIN_PASSWORD"; return; fi
  if [ -f .env ]; then
    local line
    line=$(grep -E '^ADMIN_PASSWORD=' .env | tail -1 || true)
    if [ -n "$line" ]; then echo "${line#ADMIN_PASSWORD=}"; return; fi
  fi
  echo admin-password-1
}

login() { # email password → access token
  curl -fsS -X POST "$GATEWAY/users/login" -H 'content-type: application/json' \
    -d "{\"email\":\"$1\",\"password\":\"$2\"}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}

email="schemathesis-$(date +%s)-$RANDOM@example.com"
password="Schemathesis-pass-1"
curl -fsS -o /dev/null -X POST "$GATEWAY/users" -H 'content-type: application/json' \
  -d "{\"email\":\"$email\",\"name\":\"Schemathesis\",\"password\":\"$password\"}"
user_token=$(login "$email" "$password")
admin_token=$(login "${ADMIN_EMAIL:-admin@shop.local}" "$(admin_password)")
echo "schemathesis: $GATEWAY as $email (user) and the admin; $EXAMPLES examples per operation"

failed=0
for snap in docs/api/*.openapi.snap; do
  service=$(basename "$snap" .openapi.snap)
  [ "$service" = gateway ] && continue
  # An insta snapshot: the document follows the `---`-fenced header.
  awk 'f>=2{print} /^---$/{f++}' "$snap" > "$OUT/$service.json"
  for who in user admin; do
    token=$user_token
    filter=()
    if [ "$who" = admin ]; then
      token=$admin_token
      # The admin only reads accounts: it never changes or deletes the bootstrap admin or
      # another user's account.
      [ "$service" = user-service ] && filter=(--include-method GET)
    fi
    started=$(date +%s)
    if "$VENV/bin/schemathesis" run "$OUT/$service.json" --url "$GATEWAY" \
        -H "Authorization: Bearer $token" \
        --checks not_a_server_error \
        --phases examples,coverage,fuzzing \
        --max-examples "$EXAMPLES" --max-time "$MAX_TIME" \
        --rate-limit 40/s --request-timeout 10 --seed 12 \
        "${filter[@]}" \
        --report junit --report-junit-path "$OUT/$service-$who.xml" \
        --output-truncate true >"$OUT/$service-$who.log" 2>&1; then
      echo "schemathesis: $service as $who: no 5xx ($(( $(date +%s) - started )) s)"
    else
      echo "schemathesis: $service as $who: FAILED ($(( $(date +%s) - started )) s); $OUT/$service-$who.log:"
      tail -40 "$OUT/$service-$who.log"
      failed=1
    fi
  done
done
exit $failed
