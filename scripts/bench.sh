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

for day in 1 2; do
  $bin generate-sample "$work/extract" --users "$users" --sections "$sections" --assignments-per-section "$per" --day $day >/dev/null
  $bin flush --csvpath "$work/extract" --dbname "$work/lms-ds.sqlite" --json > "$work/day$day.json" || true
  report "sqlite day $day" "$work/day$day.json"
done
echo "extract on disk: $(du -sh "$work/extract" | cut -f1); buffer: $(du -sh "$work"/state/lms-agent/buffer-*.sqlite | cut -f1); LMS-DS: $(du -sh "$work/lms-ds.sqlite" | cut -f1)"
