#!/bin/sh
# A runit service: greet once (as app, from /etc/greeting), then stay up in the foreground.
set -eu
exec 2>&1
# shellcheck disable=SC2016 # expanded by the inner shell, running as app
exec setuser app sh -c 'hello --greeting="$(cat /etc/greeting) from $(id -un) in $HOME"; exec sleep infinity'
