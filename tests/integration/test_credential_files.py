"""Credentials files readable or writable by others are named on stderr, once per file, with the fix.

Every way syncer reads secrets from a file is covered: image-syncer's --auth and --config files, `syncer jobs
--auth-file`, skopeo-style --authfile, and the docker/containers auth files found without flags. HOME points
into the test's directory, so a developer's own ~/.docker/config.json cannot add warnings.
"""

import os
import re
import unittest

import harness
import seed
from harness import describe, run_syncer

WARNING = re.compile(r"^syncer: warning: (?:credentials file|TLS client key) (\S+) is (.*) \(mode (\d{4})\); "
                     r"make it private to its owner with: chmod 600 (\S+)$", re.M)


class CredentialFilesTest(harness.TempDirTestCase):
    @classmethod
    def setUpClass(cls):
        cls.src, cls.dst = harness.class_registries(cls, "src", "dst")
        seed.push_image(seed.Client.for_registry(cls.src), "creds/app", "creds/app", tag="v1")

    def setUp(self):
        super().setUp()
        self.home = os.path.join(self.tmp, "home")
        os.makedirs(self.home)
        self.env = {"HOME": self.home, "XDG_RUNTIME_DIR": None}
        self.images = self.write("images.yaml", f'"{self.src.host}/creds/app": "{self.dst.host}/creds/app"\n')

    def secret(self, name: str, text: str, mode: int) -> str:
        path = self.write(name, text)
        os.chmod(path, mode)
        return path

    def auth_yaml(self, mode: int) -> str:
        return self.secret("auth.yaml", f'"{self.dst.host}":\n  username: mirror\n  password: s3cret\n', mode)

    def docker_config(self, mode: int) -> str:
        return self.secret("config.json", f'{{"auths": {{"{self.dst.host}": {{"auth": "bWlycm9yOnMzY3JldA=="}}}}}}\n',
                           mode)

    def warnings(self, result) -> list[tuple[str, str, str]]:
        found = [(m[1], m[2], m[3]) for m in WARNING.finditer(result.stderr)]
        for m in WARNING.finditer(result.stderr):
            self.assertEqual(m[1], m[4], "the fix names another file")
        self.assertEqual(len(found), result.stderr.count("syncer: warning: "), result.stderr)
        return found

    def test_auth_file_open_to_others_is_named_once(self):
        auth = self.auth_yaml(0o644)
        result = run_syncer("sync", "--auth", auth, "--images", self.images, env=self.env)
        self.assertEqual(result.returncode, 0, describe(result))
        self.assertEqual(self.warnings(result), [(auth, "readable by group and others", "0644")])

    def test_private_files_get_no_warning(self):
        auth = self.auth_yaml(0o600)
        config_dir = os.path.join(self.tmp, "docker")
        os.makedirs(config_dir)
        os.rename(self.docker_config(0o600), os.path.join(config_dir, "config.json"))
        env = {**self.env, "DOCKER_CONFIG": config_dir}
        result = run_syncer("sync", "--auth", auth, "--images", self.images, env=env)
        self.assertEqual(result.returncode, 0, describe(result))
        self.assertEqual(self.warnings(result), [])
        self.assertNotIn("warning", result.stderr)

    def test_combined_config_with_credentials(self):
        config = self.secret("config.yaml",
                             f'auth:\n  "{self.dst.host}":\n    username: mirror\n    password: s3cret\n'
                             f'images:\n  "{self.src.host}/creds/app": "{self.dst.host}/creds/app"\n', 0o660)
        result = run_syncer("sync", "--config", config, env=self.env)
        self.assertEqual(result.returncode, 0, describe(result))
        self.assertEqual(self.warnings(result), [(config, "readable by group, writable by group", "0660")])

    def test_default_docker_config_is_checked_once_for_all_registries(self):
        config_dir = os.path.join(self.tmp, "docker")
        os.makedirs(config_dir)
        path = os.path.join(config_dir, "config.json")
        os.rename(self.docker_config(0o604), path)
        env = {**self.env, "DOCKER_CONFIG": config_dir}
        result = run_syncer("sync", "--images", self.images, env=env)
        self.assertEqual(result.returncode, 0, describe(result))
        self.assertEqual(self.warnings(result), [(path, "readable by others", "0604")])

        home_config = os.path.join(self.home, ".docker", "config.json")
        os.makedirs(os.path.dirname(home_config))
        os.rename(path, home_config)
        copied = run_syncer("copy", self.src.ref("creds/app", "v1"), self.dst.ref("creds/app", "home"),
                            env=self.env)
        self.assertEqual(copied.returncode, 0, describe(copied))
        self.assertEqual(self.warnings(copied), [(home_config, "readable by others", "0604")])

    def test_copy_authfile_for_both_sides(self):
        auth = self.docker_config(0o666)
        result = run_syncer("copy", "--authfile", auth, self.src.ref("creds/app", "v1"),
                            self.dst.ref("creds/app", "copied"), env=self.env)
        self.assertEqual(result.returncode, 0, describe(result))
        self.assertEqual(self.warnings(result),
                         [(auth, "readable by group and others, writable by group and others", "0666")])

    def test_tls_client_key_in_a_certificate_directory(self):
        cert_dir = os.path.join(self.tmp, "certs.d")
        os.makedirs(cert_dir)
        key = os.path.join(cert_dir, "client.key")
        with open(key, "w") as f:
            f.write("not used: the registry speaks plain HTTP on loopback\n")
        os.chmod(key, 0o644)
        result = run_syncer("copy", "--dest-cert-dir", cert_dir, self.src.ref("creds/app", "v1"),
                            self.dst.ref("creds/app", "keyed"), env=self.env)
        self.assertEqual(result.returncode, 0, describe(result))
        self.assertIn(f"syncer: warning: TLS client key {key} is readable by group and others", result.stderr)
        self.assertEqual(len(self.warnings(result)), 1)

    def test_jobs_auth_file(self):
        workflow = self.write("build-docker.yml", "jobs:\n  one:\n    name: 'app'\n")
        auth = self.auth_yaml(0o640)
        result = run_syncer("jobs", "--workflow-file", workflow, "--auth-file", auth,
                            "--source-registry", self.src.host, "--image-namespace", "creds",
                            "--target-registry", self.dst.host, env=self.env)
        self.assertEqual(result.returncode, 0, describe(result))
        self.assertEqual(self.warnings(result), [(auth, "readable by group", "0640")])


if __name__ == "__main__":
    unittest.main()


    # --- output files: reports, logs and image lists name registries and failures, so they are private too

    # Regression (issue 10): --report, --log and the image lists were created 0644.
    def test_outputs_are_created_0600_and_existing_ones_tightened(self):
        paths = {name: os.path.join(self.tmp, name) for name in ("report.json", "run.log", "ok.yaml", "failed.yaml")}
        existing = paths["report.json"]
        with open(existing, "w") as f:
            f.write("{}\n")
        os.chmod(existing, 0o644)
        result = run_syncer("sync", "--images", self.images, "--report", paths["report.json"],
                            "--log", paths["run.log"], "--output-success-images", paths["ok.yaml"],
                            "--output-failed-images", paths["failed.yaml"])
        self.assertEqual(result.returncode, 0, describe(result))
        for name, path in paths.items():
            self.assertEqual(os.stat(path).st_mode & 0o777, 0o600, name)
        with open(paths["report.json"]) as f:
            self.assertIn('"copied"', f.read())

    # Regression (issue 10): an unwritable --report was found only after the whole run.
    def test_unwritable_output_is_refused_before_any_registry_is_contacted(self):
        missing = os.path.join(self.tmp, "no-such-dir", "report.json")
        images = self.write("other.yaml", f'"{self.src.host}/creds/app": "{self.dst.host}/out/never"\n')
        result = run_syncer("sync", "--images", images, "--report", missing)
        self.assertEqual(result.returncode, 2, describe(result))
        self.assertIn(f"cannot open {missing} for writing (--report): No such file or directory", result.stderr)
        self.assertIsNone(harness.tags_of(self.dst, "out/never"))
