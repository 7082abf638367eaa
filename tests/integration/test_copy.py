"""`syncer copy` between plain-HTTP docker-registry processes on loopback, checked with skopeo and raw HTTP."""

import json
import re
import unittest

import harness
import seed
from harness import describe, run_syncer, sha256, skopeo_inspect_raw, verify_tree

LARGE_MIB = 256
# Peak memory allowed for copying the large layer: far below its size, so a buffered layer cannot pass.
LARGE_MAX_RSS_MIB = 160


class CopyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.src, cls.dst = harness.class_registries(cls, "src", "dst")
        cls.images = seed.push_kinds(seed.Client.for_registry(cls.src))

    def copy(self, src_ref: str, dst_ref: str, *flags: str, expect: int = 0):
        result = run_syncer("copy", *flags, src_ref, dst_ref)
        self.assertEqual(result.returncode, expect, describe(result))
        return result

    def assert_same_manifest(self, src_ref: str, dst_ref: str, expected_digest: str) -> None:
        self.assertEqual(sha256(skopeo_inspect_raw(src_ref)), expected_digest, "source changed under the test")
        self.assertEqual(sha256(skopeo_inspect_raw(dst_ref)), expected_digest,
                         f"{dst_ref} does not hold the same manifest bytes as {src_ref}")

    def assert_complete(self, registry, repo: str, digest: str) -> None:
        self.assertEqual(verify_tree(registry, repo, digest), [], f"{registry.host}/{repo}@{digest} incomplete")

    def test_every_kind_by_tag(self):
        for kind, image in self.images.items():
            with self.subTest(kind=kind):
                dst_repo = f"bytag/{image.repo}"
                src_ref = self.src.ref(image.repo, image.tag)
                dst_ref = self.dst.ref(dst_repo, image.tag)
                self.copy(src_ref, dst_ref)
                self.assert_same_manifest(src_ref, dst_ref, image.digest)
                self.assert_complete(self.dst, dst_repo, image.digest)

    def test_docker_transport_prefix(self):
        image = self.images["docker-v2"]
        dst_repo = "prefixed/docker-v2"
        self.copy("docker://" + self.src.ref(image.repo, image.tag), "docker://" + self.dst.ref(dst_repo, "v1"))
        self.assert_same_manifest(self.src.ref(image.repo, image.tag), self.dst.ref(dst_repo, "v1"), image.digest)

    def test_by_digest_to_tag(self):
        image = self.images["oci-index"]
        dst_repo = "digest-to-tag/oci-index"
        self.copy(self.src.ref(image.repo, image.digest), self.dst.ref(dst_repo, "copied"))
        self.assert_same_manifest(self.src.ref(image.repo, image.tag), self.dst.ref(dst_repo, "copied"),
                                  image.digest)
        self.assert_complete(self.dst, dst_repo, image.digest)

    def test_by_digest_to_digest(self):
        image = self.images["docker-list"]
        dst_repo = "digest-to-digest/docker-list"
        self.copy(self.src.ref(image.repo, image.digest), self.dst.ref(dst_repo, image.digest))
        self.assert_same_manifest(self.src.ref(image.repo, image.digest), self.dst.ref(dst_repo, image.digest),
                                  image.digest)
        self.assert_complete(self.dst, dst_repo, image.digest)

    def test_platform_filter_keeps_one_entry(self):
        image = self.images["oci-index"]
        source_index = json.loads(skopeo_inspect_raw(self.src.ref(image.repo, image.tag)))
        arm64 = [m for m in source_index["manifests"] if m.get("platform", {}).get("architecture") == "arm64"]
        self.assertEqual(len(arm64), 1, "seeded index should have exactly one arm64 entry")
        dst_repo = "platform/oci-index"
        dst_ref = self.dst.ref(dst_repo, "arm64")
        self.copy(self.src.ref(image.repo, image.tag), dst_ref, "--platform", "linux/arm64")

        raw = skopeo_inspect_raw(dst_ref)
        filtered = json.loads(raw)
        self.assertNotEqual(sha256(raw), image.digest, "a filtered index must not keep the source digest")
        self.assertEqual(len(filtered["manifests"]), 1, f"expected only the arm64 entry, got {filtered}")
        entry = filtered["manifests"][0]
        self.assertEqual(entry["digest"], arm64[0]["digest"], "the child manifest must be copied unchanged")
        self.assertEqual(entry["platform"]["os"], "linux")
        self.assertEqual(entry["platform"]["architecture"], "arm64")
        self.assertEqual(filtered.get("mediaType"), source_index["mediaType"])
        self.assert_complete(self.dst, dst_repo, sha256(raw))
        # Entries that were filtered out are not copied.
        for other in source_index["manifests"]:
            if other["digest"] != entry["digest"]:
                with self.assertRaises(RuntimeError, msg=f"{other['digest']} should not be at the destination"):
                    skopeo_inspect_raw(self.dst.ref(dst_repo, other["digest"]))

    # issue 10: `copy --platform linux/arm64` of a linux/amd64 image copied it, after printing that --platform
    # "rewrites the index".
    def test_platform_filter_refuses_a_single_image_of_another_platform(self):
        image = self.images["oci-image"]
        dst_repo = "platform/mismatch"
        src_ref = self.src.ref(image.repo, image.tag)
        result = self.copy(src_ref, self.dst.ref(dst_repo, "v1"), "--platform", "linux/arm64", expect=1)
        self.assertIn(f"{src_ref} is a single-platform image for linux/amd64, which the platform filter "
                      "(linux/arm64) does not match; nothing to copy", result.stderr)
        self.assertNotIn("rewrite", result.stderr)
        self.assertEqual(self.dst.count("PUT", rf"^/v2/{dst_repo}/"), 0)
        self.assertEqual(self.dst.count("POST", rf"^/v2/{dst_repo}/"), 0)

    # issue 10: a no-op rerun with a platform filter re-read and re-pushed a single-platform image.
    def test_platform_filter_rerun_of_a_matching_image_is_two_heads(self):
        image = self.images["oci-image"]
        dst_repo = "platform/rerun"
        src_ref, dst_ref = self.src.ref(image.repo, image.tag), self.dst.ref(dst_repo, "v1")
        result = self.copy(src_ref, dst_ref, "--platform", "linux/amd64")
        self.assertNotIn("rewrote", result.stderr, "a single image is copied as it is")
        self.assert_same_manifest(src_ref, dst_ref, image.digest)
        src_before, dst_before = len(self.src.requests()), len(self.dst.requests())
        result = self.copy(src_ref, dst_ref, "--platform", "linux/amd64", "--no-referrers")
        self.assertIn("already up to date", result.stderr)
        src_new, dst_new = self.src.requests()[src_before:], self.dst.requests()[dst_before:]
        self.assertEqual([(r.method, r.path) for r in src_new if r.path != "/v2/"],
                         [("HEAD", f"/v2/{image.repo}/manifests/{image.tag}")])
        self.assertEqual([(r.method, r.path) for r in dst_new if r.path != "/v2/"],
                         [("HEAD", f"/v2/{dst_repo}/manifests/v1")])
        # Carrying referrers (the default) adds, for an image that has none on a registry without the
        # referrers API, the tag list (for cosign's tags) and one referrers API request: no manifest GET, and
        # nothing more at the destination.
        src_before, dst_before = len(self.src.requests()), len(self.dst.requests())
        result = self.copy(src_ref, dst_ref, "--platform", "linux/amd64")
        self.assertIn("already up to date", result.stderr)
        src_new, dst_new = self.src.requests()[src_before:], self.dst.requests()[dst_before:]
        self.assertEqual([(r.method, r.path.split("?")[0]) for r in src_new if r.path != "/v2/"],
                         [("HEAD", f"/v2/{image.repo}/manifests/{image.tag}"),
                          ("GET", f"/v2/{image.repo}/tags/list"),
                          ("GET", f"/v2/{image.repo}/referrers/{image.digest}")])
        self.assertEqual([(r.method, r.path) for r in dst_new if r.path != "/v2/"],
                         [("HEAD", f"/v2/{dst_repo}/manifests/v1")])

    # issue 10: [index (amd64, arm64/v8), s390x] filtered to linux/arm64 failed with "no entry ... matches ...
    # available: linux/s390x".
    def test_platform_filter_descends_into_a_nested_index(self):
        image = self.images["nested-index"]
        outer = json.loads(skopeo_inspect_raw(self.src.ref(image.repo, image.tag)))
        inner_desc = outer["manifests"][0]
        inner = json.loads(skopeo_inspect_raw(self.src.ref(image.repo, inner_desc["digest"])))
        arm64 = [m for m in inner["manifests"] if m["platform"]["architecture"] == "arm64"]
        self.assertEqual(len(arm64), 1)
        dst_repo = "platform/nested"
        dst_ref = self.dst.ref(dst_repo, "arm64")
        result = self.copy(self.src.ref(image.repo, image.tag), dst_ref, "--platform", "linux/arm64")
        self.assertIn("--platform rewrote the index", result.stderr)

        raw = skopeo_inspect_raw(dst_ref)
        top = json.loads(raw)
        self.assertEqual(len(top["manifests"]), 1, top)
        entry = top["manifests"][0]
        self.assertEqual(entry["mediaType"], inner_desc["mediaType"])
        self.assertNotEqual(entry["digest"], inner_desc["digest"], "the nested index is filtered too")
        nested_raw = skopeo_inspect_raw(self.dst.ref(dst_repo, entry["digest"]))
        self.assertEqual(sha256(nested_raw), entry["digest"])
        self.assertEqual(len(nested_raw), entry["size"])
        self.assertEqual(json.loads(nested_raw)["manifests"], arm64, "the kept entry is copied verbatim")
        self.assert_complete(self.dst, dst_repo, sha256(raw))
        for gone in (inner_desc["digest"], outer["manifests"][1]["digest"]):
            with self.assertRaises(RuntimeError, msg=f"{gone} should not be at the destination"):
                skopeo_inspect_raw(self.dst.ref(dst_repo, gone))

        # Nothing in the tree matches: one clear failure naming every platform there is, no retries.
        result = self.copy(self.src.ref(image.repo, image.tag), self.dst.ref("platform/none", "x"),
                           "--platform", "linux/ppc64le", expect=1)
        self.assertIn("matches platform(s) linux/ppc64le; available: linux/amd64, linux/arm64/v8, linux/s390x",
                      result.stderr)
        self.assertEqual(self.dst.count("PUT", r"^/v2/platform/none/"), 0)

    def test_second_copy_uploads_no_blob(self):
        image = self.images["oci-index"]
        dst_repo = "again/oci-index"
        uploads = rf"^/v2/{re.escape(dst_repo)}/blobs/uploads/"
        self.copy(self.src.ref(image.repo, image.tag), self.dst.ref(dst_repo, "v1"))
        before = self.dst.requests()
        self.assertGreater(self.dst.count("POST", uploads, before), 0, "the first copy should have uploaded blobs")
        self.copy(self.src.ref(image.repo, image.tag), self.dst.ref(dst_repo, "v1"))
        after = self.dst.requests()
        for method in ("POST", "PATCH", "PUT"):
            self.assertEqual(self.dst.count(method, uploads, after), self.dst.count(method, uploads, before),
                             f"the second copy sent {method} to blob uploads although every blob was present")
        self.assert_same_manifest(self.src.ref(image.repo, image.tag), self.dst.ref(dst_repo, "v1"), image.digest)

    def test_single_post_refused_by_docker_registry_costs_no_request(self):
        # docker-registry 2.8 ignores a POST ?digest= body and opens a session (202): the one probing body is
        # sent again into that session, and every other blob opens a session at once (issue 14).
        image = self.images["oci-index"]
        dst_repo = "single-post/oci-index"
        uploads = rf"^/v2/{re.escape(dst_repo)}/blobs/uploads/"
        self.copy(self.src.ref(image.repo, image.tag), self.dst.ref(dst_repo, "v1"))
        requests = self.dst.requests()
        posts = [r for r in requests if r.method == "POST" and re.search(uploads, r.path)]
        probes = [r for r in posts if "digest=" in r.path]
        self.assertEqual(len(probes), 1, f"expected one single-POST probe: {posts}")
        self.assertEqual(probes[0].status, 202)
        self.assertTrue(all(r.status == 202 for r in posts), posts)
        committed = [r for r in requests if r.method == "PUT" and re.search(uploads, r.path) and r.status == 201]
        self.assertEqual(len(committed), len(posts), "every POST should open the session one PUT commits")
        self.assert_same_manifest(self.src.ref(image.repo, image.tag), self.dst.ref(dst_repo, "v1"), image.digest)
        self.assert_complete(self.dst, dst_repo, image.digest)

    def test_copy_within_registry_mounts_blobs(self):
        image = self.images["family-alpha"]
        dst_repo = "mounted/alpha"
        self.copy(self.src.ref(image.repo, image.tag), self.src.ref(dst_repo, image.tag))
        requests = self.src.requests()
        uploads = rf"^/v2/{re.escape(dst_repo)}/blobs/uploads/"
        mounts = [r for r in requests if r.method == "POST" and re.search(uploads, r.path) and "mount=" in r.path]
        self.assertTrue(mounts, f"no cross-repository mount was attempted: {requests[-20:]}")
        self.assertTrue(all(r.status == 201 for r in mounts), f"mounts did not succeed: {mounts}")
        manifest = json.loads(skopeo_inspect_raw(self.src.ref(image.repo, image.tag)))
        self.assertEqual(len(mounts), len(harness.referenced_blobs(manifest)),
                         "every blob of the image should be mounted once")
        for method in ("PATCH", "PUT"):
            self.assertEqual(self.src.count(method, uploads, requests), 0,
                             f"blob data was sent with {method} although mounting was possible")
        self.assert_same_manifest(self.src.ref(image.repo, image.tag), self.src.ref(dst_repo, image.tag),
                                  image.digest)
        self.assert_complete(self.src, dst_repo, image.digest)

    def test_large_layer(self):
        image = seed.push_large_image(seed.Client.for_registry(self.src), LARGE_MIB)
        dst_repo = "large/copied"
        result = self.copy(self.src.ref(image.repo, image.tag), self.dst.ref(dst_repo, image.tag),
                           "--retry-times", "2", "--jobs", "2")
        self.assert_same_manifest(self.src.ref(image.repo, image.tag), self.dst.ref(dst_repo, image.tag),
                                  image.digest)
        manifest = json.loads(skopeo_inspect_raw(self.dst.ref(dst_repo, image.tag)))
        self.assertEqual(manifest["layers"][0]["size"], LARGE_MIB << 20)
        self.assert_complete(self.dst, dst_repo, image.digest)
        self.assertLess(result.max_rss_kib, LARGE_MAX_RSS_MIB << 10,
                        f"syncer peaked at {result.max_rss_kib >> 10} MiB copying a {LARGE_MIB} MiB layer: "
                        "is it buffering blobs in memory?")

    def test_quiet_copy(self):
        image = self.images["oci-image"]
        result = self.copy(self.src.ref(image.repo, image.tag), self.dst.ref("quiet/oci-image", "v1"), "--quiet")
        self.assertEqual(result.stdout, "", "--quiet should print nothing on success")

    def test_inspect_digest_tags(self):
        image = self.images["docker-list"]
        ref = self.src.ref(image.repo, image.tag)
        result = run_syncer("inspect", "--raw", ref)
        self.assertEqual(result.returncode, 0, describe(result))
        self.assertEqual(result.stdout.encode(), skopeo_inspect_raw(ref),
                         "inspect --raw must print the exact manifest bytes")
        result = run_syncer("digest", ref)
        self.assertEqual(result.returncode, 0, describe(result))
        self.assertEqual(result.stdout.strip(), image.digest)
        artifact = self.images["artifact"]
        result = run_syncer("tags", f"{self.src.host}/{artifact.repo}")
        self.assertEqual(result.returncode, 0, describe(result))
        expected = sorted([artifact.tag, self.images["artifact-subject"].tag])
        self.assertEqual(sorted(result.stdout.split()), expected)
        result = run_syncer("catalog", self.src.host)
        self.assertEqual(result.returncode, 0, describe(result))
        listed = result.stdout.split()
        self.assertEqual(listed, sorted(listed), "the registry's catalog order is kept")
        self.assertLessEqual({image.repo for image in self.images.values()}, set(listed))
        result = run_syncer("catalog", "not a host/x")
        self.assertEqual(result.returncode, 2, describe(result))

    def test_invalid_reference_is_usage_error(self):
        image = self.images["oci-image"]
        good_dst = self.dst.ref("never/written", "v1")
        cases = {
            "Foo/Bar": "Foo/Bar",
            f"{self.src.host}/Foo/Bar:v1": "Foo/Bar",
            f"{self.src.host}/{image.repo}@sha256:1234": "sha256:1234",
        }
        for bad, named in cases.items():
            with self.subTest(reference=bad):
                result = self.copy(bad, good_dst, expect=2)
                self.assertIn(named, result.stderr, "the message should name the invalid part")
        with self.subTest(reference="missing destination"):
            result = run_syncer("copy", self.src.ref(image.repo, image.tag))
            self.assertEqual(result.returncode, 2, describe(result))
        self.assertEqual(self.dst.count("PUT", r"^/v2/never/written/"), 0)

    def test_missing_source_tag_fails(self):
        repo = self.images["oci-image"].repo
        result = self.copy(self.src.ref(repo, "no-such-tag"), self.dst.ref("missing/tag", "v1"), expect=1)
        self.assertIn(repo, result.stderr, "the message should name the repository")
        self.assertIn("no-such-tag", result.stderr, "the message should name the tag")


if __name__ == "__main__":
    unittest.main()
