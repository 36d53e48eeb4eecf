#!/usr/bin/env bash
# The evcxr Jupyter kernel, which the Rust notebook runs on: installed once (`cargo install
# evcxr_jupyter`, about 4-10 minutes on 2 cores, mostly on one of them) and registered with
# Jupyter.
#
#   evcxr-kernel.sh VERSION               install when missing, then register; if a background
#                                         build (below) is running, wait for it, saying so
#   evcxr-kernel.sh --background VERSION  start installing in the background when missing, and
#                                         return at once (`make demo` and .ci/run build the
#                                         kernel this way while the project builds)
#
# The background build's state (pid, exit status, log) is in $CARGO_TARGET_DIR/evcxr-install
# (./target/evcxr-install by default), which `make clean` removes with the rest of the target
# directory. The kernel itself goes where cargo installs programs (~/.cargo/bin) and its
# registration to Jupyter's user directory (~/.local/share/jupyter/kernels/rust).
set -euo pipefail

background=false
if [ "${1:-}" = "--background" ]; then
    background=true
    shift
fi
version="${1:?usage: evcxr-kernel.sh [--background] VERSION}"
state="${CARGO_TARGET_DIR:-$PWD/target}/evcxr-install"
here="$(cd "$(dirname "$0")" && pwd)"

installed() { cargo install --list | grep -q "^evcxr_jupyter v${version}:"; }
running() { [ -s "$state/pid" ] && kill -0 "$(cat "$state/pid")" 2>/dev/null && [ ! -s "$state/status" ]; }
# Its own build directory, never the project's (CARGO_TARGET_DIR may point there).
install_command=(env -u CARGO_TARGET_DIR cargo install evcxr_jupyter --locked --version "$version")

if $background; then
    if running; then exit 0; fi
    if installed; then
        rm -f "$state/pid"
        exit 0
    fi
    mkdir -p "$state"
    rm -f "$state/status"
    # A session of its own, so that the whole build can be stopped with `kill -- -PID`. At the
    # same priority as the project's build beside it: its long chain of crates that build one
    # after another is what the first run waits for last.
    setsid bash -c 'status=0; "${@:2}" >"$1/log" 2>&1 || status=$?; echo "$status" >"$1/status"' \
        evcxr-build "$state" "${install_command[@]}" </dev/null >/dev/null 2>&1 &
    echo "$!" >"$state/pid"
    echo "evcxr-kernel: building evcxr_jupyter ${version} in the background (log: $state/log)"
    exit 0
fi

if running; then
    began=$(date +%s)
    echo "evcxr-kernel: waiting for the background build of evcxr_jupyter ${version} (log: $state/log)"
    while running; do
        sleep 5
        waited=$(($(date +%s) - began))
        if [ $((waited % 30)) -lt 5 ]; then
            what=$(python3 "$here/progress.py" --status "$state/log")
            echo "  evcxr-kernel: waited ${waited} s${what:+, $what}"
        fi
    done
fi
if [ -s "$state/status" ] && [ "$(cat "$state/status")" != 0 ] && ! installed; then
    echo "evcxr-kernel: the background build of evcxr_jupyter failed (exit $(cat "$state/status")):" >&2
    tail -n 40 "$state/log" >&2 || true
    rm -f "$state/status" "$state/pid"
    exit 1
fi
if ! installed; then
    python3 "$here/progress.py" "evcxr-kernel: building evcxr_jupyter ${version} (once; 4-10 minutes on 2 cores)" \
        "$state/log" -- "${install_command[@]}"
fi
evcxr_jupyter --install >/dev/null
