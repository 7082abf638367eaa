"""`syncer verify` against docker-registry processes on loopback: HEAD-only drift (a tag moved at the
source, one missing at the destination, an extra one) and, with --deep, layers damaged on the destination's
disk and layers whose uncompressed content does not match the config's diff_id, gzip and zstd.

Images are pushed to both registries with seed.Client (never syncer), so the destination is known to hold
exactly the source's bytes before a test alters something.
"""

import gzip
import json
import os
import shutil
import subprocess
import unittest

import harness
import seed
from harness import describe, run_syncer, sha256


def compress(data: bytes, how: str) -> bytes:
    if how == "gzip":
        return gzip.compress(data, mtime=0)
    if how == "zstd":
        return subprocess.run(["zstd", "-q", "-c", "-3"], input=data, stdout=subprocess.PIPE, check=True).stdout
    return data


MEDIA = {"gzip": seed.OCI_LAYER, "zstd": seed.OCI_LAYER_ZSTD, "none": "application/vnd.oci.image.layer.v1.tar"}


def push_real_image(clients, repo: str, tag: str, name: str, how: str = "gzip", lie: bool = False) -> dict:
    """An OCI image of two compressed layers with true diff_ids (or, with `lie`, a wrong one for layer 1)."""
    contents = [seed.det_bytes(f"{name}/base", 3000), seed.det_bytes(f"{name}/top", 5000)]
    blobs = [compress(c, how) for c in contents]
    diff_ids = [sha256(c) for c in contents]
    if lie:
        diff_ids[1] = sha256(b"something else entirely")
    config = seed.canonical({"architecture": "amd64", "os": "linux",
                             "rootfs": {"type": "layers", "diff_ids": diff_ids}})
    manifest = seed.canonical({
        "schemaVersion": 2, "mediaType": seed.OCI_MANIFEST,
        "config": {"mediaType": seed.OCI_CONFIG, "digest": sha256(config), "size": len(config)},
        "layers": [{"mediaType": MEDIA[how], "digest": sha256(b), "size": len(b)} for b in blobs]})
    for client in clients:
        client.push_blob(repo, config)
        for b in blobs:
            client.push_blob(repo, b)
        client.push_manifest(repo, tag, manifest, seed.OCI_MANIFEST)
    return {"digest": sha256(manifest), "layers": [sha256(b) for b in blobs], "uncompressed": diff_ids,
            "true_top": sha256(contents[1])}


def blob_file(registry: harness.Registry, digest: str) -> str:
    hexpart = digest.split(":", 1)[1]
    return os.path.join(registry.storage_dir, "docker", "registry", "v2", "blobs", "sha256", hexpart[:2],
                        hexpart, "data")


class VerifyTest(harness.TempDirTestCase):
    def setUp(self):
        super().setUp()
        if shutil.which("zstd") is None:
            self.skipTest("the zstd command is not installed (scripts/install-deps installs it)")
        self.src = harness.Registry(name="src").__enter__()
        self.addCleanup(self.src.__exit__)
        self.dst = harness.Registry(name="dst").__enter__()
        self.addCleanup(self.dst.__exit__)
        self.src_client = seed.Client.for_registry(self.src)
        self.dst_client = seed.Client.for_registry(self.dst)

    def verify(self, mapping: dict, *args: str, expect: int):
        images = self.write("images.yaml", "".join(
            f"{json.dumps(self.src.host + '/' + s)}: {json.dumps(self.dst.host + '/' + d)}\n"
            for s, d in mapping.items()))
        report_path = os.path.join(self.tmp, "report.json")
        result = run_syncer("verify", "--images", images, "--report", report_path, *args)
        self.assertEqual(result.returncode, expect, describe(result))
        with open(report_path) as f:
            report = json.load(f)
        by_dest = {img["destination"].split("/", 1)[1]: img for img in report["images"]}
        return result, report, by_dest

    def test_head_only_finds_moved_missing_and_extra_tags(self):
        both = [self.src_client, self.dst_client]
        push_real_image(both, "app", "1.0", "one")
        push_real_image(both, "app", "3.0", "three")
        push_real_image([self.src_client], "app", "2.0", "two")  # deleted (never present) at the destination
        moved = push_real_image([self.src_client], "app", "3.0", "three-rebuilt")  # the tag moved at the source
        push_real_image([self.dst_client], "app", "0.9", "retired")  # the source no longer has it

        result, report, by_dest = self.verify({"app": "app"}, expect=1)
        self.assertEqual(by_dest["app:1.0"]["status"], "in sync")
        self.assertEqual(by_dest["app:2.0"]["status"], "missing")
        self.assertEqual(by_dest["app:3.0"]["status"], "different")
        self.assertEqual(by_dest["app:3.0"]["source_digest"], moved["digest"])
        self.assertEqual(by_dest["app:0.9"]["status"], "extra")
        self.assertEqual(report["mode"], "head")
        self.assertEqual(report["totals"]["in_sync"], 1)
        self.assertIn("missing ", result.stderr)
        self.assertIn("1 in sync, 1 missing, 1 different, 1 extra", result.stderr)
        # HEAD-only: no manifest or blob body was fetched from either registry.
        for reg in (self.src, self.dst):
            self.assertEqual(reg.count("GET", r"/v2/.+/(manifests|blobs)/"), 0, reg.name)

        # A rule naming its tags is in sync when those are, whatever else the repository holds.
        _, report, _ = self.verify({"app:1.0": "app:1.0"}, expect=0)
        self.assertEqual(report["totals"]["in_sync"], 1)

    def test_usage_errors_exit_2(self):
        result = run_syncer("verify")
        self.assertEqual(result.returncode, 2, describe(result))
        self.assertIn("--images", result.stderr)

    def test_deep_finds_damaged_stored_bytes_and_diff_id_mismatches(self):
        both = [self.src_client, self.dst_client]
        good = push_real_image(both, "app", "good", "good")
        damaged = push_real_image(both, "app", "damaged", "damaged")
        gz_lie = push_real_image(both, "app", "gz-lie", "gz", lie=True)
        zstd_lie = push_real_image(both, "app", "zstd-lie", "zs", how="zstd", lie=True)
        zstd_good = push_real_image(both, "app", "zstd-good", "zsgood", how="zstd")

        # HEAD-only sees nothing wrong: the digests agree.
        self.verify({"app": "app"}, expect=0)

        # Disk corruption on the destination: flip bytes of a stored layer in place.
        path = blob_file(self.dst, damaged["layers"][1])
        with open(path, "r+b") as f:
            f.seek(10)
            byte = f.read(1)
            f.seek(10)
            f.write(bytes([byte[0] ^ 0xFF]))

        result, report, by_dest = self.verify({"app": "app"}, "--deep", "--proc", "2", "--jobs", "2", expect=1)
        self.assertEqual(report["mode"], "deep")
        self.assertEqual(by_dest["app:good"]["status"], "in sync")
        self.assertEqual(by_dest["app:zstd-good"]["status"], "in sync")
        self.assertGreater(by_dest["app:good"]["blobs_checked"], 0)
        dest = self.dst.host + "/app"

        bad = by_dest["app:damaged"]
        self.assertEqual(bad["status"], "damaged")
        self.assertEqual(len(bad["problems"]), 1)
        self.assertTrue(bad["problems"][0].startswith(
            f"layer 1 {damaged['layers'][1]} of {dest}:damaged: stored bytes hash to sha256:"), bad)

        for tag, image in (("gz-lie", gz_lie), ("zstd-lie", zstd_lie)):
            entry = by_dest[f"app:{tag}"]
            self.assertEqual(entry["status"], "damaged", entry)
            self.assertEqual(entry["problems"], [
                f"layer 1 {image['layers'][1]} of {dest}:{tag}: uncompressed content hashes to "
                f"{image['true_top']}, config diff_id says {image['uncompressed'][1]}"])
            self.assertIn(entry["problems"][0], result.stderr)
        self.assertEqual(report["totals"]["damaged"], 3)
        self.assertIn("3 damaged", result.stderr)
        self.assertEqual(good["digest"], by_dest["app:good"]["destination_digest"])
        self.assertEqual(zstd_good["digest"], by_dest["app:zstd-good"]["destination_digest"])


if __name__ == "__main__":
    unittest.main()
