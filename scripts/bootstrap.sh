#!/usr/bin/env bash
# Installs the host tools msctl needs, and only those that are missing.
#
# Idempotent: running it twice installs nothing the second time. Meant for a fresh
# Debian (or Ubuntu) machine, as root, including CI. It prints what it installs and why.
set -euo pipefail
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

if [ "$(id -u)" -ne 0 ]; then
    echo "bootstrap: must run as root (it installs packages with apt-get)." >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "bootstrap: apt-get not found; this script supports Debian-based machines only." >&2
    exit 1
fi

# package|command that proves it is installed|why msctl needs it
NEEDS=(
    "debootstrap|debootstrap|builds Debian stand-ins for images that cannot be pulled (postgres, rabbitmq, debian)"
    "debian-archive-keyring|/usr/share/keyrings/debian-archive-keyring.gpg|lets debootstrap verify the Debian archive it downloads stand-ins from"
    "wget|wget|debootstrap downloads packages with it"
    "tar|tar|packs a stand-in's root filesystem for docker import"
    "util-linux|unshare|runs each stand-in build in private mount and PID namespaces (nothing leaks)"
    "coreutils|chroot|installs a stand-in's packages inside its own root"
    "jq|jq|scripts/verify-pacts-with-pact-cli.sh and bench/contracts.sh read msctl's --json output"
    "docker-registry|docker-registry|msctl push's test runs a real registry on loopback (cli/tests/push.rs)"
    "chromium|chromium|the dashboard's pages are tested in a real browser (cli/tests/dashboard.rs)"
    "chromium-driver|chromedriver|drives that browser over WebDriver in the same test"
)

missing=()
for entry in "${NEEDS[@]}"; do
    IFS='|' read -r pkg probe why <<<"$entry"
    if [[ "$probe" == /* ]]; then
        [ -e "$probe" ] && present=1 || present=0
    else
        command -v "$probe" >/dev/null 2>&1 && present=1 || present=0
    fi
    if [ "$present" = 1 ]; then
        echo "bootstrap: $pkg: already installed"
    else
        echo "bootstrap: $pkg: installing — $why"
        missing+=("$pkg")
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    echo "bootstrap: nothing to install."
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "bootstrap: installed ${missing[*]}."
