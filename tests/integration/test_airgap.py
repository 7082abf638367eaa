"""Air-gapped transports (issue 16): `syncer copy` with oci: and oci-archive:, `syncer export` and `syncer
import` of bundles, against real docker-registry processes, cross-checked with skopeo."""

import fcntl
import gzip
import io
import json
import os
import shutil
import signal
import subprocess
import tarfile
import unittest

import artifacts
import harness
import seed
from fake_registry import FakeRegistry
from harness import describe, get_manifest, run_syncer, sha256, skopeo_inspect_raw, tag_digests, incomplete_tags

def read_json(path: str):
    with open(path) as f:
        return json.load(f)


def read_bytes_raw(test, image) -> bytes:
    """The source's manifest bytes of `image`."""
    return skopeo_inspect_raw(test.src.ref(image.repo, image.tag))


def read_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


KINDS = ("docker-v2", "docker-list", "oci-image", "oci-index", "nested-index")


class AirgapTest(harness.TempDirTestCase):
    @classmethod
    def setUpClass(cls):
        cls.src, cls.dst = harness.class_registries(cls, "src", "dst")
        client = seed.Client.for_registry(cls.src)
        cls.images = seed.push_kinds(client)
        cls.large = seed.push_large_image(client, 96, repo="large/image", tag="v1")

    def syncer(self, *args: str, expect: int = 0):
        result = run_syncer(*args)
        self.assertEqual(result.returncode, expect, describe(result))
        return result

    def images_file(self) -> str:
        lines = [f'"{self.src.host}/{self.images[k].repo}:{self.images[k].tag}": ignored.invalid/x' for k in KINDS]
        return self.write("images.yaml", "\n".join(lines) + "\n")

    def test_copy_through_a_layout_keeps_digests(self):
        layout = os.path.join(self.tmp, "layout")
        for kind in KINDS:
            with self.subTest(kind=kind):
                image = self.images[kind]
                self.syncer("copy", self.src.ref(image.repo, image.tag), f"oci:{layout}:{image.repo}:{image.tag}")
                # skopeo reads the bundle entry by the documented reference (skopeo 1.9.3's oci: transport
                # sees only entries with OCI media types, so the docker kinds are read back by syncer alone).
                r = subprocess.run(["skopeo", "inspect", "--raw", f"oci:{layout}:{image.repo}:{image.tag}"],
                                   capture_output=True, timeout=120)
                if kind.startswith("docker"):
                    self.assertIn("no descriptor found", r.stderr.decode(errors="replace"))
                else:
                    self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
                    self.assertEqual(sha256(r.stdout), image.digest)
                dst_repo = f"via-layout/{image.repo}"
                self.syncer("copy", f"oci:{layout}:{image.repo}:{image.tag}", self.dst.ref(dst_repo, image.tag))
                self.assertEqual(sha256(skopeo_inspect_raw(self.dst.ref(dst_repo, image.tag))), image.digest)
                self.assertEqual(incomplete_tags(self.dst, [dst_repo]), [])

    def test_copy_to_a_layout_without_a_name_keeps_the_source_name(self):
        layout = os.path.join(self.tmp, "named")
        image = self.images["oci-image"]
        self.syncer("copy", self.src.ref(image.repo, image.tag), f"oci:{layout}")
        index = read_json(os.path.join(layout, "index.json"))
        names = [m["annotations"]["org.opencontainers.image.ref.name"] for m in index["manifests"]]
        self.assertEqual(names, [f"{image.repo}:{image.tag}"])

    def test_syncer_reads_what_skopeo_writes(self):
        layout = os.path.join(self.tmp, "skopeo")
        image = self.images["oci-index"]
        r = subprocess.run(["skopeo", "copy", "--all", "--src-tls-verify=false", "--src-no-creds",
                            f"docker://{self.src.ref(image.repo, image.tag)}", f"oci:{layout}:mytag"],
                           capture_output=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        # What skopeo wrote (it may re-encode the manifest), tagged `mytag` with no repository annotation.
        written = read_json(os.path.join(layout, "index.json"))["manifests"][0]["digest"]
        self.syncer("copy", f"oci:{layout}:mytag", self.dst.ref("from-skopeo/x", "v1"))
        self.assertEqual(sha256(skopeo_inspect_raw(self.dst.ref("from-skopeo/x", "v1"))), written)
        self.assertEqual(incomplete_tags(self.dst, ["from-skopeo/x"]), [])

    def test_export_import_round_trip_every_archive_kind(self):
        # One image whose layer is gzip'd, as real layers are: the writer compresses it at another level.
        seed.push_image(seed.Client.for_registry(self.src), "gz/app", "gz", tag="v1",
                             layers=[gzip.compress(seed.det_bytes("gz/layer", 300000), mtime=0)],
                             layer_media_types=["application/vnd.oci.image.layer.v1.tar+gzip"])
        images = self.images_file()
        with open(images, "a") as f:
            f.write(f'"{self.src.host}/gz/app:v1": ignored.invalid/x\n')
        for name in ("bundle.tar", "bundle.tar.gz", "bundle.tar.zst"):
            with self.subTest(archive=name):
                bundle = os.path.join(self.tmp, name)
                self.syncer("export", "--images", images, "--to", f"oci-archive:{bundle}")
                self.assertTrue(os.path.isfile(bundle))
                prefix = f"{self.dst.host}/import-{name.replace('.', '-')}"
                # --dry-run plans and writes nothing.
                self.syncer("import", f"oci-archive:{bundle}", "--to", prefix, "--dry-run")
                first = self.images[KINDS[0]]
                self.assertEqual(tag_digests(self.dst, f"import-{name.replace('.', '-')}/{first.repo}"), {})
                self.syncer("import", f"oci-archive:{bundle}", "--to", prefix)
                repos = []
                for kind in KINDS:
                    image = self.images[kind]
                    repo = f"import-{name.replace('.', '-')}/{image.repo}"
                    repos.append(repo)
                    self.assertEqual(tag_digests(self.dst, repo).get(image.tag), image.digest, kind)
                self.assertEqual(incomplete_tags(self.dst, repos), [])
        # skopeo copies one image out of each archive syncer wrote (compressed layers are written at another
        # level than the rest: in zstd, frames of their own; in gzip, stored blocks), and GNU tar lists them.
        image = self.images["oci-image"]
        for name in ("bundle.tar", "bundle.tar.gz", "bundle.tar.zst"):
            with self.subTest(skopeo_reads=name):
                for repo, tag in ((image.repo, image.tag), ("gz/app", "v1")):
                    out = os.path.join(self.tmp, f"skopeo-out-{name}-{repo.replace('/', '-')}")
                    r = subprocess.run(["skopeo", "copy", f"oci-archive:{os.path.join(self.tmp, name)}:{repo}:{tag}",
                                        f"oci:{out}:x"], capture_output=True, timeout=300)
                    self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
                r = subprocess.run(["tar", "-taf", os.path.join(self.tmp, name)], capture_output=True, timeout=300)
                self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
                self.assertIn(b"index.json", r.stdout)

    def test_export_to_a_layout_stores_shared_blobs_once(self):
        layout = os.path.join(self.tmp, "dir")
        self.syncer("export", "--images", self.images_file(), "--to", f"oci:{layout}")
        index = read_json(os.path.join(layout, "index.json"))
        refs = sorted(m["annotations"]["org.opencontainers.image.ref.name"] for m in index["manifests"])
        self.assertEqual(refs, sorted(f"{self.images[k].repo}:{self.images[k].tag}" for k in KINDS))
        # A rerun finds everything there and changes nothing.
        before = read_bytes(os.path.join(layout, "index.json"))
        self.syncer("export", "--images", self.images_file(), "--to", f"oci:{layout}")
        self.assertEqual(read_bytes(os.path.join(layout, "index.json")), before)

    def test_a_bad_archive_is_refused_with_nothing_written(self):
        bundle = os.path.join(self.tmp, "evil.tar")
        with tarfile.open(bundle, "w") as tar:
            data = b'{"imageLayoutVersion":"1.0.0"}'
            info = tarfile.TarInfo("../oci-layout")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        r = self.syncer("import", f"oci-archive:{bundle}", "--to", f"{self.dst.host}/evil", expect=2)
        self.assertIn("..", r.stderr)
        self.assertIn("evil.tar", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "oci-layout")))
        self.assertEqual(self.dst.count("PUT", r"/v2/evil/"), 0)

    def test_kill_9_during_an_export_then_a_rerun(self):
        layout = os.path.join(self.tmp, "killed")
        images = self.write("large.yaml", f'"{self.src.host}/{self.large.repo}:{self.large.tag}": x.invalid/y\n')
        proc = harness.SyncerProcess("export", "--images", images, "--to", f"oci:{layout}", "--jobs", "1")
        # Killed once the layer is on its way into the layout's temp directory.
        tmp = os.path.join(layout, ".syncer-tmp")
        wait_while_running(proc, lambda: os.path.isdir(tmp) and any(
            os.path.getsize(os.path.join(tmp, n)) > 0 for n in os.listdir(tmp)))
        proc.send(signal.SIGKILL)
        proc.wait()
        # Whatever the moment, the layout names no incomplete image: no index.json yet, or an empty one.
        index_path = os.path.join(layout, "index.json")
        if os.path.exists(index_path):
            self.assertEqual([m for m in read_json(index_path)["manifests"]
                              if m.get("annotations", {}).get("io.github.syncer.repository")], [],
                             "a killed export left an index.json naming an image")
        self.syncer("export", "--images", images, "--to", f"oci:{layout}")
        self.syncer("import", f"oci:{layout}", "--to", f"{self.dst.host}/after-kill")
        self.assertEqual(tag_digests(self.dst, f"after-kill/{self.large.repo}"), {self.large.tag: self.large.digest})

    def test_kill_9_during_an_archive_export_then_a_rerun(self):
        out = os.path.join(self.tmp, "killed-archive")
        os.makedirs(out)
        target = os.path.join(out, "bundle.tar")
        images = self.write("large-archive.yaml", f'"{self.src.host}/{self.large.repo}:{self.large.tag}": x.invalid/y\n')
        proc = harness.SyncerProcess("export", "--images", images, "--to", f"oci-archive:{target}", "--jobs", "1")
        # Killed once the stream has bytes in it: the archive is written as the export runs.
        def stream_has_bytes() -> bool:
            temps = [n for n in os.listdir(out) if n.startswith(".bundle.tar.tmp-")]
            return bool(temps) and os.path.getsize(os.path.join(out, temps[0])) > 0

        streaming = wait_while_running(proc, stream_has_bytes)
        proc.send(signal.SIGKILL)
        proc.wait()
        if streaming:
            self.assertFalse(os.path.exists(target), "a killed export left a partial archive under its name")
            # What it leaves: the partial temp archive and the work directory, both deletable.
            self.assertTrue(any(n.startswith(".bundle.tar.tmp-") for n in os.listdir(out)))
        self.syncer("export", "--images", images, "--to", f"oci-archive:{target}")
        # The rerun removed what the killed writer left: its lock on them died with it.
        self.assertEqual(os.listdir(out), ["bundle.tar"])
        self.syncer("import", f"oci-archive:{target}", "--to", f"{self.dst.host}/after-archive-kill")
        self.assertEqual(tag_digests(self.dst, f"after-archive-kill/{self.large.repo}"),
                         {self.large.tag: self.large.digest})
        with tarfile.open(target) as tar:
            names = tar.getnames()
        self.assertEqual(names[-2:], ["oci-layout", "index.json"])
        self.assertTrue(all(n.startswith("blobs/") for n in names[:-2]))

    def test_an_export_leaves_a_live_writers_temp_files_and_removes_dead_ones(self):
        out = os.path.join(self.tmp, "shared-target")
        os.makedirs(out)
        target = os.path.join(out, "bundle.tar.gz")
        # A live writer of the same target (another export, still running) holds a flock on its temp archive
        # and its work directory; a dead one's files are unlocked.
        live_temp, live_work = os.path.join(out, ".bundle.tar.gz.tmp-LiVe01"), os.path.join(out, ".bundle.tar.gz.syncer-LiVe01")
        dead_temp, dead_work = os.path.join(out, ".bundle.tar.gz.tmp-DeAd01"), os.path.join(out, ".bundle.tar.gz.syncer-DeAd01")
        for path in (live_temp, dead_temp):
            with open(path, "wb") as f:
                f.write(b"partial")
        for path in (live_work, dead_work):
            os.makedirs(os.path.join(path, "layout"))
        held = [os.open(live_temp, os.O_RDONLY), os.open(live_work, os.O_RDONLY | os.O_DIRECTORY)]
        try:
            for fd in held:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            image = self.images["oci-image"]
            self.syncer("copy", self.src.ref(image.repo, image.tag), f"oci-archive:{target}")
            self.assertEqual(sorted(os.listdir(out)), sorted(["bundle.tar.gz", os.path.basename(live_temp),
                                                              os.path.basename(live_work)]))
            with open(live_temp, "rb") as f:
                self.assertEqual(f.read(), b"partial")
        finally:
            for fd in held:
                os.close(fd)
        # Once the writer is gone, the next export of the target removes them.
        self.syncer("copy", self.src.ref(image.repo, image.tag), f"oci-archive:{target}")
        self.assertEqual(os.listdir(out), ["bundle.tar.gz"])

    def test_umoci_unpacks_an_image_syncer_wrote(self):
        if shutil.which("umoci") is None:
            self.skipTest("umoci is not installed (apt-get install umoci, or ./scripts/install-deps)")
        layout = os.path.join(self.tmp, "for-umoci")
        # umoci unpacks real filesystem layers: one uncompressed tar holding a file (its diff_id is its digest).
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
            data = b"hello from syncer\n"
            info = tarfile.TarInfo("etc/greeting")
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
        client = seed.Client.for_registry(self.src)
        pushed = seed.push_image(client, "umoci/app", "umoci", tag="v1", layers=[buf.getvalue()],
                                 layer_media_types=["application/vnd.oci.image.layer.v1.tar"])
        image = type("Image", (), {"repo": "umoci/app", "tag": "v1", "digest": pushed.digest})
        self.syncer("copy", self.src.ref(image.repo, image.tag), f"oci:{layout}:{image.tag}")
        bundle = os.path.join(self.tmp, "unpacked")
        r = subprocess.run(["umoci", "unpack", "--rootless", "--image", f"{layout}:{image.tag}", bundle],
                           capture_output=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        with open(os.path.join(bundle, "rootfs", "etc", "greeting"), "rb") as f:
            self.assertEqual(f.read(), b"hello from syncer\n")

    def test_docker_archive_round_trip_keeps_the_digest_and_skopeo_reads_it(self):
        image = self.images["docker-v2"]
        archive = os.path.join(self.tmp, "img.tar")  # skopeo reads docker archives uncompressed only
        self.syncer("copy", "--no-referrers", self.src.ref(image.repo, image.tag),
                    f"docker-archive:{archive}:team/app:v1")
        self.assertTrue(os.path.isfile(archive))
        # skopeo reads the image syncer wrote (docker save's format, layers as pulled).
        r = subprocess.run(["skopeo", "inspect", f"docker-archive:{archive}:team/app:v1"],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(json.loads(r.stdout)["Layers"]), len(json.loads(read_bytes_raw(self, image))["layers"]))
        # Back into a registry: the source's digest, every blob in place.
        self.syncer("copy", f"docker-archive:{archive}:team/app:v1", self.dst.ref("from-archive/app", "v1"))
        self.assertEqual(tag_digests(self.dst, "from-archive/app"), {"v1": image.digest})
        self.assertEqual(incomplete_tags(self.dst, ["from-archive/app"]), [])

    def test_an_index_cannot_go_into_a_docker_archive(self):
        image = self.images["oci-index"]
        archive = os.path.join(self.tmp, "index.tar")
        r = self.syncer("copy", "--no-referrers", self.src.ref(image.repo, image.tag),
                        f"docker-archive:{archive}:x/y:1", expect=1)
        self.assertIn("cannot be stored in a docker archive", r.stderr)
        self.assertFalse(os.path.exists(archive))

    def test_a_delta_bundle_holds_only_new_blobs_and_imports_after_its_base(self):
        client = seed.Client.for_registry(self.src)
        repo = "delta/app"
        shared = seed.det_bytes("delta/shared", 30000)
        seed.push_image(client, repo, "delta-v1", layers=[shared, seed.det_bytes("delta/v1", 5000)], tag="v1")
        images = self.write("delta.yaml", f'"{self.src.host}/{repo}": ignored.invalid/x\n')
        base = os.path.join(self.tmp, "base")
        self.syncer("export", "--images", images, "--to", f"oci:{base}")
        base_blobs = set(os.listdir(os.path.join(base, "blobs", "sha256")))
        # A change at the source: a new tag sharing the base layer, with a new layer.
        seed.push_image(client, repo, "delta-v2", layers=[shared, seed.det_bytes("delta/v2", 7000)], tag="v2")
        delta = os.path.join(self.tmp, "delta.tar")
        self.syncer("export", "--images", images, "--to", f"oci-archive:{delta}", "--since", f"oci:{base}")
        with tarfile.open(delta) as tar:
            names = tar.getnames()
            record = json.load(tar.extractfile("syncer-delta.json"))
        held = {n.split("/")[-1] for n in names if n.startswith("blobs/sha256/")}
        v1_manifest = tag_digests(self.src, repo)["v1"].split(":")[1]
        v2_manifest = tag_digests(self.src, repo)["v2"].split(":")[1]
        # Only what the base lacks (v2's manifest, config and new layer), and v1's manifest: manifests always.
        self.assertEqual(len(held), 4, names)
        self.assertEqual(held & base_blobs, {v1_manifest})
        self.assertIn(v2_manifest, held)
        self.assertEqual(record["base"], f"oci:{base}")
        self.assertEqual(record["baseIndex"], sha256(read_bytes(os.path.join(base, "index.json"))))
        self.assertEqual(len(record["omitted"]), 3)  # v1's config and two layers, one shared with v2
        self.assertEqual({d.split(":")[1] for d in record["omitted"]} & held, set())
        # skopeo still reads the delta's manifests.
        r = subprocess.run(["skopeo", "inspect", "--raw", f"oci-archive:{delta}:{repo}:v2"],
                           capture_output=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        self.assertEqual(sha256(r.stdout), "sha256:" + v2_manifest)

        # The delta alone into an empty registry: refused before any write, naming a missing blob and the base.
        r = self.syncer("import", f"oci-archive:{delta}", "--to", f"{self.dst.host}/delta-alone", expect=2)
        self.assertIn(f"oci:{base}", r.stderr)
        self.assertIn(sorted(record["omitted"])[0], r.stderr)
        self.assertIn("lacks 3 of the 3 blobs", r.stderr)
        self.assertEqual(self.dst.count("PUT", r"/v2/delta-alone/"), 0)
        self.assertEqual(self.dst.count("POST", r"/v2/delta-alone/"), 0)
        self.assertEqual(self.dst.count("PATCH", r"/v2/delta-alone/"), 0)

        # Base, then delta: the same as a direct sync.
        self.syncer("import", f"oci:{base}", "--to", f"{self.dst.host}/delta-both")
        self.syncer("import", f"oci-archive:{delta}", "--to", f"{self.dst.host}/delta-both")
        self.assertEqual(tag_digests(self.dst, f"delta-both/{repo}"), tag_digests(self.src, repo))
        self.assertEqual(incomplete_tags(self.dst, [f"delta-both/{repo}"]), [])

        # --since a saved copy of the base's index.json: the same delta.
        saved = os.path.join(self.tmp, "saved-index.json")
        shutil.copy(os.path.join(base, "index.json"), saved)
        again = os.path.join(self.tmp, "delta-from-index")
        self.syncer("export", "--images", images, "--to", f"oci:{again}", "--since", saved)
        self.assertEqual(set(os.listdir(os.path.join(again, "blobs", "sha256"))), held)
        again_record = read_json(os.path.join(again, "syncer-delta.json"))
        self.assertEqual(again_record["omitted"], record["omitted"])
        self.assertEqual(again_record["base"], saved)
        self.assertEqual(again_record["baseIndex"], record["baseIndex"])

    def test_since_an_index_json_without_the_blob_list_is_refused(self):
        saved = self.write("foreign-index.json", '{"schemaVersion":2,"manifests":[]}')
        r = self.syncer("export", "--images", self.images_file(), "--to", f"oci:{self.tmp}/d", "--since", saved,
                        expect=2)
        self.assertIn("io.github.syncer.blobs", r.stderr)
        self.assertIn("give the bundle itself", r.stderr)

    def test_queries_read_layouts_and_archives_as_they_read_a_registry(self):
        image = self.images["docker-v2"]
        src = self.src.ref(image.repo, image.tag)
        layout = os.path.join(self.tmp, "q-layout")
        archive = os.path.join(self.tmp, "q.tar.gz")
        docker = os.path.join(self.tmp, "q-docker.tar")
        self.syncer("copy", "--no-referrers", src, f"oci:{layout}:team/app:v1")
        self.syncer("copy", "--no-referrers", src, f"oci:{layout}:team/app:v2")
        self.syncer("copy", "--no-referrers", src, f"oci-archive:{archive}:team/app:v1")
        self.syncer("copy", "--no-referrers", src, f"docker-archive:{docker}:team/app:v1")
        raw = self.syncer("inspect", "--raw", src).stdout
        config = self.syncer("inspect", "--config", src).stdout
        for where in (f"oci:{layout}", f"oci-archive:{archive}", f"docker-archive:{docker}"):
            with self.subTest(where=where):
                ref = f"{where}:team/app:v1"
                self.assertEqual(self.syncer("inspect", "--raw", ref).stdout, raw)
                self.assertEqual(json.loads(self.syncer("inspect", ref).stdout)["digest"], image.digest)
                self.assertEqual(self.syncer("digest", ref).stdout, image.digest + "\n")
                self.assertEqual(self.syncer("inspect", "--format", "{{.Digest}}", ref).stdout.strip(), image.digest)
                self.assertEqual(self.syncer("inspect", "--config", ref).stdout, config)
                tree = json.loads(self.syncer("referrers", "--format", "json", ref).stdout)
                self.assertEqual(tree["digest"], image.digest)
                self.assertIn(image.digest, self.syncer("referrers", ref).stdout)
        tags = json.loads(self.syncer("tags", "--format", "json", f"oci:{layout}:team/app").stdout)
        self.assertEqual(tags, {"Repository": f"oci:{layout}:team/app", "Tags": ["v1", "v2"]})
        self.assertEqual(self.syncer("tags", f"oci-archive:{archive}:team/app").stdout, "v1\n")
        r = self.syncer("tags", f"oci:{layout}:other/repo", expect=1)
        self.assertIn("holds no image of other/repo", r.stderr)
        r = self.syncer("digest", f"oci:{layout}", expect=2)
        self.assertIn("name the image", r.stderr)

    def test_delete_removes_a_layout_entry_and_refuses_an_archive(self):
        image = self.images["oci-image"]
        layout = os.path.join(self.tmp, "d-layout")
        archive = os.path.join(self.tmp, "d.tar")
        for tag in ("v1", "v2"):
            self.syncer("copy", "--no-referrers", self.src.ref(image.repo, image.tag), f"oci:{layout}:team/app:{tag}")
        self.syncer("copy", "--no-referrers", self.src.ref(image.repo, image.tag), f"oci-archive:{archive}:team/app:v1")
        self.syncer("delete", f"oci:{layout}:team/app:v1")
        names = [m["annotations"]["org.opencontainers.image.ref.name"]
                 for m in read_json(os.path.join(layout, "index.json"))["manifests"]]
        self.assertEqual(names, ["team/app:v2"])
        self.assertEqual(self.syncer("tags", f"oci:{layout}:team/app").stdout, "v2\n")
        before = read_bytes(archive)
        r = self.syncer("delete", f"oci-archive:{archive}:team/app:v1", expect=2)
        self.assertIn("export again", r.stderr)
        self.assertEqual(read_bytes(archive), before)

    def test_verify_reads_a_layout_destination(self):
        image = self.images["oci-image"]
        layout = os.path.join(self.tmp, "v-layout")
        images = self.write("v-images.yaml", f'"{self.src.ref(image.repo, image.tag)}": "oci:{layout}"\n')
        self.syncer("sync", "--images", images)
        r = self.syncer("verify", "--images", images)
        self.assertIn("1 in sync", r.stderr)
        # Another tag in the layout: drift, named.
        with open(images, "a") as f:
            f.write(f'"{self.src.ref(self.images["docker-v2"].repo, self.images["docker-v2"].tag)}": "oci:{layout}"\n')
        r = self.syncer("verify", "--images", images, expect=1)
        self.assertIn("1 in sync, 1 missing", r.stderr)

    def test_a_dry_run_creates_no_bundle(self):
        image = self.images["oci-image"]
        images = self.write("dry-images.yaml", f'"{self.src.ref(image.repo, image.tag)}": ignored.invalid/x\n')
        for to in ("new-layout", "new.tar.zst"):
            with self.subTest(to=to):
                path = os.path.join(self.tmp, f"not-yet-{to}", to)
                bundle = f"oci:{path}" if to == "new-layout" else f"oci-archive:{path}"
                r = self.syncer("export", "--images", images, "--to", bundle, "--dry-run")
                # Planned against an empty bundle: the image is to be copied, and nothing is on disk.
                self.assertIn(f"copy {self.src.ref(image.repo, image.tag)} -> {bundle}/{image.repo}:{image.tag}", r.stdout)
                self.assertFalse(os.path.exists(os.path.dirname(path)))
        # An existing layout is only read: its plan says up to date, and index.json is untouched.
        layout = os.path.join(self.tmp, "dry-existing")
        self.syncer("export", "--images", images, "--to", f"oci:{layout}")
        before = sorted(os.listdir(layout)), read_bytes(os.path.join(layout, "index.json"))
        r = self.syncer("export", "--images", images, "--to", f"oci:{layout}", "--dry-run")
        self.assertIn(f"skip {self.src.ref(image.repo, image.tag)} -> oci:{layout}/{image.repo}:{image.tag}", r.stdout)
        self.assertEqual((sorted(os.listdir(layout)), read_bytes(os.path.join(layout, "index.json"))), before)

    def push_signed(self, repo: str):
        """A single image tagged v1 in the source with every kind of referrer (artifacts.attach_all)."""
        client = seed.Client.for_registry(self.src)
        image = seed.push_image(client, repo, f"{repo}/image", tag="v1", layer_sizes=(700,))
        return image, artifacts.attach_all(client, repo, image, repo)

    def test_referrers_travel_through_a_bundle(self):
        image, arts = self.push_signed("signed/app")
        images = self.write("signed.yaml", f'"{self.src.ref("signed/app", "v1")}": ignored.invalid/x\n')
        bundle = os.path.join(self.tmp, "signed.tar")
        layout = os.path.join(self.tmp, "signed-layout")
        self.syncer("export", "--images", images, "--to", f"oci-archive:{bundle}")
        self.syncer("export", "--images", images, "--to", f"oci:{layout}")
        self.syncer("import", f"oci-archive:{bundle}", "--to", f"{self.dst.host}/signed-import")
        # docker-registry 2.8 has no referrers API: the destination's tag schema index lists them, and
        # each is there, byte for byte.
        fallback = json.loads(get_manifest(self.dst, "signed-import/signed/app", "sha256-" + image.digest[7:])[0])
        listed = {m["digest"] for m in fallback["manifests"]}
        self.assertEqual(listed, {arts[k].digest for k in ("signature", "sbom", "attestation")})
        for kind, artifact in arts.items():
            with self.subTest(kind=kind):
                raw = skopeo_inspect_raw(self.dst.ref("signed-import/signed/app", artifact.digest))
                self.assertEqual(raw, artifact.body)
        tree = self.syncer("referrers", f"oci:{layout}:signed/app:v1").stdout
        for kind, artifact in arts.items():
            self.assertIn(artifact.digest, tree, kind)

    def test_a_docker_archive_destination_leaves_referrers_behind_with_a_warning(self):
        image, arts = self.push_signed("signed/docker")
        archive = os.path.join(self.tmp, "signed-docker.tar")
        r = self.syncer("copy", self.src.ref("signed/docker", "v1"), f"docker-archive:{archive}:team/app:v1")
        self.assertEqual(r.stderr.count("a docker archive cannot hold referrers"), 1, r.stderr)
        self.assertEqual(self.syncer("digest", f"docker-archive:{archive}:team/app:v1").stdout, image.digest + "\n")
        # --no-referrers: nothing to warn about.
        r = self.syncer("copy", "--no-referrers", self.src.ref("signed/docker", "v1"), f"docker-archive:{archive}:team/app:v1")
        self.assertNotIn("referrers", r.stderr)

    def test_a_sync_into_a_docker_archive_leaves_referrers_behind_with_a_warning(self):
        image, _ = self.push_signed("signed/sync-docker")
        archive = os.path.join(self.tmp, "sync-docker.tar")
        # A whole-repository rule: the tag schema's index tag stays with its subject, not an image of its own.
        images = self.write("to-docker.yaml",
                            f'"{self.src.host}/signed/sync-docker": "docker-archive:{archive}"\n')
        report = os.path.join(self.tmp, "report.json")
        r = self.syncer("sync", "--images", images, "--report", report)
        self.assertEqual(r.stderr.count("a docker archive cannot hold referrers"), 1, r.stderr)
        totals = read_json(report)["totals"]
        self.assertEqual((totals["copied"], totals["failed"]), (1, 0), r.stderr)
        self.assertEqual(self.syncer("digest", f"docker-archive:{archive}:signed/sync-docker:v1").stdout,
                         image.digest + "\n")


    # Issue 16: a Docker schema 1 manifest's digest is not that of its bytes, so no bundle format can carry it.
    def test_schema1_is_refused_by_every_bundle_transport_and_nothing_is_written(self):
        with FakeRegistry() as old:
            image = push_schema1(old, "old/app", "v1")
            for transport, target in (("oci", "layout"), ("oci-archive", "bundle.tar.zst"),
                                      ("docker-archive", "images.tar")):
                with self.subTest(transport=transport):
                    out = os.path.join(self.tmp, f"schema1-{transport}")
                    os.makedirs(out)
                    r = self.syncer("copy", image, f"{transport}:{os.path.join(out, target)}", expect=1)
                    self.assertIn(f"{old.host}/old/app:v1", r.stderr)
                    self.assertIn("schema 1", r.stderr)
                    self.assertIn("copy it between registries", r.stderr)
                    if transport == "oci":
                        # The layout may exist (it was opened for writing) but names no image, and holds none
                        # of the image's blobs: the refusal comes before any blob is sent.
                        index = os.path.join(out, target, "index.json")
                        self.assertEqual(read_json(index)["manifests"] if os.path.exists(index) else [], [])
                        blobs = [f for _, _, files in os.walk(os.path.join(out, target, "blobs")) for f in files]
                        self.assertEqual(blobs, [], "a refused copy left blobs in the layout")
                    else:
                        self.assertEqual(os.listdir(out), [], "a refused copy left an archive or temp files")
            # Among other images: the others are written, the schema 1 one is reported as failed.
            ok = self.images["oci-image"]
            for transport, target in (("oci", "mixed-layout"), ("oci-archive", "mixed.tar.gz"),
                                      ("docker-archive", "mixed.tar")):
                with self.subTest(transport=transport, among="others"):
                    bundle = f"{transport}:{os.path.join(self.tmp, target)}"
                    images = self.write(f"with-schema1-{transport}.yaml", f'"{image}": "{bundle}"\n'
                                        f'"{self.src.ref(ok.repo, ok.tag)}": "{bundle}"\n')
                    report = os.path.join(self.tmp, f"{transport}-report.json")
                    r = self.syncer("sync", "--no-referrers", "--images", images, "--report", report, expect=1)
                    self.assertIn("schema 1", r.stderr)
                    totals = read_json(report)["totals"]
                    self.assertEqual((totals["copied"], totals["failed"]), (1, 1), r.stderr)
                    failed = [i for i in read_json(report)["images"] if i.get("status") == "failed"]
                    self.assertEqual(len(failed), 1, read_json(report))
                    self.assertIn("old/app", json.dumps(failed[0]))
                    name = f"{bundle}:{ok.repo}:{ok.tag}"
                    self.assertEqual(self.syncer("digest", name).stdout, ok.digest + "\n")
                    self.syncer("digest", f"{bundle}:old/app:v1", expect=1)

    def test_catalog_lists_the_repositories_of_a_bundle(self):
        kinds = ("docker-v2", "oci-image")
        repos = [self.images[k].repo for k in kinds]
        for bundle in (f"oci:{self.tmp}/catalog-layout", f"oci-archive:{self.tmp}/catalog.tar.zst",
                       f"docker-archive:{self.tmp}/catalog-docker.tar"):
            with self.subTest(bundle=bundle):
                lines = [f'"{self.src.ref(self.images[k].repo, self.images[k].tag)}": "{bundle}"' for k in kinds]
                images = self.write("catalog.yaml", "\n".join(lines) + "\n")
                self.syncer("sync", "--no-referrers", "--images", images)
                self.assertEqual(sorted(self.syncer("catalog", bundle).stdout.splitlines()), sorted(repos))
                r = self.syncer("catalog", f"{bundle}:{repos[0]}:v1", expect=2)
                self.assertIn("catalog lists a whole bundle", r.stderr)
        r = self.syncer("catalog", f"oci-archive:{self.tmp}/missing.tar", expect=2)
        self.assertIn("missing.tar", r.stderr)


def wait_while_running(proc: harness.SyncerProcess, ready, polls: int = 600) -> bool:
    """Polls `ready()` every 10 ms, at most `polls` times, while `proc` runs: whether it came true."""
    for _ in range(polls):
        if ready():
            return True
        if proc.proc.poll() is not None:
            return False
        subprocess.run(["sleep", "0.01"])
    return False


def push_schema1(fake: FakeRegistry, repo: str, tag: str) -> str:
    """A signed Docker schema 1 image (two layers) on a scripted registry, as docker-registry 2.x served them
    before schema 1 pushes were turned off; its reference."""
    layers = [b"schema1 layer one " * 100, b"schema1 layer two " * 50]
    _, signed = artifacts.signed_schema1(repo, tag, layers)
    for data in layers:
        fake.add_blob(repo, data)
    fake.add_manifest(repo, signed, artifacts.SCHEMA1_SIGNED, [tag])
    return f"{fake.host}/{repo}:{tag}"


if __name__ == "__main__":
    unittest.main()
