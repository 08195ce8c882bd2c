#!/usr/bin/env bash
# The whole test suite, from a fresh clone: system packages, the doc-comment check, a throwaway
# PostgreSQL on loopback, build, every test (SQLite and PostgreSQL scenarios alike), then the crash
# torture at CI size.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# Every public symbol of the documented modules has a /// doc comment (prints file:line: declaration
# of each one that lacks it, and fails); seconds, so it runs before the build.
scripts/undocumented.py --check
eval "$(scripts/start-postgres.sh)"
trap scripts/stop-postgres.sh EXIT
export LMS_AGENT_REQUIRE_PG=1
swift build --build-tests
swift test --skip-build
# The crash torture runs here, after the tests and alone, rather than as a Swift test: its kills are
# aimed at moments a few milliseconds long, which parallel tests on the same cores would blur; the
# outage tests stop and restart the PostgreSQL server it uses; and its report (seed, every kill and
# where it landed, every difference from the clean run) lands in the log as it is, not inside a test
# failure. About 2 minutes; LMS_AGENT_TORTURE_SEED replays another seed.
scripts/torture.sh --size ci --seed "${LMS_AGENT_TORTURE_SEED:-1}" --bin .build/debug/lms-agent
