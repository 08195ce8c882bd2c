#!/usr/bin/env bash
# The whole test suite, from a fresh clone: system packages, build, every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build --build-tests
swift test --skip-build
