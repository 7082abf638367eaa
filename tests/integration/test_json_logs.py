"""`--log-format json` for log shippers: every line syncer writes to stderr is one JSON object, whatever the
run does (a bad config, a failing image, an interrupted run), with `time` (milliseconds), `level`, `event`,
`msg` and the event's own fields.

Issue 13: the summary, warnings, config errors and the interrupt notice were text lines among the JSON ones.
"""

import json
import os
import re
import signal
import time
import unittest

import harness
import seed
from harness import SyncerProcess, describe, run_syncer
from test_signals import Throttle

TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


class JsonLogTest(harness.TempDirTestCase):
    @classmethod
    def setUpClass(cls):
        cls.src, cls.dst = harness.class_registries(cls, "src", "dst")
        client = seed.Client.for_registry(cls.src)
        for i in range(2):
            seed.push_image(client, f"json/app{i}", f"json/app{i}", tag="v1",
                            layers=[seed.det_bytes(f"json/app{i}/big", 2 * seed.MIB + i)])

    def parse(self, stderr: str, context: str) -> list[dict]:
        """Every stderr line as JSON, each with the fields every line has."""
        entries = []
        for line in stderr.splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                self.fail(f"not a JSON line: {line!r}{context}")
            self.assertIsInstance(entry, dict, line)
            self.assertRegex(entry.get("time", ""), TIME, line)
            self.assertIn(entry.get("level"), ("debug", "info", "warning", "error"), line)
            self.assertTrue(entry.get("event"), line)
            self.assertIn("msg", entry, line)
            entries.append(entry)
        self.assertTrue(entries, "nothing on stderr" + context)
        return entries

    def test_bad_config_and_a_file_warning_are_json_lines(self):
        auth = self.write("auth.yaml", f'"{self.src.host}":\n  username: u\n  password: p\n')
        os.chmod(auth, 0o644)
        images = self.write("broken.yaml", f'"{self.src.host}/a": ["{self.dst.host}/b"\n')
        result = run_syncer("sync", "--log-format", "json", "--auth", auth, "--images", images)
        self.assertEqual(result.returncode, 2, describe(result))
        entries = self.parse(result.stderr, describe(result))
        warning = next(e for e in entries if e["event"] == "file_mode")
        self.assertEqual(warning["level"], "warning")
        self.assertEqual(warning["path"], auth)
        self.assertEqual(warning["mode"], "0644")
        self.assertIn("chmod 600", warning["msg"])
        error = entries[-1]
        self.assertEqual((error["level"], error["event"]), ("error", "usage_error"), error)
        self.assertIn(images, error["msg"])
        self.assertFalse(error["msg"].startswith("syncer:"), error)

    def test_a_bad_flag_value_is_a_json_line(self):
        result = run_syncer("sync", "--log-format", "json", "--images", "x.yaml", "--proc", "zero")
        self.assertEqual(result.returncode, 2, describe(result))
        [entry] = self.parse(result.stderr, describe(result))
        self.assertEqual(entry["event"], "usage_error")
        self.assertIn("--proc", entry["msg"])

    def test_failing_image_summary_and_failures_are_json_lines(self):
        images = self.write("images.yaml", f'"{self.src.host}/json/app0:v1": "{self.dst.host}/json/ok"\n'
                                           f'"{self.src.host}/json/missing:v1": "{self.dst.host}/json/missing"\n')
        result = run_syncer("sync", "--log-format", "json", "--retries", "0", "--images", images)
        self.assertEqual(result.returncode, 1, describe(result))
        entries = self.parse(result.stderr, describe(result))
        images_logged = [e for e in entries if e["event"] == "image"]
        self.assertEqual(sorted(e["status"] for e in images_logged), ["copied", "failed"], entries)
        [summary] = [e for e in entries if e["event"] == "summary"]
        self.assertEqual(summary["level"], "error")
        self.assertEqual((summary["images"], summary["copied"], summary["failed"]), (2, 1, 1), summary)
        self.assertGreaterEqual(summary["bytes_sent"], 2 * seed.MIB, summary)
        self.assertIsNone(summary["stopped_by"])
        self.assertEqual(summary["interrupted"], 0)
        [failure] = [e for e in entries if e["event"] == "failed_image"]
        self.assertEqual(failure["source"], f"{self.src.host}/json/missing:v1")
        self.assertEqual(failure["destination"], f"{self.dst.host}/json/missing:v1")
        self.assertTrue(failure["error"])
        self.assertIn(failure["error"], failure["msg"])
        # The failures come after the summary, at the very end.
        self.assertEqual(entries[-1], failure)

    def test_interrupted_run_is_json_lines(self):
        throttle = Throttle(self.dst.port, 150 * 1024)
        self.addCleanup(throttle.close)
        images = self.write("images.yaml", "".join(
            f'"{self.src.host}/json/app{i}:v1": "{throttle.host}/json/cut{i}"\n' for i in range(2)))
        run = SyncerProcess("sync", "--log-format", "json", "--proc", "1", "--images", images)
        deadline = time.monotonic() + 30
        while not any(r.method == "POST" and "/blobs/uploads/" in r.path for r in self.dst.requests()):
            self.assertLess(time.monotonic(), deadline, "no upload started" + run.describe())
            time.sleep(0.1)
        time.sleep(0.5)
        run.send(signal.SIGINT)
        status = run.wait(timeout=30)
        self.assertEqual(status, 130, run.describe())
        entries = self.parse(run.stderr, run.describe())
        [stopping] = [e for e in entries if e["event"] == "stopping"]
        self.assertEqual((stopping["level"], stopping["cause"]), ("warning", "SIGINT"), stopping)
        [summary] = [e for e in entries if e["event"] == "summary"]
        self.assertEqual(summary["stopped_by"], "SIGINT")
        self.assertGreaterEqual(summary["interrupted"], 1)
        self.assertEqual(summary["images"], 2)
        [interrupted] = [e for e in entries if e["event"] == "interrupted"]
        self.assertEqual(interrupted["level"], "error")
        self.assertIn("interrupted by SIGINT", interrupted["msg"])


if __name__ == "__main__":
    unittest.main()
