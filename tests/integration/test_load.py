"""Load: `syncer sync` of 1000 tags in 50 repositories through fault_front.FaultFront failing 1 % of the
requests, with the peak memory and the peak number of open sockets of the syncer process bounded.

Seeding is cheap: two small images per repository pushed once, then each manifest PUT again under ten tags.
"""

import concurrent.futures
import contextlib
import os
import threading
import time
import unittest

import harness
import seed
from fault_front import FaultFront
from harness import describe, get_manifest, run_syncer, sha256, tags_of, verify_tree

REPOS = 50
TAGS_PER_IMAGE = 10  # two images per repository: 20 tags each, 1000 in all
PROC = 8
# syncer's concurrency settings (core/concurrency_limit.hpp's default caps of the adaptive limits per
# registry, metadata requests and blob transfers; --proc, --jobs): calls in flight per registry at most,
# images copied at once, blobs copied at once per image.
PER_REGISTRY = 64 + 16
JOBS = 6
HOSTS = 2  # the front (source) and the destination registry
# Measured on a busy shared 2-core machine (2026-11-30, five runs): peak RSS 27.9-28.3 MiB, peak sockets 32,
# 17 connections to the front for about 2270 requests, the sync itself 23-31 s; one run of scripts/soak
# peaked at 36.8 MiB, when more blob transfers happened to be in flight at once. The memory bound therefore
# follows from the concurrency, not from one measurement: about 28 MiB for the process and its plan of 1000
# tags, plus two 256 KiB buffers (the socket's read buffer, the upload's) for each of the PROC x JOBS blob
# transfers that can run at once (24 MiB), rounded up. Memory that grew with the number of tags would
# still cross it. The client opens a connection only when no idle one to that host is free, so the sockets
# open at once are at most the requests in flight: per registry at most PER_REGISTRY calls, plus the blob
# bodies still streaming after their call returned (PROC images x JOBS blobs).
RSS_BOUND_KIB = (28 + PROC * JOBS * 2 // 4 + 4) * 1024  # 56 MiB
SOCKET_BOUND = HOSTS * PER_REGISTRY + PROC * JOBS


def stored_tag_digest(registry: harness.Registry, repo: str, tag: str) -> str | None:
    """The digest docker-registry's filesystem storage links `repo:tag` to, read without HTTP."""
    path = os.path.join(registry.storage_dir, "docker", "registry", "v2", "repositories", repo, "_manifests",
                        "tags", tag, "current", "link")
    try:
        with open(path) as f:
            return f.read().strip()
    except FileNotFoundError:
        return None


def socket_count(pid: int) -> int:
    n = 0
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                    n += 1
    except OSError:
        pass
    return n


class SocketWatch:
    """Polls the open sockets of every child process of this one running `binary`; keeps the maximum."""

    def __init__(self, binary: str, interval: float = 0.02):
        self.binary = os.path.realpath(binary)
        self.interval = interval
        self.maximum = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "SocketWatch":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _children(self) -> list[int]:
        me = os.getpid()
        out = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                if ppid == me and os.path.realpath(f"/proc/{entry}/exe") == self.binary:
                    out.append(int(entry))
            except (OSError, ValueError, IndexError):
                continue
        return out

    def _run(self) -> None:
        pids: list[int] = []
        while not self._stop.is_set():
            if not pids:
                pids = self._children()
            for pid in pids:
                n = socket_count(pid)
                self.maximum = max(self.maximum, n)
                self.samples += 1
            if pids and not any(os.path.exists(f"/proc/{p}") for p in pids):
                pids = []
            self._stop.wait(self.interval)


class LoadTest(harness.TempDirTestCase):
    @classmethod
    def setUpClass(cls):
        stack = contextlib.ExitStack()
        cls.addClassCleanup(stack.close)
        # Storage on tmpfs when there is one: 1000 tags are some 9000 files and directories per registry, which
        # a busy virtual disk takes tens of seconds to write and delete.
        parent = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
        cls.src = stack.enter_context(harness.Registry(name="load-src", parent_dir=parent))
        cls.dst = stack.enter_context(harness.Registry(name="load-dst", parent_dir=parent))
        base = seed.det_bytes("load/base", 20000)

        def push_repo(i: int) -> dict[str, str]:
            client = seed.Client.for_registry(cls.src)
            repo = f"load/r{i:02d}"
            tags = {}
            for n in range(2):
                layers = [base, seed.det_bytes(f"{repo}/{n}", 3000 + 100 * i + n)]
                desc = seed.push_image(client, repo, f"{repo}/{n}", layers=layers, docker=n == 1)
                status, _, body = client._request("GET", client.url(f"/v2/{repo}/manifests/{desc.digest}"),
                                                  headers={"Accept": desc.media_type})
                assert status == 200, (repo, status)
                for t in range(TAGS_PER_IMAGE):
                    tag = f"{n}.{t}"
                    client.push_manifest(repo, tag, body, desc.media_type)
                    tags[tag] = desc.digest
            return tags

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            cls.expected = {f"load/r{i:02d}": tags for i, tags in enumerate(pool.map(push_repo, range(REPOS)))}

    def test_thousand_tags_through_faulty_front(self):
        self.assertEqual(sum(len(t) for t in self.expected.values()), 1000)
        with FaultFront(self.src, name="load-front", fault_rate=0.01, seed=11,
                        faults=("429", "503", "429_html", "no_digest", "slow"),
                        ensure={"429": 2, "503": 2, "429_html": 2, "no_digest": 2}) as front:
            images = self.write("images.yaml", "".join(
                f'"{front.host}/{repo}": "{self.dst.host}/mirror/{repo}"\n' for repo in self.expected))
            started = time.monotonic()
            with SocketWatch(os.environ["SYNCER_BIN"]) as watch:
                result = run_syncer("sync", "--images", images, "--proc", str(PROC), "--jobs", str(JOBS),
                                    timeout=120)
            elapsed = time.monotonic() - started
            self.assertEqual(result.returncode, 0, describe(result) + "\n" + front.log_text(40))
            requests = front.requests()
            faults = front.faults_injected()

        for repo, tags in self.expected.items():
            self.assertEqual(tags_of(self.dst, f"mirror/{repo}"), sorted(tags), repo)
            for digest in set(tags.values()):
                self.assertEqual(verify_tree(self.dst, f"mirror/{repo}", digest), [])
            # Every tag's digest, read from the destination's storage (1000 GETs would take longer than the
            # copy); verify_tree above fetched each image over HTTP.
            stored = {tag: stored_tag_digest(self.dst, f"mirror/{repo}", tag) for tag in tags}
            self.assertEqual(stored, tags, repo)
        raw, _ = get_manifest(self.dst, "mirror/load/r07", "1.3")
        self.assertEqual(sha256(raw), self.expected["load/r07"]["1.3"], "the storage and the API disagree")

        self.assertGreater(sum(faults.values()), 0, "no fault was injected")
        self.assertGreater(watch.samples, 10, "the socket watch never saw the syncer process")
        print(f"\n[load] {elapsed:.1f} s, {len(requests)} requests to the front over {front.connections} "
              f"connections, faults {dict(faults)}, peak RSS {result.max_rss_kib} KiB, "
              f"peak sockets {watch.maximum}")
        self.assertLess(result.max_rss_kib, RSS_BOUND_KIB, "syncer's memory grew with the number of tags")
        self.assertLessEqual(watch.maximum, SOCKET_BOUND, "more sockets open than the concurrency allows")
        # Keep-alive: connections are reused, not opened per request.
        self.assertLess(front.connections, len(requests) / 10)


if __name__ == "__main__":
    unittest.main()
