# Shared by the scripts: install what is missing, find swift, find a user manager, release flags.
# Sourced; expects say() and die() from the caller.

# Release builds compile every module, argument-parser's and swift-system's included, with generic
# type metadata reached through direct accessors instead of mangled names: a mangled name is
# demangled at run time and its generic requirements checked by protocol-conformance lookups, each
# of which scans the executable's 4,384 conformance records once (BENCHMARKS.md: a sixth to a
# fifth of the instructions of every command). packaging/debian/rules passes the same flags (SWIFT_CODEGEN).
release_codegen=(-Xswiftc -Xfrontend -Xswiftc -disable-concrete-type-metadata-mangled-name-accessors)

# ensure_packages PKG...: installs the Debian packages that are not installed (apt-get update only then).
ensure_packages() {
    local missing=() pkg log
    for pkg in "$@"; do
        [[ $(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null) == "install ok installed" ]] || missing+=("$pkg")
    done
    ((${#missing[@]})) || return 0
    if ! command -v apt-get >/dev/null; then
        die "missing packages: ${missing[*]} (no apt-get here: install them another way)"
    elif [[ $EUID -ne 0 ]]; then
        die "missing packages: ${missing[*]}; install them with: sudo apt-get install ${missing[*]}"
    fi
    say "installing ${missing[*]}"
    log=$(mktemp)
    if ! { DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
           DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
           </dev/null >"$log" 2>&1; then
        cat "$log" >&2; rm -f "$log"; die "apt-get install ${missing[*]} failed"
    fi
    rm -f "$log"
}

# ensure_swift: puts the toolchain on PATH (it lives in /opt/swift on these machines).
ensure_swift() {
    command -v swift >/dev/null && return 0
    [[ -x /opt/swift/usr/bin/swift ]] && export PATH=$PATH:/opt/swift/usr/bin || die "swift not found in PATH"
}

# Whether a systemd user manager answers for this user (a login session, or already in the sandbox).
user_manager_answers() {
    local state
    state=$(timeout 5 systemctl --user is-system-running 2>/dev/null </dev/null) || true
    [[ $state == running || $state == degraded ]] && return 0
    # a real session whose manager is still starting or is in another state: PID 1 is systemd and
    # this user's manager socket exists
    [[ -n ${XDG_RUNTIME_DIR:-} && -S $XDG_RUNTIME_DIR/systemd/private && -d /run/systemd/system \
        && $(cat /proc/1/comm 2>/dev/null) == systemd ]]
}

# ensure_zenml_venv VERSION: a venv with the real zenml==VERSION from PyPI, for the live tests of
# Python services; prints its interpreter. Built once with Debian's python3 (python3-venv) and
# cached under ${XDG_CACHE_HOME:-~/.cache}/svcunit, keyed on the version; a half-built one (no
# .complete marker) is built again.
ensure_zenml_venv() {
    local version=$1 cache=${XDG_CACHE_HOME:-$HOME/.cache}/svcunit venv log
    venv=$cache/zenml-$version
    if [[ ! -f $venv/.complete ]]; then
        ensure_packages python3-venv
        say "installing zenml==$version from PyPI into $venv (once; about 20 s on a quiet machine)"
        rm -rf "$venv" && mkdir -p "$cache"
        log=$(mktemp)
        if ! { /usr/bin/python3 -m venv "$venv" &&
               "$venv/bin/python" -m pip install -q --disable-pip-version-check "zenml==$version"; } </dev/null >"$log" 2>&1; then
            cat "$log" >&2; rm -f "$log"; die "could not install zenml==$version into $venv"
        fi
        rm -f "$log"
        touch "$venv/.complete"
    fi
    printf '%s\n' "$venv/bin/python"
}
