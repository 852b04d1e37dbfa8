# Sourced by bench/lib.sh and scripts/bench-smoke.sh (no traps, no `set`: safe in either).
# The gateway's identity keys (msctl.yaml `secrets:`), a fresh Ed25519 pair for this bench
# unless the environment has both: `msctl up` then generates nothing into the repository's
# .env (where your own stack's keys live), and no bench depends on what is there.
bench_keys() {
  [ -n "${IDENTITY_SIGNING_KEY:-}" ] && [ -n "${IDENTITY_VERIFY_KEY:-}" ] && return 0
  local der
  der=$(mktemp) || return 1
  openssl genpkey -algorithm ed25519 -outform DER -out "$der" 2>/dev/null ||
    { echo "bench_keys: openssl could not generate an Ed25519 key" >&2; rm -f "$der"; return 1; }
  IDENTITY_SIGNING_KEY=$(base64 -w0 "$der")
  IDENTITY_VERIFY_KEY=$(openssl pkey -inform DER -in "$der" -pubout -outform DER | tail -c 32 |
    base64 -w0 | tr '+/' '-_' | tr -d '=')
  rm -f "$der"
  export IDENTITY_SIGNING_KEY IDENTITY_VERIFY_KEY
}
