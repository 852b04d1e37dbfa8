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
projects=$( { docker ps -a --format '{{.Label "msctl.project"}}';
              docker network ls --format '{{.Label "msctl.project"}}';
              docker volume ls --format '{{.Label "msctl.project"}}'; } 2>/dev/null | sort -u |
            grep -E "^($pattern)\$" || true)
for p in $projects; do
  echo "clean-leftovers: removing leftover project $p"
  ids=$(docker ps -aq --filter "label=msctl.project=$p"); [ -z "$ids" ] || docker rm -f -v $ids >/dev/null
  ids=$(docker network ls -q --filter "label=msctl.project=$p"); [ -z "$ids" ] || docker network rm $ids >/dev/null
  ids=$(docker volume ls -q --filter "label=msctl.project=$p"); [ -z "$ids" ] || docker volume rm $ids >/dev/null
done
# The benches' docker-compose projects carry compose's label instead.
compose_projects=$( { docker ps -a --format '{{.Label "com.docker.compose.project"}}';
                      docker network ls --format '{{.Label "com.docker.compose.project"}}';
                      docker volume ls --format '{{.Label "com.docker.compose.project"}}'; } 2>/dev/null |
                    sort -u | grep -E '^msctl[a-z0-9]*bench[a-z0-9]*$' || true)
for p in $compose_projects; do
  echo "clean-leftovers: removing leftover compose project $p"
  ids=$(docker ps -aq --filter "label=com.docker.compose.project=$p"); [ -z "$ids" ] || docker rm -f -v $ids >/dev/null
  ids=$(docker network ls -q --filter "label=com.docker.compose.project=$p"); [ -z "$ids" ] || docker network rm $ids >/dev/null
  ids=$(docker volume ls -q --filter "label=com.docker.compose.project=$p"); [ -z "$ids" ] || docker volume rm $ids >/dev/null
done
ids=$(docker ps -aq --filter "label=msctl.test=standin"); [ -z "$ids" ] || docker rm -f -v $ids >/dev/null
# Containers msctl packs a crate's binary in, left when msctl was killed mid-pack.
ids=$(docker ps -aq --filter "name=^msctl-pack-"); [ -z "$ids" ] || docker rm -f -v $ids >/dev/null
true
