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
    "$3/bin/python" -m pip install --no-index --find-links "$2" "jobop[server,otel]"
    # The image runs with a read-only root file system: nothing may need compiling later.
    # (javaobj-py3 ships a v3 package in Python 3.12 syntax; jobop imports only its v2.)
    "$3/bin/python" -m compileall -q -x '/javaobj/v3/' "$3/lib"
    ;;
*)
    echo "usage: install.sh wheels SOURCE_DIR WHEEL_DIR | install.sh venv WHEEL_DIR VENV_DIR" >&2
    exit 2
    ;;
esac
