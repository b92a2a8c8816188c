#!/usr/bin/env bash
# What the benchmarks drive besides the Python packages in .venv: skopeo and the CNCF
# distribution registry (Debian's docker-registry, /usr/bin/docker-registry). Idempotent:
# installs only what is missing, and runs `apt-get update` only when something is.
# The package's own service (if an init system starts it) is not used: the benchmark
# runs the binary itself with a config of its own, on a free loopback port.
set -euo pipefail
. "$(dirname "$0")/../scripts/apt-install-missing.sh"

missing=()
command -v skopeo >/dev/null 2>&1 || missing+=(skopeo)
[ -x /usr/bin/docker-registry ] || missing+=(docker-registry)

apt_install_missing bench/install-deps "${missing[@]}"
