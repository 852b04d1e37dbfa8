#!/usr/bin/env bash
# postCreateCommand of the msctl dev container: runs once, in the workspace folder, as the
# dev user, after the container is created. Safe to run again by hand.
set -euo pipefail

cd "$(dirname "$0")/.."

# Volumes created before the image made these directories (or by another image) can be owned by
# root; cargo must be able to write its caches.
for dir in "${CARGO_HOME:-/usr/local/cargo}/registry" "${CARGO_HOME:-/usr/local/cargo}/git"; do
    if [ -d "$dir" ] && [ ! -w "$dir" ]; then
        echo "post-create: making $dir writable for $(id -un)"
        sudo chown -R "$(id -u):$(id -g)" "$dir"
    fi
done

# Host tools msctl needs (debootstrap & co.). The image already has them, so this normally only
# reports; it needs root because it may apt-get install.
if [ -f scripts/bootstrap.sh ]; then
    if [ "$(id -u)" -eq 0 ]; then
        bash scripts/bootstrap.sh
    elif command -v sudo >/dev/null 2>&1; then
        sudo bash scripts/bootstrap.sh
    else
        echo "post-create: skipping scripts/bootstrap.sh (not root and no sudo)" >&2
    fi
fi

if [ -n "${LOCAL_WORKSPACE_FOLDER:-}" ]; then
    echo "post-create: host path of this workspace: $LOCAL_WORKSPACE_FOLDER"
else
    echo "post-create: LOCAL_WORKSPACE_FOLDER is not set; bind mounts msctl asks the host engine for may not resolve" >&2
fi

if docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
    echo "post-create: Docker Engine $(docker version --format '{{.Server.Version}}') reachable"
else
    echo "post-create: the host's Docker Engine is not reachable yet (is Docker running on the host?)" >&2
fi

cargo build -p msctl
echo "post-create: built $(pwd)/target/debug/msctl"
# Completion and checking of msctl.yaml in the editor (yaml.schemas in devcontainer.json).
target/debug/msctl schema > target/msctl.schema.json
echo "post-create: wrote target/msctl.schema.json for the YAML extension"
