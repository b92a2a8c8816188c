#!/usr/bin/env bash
# Installs the system tools the tests drive: skopeo, Debian's docker.io (dockerd
# plus the /usr/bin/docker client) and containerd (the daemon plus ctr) for the
# end-to-end tests, Debian's chromium and chromium-driver for the web console's
# browser test (tests/e2e/test_console.py),
# and OpenLDAP's slapd plus ldap-utils for the LDAP tests (tests/ldap). Idempotent:
# installs only what is missing, and runs `apt-get update` only when something is.
set -euo pipefail
. "$(dirname "$0")/apt-install-missing.sh"

missing=()
command -v skopeo >/dev/null 2>&1 || missing+=(skopeo)
# The tests call /usr/bin/docker explicitly (Debian's client, matching dockerd);
# another docker earlier on PATH does not count.
if ! command -v dockerd >/dev/null 2>&1 || [ ! -x /usr/bin/docker ]; then
    missing+=(docker.io)
fi
# The containerd tests (tests/e2e/test_containerd.py) run Debian's /usr/bin/containerd
# with its /usr/bin/ctr; docker.io depends on the package, but the check does not rely on that.
if [ ! -x /usr/bin/containerd ] || [ ! -x /usr/bin/ctr ]; then
    missing+=(containerd)
fi
# slapd lives in /usr/sbin, which a non-root PATH often lacks.
if ! command -v slapd >/dev/null 2>&1 && [ ! -x /usr/sbin/slapd ]; then
    missing+=(slapd)
fi
command -v ldapsearch >/dev/null 2>&1 || missing+=(ldap-utils)
# Replication's tests (tests/replication) copy to and from the CNCF registry: Debian's build.
[ -x /usr/bin/docker-registry ] || missing+=(docker-registry)
# The console test runs /usr/bin/chromium through /usr/bin/chromedriver (Debian's pair,
# same version); a browser elsewhere on PATH does not count.
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)

apt_install_missing install-system-deps "${missing[@]}"
