#!/bin/sh
# Runs inside a copy of the base root (in a chroot) when msctl builds a stand-in image.
# Environment: MSCTL_PACKAGES (space separated). Optional hooks next to this script:
# pre-install.sh (before apt), post-install.sh (after apt).
set -eu
here=$(dirname "$0")

if [ -f "$here/pre-install.sh" ]; then
    echo "msctl-phase: preparing"
    sh -eu "$here/pre-install.sh"
fi

echo "msctl-phase: installing $MSCTL_PACKAGES"
apt-get update
# shellcheck disable=SC2086 # word splitting of the package list is intended
apt-get install -y --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold $MSCTL_PACKAGES

if [ -f "$here/post-install.sh" ]; then
    echo "msctl-phase: configuring"
    sh -eu "$here/post-install.sh"
fi

sh -eu "$here/cleanup.sh"
