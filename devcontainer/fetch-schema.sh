#!/usr/bin/env bash
# Puts the Dev Container spec's official devContainer.base.schema.json at
# target/devcontainer-schema/devContainer.base.schema.json and prints that path.
#
# Optional: cli/tests/devcontainer.rs always validates .devcontainer/devcontainer.json against
# msctl's own schema (cli/tests/data/devcontainer/devcontainer.schema.json) and, when this file
# is present (or DEVCONTAINER_BASE_SCHEMA names one), against the official schema as well.
#
# Why a download and not a package: no package on crates.io, PyPI or Debian ships this file, so
# it comes from the spec repository itself, which needs internet access (CI here has none; run it
# on a workstation). The file is pinned to one commit and checked against its SHA-256, so the
# test validates against the same schema everywhere. Set DEVCONTAINER_SCHEMA_REF=main (or another
# ref) to take a newer one; the checksum is then not checked.
#
# Idempotent: when the file is already there and matches, it only prints the path.
set -euo pipefail

PINNED_REF=c95ffeed1d059abfe9ffbe79762dc2fa4e7c2421
PINNED_SHA256=a0883c0405ff433db188849d458fb20b9c0d73e0ba1a6e44c1d83f3b485408dd

ref="${DEVCONTAINER_SCHEMA_REF:-$PINNED_REF}"
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="$root/target/devcontainer-schema"
file="$dir/devContainer.base.schema.json"
url="https://raw.githubusercontent.com/devcontainers/spec/$ref/schemas/devContainer.base.schema.json"

sha256() { sha256sum "$1" | cut -d' ' -f1; }

matches() {
    [ -s "$1" ] || return 1
    if [ "$ref" = "$PINNED_REF" ]; then
        [ "$(sha256 "$1")" = "$PINNED_SHA256" ]
    else
        python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$1" 2>/dev/null
    fi
}

if [ "$ref" = "$PINNED_REF" ] && matches "$file"; then
    echo "$file"
    exit 0
fi

mkdir -p "$dir"
tmp="$(mktemp "$dir/.download.XXXXXX")"
trap 'rm -f "$tmp"' EXIT

echo "fetch-schema: downloading $url" >&2
if command -v curl >/dev/null 2>&1; then
    fetched() { curl -fsSL --connect-timeout 10 --max-time 60 -o "$tmp" "$url"; }
else
    fetched() { python3 -c 'import sys, urllib.request; open(sys.argv[2], "wb").write(urllib.request.urlopen(sys.argv[1], timeout=60).read())' "$url" "$tmp"; }
fi
if ! fetched; then
    echo "fetch-schema: could not download $url (no internet here?)." >&2
    echo "fetch-schema: the devcontainer test still runs, with msctl's own schema only." >&2
    exit 1
fi
if ! matches "$tmp"; then
    if [ "$ref" = "$PINNED_REF" ]; then
        echo "fetch-schema: $url does not have the pinned SHA-256 $PINNED_SHA256 (got $(sha256 "$tmp"))." >&2
    else
        echo "fetch-schema: $url is not JSON." >&2
    fi
    exit 1
fi
mv "$tmp" "$file"
trap - EXIT
echo "$file"
