#!/usr/bin/env bash
# The whole test suite, from a fresh clone: system packages, a throwaway PostgreSQL on loopback,
# build, every test (SQLite and PostgreSQL scenarios alike).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
eval "$(scripts/start-postgres.sh)"
trap scripts/stop-postgres.sh EXIT
export LMS_AGENT_REQUIRE_PG=1
swift build --build-tests
swift test --skip-build
