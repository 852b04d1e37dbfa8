#!/usr/bin/env bash
# Quick start: installs what msctl needs (scripts/bootstrap.sh), builds msctl, and brings the
# bundled stack (msctl.yaml) up. The first run builds Debian stand-ins for postgres and
# rabbitmq (a few minutes, once per machine); later runs take seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
cargo build -p msctl
exec target/debug/msctl up "$@"
