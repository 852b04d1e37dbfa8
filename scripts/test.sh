#!/usr/bin/env bash
# The whole test suite, as CI runs it. Needs root and a Docker Engine (no registry needed).
#
#   scripts/test.sh [extra cargo test args]
#
# 1. installs what the tests need and says so (scripts/bootstrap.sh: debootstrap for stand-ins;
#    the devcontainer test validates against the schema in cli/tests/data/devcontainer/)
# 2. removes what an interrupted earlier run may have left behind (scripts/clean-leftovers.sh)
# 3. cargo test over the whole workspace: unit tests, CLI snapshot tests, and integration tests
#    against the real Docker engine, PostgreSQL and RabbitMQ stand-ins.
# 4. contracts: `msctl test contracts` (consumer tests, providers verified on real containers),
#    the pact files compared with the committed ones, and the same pacts verified by the
#    official Pact CLI (scripts/verify-pacts-with-pact-cli.sh), which must agree.
# 5. end to end (scripts/e2e.sh): the bundled stack up with `msctl up`, `msctl test journeys`
#    (JUnit in target/journeys.xml), down with its volumes even on failure, and nothing labelled
#    left on the engine.
# 6. a new service (scripts/new-service-e2e.sh): `msctl new service billing` in a scratch copy,
#    built, linted, tested, run in the stack, its journey and contract passing.
# 7. every benchmark in bench/ in its smoke mode (scripts/bench-smoke.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
# Each step's wall time, so a CI log says where its minutes went (CI must stay under 45).
started=$SECONDS
step() {
  local name=$1 t0=$SECONDS
  shift
  "$@"
  echo "test.sh: $name took $((SECONDS - t0)) s (total $((SECONDS - started)) s)"
}
step bootstrap bash scripts/bootstrap.sh
step clean-leftovers bash scripts/clean-leftovers.sh
# Stand-ins are built once per machine and cached; building them here, before the tests,
# keeps parallel tests from waiting on each other for the same image.
step build cargo build --workspace --locked
step stand-ins target/debug/msctl -p shop build
step "cargo test" cargo test --workspace --locked "$@"
# `msctl export k8s|helm` checked by the real tools, offline (no cluster can run here): kubectl
# kustomize, helm lint --strict and template, kubernetes-validate --strict for Kubernetes 1.30 and
# 1.37, and the chart rendering the manifests' objects. About 15 s (20 s more to install the tools
# on a fresh machine).
step k8s bash scripts/k8s-tools.sh check target/debug/msctl msctl.yaml
# The consumer tests (contracts/) have just written the pact files: they must be the committed
# ones, or a consumer change would ship with a contract no provider was verified against.
pacts_committed() {
  local untracked
  untracked=$(git ls-files --others --exclude-standard -- contracts/pacts)
  if ! git diff --exit-code -- contracts/pacts || [ -n "$untracked" ]; then
    echo "test.sh: the consumer tests wrote pact files that differ from the committed ones"
    [ -z "$untracked" ] || echo "test.sh: not committed: $untracked"
    echo "test.sh: review the change (git diff contracts/pacts) and commit contracts/pacts/"
    return 1
  fi
}
# The whole contract loop as users run it: consumer tests (already compiled) write the pacts,
# every provider is verified on real containers in the `shop-contracts` project, and the
# matrix is printed (JUnit in target/contracts.xml). About a minute once images are built.
step contracts target/debug/msctl test contracts --junit target/contracts.xml
step "pact files" pacts_committed
# The official Pact verifier (PyPI pact-python-cli) must agree with msctl, interaction by
# interaction.
step "pact cli" bash scripts/verify-pacts-with-pact-cli.sh
# ...and the cross-check itself must fail when there is nothing to compare: a stack with an
# empty pact folder (seconds; nothing is started).
cross_check_of_nothing_fails() {
  local dir
  dir=$(mktemp -d)
  mkdir -p "$dir/contracts/pacts"
  printf 'name: crosscheck\nservices:\n  a:\n    image: debian:bookworm-slim\n' >"$dir/msctl.yaml"
  if MSCTL_FILE="$dir/msctl.yaml" bash scripts/verify-pacts-with-pact-cli.sh >"$dir/out" 2>&1 \
    || ! grep -q 'msctl verified no pact' "$dir/out"; then
    cat "$dir/out"
    echo "test.sh: the pact cross-check did not fail on an empty pact folder"
    rm -rf "$dir"
    return 1
  fi
  rm -rf "$dir"
}
step "pact cli on nothing" cross_check_of_nothing_fails
step e2e bash scripts/e2e.sh
# A service made by `msctl new service` (in a scratch copy): clippy clean, its tests, up behind
# the gateway, its journey and its contract. A template that drifts from kit fails here.
step "new service" bash scripts/new-service-e2e.sh
# Every benchmark in its smoke mode (scripts/bench-smoke.sh: real work, tiny counts, a failed run
# fails), so that a bench cannot rot unseen (issue #24: gateway-vs-nginx had been broken for
# weeks). About 5 minutes; its figures are not results.
step "bench smoke" bash scripts/bench-smoke.sh
