#!/usr/bin/env bash
# Installs the system tools the tests drive: skopeo, Debian's docker.io (dockerd
# plus the /usr/bin/docker client) for the end-to-end tests, and OpenLDAP's slapd
# plus ldap-utils for the LDAP tests (tests/ldap). Idempotent: installs only what
# is missing, and runs `apt-get update` only when something is.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

missing=()
command -v skopeo >/dev/null 2>&1 || missing+=(skopeo)
# The tests call /usr/bin/docker explicitly (Debian's client, matching dockerd);
# another docker earlier on PATH does not count.
if ! command -v dockerd >/dev/null 2>&1 || [ ! -x /usr/bin/docker ]; then
    missing+=(docker.io)
fi
# slapd lives in /usr/sbin, which a non-root PATH often lacks.
if ! command -v slapd >/dev/null 2>&1 && [ ! -x /usr/sbin/slapd ]; then
    missing+=(slapd)
fi
command -v ldapsearch >/dev/null 2>&1 || missing+=(ldap-utils)

if [ "${#missing[@]}" -eq 0 ]; then
    echo "install-system-deps: skopeo, docker.io, slapd and ldap-utils already present"
    exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        sudo=(sudo --preserve-env=DEBIAN_FRONTEND)
    else
        echo "install-system-deps: need root (or sudo) to install: ${missing[*]}" >&2
        exit 1
    fi
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-system-deps: apt-get not found; install by hand: ${missing[*]}" >&2
    exit 1
fi

echo "install-system-deps: installing ${missing[*]}"
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
