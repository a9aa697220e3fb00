# Shared helpers for keel's scripts. Source it; it defines functions only.

KEEL_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# apt-get as root, or through sudo for a normal user; updates the package lists once.
apt_install() {
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    if [ -z "${KEEL_APT_UPDATED:-}" ]; then
        $sudo apt-get update -qq || die "apt-get update failed"
        KEEL_APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null \
        || die "apt-get install $* failed"
}

# The newest PostgreSQL server bin directory on this machine, or nothing.
pg_bindir() {
    local dir
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
            echo "$dir"
            return 0
        fi
    done
    if command -v pg_config >/dev/null && [ -x "$(pg_config --bindir)/initdb" ]; then
        pg_config --bindir
    fi
}

# Where the public datasets (Chinook, Pagila) are, or nothing.
datasets_dir() {
    local dir
    for dir in "${KEEL_DATASETS:-}" "$KEEL_ROOT/../shared/datasets"; do
        if [ -n "$dir" ] && [ -d "$dir" ]; then
            (cd "$dir" && pwd)
            return 0
        fi
    done
}

# The exact wasm-bindgen version pinned in Cargo.lock; the CLI must match it.
wasm_bindgen_version() {
    awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$KEEL_ROOT/Cargo.lock"
}
