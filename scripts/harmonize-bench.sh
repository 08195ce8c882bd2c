#!/usr/bin/env bash
# Benchmark of a harmonization pass on PostgreSQL at the size of scripts/bench.sh (280,000-row tree:
# 5,000 users, 250 sections, 10 assignments per section), the ODS fixture seeded to match: loads day 1
# and day 2 through the agent and prints how long each pass takes (the first pass of a day does the
# work, the second finds nothing to change).
# Usage: scripts/harmonize-bench.sh [users sections assignments-per-section]
set -euo pipefail
cd "$(dirname "$0")/.."
export LMS_AGENT_BENCH_USERS=${1:-5000} LMS_AGENT_BENCH_SECTIONS=${2:-250} LMS_AGENT_BENCH_PER_SECTION=${3:-10}
swift build --build-tests >/dev/null
eval "$(scripts/start-postgres.sh)"
trap 'scripts/stop-postgres.sh' EXIT
LMS_AGENT_HARMONIZE_BENCH=1 swift test --skip-build --filter HarmonizeBenchmarkTests 2>&1 | grep -E "harmonize benchmark|passed|failed|error"
