# Sourced by the install scripts: `apt_install_missing NAME PACKAGE...` installs the
# given Debian packages (already found missing by the caller) with apt-get, as root
# or through sudo, running `apt-get update` first. Does nothing for an empty list.
apt_install_missing() {
    local name=$1
    shift
    if [ "$#" -eq 0 ]; then
        echo "$name: everything already present"
        return 0
    fi
    export DEBIAN_FRONTEND=noninteractive
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            sudo=(sudo --preserve-env=DEBIAN_FRONTEND)
        else
            echo "$name: need root (or sudo) to install: $*" >&2
            return 1
        fi
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "$name: apt-get not found; install by hand: $*" >&2
        return 1
    fi
    echo "$name: installing $*"
    "${sudo[@]}" apt-get update -q
    "${sudo[@]}" apt-get install -y -q --no-install-recommends "$@"
}
