#!/bin/sh
# phusion's name: make the SSH host keys this container lacks (none ship in the image).
# Dockerfiles also run it by name at build time (`RUN /etc/my_init.d/00_regen_ssh_host_keys.sh`),
# which bakes one set of keys into their image, as on phusion's.
set -eu
# At boot (my_init, PID 1, runs it) while sshd is down there is nothing to serve: skip the
# seconds an RSA key costs. sshd's run script calls this again when it starts.
if [ -e /etc/service/sshd/down ] && [ "$PPID" = 1 ]; then
    exit 0
fi
ssh-keygen -A
