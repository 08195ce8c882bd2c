#!/usr/bin/env bash
# Memory and speed on one large CSV file: a users file of about BIG_FILE_MB megabytes (default 1024),
# made by repeating a generated users file with new ids, flushed into an empty embedded SQLite
# LMS-DS (and into PostgreSQL with BENCH_ENGINES="sqlite postgresql"); then day 2: the next day's
# snapshot of the same scope, the same rows with every 100th one's name changed. Prints the rows,
# the times of staging and forwarding, and the peak resident memory of each flush.
set -euo pipefail
cd "$(dirname "$0")/.."
mb=${BIG_FILE_MB:-1024}
engines=${BENCH_ENGINES:-sqlite}
swift build -c release >/dev/null
bin=$PWD/.build/release/lms-agent
work=$(mktemp -d /tmp/lms-agent-big.XXXXXX)
trap 'rm -rf "$work"' EXIT
export XDG_STATE_HOME="$work/state"
$bin generate-sample "$work/sample" --users 2000 --sections 1 --assignments-per-section 1 >/dev/null
mkdir -p "$work/extract/users"
python3 - "$work/sample/users" "$work/extract/users/2026-09-01-06-00-00.csv" "$mb" <<'PY'
import csv, glob, sys
src, dst, mb = glob.glob(sys.argv[1] + "/*.csv")[0], sys.argv[2], int(sys.argv[3])
with open(src, newline="", encoding="utf-8-sig") as f:
    rows = list(csv.reader(f))
header, body = rows[0], rows[1:]
sid, email = header.index("SourceSystemIdentifier"), header.index("EmailAddress")
with open(dst, "w", newline="", encoding="utf-8") as out:
    w = csv.writer(out, lineterminator="\n")
    w.writerow(header)
    n = 0
    while out.tell() < mb * 1024 * 1024:
        for r in body:
            r = list(r); n += 1
            r[sid] = f"{n:010d}"; r[email] = f"u{n}@example.org"
            w.writerow(r)
PY
echo "file: $(du -h "$work/extract/users/"*.csv | cut -f1), $(($(wc -l < "$work/extract/users/"*.csv) - 1)) rows"
if [[ " $engines " == *" postgresql "* ]]; then
  eval "$(scripts/start-postgres.sh)"
  trap 'scripts/stop-postgres.sh; rm -rf "$work"' EXIT
  export DB_PASSWORD=$LMS_AGENT_TEST_PG_PASSWORD
fi
for engine in $engines; do
  rm -rf "$work/state" "$work/lms-ds.sqlite"*
  if [ "$engine" = postgresql ]; then
    PGPASSWORD=$DB_PASSWORD psql -q -h 127.0.0.1 -p "$LMS_AGENT_TEST_PG_PORT" -U postgres -c "DROP DATABASE IF EXISTS lms_big" -c "CREATE DATABASE lms_big" 2>/dev/null
    target=(--engine postgresql --server 127.0.0.1 --port "$LMS_AGENT_TEST_PG_PORT" --username postgres --dbname lms_big)
  else
    target=(--dbname "$work/lms-ds.sqlite")
  fi
  rm -f "$work/extract/users/2026-09-02-06-00-00.csv"
  for day in 1 2; do
    if [ "$day" = 2 ]; then
      python3 - "$work/extract/users/2026-09-01-06-00-00.csv" "$work/extract/users/2026-09-02-06-00-00.csv" <<'PY'
import sys
with open(sys.argv[1], encoding="utf-8") as f, open(sys.argv[2], "w", encoding="utf-8") as out:
    header = f.readline(); out.write(header)
    name = header.rstrip("\n").split(",").index("Name")
    for n, line in enumerate(f):
        if n % 100 == 0 and '"' not in line:
            fields = line.rstrip("\n").split(","); fields[name] += " Jr"; line = ",".join(fields) + "\n"
        out.write(line)
PY
    fi
    $bin flush --csvpath "$work/extract" "${target[@]}" --no-harmonize --json > "$work/$engine-day$day.json" 2>/dev/null || true
    python3 - "$work/$engine-day$day.json" "$engine day $day" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["summary"]
rows = s["stage"]["stagedRows"]
sent = sum(r["rows"] - r.get("unchangedRows", 0) for r in s["forward"]["byResource"].values())
print(f"{sys.argv[2]}: {rows:,} rows ({sent:,} sent); staging {s['stageSeconds']:.1f} s ({rows / s['stageSeconds']:,.0f} rows/s); "
      f"forwarding {s['forwardSeconds']:.1f} s ({rows / s['forwardSeconds']:,.0f} rows/s); end to end {s['seconds']:.1f} s; "
      f"peak RSS {s['peakResidentBytes'] / 1048576:.1f} MiB")
PY
  done
done
