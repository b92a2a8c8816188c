#!/usr/bin/env bash
# What the benchmarks drive besides the Python packages in .venv: skopeo and the CNCF
# distribution registry (Debian's docker-registry, /usr/bin/docker-registry). Idempotent:
# installs only what is missing, and runs `apt-get update` only when something is.
# The package's own service (if an init system starts it) is not used: the benchmark
# runs the binary itself with a config of its own, on a free loopback port.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

missing=()
command -v skopeo >/dev/null 2>&1 || missing+=(skopeo)
[ -x /usr/bin/docker-registry ] || missing+=(docker-registry)

if [ "${#missing[@]}" -eq 0 ]; then
    echo "bench/install-deps: skopeo and docker-registry already present"
    exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        sudo=(sudo --preserve-env=DEBIAN_FRONTEND)
    else
        echo "bench/install-deps: need root (or sudo) to install: ${missing[*]}" >&2
        exit 1
    fi
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "bench/install-deps: apt-get not found; install by hand: ${missing[*]}" >&2
    exit 1
fi

echo "bench/install-deps: installing ${missing[*]}"
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
