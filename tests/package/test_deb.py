"""The Debian package (issue 13, item 11), built by cpack from this build directory, unpacked with `dpkg -x`
into a scratch root: its control fields, that it holds the command line and nothing of libregistry's
development files, and that the unpacked syncer runs (version, image-syncer's name, one copy between two
docker-registry processes) and finds its man pages and completions where Debian looks for them.

The package is made from this build's objects with `cpack --config BUILD/CPackConfig.cmake` rather than by
./scripts/package (a second Release build in build-package/, minutes on two cores). Both are Release builds of
the same sources; this one also has assertions on and warnings as errors, which change no file the package
holds but the binary. Arguments: BUILD_DIR BUILD_TYPE PROJECT_VERSION."""

import contextlib
import glob
import os
import subprocess
import sys
import tempfile
import unittest

import harness
import seed
from harness import describe

BUILD_DIR, BUILD_TYPE, VERSION = sys.argv[1:4]
del sys.argv[1:4]


def run(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=300, **kwargs)


class DebTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if BUILD_TYPE != "Release":
            raise unittest.SkipTest(f"the package is a Release build; this build directory is {BUILD_TYPE}")
        stack = contextlib.ExitStack()
        cls.addClassCleanup(stack.close)
        cls.tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="syncer-deb-"))
        result = run("cpack", "--config", os.path.join(BUILD_DIR, "CPackConfig.cmake"), "-B",
                     os.path.join(cls.tmp, "out"))
        assert result.returncode == 0, describe(result)
        debs = glob.glob(os.path.join(cls.tmp, "out", "*.deb"))
        assert len(debs) == 1, debs
        cls.deb = debs[0]
        cls.root = os.path.join(cls.tmp, "root")
        result = run("dpkg", "-x", cls.deb, cls.root)
        assert result.returncode == 0, describe(result)

    def field(self, name: str) -> str:
        result = run("dpkg-deb", "-f", self.deb, name)
        self.assertEqual(result.returncode, 0, describe(result))
        return result.stdout.strip()

    def test_control_fields(self):
        self.assertEqual(os.path.basename(self.deb), f"syncer_{VERSION}_{self.field('Architecture')}.deb")
        self.assertEqual(self.field("Package"), "syncer")
        self.assertEqual(self.field("Version"), VERSION)
        self.assertEqual(self.field("Section"), "utils")
        self.assertEqual(self.field("Recommends"), "ca-certificates")
        self.assertIn("@", self.field("Maintainer"))
        self.assertTrue(self.field("Description").startswith("copy and mirror OCI images"))
        # dpkg-shlibdeps found the packages of the libraries syncer links.
        depends = [dep.split(" ")[0] for dep in self.field("Depends").split(", ")]
        for package in ("libc6", "libstdc++6", "libssl3", "libboost-url1.81.0", "libyaml-cpp0.7", "libre2-9",
                        "libfmt9", "libzstd1", "zlib1g"):
            self.assertIn(package, depends)

    def test_holds_the_command_line_only(self):
        result = run("dpkg-deb", "-c", self.deb)
        self.assertEqual(result.returncode, 0, describe(result))
        paths = [line.split()[5] for line in result.stdout.splitlines()]
        self.assertIn("./usr/bin/syncer", paths)
        for path in paths:
            self.assertTrue(path.startswith(("./usr/bin/", "./usr/share/")) or path == "./usr/", path)
            self.assertNotIn("include", path)
            self.assertFalse(path.endswith((".a", ".cmake", ".pc")), path)
        self.assertEqual(os.readlink(os.path.join(self.root, "usr/bin/image-syncer")), "syncer")
        with open(os.path.join(self.root, "usr/share/doc/syncer/copyright")) as f:
            copyright_text = f.read()
        self.assertTrue(copyright_text.startswith("Format: https://www.debian.org/doc/packaging-manuals/"
                                                  "copyright-format/1.0/\n"))
        self.assertIn("License: Apache-2.0", copyright_text)
        self.assertIn("/usr/share/common-licenses/Apache-2.0", copyright_text)

    def test_man_pages_and_completions_are_where_debian_looks(self):
        binary = os.path.join(self.root, "usr/bin/syncer")
        help_text = run(binary, "--help").stdout
        section = help_text.split("Subcommands:\n", 1)[1].split("\n\n", 1)[0]  # the footer's examples follow
        commands = [line.split()[0] for line in section.splitlines() if line.startswith("  ")]
        man1 = os.path.join(self.root, "usr/share/man/man1")
        self.assertEqual(sorted(os.listdir(man1)), sorted(["syncer.1.gz"] + [f"syncer-{c}.1.gz" for c in commands]))
        result = run("man", "--warnings", "-l", os.path.join(man1, "syncer-copy.1.gz"),
                     env={**os.environ, "MANWIDTH": "80", "LC_ALL": "C.UTF-8"})
        self.assertEqual((result.returncode, result.stderr), (0, ""))
        self.assertIn("--src-creds", result.stdout.replace("\u2010", "-"))
        for shell, path in (("bash", "usr/share/bash-completion/completions/syncer"),
                            ("zsh", "usr/share/zsh/vendor-completions/_syncer"),
                            ("fish", "usr/share/fish/vendor_completions.d/syncer.fish")):
            with open(os.path.join(self.root, path)) as f:
                self.assertEqual(f.read(), run(binary, "completion", shell).stdout, path)

    def test_installed_binary_runs_and_copies(self):
        binary = os.path.join(self.root, "usr/bin/syncer")
        result = run(binary, "version")
        self.assertEqual((result.returncode, result.stdout), (0, f"syncer {VERSION}\n"), describe(result))
        result = run(os.path.join(self.root, "usr/bin/image-syncer"), "--version")
        self.assertEqual(result.returncode, 0, describe(result))
        self.assertIn(f"syncer {VERSION}", result.stdout)
        self.assertIn("image-syncer", result.stdout)

        with harness.Registry(name="deb-src") as src, harness.Registry(name="deb-dst") as dst:
            image = seed.push_docker_v2(seed.Client.for_registry(src))
            os.environ["SYNCER_BIN"] = binary
            result = harness.run_syncer("copy", src.ref(image.repo, image.tag), dst.ref("deb/copied", "v1"))
            self.assertEqual(result.returncode, 0, describe(result))
            self.assertEqual(harness.tag_digests(dst, "deb/copied"), {"v1": image.digest})


if __name__ == "__main__":
    unittest.main()
