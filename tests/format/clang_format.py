#!/usr/bin/env python3
"""Every tracked C++ file is formatted by the root .clang-format: clang-format-14 --dry-run --Werror.

Lists the files that are not, with the command that formats them, and exits 1. Exits 77 (ctest: skipped) when
the source tree is not a git checkout or clang-format-14 is missing; scripts/install-deps installs it.
  clang_format.py [SOURCE_DIR]   (default: the repository this file is in)
"""

from __future__ import annotations

import pathlib
import re
import shutil
import subprocess
import sys

CLANG_FORMAT = "clang-format-14"
PATTERNS = ["*.cpp", "*.hpp", "*.h", "*.cc", "*.ipp"]
SKIP = 77
BATCH = 50


def main(argv: list[str]) -> int:
    root = pathlib.Path(argv[1] if len(argv) > 1 else pathlib.Path(__file__).resolve().parents[2]).resolve()
    clang_format = shutil.which(CLANG_FORMAT)
    if clang_format is None:
        print(f"clang_format: {CLANG_FORMAT} not found; install it (scripts/install-deps does)")
        return SKIP
    listing = subprocess.run(["git", "-C", str(root), "ls-files", "-z", "--", *PATTERNS],
                             capture_output=True, text=True)
    if listing.returncode != 0:
        print(f"clang_format: {root} is not a git checkout, so there is no list of tracked files")
        return SKIP
    files = [name for name in listing.stdout.split("\0") if name]

    unformatted: dict[str, int] = {}
    for start in range(0, len(files), BATCH):
        run = subprocess.run([clang_format, "--dry-run", "--Werror", *files[start:start + BATCH]], cwd=root,
                             capture_output=True, text=True)
        places = [m.group(1) for m in map(re.compile(r"^(.+?):\d+:\d+: (?:error|warning):").match,
                                           run.stderr.splitlines()) if m]
        for name in places:
            unformatted[name] = unformatted.get(name, 0) + 1
        if run.returncode != 0 and not places:
            print(run.stderr)
            print(f"clang_format: {CLANG_FORMAT} failed (exit status {run.returncode})")
            return 1

    if unformatted:
        for name, count in sorted(unformatted.items()):
            print(f"{name}: {count} place(s) differ from .clang-format")
        print(f"clang_format: {len(unformatted)} of {len(files)} tracked C++ files are not formatted; fix with\n"
              f"  {CLANG_FORMAT} -i {' '.join(sorted(unformatted))}")
        return 1
    print(f"clang_format: {len(files)} tracked C++ files are formatted")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
