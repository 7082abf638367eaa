#!/usr/bin/env python3
"""Mirror one image, every tag or the listed ones: `syncer sync-image` with these arguments.

Kept at /opt/utils/image-syncer/run_sync.py so existing calls keep working, e.g.
`python /opt/utils/image-syncer/run_sync.py labnow/base --tags=latest --source-registry=quay.io`.
See `syncer sync-image --help` and docs/labnow.md.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import syncer_shim  # noqa: E402

FLAGS = ["--tags", "--source-registry", "--target-registry", "--auth-file", "--proc", "--retries", "--jobs",
         "--force", "--log", "--log-format", "--dry-run", "--report", "--help"]

if __name__ == "__main__":
    sys.exit(syncer_shim.run("run_sync.py", "sync-image", FLAGS))
