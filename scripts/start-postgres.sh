#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server for the tests and the benchmark: a fresh cluster in a temporary
# folder, listening on a free loopback port only, password authentication over TCP. Run as root, the
# server runs as the `postgres` user. Prints `export` lines; use it as
#     eval "$(scripts/start-postgres.sh)"
# and stop it with scripts/stop-postgres.sh (which reads LMS_AGENT_TEST_PGDATA).
set -euo pipefail
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  echo "start-postgres: no PostgreSQL server found (apt-get install postgresql)" >&2
  exit 1
fi
dir=$(mktemp -d /tmp/lms-agent-pg.XXXXXX)
chmod 755 "$dir"
# A free port: the first of a few random ones that nothing answers on.
port=""
for _ in $(seq 1 50); do
  p=$(( 20000 + RANDOM % 20000 ))
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
done
[ -n "$port" ] || { echo "start-postgres: no free port found" >&2; exit 1; }
password=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s\n' "$password" > "$dir/pwfile"
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    chown -R postgres:postgres "$dir"
    su postgres -s /bin/sh -c "$*"
  else
    sh -c "$*"
  fi
}
as_owner "'$bindir/initdb' -D '$dir/data' -U postgres --pwfile='$dir/pwfile' --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >'$dir/initdb.log' 2>&1" \
  || { cat "$dir/initdb.log" >&2; exit 1; }
rm -f "$dir/pwfile"
# Settings in the cluster itself, so that a plain `pg_ctl start` (tests restart it) comes back the same.
cat >> "$dir/data/postgresql.auto.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 50
CONF
as_owner "'$bindir/pg_ctl' -D '$dir/data' -l '$dir/server.log' -w -t 60 start >/dev/null" \
  || { cat "$dir/server.log" >&2; exit 1; }
echo "export LMS_AGENT_TEST_PG_HOST=127.0.0.1"
echo "export LMS_AGENT_TEST_PG_PORT=$port"
echo "export LMS_AGENT_TEST_PG_USER=postgres"
echo "export LMS_AGENT_TEST_PG_PASSWORD=$password"
echo "export LMS_AGENT_TEST_PGDATA=$dir/data"
echo "export LMS_AGENT_TEST_PGBIN=$bindir"
