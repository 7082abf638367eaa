"""The glibc minimum docs/labnow.md and the docker-kit Dockerfile state is the one the built binary and the
libraries the image bundles with it need (contrib/docker-kit/glibc-needed). Usage: glibc_claim.py ROOT BINARY"""
import re
import subprocess
import sys


def main() -> int:
    root, binary = sys.argv[1], sys.argv[2]
    needed = subprocess.run([f"{root}/contrib/docker-kit/glibc-needed", binary], check=True,
                            capture_output=True, text=True).stdout.strip()
    if not re.fullmatch(r"\d+\.\d+(\.\d+)?", needed):
        print(f"glibc-needed printed {needed!r}, not a version")
        return 1
    claims = {"docs/labnow.md": f"glibc {needed} or newer",
              "contrib/docker-kit/Dockerfile": f"({needed} with Debian 12's libstdc++"}
    wrong = []
    for path, claim in claims.items():
        with open(f"{root}/{path}") as f:
            text = " ".join(f.read().split()).replace("# ", "")
        if claim not in text:
            wrong.append(f"{path} does not say {claim!r}")
    for line in wrong:
        print(f"{line}: {binary} and its bundled libraries need glibc {needed}")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
