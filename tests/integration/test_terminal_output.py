"""What a person sees on a terminal: `copy` and `sync` run under a pseudo-terminal (python's pty) of a set
width, their transfers slowed by a throttle so the progress block is redrawn many times.

Issue 13: at 50 columns the single progress line wrapped and every redraw left a stale line behind; after
Ctrl-C the summary counted only finished images (17.0 MiB where the live line had shown 213.9 MiB).
"""

import contextlib
import fcntl
import os
import re
import signal
import struct
import subprocess
import termios
import threading
import time
import unittest

import harness
import seed
from harness import _syncer_binary, _syncer_env
from test_signals import Throttle

# Cursor movement and erasing (CSI ... letter), which the progress block uses to redraw itself.
CSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
UNITS = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}


def to_bytes(number: str, unit: str) -> float:
    return float(number) * UNITS[unit]


class TerminalRun:
    """$SYNCER_BIN with stdin, stdout and stderr on a pseudo-terminal `cols` columns wide; the output is
    collected as it comes."""

    def __init__(self, args, cols: int):
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, cols, 0, 0))
        self.proc = subprocess.Popen([_syncer_binary(), *args], stdin=slave, stdout=slave, stderr=slave,
                                     env=_syncer_env({"TERM": "xterm"}), start_new_session=True)
        os.close(slave)
        self.master = master
        self.data = bytearray()
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO once the last writer closed the terminal
                return
            if not chunk:
                return
            with self.lock:
                self.data += chunk

    @property
    def text(self) -> str:
        with self.lock:
            return self.data.decode(errors="replace")

    def wait_for(self, pattern: str, timeout: float = 60) -> re.Match | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(pattern, self.text)
            if m:
                return m
            if self.proc.poll() is not None:
                return re.search(pattern, self.text)
            time.sleep(0.05)
        return None

    def wait(self, timeout: float = 120) -> int:
        try:
            status = self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.reader.join(5)
            with contextlib.suppress(OSError):
                os.close(self.master)
        return status

    def describe(self) -> str:
        return f"\n$ {' '.join(self.proc.args)}\nexit status {self.proc.returncode}\n--- terminal\n{self.text!r}"


def segments(text: str) -> list[str]:
    """What the terminal shows as separate pieces of a line: the output split at line breaks, carriage
    returns and cursor escapes."""
    return [s for s in re.split(r"\r|\n|\x1b\[[0-9;?]*[A-Za-z]", text) if s]


class TerminalOutputTest(harness.TempDirTestCase):
    @classmethod
    def setUpClass(cls):
        stack = contextlib.ExitStack()
        cls.addClassCleanup(stack.close)
        cls.src = stack.enter_context(harness.Registry(name="src"))
        client = seed.Client.for_registry(cls.src)
        seed.push_image(client, "tty/big", "tty/big", tag="v1",
                        layers=[seed.det_bytes("tty/big/a", 3 * seed.MIB), seed.det_bytes("tty/big/b", 2 * seed.MIB),
                                seed.det_bytes("tty/big/c", 1 * seed.MIB + 12345)])
        for i in range(3):
            seed.push_image(client, f"tty/app{i}", f"tty/app{i}", tag="v1",
                            layers=[seed.det_bytes(f"tty/app{i}/big", 2 * seed.MIB + i),
                                    seed.det_bytes(f"tty/app{i}/small", 200_000)])

    def setUp(self):
        super().setUp()
        self.dst = harness.Registry(name="dst")
        self.dst.__enter__()
        self.addCleanup(self.dst.__exit__)
        self.throttle = Throttle(self.dst.port, 512 * 1024)
        self.addCleanup(self.throttle.close)

    def assert_fits(self, run: TerminalRun, cols: int) -> None:
        """Every piece of the progress block fits: nothing but log lines (a timestamp first), the copy's
        closing line and syncer's notices is wider than the terminal (those wrap as any long line does, once,
        and are never redrawn)."""
        log_line = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z |Copied |syncer)")
        too_wide = [s for s in segments(run.text) if len(s) > cols and not log_line.match(s)]
        self.assertEqual(too_wide, [], f"lines wider than {cols} columns" + run.describe())

    def test_copy_progress_fits_50_columns_and_the_summary_is_printed_once(self):
        run = TerminalRun(["copy", f"{self.src.host}/tty/big:v1", f"{self.throttle.host}/tty/big:v1"], cols=50)
        status = run.wait()
        self.assertEqual(status, 0, run.describe())
        self.assert_fits(run, 50)
        text = run.text
        # The block was drawn and redrawn in place: per-blob lines with a percentage, and the total.
        self.assertIn("\x1b[J", text, run.describe())
        self.assertRegex(text, r"[0-9a-f]{12} [\d.]+ [KM]iB/[\d.]+ MiB +\d+% ", run.describe())
        self.assertRegex(text, r"\d+ blobs? done, \d+ in flight", run.describe())
        self.assertEqual(len(re.findall(r"Copied \S+ to \S+:", text)), 1, run.describe())
        # The last thing on the screen is the summary: the block was cleared before it.
        self.assertRegex(segments(text)[-1], r"\d+ manifest", run.describe())
        self.assertNotRegex(text, r"1 blobs|1 manifests")

    def test_sync_progress_fits_50_columns_and_the_summary_is_printed_once(self):
        images = self.write("images.yaml", "".join(
            f'"{self.src.host}/tty/app{i}": "{self.throttle.host}/tty/app{i}"\n' for i in range(3)))
        run = TerminalRun(["sync", "--images", images, "--proc", "2"], cols=50)
        status = run.wait()
        self.assertEqual(status, 0, run.describe())
        self.assert_fits(run, 50)
        text = run.text
        self.assertRegex(text, r"\d/3 images, [\d.]+ [KM]iB", run.describe())
        self.assertEqual(len(re.findall(r"3 images: 3 copied", text)), 1, run.describe())

    def test_summary_after_sigint_counts_the_bytes_interrupted_images_moved(self):
        # issue 13: the summary said 17.0 MiB where the live line had shown 213.9 MiB.
        # 150 KiB/s: the first 2 MiB layer needs longer than the 5 s grace period, so it is cut short.
        slow = Throttle(self.dst.port, 150 * 1024)
        self.addCleanup(slow.close)
        images = self.write("images.yaml", "".join(
            f'"{self.src.host}/tty/app{i}": "{slow.host}/tty/app{i}"\n' for i in range(2)))
        run = TerminalRun(["sync", "--images", images, "--proc", "1"], cols=160)
        live = r"\d+ of 2 images done, ([\d.]+) (B|KiB|MiB|GiB) of"
        self.assertIsNotNone(run.wait_for(r"\d+ of 2 images done, [1-9][\d.]* (KiB|MiB) of"), run.describe())
        time.sleep(0.5)
        run.proc.send_signal(signal.SIGINT)
        status = run.wait()
        self.assertEqual(status, 130, run.describe())
        self.assert_fits(run, 160)
        shown = [to_bytes(n, u) for n, u in re.findall(live, run.text)]
        self.assertTrue(shown, run.describe())
        summaries = re.findall(r"2 images: .*; ([\d.]+) (B|KiB|MiB|GiB) sent", run.text)
        self.assertEqual(len(summaries), 1, run.describe())
        summary = to_bytes(*summaries[0])
        self.assertGreater(shown[-1], 0, run.describe())
        # Rounded to one decimal place in both, so >= holds for the printed numbers.
        self.assertGreaterEqual(summary, shown[-1], run.describe())


if __name__ == "__main__":
    unittest.main()
