#!/usr/bin/env bash
# Measures `lms-agent watch`: latency from the close of a small file to its rows in the (SQLite) LMS-DS,
# and CPU used while idle. Usage: scripts/watch-latency.sh [settle-seconds] [idle-seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
settle=${1:-1}; idle=${2:-30}
swift build -c release >/dev/null
bin=$PWD/.build/release/lms-agent
work=$(mktemp -d /tmp/lms-agent-latency.XXXXXX)
mkdir -p "$work/extract/users"
XDG_STATE_HOME="$work/state" "$bin" watch --csvpath "$work/extract" --dbname "$work/lms-ds.sqlite" --settle-seconds "$settle" 2>"$work/watch.log" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
# The users header is the schema's: taken from a generated file, never written here.
"$bin" generate-sample "$work/sample" --users 1 --sections 1 >/dev/null
header=$(head -n 1 "$(find "$work/sample/users" -name '*.csv' | head -n 1)" | sed $'s/^\xef\xbb\xbf//')
sleep 1
python3 - "$work" "$header" <<'PY'
import csv, io, sqlite3, sys, time
work, header = sys.argv[1], sys.argv[2].split(",")
latencies = []
for k in range(5):
    text = io.StringIO()
    w = csv.DictWriter(text, fieldnames=header, lineterminator="\n")
    w.writeheader()
    for i in range(5):
        w.writerow({"SourceSystemIdentifier": f"u{i}", "SourceSystem": "TestLMS", "UserRole": "student", "Name": f"User {i} v{k}",
                    "EmailAddress": f"u{i}@x.org", "CreateDate": "2026-08-01 08:00:00", "LastModifiedDate": "2026-09-01 08:00:00"})
    with open(f"{work}/extract/users/2026-09-{k + 1:02d}-06-00-00.csv", "w") as f:
        f.write(text.getvalue())
    closed = time.time()
    while True:
        try:
            c = sqlite3.connect(f"{work}/lms-ds.sqlite")
            n = c.execute("SELECT count(*) FROM LMSUser WHERE Name LIKE ?", (f"% v{k}",)).fetchone()[0]
            c.close()
            if n == 5: break
        except sqlite3.Error:
            pass
        time.sleep(0.005)
    latencies.append(time.time() - closed)
    time.sleep(0.5)
print("close-to-rows latency: " + ", ".join(f"{x:.3f} s" for x in latencies) + f" (max {max(latencies):.3f} s)")
PY
ticks() { awk '{print $14 + $15}' /proc/$pid/stat; }
a=$(ticks); sleep "$idle"; b=$(ticks)
hz=$(getconf CLK_TCK)
echo "idle CPU: $(( (b - a) * 1000 / hz )) ms over ${idle} s"
