#!/usr/bin/env bash
# Benchmark: staging and forwarding rows/s and peak memory on a ~280,000-row tree, day 1 then day 2.
# Usage: scripts/bench.sh [users sections assignments-per-section]
set -euo pipefail
cd "$(dirname "$0")/.."
users=${1:-5000}; sections=${2:-250}; per=${3:-10}
scripts/install-deps.sh >/dev/null
swift build -c release >/dev/null
bin=$PWD/.build/release/lms-agent
work=$(mktemp -d /tmp/lms-agent-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
export XDG_STATE_HOME="$work/state"

report() { # $1 label, $2 json file, $3 extract size
  python3 - "$1" "$2" <<'PY'
import json, sys
label, path = sys.argv[1], sys.argv[2]
s = json.load(open(path))["summary"]
rows = s["stage"]["stagedRows"] if s.get("stage") else 0
fwd = s["forward"]["byResource"]
frows = sum(r["rows"] for r in fwd.values())
print(f"{label}: staged {rows:,} rows in {s['stageSeconds']:.2f} s = {rows / max(s['stageSeconds'], 1e-9):,.0f} rows/s; "
      f"forwarded {frows:,} rows in {s['forwardSeconds']:.2f} s = {frows / max(s['forwardSeconds'], 1e-9):,.0f} rows/s; "
      f"end to end {s['seconds']:.2f} s = {frows / max(s['seconds'], 1e-9):,.0f} rows/s; "
      f"peak RSS {s['peakResidentBytes'] / 1048576:.1f} MiB")
PY
}

engines=${BENCH_ENGINES:-sqlite postgresql}
for engine in $engines; do
  rm -rf "$work/extract-run" "$work/state"
  mkdir -p "$work/extract-run"
  if [ "$engine" = postgresql ]; then
    eval "$(scripts/start-postgres.sh)"
    trap 'scripts/stop-postgres.sh; rm -rf "$work"' EXIT
    PGPASSWORD=$LMS_AGENT_TEST_PG_PASSWORD psql -q -h 127.0.0.1 -p "$LMS_AGENT_TEST_PG_PORT" -U postgres -c "CREATE DATABASE lms_bench"
    target=(--engine postgresql --server 127.0.0.1 --port "$LMS_AGENT_TEST_PG_PORT" --username postgres --dbname lms_bench)
    export DB_PASSWORD=$LMS_AGENT_TEST_PG_PASSWORD
  else
    target=(--dbname "$work/lms-ds.sqlite")
  fi
  for day in 1 2; do
    # Day N's files arrive on top of the earlier days', as an extractor leaves them.
    $bin generate-sample "$work/extract-run" --users "$users" --sections "$sections" --assignments-per-section "$per" --day $day --force >/dev/null
    $bin flush --csvpath "$work/extract-run" "${target[@]}" --json > "$work/$engine-day$day.json" || true
    report "$engine day $day" "$work/$engine-day$day.json"
  done
  if [ "$engine" = postgresql ]; then scripts/stop-postgres.sh; trap 'rm -rf "$work"' EXIT; fi
done
echo "tree after day 2: $(find "$work/extract-run" -name '*.csv' | wc -l) files, $(du -sh "$work/extract-run" | cut -f1)"
