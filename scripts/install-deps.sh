#!/usr/bin/env bash
# Installs the Debian packages lms-agent builds and tests with (only those missing).
# The Swift 6 toolchain itself is a prerequisite (see README).
set -euo pipefail
# openssl (the CLI) makes the TLS tests' certificates; strace shows the modes files are created with;
# python3 runs scripts/undocumented.py.
packages=(libsqlite3-dev libssl-dev libpq-dev freetds-dev pkg-config sqlite3 postgresql openssl strace python3)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
