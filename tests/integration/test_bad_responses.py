"""A source registry that answers with bad content: one `syncer sync` where each of several repositories is
served wrong in its own way by fault_front.FaultFront (`mutate=`), next to repositories served correctly.

The good images must arrive identical; each bad one must fail with a message that names the repository and the
problem; the run must end with the documented failure status (1), not a crash; and nothing corrupt may reach
the destination: no tag for a bad image, and no stored blob whose bytes differ from its digest.
"""

import contextlib
import hashlib
import json
import os
import time
import unittest

import harness
import seed
from fault_front import FaultFront
from harness import describe, get_manifest, run_syncer, sha256, tags_of, verify_tree

KIB = 1 << 10

# mutation -> words the failure message must contain (lower-cased), besides the repository's name.
BAD = {
    "invalid_json": ["invalid manifest", "json"],
    "manifest_digest_mismatch": ["digest", "different bytes"],
    "blob_digest_mismatch": ["hashes to"],
    "truncated_blob": ["downloading blob", "closed the connection"],
    "wrong_content_length": ["announces", "bytes"],
    "short_content_length": ["announces", "bytes"],
    "oversized_manifest": ["larger than"],
    "unknown_media_type": ["unsupported", "application/x-unknown"],
    "html_error": ["502", "html page"],
}
GOOD = ["good/one", "good/two", "good/index"]


def stored_blob_problems(registry: harness.Registry) -> list[str]:
    """Blobs in the registry's filesystem storage whose bytes do not hash to the digest they are stored as."""
    root = os.path.join(registry.storage_dir, "docker", "registry", "v2", "blobs", "sha256")
    problems = []
    for dirpath, _, files in os.walk(root):
        if "data" not in files:
            continue
        want = os.path.basename(dirpath)
        h = hashlib.sha256()
        with open(os.path.join(dirpath, "data"), "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        if h.hexdigest() != want:
            problems.append(f"sha256:{want} holds bytes hashing to sha256:{h.hexdigest()}")
    return problems


class BadResponsesTest(harness.TempDirTestCase):
    @classmethod
    def setUpClass(cls):
        stack = contextlib.ExitStack()
        cls.addClassCleanup(stack.close)
        cls.src = stack.enter_context(harness.Registry(name="bad-src"))
        cls.dst = stack.enter_context(harness.Registry(name="bad-dst"))
        client = seed.Client.for_registry(cls.src)
        cls.digests = {}
        for repo in GOOD[:2] + [f"bad/{kind.replace('_', '-')}" for kind in BAD]:
            # Layers of its own for every repository, so each bad blob is really downloaded, not mounted.
            d = seed.push_image(client, repo, repo, tag="v1", docker=repo.endswith("two"),
                                layer_sizes=(3 * KIB, 200 * KIB))
            cls.digests[repo] = d.digest
        entries = []
        for platform in ("linux/amd64", "linux/arm64"):
            d = seed.push_image(client, "good/index", f"good/index/{platform}", platform=platform)
            os_, arch = platform.split("/")
            entries.append(d.json(platform={"architecture": arch, "os": os_}))
        cls.digests["good/index"] = seed.push_index(client, "good/index", "v1", entries).digest

    def test_bad_sources_fail_cleanly_and_push_nothing(self):
        mutate = {f"bad/{kind.replace('_', '-')}": kind for kind in BAD}
        with FaultFront(self.src, name="bad-front", mutate=mutate) as front:
            # Every tag of each repository, except the one whose every answer is an HTML error page: its tag
            # is named, so that it fails on the manifest HEAD (a failed tag listing is covered below).
            images = self.write("images.yaml", "".join(
                f'"{front.host}/{repo}{":v1" if mutate.get(repo) == "html_error" else ""}": '
                f'"{self.dst.host}/mirror/{repo}"\n' for repo in self.digests))
            report_path = os.path.join(self.tmp, "report.json")
            started = time.monotonic()
            result = run_syncer("sync", "--images", images, "--retries", "1", "--report", report_path)
            elapsed = time.monotonic() - started
            context = describe(result) + "\n--- front log (tail)\n" + front.log_text(80)
            self.assertEqual(result.returncode, 1, "expected the documented status for failed images" + context)
            with open(report_path) as f:
                report = json.load(f)

            by_repo = {}
            for image in report["images"]:
                repo = image["source"].split("/", 1)[1].rsplit(":", 1)[0]
                by_repo[repo] = image
            self.assertEqual(set(by_repo), set(self.digests), report)
            for repo in GOOD:
                with self.subTest(good=repo):
                    self.assertEqual(by_repo[repo]["status"], "copied", by_repo[repo])
                    raw, _ = get_manifest(self.dst, f"mirror/{repo}", "v1")
                    self.assertEqual(sha256(raw), self.digests[repo])
                    self.assertEqual(verify_tree(self.dst, f"mirror/{repo}", self.digests[repo]), [])
            for repo, kind in mutate.items():
                with self.subTest(bad=kind):
                    image = by_repo[repo]
                    self.assertEqual(image["status"], "failed", image)
                    message = image["error"]
                    self.assertIn(repo, message, "the message should name the repository")
                    for word in BAD[kind]:
                        self.assertIn(word, message.lower(), f"{kind}: {message}")
                    self.assertIn(message.split(": ")[-1][:60], result.stderr, "the failure should be logged")
                    self.assertIn(tags_of(self.dst, f"mirror/{repo}"), (None, []),
                                  f"{kind}: a tag of the bad image reached the destination")
            self.assertEqual(report["totals"]["failed"], len(BAD))
            self.assertNotIn("<html", result.stderr.lower(), "raw HTML must not reach the user")
            self.assertEqual(stored_blob_problems(self.dst), [])
            self.assertEqual(set(front.faults_injected()), set(BAD), front.faults_injected())
            print(f"\n[bad responses] {elapsed:.1f} s")

    def test_failed_tag_listing_is_logged(self):
        repo = "bad/html-error"
        with FaultFront(self.src, name="html-front", mutate={repo: "html_error"}) as front:
            images = self.write("listing.yaml", f'"{front.host}/{repo}": "{self.dst.host}/listing/{repo}"\n')
            result = run_syncer("sync", "--images", images, "--retries", "0")
            self.assertEqual(result.returncode, 1, describe(result))
            self.assertIn(f"{front.host}/{repo}", result.stderr, "the failed image should be logged")
            self.assertIn("listing tags", result.stderr, describe(result))
            self.assertIn("502", result.stderr, describe(result))
            self.assertNotIn("<html", result.stderr.lower())


if __name__ == "__main__":
    unittest.main()
