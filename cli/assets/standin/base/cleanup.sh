#!/bin/sh
# Runs inside the chroot as the last step of every stand-in build: leave no caches,
# package lists, logs or temporary files in the image.
set -eu
echo "msctl-phase: cleaning up"
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/partial/* \
    /var/cache/debconf/*-old /var/lib/dpkg/*-old \
    /var/log/apt/* /var/log/dpkg.log /var/log/alternatives.log /var/log/bootstrap.log \
    /tmp/* /var/tmp/* /run/adduser /root/.cache
mkdir -p /var/lib/apt/lists/partial
