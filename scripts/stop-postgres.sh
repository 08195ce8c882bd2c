#!/usr/bin/env bash
# Stops the server scripts/start-postgres.sh started and removes its folder.
set -u
[ -n "${LMS_AGENT_TEST_PGDATA:-}" ] || exit 0
dir=$(dirname "$LMS_AGENT_TEST_PGDATA")
if [ "$(id -u)" -eq 0 ]; then
  su postgres -s /bin/sh -c "'$LMS_AGENT_TEST_PGBIN/pg_ctl' -D '$LMS_AGENT_TEST_PGDATA' -m fast -w stop" >/dev/null 2>&1
else
  "$LMS_AGENT_TEST_PGBIN/pg_ctl" -D "$LMS_AGENT_TEST_PGDATA" -m fast -w stop >/dev/null 2>&1
fi
rm -rf "$dir"
