"""The LabNow pipeline's mirroring step on loopback: `syncer jobs`, `syncer sync-image`, the docker-kit
install layout (install.sh) with its run_jobs.py / run_sync.py shims, and syncer invoked as `image-syncer`.

Three kinds of registries play the pipeline: `src` is where the build jobs pushed (quay.io in production),
`m1`/`m2` the mirrors a first run fills, `m3`/`m4` fresh mirrors for the shim. All require Basic auth, so the
auth file (written from an environment variable, as CI writes it from a secret) is really used.
"""

import contextlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest
import urllib.error
import urllib.request

import harness
from harness import tags_of
import seed
from harness import describe, get_manifest, sha256, skopeo_inspect_raw, verify_tree

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
INSTALL_SH = os.path.join(REPO_ROOT, "contrib", "docker-kit", "install.sh")

NAMESPACE = "labnow"
VERSION_TAG = "2026.0722.0823-6e32668"
IMAGES = ["atom", "base", "python-3.13", "docker-kit"]
MIRROR_USER, MIRROR_PASSWORD = "mirror", "M1rror-pass-for-tests"

# The shape of LabNow's build-docker.yml: jobs whose `name` lists the images they build, jobs that build
# nothing, and the sync job itself (no name).
WORKFLOW = """\
name: build-docker
on:
  push:
    branches: [main]
    paths-ignore: ["*.md"]
env:
  BUILDKIT_PROGRESS: plain
jobs:
  job-base:
    name: 'atom,base'
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: source ./tool.sh && build_image atom latest docker_atom/Dockerfile && push_image
  job-python:
    name: 'python-3.13'
    needs: job-base
    runs-on: ubuntu-latest
  job-lint:
    runs-on: ubuntu-latest
  job-docker_kit:
    name: "docker-kit, base"
    needs: job-base
    runs-on: ubuntu-latest
  sync_images:
    needs: [job-base, job-python, job-docker_kit]
    runs-on: ubuntu-latest
    steps:
      - run: python /opt/utils/image-syncer/run_jobs.py --auth-file=/tmp/.github/workflows/auth.json
"""

# Variables a developer's shell or CI may hold that would change what the commands do.
_SCRUBBED = {"http_proxy", "https_proxy", "no_proxy", "all_proxy", "docker_config", "registry_auth_file",
             "img_namespace", "registry_url", "docker_mirror_registry", "file_auth", "docker_registry_username",
             "docker_registry_password", "docker_mirror_registry_username", "docker_mirror_registry_password"}


def run(argv: list[str], env: dict | None = None, cwd: str | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess:
    """Run a command with a scrubbed environment plus `env`; text output captured."""
    full_env = {k: v for k, v in os.environ.items() if k.lower() not in _SCRUBBED}
    full_env.update(env or {})
    return subprocess.run(argv, env=full_env, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=timeout)


def syncer_bin() -> str:
    binary = os.environ.get("SYNCER_BIN")
    if not binary:
        raise RuntimeError("SYNCER_BIN is not set: run through ctest, or export SYNCER_BIN=build/syncer/syncer")
    return binary


def writes(requests) -> list:
    """Requests that change a registry: manifest PUTs and any blob upload step."""
    return [r for r in requests
            if (r.method == "PUT" and "/manifests/" in r.path)
            or (r.method in ("POST", "PATCH", "PUT") and "/blobs/uploads/" in r.path)]


class LabNowTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        stack = contextlib.ExitStack()
        cls.addClassCleanup(stack.close)
        cls.src = stack.enter_context(harness.Registry(name="src", auth="htpasswd", user="robot+labnow"))
        cls.mirrors = [stack.enter_context(harness.Registry(name=f"m{i}", auth="htpasswd", user=MIRROR_USER,
                                                            password=MIRROR_PASSWORD)) for i in range(1, 5)]
        cls.m1, cls.m2, cls.m3, cls.m4 = cls.mirrors
        cls.tmp = tempfile.mkdtemp(prefix="syncer-labnow-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)

        # What the build jobs pushed: every image as `latest` and a version tag, sharing base layers the way
        # atom -> base -> python share them; python-3.13 is multi-platform.
        client = seed.Client.for_registry(cls.src)
        shared = [seed.det_bytes("labnow/atom/0", 90000), seed.det_bytes("labnow/atom/1", 30000)]
        cls.digests: dict[tuple[str, str], str] = {}
        for name in IMAGES:
            repo = f"{NAMESPACE}/{name}"
            if name == "python-3.13":
                entries = []
                for platform in ("linux/amd64", "linux/arm64"):
                    d = seed.push_image(client, repo, f"{repo}/{platform}", platform=platform,
                                        layers=shared + [seed.det_bytes(f"{repo}/{platform}/own", 12000)])
                    entries.append(d.json(platform=seed._platform(platform)))
                d = seed.push_index(client, repo, "latest", entries)
            else:
                d = seed.push_image(client, repo, repo, tag="latest",
                                    layers=shared + [seed.det_bytes(f"{repo}/own", 8000)])
            client.push_manifest(repo, VERSION_TAG, *cls.manifest_of(cls.src, repo, d.digest))
            cls.digests[(name, "latest")] = cls.digests[(name, VERSION_TAG)] = d.digest
        # Not in the workflow: for sync-image and the image-syncer entry point.
        cls.tool_digests = {}
        for tag in ("v1", "v2", "v3"):
            d = seed.push_image(client, "other/tool", f"other/tool/{tag}", tag=tag, layer_sizes=(700, 900))
            cls.tool_digests[tag] = d.digest

        # The checkout, as the sync job sees it: the workflow, and the auth file CI writes from a secret.
        cls.checkout = os.path.join(cls.tmp, "checkout")
        os.makedirs(os.path.join(cls.checkout, ".github", "workflows"))
        cls.workflow = os.path.join(cls.checkout, ".github", "workflows", "build-docker.yml")
        with open(cls.workflow, "w") as f:
            f.write(WORKFLOW)
        auth = {cls.src.host: {"username": cls.src.user, "password": cls.src.password}}
        for m in cls.mirrors:
            auth[m.host] = {"username": MIRROR_USER, "password": MIRROR_PASSWORD}
        cls.auth_file = os.path.join(cls.checkout, ".github", "workflows", "auth.json")
        r = run(["sh", "-c", 'echo "$AUTH_JSON" > .github/workflows/auth.json'],
                env={"AUTH_JSON": json.dumps(auth, indent=2)}, cwd=cls.checkout)
        assert r.returncode == 0, describe(r)

        # The docker-kit layout, installed the way the Dockerfile installs it.
        cls.prefix = os.path.join(cls.tmp, "root")
        r = run(["sh", INSTALL_SH, cls.prefix, syncer_bin()])
        assert r.returncode == 0, describe(r)
        cls.installed_path = os.path.join(cls.prefix, "usr", "local", "bin") + os.pathsep + os.environ["PATH"]

    @staticmethod
    def manifest_of(registry, repo: str, digest: str) -> tuple[bytes, str]:
        raw, media_type = get_manifest(registry, repo, digest)
        return raw, media_type.split(";")[0]

    # --- helpers ---------------------------------------------------------------------------------------
    def pipeline_env(self, *mirrors) -> dict:
        """The sync job's environment (tool.sh exports these)."""
        return {"REGISTRY_URL": self.src.host, "IMG_NAMESPACE": NAMESPACE,
                "DOCKER_MIRROR_REGISTRY": ",".join(m.host for m in mirrors)}

    def syncer(self, *args: str, expect: int, env: dict | None = None, cwd: str | None = None):
        r = run([syncer_bin(), *args], env=env, cwd=cwd)
        self.assertEqual(r.returncode, expect, describe(r))
        return r

    def report(self, path: str) -> dict:
        with open(path) as f:
            return json.load(f)

    def assert_mirrored(self, *mirrors) -> None:
        """Every workflow image, both tags, on every mirror: same digests as the source, complete trees."""
        for m in mirrors:
            for (name, tag), digest in self.digests.items():
                repo = f"{NAMESPACE}/{name}"
                raw, _ = get_manifest(m, repo, tag)
                self.assertEqual(sha256(raw), digest, f"{m.host}/{repo}:{tag}")
            for name in IMAGES:
                repo = f"{NAMESPACE}/{name}"
                self.assertEqual(tags_of(m, repo), sorted([VERSION_TAG, "latest"]), f"{m.host}/{repo}")
                self.assertEqual(verify_tree(m, repo, self.digests[(name, "latest")]), [], f"{m.host}/{repo}")
            # One independent client's view too.
            raw = skopeo_inspect_raw(m.ref(f"{NAMESPACE}/python-3.13", VERSION_TAG), creds=m.creds)
            self.assertEqual(sha256(raw), self.digests[("python-3.13", VERSION_TAG)])

    # --- the pipeline ----------------------------------------------------------------------------------
    def test_jobs_mirror_then_noop_then_shim(self):
        report = os.path.join(self.tmp, "jobs-report.json")
        # The default workflow path, relative to the checkout, as the sync job runs it.
        r = self.syncer("jobs", f"--auth-file={self.auth_file}", "--report", report, "--proc=4", expect=0,
                        env=self.pipeline_env(self.m1, self.m2), cwd=self.checkout)
        self.assertIn("4 images (atom, base, python-3.13, docker-kit)", r.stderr)
        totals = self.report(report)["totals"]
        self.assertEqual(totals["images"], len(IMAGES) * 2 * 2)
        self.assertEqual(totals["copied"], totals["images"])
        self.assertEqual(totals["failed"], 0)
        # Each image's rule is the workflow (as given: the default, relative path) and its job's `name` line.
        rules = {i["source"]: i["rule"] for i in self.report(report)["images"]}
        self.assertEqual(rules[f"{self.src.host}/{NAMESPACE}/atom:latest"], ".github/workflows/build-docker.yml:10")
        self.assertEqual(rules[f"{self.src.host}/{NAMESPACE}/docker-kit:latest"],
                         ".github/workflows/build-docker.yml:22")
        self.assert_mirrored(self.m1, self.m2)
        # Shared base layers cross the wire once per mirror; every other repository mounts them.
        for m in (self.m1, self.m2):
            shared = [seed.det_bytes("labnow/atom/0", 90000), seed.det_bytes("labnow/atom/1", 30000)]
            for layer in shared:
                uploads = m.count("PUT", rf"/blobs/uploads/.*digest=sha256(:|%3[Aa]){sha256(layer)[7:]}")
                self.assertEqual(uploads, 1, f"{m.host}: shared layer uploaded {uploads} times")

        # A second run has nothing to do: HEADs only, no writes anywhere.
        before = {m.host: len(m.requests()) for m in (self.m1, self.m2)}
        self.syncer("jobs", "--report", report, expect=0,
                    env={**self.pipeline_env(self.m1, self.m2), "FILE_AUTH": self.auth_file}, cwd=self.checkout)
        totals = self.report(report)["totals"]
        self.assertEqual(totals["skipped"], totals["images"])
        for m in (self.m1, self.m2):
            new = m.requests()[before[m.host]:]
            self.assertEqual(writes(new), [], f"{m.host} was written to by a no-op run")
            self.assertEqual([x for x in new if x.method == "GET" and "/manifests/" in x.path], [])

        # The shim from the installed layout, called exactly as the sync job calls it, on fresh mirrors.
        shim = os.path.join(self.prefix, "opt", "utils", "image-syncer", "run_jobs.py")
        r = run([sys.executable, shim, f"--auth-file={self.auth_file}", f"--workflow={self.workflow}"],
                env={**self.pipeline_env(self.m3, self.m4), "PATH": self.installed_path}, cwd=self.tmp)
        self.assertEqual(r.returncode, 0, describe(r))
        self.assert_mirrored(self.m3, self.m4)

    def test_sync_image_listed_tags_with_env_credentials(self):
        env = {"DOCKER_REGISTRY_USERNAME": self.src.user, "DOCKER_REGISTRY_PASSWORD": self.src.password,
               "DOCKER_MIRROR_REGISTRY_USERNAME": MIRROR_USER, "DOCKER_MIRROR_REGISTRY_PASSWORD": MIRROR_PASSWORD}
        self.syncer("sync-image", "other/tool", "--tags=v1,v3", f"--source-registry={self.src.host}",
                    "--target-registry", self.m1.host, "--target-registry", self.m2.host, expect=0, env=env)
        for m in (self.m1, self.m2):
            self.assertEqual(tags_of(m, "other/tool"), ["v1", "v3"])
            for tag in ("v1", "v3"):
                self.assertEqual(sha256(get_manifest(m, "other/tool", tag)[0]), self.tool_digests[tag])

        # The run_sync.py shim hands the same arguments to sync-image.
        shim = os.path.join(self.prefix, "opt", "utils", "image-syncer", "run_sync.py")
        r = run([sys.executable, shim, "other/tool", "--tags", "v2", f"--source-registry={self.src.host}",
                 f"--target-registry={self.m3.host}", f"--auth-file={self.auth_file}"],
                env={"PATH": self.installed_path})
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertEqual(tags_of(self.m3, "other/tool"), ["v2"])

        # Without credentials the source refuses: a failed image, exit 1.
        r = self.syncer("sync-image", "other/tool", "--tags=v1", f"--source-registry={self.src.host}",
                        f"--target-registry={self.m4.host}", "--retries=0", expect=1)
        self.assertIn("401", r.stderr)

    def test_install_layout(self):
        bin_syncer = os.path.join(self.prefix, "usr", "local", "bin", "syncer")
        link = os.path.join(self.prefix, "usr", "bin", "image-syncer")
        self.assertTrue(os.stat(bin_syncer).st_mode & stat.S_IXUSR)
        self.assertTrue(os.path.islink(link))
        self.assertEqual(os.readlink(link), "../local/bin/syncer")
        self.assertEqual(os.path.realpath(link), os.path.realpath(bin_syncer))
        for script in ("run_jobs.py", "run_sync.py"):
            path = os.path.join(self.prefix, "opt", "utils", "image-syncer", script)
            self.assertTrue(os.stat(path).st_mode & stat.S_IXUSR, path)
        # Installing again over an existing layout (an image-syncer binary in the base image) works.
        os.remove(link)
        with open(link, "w") as f:
            f.write("old image-syncer")
        r = run(["sh", INSTALL_SH, self.prefix, syncer_bin()])
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertTrue(os.path.islink(link))
        # A missing binary is refused with a message.
        r = run(["sh", INSTALL_SH, os.path.join(self.tmp, "elsewhere"), os.path.join(self.tmp, "no-syncer")])
        self.assertEqual(r.returncode, 2)
        self.assertIn("not an executable file", r.stderr)
        # A shim with no syncer on PATH says so.
        shim = os.path.join(self.prefix, "opt", "utils", "image-syncer", "run_jobs.py")
        r = run([sys.executable, shim], env={"PATH": "/nonexistent"})
        self.assertEqual(r.returncode, 127, describe(r))
        self.assertIn("cannot run syncer", r.stderr)

    # --- image-syncer's command line -------------------------------------------------------------------
    def test_image_syncer_symlink(self):
        link = os.path.join(self.prefix, "usr", "bin", "image-syncer")
        images = os.path.join(self.tmp, "images.yaml")
        with open(images, "w") as f:
            f.write(f"{self.src.host}/other/tool:v2: {self.m2.host}/compat/tool\n")
        success = os.path.join(self.tmp, "success.yaml")
        r = run([link, f"--auth={self.auth_file}", "--images", images, "-p", "2", "--retries=1",
                 "--output-success-images", success, "--output-images-format=yaml"])
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertEqual(sha256(get_manifest(self.m2, "compat/tool", "v2")[0]), self.tool_digests["v2"])
        with open(success) as f:
            self.assertIn(f"{self.m2.host}/compat/tool", f.read())

        # A failed image: image-syncer's exit status 255, not syncer's 1.
        with open(images, "w") as f:
            f.write(f"{self.src.host}/other/missing:v1: {self.m2.host}/compat/missing\n")
        r = run([link, f"--auth={self.auth_file}", f"--images={images}", "--retries=0"])
        self.assertEqual(r.returncode, 255, describe(r))
        # Bad configuration, unknown flags and the flags v1.5 removed: 255 as well, with a reason.
        for args, message in [([f"--images={self.tmp}/absent.yaml"], "absent.yaml"),
                              (["--images", images, "--dry-run"], "--dry-run"),
                              (["--images", images, "--registry", self.m1.host], "removed in image-syncer v1.5"),
                              ([], "nothing to sync")]:
            with self.subTest(args=args):
                r = run([link, *args])
                self.assertEqual(r.returncode, 255, describe(r))
                self.assertIn(message, r.stderr)
        r = run([link, "--help"])
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertIn("--output-success-images", r.stdout)

    # --- the old script's traps ------------------------------------------------------------------------
    def test_empty_target_list_is_an_error(self):
        for args, env in [([], {}), ([], {"DOCKER_MIRROR_REGISTRY": ""}), (["--target-registry="], {}),
                          (["--target-registry", " , "], {"DOCKER_MIRROR_REGISTRY": ","})]:
            with self.subTest(args=args, env=env):
                r = self.syncer("jobs", f"--workflow-file={self.workflow}", f"--auth-file={self.auth_file}",
                                *args, expect=2, env={"REGISTRY_URL": self.src.host, **env})
                self.assertIn("no target registry", r.stderr)
        # sync-image has defaults, but an explicitly empty list is still refused rather than replaced by them.
        r = self.syncer("sync-image", "other/tool", "--target-registry=", expect=2)
        self.assertIn("no target registry: --target-registry is empty", r.stderr)
        r = self.syncer("sync-image", "other/tool", "--tags=", f"--target-registry={self.m1.host}", expect=2)
        self.assertIn("--tags is empty", r.stderr)

    def test_broken_or_missing_workflow_is_an_error(self):
        broken = os.path.join(self.tmp, "broken.yml")
        with open(broken, "w") as f:
            f.write("jobs:\n  job-base:\n    name: 'atom,base'\n  job-python: [\n    name: x\n")
        r = self.syncer("jobs", f"--workflow-file={broken}", expect=2, env=self.pipeline_env(self.m1))
        self.assertRegex(r.stderr, rf"{broken}:\d+: not a valid workflow")

        r = self.syncer("jobs", expect=2, env=self.pipeline_env(self.m1), cwd=self.tmp)
        self.assertIn(".github/workflows/build-docker.yml: cannot read the workflow file", r.stderr)

        nojobs = os.path.join(self.tmp, "nojobs.yml")
        with open(nojobs, "w") as f:
            f.write("name: build-docker\non: push\n")
        r = self.syncer("jobs", f"--workflow-file={nojobs}", expect=2, env=self.pipeline_env(self.m1))
        self.assertIn(f"{nojobs}: no top-level `jobs` map", r.stderr)

        noimages = os.path.join(self.tmp, "noimages.yml")
        with open(noimages, "w") as f:
            f.write("jobs:\n  lint:\n    runs-on: ubuntu-latest\n")
        r = self.syncer("jobs", f"--workflow-file={noimages}", expect=2, env=self.pipeline_env(self.m1))
        self.assertIn("no job names an image", r.stderr)

    def test_failed_image_exits_1_and_the_rest_completes(self):
        workflow = os.path.join(self.tmp, "with-ghost.yml")
        with open(workflow, "w") as f:
            f.write("jobs:\n  job-a:\n    name: 'ghost,atom'\n")
        report = os.path.join(self.tmp, "ghost-report.json")
        # m3: the shim test fills it later and only checks the result, which this leaves intact.
        self.syncer("jobs", f"--workflow-file={workflow}", f"--auth-file={self.auth_file}", "--retries=0",
                    "--report", report, expect=1, env=self.pipeline_env(self.m3))
        statuses = {(i["source"].split("/", 1)[1].split(":")[0], i["status"]) for i in self.report(report)["images"]}
        self.assertEqual(statuses, {(f"{NAMESPACE}/ghost", "failed"), (f"{NAMESPACE}/atom", "copied")})
        self.assertEqual(tags_of(self.m3, f"{NAMESPACE}/atom"), sorted([VERSION_TAG, "latest"]))

    def test_dry_run_changes_nothing(self):
        before = len(self.m4.requests())
        r = self.syncer("jobs", f"--workflow-file={self.workflow}", f"--auth-file={self.auth_file}", "--dry-run",
                        "--target-registry", self.m4.host, expect=0,
                        env={"REGISTRY_URL": self.src.host, "IMG_NAMESPACE": NAMESPACE})
        self.assertIn(f"{self.m4.host}/{NAMESPACE}/base:{VERSION_TAG}", r.stdout)
        self.assertEqual(writes(self.m4.requests()[before:]), [])


if __name__ == "__main__":
    unittest.main()
