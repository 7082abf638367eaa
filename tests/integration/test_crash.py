"""kill -9 during `syncer sync`: whenever the process dies, every destination tag is a complete image.

syncer writes blobs before the manifest that needs them, children before their index, and the tag last, so a
crash at any instant leaves only unreferenced blobs and child manifests behind. This test kills a large sync
(nine repositories, two tags each, one of them an OCI index, layers of 1-3 MiB, a shared base layer) with
SIGKILL after seeded random delays, checks every destination tag after each kill (manifest, children, blobs,
all present and hashing to their digests, and the source's digest), and finally lets a run finish: exit 0 and
every digest identical to the source's.
"""

import json
import os
import random
import signal
import time
import unittest

import harness
import seed
from harness import SyncerProcess, describe, incomplete_tags, run_syncer, tag_digests

REPOS = [f"crash/app{i}" for i in range(8)]
INDEX_REPO = "crash/multi"
ALL_REPOS = REPOS + [INDEX_REPO]
TAGS = ["v1", "v2"]
KILLS = 5
SEED = 20261130


class CrashTest(harness.TempDirTestCase):
    @classmethod
    def setUpClass(cls):
        cls.src, cls.dst = harness.class_registries(cls, "src", "dst")
        client = seed.Client.for_registry(cls.src)
        base = [seed.det_bytes("crash/base", seed.MIB)]
        for i, repo in enumerate(REPOS):
            for tag in TAGS:
                seed.push_image(client, repo, f"{repo}/{tag}", tag=tag,
                                layers=base + [seed.det_bytes(f"{repo}/{tag}/own", 3 * seed.MIB + i),
                                               seed.det_bytes(f"{repo}/{tag}/top", 200_000)])
        for tag in TAGS:
            entries = []
            for platform in ("linux/amd64", "linux/arm64/v8", "linux/s390x"):
                child = seed.push_image(client, INDEX_REPO, f"{INDEX_REPO}/{tag}/{platform}", platform=platform,
                                        layers=base + [seed.det_bytes(f"{INDEX_REPO}/{tag}/{platform}", seed.MIB)])
                entries.append(child.json(platform=seed._platform(platform)))
            seed.push_index(client, INDEX_REPO, tag, entries)
        cls.expected = {repo: tag_digests(cls.src, repo) for repo in ALL_REPOS}

    def check_destination(self, when: str) -> int:
        """Every tag at the destination points at a complete image with the source's digest; returns how many
        tags there are."""
        self.assertEqual(incomplete_tags(self.dst, ALL_REPOS), [], when)
        tags = 0
        for repo in ALL_REPOS:
            for tag, digest in tag_digests(self.dst, repo).items():
                self.assertEqual(digest, self.expected[repo][tag], f"{when}: {repo}:{tag}")
                tags += 1
        return tags

    def test_kill_9_at_random_points_never_leaves_a_partial_image(self):
        images = self.write("images.yaml",
                            "".join(f'"{self.src.host}/{r}": "{self.dst.host}/{r}"\n' for r in ALL_REPOS))
        rng = random.Random(SEED)
        killed_mid_run = 0
        progress = []
        for kill in range(KILLS):
            delay = rng.uniform(0.1, 0.5)
            run = SyncerProcess("sync", "--images", images, "--proc", "1", "--jobs", "2")
            time.sleep(delay)
            run.send(signal.SIGKILL)
            status = run.wait(timeout=30)
            # 0: the run was over before the kill came (then it must have succeeded).
            self.assertIn(status, (-signal.SIGKILL, 0), run.describe())
            killed_mid_run += status == -signal.SIGKILL
            tags = self.check_destination(f"after kill {kill + 1} at {delay:.2f} s")
            progress.append(tags)
        # The kills must have hit runs at work, not only finished ones, for the test to mean anything.
        self.assertGreaterEqual(killed_mid_run, 3, f"tags after each kill: {progress}")

        report_path = os.path.join(self.tmp, "report.json")
        final = run_syncer("sync", "--images", images, "--proc", "2", "--report", report_path)
        self.assertEqual(final.returncode, 0, describe(final))
        with open(report_path) as f:
            report = json.load(f)
        self.assertEqual(report["totals"]["images"], len(ALL_REPOS) * len(TAGS))
        self.assertEqual(report["totals"]["failed"], 0)
        for repo in ALL_REPOS:
            self.assertEqual(tag_digests(self.dst, repo), self.expected[repo], repo)
        self.assertEqual(self.check_destination("after the final run"), len(ALL_REPOS) * len(TAGS))

        again = run_syncer("sync", "--images", images, "--report", report_path)
        self.assertEqual(again.returncode, 0, describe(again))
        with open(report_path) as f:
            self.assertEqual(json.load(f)["totals"]["skipped"], len(ALL_REPOS) * len(TAGS))


if __name__ == "__main__":
    unittest.main()
