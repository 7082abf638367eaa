"""Protocol edge cases a real docker-registry cannot produce, against the scripted fake in fake_registry.py:
token auth with scopes and identity tokens, redirects to blob storage, opaque pagination tokens, chunk-only
uploads, connections reset mid-blob, missing Docker-Content-Digest, HTML 503 pages, and secrets in output.
"""

import base64
import contextlib
import json
import os
import re
import tempfile
import unittest
import urllib.parse

import artifacts
import harness
import seed
from fake_registry import FakeRegistry
from harness import describe, run_syncer, sha256

USER = "fake-user"
PASSWORD = "fake-pass-1"
CREDS = f"{USER}:{PASSWORD}"
MIB = 1 << 20


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class ProtocolEdgeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        stack = contextlib.ExitStack()
        cls.addClassCleanup(stack.close)
        cls.real = stack.enter_context(harness.Registry(name="real"))
        client = seed.Client.for_registry(cls.real)
        d = seed.push_image(client, "edge/app", "edge/app", tag="v1")
        cls.small = seed.Seeded("edge/app", "v1", d.digest, d.media_type)
        cls.large = seed.push_large_image(client, 3, repo="edge/large", seed="edge-large")

    # --- helpers -------------------------------------------------------------------------------------------
    def syncer(self, *args: str, expect: int = 0, fake: FakeRegistry | None = None):
        result = run_syncer(*args)
        context = describe(result) + (f"\n--- fake registry log\n{fake.log_text()}" if fake else "")
        self.assertEqual(result.returncode, expect, context)
        return result

    def assert_in_fake(self, fake: FakeRegistry, repo: str, tag: str, digest: str) -> None:
        stored = fake.manifest(repo, tag)
        self.assertIsNotNone(stored, f"{repo}:{tag} is not in the fake registry\n{fake.log_text()}")
        self.assertEqual(sha256(stored[0]), digest, "the fake holds different manifest bytes than the source")
        self.assertEqual(fake.verify_tree(repo, digest), [])

    def assert_in_real(self, repo: str, tag: str, digest: str) -> None:
        raw, _ = harness.get_manifest(self.real, repo, tag)
        self.assertEqual(sha256(raw), digest, f"{self.real.host}/{repo}:{tag} holds different manifest bytes")
        self.assertEqual(harness.verify_tree(self.real, repo, digest), [])

    def seed_fake(self, fake: FakeRegistry, repo: str, **kwargs) -> seed.Seeded:
        d = seed.push_image(fake.client(), repo, repo, tag="v1", **kwargs)
        return seed.Seeded(repo, "v1", d.digest, d.media_type)

    def blob_digests(self, fake: FakeRegistry, repo: str, digest: str) -> list[str]:
        return harness.referenced_blobs(json.loads(fake.manifest(repo, digest)[0]))

    # --- 1. bearer token auth ------------------------------------------------------------------------------
    def test_bearer_push_with_basic_credentials_at_token_endpoint(self):
        with FakeRegistry(bearer=True, users={USER: PASSWORD}, blob_redirect=True) as fake:
            src = self.real.ref(self.small.repo, self.small.tag)
            self.syncer("copy", "--dest-creds", CREDS, src, fake.ref("pushed/app", "v1"), fake=fake)
            self.assert_in_fake(fake, "pushed/app", "v1", self.small.digest)

            tokens = fake.token_requests()
            self.assertTrue(tokens, f"no token request was made\n{fake.log_text()}")
            for t in tokens:
                self.assertEqual(t.method, "GET", f"expected the Basic-auth GET form: {t}")
                self.assertEqual(t.header("Authorization"), basic(USER, PASSWORD), f"token request {t}")
                self.assertEqual(t.query.get("service"), ["fake"], f"service missing from {t}")
                self.assertEqual(t.status, 200, str(t))
            asked = set().union(*(fake.requested_scopes(t) for t in tokens))
            self.assertIn(("repository", "pushed/app", "push"), asked, f"no push scope was asked for: {asked}")
            # Every write the registry accepted carried a bearer token, never the password itself.
            for r in fake.requests(server="registry", path_regex=r"^/v2/pushed/app/"):
                if r.status < 400:
                    self.assertTrue((r.header("Authorization") or "").startswith("Bearer "), str(r))
            # Pull it back: blob GETs go through the storage host, which must not see the token.
            self.syncer("copy", "--src-creds", CREDS, fake.ref("pushed/app", "v1"),
                        self.real.ref("round-trip/app", "v1"), fake=fake)
            self.assert_in_real("round-trip/app", "v1", self.small.digest)
            storage = fake.requests(server="storage")
            self.assertTrue(storage, f"the blobs should have come from the storage host\n{fake.log_text()}")
            leaked = [str(r) for r in storage if r.header("Authorization") is not None]
            self.assertEqual(leaked, [], "Authorization was sent to the storage host")

    # --- 2. identity token from an auth file ---------------------------------------------------------------
    def test_identity_token_uses_oauth2_post(self):
        identity = "fake-identity-" + os.urandom(8).hex()
        with FakeRegistry(bearer=True, users={USER: PASSWORD}, identity_token=identity) as fake, \
                tempfile.TemporaryDirectory() as tmp:
            authfile = os.path.join(tmp, "config.json")
            with open(authfile, "w") as f:
                json.dump({"auths": {fake.host: {"identitytoken": identity}}}, f)
            src = self.real.ref(self.small.repo, self.small.tag)
            result = self.syncer("copy", "--authfile", authfile, src, fake.ref("identity/app", "v1"), fake=fake)
            self.assert_in_fake(fake, "identity/app", "v1", self.small.digest)

            tokens = fake.token_requests()
            posts = [t for t in tokens if t.method == "POST"]
            self.assertTrue(posts, f"no OAuth2 POST to the token endpoint\n{fake.log_text()}")
            self.assertEqual([str(t) for t in tokens if t.method != "POST"], [],
                             "an identity token must not fall back to the GET form")
            for t in posts:
                form = t.form
                self.assertEqual(form.get("grant_type"), ["refresh_token"], str(form))
                self.assertEqual(form.get("refresh_token"), [identity])
                self.assertEqual(form.get("service"), ["fake"])
                self.assertTrue(form.get("client_id"), "client_id is required by the Docker OAuth2 spec")
                self.assertEqual(t.status, 200)
            asked = set().union(*(fake.requested_scopes(t) for t in posts))
            self.assertIn(("repository", "identity/app", "push"), asked)
            self.assertNotIn(identity, result.stdout + result.stderr)

    # --- 3. cross-repository mount with one token for both repositories ------------------------------------
    def test_mount_within_fake_asks_one_token_for_both_repositories(self):
        with FakeRegistry(bearer=True, users={USER: PASSWORD}) as fake:
            image = self.seed_fake(fake, "mount/a")
            self.syncer("copy", "--src-creds", CREDS, "--dest-creds", CREDS, fake.ref("mount/a", "v1"),
                        fake.ref("mount/b", "v1"), fake=fake)
            self.assert_in_fake(fake, "mount/b", "v1", image.digest)

            both = [t for t in fake.token_requests()
                    if {("repository", "mount/b", "push"), ("repository", "mount/a", "pull")}
                    <= fake.requested_scopes(t)]
            self.assertTrue(both, "no single token request asked for push on mount/b and pull on mount/a:\n"
                            + "\n".join(f"{t} {sorted(fake.requested_scopes(t))}" for t in fake.token_requests()))
            posts = fake.requests(method="POST", path_regex=r"^/v2/mount/b/blobs/uploads/")
            mounts = [r for r in posts if r.query.get("mount") and r.query.get("from") == ["mount/a"]]
            blobs = self.blob_digests(fake, "mount/b", image.digest)
            self.assertEqual(sorted(r.query["mount"][0] for r in mounts if r.status == 201), sorted(blobs),
                             f"every blob should be mounted exactly once with 201\n{fake.log_text()}")
            for method in ("PATCH", "PUT"):
                sent = fake.requests(method=method, path_regex=r"^/v2/mount/b/blobs/uploads/")
                self.assertEqual([str(r) for r in sent], [], f"blob data was sent with {method}")

    def test_mount_without_pull_on_source_falls_back_to_upload(self):
        # The destination's user may not read fallback/a, so the registry answers the mount with an upload
        # session (202) instead of 201, as docker-registry does.
        def allow(user: str, repo: str, action: str) -> bool:
            return not (user == "pusher" and repo == "fallback/a")

        with FakeRegistry(bearer=True, users={"reader": "r-pass", "pusher": "p-pass"}, allow=allow) as fake:
            image = self.seed_fake(fake, "fallback/a")
            self.syncer("copy", "--src-creds", "reader:r-pass", "--dest-creds", "pusher:p-pass",
                        fake.ref("fallback/a", "v1"), fake.ref("fallback/b", "v1"), fake=fake)
            self.assert_in_fake(fake, "fallback/b", "v1", image.digest)

            uploads = r"^/v2/fallback/b/blobs/uploads/"
            blobs = self.blob_digests(fake, "fallback/b", image.digest)
            mounts = [r for r in fake.requests(method="POST", path_regex=uploads) if r.query.get("mount")]
            self.assertEqual(sorted({r.query["mount"][0] for r in mounts}), sorted(blobs),
                             f"every blob should have been offered for mounting\n{fake.log_text()}")
            self.assertEqual({r.status for r in mounts if r.status != 401}, {202})
            committed = [r for r in fake.requests(method="PUT", path_regex=uploads) if r.status == 201]
            self.assertEqual(sorted(r.query["digest"][0] for r in committed), sorted(blobs))
            posts = [r for r in fake.requests(method="POST", path_regex=uploads) if r.status != 401]
            self.assertEqual(len(posts), len(blobs),
                             f"the session a refused mount opens should carry the upload\n{fake.log_text()}")

    # --- 4. blob GET redirected to a storage host ----------------------------------------------------------
    def test_blob_redirect_sends_no_credentials_to_storage(self):
        with FakeRegistry(bearer=True, users={USER: PASSWORD}, blob_redirect=True) as fake:
            image = self.seed_fake(fake, "redirect/app")
            self.syncer("copy", "--src-creds", CREDS, fake.ref(image.repo, "v1"),
                        self.real.ref("from-fake/redirect", "v1"), fake=fake)
            self.assert_in_real("from-fake/redirect", "v1", image.digest)

            blobs = self.blob_digests(fake, image.repo, image.digest)
            redirected = {r.path.rsplit("/", 1)[1] for r in fake.requests(server="registry", method="GET")
                          if r.status == 307}
            self.assertEqual(redirected, set(blobs), f"every blob GET should be redirected\n{fake.log_text()}")
            storage = fake.requests(server="storage")
            served = {"sha256:" + r.path.split("/")[2].split("?")[0] for r in storage if r.status == 200}
            self.assertEqual(served, set(blobs), f"the storage host should serve every blob\n{fake.log_text()}")
            leaked = [str(r) for r in storage if r.header("Authorization") is not None]
            self.assertEqual(leaked, [], "Authorization was sent to the storage host")

    # --- 5. tag list pagination with opaque tokens ---------------------------------------------------------
    def test_tags_follow_opaque_link_tokens(self):
        with FakeRegistry(bearer=True, users={USER: PASSWORD}, page_size=5) as fake:
            image = self.seed_fake(fake, "paged/repo")
            body, media_type = fake.manifest(image.repo, image.digest)
            # 23 tags with the seeded "v1": more than four pages of five.
            fake.add_manifest(image.repo, body, media_type, [f"1.{i}.{i % 3}" for i in range(21)] + ["latest"])
            tags = fake.tags(image.repo)
            self.assertEqual(len(tags), 23)

            result = self.syncer("tags", "--creds", CREDS, f"{fake.host}/{image.repo}", fake=fake)
            listed = result.stdout.split()
            self.assertEqual(sorted(listed), tags, "every tag should be printed")
            self.assertEqual(len(listed), len(set(listed)), f"a tag was printed twice: {listed}")

            pages = [r for r in fake.requests(method="GET", path_regex=rf"^/v2/{image.repo}/tags/list")
                     if r.status != 401]
            self.assertEqual([r.status for r in pages], [200] * 5, f"expected 5 pages\n{fake.log_text()}")
            self.assertNotIn("last", pages[0].query)
            self.assertEqual([r.query.get("last", [None])[0] for r in pages[1:]], fake.page_tokens,
                             "the client must send the Link's opaque token back unchanged")

    # --- 6. registry that takes blobs only in chunks -------------------------------------------------------
    def test_chunked_upload_when_monolithic_refused(self):
        with FakeRegistry(monolithic_refused=True, chunk_min=MIB) as fake:
            repo = "chunked/large"
            self.syncer("copy", self.real.ref(self.large.repo, self.large.tag), fake.ref(repo, "v1"), fake=fake)
            self.assert_in_fake(fake, repo, "v1", self.large.digest)

            uploads = rf"^/v2/{repo}/blobs/uploads/"
            patches = fake.requests(method="PATCH", path_regex=uploads)
            self.assertTrue(patches, f"no PATCH request\n{fake.log_text()}")
            by_session: dict[str, list] = {}
            for r in patches:
                self.assertIsNotNone(r.header("Content-Range"), f"PATCH without Content-Range: {r}")
                self.assertEqual(r.status, 202, str(r))
                by_session.setdefault(urllib.parse.urlsplit(r.path).path, []).append(r)
            for session, chunks in by_session.items():
                offset = 0
                for r in chunks:
                    self.assertEqual(r.header("Content-Range"), f"{offset}-{offset + r.body_size - 1}", session)
                    offset += r.body_size
            self.assertGreaterEqual(sum(r.body_size for r in patches), 3 * MIB)
            puts = fake.requests(method="PUT", path_regex=uploads)
            blobs = self.blob_digests(fake, repo, self.large.digest)
            committed = [r for r in puts if r.status == 201]
            self.assertEqual(sorted(r.query["digest"][0] for r in committed), sorted(blobs))
            for r in committed:
                self.assertEqual(r.body_size, 0, f"the closing PUT should have an empty body: {r}")

    def test_broken_chunk_resumes_from_the_registrys_offset(self):
        with FakeRegistry(monolithic_refused=True, reset_patch_once=True) as fake:
            repo = "chunked/resumed"
            self.syncer("copy", self.real.ref(self.large.repo, self.large.tag), fake.ref(repo, "v1"), fake=fake)
            self.assert_in_fake(fake, repo, "v1", self.large.digest)
            self.assertGreater(fake.patch_resets, 0, fake.log_text())

            uploads = rf"^/v2/{repo}/blobs/uploads/"
            by_session: dict[str, list] = {}
            for r in fake.requests(path_regex=uploads):
                if r.method in ("GET", "PATCH"):
                    by_session.setdefault(urllib.parse.urlsplit(r.path).path, []).append(r)
            resumed = 0
            for session, requests in by_session.items():
                kinds = [r.method for r in requests]
                if "GET" not in kinds:
                    continue
                # The broken PATCH, the status query, then the second half only: never the chunk again.
                self.assertEqual(kinds, ["PATCH", "GET", "PATCH"], f"{session}\n{fake.log_text()}")
                first, status, rest = requests
                self.assertEqual(status.status, 204, str(status))
                start, end = (int(x) for x in first.header("Content-Range").split("-"))
                half = (end - start + 1) // 2
                self.assertEqual(rest.header("Content-Range"), f"{start + half}-{end}", str(rest))
                self.assertEqual(rest.status, 202, str(rest))
                resumed += 1
            self.assertEqual(resumed, fake.patch_resets, fake.log_text())

    # --- 6b. single POST uploads (issue 14: one request per blob where the registry takes it) -------------
    def copy_large_into(self, fake: FakeRegistry, repo: str) -> tuple[str, list, list]:
        """`copy` of the large image into `fake`'s `repo`, checked there: the uploads' path pattern, the image's
        blob digests and the POSTs the fake saw."""
        self.syncer("copy", self.real.ref(self.large.repo, self.large.tag), fake.ref(repo, "v1"), fake=fake)
        self.assert_in_fake(fake, repo, "v1", self.large.digest)
        uploads = rf"^/v2/{repo}/blobs/uploads/"
        blobs = self.blob_digests(fake, repo, self.large.digest)
        return uploads, blobs, fake.requests(method="POST", path_regex=uploads)

    def test_single_post_uploads_one_request_per_blob(self):
        with FakeRegistry(single_post=True) as fake:
            repo = "single/large"
            uploads, blobs, posts = self.copy_large_into(fake, repo)
            # The first blob sent probes; once one single POST worked, every later blob goes that way too, but
            # blobs started while the probe was out open a session as usual.
            single = [r for r in posts if r.status == 201 and r.query.get("digest")]
            self.assertGreaterEqual(len(single), 1, fake.log_text())
            for r in single:
                self.assertEqual(r.body_size, next(len(fake.blob(repo, d)) for d in r.query["digest"]))
            opened = [r for r in posts if r.status == 202]
            self.assertEqual(len(single) + len(opened), len(blobs), fake.log_text())
            self.assertEqual(len(fake.requests(method="PUT", path_regex=uploads)), len(opened), fake.log_text())
            self.assertEqual(fake.requests(method="PATCH", path_regex=uploads), [])

    def test_single_post_ignored_falls_back_to_the_opened_session(self):
        with FakeRegistry() as fake:
            uploads, blobs, posts = self.copy_large_into(fake, "single/ignored")
            # One body went in a POST (202: ignored) and again into the session it opened; no POST is wasted.
            with_body = [r for r in posts if r.body_size > 0]
            self.assertEqual(len(with_body), 1, fake.log_text())
            self.assertEqual(with_body[0].status, 202)
            self.assertEqual(len(posts), len(blobs), fake.log_text())
            puts = fake.requests(method="PUT", path_regex=uploads)
            self.assertEqual(sorted(r.query["digest"][0] for r in puts if r.status == 201), sorted(blobs))

    # --- 7. connection reset in the middle of a blob --------------------------------------------------------
    def test_blob_download_resumes_with_range(self):
        with FakeRegistry(reset_blob_once=True) as fake:
            image = self.seed_fake(fake, "resume/app", layer_sizes=(4096, 2 * MIB))
            self.syncer("copy", fake.ref(image.repo, "v1"), self.real.ref("from-fake/resume", "v1"), fake=fake)
            self.assert_in_real("from-fake/resume", "v1", image.digest)

            layer = json.loads(fake.manifest(image.repo, image.digest)[0])["layers"][1]["digest"]
            gets = fake.requests(method="GET", path_regex=rf"^/v2/{image.repo}/blobs/{layer}$")
            self.assertGreaterEqual(len(gets), 2, f"the layer was not fetched again\n{fake.log_text()}")
            self.assertIsNone(gets[0].header("Range"))
            resumed = [r for r in gets[1:] if re.fullmatch(r"bytes=(\d+)-", r.header("Range") or "")]
            self.assertTrue(resumed, f"no GET with Range: bytes=N-\n{fake.log_text()}")
            offset = int(re.fullmatch(r"bytes=(\d+)-", resumed[0].header("Range"))[1])
            self.assertGreater(offset, 0, "the resumed GET should start after the bytes already received")
            self.assertLessEqual(offset, MIB, "the first answer carried only half the layer")
            self.assertEqual(resumed[0].status, 206)

    # --- 8. no Docker-Content-Digest on manifest answers ----------------------------------------------------
    def test_missing_digest_header_falls_back_to_get(self):
        with FakeRegistry(no_digest_header=True) as fake:
            image = self.seed_fake(fake, "nodigest/app", docker=True)
            result = self.syncer("digest", fake.ref(image.repo, "v1"), fake=fake)
            self.assertEqual(result.stdout.strip(), image.digest)
            self.assertTrue(fake.requests(method="GET", path_regex=rf"^/v2/{image.repo}/manifests/v1$"),
                            f"the digest should come from a GET of the manifest\n{fake.log_text()}")

            self.syncer("copy", fake.ref(image.repo, "v1"), self.real.ref("from-fake/nodigest", "v1"), fake=fake)
            self.assert_in_real("from-fake/nodigest", "v1", image.digest)

    # --- RateLimit-Remaining: a used-up pull quota (issue 10: one 429 failed every later pull of the run) ----
    def quota_sync(self, fake: FakeRegistry, tmp: str, prefix: str, count: int, *flags: str, expect: int):
        """Syncs `count` one-image repositories from `fake`, one at a time; returns the result and the repos."""
        repos = [f"{prefix}/app{i}" for i in range(count)]
        for repo in repos:
            self.seed_fake(fake, repo)
        images = os.path.join(tmp, f"{prefix}.yaml")
        with open(images, "w") as f:
            for repo in repos:
                f.write(f"{fake.host}/{repo}:v1: {self.real.host}/from-fake/{repo}\n")
        result = self.syncer("sync", "--images", images, "--proc", "1", *flags, expect=expect, fake=fake)
        return result, repos

    def manifest_gets(self, fake: FakeRegistry, prefix: str) -> list[int]:
        return [r.status for r in fake.requests(method="GET", path_regex=rf"^/v2/{prefix}/[^/]+/manifests/")]

    def copied(self, repos: list[str]) -> list[str]:
        return [repo for repo in repos if harness.tags_of(self.real, f"from-fake/{repo}")]

    def test_quota_with_a_reset_is_waited_for_within_max_wait(self):
        # The IETF shape: `RateLimit-Remaining: 0` + `RateLimit-Reset: 2` on the 429. The registry's pulls wait
        # two seconds, once, and every image arrives.
        with FakeRegistry(pull_limit=3, pull_reset=2) as fake, tempfile.TemporaryDirectory() as tmp:
            result, repos = self.quota_sync(fake, tmp, "waited", 5, expect=0)
            self.assertEqual(self.manifest_gets(fake, "waited"), [200, 200, 200, 429, 200, 200], fake.log_text())
            self.assertEqual(self.copied(repos), repos, result.stderr)

    def test_quota_resetting_beyond_max_wait_fails_at_once_saying_when(self):
        cases = [
            # The message is written when an image fails for the last time, after the retry rounds' pauses.
            (18720, (), r"it resets in 5h 1[12]m \(at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\), later than the maximum "
                        r"wait of 5m"),
            # --retries 0: a retry round two seconds later would find the quota reset.
            (2, ("--max-wait", "1s", "--retries", "0"), r"it resets in [12]s \(at .*later than the maximum wait of 1s"),
        ]
        for reset, flags, words in cases:
            with self.subTest(reset=reset), FakeRegistry(pull_limit=2, pull_reset=reset) as fake, \
                    tempfile.TemporaryDirectory() as tmp:
                result, repos = self.quota_sync(fake, tmp, f"beyond{reset}", 5, *flags, expect=1)
                # Not retried, and the other images' pulls are not sent: they fail at once, saying when.
                self.assertEqual(self.manifest_gets(fake, f"beyond{reset}"), [200, 200, 429], fake.log_text())
                self.assertIn(f"pull limit of {fake.host} used up; ", result.stderr)
                self.assertRegex(result.stderr, words)
                self.assertEqual(len(self.copied(repos)), 2, result.stderr)

    def test_quota_without_a_reset_is_retried_not_refused_for_the_run(self):
        # Docker Hub's shape: `ratelimit-remaining: 0;w=21600` and no reset or Retry-After. The window is not
        # when the quota resets, so nothing is refused locally: each pull is retried with backoff (2 sends
        # with --retries 1, in each of 2 rounds), and the message says the limit is used up.
        with FakeRegistry(pull_limit=2) as fake, tempfile.TemporaryDirectory() as tmp:
            result, repos = self.quota_sync(fake, tmp, "hub", 4, "--retries", "1", expect=1)
            self.assertEqual(self.manifest_gets(fake, "hub"), [200, 200] + [429] * 8, fake.log_text())
            self.assertIn("pull limit is used up (RateLimit-Remaining 0 in a window of 6h) and it did not say "
                          "when the limit resets", result.stderr)
            self.assertEqual(len(self.copied(repos)), 2, result.stderr)

    # --- 9. 503 with an HTML body and Retry-After -----------------------------------------------------------
    def test_html_503_is_retried(self):
        with FakeRegistry(html_errors=True, fail_first=2) as fake:
            image = self.seed_fake(fake, "flaky/app")
            self.syncer("copy", fake.ref(image.repo, "v1"), self.real.ref("from-fake/flaky", "v1"), fake=fake)
            self.assert_in_real("from-fake/flaky", "v1", image.digest)
            named = fake.requests(path_regex=r"^/v2/[^?]+/")
            self.assertEqual([r.status for r in named[:2]], [503, 503])
            self.assertNotIn(503, [r.status for r in named[2:]])

    def test_html_503_error_message(self):
        with FakeRegistry(html_errors=True, fail_first=100) as fake:
            image = self.seed_fake(fake, "down/app")
            # `inspect` fails on a GET, whose answer carries the page.
            result = self.syncer("inspect", "--retry-times", "1", fake.ref(image.repo, "v1"), expect=1, fake=fake)
            self.assertIn("503", result.stderr)
            self.assertIn("HTML page", result.stderr)
            self.assertNotIn("<html", result.stderr.lower(), "raw HTML must not reach the user")
            self.assertEqual(len(fake.requests(path_regex=r"^/v2/[^?]+/")), 2,
                             "--retry-times 1 means one retry of the failing request")

    def test_html_503_on_copy_says_html_page(self):
        # A copy fails on its first request, a HEAD: no body, but `Content-Type: text/html` says the same.
        with FakeRegistry(html_errors=True, fail_first=100) as fake:
            image = self.seed_fake(fake, "down/app")
            result = self.syncer("copy", "--retry-times", "1", fake.ref(image.repo, "v1"),
                                 self.real.ref("from-fake/down", "v1"), expect=1, fake=fake)
            self.assertIn("503", result.stderr)
            self.assertNotIn("<html", result.stderr.lower(), "raw HTML must not reach the user")
            self.assertEqual(len(fake.requests(path_regex=r"^/v2/[^?]+/")), 2,
                             "--retry-times 1 means one retry of the failing request")
            self.assertIn("HTML page", result.stderr, "the user should learn that a web server, not the "
                          "registry, answered (the HEAD's Content-Type is text/html)")

    # --- 10. secrets never reach the output -----------------------------------------------------------------
    def test_secrets_stay_out_of_output(self):
        secret = "SECRET-PASS-123"
        src = self.real.ref(self.small.repo, self.small.tag)
        cases = {
            # The token endpoint refuses the password.
            "wrong password": dict(users={USER: "the-right-one"}),
            # Tokens are issued but lack push, so the registry keeps answering 401 insufficient_scope.
            "push denied": dict(users={USER: secret}, allow=lambda user, repo, action: action == "pull"),
        }
        for name, options in cases.items():
            with self.subTest(name), FakeRegistry(bearer=True, **options) as fake:
                result = self.syncer("copy", "--dest-creds", f"{USER}:{secret}", src,
                                     fake.ref("secret/app", "v1"), expect=1, fake=fake)
                output = result.stdout + result.stderr
                self.assertNotIn(secret, output)
                self.assertNotIn(basic(USER, secret).split()[1], output)
                for token in fake.issued_tokens:
                    self.assertNotIn(token, output)
                self.assertTrue(fake.token_requests(), "the failure should come from token auth")
                if name == "push denied":
                    self.assertTrue(fake.issued_tokens, "tokens should have been issued")
                self.assertIn(fake.host, result.stderr, "the message should name the registry")


    # --- Docker schema 1 -----------------------------------------------------------------------------------
    def test_signed_schema1_digest_sizes_and_copy(self):
        """Before: `inspect` printed the digest of the signed bytes while `digest` printed the registry's (of the
        payload without signatures), and `copy` printed `(-1 B)` per layer and `0 B sent`."""
        layers = [b"schema1 layer one " * 100, b"schema1 layer two " * 50]
        layer_digests = [sha256(data) for data in layers]
        payload, signed = artifacts.signed_schema1("old/app", "v1", layers)
        with FakeRegistry() as src, FakeRegistry() as dst:
            for data in layers:
                src.add_blob("old/app", data)
            stored_as = src.add_manifest("old/app", signed, artifacts.SCHEMA1_SIGNED, ["v1"])
            self.assertEqual(stored_as, sha256(payload), "the fake names schema 1 as registries do")
            image = f"{src.host}/old/app:v1"
            digest = self.syncer("digest", image, fake=src).stdout.strip()
            inspected = json.loads(self.syncer("inspect", image, fake=src).stdout)
            self.assertEqual(digest, sha256(payload))
            self.assertEqual(inspected["digest"], digest, "inspect and digest must agree")

            result = self.syncer("copy", image, f"{dst.host}/old/app:v1", fake=dst)
            self.assertNotIn("-1 B", result.stderr)
            self.assertNotIn(" 0 B sent", result.stderr)
            self.assertIn(f"{sum(len(d) for d in layers) / 1024:.1f} KiB sent", result.stderr)
            self.assertIn(digest, result.stderr)
            copied = dst.manifest("old/app", "v1")
            self.assertIsNotNone(copied)
            self.assertEqual(copied[0], signed, "the signed bytes are copied unchanged")
            for d, data in zip(layer_digests, layers):
                self.assertEqual(dst.blob("old/app", d), data)

    # Issue 10: a registry (or a proxy) that echoes the request's credentials in its error messages and in a
    # header of its own. Every secret syncer knows is scrubbed from every output: stderr, stdout, the text and
    # JSON logs, the report, the failed-images file and --debug, for sync and for copy.
    def test_echoed_credentials_are_scrubbed_from_every_output(self):
        src_user, src_pass = "echo-reader", "Src-TopS3cretPW"
        dst_user, dst_pass = "echo-pusher", "Dst-TopS3cretPW"

        def allow(user: str, repo: str, action: str) -> bool:
            return not (action == "push" and repo.startswith("echo/denied"))

        with FakeRegistry(bearer=True, users={src_user: src_pass}, echo_auth=True) as src, \
                FakeRegistry(basic=True, users={dst_user: dst_pass}, allow=allow, echo_auth=True) as dst, \
                tempfile.TemporaryDirectory(prefix="syncer-echo-") as tmp:
            image = self.seed_fake(src, "echo/app")
            auth = os.path.join(tmp, "auth.yaml")
            with open(auth, "w") as f:
                f.write(f'"{src.host}": {{username: "{src_user}", password: "{src_pass}"}}\n'
                        f'"{dst.host}": {{username: "{dst_user}", password: "{dst_pass}"}}\n')
            images = os.path.join(tmp, "images.yaml")
            with open(images, "w") as f:
                # Copied; refused with 403 (echoing Basic); a missing tag (a HEAD: no body); a repository whose
                # tag list is a 404 echoing the bearer token.
                f.write(f'"{src.ref("echo/app", "v1")}": ["{dst.host}/echo/ok", "{dst.host}/echo/denied/app"]\n'
                        f'"{src.ref("echo/app", "no-such-tag")}": "{dst.host}/echo/missing"\n'
                        f'"{src.host}/echo/no-such-repo": "{dst.host}/echo/nothing"\n')
            outputs = []
            for n, extra in enumerate((["--log-format", "json", "--log", os.path.join(tmp, "sync.json.log")],
                                       ["--log", os.path.join(tmp, "sync.log"), "--debug"], ["--debug"])):
                report = os.path.join(tmp, f"report{n}.json")
                failed = os.path.join(tmp, f"failed{n}.yaml")
                result = self.syncer("sync", "--auth", auth, "--images", images, "--retries", "0",
                                     "--report", report, "--output-failed-images", failed, *extra, expect=1)
                outputs += [result.stdout, result.stderr]
                for path in (report, failed):
                    with open(path) as f:
                        outputs.append(f.read())
            for name in ("sync.json.log", "sync.log"):
                with open(os.path.join(tmp, name)) as f:
                    outputs.append(f.read())
            self.assert_in_fake(dst, "echo/ok", "v1", image.digest)
            # copy: a push refused (403 echoing Basic), and a missing tag at a Basic-auth source (404 echoing it).
            for args in (["--src-creds", f"{src_user}:{src_pass}", "--dest-creds", f"{dst_user}:{dst_pass}",
                          src.ref("echo/app", "v1"), dst.ref("echo/denied/copy", "v1")],
                         ["--src-creds", f"{dst_user}:{dst_pass}", dst.ref("echo/ok", "no-such-tag"),
                          src.ref("echo/back", "v1")]):
                for debug in ([], ["--debug"]):
                    result = run_syncer(*debug, "copy", "--retry-times", "0", *args)
                    self.assertEqual(result.returncode, 1, describe(result))
                    outputs += [result.stdout, result.stderr]
            for user, password, registry in ((dst_user, dst_pass, dst), (src_user, src_pass, src)):
                result = run_syncer("inspect", "--creds", f"{user}:{password}", registry.ref("echo/app", "no-such-tag"))
                self.assertEqual(result.returncode, 1, describe(result))
                outputs += [result.stdout, result.stderr]

            text = "\n".join(outputs)
            # The fakes did echo, and syncer did report what they said, scrubbed.
            self.assertTrue([e for e in dst.requests() if e.status == 403], dst.log_text())
            self.assertIn("decoded [REDACTED]", text)
            self.assertIn("denied for [Basic REDACTED]", text)
            self.assertIn("denied for [Bearer REDACTED]", text)
            self.assertIn("debug: <   X-Echo: REDACTED", text)
            self.assertIn("echo/denied/app", text)
            secrets = {"source password": src_pass, "destination password": dst_pass,
                       "source basic": basic(src_user, src_pass).split()[1],
                       "destination basic": basic(dst_user, dst_pass).split()[1]}
            self.assertTrue(src.issued_tokens)
            secrets.update({f"token {i}": t for i, t in enumerate(src.issued_tokens)})
            for name, secret in secrets.items():
                self.assertNotIn(secret, text, f"the {name} appeared in syncer's output, log or report")


if __name__ == "__main__":
    unittest.main()
