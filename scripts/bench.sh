#!/usr/bin/env bash
# Benchmark: staging and forwarding rows/s, end to end, and peak memory on a generated tree (~280,000
# rows by default), day 1 into an empty LMS-DS, then day 2 on top; each figure the median of
# BENCH_RUNS runs (default 3), each run from an empty buffer and LMS-DS.
# Usage: scripts/bench.sh [users sections assignments-per-section]
#   BENCH_ENGINES="sqlite postgresql" (default both), BENCH_RUNS=3.
set -euo pipefail
cd "$(dirname "$0")/.."
users=${1:-5000}; sections=${2:-250}; per=${3:-10}
runs=${BENCH_RUNS:-3}
scripts/install-deps.sh >/dev/null
swift build -c release >/dev/null
bin=$PWD/.build/release/lms-agent
work=$(mktemp -d /tmp/lms-agent-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
export XDG_STATE_HOME="$work/state"

# The two days' trees, generated once: every run reads the same bytes.
$bin generate-sample "$work/day1" --users "$users" --sections "$sections" --assignments-per-section "$per" --day 1 >/dev/null
cp -a "$work/day1" "$work/day2"
$bin generate-sample "$work/day2" --users "$users" --sections "$sections" --assignments-per-section "$per" --day 2 --force >/dev/null

engines=${BENCH_ENGINES:-sqlite postgresql}
for engine in $engines; do
  if [ "$engine" = postgresql ]; then
    eval "$(scripts/start-postgres.sh)"
    trap 'scripts/stop-postgres.sh; rm -rf "$work"' EXIT
    export DB_PASSWORD=$LMS_AGENT_TEST_PG_PASSWORD
  fi
  for run in $(seq 1 "$runs"); do
    rm -rf "$work/extract-run" "$work/state" "$work/lms-ds.sqlite"*
    if [ "$engine" = postgresql ]; then
      PGPASSWORD=$DB_PASSWORD psql -q -h 127.0.0.1 -p "$LMS_AGENT_TEST_PG_PORT" -U postgres \
        -c "DROP DATABASE IF EXISTS lms_bench" -c "CREATE DATABASE lms_bench"
      target=(--engine postgresql --server 127.0.0.1 --port "$LMS_AGENT_TEST_PG_PORT" --username postgres --dbname lms_bench)
    else
      target=(--dbname "$work/lms-ds.sqlite")
    fi
    for day in 1 2; do
      # Day N's files arrive on top of the earlier days', as an extractor leaves them.
      rm -rf "$work/extract-run"; cp -a "$work/day$day" "$work/extract-run"
      $bin flush --csvpath "$work/extract-run" "${target[@]}" --json > "$work/$engine-day$day-run$run.json" 2>/dev/null || true
    done
  done
  if [ "$engine" = postgresql ]; then scripts/stop-postgres.sh; trap 'rm -rf "$work"' EXIT; fi
done

python3 - "$work" "$runs" $engines <<'PY'
import json, statistics, sys
work, runs, engines = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
def load(engine, day, run):
    s = json.load(open(f"{work}/{engine}-day{day}-run{run}.json"))["summary"]
    rows = sum(r["rows"] for r in s["forward"]["byResource"].values())
    staged = s["stage"]["stagedRows"] if s.get("stage") else 0
    return dict(staged=staged, rows=rows, stage=s["stageSeconds"], forward=s["forwardSeconds"], total=s["seconds"],
                rss=s["peakResidentBytes"] / 1048576)
print(f"medians of {runs} run(s); rows/s = rows / seconds of the phase")
for engine in engines:
    days = {}
    for day in (1, 2):
        rs = [load(engine, day, r) for r in range(1, runs + 1)]
        m = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
        days[day] = m
        print(f"{engine} day {day}: {m['rows']:,.0f} rows; staging {m['stage']:.2f} s ({m['staged'] / max(m['stage'], 1e-9):,.0f} rows/s); "
              f"forwarding {m['forward']:.2f} s ({m['rows'] / max(m['forward'], 1e-9):,.0f} rows/s); "
              f"end to end {m['total']:.2f} s ({m['rows'] / max(m['total'], 1e-9):,.0f} rows/s); peak RSS {m['rss']:.1f} MiB"
              + "  [end to end per run: " + ", ".join("%.2f" % r["total"] for r in rs) + "]")
    print(f"{engine}: day 2 takes {100 * days[2]['total'] / max(days[1]['total'], 1e-9):.0f} % of day 1's time")
PY
echo "tree: day 1 $(find "$work/day1" -name '*.csv' | wc -l) files, $(du -sh "$work/day1" | cut -f1); after day 2 $(find "$work/day2" -name '*.csv' | wc -l) files"
