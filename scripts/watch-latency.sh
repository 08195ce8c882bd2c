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
sleep 1
python3 - "$work" <<'PY'
import sqlite3, sys, time
work = sys.argv[1]
header = "SourceSystemIdentifier,SourceSystem,UserRole,LocalUserIdentifier,SISUserIdentifier,Name,EmailAddress,CreateDate,LastModifiedDate,SourceCreateDate,SourceLastModifiedDate\n"
latencies = []
for k in range(5):
    with open(f"{work}/extract/users/2026-09-{k + 1:02d}-06-00-00.csv", "w") as f:
        f.write(header + "".join(f"u{i},TestLMS,student,,,User {i} v{k},u{i}@x.org,2026-08-01 08:00:00,2026-09-01 08:00:00,,\n" for i in range(5)))
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
