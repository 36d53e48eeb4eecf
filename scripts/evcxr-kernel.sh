#!/usr/bin/env bash
# Installs the evcxr Jupyter kernel (the Rust notebook's kernel) when it is missing, and
# registers it with Jupyter. `make evcxr-kernel`; building it takes about 10 minutes once.
#
# .ci/run starts the build in the background while the project builds and names a status file
# in RUUVISTREAM_EVCXR_INSTALL_STATUS (the exit code appears there when the build ends); this
# script then waits for it instead of starting a second build.
set -euo pipefail
version="${1:?usage: evcxr-kernel.sh VERSION}"

if [ -n "${RUUVISTREAM_EVCXR_INSTALL_STATUS:-}" ]; then
    waited=0
    until [ -s "$RUUVISTREAM_EVCXR_INSTALL_STATUS" ]; do
        [ $((waited % 60)) -eq 0 ] && echo "evcxr-kernel: waiting for the background build of evcxr_jupyter ($waited s)"
        sleep 5
        waited=$((waited + 5))
    done
    status=$(cat "$RUUVISTREAM_EVCXR_INSTALL_STATUS")
    if [ "$status" != 0 ]; then
        echo "evcxr-kernel: the background build of evcxr_jupyter failed (exit $status):" >&2
        tail -n 40 "${RUUVISTREAM_EVCXR_INSTALL_LOG:-/dev/null}" >&2 || true
        exit 1
    fi
fi

if ! cargo install --list | grep -q "^evcxr_jupyter v${version}:"; then
    echo "evcxr-kernel: building evcxr_jupyter ${version} (once; about 10 minutes on 2 cores)"
    # Its own build directory: never the project's (CARGO_TARGET_DIR may point there).
    env -u CARGO_TARGET_DIR cargo install evcxr_jupyter --locked --quiet --version "$version"
fi
evcxr_jupyter --install >/dev/null
