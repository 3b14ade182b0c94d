#!/bin/sh
# The container image's install steps, also run by tests/deploy/test_image_install.py in a
# fresh virtual environment (there is no Docker engine in CI):
#
#   install.sh wheels SOURCE_DIR WHEEL_DIR   build jobop with its server and otel dependencies as wheels
#   install.sh venv WHEEL_DIR VENV_DIR       a fresh venv with jobop[server,otel] from those wheels only
set -eu

case "${1:-}" in
wheels)
    python -m pip wheel --wheel-dir "$3" "$2[server,otel]"
    ;;
venv)
    python -m venv "$3"
    # pip byte-compiles what it installs, so a read-only root file system costs no
    # compiling at start (and it skips, as Python would, a module this Python cannot
    # compile: javaobj ships a v3 module written for 3.12; jobop imports only its v2).
    "$3/bin/python" -m pip install --no-index --find-links "$2" "jobop[server,otel]"
    ;;
*)
    echo "usage: install.sh wheels SOURCE_DIR WHEEL_DIR | install.sh venv WHEEL_DIR VENV_DIR" >&2
    exit 2
    ;;
esac
