#!/usr/bin/env python3
"""The include rules that keep libregistry's folders layers (docs/architecture.md), checked on every source file.

  1. core (libregistry/src/core, libregistry/include/libregistry/core) includes neither Asio nor Beast: core
     types are plain values with no I/O.
  2. Only http (libregistry/src/http, libregistry/include/libregistry/http) includes Beast or OpenSSL's TLS
     (boost/beast*, boost/asio/ssl*, openssl/ssl.h, openssl/tls1.h): one transport, one place for TLS.
  3. A layer includes only itself and the layers below it: core < http < client < sync. syncer/ and
     examples/ sit above all of them.
  4. storage (image layouts and archives) sits beside sync: it includes core, itself, and of client only the
     registry interface (libregistry/client/registry.hpp), never http or sync; no other layer includes it.

The rules cover libregistry/, syncer/ and examples/. tests/ is exempt: the HTTP client's tests run TLS servers
of their own with Beast. Prints file:line for each violation and exits 1; exits 0 when there is none.
  layering.py [SOURCE_DIR]   (default: the repository this file is in)
"""

from __future__ import annotations

import pathlib
import re
import sys

LAYERS = ["core", "http", "client", "sync"]
SIDE_LAYERS = ["storage"]
STORAGE_MAY_INCLUDE = {"libregistry/client/registry.hpp"}
SCANNED = ["libregistry", "syncer", "examples"]
EXTENSIONS = {".cpp", ".hpp", ".h", ".ipp", ".cc"}

INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]')
ASIO_OR_BEAST = re.compile(r"^boost/(asio|beast)(\b|/|\.hpp)")
TLS_OR_BEAST = re.compile(r"^(boost/beast(\b|/|\.hpp)|boost/asio/ssl(\b|/|\.hpp)|openssl/(ssl|tls1)\.h$)")
# "libregistry/<layer>/..." (public) or "<layer>/detail/..." (private, relative to libregistry/src).
LAYER_HEADER = re.compile(r"^(?:libregistry/)?(" + "|".join(LAYERS + SIDE_LAYERS) + r")/")


def layer_of(relative: pathlib.PurePosixPath) -> str | None:
    """The layer a file belongs to, or None outside libregistry's layer folders."""
    parts = relative.parts
    if parts[:2] == ("libregistry", "src") and len(parts) > 3 and parts[2] in LAYERS + SIDE_LAYERS:
        return parts[2]
    if parts[:3] == ("libregistry", "include", "libregistry") and len(parts) > 4 and parts[3] in LAYERS + SIDE_LAYERS:
        return parts[3]
    return None


def check_file(root: pathlib.Path, path: pathlib.Path) -> list[str]:
    relative = pathlib.PurePosixPath(path.relative_to(root).as_posix())
    layer = layer_of(relative)
    problems = []
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
        match = INCLUDE.match(line)
        if not match:
            continue
        header = match.group(1)
        where = f"{relative}:{number}: #include {header}"
        if layer == "core" and ASIO_OR_BEAST.match(header):
            problems.append(f"{where}: core includes no Asio or Beast (it does no I/O)")
        if layer != "http" and TLS_OR_BEAST.match(header):
            problems.append(f"{where}: only the http layer includes Beast or OpenSSL's TLS headers")
        included = LAYER_HEADER.match(header)
        if layer == "storage" or (included and included.group(1) == "storage"):
            other = included.group(1) if included else None
            if layer == "storage" and other not in (None, "core", "storage") and header not in STORAGE_MAY_INCLUDE:
                problems.append(f"{where}: storage includes only core, itself and "
                                f"{', '.join(sorted(STORAGE_MAY_INCLUDE))}")
            if layer is not None and layer != "storage" and other == "storage":
                problems.append(f"{where}: {layer} cannot include storage (only syncer/ and examples/ use it)")
            continue
        if layer is not None and included and LAYERS.index(included.group(1)) > LAYERS.index(layer):
            problems.append(f"{where}: {layer} cannot include {included.group(1)}, a layer above it "
                            f"({' < '.join(LAYERS)})")
    return problems


def main(argv: list[str]) -> int:
    root = pathlib.Path(argv[1] if len(argv) > 1 else pathlib.Path(__file__).resolve().parents[2]).resolve()
    files = sorted(p for top in SCANNED for p in (root / top).rglob("*")
                   if p.is_file() and p.suffix in EXTENSIONS)
    if not files:
        print(f"layering: no source files under {root}", file=sys.stderr)
        return 1
    problems = [problem for path in files for problem in check_file(root, path)]
    for problem in problems:
        print(problem)
    if problems:
        print(f"layering: {len(problems)} violation(s) in {len(files)} files; see the rules in "
              f"tests/layering/layering.py and docs/architecture.md")
        return 1
    print(f"layering: {len(files)} files follow the include rules")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
