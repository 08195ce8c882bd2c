#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server for the tests and the benchmark: a fresh cluster in a temporary
# folder, listening on a free loopback port only, password authentication over TCP. Run as root, the
# server runs as the `postgres` user. Prints `export` lines; use it as
#     eval "$(scripts/start-postgres.sh)"
# and stop it with scripts/stop-postgres.sh (which reads LMS_AGENT_TEST_PGDATA).
#
# With --ssl, the server also gets a certificate from a throwaway CA (made with the openssl CLI) and
# accepts TCP connections over TLS only; LMS_AGENT_TEST_PG_SSLROOTCERT names the CA's certificate
# (for sslmode=verify-ca/verify-full). Without --ssl, nothing changes.
set -euo pipefail
ssl=no
for arg in "$@"; do
  case "$arg" in
    --ssl) ssl=yes ;;
    *) echo "start-postgres: unknown argument $arg (only --ssl)" >&2; exit 64 ;;
  esac
done
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
if [ "$ssl" = yes ]; then
  command -v openssl >/dev/null || { echo "start-postgres: --ssl needs the openssl CLI (scripts/install-deps.sh)" >&2; exit 1; }
  tls="$dir/tls"
  mkdir -p "$tls"
  # A CA, and a server certificate it signs for 127.0.0.1 and localhost (so verify-full works too).
  openssl req -x509 -new -nodes -days 7 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -subj "/CN=lms-agent test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$tls/ca.key" -out "$tls/ca.crt" 2>/dev/null
  openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -subj "/CN=127.0.0.1" \
    -keyout "$tls/server.key" -out "$tls/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > "$tls/server.ext"
  openssl x509 -req -days 7 -in "$tls/server.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" -CAcreateserial \
    -extfile "$tls/server.ext" -out "$tls/server.crt" 2>/dev/null
  chmod 644 "$tls/ca.crt" "$tls/server.crt"
  chmod 600 "$tls/server.key" "$tls/ca.key"
  chmod 755 "$tls"
  [ "$(id -u)" -ne 0 ] || chown -R postgres:postgres "$tls"
  cat >> "$dir/data/postgresql.auto.conf" <<CONF
ssl = on
ssl_cert_file = '$tls/server.crt'
ssl_key_file = '$tls/server.key'
CONF
  # TCP without TLS is refused, so that a connection that works is known to be encrypted.
  hba="$dir/data/pg_hba.conf"
  { echo "hostnossl all all 0.0.0.0/0 reject"; echo "hostnossl all all ::/0 reject"; cat "$hba"; } > "$hba.new"
  mv "$hba.new" "$hba"
  [ "$(id -u)" -ne 0 ] || chown postgres:postgres "$hba"
fi
as_owner "'$bindir/pg_ctl' -D '$dir/data' -l '$dir/server.log' -w -t 60 start >/dev/null" \
  || { cat "$dir/server.log" >&2; exit 1; }
echo "export LMS_AGENT_TEST_PG_HOST=127.0.0.1"
echo "export LMS_AGENT_TEST_PG_PORT=$port"
echo "export LMS_AGENT_TEST_PG_USER=postgres"
echo "export LMS_AGENT_TEST_PG_PASSWORD=$password"
echo "export LMS_AGENT_TEST_PGDATA=$dir/data"
echo "export LMS_AGENT_TEST_PGBIN=$bindir"
if [ "$ssl" = yes ]; then echo "export LMS_AGENT_TEST_PG_SSLROOTCERT=$dir/tls/ca.crt"; fi
