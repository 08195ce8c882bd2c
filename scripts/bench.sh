#!/usr/bin/env bash
# Benchmark: staging and forwarding rows/s, end to end, and peak memory on generated trees, day 1
# into an empty LMS-DS, then day 2 on top; each figure the median of BENCH_RUNS runs (default 3),
# each run from an empty buffer and LMS-DS.
# Usage: scripts/bench.sh [users sections assignments-per-section]
#   BENCH_TREES="280k 3m" (default 280k: 5,000 users, 250 sections, 10 assignments per section, about
#   280,000 rows; 3m: 50,000 users, 2,500 sections, 10 per section, about 3 million rows); the three
#   numbers name one tree of that size instead.
#   BENCH_ENGINES="sqlite postgresql" (default both), BENCH_RUNS=3.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${BENCH_RUNS:-3}
if [ $# -ge 3 ]; then trees="$1x$2x$3"; else trees=${BENCH_TREES:-280k}; fi
scripts/install-deps.sh >/dev/null
swift build -c release >/dev/null
bin=$PWD/.build/release/lms-agent
work=$(mktemp -d /tmp/lms-agent-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
export XDG_STATE_HOME="$work/state"
engines=${BENCH_ENGINES:-sqlite postgresql}
if [[ " $engines " == *" postgresql "* ]]; then
  eval "$(scripts/start-postgres.sh)"
  trap 'scripts/stop-postgres.sh; rm -rf "$work"' EXIT
  export DB_PASSWORD=$LMS_AGENT_TEST_PG_PASSWORD
fi

for tree in $trees; do
  case $tree in
    280k) size=(5000 250 10) ;;
    3m) size=(50000 2500 10) ;;
    *x*x*) IFS=x read -r -a size <<< "$tree" ;;
    *) echo "unknown tree '$tree': 280k, 3m or USERSxSECTIONSxPER" >&2; exit 2 ;;
  esac
  # The two days' trees, generated once: every run reads the same bytes.
  rm -rf "$work/day1" "$work/day2"
  $bin generate-sample "$work/day1" --users "${size[0]}" --sections "${size[1]}" --assignments-per-section "${size[2]}" --day 1 >/dev/null
  cp -a "$work/day1" "$work/day2"
  $bin generate-sample "$work/day2" --users "${size[0]}" --sections "${size[1]}" --assignments-per-section "${size[2]}" --day 2 --force >/dev/null
  for engine in $engines; do
    for run in $(seq 1 "$runs"); do
      rm -rf "$work/extract-run" "$work/state" "$work/lms-ds.sqlite"*
      if [ "$engine" = postgresql ]; then
        PGPASSWORD=$DB_PASSWORD psql -q -h 127.0.0.1 -p "$LMS_AGENT_TEST_PG_PORT" -U postgres \
          -c "DROP DATABASE IF EXISTS lms_bench" -c "CREATE DATABASE lms_bench" 2>/dev/null
        target=(--engine postgresql --server 127.0.0.1 --port "$LMS_AGENT_TEST_PG_PORT" --username postgres --dbname lms_bench)
      else
        target=(--dbname "$work/lms-ds.sqlite")
      fi
      for day in 1 2; do
        # Day N's files arrive on top of the earlier days', as an extractor leaves them.
        rm -rf "$work/extract-run"; cp -a "$work/day$day" "$work/extract-run"
        $bin flush --csvpath "$work/extract-run" "${target[@]}" --no-harmonize --json > "$work/$tree-$engine-day$day-run$run.json" 2>/dev/null || true
      done
    done
  done
  echo "tree $tree (${size[*]}): day 1 $(find "$work/day1" -name '*.csv' | wc -l) files, $(du -sh "$work/day1" | cut -f1); after day 2 $(find "$work/day2" -name '*.csv' | wc -l) files"
  python3 - "$work" "$runs" "$tree" $engines <<'PY'
import json, statistics, sys
work, runs, tree, engines = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
def load(engine, day, run):
    s = json.load(open(f"{work}/{tree}-{engine}-day{day}-run{run}.json"))["summary"]
    rows = sum(r["rows"] for r in s["forward"]["byResource"].values())
    sent = rows - sum(r.get("unchangedRows", 0) for r in s["forward"]["byResource"].values())
    staged = s["stage"]["stagedRows"] if s.get("stage") else 0
    return dict(staged=staged, rows=rows, sent=sent, stage=s["stageSeconds"], forward=s["forwardSeconds"], total=s["seconds"],
                rss=s["peakResidentBytes"] / 1048576)
print(f"medians of {runs} run(s); rows/s = rows / seconds of the phase")
for engine in engines:
    days = {}
    for day in (1, 2):
        rs = [load(engine, day, r) for r in range(1, runs + 1)]
        m = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
        days[day] = m
        print(f"{engine} day {day}: {m['rows']:,.0f} rows ({m['sent']:,.0f} sent); staging {m['stage']:.2f} s ({m['staged'] / max(m['stage'], 1e-9):,.0f} rows/s); "
              f"forwarding {m['forward']:.2f} s ({m['rows'] / max(m['forward'], 1e-9):,.0f} rows/s); "
              f"end to end {m['total']:.2f} s ({m['rows'] / max(m['total'], 1e-9):,.0f} rows/s); peak RSS {m['rss']:.1f} MiB"
              + "  [end to end per run: " + ", ".join("%.2f" % r["total"] for r in rs) + "]")
    print(f"{engine}: day 2 takes {100 * days[2]['total'] / max(days[1]['total'], 1e-9):.0f} % of day 1's time")
PY
done
