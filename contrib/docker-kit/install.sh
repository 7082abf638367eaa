#!/bin/sh
# Installs syncer in the docker-kit layout under PREFIX:
#   PREFIX/usr/local/bin/syncer                        the binary
#   PREFIX/usr/bin/image-syncer -> ../local/bin/syncer  image-syncer's path; syncer acts as image-syncer there
#   PREFIX/opt/utils/image-syncer/run_jobs.py          shims for the pipelines' existing calls
#   PREFIX/opt/utils/image-syncer/run_sync.py
#   PREFIX/opt/utils/image-syncer/syncer_shim.py
# The Dockerfile installs with PREFIX=/out and copies /out into the image; tests install into a temporary
# directory. The symlink is relative so that it resolves inside PREFIX as well as at /.
#
# Usage: install.sh PREFIX [SYNCER_BINARY]   (default binary: $SYNCER_BIN, else build/syncer/syncer)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
if [ $# -lt 1 ] || [ $# -gt 2 ] || [ -z "$1" ]; then
    echo "usage: $0 PREFIX [SYNCER_BINARY]" >&2
    exit 2
fi
prefix=$1
binary=${2:-${SYNCER_BIN:-$here/../../build/syncer/syncer}}
if [ ! -f "$binary" ] || [ ! -x "$binary" ]; then
    echo "$0: $binary is not an executable file; build syncer first or pass its path" >&2
    exit 2
fi

install -d "$prefix/usr/local/bin" "$prefix/usr/bin" "$prefix/opt/utils/image-syncer"
install -m 0755 "$binary" "$prefix/usr/local/bin/syncer"
# -f replaces an image-syncer binary the base image may already carry.
ln -sf ../local/bin/syncer "$prefix/usr/bin/image-syncer"
install -m 0755 "$here/run_jobs.py" "$here/run_sync.py" "$prefix/opt/utils/image-syncer/"
install -m 0644 "$here/syncer_shim.py" "$prefix/opt/utils/image-syncer/"
