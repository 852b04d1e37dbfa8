#!/usr/bin/env bash
# Removes what an interrupted test run or session may have left on this machine: the bundled
# stack (project `shop`) and every test project (msctl-it-*, msctlbench), found by their
# msctl.project label. Nothing without such a label is touched.
set -euo pipefail
projects=$( { docker ps -a --format '{{.Label "msctl.project"}}';
              docker network ls --format '{{.Label "msctl.project"}}';
              docker volume ls --format '{{.Label "msctl.project"}}'; } 2>/dev/null | sort -u |
            grep -E '^(shop|msctlbench|msctl-it-.*|standin-test.*)$' || true)
for p in $projects; do
  echo "clean-leftovers: removing leftover project $p"
  ids=$(docker ps -aq --filter "label=msctl.project=$p"); [ -z "$ids" ] || docker rm -f $ids >/dev/null
  ids=$(docker network ls -q --filter "label=msctl.project=$p"); [ -z "$ids" ] || docker network rm $ids >/dev/null
  ids=$(docker volume ls -q --filter "label=msctl.project=$p"); [ -z "$ids" ] || docker volume rm $ids >/dev/null
done
# docker-compose projects of the benchmark carry compose's label instead.
ids=$(docker ps -aq --filter "label=com.docker.compose.project=msctlbench"); [ -z "$ids" ] || docker rm -f $ids >/dev/null
ids=$(docker ps -aq --filter "label=msctl.test=standin"); [ -z "$ids" ] || docker rm -f $ids >/dev/null
true
