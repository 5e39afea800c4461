#!/bin/sh
# A startup script: runs before the services start, may log through syslog already.
set -eu
echo "${GREETING:-hello}" > /etc/greeting
logger -t greeting "greeting set to $(cat /etc/greeting)"
