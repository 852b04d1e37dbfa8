#!/bin/sh
# Runs once inside a freshly debootstrapped root (in a chroot) when msctl builds the base
# of its stand-in images. Environment: MSCTL_SUITE, MSCTL_MIRROR, MSCTL_SECURITY_MIRROR.
set -eu

echo "msctl-phase: configuring apt"
cat > /etc/apt/sources.list <<SOURCES
deb $MSCTL_MIRROR $MSCTL_SUITE main
deb $MSCTL_MIRROR $MSCTL_SUITE-updates main
deb $MSCTL_SECURITY_MIRROR $MSCTL_SUITE-security main
SOURCES

# debootstrap unpacked its packages before the dpkg filter existed: apply it now.
find /usr/share/doc -depth -mindepth 1 ! -type d ! -name copyright -delete
find /usr/share/doc -depth -mindepth 1 -type d -empty -delete
rm -rf /usr/share/man/* /usr/share/groff/* /usr/share/info/* /usr/share/lintian/* /usr/share/linda/*
find /usr/share/locale -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
# update-alternatives wants these to exist when a package registers a manual page.
for section in 1 2 3 4 5 6 7 8; do mkdir -p "/usr/share/man/man$section"; done

echo "msctl-phase: applying $MSCTL_SUITE updates"
apt-get update
apt-get -y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold upgrade
