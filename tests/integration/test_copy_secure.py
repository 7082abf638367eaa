"""`syncer copy` with credentials, TLS and an HTTP proxy, against docker-registry processes on loopback."""

import base64
import contextlib
import json
import os
import re
import tempfile
import unittest

import harness
import seed
from harness import describe, run_syncer, sha256, skopeo_inspect_raw, verify_tree


class SecureCopyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        stack = contextlib.ExitStack()
        cls.addClassCleanup(stack.close)
        cls.plain = stack.enter_context(harness.Registry(name="plain"))
        cls.auth = stack.enter_context(harness.Registry(name="auth", auth="htpasswd"))
        cls.tls = stack.enter_context(harness.Registry(name="tls", tls=True))
        cls.proxy = stack.enter_context(harness.Tinyproxy())
        # A HOME without ~/.docker/config.json or containers auth files, so only explicit credentials count.
        cls.home = stack.enter_context(tempfile.TemporaryDirectory(prefix="syncer-home-"))
        cls.image = seed.push_docker_v2(seed.Client.for_registry(cls.plain))
        cls.index = seed.push_oci_index(seed.Client.for_registry(cls.auth))

    def syncer(self, *args: str, expect: int, env: dict | None = None):
        result = run_syncer(*args, env={"HOME": self.home, "XDG_RUNTIME_DIR": None, **(env or {})})
        self.assertEqual(result.returncode, expect, describe(result))
        return result

    def plain_source(self) -> str:
        return self.plain.ref(self.image.repo, self.image.tag)

    def assert_copied(self, registry, repo: str, tag: str, digest: str) -> None:
        raw = skopeo_inspect_raw(registry.ref(repo, tag), creds=registry.creds, tls_verify=registry.tls,
                                 cert_dir=registry.cert_dir)
        self.assertEqual(sha256(raw), digest, f"{registry.ref(repo, tag)} differs from the source")
        self.assertEqual(verify_tree(registry, repo, digest), [])

    # --- credentials -----------------------------------------------------------------------------------
    def test_dest_creds(self):
        self.syncer("copy", "--dest-creds", self.auth.creds, self.plain_source(),
                    self.auth.ref("creds/docker-v2", "v1"), expect=0)
        self.assert_copied(self.auth, "creds/docker-v2", "v1", self.image.digest)

    def test_dest_wrong_password_fails_without_leaking_it(self):
        wrong = "Wr0ng-Secret-4711"
        result = self.syncer("copy", "--dest-creds", f"{self.auth.user}:{wrong}", self.plain_source(),
                             self.auth.ref("creds/wrong", "v1"), expect=1)
        self.assertRegex(result.stderr, re.compile(r"authenticat|unauthori[sz]ed", re.I),
                         "the message should say authentication failed")
        for stream in (result.stdout, result.stderr):
            self.assertNotIn(wrong, stream, "the password must never be printed")
            self.assertNotIn(base64.b64encode(f"{self.auth.user}:{wrong}".encode()).decode(), stream)

    def test_source_without_credentials_fails(self):
        result = self.syncer("copy", self.auth.ref(self.index.repo, self.index.tag),
                             self.plain.ref("anonymous/oci-index", "v1"), expect=1)
        self.assertRegex(result.stderr, re.compile(r"authenticat|unauthori[sz]ed|credential", re.I))

    def test_source_authfile(self):
        authfile = os.path.join(self.home, "config.json")
        token = base64.b64encode(self.auth.creds.encode()).decode()
        with open(authfile, "w") as f:
            json.dump({"auths": {self.auth.host: {"auth": token}}}, f)
        self.syncer("copy", "--authfile", authfile, self.auth.ref(self.index.repo, self.index.tag),
                    self.plain.ref("authfile/oci-index", "v1"), expect=0)
        self.assert_copied(self.plain, "authfile/oci-index", "v1", self.index.digest)

    def test_inspect_with_creds(self):
        ref = self.auth.ref(self.index.repo, self.index.tag)
        result = self.syncer("digest", "--creds", self.auth.creds, ref, expect=0)
        self.assertEqual(result.stdout.strip(), self.index.digest)
        result = self.syncer("tags", "--creds", self.auth.creds, f"{self.auth.host}/{self.index.repo}", expect=0)
        self.assertEqual(result.stdout.split(), [self.index.tag])

    # --- passwords kept out of the command line (issue 10) ---------------------------------------------
    def test_dest_password_from_stdin_is_not_in_argv(self):
        args = ["copy", "--dest-creds", self.auth.user, "--dest-password-stdin", self.plain_source(),
                self.auth.ref("creds/stdin", "v1")]
        self.assertNotIn(self.auth.password, " ".join(args))
        proc = harness.SyncerProcess(*args, env={"HOME": self.home, "XDG_RUNTIME_DIR": None}, stdin_pipe=True)
        try:
            # syncer waits for the password before it contacts a registry: its arguments can be read meanwhile,
            # as `ps` would.
            with open(f"/proc/{proc.proc.pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            self.assertIn(b"--dest-password-stdin", argv)
            self.assertNotIn(self.auth.password.encode(), b" ".join(argv))
            proc.proc.stdin.write(self.auth.password + "\n")  # as `echo "$PW" |` sends it
            proc.proc.stdin.close()
        finally:
            status = proc.wait(timeout=120)
        self.assertEqual(status, 0, proc.describe())
        self.assert_copied(self.auth, "creds/stdin", "v1", self.image.digest)
        self.assertNotIn(self.auth.password, proc.stderr + proc.stdout)

    def test_password_from_environment_variable(self):
        env = {"SYNCER_TEST_REGISTRY_PW": self.auth.password}
        args = ["copy", "--dest-creds", self.auth.user, "--dest-password-env", "SYNCER_TEST_REGISTRY_PW",
                self.plain_source(), self.auth.ref("creds/env", "v1")]
        self.assertNotIn(self.auth.password, " ".join(args))
        result = self.syncer(*args, expect=0, env=env)
        self.assert_copied(self.auth, "creds/env", "v1", self.image.digest)
        # The same for the query commands' --creds, and for the source side.
        ref = self.auth.ref("creds/env", "v1")
        result = self.syncer("digest", "--creds", self.auth.user, "--password-env", "SYNCER_TEST_REGISTRY_PW",
                             ref, expect=0, env=env)
        self.assertEqual(result.stdout.strip(), self.image.digest)
        self.syncer("copy", "--src-creds", self.auth.user, "--src-password-env", "SYNCER_TEST_REGISTRY_PW", ref,
                    self.plain.ref("creds/from-env", "v1"), expect=0, env=env)
        self.assert_copied(self.plain, "creds/from-env", "v1", self.image.digest)

    def test_password_flags_misused_are_usage_errors(self):
        src, dst = self.plain_source(), self.auth.ref("creds/misused", "v1")
        env = {"SYNCER_TEST_EMPTY": "", "SYNCER_TEST_UNSET": None}
        cases = {
            "both sides from stdin": (["--src-creds", "u", "--src-password-stdin", "--dest-creds",
                                       self.auth.user, "--dest-password-stdin"], "stdin can give only one"),
            "no user": (["--dest-password-stdin"], "--dest-password-stdin needs --dest-creds USER"),
            "password twice": (["--dest-creds", f"{self.auth.user}:Twice-S3cret", "--dest-password-env",
                                "SYNCER_TEST_EMPTY"], "gives the password already"),
            "stdin and env": (["--dest-creds", self.auth.user, "--dest-password-stdin", "--dest-password-env",
                               "SYNCER_TEST_EMPTY"], "both give the password"),
            "unset variable": (["--dest-creds", self.auth.user, "--dest-password-env", "SYNCER_TEST_UNSET"],
                               "SYNCER_TEST_UNSET: that environment variable is not set"),
            "empty variable": (["--dest-creds", self.auth.user, "--dest-password-env", "SYNCER_TEST_EMPTY"],
                               "that environment variable is empty"),
            "empty stdin": (["--dest-creds", self.auth.user, "--dest-password-stdin"], "stdin gave no password"),
        }
        for name, (flags, message) in cases.items():
            with self.subTest(name):
                result = self.syncer("copy", *flags, src, dst, expect=2, env=env)
                self.assertIn(message, result.stderr)
                self.assertNotIn("Twice-S3cret", result.stderr)
        self.assertEqual(self.auth.count("PUT", r"^/v2/creds/misused/"), 0)

    # --- a mistyped flag does not echo its value (issue 10) ---------------------------------------------
    def test_mistyped_credentials_flag_is_not_echoed(self):
        secret = "Typo-S3cretPW"
        cases = {
            "--dest-cred VALUE": (["--dest-cred", f"user:{secret}"], "--dest-cred", "--dest-creds"),
            "--dest-cred=VALUE": ([f"--dest-cred=user:{secret}"], "--dest-cred=...", "--dest-creds"),
            "--src-pasword-stdin": (["--src-pasword-stdin", secret], "--src-pasword-stdin",
                                    "--src-password-stdin"),
            "skopeo's --creds": (["--creds", f"user:{secret}"], "--creds", "--src-creds or --dest-creds"),
        }
        for name, (flags, typed, suggestion) in cases.items():
            with self.subTest(name):
                result = self.syncer("copy", self.plain_source(), self.auth.ref("creds/typo", "v1"), *flags,
                                     expect=2)
                self.assertNotIn(secret, result.stdout + result.stderr)
                self.assertIn(f"unknown option {typed} (did you mean {suggestion}?)", result.stderr)
                self.assertIn("not shown", result.stderr, "the value should be counted, not shown")
        # The query commands report the same way.
        result = self.syncer("inspect", "--cred", f"user:{secret}", self.plain_source(), expect=2)
        self.assertNotIn(secret, result.stderr)
        self.assertIn("did you mean --creds?", result.stderr)
        self.assertEqual(self.auth.count("PUT", r"^/v2/creds/typo/"), 0)

    # --- TLS -------------------------------------------------------------------------------------------
    def test_tls_with_cert_dir(self):
        self.syncer("copy", "--dest-cert-dir", self.tls.cert_dir, self.plain_source(),
                    self.tls.ref("tls/cert-dir", "v1"), expect=0)
        self.assert_copied(self.tls, "tls/cert-dir", "v1", self.image.digest)

    def test_tls_untrusted_certificate_fails(self):
        result = self.syncer("copy", self.plain_source(), self.tls.ref("tls/untrusted", "v1"), expect=1)
        self.assertRegex(result.stderr, re.compile(r"certificate", re.I),
                         "the message should say the certificate was not trusted")
        self.assertEqual(self.tls.count("PUT", r"^/v2/tls/untrusted/"), 0)

    def test_inspect_with_cert_dir(self):
        self.syncer("copy", "--dest-cert-dir", self.tls.cert_dir, self.plain_source(),
                    self.tls.ref("tls/inspected", "v1"), expect=0)
        ref = self.tls.ref("tls/inspected", "v1")
        result = self.syncer("inspect", "--raw", "--cert-dir", self.tls.cert_dir, ref, expect=0)
        self.assertEqual(sha256(result.stdout.encode()), self.image.digest)
        self.syncer("digest", "--tls-verify=false", ref, expect=0)

    def test_tls_verify_false(self):
        self.syncer("copy", "--dest-tls-verify=false", self.plain_source(), self.tls.ref("tls/no-verify", "v1"),
                    expect=0)
        self.assert_copied(self.tls, "tls/no-verify", "v1", self.image.digest)

    def test_tls_source_with_cert_dir(self):
        self.syncer("copy", "--dest-cert-dir", self.tls.cert_dir, self.plain_source(),
                    self.tls.ref("tls/as-source", "v1"), expect=0)
        self.syncer("copy", "--src-cert-dir", self.tls.cert_dir, self.tls.ref("tls/as-source", "v1"),
                    self.plain.ref("from-tls/docker-v2", "v1"), expect=0)
        self.assert_copied(self.plain, "from-tls/docker-v2", "v1", self.image.digest)

    # --- proxy -----------------------------------------------------------------------------------------
    def test_through_https_proxy(self):
        before = len(self.proxy.connects())
        self.syncer("copy", "--dest-cert-dir", self.tls.cert_dir, self.plain_source(),
                    self.tls.ref("proxied/docker-v2", "v1"), expect=0,
                    env={"HTTPS_PROXY": self.proxy.url, "HTTP_PROXY": self.proxy.url})
        connects = self.proxy.connects()[before:]
        self.assertIn(self.tls.host, connects, f"no CONNECT to {self.tls.host} through the proxy: {connects}")
        self.assert_copied(self.tls, "proxied/docker-v2", "v1", self.image.digest)


if __name__ == "__main__":
    unittest.main()
