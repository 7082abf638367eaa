"""SIGINT and SIGTERM during `syncer sync` against docker-registry processes on loopback.

What a stopped run must leave behind, checked independently of syncer: exit status 128 + the signal number
within a few seconds, the report with every unfinished image marked `interrupted`, only complete images behind
the destination's tags (harness.incomplete_tags walks every manifest, child and blob), and a re-run that
finishes the job with the source's digests.
"""

import contextlib
import http.server
import json
import os
import signal
import socket
import threading
import time
import unittest

import harness
import seed
from harness import SyncerProcess, describe, incomplete_tags, run_syncer, tag_digests

REPOS = [f"sig/app{i}" for i in range(6)]
INDEX_REPO = "sig/multi"
ALL_REPOS = REPOS + [INDEX_REPO]
COPIED_LINE = r" info copied "


def images_yaml(src_host: str, dst_host: str, repos) -> str:
    return "".join(f'"{src_host}/{r}": "{dst_host}/{r}"\n' for r in repos)


class Throttle:
    """A TCP forwarder to `target_port` that passes client-to-server bytes at `rate` bytes per second (the
    other way is not limited): uploads through it take long enough to be caught in flight."""

    def __init__(self, target_port: int, rate: int):
        self.target_port = target_port
        self.rate = rate
        self.listener = socket.socket()
        # A small receive buffer (set before listen, so the window is small from the start) keeps the bytes
        # the kernel takes ahead of the throttle to a minimum.
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def close(self) -> None:
        self.closed = True
        with contextlib.suppress(OSError):
            self.listener.close()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            threading.Thread(target=self._pump, args=(client, upstream, self.rate), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, 0), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket, rate: int) -> None:
        started = time.monotonic()
        moved = 0
        try:
            while True:
                data = source.recv(16 * 1024)
                if not data:
                    break
                sink.sendall(data)
                moved += len(data)
                if rate:
                    ahead = moved / rate - (time.monotonic() - started)
                    if ahead > 0:
                        time.sleep(ahead)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    s.close()


class RetryAfterForever(http.server.BaseHTTPRequestHandler):
    """A registry that answers its /v2/ ping and then 503 with Retry-After: 600 to everything else, so a
    client honouring Retry-After sleeps for ten minutes inside its retry loop."""

    requests: list[str] = []

    def answer(self, with_body: bool) -> None:
        RetryAfterForever.requests.append(f"{self.command} {self.path}")
        ping = self.path == "/v2/"
        body = b"{}" if ping else b'{"errors":[{"code":"UNAVAILABLE","message":"come back later"}]}'
        self.send_response(200 if ping else 503)
        if not ping:
            self.send_header("Retry-After", "600")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def do_GET(self):
        self.answer(True)

    def do_HEAD(self):
        self.answer(False)

    def log_message(self, *args):
        pass


class SignalTest(harness.TempDirTestCase):
    @classmethod
    def setUpClass(cls):
        stack = contextlib.ExitStack()
        cls.addClassCleanup(stack.close)
        cls.src = stack.enter_context(harness.Registry(name="src"))
        client = seed.Client.for_registry(cls.src)
        for i, repo in enumerate(REPOS):
            seed.push_image(client, repo, f"sig/{i}", tag="v1",
                            layers=[seed.det_bytes(f"sig/{i}/big", 2 * seed.MIB + i),
                                    seed.det_bytes(f"sig/{i}/small", 300_000)])
        entries = seed._multi_arch(client, INDEX_REPO, "sig/multi", ["linux/amd64", "linux/arm64/v8"])
        seed.push_index(client, INDEX_REPO, "v1", entries)
        cls.expected = {repo: tag_digests(cls.src, repo) for repo in ALL_REPOS}

    def setUp(self):
        super().setUp()
        self.dst = harness.Registry(name="dst")
        self.dst.__enter__()
        self.addCleanup(self.dst.__exit__)
        self.report = os.path.join(self.tmp, "report.json")
        self.failed = os.path.join(self.tmp, "failed.yaml")

    def start(self, dst_host: str, repos: list[str], *extra: str) -> SyncerProcess:
        images = self.write("images.yaml", images_yaml(self.src.host, dst_host, repos))
        return SyncerProcess("sync", "--images", images, "--proc", "1", "--report", self.report,
                             "--output-failed-images", self.failed, *extra)

    def load_report(self) -> dict:
        self.assertTrue(os.path.exists(self.report), "no report was written")
        with open(self.report) as f:
            return json.load(f)

    def assert_consistent(self, repos: list[str]) -> None:
        """Every tag at the destination is a complete image, and the source's."""
        self.assertEqual(incomplete_tags(self.dst, repos), [])
        for repo in repos:
            for tag, digest in tag_digests(self.dst, repo).items():
                self.assertEqual(digest, self.expected[repo][tag], f"{repo}:{tag}")

    def assert_resumes(self, repos: list[str], failed_file: bool = True) -> None:
        """Re-running exactly the images the stopped run did not finish (its --output-failed-images), then
        everything, completes with the source's digests."""
        if failed_file:
            rerun = run_syncer("sync", "--images", self.failed, "--proc", "4")
            self.assertEqual(rerun.returncode, 0, describe(rerun))
        images = self.write("all.yaml", images_yaml(self.src.host, self.dst.host, repos))
        full = run_syncer("sync", "--images", images, "--report", self.report)
        self.assertEqual(full.returncode, 0, describe(full))
        totals = self.load_report()["totals"]
        if failed_file:
            self.assertEqual(totals["skipped"], len(repos), "the re-run from the failed-images file left work")
        for repo in repos:
            self.assertEqual(tag_digests(self.dst, repo), self.expected[repo], repo)
        self.assertEqual(incomplete_tags(self.dst, repos), [])

    def wait_for_upload(self, repo: str, run) -> None:
        """Returns once an upload to `repo` has started at the destination, and a little more."""
        deadline = time.monotonic() + 30
        while not any(r.method == "POST" and r.path.startswith(f"/v2/{repo}/blobs/uploads/")
                      for r in self.dst.requests()):
            self.assertLess(time.monotonic(), deadline, "no upload started" + run.describe())
            time.sleep(0.1)
        time.sleep(0.5)

    def stop_after_first_image(self, sig: int, expected_status: int) -> None:
        run = self.start(self.dst.host, ALL_REPOS)
        self.assertIsNotNone(run.wait_for_line(COPIED_LINE), run.describe())
        signalled = time.monotonic()
        run.send(sig)
        status = run.wait(timeout=30)
        elapsed = time.monotonic() - signalled
        self.assertEqual(status, expected_status, run.describe())
        self.assertLess(elapsed, 5, f"took {elapsed:.1f} s to stop{run.describe()}")
        name = signal.Signals(sig).name
        self.assertIn(f"syncer: {name}: stopping", run.stderr)
        self.assertRegex(run.stderr, rf"interrupted by {name}: \d+ of {len(ALL_REPOS)} images done")

        report = self.load_report()
        self.assertEqual(report["interrupted"], name)
        statuses = [i["status"] for i in report["images"]]
        self.assertEqual(len(statuses), len(ALL_REPOS))
        self.assertTrue(set(statuses) <= {"copied", "interrupted"}, statuses)
        self.assertGreaterEqual(statuses.count("copied"), 1)
        self.assertGreaterEqual(report["totals"]["interrupted"], 1)
        self.assertEqual(report["totals"]["interrupted"], statuses.count("interrupted"))
        for image in report["images"]:
            if image["status"] == "interrupted":
                self.assertTrue(image["reason"], image)
                if image["attempts"] == 0:
                    self.assertTrue(image["reason"].startswith("not started"), image)
        # Nothing after the signal: the images not started have no tag at the destination.
        for image in report["images"]:
            repo = image["destination"].split("/", 1)[1].rsplit(":", 1)[0]
            if image["status"] == "interrupted":
                self.assertEqual(tag_digests(self.dst, repo), {}, f"{repo} was written after the signal")
        self.assert_consistent(ALL_REPOS)
        self.assert_resumes(ALL_REPOS)

    def test_sigint_stops_between_images(self):
        self.stop_after_first_image(signal.SIGINT, 130)

    def test_sigterm_stops_between_images(self):
        self.stop_after_first_image(signal.SIGTERM, 143)

    def test_second_signal_exits_at_once(self):
        # The second signal must arrive inside the grace period, so a transfer has to be in flight and outlive
        # it: without the throttle the first signal can end the whole run before the second one is sent.
        throttle = Throttle(self.dst.port, 200 * 1024)
        self.addCleanup(throttle.close)
        run = self.start(throttle.host, REPOS[:2])
        self.wait_for_upload(REPOS[0], run)
        run.send(signal.SIGINT)
        self.assertIsNotNone(run.wait_for_line(r"syncer: SIGINT: stopping", timeout=5), run.describe())
        signalled = time.monotonic()
        run.send(signal.SIGTERM)
        status = run.wait(timeout=30)
        self.assertLess(time.monotonic() - signalled, 2)
        self.assertEqual(status, 143, run.describe())
        self.assertIn("SIGTERM again: exiting at once", run.stderr)
        throttle.close()
        self.assert_consistent(REPOS[:2])
        self.assertEqual(tag_digests(self.dst, REPOS[0]), {})
        # No report: the second signal does not wait for one, but the next run still completes.
        images = self.write("all.yaml", images_yaml(self.src.host, self.dst.host, REPOS[:2]))
        full = run_syncer("sync", "--images", images)
        self.assertEqual(full.returncode, 0, describe(full))
        for repo in REPOS[:2]:
            self.assertEqual(tag_digests(self.dst, repo), self.expected[repo], repo)

    def test_transfer_outliving_the_grace_period_is_cut_and_its_upload_deleted(self):
        # 200 KiB/s towards the destination: app0's 2 MiB layer needs twice the 5 s grace period.
        throttle = Throttle(self.dst.port, 200 * 1024)
        self.addCleanup(throttle.close)
        run = self.start(throttle.host, REPOS[:2])
        self.wait_for_upload(REPOS[0], run)
        signalled = time.monotonic()
        run.send(signal.SIGINT)
        status = run.wait(timeout=30)
        elapsed = time.monotonic() - signalled
        self.assertEqual(status, 130, run.describe())
        # The grace period, the connections closed, the DELETE, the report: about 5 s, well below what the
        # upload still needed.
        self.assertGreater(elapsed, 4, run.describe())
        self.assertLess(elapsed, 10, run.describe())

        report = self.load_report()
        first = next(i for i in report["images"] if f"/{REPOS[0]}:" in i["destination"])
        self.assertEqual(first["status"], "interrupted", first)
        self.assertEqual(first["attempts"], 1, first)
        self.assertIn("cancelled", first["reason"])
        second = next(i for i in report["images"] if f"/{REPOS[1]}:" in i["destination"])
        self.assertEqual(second["status"], "interrupted", second)
        self.assertEqual(second["attempts"], 0, second)
        # The abandoned upload session was given back.
        deletes = [r for r in self.dst.requests()
                   if r.method == "DELETE" and r.path.startswith(f"/v2/{REPOS[0]}/blobs/uploads/")]
        self.assertGreaterEqual(len(deletes), 1, self.dst.requests())
        self.assertEqual(tag_digests(self.dst, REPOS[0]), {})
        throttle.close()
        self.assert_consistent(REPOS[:2])
        with open(self.failed) as f:
            self.assertEqual(f.read().count(throttle.host), 2, "the failed-images file lacks the interrupted images")
        self.assert_resumes(REPOS[:2], failed_file=False)


    def test_copy_command_is_interrupted_the_same_way(self):
        throttle = Throttle(self.dst.port, 200 * 1024)
        self.addCleanup(throttle.close)
        run = SyncerProcess("copy", f"{self.src.host}/{REPOS[0]}:v1", f"{throttle.host}/{REPOS[0]}:v1")
        deadline = time.monotonic() + 30
        while not any(r.method == "PUT" for r in self.dst.requests()):  # the small blobs are in: mid-image
            self.assertLess(time.monotonic(), deadline, "no upload finished" + run.describe())
            time.sleep(0.1)
        signalled = time.monotonic()
        run.send(signal.SIGTERM)
        status = run.wait(timeout=30)
        self.assertEqual(status, 143, run.describe())
        self.assertLess(time.monotonic() - signalled, 10, run.describe())
        self.assertIn("syncer copy: interrupted by SIGTERM: ", run.stderr)
        self.assertIn("running the same command again resumes", run.stderr)
        self.assertEqual(tag_digests(self.dst, REPOS[0]), {})
        throttle.close()
        again = run_syncer("copy", f"{self.src.host}/{REPOS[0]}:v1", f"{self.dst.host}/{REPOS[0]}:v1")
        self.assertEqual(again.returncode, 0, describe(again))
        self.assertEqual(tag_digests(self.dst, REPOS[0]), self.expected[REPOS[0]])
        self.assert_consistent([REPOS[0]])

    def test_a_registry_that_says_retry_in_ten_minutes_does_not_hold_the_exit(self):
        RetryAfterForever.requests = []
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RetryAfterForever)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        # A maximum wait above the ten minutes, so that syncer does wait (by default it refuses a wait that long).
        run = self.start(f"127.0.0.1:{server.server_address[1]}", REPOS[:1], "--max-wait", "15m")
        deadline = time.monotonic() + 30
        while not any(r.startswith("HEAD ") for r in RetryAfterForever.requests):
            self.assertLess(time.monotonic(), deadline, "syncer never asked" + run.describe())
            time.sleep(0.05)
        time.sleep(0.3)
        signalled = time.monotonic()
        run.send(signal.SIGINT)
        status = run.wait(timeout=30)
        elapsed = time.monotonic() - signalled
        self.assertEqual(status, 130, run.describe())
        # The 5 s grace period, then 5 s more at most once every connection is closed: not ten minutes.
        self.assertLess(elapsed, 12, run.describe())
        # The registry session's pauses (the retry's and the registry-wide one for the Retry-After) end when the
        # connections are closed: the run ends with its report, not through the last resort.
        self.assertNotIn("exiting without a report", run.stderr)
        report = self.load_report()
        self.assertEqual([i["status"] for i in report["images"]], ["interrupted"])


if __name__ == "__main__":
    unittest.main()
