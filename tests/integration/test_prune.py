"""Pruning (`sync --prune`) and `syncer delete` against docker-registry 2.8, which deletes by digest only
(a DELETE of a tag answers 400 DIGEST_INVALID) and only with `storage.delete.enabled: true` (else 405
UNSUPPORTED). What is left at the destination is checked with skopeo and the registry's tag list, not syncer.
"""

import json
import subprocess

import harness
import seed
from harness import describe, run_syncer, tags_of


def skopeo_tags(registry, repo: str) -> list[str]:
    r = subprocess.run(["skopeo", "list-tags", "--tls-verify=false", f"docker://{registry.host}/{repo}"],
                       capture_output=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"skopeo list-tags failed: {r.stderr.decode(errors='replace')}")
    return sorted(json.loads(r.stdout)["Tags"] or [])


class PruneTest(harness.TempDirTestCase):
    def setUp(self):
        super().setUp()
        self.src = harness.Registry(name="source")
        self.src.__enter__()
        self.addCleanup(self.src.__exit__)

    def destination(self, delete_enabled: bool = True) -> harness.Registry:
        dst = harness.Registry(name="destination", delete_enabled=delete_enabled)
        dst.__enter__()
        self.addCleanup(dst.__exit__)
        return dst

    def seed(self, dst) -> dict[str, str]:
        """Source app: 1.1, 1.2, latest (= 1.2). Destination: also 1.0 (retired), old-latest (= latest's
        digest: deleting it by digest would take latest along), and a cosign signature of 1.1."""
        sc, dc = seed.Client.for_registry(self.src), seed.Client.for_registry(dst)
        d = {}
        for tag in ("1.1", "1.2"):
            d[tag] = seed.push_image(sc, "app", f"app-{tag}", tag=tag).digest
            seed.push_image(dc, "app", f"app-{tag}", tag=tag)
        seed.push_image(sc, "app", "app-1.2", tag="latest")
        seed.push_image(dc, "app", "app-1.2", tag="latest")
        seed.push_image(dc, "app", "app-1.2", tag="old-latest")
        d["1.0"] = seed.push_image(dc, "app", "app-1.0", tag="1.0").digest
        signature = "sha256-" + d["1.1"].split(":")[1] + ".sig"
        seed.push_image(dc, "app", "signature", tag=signature)
        self.signature = signature
        return d

    def images(self, dst) -> str:
        return self.write("images.yaml", f'"{self.src.host}/app": "{dst.host}/app"\n')

    def run_sync(self, dst, *args: str, expect: int):
        report = f"{self.tmp}/report.json"
        r = run_syncer("sync", "--images", self.images(dst), "--retries", "0", "--report", report, *args)
        self.assertEqual(r.returncode, expect, describe(r))
        with open(report) as f:
            return r, json.load(f)

    def test_dry_run_then_prune_deletes_retired_tags_and_leaves_shared_digests(self):
        dst = self.destination()
        self.seed(dst)
        before = skopeo_tags(dst, "app")
        r, report = self.run_sync(dst, "--prune", "--prune-max", "100%", "--dry-run", expect=0)
        self.assertIn(f"delete {dst.host}/app:1.0 (no rule maps to it any more)", r.stdout)
        self.assertIn(f"delete {dst.host}/app:old-latest", r.stdout)
        self.assertNotIn(f"app:{self.signature}", r.stdout)
        self.assertEqual(report["totals"]["pruning"]["planned"], 2)
        self.assertEqual(skopeo_tags(dst, "app"), before)
        self.assertEqual(dst.count("DELETE", r"/manifests/"), 0)

        r, report = self.run_sync(dst, "--prune", "--prune-max", "100%", expect=0)
        outcome = {d["tag"]: d["status"] for d in report["deletions"]}
        self.assertEqual(outcome, {"1.0": "deleted", "old-latest": "left"}, describe(r))
        left = next(d for d in report["deletions"] if d["tag"] == "old-latest")
        self.assertIn("would also take away 1.2, latest (kept)", left["reason"])
        self.assertIn("pruning: 1 deleted, 1 left", r.stderr)
        self.assertEqual(skopeo_tags(dst, "app"), sorted(["1.1", "1.2", "latest", "old-latest", self.signature]))
        # docker-registry deletes by digest only: one refused tag DELETE, then DELETEs by digest.
        self.assertEqual(dst.count("DELETE", r"/manifests/[^s]"), 1)
        self.assertEqual(dst.count("DELETE", r"/manifests/sha256:"), 1)

    def test_a_bad_prune_max_is_a_usage_error_before_any_request(self):
        dst = self.destination()
        r = run_syncer("sync", "--images", self.images(dst), "--prune", "--prune-max", "150%")
        self.assertEqual(r.returncode, 2, describe(r))
        self.assertIn('--prune-max "150%": expected a number of tags (20) or a percentage', r.stderr)
        self.assertEqual(dst.count("GET", r"/v2/app/"), 0)

    def test_guard_refuses_a_larger_deletion_until_raised(self):
        dst = self.destination()
        self.seed(dst)
        r, report = self.run_sync(dst, "--prune", "--prune-max", "1", expect=1)
        self.assertEqual(len(report["prune_refusals"]), 1)
        self.assertIn("it would delete 2 of its 6 tags, more than --prune-max 1 allows", r.stderr)
        self.assertIn("1.0", skopeo_tags(dst, "app"))
        self.assertEqual(dst.count("DELETE", r"/manifests/"), 0)

    def test_empty_source_listing_is_never_pruned(self):
        dst = self.destination()
        self.seed(dst)
        # A source repository that exists with no tags left: every tag deleted by digest.
        for digest in {d for d in harness.tag_digests(self.src, "app").values()}:
            subprocess.run(["skopeo", "delete", "--tls-verify=false", f"docker://{self.src.host}/app@{digest}"],
                           check=True, capture_output=True, timeout=60)
        self.assertIn(tags_of(self.src, "app"), ([], None))
        r, report = self.run_sync(dst, "--prune", "--prune-max", "100%", expect=1)
        self.assertEqual(len(report["prune_refusals"]), 1, describe(r))
        self.assertEqual(report["deletions"], [])
        self.assertIn("1.1", skopeo_tags(dst, "app"))
        self.assertEqual(dst.count("DELETE", r"/manifests/"), 0)

    def test_a_registry_that_refuses_deletes_gives_a_clear_error_and_breaks_nothing(self):
        dst = self.destination(delete_enabled=False)
        self.seed(dst)
        sc = seed.Client.for_registry(self.src)
        seed.push_image(sc, "app", "app-1.3", tag="1.3")
        r, report = self.run_sync(dst, "--prune", "--prune-max", "100%", expect=1)
        self.assertEqual(report["totals"]["copied"], 1)  # the copy went through
        self.assertIn("storage: delete: enabled: true", r.stderr)
        failed = [d for d in report["deletions"] if d["status"] == "failed"]
        self.assertEqual(len(failed), 2)
        self.assertEqual(sorted(skopeo_tags(dst, "app")),
                         sorted(["1.0", "1.1", "1.2", "1.3", "latest", "old-latest", self.signature]))
        # The first refusal ends the deletions in that repository: one tag DELETE, one by digest.
        self.assertEqual(dst.count("DELETE", r"/manifests/"), 2)


class DeleteCommandTest(harness.TempDirTestCase):
    def setUp(self):
        super().setUp()
        self.reg = harness.Registry()
        self.reg.__enter__()
        self.addCleanup(self.reg.__exit__)
        c = seed.Client.for_registry(self.reg)
        self.shared = seed.push_image(c, "app", "a", tag="a").digest
        seed.push_image(c, "app", "a", tag="a-alias")
        self.own = seed.push_image(c, "app", "b", tag="b").digest

    def delete(self, *args: str, expect: int):
        r = run_syncer("delete", *args)
        self.assertEqual(r.returncode, expect, describe(r))
        return r

    def test_a_tag_alone_on_its_digest_is_deleted(self):
        r = self.delete(f"{self.reg.host}/app:b", expect=0)
        self.assertIn(f"deleted by digest {self.own}", r.stdout)
        self.assertEqual(skopeo_tags(self.reg, "app"), ["a", "a-alias"])

    def test_a_tag_sharing_its_digest_is_refused_unless_forced(self):
        r = self.delete(f"{self.reg.host}/app:a", expect=1)
        self.assertIn("would also take away a-alias (kept)", r.stderr)
        self.assertIn("--force", r.stderr)
        self.assertEqual(skopeo_tags(self.reg, "app"), ["a", "a-alias", "b"])
        self.delete(f"{self.reg.host}/app:a", "--force", expect=0)
        self.assertEqual(skopeo_tags(self.reg, "app"), ["b"])

    def test_a_digest_with_tags_is_refused_unless_forced_and_a_missing_one_fails(self):
        r = self.delete(f"{self.reg.host}/app@{self.shared}", expect=1)
        self.assertIn("a, a-alias (kept) still need it", r.stderr)
        self.delete(f"{self.reg.host}/app@{self.shared}", "--force", expect=0)
        self.assertEqual(skopeo_tags(self.reg, "app"), ["b"])
        r = self.delete(f"{self.reg.host}/app@{self.shared}", expect=1)
        self.assertIn("not found; nothing deleted", r.stderr)
        self.delete(f"{self.reg.host}/app", expect=2)
        self.delete(f"{self.reg.host}/app:b@{self.own}", expect=2)
        self.assertEqual(skopeo_tags(self.reg, "app"), ["b"])

    def test_deletes_disabled_is_a_clear_error(self):
        reg = harness.Registry(name="nodelete", delete_enabled=False)
        with reg:
            c = seed.Client.for_registry(reg)
            seed.push_image(c, "app", "b", tag="b")
            r = self.delete(f"{reg.host}/app:b", expect=1)
            self.assertIn("refuses to delete manifests", r.stderr)
            self.assertIn("storage: delete: enabled: true", r.stderr)
            self.assertEqual(skopeo_tags(reg, "app"), ["b"])
