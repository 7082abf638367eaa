"""Tag policies (issue 12) against real docker-registry processes: include / exclude / semver selections,
`latest: N` by version precedence as new tags appear, by creation time where tags are not versions, and the
run-wide flags of `sync` and `sync-image`. The destination's tag list is the outcome checked."""

import contextlib
import json
import os

import harness
from harness import describe, run_syncer, tags_of
import seed

# semver, `v`-prefixed, pre-releases, LabNow date tags (leading zeros: not semver), and moving tags.
TAGS = ["1.3.9", "1.4.0", "v1.5.0", "1.5.0-rc.1", "2.0.0-rc.1", "2.0.0",
        "2026.0721.2200-aaaaaaa", "2026.0722.0823-6e32668", "latest", "main"]


class TagPolicyTest(harness.TempDirTestCase):
    @classmethod
    def setUpClass(cls):
        cls.src, cls.dst = harness.class_registries(cls, "src", "dst")
        cls.client = seed.Client.for_registry(cls.src)
        for i, tag in enumerate(TAGS):
            seed.push_image(cls.client, "policy/app", f"policy/app/{tag}", tag=tag, layer_sizes=(200 + i,))

    def write(self, name: str, text: str) -> str:
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def sync(self, *args: str, expect: int = 0) -> dict:
        report_path = os.path.join(self.tmp, "report.json")
        with contextlib.suppress(FileNotFoundError):
            os.remove(report_path)
        result = run_syncer("sync", *args, "--report", report_path)
        self.assertEqual(result.returncode, expect, describe(result))
        with open(report_path) as f:
            return json.load(f)

    @staticmethod
    def destination_tags(report: dict) -> set[str]:
        return {i["destination"].rsplit(":", 1)[1] for i in report["images"]}

    def source_manifest_gets(self, repo: str) -> int:
        return sum(1 for r in self.src.requests() if r.method == "GET" and r.path.startswith(f"/v2/{repo}/manifests/"))

    def test_selections_write_exactly_the_selected_tags(self):
        s, d = self.src.host, self.dst.host
        q = json.dumps  # a YAML double-quoted scalar
        releases = q(f"{s}/policy/app:/^v?[0-9]\\./")
        dates = q("/^[0-9]{4}\\./")
        images = self.write("images.yaml", "\n".join([
            f"{q(s + '/policy/app')}:",
            f"  destination: {q(d + '/sel/semver')}",
            f"  semver: {q('>=1.4 <2')}",
            f"{releases}:",
            f"  destinations: [{q(d + '/sel/releases')}]",
            f"  exclude: [{q('/-rc/')}]",
            f"{q(s + '/policy/app:/./')}:",
            f"  destination: {q(d + '/sel/labnow')}",
            f"  include: [latest, {dates}]",
            "  latest: 1",
            f"{q(s + '/policy/app:/^/')}:",
            f"  destination: {q(d + '/sel/newest')}",
            f"  semver: {q('*')}",
            "  latest: 2",
            "",
        ]))
        report = self.sync("--images", images)
        self.assertEqual(report["totals"]["failed"], 0)
        self.assertEqual(tags_of(self.dst, "sel/semver"), ["1.4.0", "v1.5.0"])
        self.assertEqual(tags_of(self.dst, "sel/releases"), ["1.3.9", "1.4.0", "2.0.0", "v1.5.0"])
        self.assertEqual(tags_of(self.dst, "sel/labnow"), ["2026.0722.0823-6e32668", "latest"])
        self.assertEqual(tags_of(self.dst, "sel/newest"), ["2.0.0", "v1.5.0"])

    def test_latest_window_moves_as_new_tags_appear_and_a_no_op_reads_no_manifest(self):
        for tag in ["2026.0101.0000-0000001", "2026.0201.0000-0000002", "latest"]:
            seed.push_image(self.client, "window/app", f"window/{tag}", tag=tag, layer_sizes=(100,))
        s, d = self.src.host, self.dst.host
        images = self.write("window.yaml", f"{s}/window/app: {d}/window/app\n")
        flags = ["--images", images, "--include-tags", "latest,/^[0-9]{4}\\./", "--latest", "1"]
        first = self.sync(*flags)
        self.assertEqual(self.destination_tags(first), {"latest", "2026.0201.0000-0000002"})
        self.assertEqual(tags_of(self.dst, "window/app"), ["2026.0201.0000-0000002", "latest"])

        seed.push_image(self.client, "window/app", "window/new", tag="2026.0722.0823-6e32668", layer_sizes=(101,))
        second = self.sync(*flags)
        self.assertEqual(self.destination_tags(second), {"latest", "2026.0722.0823-6e32668"})
        self.assertEqual(second["totals"]["copied"], 1)
        # Pruning the tag that left the window is prune's job (opt-in); without it the old tag stays.
        self.assertEqual(tags_of(self.dst, "window/app"),
                         ["2026.0201.0000-0000002", "2026.0722.0823-6e32668", "latest"])

        before = self.source_manifest_gets("window/app")
        third = self.sync(*flags)
        self.assertEqual(third["totals"]["skipped"], 2)
        self.assertEqual(self.source_manifest_gets("window/app"), before)

    def test_latest_window_with_prune_deletes_the_tag_that_left_it(self):
        for tag in ["2026.0101.0000-0000001", "2026.0201.0000-0000002", "2026.0301.0000-0000003"]:
            seed.push_image(self.client, "pruned/app", f"pruned/{tag}", tag=tag, layer_sizes=(110,))
        s, d = self.src.host, self.dst.host
        images = self.write("pruned.yaml", f"{s}/pruned/app:\n  destination: {d}/pruned/app\n"
                                           "  latest: 2\n  prune: true\n")
        self.sync("--images", images)
        self.assertEqual(tags_of(self.dst, "pruned/app"), ["2026.0201.0000-0000002", "2026.0301.0000-0000003"])

        seed.push_image(self.client, "pruned/app", "pruned/new", tag="2026.0401.0000-0000004", layer_sizes=(111,))
        dry = self.sync("--images", images, "--dry-run")
        self.assertEqual([(x["tag"], x["status"]) for x in dry["deletions"]], [("2026.0201.0000-0000002", "planned")])
        self.assertEqual(len(tags_of(self.dst, "pruned/app")), 2, "a dry run deletes nothing")

        report = self.sync("--images", images)
        self.assertEqual(report["totals"]["copied"], 1)
        self.assertEqual(tags_of(self.dst, "pruned/app"), ["2026.0301.0000-0000003", "2026.0401.0000-0000004"])

    def test_tags_that_are_not_versions_rank_by_creation_time(self):
        created = {"stable": "2026-06-01T00:00:00Z", "main": "2026-07-21T10:00:00Z",
                   "nightly": "2026-07-22T08:23:00.5Z", "edge": "2026-07-22T08:23:00Z"}
        for tag, when in created.items():
            seed.push_image(self.client, "created/app", f"created/{tag}", tag=tag, layer_sizes=(120,), created=when)
        s, d = self.src.host, self.dst.host
        images = self.write("created.json", json.dumps(
            {f"{s}/created/app": {"destinations": [f"{d}/created/app"], "latest": 2}}))
        report = self.sync("--images", images)
        self.assertEqual(self.destination_tags(report), {"nightly", "edge"})
        self.assertEqual(tags_of(self.dst, "created/app"), ["edge", "nightly"])

    def test_sync_image_takes_the_policy_flags(self):
        r = run_syncer("sync-image", "policy/app", f"--source-registry={self.src.host}",
                       f"--target-registry={self.dst.host}/labnow", "--include-tags=latest,/^[0-9]{4}\\./",
                       "--exclude-tags=/-aaaaaaa$/", "--latest=5")
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertEqual(tags_of(self.dst, "labnow/policy/app"), ["2026.0722.0823-6e32668", "latest"])

        r = run_syncer("sync-image", "policy/app", "--tags=latest", "--latest=2",
                       f"--source-registry={self.src.host}", f"--target-registry={self.dst.host}")
        self.assertEqual(r.returncode, 2, describe(r))
        self.assertIn("--tags names the tags to mirror", r.stderr)

    def test_bad_policies_are_refused_before_any_request(self):
        s, d = self.src.host, self.dst.host
        images = self.write("bad.yaml", f"x: y\n{s}/policy/app@sha256:{'0' * 64}:\n  destination: {d}/bad\n"
                                        "  latest: 3\n")
        r = run_syncer("sync", "--images", images)
        self.assertEqual(r.returncode, 2, describe(r))
        self.assertIn(f"bad.yaml:4: \"{s}/policy/app@sha256:{'0' * 64}\": \"latest\" selects among the tags",
                      r.stderr)
        r = run_syncer("sync", "--images", self.write("ok.yaml", f"{s}/policy/app: {d}/ok\n"),
                       "--exclude-tags", "/[/")
        self.assertEqual(r.returncode, 2, describe(r))
        self.assertIn("--exclude-tags: \"/[/\": invalid tag regex", r.stderr)
        self.assertIsNone(tags_of(self.dst, "ok"))


if __name__ == "__main__":
    import unittest
    unittest.main()
