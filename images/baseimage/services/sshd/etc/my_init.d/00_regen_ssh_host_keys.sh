#!/bin/sh
# phusion's name: make the SSH host keys this container lacks (none ship in the image).
# Dockerfiles also run it by name at build time (`RUN /etc/my_init.d/00_regen_ssh_host_keys.sh`),
# which bakes one set of keys into their image, as on phusion's.
set -eu
ssh-keygen -A
