#!/bin/sh
# Apply dpkg-slim.cfg to files that mmdebstrap unpacked before dpkg's
# path-exclude filters were in place (the essential set is extracted with
# dpkg-deb, not dpkg --unpack). Later installs honour the filters themselves.
# Usage: slimify.sh ROOTFS
set -eu
root=$1
cd "$root"
echo "slimify: removing docs, manuals and translations from $root"
find usr/share/doc -mindepth 1 ! -type d ! -name copyright -delete
find usr/share/doc -mindepth 1 -type d -empty -delete
for dir in usr/share/man usr/share/groff usr/share/info usr/share/lintian usr/share/linda \
           usr/share/bash-completion usr/share/zsh usr/share/fish; do
    if [ -d "$dir" ]; then
        find "$dir" -mindepth 1 -delete
    fi
done
if [ -d usr/share/locale ]; then
    find usr/share/locale -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
fi
rm -rf var/log/apt/* var/log/dpkg.log var/log/bootstrap.log var/log/alternatives.log \
       var/cache/ldconfig/aux-cache var/cache/debconf/*-old var/lib/dpkg/*-old
