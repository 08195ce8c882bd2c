#!/usr/bin/env bash
# The main job, from a fresh clone: generate a sample extract, flush it into the embedded SQLite
# LMS-DS, show status. Everything goes under ./demo (extract, buffer, LMS-DS).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release
bin=.build/release/lms-agent
rm -rf demo
export XDG_STATE_HOME="$PWD/demo/state"
$bin generate-sample demo/extract --users 200 --sections 12 --assignments-per-section 5
$bin flush --csvpath demo/extract --dbname demo/lms-ds.sqlite
$bin status --csvpath demo/extract --dbname demo/lms-ds.sqlite
