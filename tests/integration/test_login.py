"""`syncer login` / `syncer logout` (issue 13, item 7) against a docker-registry with htpasswd Basic auth: the
auth file skopeo and docker read, written atomically with mode 0600, other entries kept; wrong credentials
write nothing; a credential helper named in the file is used instead of the file."""

import base64
import contextlib
import json
import os
import stat
import subprocess
import tempfile
import textwrap
import unittest

import harness
import seed
from harness import describe


def run(*args: str, stdin: str = "", env: dict | None = None) -> subprocess.CompletedProcess:
    """syncer with `stdin` as its input (run_syncer gives it none)."""
    return subprocess.run([harness._syncer_binary(), *args], input=stdin, capture_output=True, text=True,
                          env=harness._syncer_env(env), timeout=120)


class LoginTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        stack = contextlib.ExitStack()
        cls.addClassCleanup(stack.close)
        cls.auth = stack.enter_context(harness.Registry(name="auth", auth="htpasswd"))
        cls.plain = stack.enter_context(harness.Registry(name="plain"))
        cls.image = seed.push_docker_v2(seed.Client.for_registry(cls.auth))

    def setUp(self):
        self.tmp = self.enterContext(tempfile.TemporaryDirectory(prefix="syncer-login-"))
        self.home = os.path.join(self.tmp, "home")
        os.mkdir(self.home)
        self.env = {"HOME": self.home, "XDG_RUNTIME_DIR": None, "REGISTRY_AUTH_FILE": None}

    def syncer(self, *args: str, expect: int, stdin: str = "", env: dict | None = None):
        result = run(*args, stdin=stdin, env={**self.env, **(env or {})})
        self.assertEqual(result.returncode, expect, describe(result))
        for stream in (result.stdout, result.stderr):
            self.assertNotIn(self.auth.password, stream, "the password must never be printed")
        return result

    def login(self, *extra: str, password: str | None = None, expect: int = 0, env: dict | None = None):
        return self.syncer("login", "-u", self.auth.user, "--password-stdin", *extra, self.auth.host,
                           stdin=(password or self.auth.password) + "\n", expect=expect, env=env)

    def test_login_writes_the_auth_file_that_skopeo_and_copy_use_and_logout_removes_only_it(self):
        authfile = os.path.join(self.tmp, "new-dir", "auth.json")
        os.mkdir(os.path.dirname(authfile))
        other = {"auth": base64.b64encode(b"someone:else").decode(), "email": "kept@example.com"}
        with open(authfile, "w") as f:
            json.dump({"auths": {"quay.io": other}, "credHelpers": {"gcr.io": "gcloud"}}, f)
        os.chmod(authfile, 0o644)

        result = self.login("--authfile", authfile)
        self.assertEqual(result.stdout, "Login Succeeded!\n")
        self.assertEqual(stat.S_IMODE(os.stat(authfile).st_mode), 0o600)
        with open(authfile) as f:
            doc = json.load(f)
        self.assertEqual(doc["auths"][self.auth.host],
                         {"auth": base64.b64encode(self.auth.creds.encode()).decode()})
        self.assertEqual(doc["auths"]["quay.io"], other)
        self.assertEqual(doc["credHelpers"], {"gcr.io": "gcloud"})
        self.assertEqual(sorted(os.listdir(os.path.dirname(authfile))), ["auth.json"], "no temporary file left")

        ref = self.auth.ref(self.image.repo, self.image.tag)
        r = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", "--authfile", authfile,
                            f"docker://{ref}"], capture_output=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(seed.sha256(r.stdout), self.image.digest)
        self.syncer("copy", "--authfile", authfile, ref, self.plain.ref("login/copied", "v1"), expect=0)
        self.assertEqual(harness.tag_digests(self.plain, "login/copied"), {"v1": self.image.digest})

        result = self.syncer("logout", "--authfile", authfile, self.auth.host, expect=0)
        self.assertIn(f"Removed login credentials for {self.auth.host}", result.stdout)
        with open(authfile) as f:
            doc = json.load(f)
        self.assertEqual(doc["auths"], {"quay.io": other})
        self.assertEqual(doc["credHelpers"], {"gcr.io": "gcloud"})
        result = self.syncer("logout", "--authfile", authfile, self.auth.host, expect=1)
        self.assertIn(f"not logged in to {self.auth.host}", result.stderr)
        self.syncer("copy", "--authfile", authfile, ref, self.plain.ref("login/after-logout", "v1"), expect=1)

        self.syncer("logout", "--authfile", authfile, "--all", expect=0)
        with open(authfile) as f:
            self.assertEqual(json.load(f)["auths"], {})

    def test_default_file_is_skopeos(self):
        runtime = os.path.join(self.tmp, "run")
        os.mkdir(runtime)
        self.login(env={"XDG_RUNTIME_DIR": runtime})
        path = os.path.join(runtime, "containers", "auth.json")
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode), 0o700)
        # syncer finds it by default too.
        self.syncer("digest", self.auth.ref(self.image.repo, self.image.tag), expect=0,
                    env={"XDG_RUNTIME_DIR": runtime})
        chosen = os.path.join(self.tmp, "chosen.json")
        self.login(env={"XDG_RUNTIME_DIR": runtime, "REGISTRY_AUTH_FILE": chosen})
        with open(chosen) as f:
            self.assertIn(self.auth.host, json.load(f)["auths"])

    def test_wrong_password_fails_and_writes_nothing(self):
        authfile = os.path.join(self.tmp, "auth.json")
        wrong = "Wr0ng-Secret-4711"
        result = self.login("--authfile", authfile, password=wrong, expect=1)
        self.assertIn(f"login to {self.auth.host} failed: unauthorized", result.stderr)
        for stream in (result.stdout, result.stderr):
            self.assertNotIn(wrong, stream)
            self.assertNotIn(base64.b64encode(f"{self.auth.user}:{wrong}".encode()).decode(), stream)
        self.assertFalse(os.path.exists(authfile))

    def test_usage_errors(self):
        r = self.syncer("login", "-u", "x", self.auth.host, expect=2)
        self.assertIn("--password-stdin", r.stderr)
        r = self.syncer("logout", expect=2)
        self.assertIn("--all", r.stderr)
        r = self.syncer("login", "-u", self.auth.user, "-p", self.auth.password, "--authfile",
                        os.path.join(self.tmp, "a.json"), self.auth.host, expect=0)
        self.assertIn("--password-stdin", r.stderr, "a password on the command line earns a warning")

    def test_credential_helper_named_in_the_file_stores_and_erases(self):
        bin_dir = os.path.join(self.tmp, "bin")
        os.mkdir(bin_dir)
        store = os.path.join(self.tmp, "helper-store")
        log = os.path.join(self.tmp, "helper-log")
        helper = os.path.join(bin_dir, "docker-credential-fake")
        with open(helper, "w") as f:
            f.write(textwrap.dedent(f"""\
                #!/usr/bin/env python3
                import json, os, sys
                action, data = sys.argv[1], sys.stdin.read()
                with open({log!r}, "a") as log:
                    log.write(json.dumps([action, data]) + "\\n")
                if action == "store":
                    open({store!r}, "w").write(data)
                elif action == "get":
                    if not os.path.exists({store!r}):
                        print("credentials not found in native keychain"); sys.exit(1)
                    d = json.load(open({store!r}))
                    print(json.dumps({{"ServerURL": d["ServerURL"], "Username": d["Username"], "Secret": d["Secret"]}}))
                elif action == "erase":
                    if not os.path.exists({store!r}):
                        print("credentials not found in native keychain"); sys.exit(1)
                    os.remove({store!r})
                """))
        os.chmod(helper, 0o755)
        env = {"PATH": bin_dir + os.pathsep + os.environ["PATH"]}
        authfile = os.path.join(self.tmp, "config.json")
        original = json.dumps({"credHelpers": {self.auth.host: "fake"}}).encode()
        with open(authfile, "wb") as f:
            f.write(original)

        self.login("--authfile", authfile, env=env)
        with open(authfile, "rb") as f:
            self.assertEqual(f.read(), original, "with a helper the file is left alone")
        with open(store) as f:
            self.assertEqual(json.load(f), {"ServerURL": self.auth.host, "Username": self.auth.user,
                                            "Secret": self.auth.password})
        self.syncer("copy", "--authfile", authfile, self.auth.ref(self.image.repo, self.image.tag),
                    self.plain.ref("login/helper", "v1"), expect=0, env=env)

        self.syncer("logout", "--authfile", authfile, self.auth.host, expect=0, env=env)
        self.assertFalse(os.path.exists(store))
        with open(log) as f:
            actions = [json.loads(line) for line in f]
        self.assertEqual([a for a, _ in actions if a != "get"], ["store", "erase"])
        self.assertEqual(actions[-1], ["erase", self.auth.host])
        self.syncer("logout", "--authfile", authfile, self.auth.host, expect=1, env=env)


if __name__ == "__main__":
    unittest.main()
