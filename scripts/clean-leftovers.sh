#!/usr/bin/env bash
# Removes what an interrupted test run or benchmark may have left on this machine: every test
# project (msctl-it-*, the benches' msctl*bench*, new-service-e2e's msctlnewsvc, the contract
# tests' ctbreak-*/ctinput-* and the providers' *-contracts projects), found by its
# msctl.project label (compose's label for the benches' compose projects). With --bundled, also the
# bundled stack (project `shop`, which holds port 8000): CI does that, a developer's running
# stack is left alone otherwise. Nothing without such a label is touched.
set -euo pipefail
pattern='msctl[a-z0-9]*bench[a-z0-9]*|msctlnewsvc|msctl-it-.*|ctbreak-.*|ctinput-.*|shop-contracts'
[ "${1:-}" = --bundled ] && pattern="shop|$pattern"
# The projects named by LABEL (msctl's or compose's) that match PATTERN.
projects_of() { # LABEL PATTERN
  { docker ps -a --format "{{.Label \"$1\"}}"
    docker network ls --format "{{.Label \"$1\"}}"
    docker volume ls --format "{{.Label \"$1\"}}"; } 2>/dev/null | sort -u | grep -E "^($2)\$" || true
}
remove_project() { # LABEL PROJECT
  echo "clean-leftovers: removing leftover project $2 ($1)"
  ids=$(docker ps -aq --filter "label=$1=$2"); [ -z "$ids" ] || docker rm -f -v $ids >/dev/null
  ids=$(docker network ls -q --filter "label=$1=$2"); [ -z "$ids" ] || docker network rm $ids >/dev/null
  ids=$(docker volume ls -q --filter "label=$1=$2"); [ -z "$ids" ] || docker volume rm $ids >/dev/null
}
for p in $(projects_of msctl.project "$pattern"); do remove_project msctl.project "$p"; done
# The benches' docker-compose projects carry compose's label instead.
for p in $(projects_of com.docker.compose.project 'msctl[a-z0-9]*bench[a-z0-9]*'); do
  remove_project com.docker.compose.project "$p"
done
ids=$(docker ps -aq --filter "label=msctl.test=standin"); [ -z "$ids" ] || docker rm -f -v $ids >/dev/null
# Containers msctl packs a crate's binary in, left when msctl was killed mid-pack.
ids=$(docker ps -aq --filter "name=^msctl-pack-"); [ -z "$ids" ] || docker rm -f -v $ids >/dev/null
true
