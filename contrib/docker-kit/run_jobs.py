#!/usr/bin/env python3
"""Mirror every image a build workflow's jobs name: `syncer jobs` with these arguments.

Kept at /opt/utils/image-syncer/run_jobs.py so pipelines calling
`python /opt/utils/image-syncer/run_jobs.py --auth-file=... [--workflow-file=...]` keep working.
See `syncer jobs --help` and docs/labnow.md.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import syncer_shim  # noqa: E402

FLAGS = ["--workflow-file", "--image-namespace", "--source-registry", "--target-registry", "--auth-file",
         "--proc", "--retries", "--jobs", "--force", "--log", "--log-format", "--dry-run", "--report", "--help"]

if __name__ == "__main__":
    sys.exit(syncer_shim.run("run_jobs.py", "jobs", FLAGS))
