"""`syncer sync` (image-syncer compatible mirroring) between docker-registry processes on loopback.

Outcomes are checked independently of syncer: manifest digests with skopeo and raw HTTP, complete trees with
verify_tree, and what went over the wire from each registry's access log.
"""

import contextlib
import json
import os
import re
import shutil
import tempfile
import unittest
import urllib.error
import urllib.request

import harness
from harness import tags_of
import seed
from harness import describe, get_manifest, run_syncer, sha256, skopeo_inspect_raw, verify_tree

# Tags of the regex test repository; /v1\./ matches the first three (unanchored), not the last two.
REGEX_TAGS = ["v1.0", "v1.1", "release-v1.2", "latest", "2.0"]
REGEX_MATCHES = ["v1.0", "v1.1", "release-v1.2"]


def q(text: str) -> str:
    """A YAML double-quoted scalar (JSON string syntax is valid YAML)."""
    return json.dumps(text)


def yaml_images(mapping: dict) -> str:
    """An images file in YAML block style: source -> destination string or list."""
    lines = ["# written by test_sync.py"]
    for source, dest in mapping.items():
        if isinstance(dest, list):
            lines.append(f"{q(source)}:")
            lines += [f"  - {q(d)}" for d in dest]
        else:
            lines.append(f"{q(source)}: {q(dest)}")
    return "\n".join(lines) + "\n"


def digest_query(digest: str) -> str:
    """Regex for `digest=<digest>` in a query string, with the colon raw or percent-encoded."""
    algo, hexpart = digest.split(":", 1)
    return rf"[?&]digest={algo}(:|%3[Aa]){hexpart}(&|$)"


class SyncBase(harness.TempDirTestCase):
    def sync(self, *args: str, expect: int = 0, env: dict | None = None):
        result = run_syncer("sync", *args, env=env)
        self.assertEqual(result.returncode, expect, describe(result))
        return result

    def sync_report(self, *args: str, expect: int = 0, env: dict | None = None, name: str = "report.json"):
        """Run sync with --report; return (result, parsed report)."""
        report_path = os.path.join(self.tmp, name)
        with contextlib.suppress(FileNotFoundError):
            os.remove(report_path)
        result = self.sync(*args, "--report", report_path, expect=expect, env=env)
        with open(report_path) as f:
            report = json.load(f)
        self.assertEqual(report["version"], 1)
        return result, report

    def assert_digest(self, registry, repo: str, ref: str, expected: str, creds: str | None = None) -> None:
        raw = skopeo_inspect_raw(registry.ref(repo, ref), creds=creds)
        self.assertEqual(sha256(raw), expected, f"{registry.ref(repo, ref)} does not hold {expected}")

    def assert_complete(self, registry, repo: str, digest: str) -> None:
        self.assertEqual(verify_tree(registry, repo, digest), [], f"{registry.host}/{repo}@{digest} incomplete")

    @staticmethod
    def pairs(report: dict) -> set[tuple[str, str]]:
        return {(i["source"], i["destination"]) for i in report["images"]}


class SyncTest(SyncBase):
    @classmethod
    def setUpClass(cls):
        cls.src, cls.dst, cls.dst2 = harness.class_registries(cls, "src", "dst", "dst2")
        client = seed.Client.for_registry(cls.src)
        cls.images = seed.push_kinds(client)
        cls.regex_digests = {}
        for i, tag in enumerate(REGEX_TAGS):
            d = seed.push_image(client, "regex/app", f"regex/app/{tag}", tag=tag, layer_sizes=(300 + i, 500))
            cls.regex_digests[tag] = d.digest
        cls.forms_state = None

    # --- 1 and 2: every source form, then a no-op second run ------------------------------------------
    def forms_config(self) -> tuple[dict, dict[tuple[str, str], str]]:
        """The images mapping and the expected (source, destination) -> digest of every item."""
        s, d, d2, im = self.src, self.dst, self.dst2, self.images
        v2, lst, oci, art, subj = (im["docker-v2"], im["docker-list"], im["oci-image"], im["artifact"],
                                   im["artifact-subject"])
        mapping = {
            # every tag
            f"{s.host}/{v2.repo}": f"{d.host}/forms/docker-v2",
            # one listed tag, three destinations (keep the tag, rename it, another registry)
            f"{s.host}/{lst.repo}:{lst.tag}": [f"{d.host}/forms/list-a", f"{d.host}/forms/list-b:renamed",
                                               f"{d2.host}/forms/list-c"],
            # tags matching an unanchored regex
            f"{s.host}/regex/app:/v1\\./": f"{d.host}/forms/regex",
            # a digest, kept as a digest and also tagged
            f"{s.host}/{oci.repo}@{oci.digest}": [f"{d.host}/forms/pinned", f"{d.host}/forms/pinned-tag:pinned"],
            # two listed tags mapped positionally
            f"{s.host}/{art.repo}:{art.tag},{subj.tag}": f"{d.host}/forms/artifact:s1,b1",
        }
        expected = {
            (s.ref(v2.repo, v2.tag), d.ref("forms/docker-v2", v2.tag)): v2.digest,
            (s.ref(lst.repo, lst.tag), d.ref("forms/list-a", lst.tag)): lst.digest,
            (s.ref(lst.repo, lst.tag), d.ref("forms/list-b", "renamed")): lst.digest,
            (s.ref(lst.repo, lst.tag), d2.ref("forms/list-c", lst.tag)): lst.digest,
            (s.ref(oci.repo, oci.digest), d.ref("forms/pinned", oci.digest)): oci.digest,
            (s.ref(oci.repo, oci.digest), d.ref("forms/pinned-tag", "pinned")): oci.digest,
            (s.ref(art.repo, art.tag), d.ref("forms/artifact", "s1")): art.digest,
            (s.ref(art.repo, subj.tag), d.ref("forms/artifact", "b1")): subj.digest,
        }
        for tag in REGEX_MATCHES:
            expected[(s.ref("regex/app", tag), d.ref("forms/regex", tag))] = self.regex_digests[tag]
        return mapping, expected

    def forms_first_run(self):
        """Runs the first sync of the source-forms config once per class; later calls reuse its outcome."""
        if SyncTest.forms_state is None:
            mapping, expected = self.forms_config()
            images = self.write("forms.yaml", yaml_images(mapping))
            keep = tempfile.mkdtemp(prefix="syncer-sync-forms-")
            self.addClassCleanup(shutil.rmtree, keep, True)
            kept = shutil.copy(images, keep)
            result = run_syncer("sync", "--images", kept, "--report", os.path.join(keep, "report.json"))
            report = None
            with contextlib.suppress(OSError, ValueError):
                with open(os.path.join(keep, "report.json")) as f:
                    report = json.load(f)
            SyncTest.forms_state = (kept, expected, result, report)
        return SyncTest.forms_state

    def test_01_every_source_form(self):
        _, expected, result, report = self.forms_first_run()
        self.assertEqual(result.returncode, 0, describe(result))
        self.assertIsNotNone(report, "no report written")
        self.assertEqual(self.pairs(report), set(expected), "the report should list exactly the expanded items")
        for image in report["images"]:
            with self.subTest(source=image["source"], destination=image["destination"]):
                self.assertEqual(image["status"], "copied", image)
                want = expected[(image["source"], image["destination"])]
                self.assertEqual(image["digest"], want)
        self.assertEqual(report["totals"]["images"], len(expected))
        self.assertEqual(report["totals"]["copied"], len(expected))
        self.assertEqual(report["totals"]["failed"], 0)
        for (src_ref, dst_ref), digest in expected.items():
            with self.subTest(destination=dst_ref):
                raw = skopeo_inspect_raw(dst_ref)
                self.assertEqual(sha256(raw), digest, f"{dst_ref} should hold the bytes of {src_ref}")
        # The regex took exactly the matching tags, and nothing else reached the destination repository.
        self.assertEqual(tags_of(self.dst, "forms/regex"), sorted(REGEX_MATCHES))
        self.assertEqual(tags_of(self.dst, "forms/artifact"), ["b1", "s1"])
        self.assertEqual(tags_of(self.dst, "forms/list-b"), ["renamed"])
        # A digest destination without a tag gets no tag.
        self.assertIn(tags_of(self.dst, "forms/pinned"), ([], None))
        lst = self.images["docker-list"]
        self.assert_complete(self.dst, "forms/list-b", lst.digest)
        self.assert_complete(self.dst2, "forms/list-c", lst.digest)

    def test_02_second_run_is_noop(self):
        images, expected, first, _ = self.forms_first_run()
        self.assertEqual(first.returncode, 0, "the first run failed:" + describe(first))
        src_before, dst_before, dst2_before = (len(r.requests()) for r in (self.src, self.dst, self.dst2))
        _, report = self.sync_report("--images", images)
        self.assertEqual(self.pairs(report), set(expected))
        for image in report["images"]:
            self.assertEqual(image["status"], "skipped", image)
            self.assertEqual(image["digest"], expected[(image["source"], image["destination"])])
        self.assertEqual(report["totals"]["skipped"], len(expected))
        for key in ("copied", "failed", "blobs_uploaded", "blobs_mounted", "manifests_pushed", "bytes_sent"):
            self.assertEqual(report["totals"][key], 0, f"totals.{key}")

        src_new = self.src.requests()[src_before:]
        manifest_gets = [r for r in src_new if r.method == "GET" and "/manifests/" in r.path]
        self.assertEqual(manifest_gets, [], "a no-op run must not GET source manifests (HEAD is enough)")
        self.assertEqual([r for r in src_new if "/blobs/" in r.path], [], "a no-op run must not touch source blobs")
        self.assertGreater(sum(1 for r in src_new if r.method == "HEAD"), 0, "expected source HEADs")
        for reg, before in ((self.dst, dst_before), (self.dst2, dst2_before)):
            new = reg.requests()[before:]
            with self.subTest(registry=reg.name):
                self.assertEqual(reg.count("POST", r"/blobs/uploads/", new), 0, "no-op run started uploads")
                self.assertEqual(reg.count("PUT", r"/manifests/", new), 0, "no-op run pushed manifests")
                other = [r for r in new
                         if not (r.method == "HEAD" or (r.method == "GET" and re.search(r"/tags/list", r.path)))
                         and r.path != "/v2/"]
                self.assertEqual(other, [], "only HEADs and tag-list GETs expected at the destination")

    # --- 3: shared layers cross the wire once per destination registry -----------------------------------
    def test_family_blobs_once_per_destination_registry(self):
        with harness.Registry(name="fam-dst") as dst, harness.Registry(name="fam-dst2") as dst2:
            mapping = {}
            for repo in seed.FAMILY:
                name = repo.split("/")[1]
                mapping[f"{self.src.host}/{repo}"] = [f"{dst.host}/mirror-a/{name}", f"{dst.host}/mirror-b/{name}",
                                                      f"{dst2.host}/family/{name}"]
            images = self.write("family.yaml", yaml_images(mapping))
            _, report = self.sync_report("--images", images, "--proc", "4")
            self.assertEqual(len(report["images"]), 9)
            self.assertTrue(all(i["status"] == "copied" for i in report["images"]), report["images"])

            manifests = {repo: json.loads(skopeo_inspect_raw(self.src.ref(repo, "1"))) for repo in seed.FAMILY}
            base = [sha256(b) for b in seed.family_base_layers()]
            for m in manifests.values():
                self.assertEqual([layer["digest"] for layer in m["layers"][:2]], base)
            needs_per_image = {repo: harness.referenced_blobs(m) for repo, m in manifests.items()}
            distinct = {d for blobs in needs_per_image.values() for d in blobs}
            self.assertEqual(len(distinct), 8, "two base layers plus a layer and a config per image")

            for reg, prefixes in ((dst, ["mirror-a", "mirror-b"]), (dst2, ["family"])):
                with self.subTest(registry=reg.name):
                    reqs = reg.requests()
                    for d in distinct:
                        puts = [r for r in reqs if r.method == "PUT" and "/blobs/uploads/" in r.path
                                and re.search(digest_query(d), r.path)]
                        kind = "base layer" if d in base else "blob"
                        self.assertEqual(len(puts), 1, f"{kind} {d} should be uploaded exactly once to {reg.host}: "
                                                       f"{puts}")
                    needs = len(prefixes) * sum(len(b) for b in needs_per_image.values())
                    mounts = [r for r in reqs if r.method == "POST" and "mount=" in r.path and r.status == 201]
                    self.assertEqual(len(mounts), needs - len(distinct),
                                     f"every need but the first of each blob should be a mount at {reg.host}")
                    self.assertEqual(reg.count("PUT", r"/blobs/uploads/", reqs), len(distinct),
                                     "one finished upload per distinct blob, none for anything else")
                    for repo in seed.FAMILY:
                        name = repo.split("/")[1]
                        digest = sha256(skopeo_inspect_raw(self.src.ref(repo, "1")))
                        for prefix in prefixes:
                            self.assert_complete(reg, f"{prefix}/{name}", digest)
                            self.assert_digest(reg, f"{prefix}/{name}", "1", digest)
            totals = report["totals"]
            self.assertEqual(totals["blobs_uploaded"], 2 * len(distinct), totals)
            self.assertEqual(totals["blobs_mounted"], 3 * sum(len(b) for b in needs_per_image.values())
                             - 2 * len(distinct), totals)

    # --- 5: platform filter -------------------------------------------------------------------------------
    def test_arch_filter_on_oci_index(self):
        image = self.images["oci-index"]
        source_index = json.loads(skopeo_inspect_raw(self.src.ref(image.repo, image.tag)))
        arm64 = [m for m in source_index["manifests"] if m.get("platform", {}).get("architecture") == "arm64"]
        self.assertEqual(len(arm64), 1)
        images = self.write("arch.yaml", yaml_images({f"{self.src.host}/{image.repo}:{image.tag}":
                                                      f"{self.dst.host}/plat/oci-index"}))
        _, report = self.sync_report("--images", images, "--arch", "arm64")
        self.assertEqual([i["status"] for i in report["images"]], ["copied"], report)

        raw, _ = get_manifest(self.dst, "plat/oci-index", image.tag)
        filtered = json.loads(raw)
        self.assertNotEqual(sha256(raw), image.digest, "a filtered index must not keep the source digest")
        self.assertEqual(len(filtered["manifests"]), 1, f"expected only the arm64 entry, got {filtered}")
        entry = filtered["manifests"][0]
        self.assertEqual(entry["digest"], arm64[0]["digest"], "the child must be copied unchanged")
        self.assertEqual(entry["platform"]["architecture"], "arm64")
        self.assertEqual(filtered["mediaType"], source_index["mediaType"])
        self.assertEqual(report["images"][0]["digest"], sha256(raw), "the report should give the pushed digest")
        self.assert_complete(self.dst, "plat/oci-index", sha256(raw))
        for other in source_index["manifests"]:
            if other["digest"] != entry["digest"]:
                with self.assertRaises(RuntimeError, msg=f"{other['digest']} should not be at the destination"):
                    skopeo_inspect_raw(self.dst.ref("plat/oci-index", other["digest"]))

        # Again: in sync once filtered, nothing pushed.
        before = len(self.dst.requests())
        _, report = self.sync_report("--images", images, "--arch", "arm64")
        self.assertEqual([i["status"] for i in report["images"]], ["skipped"], report)
        new = self.dst.requests()[before:]
        self.assertEqual(self.dst.count("PUT", r"", new), 0, f"second filtered run wrote: {new}")
        self.assertEqual(self.dst.count("POST", r"", new), 0, f"second filtered run wrote: {new}")

    # issue 10: a no-op rerun with --arch amd64 reported "1 copied, 0 already in sync" after a source manifest
    # GET, destination blob HEADs and a manifest PUT; a mixed repository reported "10 copied, 3 already in
    # sync"; an image of another architecture was copied anyway.
    def test_arch_filter_rerun_is_a_no_op_and_excludes_other_platforms(self):
        client = seed.Client.for_registry(self.src)
        repo = "mixed/arch"
        amd = seed.push_image(client, repo, "mixed/amd", platform="linux/amd64", tag="amd")
        arm = seed.push_image(client, repo, "mixed/arm", platform="linux/arm64", tag="arm")
        children = [seed.push_image(client, repo, f"mixed/multi/{arch}", platform=f"linux/{arch}")
                    .json(platform={"architecture": arch, "os": "linux"}) for arch in ("amd64", "arm64")]
        multi = seed.push_index(client, repo, "multi", children)
        images = self.write("mixed.yaml", yaml_images({f"{self.src.host}/{repo}": f"{self.dst.host}/plat/mixed"}))
        excluded_reason = (f"{self.src.ref(repo, 'arm')} is a single-platform image for linux/arm64, which the "
                           "platform filter (*/amd64) does not match; nothing to copy")

        result, report = self.sync_report("--images", images, "--arch", "amd64")
        status = {i["source"].rsplit(":", 1)[1]: i for i in report["images"]}
        self.assertEqual({t: i["status"] for t, i in status.items()},
                         {"amd": "copied", "multi": "copied", "arm": "excluded"}, report)
        self.assertEqual(status["arm"]["reason"], excluded_reason)
        self.assertEqual(report["totals"]["excluded"], 1)
        self.assertIn("3 images: 2 copied, 0 already in sync, 1 excluded by the platform filter, 0 failed",
                      result.stderr)
        self.assert_digest(self.dst, "plat/mixed", "amd", amd.digest)
        with self.assertRaises(RuntimeError, msg="an arm64 image must not be copied by --arch amd64"):
            skopeo_inspect_raw(self.dst.ref("plat/mixed", "arm"))
        with self.assertRaises(RuntimeError):
            skopeo_inspect_raw(self.dst.ref("plat/mixed", arm.digest))
        filtered = json.loads(get_manifest(self.dst, "plat/mixed", "multi")[0])
        self.assertEqual([m["digest"] for m in filtered["manifests"]], [children[0]["digest"]])

        src_before, dst_before = len(self.src.requests()), len(self.dst.requests())
        result, report = self.sync_report("--images", images, "--arch", "amd64")
        status = {i["source"].rsplit(":", 1)[1]: i for i in report["images"]}
        self.assertEqual({t: i["status"] for t, i in status.items()},
                         {"amd": "skipped", "multi": "skipped", "arm": "excluded"}, report)
        self.assertEqual(status["arm"]["reason"], excluded_reason)
        self.assertEqual(status["arm"]["attempts"], 1, "a platform mismatch is not retried")
        self.assertIn("3 images: 0 copied, 2 already in sync, 1 excluded by the platform filter, 0 failed",
                      result.stderr)
        self.assertEqual(report["totals"]["manifests_pushed"], 0)
        # The destination sees the plan's HEAD of each tag, and nothing else: no blob HEAD, no write.
        dst_new = self.dst.requests()[dst_before:]
        self.assertEqual(self.dst.count("HEAD", r"^/v2/plat/mixed/manifests/", dst_new), 3, dst_new)
        self.assertEqual([r for r in dst_new if r.method not in ("HEAD", "GET") or "/blobs/" in r.path
                          or (r.method == "GET" and r.path != "/v2/")], [], dst_new)
        # The source: the plan's HEADs; the index, read to filter it; the arm64 image and its config, read to
        # learn its platform. The matching single image is not fetched at all.
        src_new = self.src.requests()[src_before:]
        manifest_gets = sorted(r.path for r in src_new if r.method == "GET" and "/manifests/" in r.path)
        self.assertEqual(manifest_gets, sorted([f"/v2/{repo}/manifests/{multi.digest}",
                                                f"/v2/{repo}/manifests/{arm.digest}"]), src_new)
        self.assertEqual(self.src.count("GET", rf"^/v2/{repo}/blobs/", src_new), 1, src_new)

    # --- 7: failures and the failed/succeeded image files ---------------------------------------------------
    def test_failed_image_does_not_stop_others(self):
        s, d = self.src, self.dst
        oci, v2 = self.images["oci-image"], self.images["docker-v2"]
        bad_source = f"{s.host}/{oci.repo}:no-such-tag"
        mapping = {
            f"{s.host}/{oci.repo}:{oci.tag}": f"{d.host}/fail/good",
            bad_source: f"{d.host}/fail/bad",
            f"{s.host}/{v2.repo}:{v2.tag}": f"{d.host}/fail/good2",
        }
        images = self.write("failing.yaml", yaml_images(mapping))
        failed_json = os.path.join(self.tmp, "failed.json")
        success_json = os.path.join(self.tmp, "success.json")
        result, report = self.sync_report("--images", images, "--retries", "0",
                                          "--output-failed-images", failed_json,
                                          "--output-success-images", success_json,
                                          "--output-images-format", "json", expect=1)
        by_dst = {i["destination"]: i for i in report["images"]}
        self.assertEqual(by_dst[d.ref("fail/good", oci.tag)]["status"], "copied")
        self.assertEqual(by_dst[d.ref("fail/good2", v2.tag)]["status"], "copied")
        bad = by_dst[d.ref("fail/bad", "no-such-tag")]
        self.assertEqual(bad["status"], "failed")
        self.assertEqual(bad["source"], s.ref(oci.repo, "no-such-tag"))
        self.assertIn("no-such-tag", bad["error"])
        self.assertEqual(report["totals"]["failed"], 1)
        self.assertEqual(report["totals"]["copied"], 2)
        self.assertIn("no-such-tag", result.stderr, "the failure should be logged")
        self.assert_digest(d, "fail/good", oci.tag, oci.digest)
        self.assert_digest(d, "fail/good2", v2.tag, v2.digest)
        self.assertEqual(d.count("PUT", r"^/v2/fail/bad/"), 0)

        with open(failed_json) as f:
            failed = json.load(f)
        self.assertEqual(failed, {s.ref(oci.repo, "no-such-tag"): [d.ref("fail/bad", "no-such-tag")]})
        with open(success_json) as f:
            succeeded = json.load(f)
        self.assertEqual(succeeded, {s.ref(oci.repo, oci.tag): [d.ref("fail/good", oci.tag)],
                                     s.ref(v2.repo, v2.tag): [d.ref("fail/good2", v2.tag)]})

        # The failed list, fed back, fails the same way; written as YAML this time, and loadable too.
        failed_yaml = os.path.join(self.tmp, "failed-again.yaml")
        _, again = self.sync_report("--images", failed_json, "--retries", "0", "--output-failed-images",
                                    failed_yaml, expect=1, name="again.json")
        self.assertEqual([(i["source"], i["destination"], i["status"]) for i in again["images"]],
                         [(bad["source"], bad["destination"], "failed")])
        _, third = self.sync_report("--images", failed_yaml, "--retries", "0", expect=1, name="third.json")
        self.assertEqual([(i["source"], i["destination"], i["status"]) for i in third["images"]],
                         [(bad["source"], bad["destination"], "failed")])
        # The succeeded list, fed back, is in sync.
        _, good = self.sync_report("--images", success_json, name="good.json")
        self.assertEqual(sorted(i["status"] for i in good["images"]), ["skipped", "skipped"])

    # --- 8: sharding ----------------------------------------------------------------------------------------
    def test_shards_partition_the_plan(self):
        mapping = {}
        for kind, image in self.images.items():
            if kind == "artifact-subject":
                continue
            mapping[f"{self.src.host}/{image.repo}"] = [f"{self.dst.host}/shard/{image.repo}",
                                                        f"{self.dst2.host}/shard/{image.repo}"]
        mapping[f"{self.src.host}/regex/app:/^v/"] = f"{self.dst.host}/shard/regex"
        source_repos = {k.split(":/")[0] for k in mapping}
        self.assertGreaterEqual(len(source_repos), 6)
        images = self.write("shard.yaml", yaml_images(mapping))
        before = [len(r.requests()) for r in (self.dst, self.dst2)]

        _, whole = self.sync_report("--images", images, "--dry-run", name="whole.json")
        self.assertTrue(whole["dry_run"])
        all_pairs = self.pairs(whole)
        self.assertEqual(len(all_pairs), len(whole["images"]), "the unsharded plan has duplicates")
        # 9 repositories with one tag each except kinds/artifact (2), both to 2 registries; 2 regex tags.
        self.assertEqual(len(all_pairs), 2 * 10 + 2)
        self.assertTrue(all(i["status"] == "planned" for i in whole["images"]), whole["images"])

        shards = []
        for k in range(3):
            _, part = self.sync_report("--images", images, "--dry-run", "--shard", f"{k}/3", name=f"shard{k}.json")
            pairs = self.pairs(part)
            self.assertEqual(len(pairs), len(part["images"]), f"shard {k} has duplicates")
            shards.append(pairs)
        union = set().union(*shards)
        self.assertEqual(union, all_pairs, "the shards together must plan exactly the unsharded items")
        self.assertEqual(sum(len(p) for p in shards), len(all_pairs), "shards overlap")
        # Whole source repositories go to one shard.
        def repo_of(ref: str) -> str:
            return re.sub(r"(@sha256:[0-9a-f]+|:[^:/]+)$", "", ref)

        owners = {}
        for k, pairs in enumerate(shards):
            for src, _ in pairs:
                owners.setdefault(repo_of(src), set()).add(k)
        self.assertTrue(all(len(v) == 1 for v in owners.values()), f"a repository was split: {owners}")

        for reg, n in zip((self.dst, self.dst2), before):
            new = reg.requests()[n:]
            writes = [r for r in new if r.method in ("POST", "PUT", "PATCH", "DELETE")]
            self.assertEqual(writes, [], f"--dry-run wrote to {reg.host}")

    # --- 9: dry run output, JSON logs ----------------------------------------------------------------------
    def test_dry_run_prints_plan_and_writes_nothing(self):
        s, d = self.src, self.dst
        oci, lst = self.images["oci-image"], self.images["docker-list"]
        # One image already in place, one missing.
        self.sync("--images", self.write("pre.yaml", yaml_images(
            {f"{s.host}/{oci.repo}:{oci.tag}": f"{d.host}/dry/present"})))
        images = self.write("dry.yaml", yaml_images({
            f"{s.host}/{oci.repo}:{oci.tag}": f"{d.host}/dry/present",
            f"{s.host}/{lst.repo}:{lst.tag}": f"{d.host}/dry/missing",
        }))
        before = len(d.requests())
        result = self.sync("--images", images, "--dry-run")
        new = d.requests()[before:]
        self.assertEqual([r for r in new if r.method in ("POST", "PUT", "PATCH", "DELETE")], [],
                         "--dry-run must not write")
        self.assertEqual(tags_of(d, "dry/present"), [oci.tag])
        self.assertIsNone(tags_of(d, "dry/missing"), "--dry-run created a repository")
        lines = result.stdout.splitlines()
        self.assertEqual(len(lines), 2, describe(result))
        copy_re = rf"^copy {re.escape(s.ref(lst.repo, lst.tag))} -> {re.escape(d.ref('dry/missing', lst.tag))} \(.+\)$"
        skip_line = (f"skip {s.ref(oci.repo, oci.tag)} -> {d.ref('dry/present', oci.tag)} "
                     f"(in sync ({oci.digest}))")
        self.assertTrue(any(re.match(copy_re, line) for line in lines), describe(result))
        self.assertIn(skip_line, lines, describe(result))

    def test_json_log_file(self):
        s, d = self.src, self.dst
        oci = self.images["oci-image"]
        log = os.path.join(self.tmp, "sync.log")
        images = self.write("log.yaml", yaml_images({f"{s.host}/{oci.repo}:{oci.tag}": f"{d.host}/log/oci",
                                                     f"{s.host}/{oci.repo}:nope": f"{d.host}/log/nope"}))
        result = self.sync("--images", images, "--retries", "0", "--log-format", "json", "--log", log, expect=1)
        with open(log) as f:
            lines = [line for line in f.read().splitlines() if line.strip()]
        self.assertGreaterEqual(len(lines), 2, "expected a line per image and a summary")
        entries = []
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                self.fail(f"not a JSON log line: {line!r}")
            self.assertIsInstance(entry.get("level"), str, line)
            self.assertIsInstance(entry.get("msg"), str, line)
            entries.append(entry)
        self.assertTrue(any(d.ref("log/oci", oci.tag) in e["msg"] and e["level"] == "info" for e in entries),
                        lines)
        self.assertTrue(any("nope" in e["msg"] and e["level"] == "error" for e in entries), lines)
        self.assertNotIn(d.ref("log/oci", oci.tag), result.stderr, "log lines belong in --log, not stderr")
        self.assert_digest(d, "log/oci", oci.tag, oci.digest)


class SyncAuthTest(SyncBase):
    """Credentials from --auth and --config, longest path prefix first, with environment expansion."""

    @classmethod
    def setUpClass(cls):
        stack = contextlib.ExitStack()
        cls.addClassCleanup(stack.close)
        cls.src = stack.enter_context(harness.Registry(name="auth-src"))
        cls.dst = stack.enter_context(harness.Registry(name="auth-dst", auth="htpasswd"))
        cls.dollar = stack.enter_context(harness.Registry(name="auth-dollar", auth="htpasswd",
                                                          password="pa$word-1"))
        cls.image = seed.push_oci_image(seed.Client.for_registry(cls.src))

    def images_file(self, registry, repos: list[str]) -> str:
        src = f"{self.src.host}/{self.image.repo}:{self.image.tag}"
        return self.write(f"images-{registry.name}.yaml",
                          yaml_images({src: [f"{registry.host}/{r}" for r in repos]}))

    def prefix_auth(self, fmt: str) -> str:
        host = self.dst.host
        if fmt == "json":
            return self.write("auth.json", json.dumps({
                host: {"username": self.dst.user, "password": "definitely-wrong"},
                f"{host}/ns": {"username": self.dst.user, "password": "${DST_PASS}"},
            }, indent=2))
        return self.write("auth.yaml", (f"{q(host)}:\n  username: {q(self.dst.user)}\n  password: wrong-too\n"
                                        f"{q(host + '/ns')}:\n  username: $DST_USER\n  password: ${{DST_PASS}}\n"))

    def check_prefix_rule(self, fmt: str) -> None:
        env = {"DST_PASS": self.dst.password, "DST_USER": self.dst.user}
        auth = self.prefix_auth(fmt)
        repo = f"ns/app-{fmt}"
        _, report = self.sync_report("--auth", auth, "--images", self.images_file(self.dst, [repo]), env=env)
        self.assertEqual([i["status"] for i in report["images"]], ["copied"], report)
        self.assert_digest(self.dst, repo, self.image.tag, self.image.digest, creds=self.dst.creds)
        self.assert_complete(self.dst, repo, self.image.digest)
        # Outside ns/ the bare host's (wrong) credentials apply.
        other = f"other/app-{fmt}"
        result, report = self.sync_report("--auth", auth, "--images", self.images_file(self.dst, [other]),
                                          "--retries", "0", env=env, expect=1)
        self.assertEqual([i["status"] for i in report["images"]], ["failed"], report)
        self.assertNotIn(self.dst.password, result.stderr + result.stdout, "a password was printed")
        self.assertEqual(self.dst.count("PUT", rf"^/v2/{other}/manifests/"), 0)

    def test_longest_prefix_wins_json(self):
        self.check_prefix_rule("json")

    def test_longest_prefix_wins_yaml(self):
        self.check_prefix_rule("yaml")

    def test_literal_dollar_in_password(self):
        reg = self.dollar
        auth = self.write("dollar.yaml", f"{q(reg.host)}:\n  username: {reg.user}\n  password: \"pa$$word-1\"\n")
        _, report = self.sync_report("--auth", auth, "--images", self.images_file(reg, ["dollar/yaml"]))
        self.assertEqual([i["status"] for i in report["images"]], ["copied"], report)
        auth = self.write("dollar.json", json.dumps({reg.host: {"username": reg.user, "password": "pa$$word-1"}}))
        _, report = self.sync_report("--auth", auth, "--images", self.images_file(reg, ["dollar/json"]))
        self.assertEqual([i["status"] for i in report["images"]], ["copied"], report)
        for repo in ("dollar/yaml", "dollar/json"):
            self.assert_digest(reg, repo, self.image.tag, self.image.digest, creds=reg.creds)

    def test_combined_config_json(self):
        host = self.dst.host
        config = self.write("config.json", json.dumps({
            "auth": {host: {"username": "${CFG_USER}", "password": "${CFG_PASS}"}},
            "images": {f"{self.src.host}/{self.image.repo}:{self.image.tag}": [f"{host}/config/app",
                                                                               f"{host}/config/app2:renamed"]},
        }, indent=2))
        env = {"CFG_USER": self.dst.user, "CFG_PASS": self.dst.password}
        _, report = self.sync_report("--config", config, env=env)
        self.assertEqual(self.pairs(report), {
            (self.src.ref(self.image.repo, self.image.tag), self.dst.ref("config/app", self.image.tag)),
            (self.src.ref(self.image.repo, self.image.tag), self.dst.ref("config/app2", "renamed"))})
        self.assertEqual([i["status"] for i in report["images"]], ["copied", "copied"], report)
        self.assert_digest(self.dst, "config/app", self.image.tag, self.image.digest, creds=self.dst.creds)
        self.assert_digest(self.dst, "config/app2", "renamed", self.image.digest, creds=self.dst.creds)
        # The same config again is a no-op.
        _, report = self.sync_report("--config", config, env=env)
        self.assertEqual([i["status"] for i in report["images"]], ["skipped", "skipped"], report)


if __name__ == "__main__":
    unittest.main()
