"""Adaptive concurrency per registry (core/concurrency_limit.hpp): a no-op `syncer sync` of 4 repositories x 40
tags whose source is behind fault_front.FaultFront, which counts the most requests it served at once.

- by default the metadata limit grows past its start, and the front never serves more than its cap at once;
- `--max-concurrency 4` holds the front to 4 requests at once, and the report says cap 4;
- a front that throttles (429 on every 10th request) makes the limit halve: the report counts decreases and
  ends below its highest value, and the sync still succeeds.

Both registries hold the same images under the same tags before each run (pushed by the seed), so every run
is a no-op: tag lists and manifest HEADs only.
"""

import contextlib
import json
import unittest

import harness
import seed
from fault_front import FaultFront
from harness import describe, run_syncer

REPOS = 4
TAGS = 40
# The defaults of core/concurrency_limit.hpp, as docs/sync.md documents them.
METADATA_START = 16
METADATA_CAP = 64


class ConcurrencyTest(harness.TempDirTestCase):
    @classmethod
    def setUpClass(cls):
        stack = contextlib.ExitStack()
        cls.addClassCleanup(stack.close)
        cls.src = stack.enter_context(harness.Registry(name="conc-src"))
        cls.dst = stack.enter_context(harness.Registry(name="conc-dst"))
        for registry in (cls.src, cls.dst):
            client = seed.Client.for_registry(registry)
            for i in range(REPOS):
                repo = f"conc/r{i}"
                # The same seed on both sides: the same bytes, the same digest.
                desc = seed.push_image(client, repo, repo, layer_sizes=(512,))
                status, _, body = client._request("GET", client.url(f"/v2/{repo}/manifests/{desc.digest}"),
                                                  headers={"Accept": desc.media_type})
                assert status == 200, (repo, status)
                for t in range(TAGS):
                    client.push_manifest(repo, f"v{t}", body, desc.media_type)

    def sync(self, front: FaultFront, *flags: str) -> dict:
        images = self.write("images.yaml", "".join(
            f'"{front.host}/conc/r{i}": "{self.dst.host}/conc/r{i}"\n' for i in range(REPOS)))
        report = f"{self.tmp}/report.json"
        result = run_syncer("sync", "--images", images, "--report", report, *flags, timeout=180)
        self.assertEqual(result.returncode, 0, describe(result) + "\n" + front.log_text(20))
        with open(report) as f:
            doc = json.load(f)
        self.assertEqual(doc["totals"]["skipped"], REPOS * TAGS, "not a no-op")
        self.assertEqual(doc["totals"]["copied"], 0)
        entries = {e["registry"]: e for e in doc["registries"]}
        self.assertIn(front.host, entries, doc["registries"])
        self.assertIn(self.dst.host, entries, doc["registries"])
        return entries[front.host]["concurrency"]

    def test_default_limit_grows_and_stays_within_its_cap(self):
        with FaultFront(self.src, name="conc-default") as front:
            c = self.sync(front)
            in_flight = front.max_in_flight()
        print(f"\n[concurrency] default: {c}, front max in flight {in_flight}")
        m = c["metadata"]
        self.assertEqual((m["start"], m["cap"]), (METADATA_START, METADATA_CAP), c)
        self.assertGreater(m["max"], m["start"], c)
        self.assertLessEqual(m["final"], m["max"], c)
        self.assertLessEqual(in_flight, METADATA_CAP)
        # More requests at once than the start allows: the limit did grow, and the calls used it.
        self.assertGreater(in_flight, METADATA_START, c)
        self.assertEqual(c["blobs"]["start"], 8, c)

    def test_max_concurrency_caps_requests_in_flight(self):
        with FaultFront(self.src, name="conc-capped") as front:
            c = self.sync(front, "--max-concurrency", "4", "--max-blob-concurrency", "2")
            in_flight = front.max_in_flight()
        self.assertEqual(c["metadata"]["cap"], 4, c)
        self.assertEqual(c["metadata"]["start"], 4, c)
        self.assertEqual(c["metadata"]["max"], 4, c)
        self.assertEqual((c["blobs"]["start"], c["blobs"]["cap"]), (2, 2), c)
        self.assertLessEqual(in_flight, 4)
        self.assertGreaterEqual(in_flight, 2)  # the 4 listings and the HEADs did overlap

    def test_throttling_halves_the_limit(self):
        # Docker Hub's shape: no Retry-After, so the client retries each 429 after its backoff.
        with FaultFront(self.src, name="conc-throttle", throttle_every=10, throttle_shape="hub") as front:
            c = self.sync(front)
            throttled = front.faults_injected()["throttle"]
        print(f"\n[concurrency] throttled {throttled} times: {c}")
        self.assertGreaterEqual(throttled, 10)
        m = c["metadata"]
        self.assertGreaterEqual(m["decreases"], 1, c)
        self.assertLess(m["final"], m["max"], c)
        # A throttle halves blob transfers too: the registry's rate limit counts every request.
        self.assertGreaterEqual(c["blobs"]["decreases"], 1, c)


if __name__ == "__main__":
    unittest.main()
