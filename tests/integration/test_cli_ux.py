"""What people type (issue 13): --version, unknown commands, --help, `--check`, one spelling per concept with
the old spellings as aliases, and --metrics-file, against docker-registry processes on loopback."""

import json
import os
import re
import unittest

import harness
import seed
from harness import describe, run_syncer

COMMANDS = ["copy", "inspect", "digest", "tags", "catalog", "referrers", "delete", "sync", "verify", "jobs",
            "sync-image", "version"]


def q(text: str) -> str:
    return json.dumps(text)


def parse_metrics(text: str) -> dict[str, float]:
    """Samples of a Prometheus text file by `name{labels}`; checks that each metric has HELP and TYPE."""
    samples, helped, typed = {}, set(), set()
    for line in text.splitlines():
        if line.startswith("# HELP "):
            helped.add(line.split()[2])
        elif line.startswith("# TYPE "):
            typed.add(line.split()[2])
        elif line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            name = key.split("{", 1)[0]
            if name not in helped or name not in typed:
                raise AssertionError(f"{name} has no HELP or TYPE line before its sample")
            samples[key] = float(value)
    return samples


class CommandLineTest(harness.TempDirTestCase):
    """No registry needed."""

    def test_version_flags_print_what_version_prints(self):
        expected = run_syncer("version")
        self.assertEqual(expected.returncode, 0, describe(expected))
        self.assertRegex(expected.stdout, r"^syncer \S+\n$")
        for flag in ("--version", "-V"):
            with self.subTest(flag=flag):
                result = run_syncer(flag)
                self.assertEqual(result.returncode, 0, describe(result))
                self.assertEqual(result.stdout, expected.stdout)

    def test_unknown_command_is_named_and_the_commands_listed(self):
        result = run_syncer("frobnicate", "--flag", "x")
        self.assertEqual(result.returncode, 2, describe(result))
        self.assertIn('unknown command "frobnicate"', result.stderr)
        for command in COMMANDS:
            self.assertRegex(result.stderr, rf"(?m)^  {re.escape(command)} ", f"{command} not listed")
        self.assertNotIn("A subcommand is required", result.stderr)
        self.assertNotIn("__docs", result.stderr)  # hidden commands stay hidden

    def test_unknown_command_that_may_be_a_secret_is_not_echoed(self):
        result = run_syncer("Hunter2!secret")
        self.assertEqual(result.returncode, 2, describe(result))
        self.assertIn("unknown command", result.stderr)
        self.assertNotIn("Hunter2", result.stderr)

    def test_no_command_lists_the_commands(self):
        result = run_syncer()
        self.assertEqual(result.returncode, 2, describe(result))
        self.assertIn("a command is required", result.stderr)
        self.assertRegex(result.stderr, r"(?m)^  sync ")

    def test_every_help_shows_examples_defaults_and_environment(self):
        for command in COMMANDS:
            with self.subTest(command=command):
                result = run_syncer(command, "--help")
                self.assertEqual(result.returncode, 0, describe(result))
                examples = re.search(r"Examples:\n((?:  .*\n)+)", result.stdout)
                self.assertIsNotNone(examples, result.stdout)
                lines = examples.group(1).splitlines()
                self.assertGreaterEqual(len(lines), 2 if command != "version" else 1)
                for line in lines:
                    self.assertIn(f"syncer {command}" if command != "version" else "syncer", line)
        sync_help = run_syncer("sync", "--help").stdout
        self.assertRegex(sync_help, r"--proc[^\n]*=64", "the default of --proc is not shown")
        self.assertRegex(sync_help, r"--retries[^\n]*=2")
        self.assertRegex(sync_help, r"--prune-max[^\n]*=10%")
        jobs_help = run_syncer("jobs", "--help").stdout
        for variable in ("FILE_AUTH", "REGISTRY_URL", "IMG_NAMESPACE", "DOCKER_MIRROR_REGISTRY"):
            self.assertIn(variable, jobs_help)
        self.assertIn("SYNCER_DEBUG", run_syncer("--help").stdout)
        self.assertIn("REGISTRY_AUTH_FILE", run_syncer("copy", "--help").stdout)

    def test_retry_times_and_retries_are_one_flag(self):
        # Both spellings reach the same option: its range check answers for either.
        for command in (["copy", "a.example/x:1", "b.example/x:1"], ["inspect", "a.example/x:1"],
                        ["delete", "a.example/x:1"], ["sync", "--images", "x.yaml"], ["verify", "--images", "x.yaml"],
                        ["jobs"], ["sync-image", "labnow/base"]):
            for flag in ("--retries", "--retry-times"):
                with self.subTest(command=command[0], flag=flag):
                    result = run_syncer(command[0], flag, "101", *command[1:])
                    self.assertEqual(result.returncode, 2, describe(result))
                    self.assertRegex(result.stderr, r"101|range", describe(result))
                    self.assertNotIn("not expected", result.stderr)


class CheckAndAliasesTest(harness.TempDirTestCase):
    @classmethod
    def setUpClass(cls):
        cls.src, cls.dst = harness.class_registries(cls, "src", "dst")
        cls.image = seed.push_docker_v2(seed.Client.for_registry(cls.src))

    def check(self, *args: str, command: str = "sync", expect: int = 0):
        before_src, before_dst = len(self.src.requests()), len(self.dst.requests())
        result = run_syncer(command, "--check", *args)
        self.assertEqual(result.returncode, expect, describe(result))
        self.assertEqual(len(self.src.requests()), before_src, "--check sent requests to the source")
        self.assertEqual(len(self.dst.requests()), before_dst, "--check sent requests to the destination")
        return result

    def images(self, body: str) -> str:
        return self.write("images.yaml", body)

    def test_check_prints_one_line_per_rule_and_contacts_no_registry(self):
        s, d = self.src.host, self.dst.host
        path = self.images(
            f"{q(s + '/kinds/docker-v2')}: {q(d + '/mirror/v2')}\n"
            f"{q(s + '/kinds/docker-v2:v1')}:\n  - {q(d + '/a')}\n  - {q(d + '/b:renamed')}\n"
            f"{q(s + '/kinds/docker-v2:/^v/')}: {q(d + '/c')}\n")
        result = self.check("--images", path, "--platform", "linux/arm64", "--latest", "2")
        lines = result.stdout.splitlines()
        self.assertEqual(len(lines), 4, result.stdout)
        self.assertIn(f"images.yaml:1  {s}/kinds/docker-v2 (every tag) -> {d}/mirror/v2", lines[0])
        self.assertIn("latest 2", lines[0])
        self.assertIn("platforms linux/arm64", lines[0])
        self.assertIn(f"{s}/kinds/docker-v2:v1 -> {d}/a, {d}/b:renamed", lines[1])
        self.assertIn(f"{s}/kinds/docker-v2:/^v/ -> {d}/c", lines[2])
        self.assertEqual(lines[3], "3 rules, 4 destinations; every file and flag is valid; no registry was "
                                   "contacted")

    def test_check_fails_with_file_and_line_for_each_kind_of_problem(self):
        s, d = self.src.host, self.dst.host
        cases = {
            "bad regex": (f"{q(s + '/a')}: {q(d + '/a')}\n{q(s + '/x:/(unclosed/')}: {q(d + '/x')}\n",
                          r"images\.yaml:2"),
            "bad platform": (f"{q(s + '/a')}:\n  destination: {q(d + '/a')}\n  platforms: [linux]\n", r"images\.yaml:3"),
            "bad referrers key": (f"{q(s + '/a')}:\n  destination: {q(d + '/a')}\n  referrers: {{depth: 0}}\n",
                                  r"images\.yaml:3"),
            "unset variable": (f"{q(s + '/a')}: {q('${NO_SUCH_VARIABLE_FOR_CHECK}/a')}\n", r"images\.yaml:1"),
        }
        for name, (body, where) in cases.items():
            with self.subTest(name):
                result = self.check("--images", self.images(body), expect=2)
                self.assertRegex(result.stderr, where, describe(result))
                self.assertEqual(result.stdout, "")
        bad_auth = self.write("auth.yaml", f"{q(s)}:\n  username: u\n  password: [not, a, string]\n")
        result = self.check("--auth", bad_auth, "--images", self.images(f"{q(s + '/a')}: {q(d + '/a')}\n"), expect=2)
        self.assertRegex(result.stderr, r"auth\.yaml:\d+", describe(result))
        result = self.check("--images", self.images(f"{q(s + '/a')}: {q(d + '/a')}\n"), "--platform", "linux",
                            expect=2)
        self.assertIn("--platform", result.stderr)

    def test_check_for_sync_image(self):
        result = self.check("--source-registry", self.src.host, "--target-registry", self.dst.host,
                            "--tags", "v1", "kinds/docker-v2", command="sync-image")
        self.assertIn(f"{self.src.host}/kinds/docker-v2:v1 -> {self.dst.host}/kinds/docker-v2", result.stdout)

    def test_platform_spellings_are_one_filter(self):
        path = self.images(f"{q(self.src.host + '/a')}: {q(self.dst.host + '/a')}\n")
        spellings = [("--platform", "linux/arm64/v8"), ("--os", "linux", "--arch", "arm64/v8"),
                     ("--os", "linux", "--arch", "arm64:v8")]
        for flags in spellings:
            with self.subTest(flags=flags):
                result = self.check("--images", path, *flags)
                self.assertIn("platforms linux/arm64/v8", result.stdout)

    def test_auth_and_auth_file_are_one_flag_for_jobs_and_sync_image(self):
        bad = self.write("auth.yaml", "registry.example.com:\n  username: [1]\n")
        for flag in ("--auth", "--auth-file"):
            with self.subTest(flag=flag):
                result = run_syncer("sync-image", "--check", flag, bad, "--target-registry", self.dst.host,
                                    "labnow/base")
                self.assertEqual(result.returncode, 2, describe(result))
                self.assertRegex(result.stderr, r"auth\.yaml:\d+", describe(result))

    def test_authfile_on_sync_is_checked_and_used(self):
        path = self.images(f"{q(self.src.host + '/kinds/docker-v2:v1')}: {q(self.dst.host + '/authfile/v2')}\n")
        result = run_syncer("sync", "--check", "--images", path, "--authfile", os.path.join(self.tmp, "missing"))
        self.assertEqual(result.returncode, 2, describe(result))
        self.assertIn("--authfile", result.stderr)
        authfile = self.write("config.json", json.dumps({"auths": {}}))
        os.chmod(authfile, 0o600)
        result = run_syncer("sync", "--images", path, "--authfile", authfile)
        self.assertEqual(result.returncode, 0, describe(result))


class MetricsFileTest(harness.TempDirTestCase):
    @classmethod
    def setUpClass(cls):
        cls.src, cls.dst = harness.class_registries(cls, "src", "dst")
        cls.image = seed.push_docker_v2(seed.Client.for_registry(cls.src))

    def metrics(self, path: str) -> dict[str, float]:
        with open(path) as f:
            return parse_metrics(f.read())

    def test_a_run_writes_the_file_and_a_failed_one_keeps_the_last_success(self):
        s, d = self.src.host, self.dst.host
        metrics = os.path.join(self.tmp, "syncer.prom")
        good = self.write("good.yaml", f"{q(s + '/' + self.image.repo + ':' + self.image.tag)}: "
                                       f"{q(d + '/metrics/v2')}\n")
        dst_before = len(self.dst.requests())
        result = run_syncer("sync", "--images", good, "--metrics-file", metrics)
        self.assertEqual(result.returncode, 0, describe(result))
        dst_requests = len(self.dst.requests()) - dst_before
        self.assertEqual(os.stat(metrics).st_mode & 0o777, 0o644)
        self.assertEqual(os.listdir(self.tmp).count("syncer.prom"), 1)
        self.assertEqual([n for n in os.listdir(self.tmp) if n.startswith(".")], [], "temporary file left")
        first = self.metrics(metrics)
        self.assertEqual(first['syncer_images{status="copied"}'], 1)
        self.assertEqual(first['syncer_images{status="failed"}'], 0)
        self.assertEqual(first["syncer_success"], 1)
        self.assertGreater(first["syncer_bytes_sent"], 0)
        self.assertGreaterEqual(first['syncer_blobs{outcome="uploaded"}'], 2)
        self.assertGreater(first["syncer_duration_seconds"], 0)
        self.assertEqual(first["syncer_last_success_timestamp_seconds"], first["syncer_last_run_timestamp_seconds"])
        self.assertGreater(first[f'syncer_registry_requests{{registry="{s}"}}'], 0)
        self.assertGreater(first[f'syncer_registry_requests{{registry="{d}"}}'], 0)
        self.assertEqual(first[f'syncer_registry_errors{{registry="{d}"}}'], 0)
        # The registry's own count of what syncer sent to the destination matches.
        # syncer's count is the registry's access log plus one: the ping tries HTTPS first, which a plain-HTTP
        # registry refuses at the TLS handshake, before anything is logged.
        self.assertEqual(first[f'syncer_registry_requests{{registry="{d}"}}'], dst_requests + 1)
        # The adaptive limits of each registry, between their starts (8 and 4) and caps (64 and 16).
        for r in (s, d):
            for kind, start, cap in (("metadata", 8, 64), ("blobs", 4, 16)):
                final = first[f'syncer_registry_concurrency{{registry="{r}",kind="{kind}"}}']
                highest = first[f'syncer_registry_concurrency_max{{registry="{r}",kind="{kind}"}}']
                self.assertTrue(1 <= final <= highest, (r, kind, final, highest))
                self.assertTrue(start <= highest <= cap, (r, kind, highest))

        bad = self.write("bad.yaml", f"{q(s + '/no/such-repo:v1')}: {q(d + '/metrics/missing')}\n")
        result = run_syncer("sync", "--images", bad, "--metrics-file", metrics, "--retries", "0")
        self.assertEqual(result.returncode, 1, describe(result))
        second = self.metrics(metrics)
        self.assertEqual(second["syncer_success"], 0)
        self.assertEqual(second['syncer_images{status="failed"}'], 1)
        self.assertEqual(second["syncer_last_success_timestamp_seconds"],
                         first["syncer_last_success_timestamp_seconds"])
        self.assertGreaterEqual(second["syncer_last_run_timestamp_seconds"], first["syncer_last_run_timestamp_seconds"])

    def test_a_missing_directory_is_refused_before_any_request(self):
        good = self.write("good.yaml", f"{q(self.src.host + '/kinds/docker-v2:v1')}: {q(self.dst.host + '/m/x')}\n")
        before = len(self.src.requests())
        result = run_syncer("sync", "--images", good, "--metrics-file", os.path.join(self.tmp, "no", "x.prom"))
        self.assertEqual(result.returncode, 2, describe(result))
        self.assertIn("--metrics-file", result.stderr)
        self.assertEqual(len(self.src.requests()), before)


if __name__ == "__main__":
    unittest.main()
