"""`syncer completion bash|zsh|fish` and the man pages of `syncer __docs DIR` (issue 13, item 10): generated
from the same CLI11 definitions as `--help`, so every command and option `--help` shows is completed and
documented, hidden ones are not, and the pages render without a warning from man."""

import os
import re
import shlex
import shutil
import subprocess
import tempfile
import unittest

import harness
from harness import describe, run_syncer


def roff_name(name: str) -> str:
    """A name as the pages write it: hyphen-minus is \\-."""
    return name.replace("-", "\\-")


def help_subcommands() -> list[str]:
    """The subcommands `syncer --help` lists."""
    result = run_syncer("--help")
    section = result.stdout.split("Subcommands:\n", 1)[1].split("\n\n", 1)[0]  # the footer's examples follow
    return [line.split()[0] for line in section.splitlines() if line.startswith("  ") and line.strip()]


def help_options(*command: str) -> list[tuple[list[str], str]]:
    """(names, description) of each option `syncer COMMAND --help` shows, e.g. (["-a", "--all"], "Copy ...")."""
    result = run_syncer(*command, "--help")
    options = []
    section = result.stdout.split("Options:\n", 1)[1]
    lines = section.splitlines()
    for i, line in enumerate(lines):
        match = re.match(r"  (-\S+)(?: (\S.*?))?(?: {2,}(\S.*))?$", line)
        if not match:
            continue
        names = [re.sub(r"\{.*\}$", "", name) for name in match.group(1).split(",")]
        description = match.group(3)
        if description is None and i + 1 < len(lines):  # a long name puts the description on the next line
            description = lines[i + 1].strip()
        options.append((names, description))
    return options


class CompletionTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="syncer-completion-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp)
        cls.scripts = {}
        for shell in ("bash", "zsh", "fish"):
            result = run_syncer("completion", shell)
            assert result.returncode == 0, describe(result)
            path = os.path.join(cls.tmp, f"syncer.{shell}")
            with open(path, "w") as f:
                f.write(result.stdout)
            cls.scripts[shell] = path

    def complete(self, line: str) -> list[str]:
        """What bash's completion function offers for the last word of `line` (a trailing space: a new word)."""
        words = line.split(" ")
        script = (f"source {shlex.quote(self.scripts['bash'])}\n"
                  f"COMP_WORDS=({' '.join(shlex.quote(w) for w in words)})\n"
                  f"COMP_CWORD={len(words) - 1}\n"
                  f"COMP_LINE={shlex.quote(line)}\nCOMP_POINT=${{#COMP_LINE}}\n"
                  "_syncer\n"
                  "printf '%s\\n' \"${COMPREPLY[@]}\"\n")
        result = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], capture_output=True, text=True,
                                timeout=60)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stderr, "")
        return sorted(w for w in result.stdout.split("\n") if w)

    def test_bash_script_parses_and_registers_the_function(self):
        result = subprocess.run(["bash", "-n", self.scripts["bash"]], capture_output=True, text=True)
        self.assertEqual(result.returncode, 0, result.stderr)
        result = subprocess.run(["bash", "--norc", "-c", f"source {shlex.quote(self.scripts['bash'])}; complete -p syncer"],
                                capture_output=True, text=True)
        self.assertEqual(result.stdout.strip(), "complete -o default -F _syncer syncer", result.stderr)

    def test_bash_completes_subcommands_options_and_choices(self):
        self.assertEqual(self.complete("syncer co"), ["completion", "copy"])
        self.assertEqual(self.complete("syncer "), sorted(help_subcommands()), "every command of --help, no hidden one")
        self.assertEqual(self.complete("syncer _"), [], "the hidden __docs is not offered")
        self.assertEqual(self.complete("syncer --debug sync-i"), ["sync-image"], "a flag does not take a value")
        self.assertEqual(self.complete("syncer copy --src-c"), ["--src-cert-dir", "--src-creds"])
        self.assertEqual(self.complete("syncer completion "), ["bash", "fish", "zsh"])
        self.assertEqual(self.complete("syncer copy --src-creds "), [], "a value: left to readline's file names")
        self.assertIn("--dest-creds", self.complete("syncer copy --src-creds user:pass --dest-c"),
                      "the option's value was skipped, so the command is still copy")
        self.assertIn("--debug", self.complete("syncer copy --de"), "--debug may follow the subcommand")
        copy_names = [name for names, _ in help_options("copy") for name in names]
        # The root's own flags work after a subcommand too (`syncer copy --version` prints the version).
        self.assertEqual(self.complete("syncer copy -"), sorted(copy_names + ["--debug", "--version", "-V"]))

    def test_zsh_script(self):
        with open(self.scripts["zsh"]) as f:
            text = f.read()
        self.assertTrue(text.startswith("#compdef syncer\n"))
        for expected in ("'copy:Copy an image", "'--src-creds:USER[:PASS] for the source registry'",
                         "compadd -- 'bash' 'zsh' 'fish'"):
            self.assertTrue(expected in text, expected)
        self.assertFalse("__docs" in text)
        if shutil.which("zsh"):
            result = subprocess.run(["zsh", "-n", self.scripts["zsh"]], capture_output=True, text=True)
            self.assertEqual(result.returncode, 0, result.stderr)

    def test_fish_script(self):
        with open(self.scripts["fish"]) as f:
            text = f.read()
        for expected in ("complete -c syncer -f -n '__fish_use_subcommand' -a 'copy' -d 'Copy an image",
                         "complete -c syncer -n '__fish_seen_subcommand_from copy' -l src-creds -r -F -d ",
                         "-a 'bash zsh fish'"):
            self.assertTrue(expected in text, expected)
        self.assertFalse("__docs" in text)
        if shutil.which("fish"):
            result = subprocess.run(["fish", "--no-execute", self.scripts["fish"]], capture_output=True, text=True)
            self.assertEqual(result.returncode, 0, result.stderr)

    def test_unknown_shell_is_a_usage_error(self):
        result = run_syncer("completion", "tcsh")
        self.assertEqual(result.returncode, 2, describe(result))
        self.assertIn("tcsh", result.stderr)
        self.assertEqual(result.stdout, "")


class ManPageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="syncer-man-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp)
        result = run_syncer("__docs", cls.tmp)
        assert result.returncode == 0, describe(result)
        cls.man1 = os.path.join(cls.tmp, "man", "man1")

    def page(self, name: str) -> str:
        with open(os.path.join(self.man1, name)) as f:
            return f.read()

    def test_every_command_of_help_has_a_page_and_hidden_ones_none(self):
        expected = {"syncer.1"} | {f"syncer-{command}.1" for command in help_subcommands()}
        self.assertEqual(set(os.listdir(self.man1)), expected)
        for command in help_subcommands():
            self.assertIn(f"\\fB{roff_name('syncer-' + command)}\\fR(1)", self.page("syncer.1"))
        for shell, path in (("bash", "bash-completion/completions/syncer"), ("zsh", "zsh/vendor-completions/_syncer"),
                            ("fish", "fish/vendor_completions.d/syncer.fish")):
            with open(os.path.join(self.tmp, path)) as f:
                self.assertEqual(f.read(), run_syncer("completion", shell).stdout)

    def test_every_option_of_copy_help_is_in_its_page(self):
        page = self.page("syncer-copy.1")
        options = help_options("copy")
        self.assertGreater(len(options), 20)
        for names, description in options:
            for name in names:
                self.assertTrue(f"\\fB{roff_name(name)}\\fR" in page, name)
            # The start of the description: --help may append defaults or environment variables to it, which
            # the page lists on a line of their own.
            self.assertTrue(description[:40] in page, (names, description))
        for positional in ("SOURCE", "DESTINATION"):
            self.assertIn(f"\\fI{positional}\\fR", page)
        self.assertIn("\\fB\\-\\-debug\\fR", page, "the global flag is listed")

    def test_pages_render_without_warnings(self):
        for name in sorted(os.listdir(self.man1)):
            path = os.path.join(self.man1, name)
            if shutil.which("man"):
                cmd = ["man", "--warnings", "-l", path]
            else:
                cmd = ["groff", "-man", "-Tutf8", "-ww", "-z", path]
            result = subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                                    env={**os.environ, "MANWIDTH": "80", "LC_ALL": "C.UTF-8", "MANPAGER": "cat",
                                         "PAGER": "cat"})
            self.assertEqual(result.returncode, 0, f"{name}: {result.stderr}")
            self.assertEqual(result.stderr, "", f"{name} has roff warnings")
            if cmd[0] == "man":
                self.assertIn("NAME", result.stdout)


if __name__ == "__main__":
    unittest.main()
