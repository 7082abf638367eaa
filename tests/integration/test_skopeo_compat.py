"""skopeo-compatible scripting (issue 13, item 6): `inspect --format` and `--config`, `tags --format json`,
`copy --digestfile`, `copy --all` / `--multi-arch`, each compared byte for byte with the real skopeo against
the same docker-registry."""

import contextlib
import json
import os
import subprocess
import tempfile
import unittest

import harness
import seed
from harness import describe, run_syncer


def skopeo(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["skopeo", *args], capture_output=True, timeout=120)


class SkopeoCompatTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        stack = contextlib.ExitStack()
        cls.addClassCleanup(stack.close)
        cls.reg = stack.enter_context(harness.Registry(name="compat"))
        cls.home = stack.enter_context(tempfile.TemporaryDirectory(prefix="syncer-home-"))
        client = seed.Client.for_registry(cls.reg)
        # An image whose config has what templates print differently: labels to sort and escape, a creation
        # time with nanoseconds, an environment with HTML characters.
        repo = "compat/labelled"
        layer = client.push_blob(repo, seed.det_bytes("compat/layer", 3000), seed.OCI_LAYER)
        config = {"architecture": "amd64", "os": "linux", "created": "2024-03-05T06:07:08.123456789Z",
                  "config": {"Env": ["A=1", "B=<x>&y"], "Cmd": ["/bin/sh"],
                             "Labels": {"zeta": "last", "alpha": "a b", "html": "<b>&amp;", "uni": "\u00fc"}},
                  "rootfs": {"type": "layers", "diff_ids": [layer.digest]},
                  "history": [{"created": "2024-03-05T06:07:08Z", "created_by": "add <file>"}]}
        config_desc = client.push_blob(repo, seed.canonical(config), seed.OCI_CONFIG)
        body = seed.canonical({"schemaVersion": 2, "mediaType": seed.OCI_MANIFEST, "config": config_desc.json(),
                               "layers": [layer.json()]})
        client.push_manifest(repo, "v1", body, seed.OCI_MANIFEST)
        client.push_manifest(repo, "v2", body, seed.OCI_MANIFEST)
        cls.labelled = cls.reg.ref(repo, "v1")
        cls.labelled_digest = seed.sha256(body)
        cls.index = seed.push_oci_index(client)
        cls.docker = seed.push_docker_v2(client)
        cls.refs = [cls.labelled, cls.reg.ref(cls.index.repo, cls.index.tag),
                    cls.reg.ref(cls.docker.repo, cls.docker.tag)]

    def syncer(self, *args: str, expect: int):
        result = run_syncer(*args, env={"HOME": self.home, "XDG_RUNTIME_DIR": None})
        self.assertEqual(result.returncode, expect, describe(result))
        return result

    def test_inspect_format_matches_skopeo(self):
        templates = ["{{.Digest}}", "{{.Name}}", "{{.RepoTags}}", "{{.Created}}", "{{.Architecture}}",
                     "{{.Os}}", "{{.Labels}}", "{{.Layers}}", "{{.Env}}", "{{json .}}", "json",
                     '{{index .Labels "alpha"}}|{{index .Labels "none"}}', "{{.Labels.html}}",
                     "{{range .RepoTags}}<{{.}}>{{end}}", "{{.Name}}@{{.Digest}}\n", "x {{- .Os -}} y",
                     "{{range .Layers}}{{.}},{{end}}"]
        for ref in self.refs:
            for template in templates:
                with self.subTest(ref=ref, template=template):
                    expected = skopeo("inspect", "--tls-verify=false", "--format", template, f"docker://{ref}")
                    self.assertEqual(expected.returncode, 0, expected.stderr)
                    result = self.syncer("inspect", "--tls-verify=false", "--format", template, ref, expect=0)
                    self.assertEqual(result.stdout.encode(), expected.stdout)

    def test_inspect_no_tags_leaves_repo_tags_empty(self):
        result = self.syncer("inspect", "--no-tags", "--format", "{{.RepoTags}}", self.labelled, expect=0)
        self.assertEqual(result.stdout, "[]\n")

    def test_inspect_unknown_field_is_a_usage_error_naming_it(self):
        result = self.syncer("inspect", "--format", "{{.Nope}}", self.reg.ref("compat/never-asked", "v1"), expect=2)
        self.assertIn('unknown field "Nope"', result.stderr)
        self.assertEqual(result.stdout, "")
        self.assertEqual(self.reg.count("GET", r"/v2/compat/never-asked"), 0,
                         "a bad template must fail before any request")

    def test_inspect_config_matches_skopeo(self):
        for ref in self.refs:
            for extra in ([], ["--raw"]):
                with self.subTest(ref=ref, raw=bool(extra)):
                    expected = skopeo("inspect", "--tls-verify=false", "--config", *extra, f"docker://{ref}")
                    self.assertEqual(expected.returncode, 0, expected.stderr)
                    result = self.syncer("inspect", "--tls-verify=false", "--config", *extra, ref, expect=0)
                    self.assertEqual(result.stdout.encode(), expected.stdout)

    def test_tags_json_matches_skopeo_list_tags(self):
        repo = f"{self.reg.host}/compat/labelled"
        expected = skopeo("list-tags", "--tls-verify=false", f"docker://{repo}")
        self.assertEqual(expected.returncode, 0, expected.stderr)
        result = self.syncer("tags", "--format", "json", repo, expect=0)
        self.assertEqual(result.stdout.encode(), expected.stdout)
        self.assertEqual(json.loads(result.stdout)["Tags"], ["v1", "v2"])
        self.assertEqual(self.syncer("tags", repo, expect=0).stdout, "v1\nv2\n")
        self.assertIn("expected text or json", self.syncer("tags", "--format", "yaml", repo, expect=2).stderr)

    def test_copy_digestfile_is_written_as_skopeo_writes_it(self):
        with tempfile.TemporaryDirectory() as tmp:
            ours, theirs = os.path.join(tmp, "syncer.digest"), os.path.join(tmp, "skopeo.digest")
            self.syncer("copy", "--digestfile", ours, self.labelled, self.reg.ref("compat/digestfile", "s"),
                        expect=0)
            r = skopeo("copy", "--src-tls-verify=false", "--dest-tls-verify=false", "--digestfile", theirs,
                       f"docker://{self.labelled}", f"docker://{self.reg.ref('compat/digestfile', 'k')}")
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(ours, "rb") as f, open(theirs, "rb") as g:
                mine, skopeos = f.read(), g.read()
            self.assertEqual(mine, skopeos)
            self.assertEqual(mine, self.labelled_digest.encode())
            # A filtered index: the digest the destination holds, not the source's.
            self.syncer("copy", "--platform", "linux/arm64", "--digestfile", ours,
                        self.reg.ref(self.index.repo, self.index.tag), self.reg.ref("compat/filtered", "v1"),
                        expect=0)
            with open(ours) as f:
                written = f.read()
            self.assertNotEqual(written, self.index.digest)
            self.assertEqual(written, harness.tag_digests(self.reg, "compat/filtered")["v1"])

    def test_copy_all_and_multi_arch(self):
        source = self.reg.ref(self.index.repo, self.index.tag)
        for flags in (["--all"], ["--multi-arch", "all"], ["--multi-arch=all", "--all"]):
            with self.subTest(flags=flags):
                self.syncer("copy", *flags, source, self.reg.ref("compat/all", "v1"), expect=0)
                self.assertEqual(harness.tag_digests(self.reg, "compat/all")["v1"], self.index.digest)
        self.syncer("copy", "--multi-arch", "system", source, self.reg.ref("compat/system", "v1"), expect=0)
        body, _ = harness.get_manifest(self.reg, "compat/system", "v1")
        platforms = [m["platform"]["architecture"] for m in json.loads(body)["manifests"]]
        self.assertEqual(platforms, ["amd64"], "this test runs on amd64: system keeps linux/amd64 only")

    def test_copy_multi_arch_refusals(self):
        source = self.reg.ref(self.index.repo, self.index.tag)
        result = self.syncer("copy", "--multi-arch", "index-only", source, self.reg.ref("compat/idx-only", "v1"),
                             expect=2)
        self.assertIn("index-only", result.stderr)
        self.assertIn("refuses an index whose images it does not hold", result.stderr)
        self.assertIsNone(harness.tags_of(self.reg, "compat/idx-only"))
        result = self.syncer("copy", "--multi-arch", "some", source, self.reg.ref("compat/x", "v1"), expect=2)
        self.assertIn("expected all, system or index-only", result.stderr)
        result = self.syncer("copy", "--all", "--platform", "linux/amd64", source, self.reg.ref("compat/x", "v1"),
                             expect=2)
        self.assertIn("--all and --platform", result.stderr)


if __name__ == "__main__":
    unittest.main()
