#!/usr/bin/env bash
# Where a PostgreSQL forward spends its time: a day-1 flush of a generated tree (the benchmark's size by
# default) with every statement's server-side duration logged, summed by statement and printed beside
# the flush's wall and forwarding time. The rest of the forwarding time is spent outside the server
# (round trips, the buffer). Usage: scripts/profile-postgres.sh [users sections assignments-per-section]
# LMS_AGENT_BIN=path uses that binary instead of building a release one.
set -euo pipefail
users=${1:-5000}; sections=${2:-250}; per=${3:-10}
cd "$(dirname "$0")/.."
if [ -z "${LMS_AGENT_BIN:-}" ]; then swift build -c release >/dev/null; fi
bin=${LMS_AGENT_BIN:-$PWD/.build/release/lms-agent}
work=$(mktemp -d /tmp/lms-agent-profile.XXXXXX)
eval "$(scripts/start-postgres.sh)"
trap 'scripts/stop-postgres.sh; rm -rf "$work"' EXIT
export PGPASSWORD=$LMS_AGENT_TEST_PG_PASSWORD DB_PASSWORD=$LMS_AGENT_TEST_PG_PASSWORD XDG_STATE_HOME=$work/state
psql -q -h 127.0.0.1 -p "$LMS_AGENT_TEST_PG_PORT" -U postgres -c "CREATE DATABASE lms_prof"
$bin generate-sample "$work/x" --users "$users" --sections "$sections" --assignments-per-section "$per" >/dev/null
# The schema first, from an empty extract, so that the log holds only the load.
mkdir -p "$work/empty"
$bin flush --csvpath "$work/empty" --engine postgresql --server 127.0.0.1 --port "$LMS_AGENT_TEST_PG_PORT" --username postgres --dbname lms_prof >/dev/null 2>&1 || true
psql -q -h 127.0.0.1 -p "$LMS_AGENT_TEST_PG_PORT" -U postgres -c "ALTER SYSTEM SET log_min_duration_statement = 0" -c "ALTER SYSTEM SET log_line_prefix = ''" -c "SELECT pg_reload_conf()" >/dev/null
log=$(dirname "$LMS_AGENT_TEST_PGDATA")/server.log
: > "$log" || true
start=$(date +%s.%N)
$bin flush --csvpath "$work/x" --engine postgresql --server 127.0.0.1 --port "$LMS_AGENT_TEST_PG_PORT" --username postgres --dbname lms_prof --json > "$work/out.json" 2>/dev/null || true
end=$(date +%s.%N)
python3 - "$log" "$work/out.json" "$start" "$end" <<'PY'
import re, sys, json, collections
log, out, start, end = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
s = json.load(open(out))["summary"]
tot = collections.Counter(); cnt = collections.Counter()
for line in open(log, errors="replace"):
    m = re.match(r"LOG:  duration: ([0-9.]+) ms  (?:statement|execute [^:]*|parse [^:]*|bind [^:]*): (.*)", line)
    if not m: continue
    ms, sql = float(m.group(1)), m.group(2).strip()
    w = sql.split()
    key = " ".join(w[:3])[:40] if w else "?"
    if "BEGIN" in sql[:6]: key = "BEGIN+lock"
    tot[key] += ms; cnt[key] += 1
allms = sum(tot.values())
print(f"wall {end-start:.1f} s; forward {s['forwardSeconds']:.1f} s; server-side statement time {allms/1000:.1f} s over {sum(cnt.values())} statements")
for k, v in tot.most_common(18):
    print(f"  {v/1000:7.2f} s  {cnt[k]:6d}x  {v/cnt[k]:6.3f} ms  {k}")
PY
