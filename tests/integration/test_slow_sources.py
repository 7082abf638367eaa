"""A source that sends a blob at a trickle, or stalls in the middle of one, in front of a real docker-registry
(fault_front.FaultFront `trickle=` / `stall=`), and a whole run cut off by `--timeout`.

Before, a body that kept moving never timed out (the idle timeout re-armed on every byte) and a stall cost the
120 s idle timeout on every attempt. Now a blob below `--min-rate` over `--min-rate-window` fails and is
resumed with Range; `--timeout` stops a run as SIGINT does, with exit status 1. The assertions are about exit
statuses, messages, Range requests and reports; the only times checked are generous upper bounds.
"""

import contextlib
import json
import os
import time
import unittest

import harness
import seed
from fault_front import FaultFront
from harness import describe, incomplete_tags, run_syncer, tag_digests, tags_of

SLOW = "slow/app"
FAST = "fast/app"
KIB = 1024
# Far above the front's 1000 B/s trickle and far below what a loopback registry delivers.
FAST_WINDOW = ("--min-rate", "64KiB/s", "--min-rate-window", "1s")


class SlowSourceTest(harness.TempDirTestCase):
    @classmethod
    def setUpClass(cls):
        stack = contextlib.ExitStack()
        cls.addClassCleanup(stack.close)
        cls.src = stack.enter_context(harness.Registry(name="slow-src"))
        client = seed.Client.for_registry(cls.src)
        # A layer of 600 KiB (slowed down) and a small one and a config (both under the front's 64 KiB drag_min,
        # so never slowed).
        for repo in (SLOW, FAST):
            seed.push_image(client, repo, repo, tag="v1", layer_sizes=(3 * KIB, 600 * KIB))
        cls.expected = {repo: tag_digests(cls.src, repo) for repo in (SLOW, FAST)}

    def setUp(self):
        super().setUp()
        self.dst = harness.Registry(name="slow-dst")
        self.dst.__enter__()
        self.addCleanup(self.dst.__exit__)

    def images(self, front, repos=(SLOW, FAST)) -> str:
        return self.write("images.yaml", "".join(f'"{front.host}/{r}": "{self.dst.host}/{r}"\n' for r in repos))

    def blob_gets(self, front) -> list:
        return [e for e in front.requests(method="GET") if "/blobs/sha256:" in e.route]

    def assert_resumed_and_complete(self, front, result, kind):
        context = describe(result) + "\n--- front log\n" + front.log_text(60)
        self.assertEqual(result.returncode, 0, context)
        slowed = [e for e in self.blob_gets(front) if e.fault == kind]
        self.assertEqual(len(slowed), 1, context)
        # The same blob again, from where its bytes stopped: at least the half sent at once.
        again = [e for e in self.blob_gets(front) if e.route == slowed[0].route and e is not slowed[0]]
        self.assertEqual(len(again), 1, context)
        self.assertIsNotNone(again[0].range_start, context)
        self.assertGreaterEqual(again[0].range_start, 300 * KIB, context)
        self.assertLessEqual(again[0].range_start, slowed[0].bytes_out, context)
        self.assertEqual(again[0].status, 206, context)
        for repo in (SLOW, FAST):
            self.assertEqual(tag_digests(self.dst, repo), self.expected[repo], context)
        self.assertEqual(incomplete_tags(self.dst, [SLOW, FAST]), [], context)
        # --debug says why the blob was fetched again.
        self.assertIn("below the minimum of 64 KiB/s over 1s", result.stderr, context)
        self.assertIn("; resuming at byte ", result.stderr, context)

    def test_a_trickling_blob_is_resumed_with_range(self):
        with FaultFront(self.src, name="trickle-front", trickle={SLOW: 1}) as front:
            started = time.monotonic()
            result = run_syncer("--debug", "sync", "--images", self.images(front), *FAST_WINDOW)
            elapsed = time.monotonic() - started
            self.assert_resumed_and_complete(front, result, "trickle")
            # Regression (issue 10): the rest of the layer (300 KiB at 1000 B/s) took five minutes.
            self.assertLess(elapsed, 60, describe(result))

    def test_a_stalled_blob_is_resumed_with_range(self):
        with FaultFront(self.src, name="stall-front", stall={SLOW: 1}) as front:
            started = time.monotonic()
            result = run_syncer("--debug", "sync", "--images", self.images(front), *FAST_WINDOW)
            elapsed = time.monotonic() - started
            self.assert_resumed_and_complete(front, result, "stall")
            stalled = [e for e in self.blob_gets(front) if e.fault == "stall"][0]
            again = [e for e in self.blob_gets(front) if e.route == stalled.route and e is not stalled][0]
            self.assertEqual(again.range_start, stalled.bytes_out)
            # Regression (issue 10): a stall waited out the 120 s idle timeout.
            self.assertLess(elapsed, 60, describe(result))

    def test_a_source_slow_on_every_attempt_fails_naming_the_flags(self):
        with FaultFront(self.src, name="always-slow-front", trickle={SLOW: -1}) as front:
            report_path = os.path.join(self.tmp, "report.json")
            result = run_syncer("sync", "--images", self.images(front), "--retries", "1", "--report",
                                report_path, *FAST_WINDOW)
            context = describe(result) + "\n--- front log\n" + front.log_text(60)
            self.assertEqual(result.returncode, 1, context)
            with open(report_path) as f:
                report = json.load(f)
            by_repo = {i["source"].split("/", 1)[1].rsplit(":", 1)[0]: i for i in report["images"]}
            self.assertEqual(by_repo[FAST]["status"], "copied", report)
            image = by_repo[SLOW]
            self.assertEqual(image["status"], "failed", report)
            message = image["error"]
            for part in ("downloading blob sha256:", f"from {front.host}/{SLOW}", "the body arrived at ",
                         "below the minimum of 64 KiB/s over 1s", "--min-rate 0 turns it off"):
                self.assertIn(part, message)
            self.assertIn("below the minimum of 64 KiB/s over 1s", result.stderr)
            # Every attempt after the first of a round resumed where the last one stopped.
            slowed = [e for e in self.blob_gets(front) if e.fault == "trickle"]
            self.assertGreaterEqual(len(slowed), 2, context)
            self.assertTrue(any(e.range_start for e in slowed), context)
            self.assertIn(tags_of(self.dst, SLOW), (None, []))

    def test_timeout_stops_a_stalled_sync_with_status_1_and_a_report(self):
        with FaultFront(self.src, name="timeout-front", stall={SLOW: -1}) as front:
            report_path = os.path.join(self.tmp, "report.json")
            failed_path = os.path.join(self.tmp, "failed.yaml")
            started = time.monotonic()
            # The default minimum rate (1 KiB/s over 60 s) would take a minute to notice: the timeout comes first.
            result = run_syncer("sync", "--images", self.images(front, (SLOW,)), "--timeout", "2s", "--report",
                                report_path, "--output-failed-images", failed_path)
            elapsed = time.monotonic() - started
            context = describe(result) + "\n--- front log\n" + front.log_text(60)
            # Regression (issue 10): there was no --timeout; the run waited for the stalled blob.
            self.assertEqual(result.returncode, 1, context)
            self.assertIn("syncer: timed out after 2s (--timeout): stopping; transfers in flight have 5 s to "
                          "finish", result.stderr)
            self.assertIn("timed out after 2s (--timeout): 0 of 1 image done", result.stderr)
            self.assertLess(elapsed, 40, context)  # 2 s, the 5 s grace period, cleanup
            with open(report_path) as f:
                report = json.load(f)
            self.assertEqual(report["interrupted"], "timeout", report)
            self.assertEqual(report["totals"]["interrupted"], 1, report)
            self.assertEqual(report["images"][0]["status"], "interrupted", report)
            with open(failed_path) as f:
                self.assertIn(f"{front.host}/{SLOW}", f.read())
            self.assertIn(tags_of(self.dst, SLOW), (None, []))
            self.assertEqual(incomplete_tags(self.dst, [SLOW]), [])

    def test_timeout_stops_a_stalled_copy_with_status_1(self):
        with FaultFront(self.src, name="copy-timeout-front", stall={SLOW: -1}) as front:
            destination = f"{self.dst.host}/{SLOW}:v1"
            result = run_syncer("copy", "--timeout", "2s", front.ref(SLOW, "v1"), destination)
            self.assertEqual(result.returncode, 1, describe(result))
            self.assertIn("syncer: timed out after 2s (--timeout): stopping", result.stderr)
            self.assertIn(f"syncer copy: timed out after 2s (--timeout): ", result.stderr)
            self.assertIn(f"{destination} does not point at an incomplete image", result.stderr)
            self.assertIn(tags_of(self.dst, SLOW), (None, []))

    def test_the_labnow_entry_points_and_copy_take_the_flags(self):
        for command in ("sync", "copy", "jobs", "sync-image"):
            with self.subTest(command=command):
                result = run_syncer(command, "--help")
                self.assertEqual(result.returncode, 0, describe(result))
                for flag in ("--timeout DURATION", "--min-rate RATE", "--min-rate-window DURATION"):
                    self.assertIn(flag, result.stdout)
        result = run_syncer("sync", "--images", self.write("i.yaml", "a/b: c/d\n"), "--timeout", "soon")
        self.assertEqual(result.returncode, 2, describe(result))
        self.assertIn('--timeout: "soon" is not a duration', result.stderr)
        result = run_syncer("copy", "a/b:1", "c/d:1", "--min-rate", "fast")
        self.assertEqual(result.returncode, 2, describe(result))
        self.assertIn('--min-rate: "fast" is not a transfer rate', result.stderr)


if __name__ == "__main__":
    unittest.main()
